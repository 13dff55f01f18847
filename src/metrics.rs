//! Prometheus metrics of the agent. Names follow Prometheus conventions: a `kube_vrrp_` prefix,
//! `_total` for counters, base units (seconds).

use std::time::UNIX_EPOCH;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::status::{InstanceStatus, ReportedState};
use crate::vrrp::{Discard, State};

/// The metrics the agent keeps in a registry: per interface, per tracker, per hook, and the API
/// writes. The per-instance series (state, priority, transitions, adverts, mismatches, action
/// errors, discards) are not kept here: [`Metrics::render`] draws them from the instances'
/// status, the one place they are counted, so `/status` and `/metrics` show the same numbers
/// and an instance that is removed from the status leaves no series behind.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Packets dropped before they reached an instance, by interface and reason (the rendered
    /// `kube_vrrp_discards_total` adds the instances' own discards on that interface).
    pub discards: IntCounterVec,
    /// VRRPv3 IPv4 adverts accepted whose checksum left out the pseudo-header (RFC 9568).
    pub checksum_without_pseudo_header: IntCounterVec,
    /// Writes to the Kubernetes API (status patches and events).
    pub api_writes: IntCounter,
    /// 1 while a tracker is up.
    pub tracker_up: IntGaugeVec,
    /// Tracker checks run.
    pub tracker_checks: IntCounterVec,
    /// Tracker checks that failed.
    pub tracker_failures: IntCounterVec,
    /// Notify hooks run.
    pub notify_runs: IntCounterVec,
    /// Notify hooks that failed, by reason.
    pub notify_failures: IntCounterVec,
}

const STATES: [State; 4] = [
    State::Initialize,
    State::Backup,
    State::Master,
    State::Fault,
];

