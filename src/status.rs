//! What the agent shows about its instances on `/status`, `/metrics` (see
//! [`crate::metrics::Metrics::render`]), `kube-vrrp status` and the VirtualIP status: typed
//! states, reasons and errors, on the ground floor (it imports only the protocol core).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::vrrp::{State, TransitionReason};

/// One instance as reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    /// VirtualIP name.
    pub name: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Interface.
    pub interface: String,
    /// VRRP version.
    pub version: u8,
    /// Addresses.
    pub addresses: Vec<String>,
    /// Current state (Initialize, Backup, Master, Fault), or Error when it could not start.
    pub state: ReportedState,
    /// Why the last transition happened (none before the first).
    #[serde(default)]
    pub reason: Option<TransitionReason>,
    /// Effective priority.
    pub priority: u8,
    /// Configured base priority.
    pub base_priority: u8,
    /// Address of the current master, when known.
    pub master: Option<String>,
    /// When the state was entered (RFC 3339, UTC).
    pub since: String,
    /// Error that keeps the instance from running, if any.
    pub error: Option<String>,
    /// What kind of error that is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// A foreign router seen on the wire with this VRID and other addresses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// Counters.
    pub counters: Counters,
    /// Health trackers, in spec order.
    #[serde(default)]
    pub trackers: Vec<TrackerStatus>,
    /// Transitions by new state and reason: `counters.transitions` broken down, for the
    /// metric `kube_vrrp_transitions_total`.
    #[serde(skip)]
    pub transitions_by: Vec<(State, TransitionReason, u64)>,
    /// When the state was entered (`since` is its text), for the metric
    /// `kube_vrrp_state_since_timestamp_seconds`.
    #[serde(skip)]
    pub since_time: Option<SystemTime>,
}

/// One health tracker as reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackerStatus {
    /// Tracker name.
    pub name: String,
    /// script, process, file, interface or pods.
    pub kind: String,
    /// Up (false while down or before the first result).
    pub up: bool,
    /// What the last check found: "exit 1", "timeout after 5s", "3 processes", "value 7",
    /// "link down", or "pending".
    pub last_result: String,
    /// Configured weight.
    pub weight: i32,
    /// The priority adjustment it contributes now.
    pub applied: i32,
    /// It puts the instance in Fault now.
    pub fault: bool,
    /// Checks run (link events seen, for an interface).
    pub checks: u64,
    /// Checks that failed.
    pub failures: u64,
    /// Why the check cannot run at all (e.g. the script is not found), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What an instance reports as its state: one of the engine's states, or Error when the
/// instance cannot run on this node (the JSON and the API show the variant's name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportedState {
    /// Not started, or stopped.
    #[default]
    Initialize,
    /// Monitoring the master.
    Backup,
    /// Holding the virtual addresses.
    Master,
    /// Link down or a weight-0 tracker down.
    Fault,
    /// Cannot run here (see the error).
    Error,
}

impl From<State> for ReportedState {
    fn from(s: State) -> ReportedState {
        match s {
            State::Initialize => ReportedState::Initialize,
            State::Backup => ReportedState::Backup,
            State::Master => ReportedState::Master,
            State::Fault => ReportedState::Fault,
        }
    }
}

impl std::fmt::Display for ReportedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Why an instance cannot run on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Its VirtualIP does not translate for this node (validation, interface, Secret).
    Invalid,
    /// Another VirtualIP on the same interface and family already uses its VRID.
    VridInUse,
    /// The node cannot run it (no interface, no permission for raw sockets, ...).
    CannotStart,
    /// It has notify hooks, which only standalone mode runs (the Kubernetes agent refuses).
    HooksRefused,
}

/// The fields of an instance that the Kubernetes status and Events reflect. Counters are left
/// out, so that a steady state writes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reportable {
    /// State.
    pub state: ReportedState,
    /// Why the last transition happened.
    pub reason: Option<TransitionReason>,
    /// Effective priority.
    pub priority: u8,
    /// The master, when known.
    pub master: Option<String>,
    /// Why it cannot run.
    pub error: Option<String>,
    /// A foreign router with this VRID and other addresses.
    pub conflict: Option<String>,
    /// When the state was entered. Every transition is reported, even one back to the state
    /// last written: another node may have changed the shared fields (status.master) meanwhile.
    pub since: String,
}

impl InstanceStatus {
    /// The fields the Kubernetes status and events reflect.
    pub fn reportable(&self) -> Reportable {
        Reportable {
            state: self.state,
            reason: self.reason,
            priority: self.priority,
            master: self.master.clone(),
            error: self.error.clone(),
            conflict: self.conflict.clone(),
            since: self.since.clone(),
        }
    }

    /// The reason as shown in Events and the VirtualIP status: the transition's, or empty.
    pub fn reason_text(&self) -> String {
        self.reason.map(|r| r.to_string()).unwrap_or_default()
    }
}

