//! Tracker specs parse into typed configurations, or name every bad field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::translate::{InterfaceFacts, NodeFacts, parse_prefixed, translate};

/// The seed's own examples (design.md §3): `process httpd weight 10`, `track_app_file
/// weight 1`, `ens9 weight 5`, a script with interval 5 timeout 5 fall 3.
const SEED: &str = r#"
apiVersion: kubevrrp.io/v1alpha1
kind: VirtualIP
metadata: {name: web}
spec:
  vrid: 51
  addresses: [198.51.100.100/32]
  trackers:
    - {name: apache, process: {name: httpd}, weight: 10}
    - {name: app, file: {path: /var/run/my_app/vrrp_track_file}, weight: 1}
    - {name: uplink, interface: {name: ens9}, weight: 5}
    - {name: check, script: {command: [/etc/keepalived/check.sh], interval: 5s, timeout: 5s,
       rise: 1, fall: 3}, weight: 0}
"#;

/// The trackers of a VirtualIP document, parsed, or the problems with its trackers.
fn trackers(doc: &str) -> Result<Vec<TrackerConfig>, Vec<SpecError>> {
    let file: serde_json::Value = serde_saphyr::from_str(doc).unwrap();
    let specs: Vec<Tracker> = serde_json::from_value(file["spec"]["trackers"].clone()).unwrap();
    let mut errors = Vec::new();
    let parsed = parse(&specs, &mut errors);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

fn fields(errors: Vec<SpecError>) -> Vec<String> {
    errors.into_iter().map(|e| e.field).collect()
}

#[test]
fn seed_examples_load_and_translate() {
    let file = crate::config::parse(Path::new("seed.yaml"), SEED).expect("loads");
    let spec = &file.virtual_ips[0].spec;
    let node = NodeFacts {
        name: "lb1".into(),
        labels: Default::default(),
        interfaces: vec![InterfaceFacts {
            name: "eth0".into(),
            addresses: vec![parse_prefixed("198.51.100.11/24").unwrap()],
        }],
    };
    let cfg = translate("web", spec, &node, &|_| Err("no secrets".into()))
        .expect("translates")
        .expect("runs on lb1");
    let t = &cfg.trackers;
    let weights: Vec<i32> = t.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [10, 1, 5, 0]);
    assert_eq!(
        t[0].kind,
        TrackerKind::Process(ProcessConfig {
            name: "httpd".into(),
            min_count: 1
        })
    );
    assert_eq!(
        t[1].kind,
        TrackerKind::File(FileConfig {
            path: PathBuf::from("/var/run/my_app/vrrp_track_file"),
            interval: Duration::from_secs(1),
        })
    );
    assert_eq!(
        t[2].kind,
        TrackerKind::Interface(InterfaceConfig {
            name: "ens9".into()
        })
    );
    assert_eq!(
        t[3].kind,
        TrackerKind::Script(ScriptConfig {
            argv: vec!["/etc/keepalived/check.sh".into()],
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            rise: 1,
            fall: 3,
        })
    );
    assert_eq!(t[3].kind.rise_fall(), (1, 3));
    assert_eq!(t[0].kind.rise_fall(), (1, 1));
    assert!(crate::track::set::check_supported(t, false).is_ok());
}

#[test]
fn sub_second_intervals_are_accepted_down_to_10ms() {
    let fast = SEED
        .replace(
            "interval: 5s, timeout: 5s",
            "interval: 200ms, timeout: 150ms",
        )
        .replace(
            "/var/run/my_app/vrrp_track_file}",
            "/var/run/my_app/vrrp_track_file, interval: 100ms}",
        );
    let t = trackers(&fast).expect("parses");
    let TrackerKind::Script(script) = &t[3].kind else {
        panic!("{:?}", t[3]);
    };
    assert_eq!(
        (script.interval, script.timeout),
        (Duration::from_millis(200), Duration::from_millis(150))
    );
    let TrackerKind::File(file) = &t[1].kind else {
        panic!("{:?}", t[1]);
    };
    assert_eq!(file.interval, Duration::from_millis(100));
    let too_fast = fast.replace("150ms", "5ms").replace("100ms}", "1ns}");
    assert_eq!(
        fields(trackers(&too_fast).unwrap_err()),
        [
            "spec.trackers[1].file.interval",
            "spec.trackers[3].script.timeout"
        ]
    );
}

#[test]
fn a_script_timeout_defaults_to_its_interval() {
    let t = trackers(&SEED.replace("interval: 5s, timeout: 5s", "interval: 5s")).unwrap();
    let TrackerKind::Script(script) = &t[3].kind else {
        panic!("{:?}", t[3]);
    };
    assert_eq!(script.timeout, Duration::from_secs(5));
}

