//! Conformance transcripts: each file in tests/conformance/ is a timed sequence of inputs to one
//! instance with the exact actions and next deadline the RFC prescribes, as JSON lines.
//!
//! Line 1: `{"rfc": "...", "rule": "...", "config": {...}}`. Every later line:
//! `{"at": "<duration>", "input": ..., "expect": ["<action>", ...], "next_timeout": "<duration>"|null}`.
//! Inputs: "startup", "startup_holding" (addresses left installed by a killed run), "timeout" (asserts the deadline is exactly `at`), "shutdown", "release",
//! {"advert": {...}}, {"adjust": N}, {"link": "up"|"down"}, {"tracker_fault": bool},
//! {"group": {"fault": bool, "adjustment": N|null}} (the sync group's input). A step may assert
//! the instance's report to its sync group: `"view": {"own_fault": bool, "adjustment": N}`.
//! A discarded advert expects "discard <reason>"; an address-list mismatch "accepted address_mismatch".
//!
//! Optional config beyond the RFC's: `announce_delay` / `announce_refresh` (keepalived's
//! garp_master_delay / garp_master_refresh; default "0s": the takeover burst only, so that a
//! transcript about something else need not list later bursts), `vip_refresh` (the lifetime
//! refresh with the adverts; default none), `unicast_peers`, `max_advert_interval`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use kube_vrrp::duration;
use kube_vrrp::vrrp::sync::GroupInput;
use kube_vrrp::vrrp::{
    Advert, AnnounceTiming, Auth, Instance, InstanceConfig, LinkDebounce, Version,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    rfc: String,
    rule: String,
    config: Config,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Config {
    vrid: u8,
    version: u8,
    priority: u8,
    advert_interval: String,
    #[serde(default = "yes")]
    preempt: bool,
    #[serde(default)]
    preempt_delay: Option<String>,
    addresses: Vec<IpAddr>,
    #[serde(default)]
    password: Option<String>,
    primary: IpAddr,
    #[serde(default)]
    startup_delay: Option<String>,
    #[serde(default)]
    link_down_delay: Option<String>,
    #[serde(default)]
    link_up_delay: Option<String>,
    #[serde(default)]
    announce_delay: Option<String>,
    #[serde(default)]
    announce_refresh: Option<String>,
    #[serde(default)]
    vip_refresh: Option<String>,
    #[serde(default)]
    unicast_peers: Vec<IpAddr>,
    #[serde(default)]
    max_advert_interval: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at: String,
    input: Value,
    #[serde(default)]
    expect: Vec<String>,
    /// Required on every step: a duration, or `null` for "no deadline armed".
    #[serde(deserialize_with = "required_nullable")]
    next_timeout: Option<String>,
    /// Optional: what the instance reports to its sync group afterwards.
    #[serde(default)]
    view: Option<ViewOut>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct ViewOut {
    own_fault: bool,
    adjustment: i32,
}

/// A field that must be present and may be `null` (serde treats a missing `Option` as `None`
/// and `null` as "not given" when it is `Option<Option<_>>` with a default; neither is wanted:
/// a transcript that says nothing about the deadline would check nothing).
fn required_nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvertIn {
    from: IpAddr,
    priority: u8,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    vrid: Option<u8>,
    #[serde(default)]
    addresses: Option<Vec<IpAddr>>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    version: Option<u8>,
}

fn dur(s: &str) -> Duration {
    duration::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn version(n: u8) -> Version {
    if n == 2 { Version::V2 } else { Version::V3 }
}

fn centis(d: Duration) -> u16 {
    (d.as_millis() / 10) as u16
}

fn run(file: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().expect("header line");
    let header: Header = serde_json::from_str(first).expect("header");
    assert!(!header.rfc.is_empty() && !header.rule.is_empty());
    let c = header.config.clone();
    let cfg = InstanceConfig {
        vrid: c.vrid,
        version: version(c.version),
        priority: c.priority,
        advert_interval: dur(&c.advert_interval),
        preempt: c.preempt,
        preempt_delay: c.preempt_delay.as_deref().map_or(Duration::ZERO, dur),
        addresses: c.addresses.clone(),
        auth: c.password.as_deref().map_or(Auth::None, Auth::pass),
        primary: c.primary,
        startup_delay: c.startup_delay.as_deref().map_or(Duration::ZERO, dur),
        link_debounce: LinkDebounce {
            down: c.link_down_delay.as_deref().map_or(Duration::ZERO, dur),
            up: c.link_up_delay.as_deref().map_or(Duration::ZERO, dur),
        },
        announce: AnnounceTiming {
            delay: c.announce_delay.as_deref().map_or(Duration::ZERO, dur),
            refresh: c.announce_refresh.as_deref().map_or(Duration::ZERO, dur),
        },
        vip_refresh: c.vip_refresh.as_deref().map(dur),
        unicast_peers: c.unicast_peers.clone(),
        max_advert_interval: c.max_advert_interval.as_deref().map(dur),
    };
    let mut inst = Instance::new(cfg.clone());
    for (n, line) in lines {
        let ctx = format!("{file}:{}", n + 1);
        let step: Step = serde_json::from_str(line).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let now = dur(&step.at);
        let mut got: Vec<String> = Vec::new();
        match &step.input {
            Value::String(s) if s == "startup" => inst.handle_startup(now),
            Value::String(s) if s == "startup_holding" => inst.handle_startup_holding(now),
            Value::String(s) if s == "shutdown" => inst.handle_shutdown(now),
            Value::String(s) if s == "release" => inst.handle_release(now),
            Value::String(s) if s == "timeout" => {
                assert_eq!(
                    inst.poll_timeout(),
                    Some(now),
                    "{ctx}: the deadline is not at {}",
                    step.at
                );
                inst.handle_timeout(now);
            }
            Value::Object(o) if o.contains_key("advert") => {
                let a: AdvertIn = serde_json::from_value(o["advert"].clone()).expect("advert");
                let interval = a.interval.as_deref().map_or(cfg.advert_interval, dur);
                let advert = Advert {
                    version: a.version.map_or(cfg.version, version),
                    vrid: a.vrid.unwrap_or(cfg.vrid),
                    priority: a.priority,
                    interval_cs: centis(interval),
                    addresses: a.addresses.unwrap_or_else(|| cfg.addresses.clone()),
                    auth: match (&a.password, &cfg.auth) {
                        (Some(p), _) => Auth::pass(p),
                        (None, auth) => auth.clone(),
                    },
                };
                match inst.handle_advert(now, a.from, &advert) {
                    Err(reason) => got.push(format!("discard {reason}")),
                    Ok(acc) if acc.address_mismatch => got.push("accepted address_mismatch".into()),
                    Ok(_) => {}
                }
            }
            Value::Object(o) if o.contains_key("adjust") => {
                inst.handle_priority_adjustment(now, o["adjust"].as_i64().expect("adjust") as i32)
            }
            Value::Object(o) if o.contains_key("link") => inst.handle_link(now, o["link"] == "up"),
            Value::Object(o) if o.contains_key("group") => {
                let g = &o["group"];
                let input = GroupInput {
                    fault: g["fault"].as_bool().expect("group.fault"),
                    adjustment: g["adjustment"].as_i64().map(|a| a as i32),
                };
                inst.handle_group(now, input)
            }
            Value::Object(o) if o.contains_key("tracker_fault") => {
                inst.handle_tracker_fault(now, o["tracker_fault"].as_bool().expect("bool"))
            }
            other => panic!("{ctx}: unknown input {other}"),
        }
        while let Some(action) = inst.poll_action() {
            got.push(action.to_string());
        }
        assert_eq!(got, step.expect, "{ctx}: actions");
        assert_eq!(
            inst.poll_timeout(),
            step.next_timeout.as_deref().map(dur),
            "{ctx}: next deadline"
        );
        if let Some(want) = &step.view {
            let v = inst.view();
            let got = ViewOut {
                own_fault: v.own_fault,
                adjustment: v.adjustment,
            };
            assert_eq!(&got, want, "{ctx}: view");
        }
    }
}

macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { run(concat!(stringify!($name), ".jsonl")); } )*
        const LISTED: &[&str] = &[$(concat!(stringify!($name), ".jsonl")),*];
    };
}

