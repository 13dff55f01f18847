//! The trackers of one instance: one prober task per tracker, and one task that runs their
//! results through the pure core ([`super::hysteresis`]), keeps `/status` and the metrics
//! current, logs each tracker's transitions once, and sends the instance's driver a
//! the combined (adjustment, fault) to its instance ([`ReportTo`]) whenever it changes.
//!
//! Process, file and interface trackers are read once before the instance starts, so it starts
//! with their real state; a script tracker starts pending (keepalived's default state: no
//! weight until the first result, and a pending weight-0 script holds the instance in Fault).

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::hysteresis::{Contribution, Health, TrackerCore, combine, passes};
use super::script::ScriptProbe;
use super::{Observation, file, interface, process};
use crate::metrics::Metrics;
use crate::net::netlink::{Link, Netlink};
use crate::status::{StatusStore, TrackerStatus};
use crate::translate::{TrackerConfig, TrackerKind};

/// What trackers use from the agent.
#[derive(Clone, Debug)]
pub struct TrackerEnv {
    /// Reads the initial state of tracked interfaces.
    pub netlink: Netlink,
    /// Link events.
    pub links: broadcast::Sender<Link>,
    /// Tracker metrics.
    pub metrics: Metrics,
    /// Tracker status on `/status`.
    pub status: StatusStore,
    /// The node's pods, when the agent runs in Kubernetes (pods trackers need it).
    pub pods: Option<tokio::sync::watch::Receiver<super::pods::PodsView>>,
}

/// Why an instance's trackers cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// Pods trackers follow the Kubernetes API; `kube-vrrp run` has none.
    #[error(
        "spec.trackers[{index}] ({name}): pods trackers need the Kubernetes agent; they are not available in standalone mode (kube-vrrp run)"
    )]
    PodsUnavailable {
        /// Position in `spec.trackers`.
        index: usize,
        /// Tracker name.
        name: String,
    },
}

/// Refuse tracker kinds this agent cannot run: pods without Kubernetes. The supervisor asks
/// before it starts an instance, so the instance shows why in its status.
pub fn check_supported(trackers: &[TrackerConfig], pods_available: bool) -> Result<(), TrackError> {
    if pods_available {
        return Ok(());
    }
    match trackers
        .iter()
        .position(|t| matches!(t.kind, TrackerKind::Pods(_)))
    {
        Some(index) => Err(TrackError::PodsUnavailable {
            index,
            name: trackers[index].name.clone(),
        }),
        None => Ok(()),
    }
}

/// The running trackers of one instance; dropping it aborts them.
#[derive(Debug)]
pub struct TrackerSet {
    vip: String,
    names: Vec<String>,
    metrics: Metrics,
    tasks: Vec<JoinHandle<()>>,
}

/// Where a tracker set sends the combined state of its trackers: the instance's driver (the
/// agent implements it for the driver's channel, so trackers need not know the driver).
pub trait ReportTo: Send + 'static {
    /// Report a new combined state; false once the instance is gone.
    fn report(&self, c: Contribution) -> impl std::future::Future<Output = bool> + Send;
}