/// The discards family's name.
const DISCARDS: &str = "kube_vrrp_discards_total";

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g =
                IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric name");
            g
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("static metric definition");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric name");
            c
        };
        Metrics {
            discards: counter(
                DISCARDS,
                "Received VRRP packets dropped, by interface and reason.",
                &["interface", "reason"],
            ),
            checksum_without_pseudo_header: counter(
                "kube_vrrp_checksum_without_pseudo_header_total",
                "VRRPv3 IPv4 adverts accepted whose checksum was computed without the IP pseudo-header (RFC 9568 §5.2.8; keepalived's v3_checksum_as_v2), by interface.",
                &["interface"],
            ),
            api_writes: {
                let c = IntCounter::new(
                    "kube_vrrp_api_writes_total",
                    "Writes to the Kubernetes API: status patches and events.",
                )
                .expect("static metric definition");
                registry
                    .register(Box::new(c.clone()))
                    .expect("unique metric name");
                c
            },
            tracker_up: gauge(
                "kube_vrrp_tracker_up",
                "1 while the health tracker is up, 0 while it is down or has no result yet.",
                &["vip", "tracker"],
            ),
            tracker_checks: counter(
                "kube_vrrp_tracker_checks_total",
                "Health tracker checks run (link events seen, for an interface tracker).",
                &["vip", "tracker"],
            ),
            tracker_failures: counter(
                "kube_vrrp_tracker_failures_total",
                "Health tracker checks that failed.",
                &["vip", "tracker"],
            ),
            notify_runs: counter(
                "kube_vrrp_notify_runs_total",
                "Notify hooks run, by hook (master, backup, fault, stop).",
                &["vip", "hook"],
            ),
            notify_failures: counter(
                "kube_vrrp_notify_failures_total",
                "Notify hooks that failed (failed: exit status, signal or timeout; cannot_run; queue_full: not run).",
                &["vip", "hook", "reason"],
            ),
            registry,
        }
    }

    /// Pre-register the discard reasons of an interface, so they read 0 rather than absent.
    pub fn init_discards(&self, interface: &str) {
        for reason in Discard::ALL {
            self.discards
                .with_label_values(&[interface, reason.as_str()]);
        }
        self.checksum_without_pseudo_header
            .with_label_values(&[interface]);
    }

    /// Forget a tracker whose instance stopped.
    pub fn remove_tracker(&self, vip: &str, tracker: &str) {
        let _ = self.tracker_up.remove_label_values(&[vip, tracker]);
        let _ = self.tracker_checks.remove_label_values(&[vip, tracker]);
        let _ = self.tracker_failures.remove_label_values(&[vip, tracker]);
    }

    /// The text exposition format: the registry's metrics and the per-instance series of
    /// `instances` (their status).
    pub fn render(&self, instances: &[InstanceStatus]) -> String {
        let mut families = self.registry.gather();
        for f in &mut families {
            if f.name() == DISCARDS {
                add_instance_discards(f, instances);
            }
        }
        families.extend(instance_families(instances));
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Add each instance's discards to its interface's series of the same reason.
fn add_instance_discards(family: &mut MetricFamily, instances: &[InstanceStatus]) {
    for m in family.mut_metric().iter_mut() {
        let label = |name: &str| {
            m.get_label()
                .iter()
                .find(|l| l.name() == name)
                .map(|l| l.value().to_string())
                .unwrap_or_default()
        };
        let (interface, reason) = (label("interface"), label("reason"));
        let extra: u64 = instances
            .iter()
            .filter(|i| i.interface == interface)
            .filter_map(|i| i.counters.discards.get(&reason))
            .sum();
        if extra > 0 {
            let mut c = Counter::default();
            c.set_value(m.get_counter().value() + extra as f64);
            m.set_counter(c);
        }
    }
}

/// One series: its labels (sorted by name, as the registry's are) and value.
struct Series {
    labels: Vec<(&'static str, String)>,
    value: f64,
}

/// The per-instance families, drawn from the status.
fn instance_families(instances: &[InstanceStatus]) -> Vec<MetricFamily> {
    let running = || instances.iter().filter(|i| i.state != ReportedState::Error);
    let id = |i: &InstanceStatus| vec![("vip", i.name.clone()), ("vrid", i.vrid.to_string())];
    let per = |f: &dyn Fn(&InstanceStatus) -> f64| -> Vec<Series> {
        running()
            .map(|i| Series {
                labels: id(i),
                value: f(i),
            })
            .collect()
    };
    let mut state = Vec::new();
    let mut transitions = Vec::new();
    let mut action_errors = Vec::new();
    for i in running() {
        for s in STATES {
            let mut labels = vec![("state", s.to_string())];
            labels.extend(id(i));
            let on = ReportedState::from(s) == i.state;
            state.push(Series {
                labels,
                value: if on { 1.0 } else { 0.0 },
            });
        }
        for (to, reason, n) in &i.transitions_by {
            let mut labels = vec![("reason", reason.to_string()), ("to", to.to_string())];
            labels.extend(id(i));
            transitions.push(Series {
                labels,
                value: *n as f64,
            });
        }
        for (action, n) in &i.counters.action_errors {
            let mut labels = vec![("action", action.as_str().to_string())];
            labels.extend(id(i));
            action_errors.push(Series {
                labels,
                value: *n as f64,
            });
        }
    }
    let unix = |i: &InstanceStatus| {
        i.since_time
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs() as f64)
    };
    vec![
        family(
            "kube_vrrp_state",
            "1 for the VRRP state the instance is in, 0 for the others.",
            MetricType::GAUGE,
            state,
        ),
        family(
            "kube_vrrp_priority",
            "Effective priority: base priority adjusted by tracker weights.",
            MetricType::GAUGE,
            per(&|i| f64::from(i.priority)),
        ),
        family(
            "kube_vrrp_transitions_total",
            "State transitions, by new state and reason.",
            MetricType::COUNTER,
            transitions,
        ),
        family(
            "kube_vrrp_adverts_sent_total",
            "VRRP advertisements sent.",
            MetricType::COUNTER,
            per(&|i| i.counters.adverts_sent as f64),
        ),
        family(
            "kube_vrrp_adverts_received_total",
            "VRRP advertisements received and accepted.",
            MetricType::COUNTER,
            per(&|i| i.counters.adverts_received as f64),
        ),
        family(
            "kube_vrrp_address_mismatch_total",
            "Accepted advertisements whose address list differs from the configured one.",
            MetricType::COUNTER,
            per(&|i| i.counters.address_mismatches as f64),
        ),
        family(
            "kube_vrrp_state_since_timestamp_seconds",
            "Unix time at which the instance entered its current state.",
            MetricType::GAUGE,
            per(&unix),
        ),
        family(
            "kube_vrrp_action_errors_total",
            "Failures carrying out an action (send, address change, announcement).",
            MetricType::COUNTER,
            action_errors,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A family of `series`; none when there are none (as a label-less vector renders nothing).
fn family(name: &str, help: &str, kind: MetricType, series: Vec<Series>) -> Option<MetricFamily> {
    if series.is_empty() {
        return None;
    }
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    let metrics = series
        .into_iter()
        .map(|s| {
            let mut m = Metric::default();
            m.set_label(
                s.labels
                    .into_iter()
                    .map(|(n, v)| {
                        let mut l = LabelPair::default();
                        l.set_name(n.to_string());
                        l.set_value(v);
                        l
                    })
                    .collect(),
            );
            if kind == MetricType::COUNTER {
                let mut c = Counter::default();
                c.set_value(s.value);
                m.set_counter(c);
            } else {
                let mut g = Gauge::default();
                g.set_value(s.value);
                m.set_gauge(g);
            }
            m
        })
        .collect();
    f.set_metric(metrics);
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::FailedAction;
    use crate::vrrp::TransitionReason;

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    fn web() -> InstanceStatus {
        let mut i = InstanceStatus {
            name: "web".into(),
            vrid: 51,
            interface: "eth0".into(),
            state: ReportedState::Master,
            priority: 150,
            since_time: Some(UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)),
            transitions_by: vec![(State::Master, TransitionReason::MasterDown, 1)],
            ..Default::default()
        };
        i.counters.adverts_received = 3;
        i.counters.address_mismatches = 1;
        i.counters.action_errors.insert(FailedAction::Send, 2);
        i.counters.discards.insert("auth_mismatch".into(), 4);
        i
    }

    #[test]
    fn state_is_a_state_set_and_each_readme_metric_renders() {
        let m = Metrics::new();
        m.init_discards("eth0");
        m.discards
            .with_label_values(&["eth0", "auth_mismatch"])
            .inc();
        let text = m.render(&[web()]);
        let v = r#"vip="web",vrid="51""#;
        for (series, value) in [
            (format!(r#"kube_vrrp_state{{state="Master",{v}}}"#), "1"),
            (format!(r#"kube_vrrp_state{{state="Backup",{v}}}"#), "0"),
            (format!(r#"kube_vrrp_state{{state="Fault",{v}}}"#), "0"),
            (format!("kube_vrrp_priority{{{v}}}"), "150"),
            (
                format!(r#"kube_vrrp_transitions_total{{reason="MasterDown",to="Master",{v}}}"#),
                "1",
            ),
            (format!("kube_vrrp_adverts_received_total{{{v}}}"), "3"),
            (format!("kube_vrrp_adverts_sent_total{{{v}}}"), "0"),
            (format!("kube_vrrp_address_mismatch_total{{{v}}}"), "1"),
            (
                format!("kube_vrrp_state_since_timestamp_seconds{{{v}}}"),
                "1800000000",
            ),
            (
                format!(r#"kube_vrrp_action_errors_total{{action="send",{v}}}"#),
                "2",
            ),
            (
                r#"kube_vrrp_discards_total{interface="eth0",reason="bad_checksum"}"#.into(),
                "0",
            ),
            // The listener's one and the instance's four: the same counters /status shows.
            (
                r#"kube_vrrp_discards_total{interface="eth0",reason="auth_mismatch"}"#.into(),
                "5",
            ),
        ] {
            assert_eq!(line(&text, &series), Some(value), "{series} in\n{text}");
        }
        assert!(
            text.contains("# TYPE kube_vrrp_transitions_total counter"),
            "{text}"
        );
        assert!(text.contains("# TYPE kube_vrrp_state gauge"), "{text}");
    }

    #[test]
    fn a_removed_instance_leaves_no_series() {
        let m = Metrics::new();
        m.init_discards("eth0");
        assert!(m.render(&[web()]).contains(r#"vip="web""#));
        let text = m.render(&[]);
        assert!(!text.contains(r#"vip="web""#), "{text}");
        assert!(
            text.contains(r#"kube_vrrp_discards_total{interface="eth0",reason="auth_mismatch"} 0"#),
            "{text}"
        );
    }

    #[test]
    fn an_instance_that_cannot_run_has_no_state_series() {
        let mut i = web();
        i.state = ReportedState::Error;
        let text = Metrics::new().render(&[i]);
        assert!(!text.contains("kube_vrrp_state{"), "{text}");
    }
}
