//! Health trackers (keepalived's vrrp_script, track_process, track_file, track_interface).
//!
//! - [`hysteresis`]: the pure core: rise/fall counting, weights, combination.
//! - [`script`], [`http`], [`process`], [`file`], [`interface`]: one prober per kind, each a tokio task
//!   reporting [`Observation`]s.
//! - [`set`]: the trackers of one instance: starts the probers, feeds their results through
//!   the core and tells the instance's driver whenever the combined result changes.
//!
//! This module also checks tracker specs.

pub mod file;
pub mod http;
pub mod hysteresis;
pub mod interface;
pub mod pods;
pub mod process;
pub mod script;
pub mod set;

pub use hysteresis::{Contribution, Health, Reading, TrackerCore};
pub use set::{TrackError, TrackerEnv, TrackerSet};

use crate::duration;
use crate::spec::Tracker;

/// The result of one check, as a prober reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// What the check found.
    pub reading: Reading,
    /// Shown as the tracker's last result: "exit 1", "3 processes", "value 7", "link down".
    pub detail: String,
    /// The check could not be carried out at all (script not found, /proc unreadable): the
    /// tracker counts as down and reports `detail` as its error.
    pub broken: bool,
}

impl Observation {
    /// A check that ran.
    pub fn new(reading: Reading, detail: String) -> Observation {
        Observation {
            reading,
            detail,
            broken: false,
        }
    }

    /// A check that could not run: a failure, with the reason.
    pub fn broken(detail: String) -> Observation {
        Observation {
            reading: Reading::Fail,
            detail,
            broken: true,
        }
    }
}

/// The kind of a tracker, as shown in status ("script", "process", ...).
pub fn kind(t: &Tracker) -> &'static str {
    if t.script.is_some() {
        "script"
    } else if t.process.is_some() {
        "process"
    } else if t.file.is_some() {
        "file"
    } else if t.interface.is_some() {
        "interface"
    } else if t.http.is_some() {
        "http"
    } else {
        "pods"
    }
}

/// Shortest script interval or timeout and file read interval: trackers can keep pace with
/// 100 ms adverts (keepalived 2.3 takes fractional seconds too), but a nanosecond interval
/// would be a fork storm.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// Report a tracker duration that does not parse or is below [`MIN_INTERVAL`].
fn check_interval(field: String, value: &str, report: &mut dyn FnMut(String, String)) {
    match duration::parse(value) {
        Err(e) => report(field, e.to_string()),
        Ok(d) if d < MIN_INTERVAL => report(
            field,
            format!("must be at least 10ms (e.g. 200ms, 1s), got {value}"),
        ),
        Ok(_) => {}
    }
}

/// A probe's (interval, timeout) from validated fields: the interval (default 1 s, keepalived's)
/// and the timeout (default: the interval).
pub fn periods(
    interval: &str,
    timeout: Option<&str>,
) -> (std::time::Duration, std::time::Duration) {
    let interval = duration::parse(interval)
        .ok()
        .filter(|d| *d >= MIN_INTERVAL)
        .unwrap_or(std::time::Duration::from_secs(1));
    let timeout = timeout
        .and_then(|t| duration::parse(t).ok())
        .filter(|d| *d >= MIN_INTERVAL)
        .unwrap_or(interval);
    (interval, timeout)
}

/// The read interval of a file tracker (validated; default 1s).
pub fn file_interval(f: &crate::spec::FileTracker) -> std::time::Duration {
    f.interval
        .as_deref()
        .and_then(|i| duration::parse(i).ok())
        .filter(|d| *d >= MIN_INTERVAL)
        .unwrap_or(file::POLL)
}

/// keepalived accepts weights in -254..254 (scripts -253..253).
const WEIGHT_RANGE: std::ops::RangeInclusive<i32> = -254..=254;