impl TrackerSet {
    /// Start the trackers of instance `vip`; returns the set and the combined state to start
    /// the instance with. Later changes go to `driver`. The supervisor has asked
    /// [`check_supported`] first: a pods tracker without the node's pods (standalone mode) is
    /// refused there, once.
    pub async fn start(
        vip: &str,
        trackers: &[TrackerConfig],
        env: &TrackerEnv,
        driver: impl ReportTo,
    ) -> Result<(TrackerSet, Contribution), TrackError> {
        let mut set = TrackerSet {
            vip: vip.to_string(),
            names: trackers.iter().map(|t| t.name.clone()).collect(),
            metrics: env.metrics.clone(),
            tasks: Vec::new(),
        };
        if trackers.is_empty() {
            // A restarted instance may have had trackers before.
            env.status.update(vip, |s| s.trackers.clear());
            return Ok((set, Contribution::default()));
        }
        let mut agg = Aggregator::new(vip, trackers, env.metrics.clone(), env.status.clone());
        let (tx, mut rx) = mpsc::channel(64);
        for (i, t) in trackers.iter().enumerate() {
            let task = match &t.kind {
                TrackerKind::Script(s) => tokio::spawn(ScriptProbe::new(s).run(i, tx.clone())),
                TrackerKind::Process(p) => {
                    agg.apply(i, process::check(p));
                    tokio::spawn(process::run(p.clone(), i, tx.clone()))
                }
                TrackerKind::File(f) => {
                    agg.apply(i, file::check(&f.path));
                    tokio::spawn(file::run(f.path.clone(), f.interval, i, tx.clone()))
                }
                TrackerKind::Interface(n) => {
                    let events = env.links.subscribe();
                    agg.apply(i, interface::check(&env.netlink, &n.name).await);
                    let netlink = env.netlink.clone();
                    tokio::spawn(interface::run(
                        n.name.clone(),
                        events,
                        netlink,
                        i,
                        tx.clone(),
                    ))
                }
                TrackerKind::Http(h) => match super::http::HttpProbe::new(h) {
                    Ok(probe) => tokio::spawn(probe.run(i, tx.clone())),
                    Err(e) => {
                        // A CA or client-certificate file that cannot be used: the tracker is
                        // down and shows why; the instance and its other trackers run on.
                        agg.apply(i, Observation::broken(e.to_string()));
                        continue;
                    }
                },
                TrackerKind::Pods(p) => {
                    let Some(view) = &env.pods else {
                        // The supervisor refuses the instance before this ([`check_supported`]);
                        // should one get here anyway, the tracker is down and says why.
                        let refused = TrackError::PodsUnavailable {
                            index: i,
                            name: t.name.clone(),
                        };
                        agg.apply(i, Observation::broken(refused.to_string()));
                        continue;
                    };
                    agg.apply(i, super::pods::reading(p, &view.borrow()));
                    tokio::spawn(super::pods::run(p.clone(), view.clone(), i, tx.clone()))
                }
            };
            set.tasks.push(task);
        }
        drop(tx);
        agg.publish();
        let initial = agg.combined;
        set.tasks.push(tokio::spawn(async move {
            while let Some((i, observation)) = rx.recv().await {
                if let Some(c) = agg.apply(i, observation)
                    && !driver.report(c).await
                {
                    return; // the instance is gone
                }
            }
        }));
        Ok((set, initial))
    }

    /// Stop every tracker (killing a running script's process group) and wait until they
    /// have stopped, so none reports afterwards; forget their metrics.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        for name in &self.names {
            self.metrics.remove_tracker(&self.vip, name);
        }
    }
}

impl Drop for TrackerSet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One tracker as the aggregator keeps it.
struct Entry {
    name: String,
    kind: &'static str,
    core: TrackerCore,
    last: String,
    error: Option<String>,
    checks: u64,
    failures: u64,
}

/// The results of every tracker of one instance, and their combination.
struct Aggregator {
    vip: String,
    entries: Vec<Entry>,
    combined: Contribution,
    metrics: Metrics,
    status: StatusStore,
}

impl Aggregator {
    fn new(
        vip: &str,
        trackers: &[TrackerConfig],
        metrics: Metrics,
        status: StatusStore,
    ) -> Aggregator {
        let entries: Vec<Entry> = trackers
            .iter()
            .map(|t| {
                let (rise, fall) = t.kind.rise_fall();
                Entry {
                    name: t.name.clone(),
                    kind: t.kind.label(),
                    core: TrackerCore::new(t.weight, rise, fall),
                    last: "pending".into(),
                    error: None,
                    checks: 0,
                    failures: 0,
                }
            })
            .collect();
        for e in &entries {
            let labels = [vip, e.name.as_str()];
            metrics.tracker_up.with_label_values(&labels).set(0);
            metrics.tracker_checks.with_label_values(&labels);
            metrics.tracker_failures.with_label_values(&labels);
        }
        let combined = combine(entries.iter().map(|e| e.core.contribution()));
        Aggregator {
            vip: vip.to_string(),
            entries,
            combined,
            metrics,
            status,
        }
    }

