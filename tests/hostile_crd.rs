//! The API server refuses what `run` refuses (issue 20): announcement bounds, `/0` prefixes and
//! a `maxAdvertInterval` below the advert interval, by the CRD's schema and CEL rules on a real
//! kube-apiserver (hack/apiserver). Needs root.

mod common;

use common::bed::*;
use common::k8s::*;

#[test]
fn the_crd_bounds_announcements_prefixes_and_the_adopted_interval() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let base = |spec: &str| {
        format!(
            "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: bad}}\nspec:\n  vrid: 5\n  addresses: [198.51.100.1]\n{spec}"
        )
    };
    let refused: &[(&str, &str)] = &[
        ("  announce: {repeat: 4000000000}\n", "announce.repeat"),
        ("  announce: {repeat: 101}\n", "announce.repeat"),
        ("  announce: {repeat: 0}\n", "announce.repeat"),
        ("  announce: {delay: 25h}\n", "spec.announce.delay"),
        ("  announce: {refresh: 1ms}\n", "spec.announce.refresh"),
        ("  announce: {refresh: 48h}\n", "spec.announce.refresh"),
        ("  maxAdvertInterval: 500ms\n", "spec.maxAdvertInterval"),
        ("  maxAdvertInterval: 300s\n", "spec.maxAdvertInterval"),
    ];
    let mut failures = Vec::new();
    for (spec, expected) in refused {
        let out = api.apply(&bed, &base(spec));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains(expected) {
            failures.push(format!(
                "{spec:?}: expected refusal mentioning {expected:?}, got success={} {stderr}",
                out.status.success()
            ));
            let _ = api.kubectl(&bed, &["delete", "vip", "bad", "--ignore-not-found"]);
        }
    }
    let out = api.apply(
        &bed,
        &base("").replace("[198.51.100.1]", "[198.51.100.1/0]"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("a /0 prefix") {
        failures.push(format!("/0: success={} {stderr}", out.status.success()));
        let _ = api.kubectl(&bed, &["delete", "vip", "bad", "--ignore-not-found"]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // And what is within the bounds is accepted.
    let ok = base("  announce: {repeat: 100, delay: 24h, refresh: 1s}\n  maxAdvertInterval: 3s\n");
    let out = api.apply(&bed, &ok);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