/// Check tracker specs; `report(field, message)` is called for each problem.
pub fn validate_specs(trackers: &[Tracker], report: &mut dyn FnMut(String, String)) {
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in trackers.iter().enumerate() {
        let at = |f: &str| format!("spec.trackers[{i}]{f}");
        if t.name.is_empty() {
            report(at(".name"), "must not be empty".into());
        } else if !names.insert(t.name.as_str()) {
            report(at(".name"), format!("{:?} is used twice", t.name));
        }
        if !WEIGHT_RANGE.contains(&t.weight) {
            report(
                at(".weight"),
                format!("must be -254..254, got {}", t.weight),
            );
        }
        let kinds = [
            t.script.is_some(),
            t.process.is_some(),
            t.file.is_some(),
            t.interface.is_some(),
            t.pods.is_some(),
            t.http.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            report(
                at(""),
                "set exactly one of script, process, file, interface, pods, http".into(),
            );
        }
        if let Some(h) = &t.http {
            validate_http(h, &|f| at(&format!(".http.{f}")), report);
        }
        if let Some(s) = &t.script {
            if s.command.is_empty() || s.command[0].is_empty() {
                report(
                    at(".script.command"),
                    "must name a program (an argv list)".into(),
                );
            }
            for (field, value) in [
                ("interval", Some(&s.interval)),
                ("timeout", s.timeout.as_ref()),
            ] {
                if let Some(v) = value {
                    check_interval(at(&format!(".script.{field}")), v, report);
                }
            }
            if s.rise == 0 {
                report(at(".script.rise"), "must be at least 1".into());
            }
            if s.fall == 0 {
                report(at(".script.fall"), "must be at least 1".into());
            }
        }
        if let Some(p) = &t.process {
            if p.name.is_empty() {
                report(at(".process.name"), "must not be empty".into());
            }
            if p.min_count == 0 {
                report(at(".process.minCount"), "must be at least 1".into());
            }
        }
        if let Some(f) = &t.file {
            if !f.path.starts_with('/') {
                report(
                    at(".file.path"),
                    format!("{:?} must be an absolute path", f.path),
                );
            }
            if let Some(i) = &f.interval {
                check_interval(at(".file.interval"), i, report);
            }
        }
        if let Some(n) = &t.interface
            && (n.name.is_empty() || n.name.len() > 15)
        {
            report(
                at(".interface.name"),
                "must be an interface name (1-15 characters)".into(),
            );
        }
        if let Some(p) = &t.pods
            && p.namespace.is_empty()
        {
            report(at(".pods.namespace"), "must not be empty".into());
        }
    }
}