    /// Take one result in: counters, metrics, status and logs. Returns the combined
    /// contribution when it changed.
    fn apply(&mut self, index: usize, o: Observation) -> Option<Contribution> {
        let vip = self.vip.as_str();
        let e = self.entries.get_mut(index)?;
        let labels = [vip, e.name.as_str()];
        e.checks += 1;
        self.metrics.tracker_checks.with_label_values(&labels).inc();
        if !passes(o.reading, e.core.weight()) {
            e.failures += 1;
            self.metrics
                .tracker_failures
                .with_label_values(&labels)
                .inc();
        }
        if o.broken && e.error.as_deref() != Some(o.detail.as_str()) {
            tracing::warn!(vip, tracker = %e.name, kind = e.kind, error = %o.detail,
                "tracker cannot run its check; it counts as down");
        }
        e.error = o.broken.then(|| o.detail.clone());
        let changed = e.core.observe(o.reading);
        e.last = o.detail;
        let up = e.core.health() == Health::Up;
        self.metrics
            .tracker_up
            .with_label_values(&labels)
            .set(i64::from(up));
        if changed {
            let c = e.core.contribution();
            tracing::info!(vip, tracker = %e.name, kind = e.kind, up, result = %e.last,
                applied = c.adjustment, fault = c.fault, "tracker changed");
        }
        self.publish();
        let combined = combine(self.entries.iter().map(|e| e.core.contribution()));
        if combined == self.combined {
            return None;
        }
        self.combined = combined;
        Some(combined)
    }

