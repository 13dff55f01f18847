//! `kube-vrrp convert` of the keepalived keywords that moved from warned to converted with the
//! migration features (issue 18): start-up delay, link debounce, and what follows. Each test
//! checks the converted spec as `kube-vrrp run` loads it, and that the keyword is no longer
//! warned.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube_vrrp::config::{self, ConfigFile};
use kube_vrrp::convert::{ConvertError, ConvertOptions, HostFile, Output, convert};
use kube_vrrp::spec::{LinkDebounce, V3Checksum};

fn convert_text(text: &str) -> Result<Output, ConvertError> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kube-vrrp-convert-added-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, text).expect("write");
    let result = convert(&[HostFile { node: None, path }], &ConvertOptions::default());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn load(out: &Output) -> ConfigFile {
    config::parse(Path::new("converted.yaml"), &out.yaml)
        .unwrap_or_else(|e| panic!("{e}\n{}", out.yaml))
}

fn options(out: &Output) -> Vec<&str> {
    out.warnings.iter().map(|w| w.option.as_str()).collect()
}

const TIMING: &str = r#"
global_defs {
    vrrp_startup_delay 5.5
}
interface_up_down_delays {
    eth0 0.5 2
    eth1 3
}
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.51.100.100
    }
}
vrrp_instance B {
    interface eth1
    virtual_router_id 52
    virtual_ipaddress {
        198.51.100.101
    }
}
vrrp_instance C {
    interface eth2
    virtual_router_id 53
    virtual_ipaddress {
        198.51.100.102
    }
}
"#;

#[test]
fn startup_delay_and_interface_delays_convert() {
    let out = convert_text(TIMING).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(options(&out), Vec::<&str>::new(), "{:?}", out.warnings);
    let file = load(&out);
    let specs: Vec<_> = file.virtual_ips.iter().map(|v| &v.spec).collect();
    assert!(specs.iter().all(|s| s.startup_delay == "5500ms"));
    assert_eq!(
        specs[0].link_debounce,
        Some(LinkDebounce {
            down: "500ms".into(),
            up: "2s".into()
        })
    );
    // UP omitted: the same as DOWN, as in keepalived.
    assert_eq!(
        specs[1].link_debounce,
        Some(LinkDebounce {
            down: "3s".into(),
            up: "3s".into()
        })
    );
    assert_eq!(specs[2].link_debounce, None);
}

#[test]
fn delays_out_of_range_are_located_errors() {
    let e = convert_text(&TIMING.replace("eth1 3", "eth1 256"))
        .expect_err("256 s is above keepalived's limit")
        .to_string();
    assert!(e.contains("keepalived.conf:7:"), "{e}");
    let e = convert_text(&TIMING.replace("5.5", "-1"))
        .expect_err("negative")
        .to_string();
    assert!(e.contains("keepalived.conf:3:"), "{e}");
}

#[test]
fn script_intervals_below_a_second_convert() {
    let text = r#"
vrrp_script chk {
    script "/bin/true"
    interval 0.2
    timeout 0.15
}
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.51.100.100
    }
    track_script {
        chk
    }
}
"#;
    let out = convert_text(text).unwrap_or_else(|e| panic!("{e}"));
    let file = load(&out);
    let script = file.virtual_ips[0].spec.trackers[0]
        .script
        .clone()
        .expect("a script tracker");
    assert_eq!(
        (script.interval.as_str(), script.timeout.as_deref()),
        ("200ms", Some("150ms"))
    );
    let e = convert_text(&text.replace("0.2", "0.001"))
        .expect_err("below 10 ms")
        .to_string();
    assert!(e.contains("keepalived.conf:4:"), "{e}");
}

