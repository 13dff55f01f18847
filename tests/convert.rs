//! `kube-vrrp convert`: keepalived files in tests/data/keepalived/ converted to VirtualIP
//! documents, checked as the structs `kube-vrrp run` loads; located errors and warnings for
//! malformed input; no panic on any input.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kube_vrrp::config::{self, ConfigFile};
use kube_vrrp::convert::{ConvertError, ConvertOptions, HostFile, Output, convert};
use kube_vrrp::spec::{
    Announce, Authentication, FileTracker, InterfaceTracker, NotifyHooks, PriorityOverride,
    ProcessTracker, ScriptTracker, SecretKeyRef, Tracker, VirtualIpSpec,
};
use proptest::prelude::*;

const DATA: &str = "tests/data/keepalived";

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

fn single(name: &str) -> HostFile {
    HostFile {
        node: None,
        path: data(name),
    }
}

fn node(node: &str, name: &str) -> HostFile {
    HostFile {
        node: Some(node.to_string()),
        path: data(name),
    }
}

fn run(files: &[HostFile]) -> Output {
    convert(files, &ConvertOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The output as `kube-vrrp run --config` loads it (every spec validated).
fn load(out: &Output) -> ConfigFile {
    config::parse(Path::new("converted.yaml"), &out.yaml)
        .unwrap_or_else(|e| panic!("{e}\n{}", out.yaml))
}

/// `(file name, line, option)` of each warning.
fn warned(out: &Output) -> Vec<(String, usize, String)> {
    out.warnings
        .iter()
        .map(|w| {
            let file = w.file.file_name().unwrap_or_default().to_string_lossy();
            (file.into_owned(), w.line, w.option.clone())
        })
        .collect()
}

fn w(file: &str, line: usize, option: &str) -> (String, usize, String) {
    (file.to_string(), line, option.to_string())
}

fn tracker(name: &str, weight: i32) -> Tracker {
    Tracker {
        name: name.to_string(),
        weight,
        script: None,
        process: None,
        file: None,
        interface: None,
        pods: None,
        http: None,
    }
}

/// The trackers of the seed's VI_1.
fn seed_trackers() -> Vec<Tracker> {
    vec![
        Tracker {
            process: Some(ProcessTracker {
                name: "httpd".into(),
                min_count: 1,
            }),
            ..tracker("track_apache", 10)
        },
        Tracker {
            file: Some(FileTracker {
                path: "/var/run/my_app/vrrp_track_file".into(),
                interval: None,
            }),
            ..tracker("track_app_file", 1)
        },
        Tracker {
            interface: Some(InterfaceTracker {
                name: "ens9".into(),
            }),
            ..tracker("ens9", 5)
        },
        Tracker {
            script: Some(ScriptTracker {
                command: vec!["/usr/local/bin/mycheckscript.sh".into()],
                interval: "5s".into(),
                timeout: Some("5s".into()),
                rise: 1,
                fall: 3,
            }),
            ..tracker("chk_myscript", 0)
        },
    ]
}

fn seed_spec(address: &str) -> VirtualIpSpec {
    VirtualIpSpec {
        vrid: 51,
        addresses: vec![address.into()],
        interface: Some("eth0".into()),
        version: 2,
        advert_interval: "1s".into(),
        priority: 210,
        priorities: vec![],
        node_selector: None,
        preempt: false,
        preempt_delay: "0s".into(),
        authentication: None,
        unicast_peers: vec![],
        announce: None,
        max_advert_interval: None,
        startup_delay: "0s".into(),
        link_debounce: None,
        v3_checksum: None,
        notify: None,
        sync_group: None,
        virtual_mac: false,
        trackers: seed_trackers(),
    }
}

fn pass(secret: &str, key: &str) -> Option<Authentication> {
    Some(Authentication {
        kind: "PASS".into(),
        secret_ref: SecretKeyRef {
            name: secret.into(),
            key: key.into(),
        },
    })
}

#[test]
fn seed_converts_as_keepalived_runs_it() {
    let out = run(&[single("seed.conf")]);
    let file = load(&out);
    assert_eq!(file.virtual_ips.len(), 1);
    let vip = &file.virtual_ips[0];
    assert_eq!(vip.name, "vi-1");
    // vrrp_strict: keepalived 2.2.7 says "(VI_1) Strict mode does not support authentication.
    // Ignoring." (keepalived -t), so its adverts carry none, and neither may ours.
    assert_eq!(vip.spec, seed_spec("192.0.2.100"));
    assert!(file.secrets.is_empty());
    assert!(!out.yaml.contains("1111"), "{}", out.yaml);
    assert_eq!(
        warned(&out),
        [
            w("seed.conf", 2, "router_id"),
            w("seed.conf", 4, "vrrp_strict"),
            w("seed.conf", 26, "authentication"),
        ]
    );
    let text = out.warnings[2].to_string();
    assert!(
        text.starts_with("tests/data/keepalived/seed.conf:26: warning: authentication: ")
            && text.contains("strict"),
        "{text}"
    );
}

#[test]
fn single_host_with_pass_gets_a_secret() {
    let out = run(&[single("host-a.conf")]);
    let file = load(&out);
    let vip = &file.virtual_ips[0];
    let mut want = seed_spec("198.51.100.100");
    want.authentication = pass("vi-1-auth", "password");
    assert_eq!(vip.spec, want);
    assert_eq!(
        file.password(&want.authentication.unwrap().secret_ref),
        Ok("1111".to_string())
    );
    // The password is only in the Secret document, after every VirtualIP.
    let secret_at = out.yaml.find("kind: Secret").unwrap();
    assert!(out.yaml.find("1111").unwrap() > secret_at);
    assert_eq!(warned(&out), [w("host-a.conf", 4, "router_id")]);
}

#[test]
fn two_hosts_merge_into_one_virtualip_with_priorities() {
    let out = run(&[node("node-a", "host-a.conf"), node("node-b", "host-b.conf")]);
    let file = load(&out);
    assert_eq!(file.virtual_ips.len(), 1);
    let mut want = seed_spec("198.51.100.100");
    want.priority = 200;
    want.priorities = vec![
        PriorityOverride {
            node_name: Some("node-a".into()),
            node_selector: None,
            priority: 210,
        },
        PriorityOverride {
            node_name: Some("node-b".into()),
            node_selector: None,
            priority: 200,
        },
    ];
    want.authentication = pass("vi-1-auth", "password");
    assert_eq!(file.virtual_ips[0].spec, want);
    assert_eq!(file.secrets["vi-1-auth"]["password"], "1111");
    assert_eq!(
        warned(&out),
        [
            w("host-a.conf", 4, "router_id"),
            w("host-b.conf", 4, "router_id")
        ]
    );
    // A named Secret.
    let opts = ConvertOptions {
        strict: false,
        secret_name: Some("vrrp-auth".into()),
    };
    let out = convert(&[node("a", "host-a.conf"), node("b", "host-b.conf")], &opts).unwrap();
    let file = load(&out);
    assert_eq!(
        file.virtual_ips[0].spec.authentication,
        pass("vrrp-auth", "password")
    );
    assert_eq!(file.secrets["vrrp-auth"]["password"], "1111");
}

#[test]
fn hosts_that_differ_get_warnings() {
    let dir = scratch();
    let a = dir.join("a.conf");
    let b = dir.join("b.conf");
    let body = |prio: u32, advert: &str, iface: &str| {
        format!(
            "vrrp_instance X {{\n interface {iface}\n virtual_router_id 9\n priority {prio}\n advert_int {advert}\n virtual_ipaddress {{\n  198.51.100.9\n }}\n}}\nvrrp_instance ONLY_A {{\n virtual_router_id 10\n virtual_ipaddress {{\n  198.51.100.10\n }}\n}}\n"
        )
    };
    std::fs::write(&a, body(150, "1", "eth0")).unwrap();
    std::fs::write(
        &b,
        body(100, "2", "ens3")
            .replace("ONLY_A", "ONLY_B")
            .replace("id 10", "id 11"),
    )
    .unwrap();
    let files = [
        HostFile {
            node: Some("a".into()),
            path: a,
        },
        HostFile {
            node: Some("b".into()),
            path: b,
        },
    ];
    let out = run(&files);
    let file = load(&out);
    let names: Vec<&str> = file.virtual_ips.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["x", "only-a", "only-b"]);
    let x = &file.virtual_ips[0].spec;
    assert_eq!(
        (
            x.priority,
            x.interface.as_deref(),
            x.advert_interval.as_str()
        ),
        (100, None, "1s")
    );
    let options: Vec<String> = warned(&out)
        .into_iter()
        .map(|(f, l, o)| format!("{f}:{l}:{o}"))
        .collect();
    assert_eq!(
        options,
        [
            "b.conf:1:advert_int",
            "b.conf:1:interface",
            "a.conf:10:vrrp_instance",
            "b.conf:10:vrrp_instance"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn features_and_unsupported_options() {
    let out = run(&[single("features.conf")]);
    let file = load(&out);
    let names: Vec<&str> = file.virtual_ips.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["db", "v6"]);
    let db = VirtualIpSpec {
        vrid: 20,
        addresses: vec!["198.51.100.20/24".into(), "198.51.100.21".into()],
        interface: Some("ens3".into()),
        version: 3,
        advert_interval: "250ms".into(),
        priority: 120,
        priorities: vec![],
        node_selector: None,
        preempt: true,
        preempt_delay: "2500ms".into(),
        authentication: None,
        unicast_peers: vec![
            "198.51.100.12".into(),
            "198.51.100.13".into(),
            "198.51.100.11".into(),
        ],
        announce: Some(Announce {
            repeat: 3,
            delay: "1s".into(),
            refresh: "60s".into(),
        }),
        max_advert_interval: None,
        startup_delay: "0s".into(),
        link_debounce: None,
        v3_checksum: None,
        notify: None,
        sync_group: None,
        virtual_mac: false,
        trackers: vec![
            Tracker {
                interface: Some(InterfaceTracker {
                    name: "ens4".into(),
                }),
                ..tracker("ens4", 0)
            },
            Tracker {
                interface: Some(InterfaceTracker {
                    name: "ens5".into(),
                }),
                ..tracker("ens5", -10)
            },
            Tracker {
                script: Some(ScriptTracker {
                    command: vec![
                        "/usr/bin/dig".into(),
                        "@127.0.0.1".into(),
                        "example.org".into(),
                    ],
                    interval: "2s".into(),
                    timeout: Some("1s".into()),
                    rise: 2,
                    fall: 2,
                }),
                ..tracker("chk_dns", -30)
            },
        ],
    };
    // notify_master and notify convert (standalone mode runs them).
    let db = VirtualIpSpec {
        notify: Some(NotifyHooks {
            master: Some(vec!["/usr/local/bin/became-master.sh".into()]),
            any: Some(vec!["/usr/local/bin/notify.sh".into()]),
            ..NotifyHooks::default()
        }),
        // vrrp_sync_group G1 { group { DB } }
        sync_group: Some("g1".into()),
        ..db
    };
    assert_eq!(file.virtual_ips[0].spec, db);
    let v6 = &file.virtual_ips[1].spec;
    assert_eq!(
        (v6.version, v6.addresses.as_slice()),
        (3, ["2001:db8::20/64".to_string()].as_slice())
    );
    assert_eq!(
        v6.announce,
        Some(Announce {
            repeat: 3,
            ..Announce::default()
        })
    );
    // Exactly one warning per option without an equivalent, at its line.
    assert_eq!(
        warned(&out),
        [
            w("features.conf", 4, "notification_email"),
            w("features.conf", 7, "smtp_server"),
            w("features.conf", 60, "virtual_server"),
            w("features.conf", 31, "label"),
            w("features.conf", 45, "smtp_alert"),
        ]
    );
}

#[test]
fn include_globs_are_relative_to_the_including_file() {
    let out = run(&[single("includes/main.conf")]);
    let file = load(&out);
    assert_eq!(file.virtual_ips.len(), 1);
    let vip = &file.virtual_ips[0];
    assert_eq!(vip.name, "web-front");
    let want = VirtualIpSpec {
        vrid: 60,
        addresses: vec!["198.51.100.60/24".into()],
        interface: Some("eth1".into()),
        version: 3,
        advert_interval: "100ms".into(),
        priority: 150,
        priorities: vec![],
        node_selector: None,
        preempt: true,
        preempt_delay: "0s".into(),
        authentication: None,
        unicast_peers: vec![],
        announce: None,
        max_advert_interval: None,
        startup_delay: "0s".into(),
        link_debounce: None,
        v3_checksum: None,
        notify: None,
        sync_group: None,
        virtual_mac: false,
        trackers: vec![Tracker {
            script: Some(ScriptTracker {
                command: vec!["/usr/bin/pgrep".into(), "-x".into(), "haproxy".into()],
                interval: "2s".into(),
                timeout: None,
                rise: 2,
                fall: 1,
            }),
            ..tracker("chk_haproxy", 30)
        }],
    };
    assert_eq!(vip.spec, want);
    // The glob that matches nothing is a warning, as in keepalived.
    assert_eq!(warned(&out), [w("main.conf", 6, "include")]);
    assert!(out.yaml.contains("20-web.conf:1"), "{}", out.yaml);
}

fn error_of(name: &str) -> String {
    match convert(&[single(name)], &ConvertOptions::default()) {
        Ok(out) => panic!("{name} converted:\n{}", out.yaml),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_give_located_errors() {
    let m = "tests/data/keepalived/malformed";
    let cases = [
        (
            "unclosed.conf",
            "1:20: error: unbalanced '{': this block is never closed",
        ),
        (
            "extra-close.conf",
            "7:2: error: unbalanced '}': no block is open",
        ),
        (
            "bad-priority.conf",
            "3:14: error: priority: \"high\" is not a number",
        ),
        (
            "bad-vrid.conf",
            "2:23: error: virtual_router_id: 256 is not in 1..255",
        ),
        (
            "bad-address.conf",
            "5:9: error: virtual_ipaddress: \"198.51.100.300/24\" is not an IP address",
        ),
        (
            "missing-include.conf",
            "3:13: error: include: tests/data/keepalived/malformed/nothere.conf: no such file",
        ),
    ];
    for (name, want) in cases {
        assert_eq!(
            error_of(&format!("malformed/{name}")),
            format!("{m}/{name}:{want}")
        );
    }
    let e = error_of("loop/a.conf");
    assert!(
        e.starts_with("tests/data/keepalived/loop/b.conf:4:11: error: include loop: "),
        "{e}"
    );
    assert!(
        e.contains("a.conf -> ") && e.ends_with("loop/a.conf"),
        "{e}"
    );
    let e = error_of("does-not-exist.conf");
    assert!(
        e.starts_with("tests/data/keepalived/does-not-exist.conf: "),
        "{e}"
    );
}

#[test]
fn unknown_keywords_in_converted_blocks_are_errors() {
    // A misspelt option inside a vrrp_instance: dropping it would change the election.
    let e = error_of("malformed/unknown-keyword.conf");
    assert!(
        e.starts_with(
            "tests/data/keepalived/malformed/unknown-keyword.conf:3:5: error: unknown keyword \"prioriti\" in vrrp_instance VI_1"
        ),
        "{e}"
    );
    // The same in a tracker definition and in an authentication block.
    let e = error_of("malformed/unknown-in-script.conf");
    assert!(
        e.starts_with("tests/data/keepalived/malformed/unknown-in-script.conf:3:5: error: unknown keyword \"intervall\" in vrrp_script chk"),
        "{e}"
    );
    let e = error_of("malformed/unknown-in-auth.conf");
    assert!(
        e.starts_with("tests/data/keepalived/malformed/unknown-in-auth.conf:6:9: error: unknown keyword \"auth_password\" in authentication"),
        "{e}"
    );
}

#[test]
fn unknown_top_level_keywords_warn_and_fail_under_strict() {
    let out = run(&[single("unknown-top-level.conf")]);
    load(&out);
    assert_eq!(
        warned(&out),
        [w("unknown-top-level.conf", 1, "vrrp_bogus_block")]
    );
    assert!(
        out.warnings[0].message.contains("column 1"),
        "{}",
        out.warnings[0]
    );
    let strict = ConvertOptions {
        strict: true,
        secret_name: None,
    };
    let e = convert(&[single("unknown-top-level.conf")], &strict).unwrap_err();
    assert!(matches!(&e, ConvertError::Strict { warnings } if warnings.len() == 1));
    assert!(
        e.to_string().contains(
            "tests/data/keepalived/unknown-top-level.conf:1: warning: vrrp_bogus_block: unknown keyword"
        ),
        "{e}"
    );
}

#[test]
fn file_and_node_combinations_are_checked() {
    let opts = ConvertOptions::default();
    for files in [
        vec![],
        vec![single("seed.conf"), single("host-a.conf")],
        vec![single("seed.conf"), node("a", "host-a.conf")],
        vec![node("a", "seed.conf"), node("a", "host-a.conf")],
    ] {
        assert!(matches!(
            convert(&files, &opts),
            Err(ConvertError::Usage(_))
        ));
    }
}

/// Values as keepalived reads them: rounding, case, truncation, repeated keywords.
#[test]
fn values_follow_keepalived() {
    let text = "vrrp_instance A {\n virtual_router_id 1\n state master\n advert_int 1.5\n authentication {\n  auth_type pass\n  auth_pass 123456789\n }\n virtual_ipaddress {\n  198.51.100.1\n }\n virtual_ipaddress {\n  198.51.100.2\n }\n}\nvrrp_instance B {\n version 3\n virtual_router_id 2\n advert_int 0.015\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n virtual_ipaddress {\n  198.51.100.3\n }\n}\n";
    let out = convert_text(text).unwrap();
    let file = load(&out);
    let a = &file.virtual_ips[0].spec;
    assert_eq!(a.addresses, ["198.51.100.1", "198.51.100.2"]);
    assert_eq!(a.advert_interval, "2s");
    assert_eq!(
        file.password(&a.authentication.clone().unwrap().secret_ref),
        Ok("12345678".into())
    );
    let b = &file.virtual_ips[1].spec;
    assert_eq!(
        (b.advert_interval.as_str(), b.authentication.is_none()),
        ("20ms", true)
    );
    let lines: Vec<(usize, String)> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.clone()))
        .collect();
    let want = [
        (4, "advert_int"),
        (6, "auth_type"),
        (7, "auth_pass"),
        (19, "advert_int"),
        (20, "authentication"),
    ];
    assert_eq!(lines, want.map(|(l, o)| (l, o.to_string())));
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kube-vrrp-convert-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn convert_text(text: &str) -> Result<Output, ConvertError> {
    let dir = scratch();
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let result = convert(&[HostFile { node: None, path }], &ConvertOptions::default());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

const WORDS: &[&str] = &[
    "{",
    "}",
    "{ }",
    "\n",
    "\n",
    "\n",
    "\"",
    "#",
    "!",
    "include",
    "include x.conf",
    "include *",
    "global_defs",
    "vrrp_version",
    "vrrp_strict",
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "vrrp_track_process",
    "track_file",
    "vrrp_track_file",
    "script",
    "process",
    "file",
    "quorum",
    "interval",
    "timeout",
    "rise",
    "fall",
    "weight",
    "reverse",
    "state",
    "MASTER",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "virtual_ipaddress",
    "dev",
    "label",
    "scope",
    "unicast_src_ip",
    "unicast_peer",
    "track_interface",
    "track_script",
    "track_process",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "version",
    "strict_mode",
    "virtual_server",
    "notify",
    "@a",
    "@^a",
    "$X=1",
    "0",
    "1",
    "2",
    "3",
    "51",
    "255",
    "256",
    "-1",
    "0.1",
    "0.005",
    "40.96",
    "1e3",
    "198.51.100.1",
    "198.51.100.1/24",
    "2001:db8::1",
    "2001:db8::1/64",
    "/bin/true",
    "'a b'",
    "chk",
    "x",
    "null",
    "true",
    "yes",
    "~",
    "0x10",
    "1_000",
    "\"a: b\"",
    "\"- y\"",
    "\"\"",
    "[x]",
    "*x",
    "&a",
    "%",
    "`",
    "'",
    "\\#",
];

/// Instance lines; `V` is replaced by one of [`VALUES`].
const LINES: &[&str] = &[
    "interface V",
    "priority V",
    "advert_int V",
    "version 3",
    "version 2",
    "nopreempt",
    "preempt_delay V",
    "authentication {\n auth_type PASS\n auth_pass V\n}",
    "authentication {\n auth_type pass\n auth_pass \"V V\"\n}",
    "unicast_src_ip 198.51.100.9",
    "unicast_peer {\n 198.51.100.8\n}",
    "unicast_peer {\n 2001:db8::8\n}",
    "track_interface {\n V weight V\n eth9\n}",
    "track_script {\n chk\n chk weight V\n}",
    "track_process {\n p weight V\n}",
    "track_file {\n f\n}",
    "garp_master_delay V",
    "garp_master_repeat V",
    "garp_master_refresh V",
    "virtual_ipaddress {\n 198.51.100.8/24 dev V label V scope V\n}",
    "virtual_ipaddress {\n V\n}",
    "state V",
    "V",
];

/// Values, plausible and not, for YAML and for the checks.
const VALUES: &[&str] = &[
    "1",
    "0",
    "2",
    "10",
    "255",
    "-5",
    "0.1",
    "0.015",
    "40.95",
    "41",
    "1.5",
    "eth0",
    "null",
    "true",
    "~",
    "a:b",
    "[x]",
    "*x",
    "&a",
    "%",
    "`",
    "'",
    "-",
    "x_y",
    "\"\"",
    "\"a b\"",
    "198.51.100.9",
    "2001:db8::9",
    "verylonginterfacename0",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics_on_any_text(text in "(?s).{0,300}") {
        let _ = convert_text(&text);
    }

    #[test]
    fn never_panics_on_keyword_soup(words in prop::collection::vec(prop::sample::select(WORDS), 0..120)) {
        let _ = convert_text(&words.join(" "));
    }

    #[test]
    fn converted_instances_always_load(
        lines in prop::collection::vec((prop::sample::select(LINES), prop::sample::select(VALUES)), 0..6),
        def in prop::sample::select(VALUES),
    ) {
        let body: Vec<String> = lines.iter().map(|(l, v)| l.replace('V', v)).collect();
        let text = "vrrp_script chk {\n script \"/bin/check V\"\n interval 2\n weight 5\n}\nvrrp_track_process p {\n process V\n quorum 2\n}\ntrack_file f {\n file /run/V\n}\n"
            .replace('V', def)
            + &format!(
                "vrrp_instance P {{\n virtual_router_id 7\n virtual_ipaddress {{\n 198.51.100.7\n }}\n{}\n}}\n",
                body.join("\n")
            );
        if let Ok(out) = convert_text(&text) {
            prop_assert!(config::parse(Path::new("p.yaml"), &out.yaml).is_ok(), "{}\n{}", text, out.yaml);
        }
    }
}

#[test]
fn references_and_address_options() {
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance A {\n strict_mode off\n interface eth0\n virtual_router_id 3\n authentication {\n  auth_type PASS\n  auth_pass s3cret\n }\n virtual_ipaddress {\n  198.51.100.3/24 dev eth1 brd 198.51.100.255 scope link\n }\n track_script {\n  nothere\n }\n track_interface {\n  eth2 weight -5 reverse\n }\n}\n";
    let out = convert_text(text).unwrap();
    let file = load(&out);
    let a = &file.virtual_ips[0].spec;
    // strict_mode off in the instance wins over vrrp_strict: authentication applies.
    assert_eq!(
        file.password(&a.authentication.clone().unwrap().secret_ref),
        Ok("s3cret".into())
    );
    assert_eq!(a.trackers.len(), 1);
    assert_eq!(a.trackers[0].weight, -5);
    let lines: Vec<(usize, String)> = out
        .warnings
        .iter()
        .map(|w| (w.line, w.option.clone()))
        .collect();
    let want = [
        (2, "vrrp_strict"),
        (13, "brd"),
        (13, "scope"),
        (16, "track_script"),
        (19, "reverse"),
        (13, "dev"),
    ];
    assert_eq!(lines, want.map(|(l, o)| (l, o.to_string())));
}