    /// Write every tracker's state into the instance's status.
    fn publish(&self) {
        let list: Vec<TrackerStatus> = self
            .entries
            .iter()
            .map(|e| {
                let c = e.core.contribution();
                TrackerStatus {
                    name: e.name.clone(),
                    kind: e.kind.to_string(),
                    up: e.core.health() == Health::Up,
                    last_result: e.last.clone(),
                    weight: e.core.weight(),
                    applied: c.adjustment,
                    fault: c.fault,
                    checks: e.checks,
                    failures: e.failures,
                    error: e.error.clone(),
                }
            })
            .collect();
        self.status.update(&self.vip, |s| s.trackers = list);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::translate::tracker::{FileConfig, InterfaceConfig, PodsConfig, ScriptConfig};

    fn tracker(name: &str, weight: i32, kind: TrackerKind) -> TrackerConfig {
        TrackerConfig {
            name: name.into(),
            weight,
            kind,
        }
    }

    fn file(name: &str, weight: i32) -> TrackerConfig {
        tracker(
            name,
            weight,
            TrackerKind::File(FileConfig {
                path: PathBuf::from("/x"),
                interval: Duration::from_secs(1),
            }),
        )
    }

    #[test]
    fn aggregator_combines_publishes_and_counts() {
        use crate::track::Reading::*;
        let check = tracker(
            "check",
            0,
            TrackerKind::Script(ScriptConfig {
                argv: vec!["/bin/true".into()],
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                rise: 1,
                fall: 2,
            }),
        );
        let bonus = file("bonus", 10);
        let uplink = tracker(
            "uplink",
            -20,
            TrackerKind::Interface(InterfaceConfig {
                name: "ens9".into(),
            }),
        );
        let (metrics, status) = (Metrics::new(), StatusStore::default());
        let mut agg = Aggregator::new(
            "web",
            &[check, bonus, uplink],
            metrics.clone(),
            status.clone(),
        );
        let c = |adjustment, fault| Some(Contribution { adjustment, fault });
        // A pending weight-0 script holds Fault.
        assert_eq!(
            agg.combined,
            Contribution {
                adjustment: 0,
                fault: true
            }
        );
        let obs = |r, d: &str| Observation::new(r, d.into());
        assert_eq!(agg.apply(0, obs(Pass, "exit 0")), c(0, false));
        assert_eq!(agg.apply(1, obs(Value(2), "value 2")), c(20, false));
        assert_eq!(agg.apply(2, obs(Fail, "link down")), c(0, false));
        assert_eq!(agg.apply(2, obs(Pass, "link up")), c(20, false));
        // fall 2: the first failure changes nothing, the second faults.
        assert_eq!(agg.apply(0, obs(Fail, "exit 1")), None);
        assert_eq!(
            agg.apply(0, Observation::broken("cannot run".into())),
            c(20, true)
        );
        let st = status.snapshot();
        let t = &st[0].trackers;
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].up, t[0].fault, t[0].checks, t[0].failures),
            (false, true, 3, 2)
        );
        assert_eq!(
            (t[0].last_result.as_str(), t[0].error.as_deref()),
            ("cannot run", Some("cannot run"))
        );
        assert_eq!(
            (t[1].kind.as_str(), t[1].applied, t[1].weight),
            ("file", 20, 10)
        );
        assert_eq!(
            (t[2].up, t[2].applied, t[2].last_result.as_str()),
            (true, 0, "link up")
        );
        let text = metrics.render(&[]);
        assert!(
            text.contains("kube_vrrp_tracker_failures_total{tracker=\"check\",vip=\"web\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kube_vrrp_tracker_up{tracker=\"uplink\",vip=\"web\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kube_vrrp_tracker_checks_total{tracker=\"uplink\",vip=\"web\"} 2"),
            "{text}"
        );
        metrics.remove_tracker("web", "check");
        assert!(!metrics.render(&[]).contains("tracker=\"check\""));
    }

    /// An http tracker's rise and fall are counted exactly: fall 3 needs three failures in a
    /// row, rise 2 two successes; its kind shows as "http".
    #[test]
    fn http_rise_and_fall_are_exact() {
        use crate::track::Reading::*;
        let spec: crate::spec::Tracker = serde_saphyr::from_str(
            "{name: api, weight: -50, http: {url: \"https://127.0.0.1:6443/readyz\", interval: 200ms, rise: 2, fall: 3}}",
        )
        .unwrap();
        let api = crate::translate::tracker::parse_one(&spec).unwrap();
        let status = StatusStore::default();
        let mut agg = Aggregator::new("cp", &[api], Metrics::new(), status.clone());
        let c = |adjustment| {
            Some(Contribution {
                adjustment,
                fault: false,
            })
        };
        let obs = |r, d: &str| Observation::new(r, d.into());
        assert_eq!(agg.apply(0, obs(Pass, "status 200")), None); // pending -> up: no change
        assert_eq!(agg.apply(0, obs(Fail, "status 500")), None);
        assert_eq!(agg.apply(0, obs(Fail, "timeout after 200ms")), None);
        assert_eq!(agg.apply(0, obs(Pass, "status 200")), None); // the run is broken
        assert_eq!(agg.apply(0, obs(Fail, "status 500")), None);
        assert_eq!(agg.apply(0, obs(Fail, "status 500")), None);
        assert_eq!(
            agg.apply(0, obs(Fail, "TLS: invalid peer certificate")),
            c(-50)
        );
        assert_eq!(agg.apply(0, obs(Pass, "status 200")), None);
        assert_eq!(agg.apply(0, obs(Pass, "status 200")), c(0));
        assert_eq!(status.snapshot()[0].trackers[0].kind, "http");
    }

    #[test]
    fn pods_are_refused_here() {
        let pods = tracker(
            "backend",
            0,
            TrackerKind::Pods(PodsConfig {
                namespace: "web".into(),
                selector: Default::default(),
            }),
        );
        let f = file("app", 0);
        assert!(check_supported(std::slice::from_ref(&f), false).is_ok());
        let e = check_supported(&[f, pods], false).unwrap_err();
        assert!(
            matches!(&e, TrackError::PodsUnavailable { index: 1, name } if name == "backend"),
            "{e}"
        );
    }
}