/// Per-instance counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Adverts accepted.
    pub adverts_received: u64,
    /// Transitions.
    pub transitions: u64,
    /// Dropped packets by reason.
    pub discards: BTreeMap<String, u64>,
    /// Accepted adverts with a different address list.
    pub address_mismatches: u64,
    /// Failures carrying out an action on the host, by action.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub action_errors: BTreeMap<FailedAction, u64>,
}

/// An action the driver carries out on the host, which can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedAction {
    /// Sending an advert.
    Send,
    /// Encoding an advert.
    Encode,
    /// Installing a VIP or refreshing its lifetime.
    InstallVip,
    /// Removing a VIP.
    RemoveVip,
    /// Sending a gratuitous ARP / unsolicited NA.
    Announce,
    /// Bringing the virtual MAC interface up or down.
    Vmac,
}

impl FailedAction {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailedAction::Send => "send",
            FailedAction::Encode => "encode",
            FailedAction::InstallVip => "install_vip",
            FailedAction::RemoveVip => "remove_vip",
            FailedAction::Announce => "announce",
            FailedAction::Vmac => "vmac",
        }
    }
}

/// An instance's advert counters, which its driver bumps on every advert without taking the
/// store's lock (a lookup by name under a write lock, 255 times a second at 255 instances);
/// read into [`Counters`] by [`StatusStore::snapshot`].
#[derive(Debug, Default)]
pub struct AdvertCounters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl AdvertCounters {
    /// One advert sent.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// One advert accepted.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }
}

/// One instance in the store: its status and its lock-free advert counters.
#[derive(Debug)]
struct Entry {
    status: InstanceStatus,
    adverts: Arc<AdvertCounters>,
}

impl Entry {
    fn new(name: &str) -> Entry {
        Entry {
            status: InstanceStatus {
                name: name.to_string(),
                state: ReportedState::Initialize,
                since: crate::rfc3339::format(SystemTime::now()),
                ..Default::default()
            },
            adverts: Arc::default(),
        }
    }

    /// The status with the advert counters as they are now.
    fn read(&self) -> InstanceStatus {
        let mut s = self.status.clone();
        s.counters.adverts_sent += self.adverts.sent.load(Ordering::Relaxed);
        s.counters.adverts_received += self.adverts.received.load(Ordering::Relaxed);
        s
    }
}

/// Shared map of instance name to status.
#[derive(Clone, Debug)]
pub struct StatusStore {
    inner: Arc<RwLock<BTreeMap<String, Entry>>>,
    /// Bumped when something worth reporting outside changes (not on counters).
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for StatusStore {
    fn default() -> Self {
        StatusStore {
            inner: Arc::default(),
            changed: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl StatusStore {
    /// Update (or create) one instance's status.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut InstanceStatus)) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let entry = &mut map
            .entry(name.to_string())
            .or_insert_with(|| Entry::new(name))
            .status;
        let before = entry.reportable();
        f(entry);
        if entry.reportable() != before {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Bump one instance's counters: no reportable field changes, so nothing is compared or
    /// notified. Does nothing for an unknown instance.
    pub fn count(&self, name: &str, f: impl FnOnce(&mut Counters)) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(name) {
            f(&mut entry.status.counters);
        }
    }

    /// The advert counters of instance `name` (its status is created if there is none yet),
    /// for its driver to bump. They count for as long as the instance is not removed.
    pub fn advert_counters(&self, name: &str) -> Arc<AdvertCounters> {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| Entry::new(name))
            .adverts
            .clone()
    }

    /// A receiver that sees a new value whenever a reportable field changes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Forget an instance.
    pub fn remove(&self, name: &str) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Names of every instance, in name order.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Names of the instances that cannot run (in Error), in name order.
    pub fn failed(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|i| i.error.is_some())
            .map(|i| i.name)
            .collect()
    }

    /// A copy of every instance's status, by name.
    pub fn snapshot(&self) -> Vec<InstanceStatus> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(Entry::read)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_counters_show_in_the_snapshot_until_the_instance_is_removed() {
        let store = StatusStore::default();
        let adverts = store.advert_counters("web");
        adverts.sent();
        adverts.sent();
        adverts.received();
        store.update("web", |s| s.priority = 100);
        let read = |store: &StatusStore| {
            let s = &store.snapshot()[0];
            (
                s.name.clone(),
                s.priority,
                s.counters.adverts_sent,
                s.counters.adverts_received,
            )
        };
        assert_eq!(read(&store), ("web".to_string(), 100, 2, 1));
        store.remove("web");
        assert!(store.snapshot().is_empty());
        adverts.sent();
        let _fresh = store.advert_counters("web");
        assert_eq!(read(&store), ("web".to_string(), 0, 0, 0));
    }
}