/// The http tracker's fields.
fn validate_http(
    h: &crate::spec::HttpTracker,
    at: &dyn Fn(&str) -> String,
    report: &mut dyn FnMut(String, String),
) {
    let tls = match http::parse_url(&h.url) {
        Ok(target) => Some(target.tls),
        Err(e) => {
            report(at("url"), e.to_string());
            None
        }
    };
    if h.expected_status.is_empty() {
        report(
            at("expectedStatus"),
            "must list at least one status code".into(),
        );
    }
    if let Some(code) = h.expected_status.iter().find(|c| !(100..=599).contains(*c)) {
        report(
            at("expectedStatus"),
            format!("{code} is not an HTTP status code (100-599)"),
        );
    }
    check_interval(at("interval"), &h.interval, report);
    if let Some(t) = &h.timeout {
        check_interval(at("timeout"), t, report);
    }
    if h.rise == 0 {
        report(at("rise"), "must be at least 1".into());
    }
    if h.fall == 0 {
        report(at("fall"), "must be at least 1".into());
    }
    if let Some(name) = &h.server_name {
        if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
            report(
                at("serverName"),
                format!("{name:?} is not a DNS name or IP address"),
            );
        }
        if tls == Some(false) {
            report(at("serverName"), "applies to https:// URLs only".into());
        }
    }
    for (field, path) in [
        ("caFile", &h.ca_file),
        ("clientCertFile", &h.client_cert_file),
        ("clientKeyFile", &h.client_key_file),
    ] {
        if let Some(p) = path {
            if !p.starts_with('/') {
                report(at(field), format!("{p:?} must be an absolute path"));
            }
            if tls == Some(false) {
                report(at(field), "applies to https:// URLs only".into());
            }
        }
    }
    if h.insecure_skip_verify && tls == Some(false) {
        report(
            at("insecureSkipVerify"),
            "applies to https:// URLs only".into(),
        );
    }
    if h.insecure_skip_verify && h.ca_file.is_some() {
        report(
            at("insecureSkipVerify"),
            "set either caFile (verify against it) or insecureSkipVerify (verify nothing), not both".into(),
        );
    }
    if h.client_cert_file.is_some() != h.client_key_file.is_some() {
        report(
            at("clientCertFile"),
            "clientCertFile and clientKeyFile go together".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::script::ScriptProbe;
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
        assert_eq!(t.len(), 4);
        assert_eq!(
            (
                t[0].weight,
                t[0].process
                    .as_ref()
                    .map(|p| (p.name.as_str(), p.min_count))
            ),
            (10, Some(("httpd", 1)))
        );
        assert_eq!(
            t[1].file.as_ref().map(|f| f.path.as_str()),
            Some("/var/run/my_app/vrrp_track_file")
        );
        assert_eq!(t[1].weight, 1);
        assert_eq!(
            t[2].interface.as_ref().map(|i| i.name.as_str()),
            Some("ens9")
        );
        assert_eq!(t[2].weight, 5);
        let script = t[3].script.as_ref().expect("script");
        assert_eq!((script.rise, script.fall, t[3].weight), (1, 3, 0));
        let probe = ScriptProbe::new(script);
        assert_eq!(
            (probe.interval(), probe.timeout()),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert!(super::set::check_supported(t, false).is_ok());
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
        let file: serde_json::Value = serde_saphyr::from_str(&fast).unwrap();
        let spec: crate::spec::VirtualIpSpec =
            serde_json::from_value(file["spec"].clone()).unwrap();
        let mut found = Vec::new();
        super::validate_specs(&spec.trackers, &mut |field, _| found.push(field));
        assert_eq!(found, Vec::<String>::new());
        let probe = ScriptProbe::new(spec.trackers[3].script.as_ref().unwrap());
        assert_eq!(
            (probe.interval(), probe.timeout()),
            (Duration::from_millis(200), Duration::from_millis(150))
        );
        let f = spec.trackers[1].file.as_ref().unwrap();
        assert_eq!(super::file_interval(f), Duration::from_millis(100));
        let too_fast = fast.replace("150ms", "5ms").replace("100ms}", "1ns}");
        let file: serde_json::Value = serde_saphyr::from_str(&too_fast).unwrap();
        let spec: crate::spec::VirtualIpSpec =
            serde_json::from_value(file["spec"].clone()).unwrap();
        let mut found = Vec::new();
        super::validate_specs(&spec.trackers, &mut |field, _| found.push(field));
        assert_eq!(
            found,
            [
                "spec.trackers[1].file.interval",
                "spec.trackers[3].script.timeout"
            ]
        );
    }

    #[test]
    fn bad_tracker_specs_name_their_field() {
        let bad = SEED
            .replace("weight: 10", "weight: 300")
            .replace("fall: 3", "fall: 0")
            .replace("/var/run/my_app/vrrp_track_file", "my_app/file");
        let mut found = Vec::new();
        let file: serde_json::Value = serde_saphyr::from_str(&bad).unwrap();
        let spec: crate::spec::VirtualIpSpec =
            serde_json::from_value(file["spec"].clone()).unwrap();
        super::validate_specs(&spec.trackers, &mut |field, _| found.push(field));
        assert_eq!(
            found,
            [
                "spec.trackers[0].weight",
                "spec.trackers[1].file.path",
                "spec.trackers[3].script.fall"
            ]
        );
    }

    #[test]
    fn bad_http_trackers_name_their_field() {
        let check = |http: &str| {
            let doc = format!("{{name: api, weight: -20, http: {http}}}");
            let t: crate::spec::Tracker = serde_saphyr::from_str(&doc).unwrap();
            let mut found = Vec::new();
            super::validate_specs(&[t], &mut |field, msg| {
                found.push(format!("{field}: {msg}"))
            });
            found
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
}