#[test]
fn v3_checksum_as_v2_converts_for_vrrpv3_ipv4_only() {
    let text = r#"
global_defs {
    vrrp_version 3
    v3_checksum_as_v2
}
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.51.100.100
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 52
    v3_checksum_as_v2 false
    virtual_ipaddress {
        198.51.100.101
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 53
    v3_checksum_as_v2
    virtual_ipaddress {
        2001:db8::100
    }
}
"#;
    let out = convert_text(text).unwrap_or_else(|e| panic!("{e}"));
    let file = load(&out);
    let forms: Vec<_> = file
        .virtual_ips
        .iter()
        .map(|v| v.spec.v3_checksum)
        .collect();
    assert_eq!(forms, [Some(V3Checksum::WithoutPseudoHeader), None, None]);
    // Set on the IPv6 instance, where it means nothing: one warning at its line.
    let warned: Vec<_> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.as_str()))
        .collect();
    assert_eq!(warned, [(24, "v3_checksum_as_v2")]);
    let e = convert_text(&text.replace("v3_checksum_as_v2 false", "v3_checksum_as_v2 maybe"))
        .expect_err("not a boolean")
        .to_string();
    assert!(e.contains("keepalived.conf:16:"), "{e}");
}

#[test]
fn notify_keywords_convert_to_hooks() {
    let text = r#"
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.51.100.100
    }
    notify_master "/etc/keepalived/master.sh up"
    notify_backup /etc/keepalived/backup.sh
    notify_fault /etc/keepalived/fault.sh root
    notify_stop /etc/keepalived/stop.sh
    notify /etc/keepalived/notify.sh
    notify_deleted
}
"#;
    let out = convert_text(text).unwrap_or_else(|e| panic!("{e}"));
    let file = load(&out);
    let n = file.virtual_ips[0].spec.notify.clone().expect("hooks");
    let argv = |s: &[&str]| Some(s.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    assert_eq!(n.master, argv(&["/etc/keepalived/master.sh", "up"]));
    assert_eq!(n.backup, argv(&["/etc/keepalived/backup.sh"]));
    assert_eq!(n.fault, argv(&["/etc/keepalived/fault.sh"]));
    assert_eq!(n.stop, argv(&["/etc/keepalived/stop.sh"]));
    assert_eq!(n.any, argv(&["/etc/keepalived/notify.sh"]));
    assert_eq!(n.timeout, None);
    // The user of notify_fault and notify_deleted are warned, nothing else.
    let warned: Vec<_> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.as_str()))
        .collect();
    assert_eq!(warned, [(10, "notify_fault"), (13, "notify_deleted")]);
}

#[test]
fn vrrp_sync_group_converts_to_sync_group() {
    let text = r#"
vrrp_sync_group LVS_NAT {
    group {
        FRONT
        BACK
    }
    notify_master /etc/keepalived/group-master.sh
}
vrrp_sync_group OTHER {
    group {
        BACK
    }
}
vrrp_instance FRONT {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.51.100.100
    }
}
vrrp_instance BACK {
    interface eth1
    virtual_router_id 52
    virtual_ipaddress {
        203.0.113.1
    }
}
vrrp_instance ALONE {
    interface eth0
    virtual_router_id 53
    virtual_ipaddress {
        198.51.100.101
    }
}
"#;
    let out = convert_text(text).unwrap_or_else(|e| panic!("{e}"));
    let file = load(&out);
    let groups: Vec<_> = file
        .virtual_ips
        .iter()
        .map(|v| (v.name.as_str(), v.spec.sync_group.as_deref()))
        .collect();
    assert_eq!(
        groups,
        [
            ("front", Some("lvs-nat")),
            ("back", Some("lvs-nat")),
            ("alone", None)
        ]
    );
    let warned: Vec<_> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.as_str()))
        .collect();
    assert_eq!(warned, [(7, "notify_master"), (11, "vrrp_sync_group")]);
}

#[test]
fn use_vmac_converts_to_virtual_mac_for_ipv4() {
    let text = r#"
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    use_vmac
    vmac_xmit_base
    virtual_ipaddress {
        198.51.100.100
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 52
    use_vmac vrrp_b
    virtual_ipaddress {
        198.51.100.101
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 53
    use_vmac
    virtual_ipaddress {
        2001:db8::100
    }
}
"#;
    let out = convert_text(text).unwrap_or_else(|e| panic!("{e}"));
    let file = load(&out);
    let vmac: Vec<_> = file
        .virtual_ips
        .iter()
        .map(|v| v.spec.virtual_mac)
        .collect();
    assert_eq!(vmac, [true, true, false]);
    let warned: Vec<_> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.as_str()))
        .collect();
    assert_eq!(
        warned,
        [(6, "vmac_xmit_base"), (14, "use_vmac"), (22, "use_vmac")]
    );
}
