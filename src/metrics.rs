//! Prometheus metrics of the agent. Names follow Prometheus conventions: a `kube_vrrp_` prefix,
//! `_total` for counters, base units (seconds).

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::vrrp::{Discard, State};

/// Every metric the agent exports.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// 1 for the instance's current state, 0 for the others (a state set).
    pub state: IntGaugeVec,
    /// Effective priority (base + tracker weights).
    pub priority: IntGaugeVec,
    /// Transitions by new state and reason.
    pub transitions: IntCounterVec,
    /// Adverts sent.
    pub adverts_sent: IntCounterVec,
    /// Adverts accepted.
    pub adverts_received: IntCounterVec,
    /// Packets dropped, by reason.
    pub discards: IntCounterVec,
    /// VRRPv3 IPv4 adverts accepted whose checksum left out the pseudo-header (RFC 9568).
    pub checksum_without_pseudo_header: IntCounterVec,
    /// Accepted adverts whose address list differs from ours.
    pub address_mismatches: IntCounterVec,
    /// Unix time the current state was entered.
    pub state_since: IntGaugeVec,
    /// Errors carrying out actions (send, address changes), by action.
    pub action_errors: IntCounterVec,
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
            state: gauge(
                "kube_vrrp_state",
                "1 for the VRRP state the instance is in, 0 for the others.",
                &["vip", "vrid", "state"],
            ),
            priority: gauge(
                "kube_vrrp_priority",
                "Effective priority: base priority adjusted by tracker weights.",
                &["vip", "vrid"],
            ),
            transitions: counter(
                "kube_vrrp_transitions_total",
                "State transitions, by new state and reason.",
                &["vip", "vrid", "to", "reason"],
            ),
            adverts_sent: counter(
                "kube_vrrp_adverts_sent_total",
                "VRRP advertisements sent.",
                &["vip", "vrid"],
            ),
            adverts_received: counter(
                "kube_vrrp_adverts_received_total",
                "VRRP advertisements received and accepted.",
                &["vip", "vrid"],
            ),
            discards: counter(
                "kube_vrrp_discards_total",
                "Received VRRP packets dropped, by interface and reason.",
                &["interface", "reason"],
            ),
            checksum_without_pseudo_header: counter(
                "kube_vrrp_checksum_without_pseudo_header_total",
                "VRRPv3 IPv4 adverts accepted whose checksum was computed without the IP pseudo-header (RFC 9568 §5.2.8; keepalived's v3_checksum_as_v2), by interface.",
                &["interface"],
            ),
            address_mismatches: counter(
                "kube_vrrp_address_mismatch_total",
                "Accepted advertisements whose address list differs from the configured one.",
                &["vip", "vrid"],
            ),
            state_since: gauge(
                "kube_vrrp_state_since_timestamp_seconds",
                "Unix time at which the instance entered its current state.",
                &["vip", "vrid"],
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
            action_errors: counter(
                "kube_vrrp_action_errors_total",
                "Failures carrying out an action (send, address change, announcement).",
                &["vip", "vrid", "action"],
            ),
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

    /// Record the state of an instance.
    pub fn set_state(&self, vip: &str, vrid: u8, state: State) {
        let vrid = vrid.to_string();
        for s in STATES {
            self.state
                .with_label_values(&[vip, &vrid, &s.to_string()])
                .set(i64::from(s == state));
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

    /// Forget an instance that was removed.
    pub fn remove_instance(&self, vip: &str, vrid: u8) {
        let vrid = vrid.to_string();
        for s in STATES {
            let _ = self
                .state
                .remove_label_values(&[vip, &vrid, &s.to_string()]);
        }
        let _ = self.priority.remove_label_values(&[vip, &vrid]);
        let _ = self.state_since.remove_label_values(&[vip, &vrid]);
    }

    /// Forget a tracker whose instance stopped.
    pub fn remove_tracker(&self, vip: &str, tracker: &str) {
        let _ = self.tracker_up.remove_label_values(&[vip, tracker]);
        let _ = self.tracker_checks.remove_label_values(&[vip, tracker]);
        let _ = self.tracker_failures.remove_label_values(&[vip, tracker]);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn state_is_a_state_set_and_each_readme_metric_renders() {
        let m = Metrics::new();
        m.set_state("web", 51, State::Backup);
        m.set_state("web", 51, State::Master);
        m.transitions
            .with_label_values(&["web", "51", "Master", "MasterDown"])
            .inc();
        m.adverts_received
            .with_label_values(&["web", "51"])
            .inc_by(3);
        m.address_mismatches.with_label_values(&["web", "51"]).inc();
        m.state_since
            .with_label_values(&["web", "51"])
            .set(1_800_000_000);
        m.action_errors
            .with_label_values(&["web", "51", "send"])
            .inc_by(2);
        m.init_discards("eth0");
        let text = m.render();
        let v = r#"vip="web",vrid="51""#;
        for (series, value) in [
            (format!(r#"kube_vrrp_state{{state="Master",{v}}}"#), "1"),
            (format!(r#"kube_vrrp_state{{state="Backup",{v}}}"#), "0"),
            (format!(r#"kube_vrrp_state{{state="Fault",{v}}}"#), "0"),
            (
                format!(r#"kube_vrrp_transitions_total{{reason="MasterDown",to="Master",{v}}}"#),
                "1",
            ),
            (format!("kube_vrrp_adverts_received_total{{{v}}}"), "3"),
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
        ] {
            assert_eq!(line(&text, &series), Some(value), "{series} in\n{text}");
        }
    }

    #[test]
    fn a_removed_instance_leaves_no_state_priority_or_since() {
        let m = Metrics::new();
        m.set_state("web", 51, State::Master);
        m.priority.with_label_values(&["web", "51"]).set(150);
        m.state_since.with_label_values(&["web", "51"]).set(1);
        m.remove_instance("web", 51);
        let text = m.render();
        assert!(!text.contains(r#"vip="web""#), "{text}");
    }
}
