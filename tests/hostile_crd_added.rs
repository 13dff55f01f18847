//! The API server refuses what the migration features (issue 18) refuse in `run`, by the CRD's
//! schema and CEL rules on a real kube-apiserver (hack/apiserver): notify hooks (standalone
//! only), delays out of bounds, the pseudo-header-less checksum outside VRRPv3 IPv4. Needs root.

mod common;

use common::bed::*;
use common::k8s::*;

#[test]
fn the_crd_refuses_hooks_and_bounds_the_added_fields() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let base = |spec: &str| {
        format!(
            "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: bad}}\nspec:\n  vrid: 5\n  addresses: [198.51.100.1]\n{spec}"
        )
    };
    let refused: &[(&str, &str)] = &[
        (
            "  notify: {master: [/bin/true]}\n",
            "spec.notify: notify hooks run only in standalone mode",
        ),
        ("  startupDelay: 2h\n", "spec.startupDelay"),
        ("  linkDebounce: {down: 300s}\n", "spec.linkDebounce.down"),
        ("  linkDebounce: {up: 1x}\n", "spec.linkDebounce.up"),
        (
            "  version: 2\n  advertInterval: 1s\n  v3Checksum: WithoutPseudoHeader\n",
            "spec.v3Checksum",
        ),
        ("  v3Checksum: Sometimes\n", "spec.v3Checksum"),
        ("  syncGroup: Bad_Name\n", "spec.syncGroup"),
        (
            "  trackers: [{name: f, file: {path: /x, interval: 1x}}]\n",
            "interval",
        ),
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
    let v6 = base("  virtualMac: true\n").replace("[198.51.100.1]", "[2001:db8::1]");
    let out = api.apply(&bed, &v6);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("spec.virtualMac") {
        failures.push(format!(
            "virtualMac on IPv6: success={} {stderr}",
            out.status.success()
        ));
        let _ = api.kubectl(&bed, &["delete", "vip", "bad", "--ignore-not-found"]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let ok = base(
        "  startupDelay: 5500ms\n  linkDebounce: {down: 500ms, up: 2s}\n  v3Checksum: WithoutPseudoHeader\n  syncGroup: lvs-nat\n  virtualMac: true\n  trackers: [{name: f, file: {path: /x, interval: 100ms}}]\n",
    );
    let out = api.apply(&bed, &ok);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