/// A step must say what the deadline is: a missing `next_timeout` is an error, `null` is an
/// assertion that no deadline is armed.
#[test]
fn a_step_without_next_timeout_is_refused() {
    let missing = r#"{"at":"0s","input":"startup","expect":[]}"#;
    assert!(serde_json::from_str::<Step>(missing).is_err());
    let null = r#"{"at":"0s","input":"startup","expect":[],"next_timeout":null}"#;
    let step: Step = serde_json::from_str(null).expect("null is an assertion");
    assert_eq!(step.next_timeout, None);
    let given = r#"{"at":"0s","input":"startup","expect":[],"next_timeout":"1s"}"#;
    let step: Step = serde_json::from_str(given).expect("a duration");
    assert_eq!(step.next_timeout.as_deref(), Some("1s"));
}

/// A transcript file that is not listed below would never run.
#[test]
fn every_transcript_is_listed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/conformance")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

transcripts!(
    announce_schedule_after_takeover,
    extra_announce_at_most_once_a_second,
    vip_refresh_rides_on_adverts,
    unicast_peers_and_interval_bound,
    startup_backup_then_master_down,
    owner_takes_over_at_once,
    backup_resets_timer_on_advert,
    v3_backup_adopts_master_interval,
    master_left_backup_waits_skew_only,
    master_steps_down_for_higher_priority,
    equal_priority_higher_address_wins,
    master_answers_priority_zero,
    preempt_discards_lower_master,
    nopreempt_keeps_lower_master,
    preempt_delay_tolerates_then_preempts,
    v2_receive_checks,
    v3_receive_checks,
    shutdown_hands_over_on_successor_advert,
    shutdown_handover_is_bounded,
    link_down_faults_and_recovers,
    tracker_fault_sends_priority_zero,
    tracker_fault_handover_is_bounded,
    tracker_fault_cleared_during_handover,
    tracker_weights_change_advertised_priority,
    v3_centisecond_timing,
    v2_whole_second_timing,
    release_removes_at_once,
    join_skew_orders_cold_starts,
    backup_shuts_down_at_once,
    leftover_dropped_when_a_master_is_heard,
    leftover_adopted_when_this_node_wins,
    leftover_dropped_on_fault_and_shutdown,
    startup_delay_waits_before_joining,
    startup_delay_counts_from_process_start,
    startup_delay_drops_leftover,
    link_debounce_absorbs_a_blip,
    link_debounce_faults_after_a_lasting_outage,
    sync_group_fault_follows,
    sync_group_lowest_adjustment_applies,
    sync_group_reports_own_faults_and_adjustment,
);
