//! Unit tests of `manifest static-pod`: the documents parse back into the types the kubelet
//! and `kube-vrrp run` read, and bad flags name the flag.

use std::path::Path;

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: StaticPodArgs,
}

fn args(extra: &[&str]) -> StaticPodArgs {
    let mut argv = vec!["static-pod", "--address", "198.51.100.10", "--vrid", "10"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("flags parse").args
}

#[test]
fn the_config_is_a_virtualip_file_run_accepts() {
    let docs = static_pod(&args(&[
        "--health-url",
        "https://127.0.0.1:6443/readyz",
        "--advert-interval",
        "100ms",
    ]))
    .unwrap();
    let file = crate::config::parse(Path::new("cp.yaml"), &docs.config).expect("loads");
    let vip = &file.virtual_ips[0];
    assert_eq!(vip.name, "control-plane-198-51-100-10");
    assert_eq!(
        (
            vip.spec.vrid,
            vip.spec.addresses.as_slice(),
            vip.spec.advert_interval.as_str()
        ),
        (10, ["198.51.100.10".to_string()].as_slice(), "100ms")
    );
    let t = &vip.spec.trackers[0];
    let h = t.http.as_ref().expect("an http tracker");
    assert_eq!(
        (t.name.as_str(), t.weight, h.url.as_str(), h.fall, h.rise),
        ("apiserver", -50, "https://127.0.0.1:6443/readyz", 3, 2)
    );
    assert_eq!(
        (
            h.ca_file.as_deref(),
            h.server_name.as_deref(),
            h.insecure_skip_verify
        ),
        (
            Some("/etc/kubernetes/pki/ca.crt"),
            Some("kubernetes"),
            false
        )
    );
}

#[test]
fn the_pod_is_a_locked_down_host_network_pod() {
    let docs = static_pod(&args(&[
        "--health-url",
        "https://127.0.0.1:6443/readyz",
        "--image",
        "kube-vrrp:test",
    ]))
    .unwrap();
    let pod: Pod = serde_saphyr::from_str(&docs.pod).expect("a Pod");
    let spec = pod.spec.expect("spec");
    assert_eq!(spec.host_network, Some(true));
    assert_eq!(spec.automount_service_account_token, Some(false));
    let c = &spec.containers[0];
    assert_eq!(c.image.as_deref(), Some("kube-vrrp:test"));
    assert_eq!(
        c.args.as_deref(),
        Some(
            [
                "run".to_string(),
                "--config=/etc/kube-vrrp/control-plane.yaml".into(),
                "--http-addr=127.0.0.1:9650".into()
            ]
            .as_slice()
        )
    );
    let sc = c.security_context.as_ref().expect("securityContext");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let caps = sc.capabilities.as_ref().expect("capabilities");
    assert_eq!(
        caps.add.as_deref(),
        Some(["NET_ADMIN".to_string(), "NET_RAW".into()].as_slice())
    );
    assert_eq!(caps.drop.as_deref(), Some(["ALL".to_string()].as_slice()));
    let volumes: Vec<(String, String)> = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name, v.host_path.map(|h| h.path).unwrap_or_default()))
        .collect();
    assert_eq!(
        volumes,
        [
            ("config".to_string(), "/etc/kube-vrrp".to_string()),
            ("health-ca".into(), "/etc/kubernetes/pki/ca.crt".into())
        ]
    );
    assert!(
        c.volume_mounts
            .iter()
            .flatten()
            .all(|m| m.read_only == Some(true)),
        "every mount read-only"
    );
}

#[test]
fn without_verification_there_is_no_ca_and_no_ca_mount() {
    let docs = static_pod(&args(&[
        "--health-url",
        "https://127.0.0.1:6443/readyz",
        "--health-insecure-skip-verify",
    ]))
    .unwrap();
    let file = crate::config::parse(Path::new("cp.yaml"), &docs.config).unwrap();
    let h = file.virtual_ips[0].spec.trackers[0].http.clone().unwrap();
    assert_eq!(
        (h.ca_file, h.server_name, h.insecure_skip_verify),
        (None, None, true)
    );
    let pod: Pod = serde_saphyr::from_str(&docs.pod).unwrap();
    assert_eq!(pod.spec.unwrap().volumes.unwrap().len(), 1);
}

#[test]
fn bad_flags_name_the_flag() {
    let e = |extra: &[&str], address: &str| {
        let mut a = args(extra);
        a.address = address.into();
        static_pod(&a).unwrap_err().to_string()
    };
    assert_eq!(
        e(&[], "198.51.100.300"),
        "--address: \"198.51.100.300\" is not an IP address"
    );
    assert!(
        e(
            &["--priority", "40", "--health-weight", "50"],
            "198.51.100.10"
        )
        .starts_with("--health-weight: 50 would take the priority (40) to 0 or below"),
    );
    assert!(
        e(&["--health-url", "ftp://h/"], "198.51.100.10").starts_with(
            "the flags make an invalid VirtualIP: spec.trackers[0].http.url: \"ftp://h/\""
        ),
    );
    assert!(
        e(&["--advert-interval", "15ms"], "198.51.100.10")
            .starts_with("the flags make an invalid VirtualIP: spec.advertInterval"),
    );
    assert!(Cli::try_parse_from(["s", "--address", "198.51.100.10", "--vrid", "0"]).is_err());
    assert!(
        Cli::try_parse_from(["s", "--vrid", "1"]).is_err(),
        "--address is required"
    );
}