#[test]
fn bad_tracker_specs_name_their_field() {
    let bad = SEED
        .replace("weight: 10", "weight: 300")
        .replace("fall: 3", "fall: 0")
        .replace("/var/run/my_app/vrrp_track_file", "my_app/file");
    assert_eq!(
        fields(trackers(&bad).unwrap_err()),
        [
            "spec.trackers[0].weight",
            "spec.trackers[1].file.path",
            "spec.trackers[3].script.fall"
        ]
    );
    let twice = SEED.replace("name: app,", "name: apache,");
    let e = trackers(&twice).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "spec.trackers[1].name: \"apache\" is used twice"
    );
    let none = "spec: {trackers: [{name: one}, {name: two, process: {name: a}, file: {path: /f}}]}";
    assert_eq!(
        fields(trackers(none).unwrap_err()),
        ["spec.trackers[0]", "spec.trackers[1]"]
    );
}

#[test]
fn a_pods_selector_with_a_bad_operator_is_refused() {
    let doc = "spec: {trackers: [{name: b, pods: {namespace: web, selector: {matchExpressions: [{key: app, operator: Near}]}}}]}";
    assert_eq!(
        fields(trackers(doc).unwrap_err()),
        ["spec.trackers[0].pods.selector.matchExpressions[0]"]
    );
    let doc = "spec: {trackers: [{name: b, pods: {namespace: web, selector: {matchLabels: {app: web}}}}]}";
    let t = trackers(doc).unwrap();
    let TrackerKind::Pods(p) = &t[0].kind else {
        panic!("{:?}", t[0]);
    };
    assert_eq!(p.namespace, "web");
    assert_eq!(p.selector.to_string(), "app=web");
}

#[test]
fn bad_http_trackers_name_their_field() {
    let check = |http: &str| {
        let doc = format!("{{name: api, weight: -20, http: {http}}}");
        let t: crate::spec::Tracker = serde_saphyr::from_str(&doc).unwrap();
        match parse_one(&t) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
        }
    };
    assert_eq!(
        check("{url: \"https://127.0.0.1:6443/readyz\", interval: 200ms}"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("{url: \"ftp://h/\", expectedStatus: [200, 700], interval: 0s, fall: 0}"),
        [
            "spec.trackers[0].http.url: \"ftp://h/\" is not an http:// or https:// URL with a host: the scheme must be http or https",
            "spec.trackers[0].http.expectedStatus: 700 is not an HTTP status code (100-599)",
            "spec.trackers[0].http.interval: must be at least 10ms (e.g. 200ms, 1s), got 0s",
            "spec.trackers[0].http.fall: must be at least 1",
        ]
    );
    assert_eq!(
        check(
            "{url: \"http://127.0.0.1/\", caFile: ca.crt, insecureSkipVerify: true, expectedStatus: []}"
        ),
        [
            "spec.trackers[0].http.expectedStatus: must list at least one status code",
            "spec.trackers[0].http.caFile: \"ca.crt\" must be an absolute path",
            "spec.trackers[0].http.caFile: applies to https:// URLs only",
            "spec.trackers[0].http.insecureSkipVerify: applies to https:// URLs only",
            "spec.trackers[0].http.insecureSkipVerify: set either caFile (verify against it) or insecureSkipVerify (verify nothing), not both",
        ]
    );
    assert_eq!(
        check("{url: \"https://127.0.0.1/\", clientKeyFile: /k.pem}"),
        ["spec.trackers[0].http.clientCertFile: clientCertFile and clientKeyFile go together"]
    );
}

#[test]
fn an_http_tracker_parses_into_its_target_periods_and_tls() {
    let t: crate::spec::Tracker = serde_saphyr::from_str(
        "{name: api, http: {url: \"https://127.0.0.1:6443/readyz\", interval: 250ms, caFile: /ca.pem, serverName: kubernetes}}",
    )
    .unwrap();
    let TrackerKind::Http(h) = parse_one(&t).unwrap().kind else {
        panic!("not http");
    };
    assert_eq!(
        (h.target.port, h.interval, h.timeout),
        (6443, Duration::from_millis(250), Duration::from_millis(250))
    );
    assert_eq!(h.tls.ca_file.as_deref(), Some(Path::new("/ca.pem")));
    assert_eq!(h.tls.server_name, "kubernetes");
    assert_eq!(h.expected_status, [200]);
}
