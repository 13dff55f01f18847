//! Writes each node's view back to the VirtualIP status with server-side apply (one field
//! manager per node, so each node owns exactly its own `status.nodes` entry), and records an
//! Event per transition. Writes happen on changes only: a steady state makes no API writes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};
use serde::Serialize;

use crate::rfc3339;
use crate::spec::{API_VERSION, Condition, KIND, NodeStatus, VirtualIP, VirtualIpStatus};
use crate::status::{ErrorKind, Reportable, ReportedState};
use crate::status::{InstanceStatus, StatusStore};

/// name -> (generation, uid) of each VirtualIP, as last seen.
pub type Objects = BTreeMap<String, (Option<i64>, Option<String>)>;

/// name -> `status.master` as last seen on the API server.
pub type Masters = BTreeMap<String, Option<String>>;

/// What was last written for one VirtualIP: the instance's reportable fields and the
/// generation acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Written {
    fields: Reportable,
    generation: Option<i64>,
}

impl Written {
    fn of(inst: &InstanceStatus, generation: Option<i64>) -> Written {
        Written {
            fields: inst.reportable(),
            generation,
        }
    }
}

/// A server-side apply patch of a VirtualIP's status subresource.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusPatch<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: PatchMetadata<'a>,
    status: VirtualIpStatus,
}

impl StatusPatch<'_> {
    fn new(name: &str, status: VirtualIpStatus) -> StatusPatch<'_> {
        StatusPatch {
            api_version: API_VERSION,
            kind: KIND,
            metadata: PatchMetadata { name },
            status,
        }
    }
}

/// The metadata a patch names its object by.
#[derive(Debug, Serialize)]
struct PatchMetadata<'a> {
    name: &'a str,
}

/// The status writer of one node.
pub struct StatusWriter {
    config: kube::Config,
    api: Api<VirtualIP>,
    recorder: Recorder,
    node: String,
    store: StatusStore,
    written: BTreeMap<String, Written>,
    /// name -> (generation, uid) of the VirtualIPs as last seen.
    pub objects: Objects,
    /// Counts API writes (`kube_vrrp_api_writes_total`).
    writes: prometheus::IntCounter,
    /// `status.master` of each VirtualIP as the watch last saw it.
    pub masters: Masters,
    /// When each VirtualIP was last corrected (see [`StatusWriter::flush`]).
    corrected: BTreeMap<String, std::time::Instant>,
}

impl StatusWriter {
    /// A writer for `node`.
    pub fn new(
        config: kube::Config,
        node: &str,
        store: StatusStore,
        writes: prometheus::IntCounter,
    ) -> Result<StatusWriter, kube::Error> {
        let client = Client::try_from(config.clone())?;
        Ok(StatusWriter {
            api: Api::all(client.clone()),
            recorder: Recorder::new(client, reporter(node)),
            config,
            node: node.to_string(),
            store,
            written: BTreeMap::new(),
            objects: BTreeMap::new(),
            writes,
            masters: Masters::new(),
            corrected: BTreeMap::new(),
        })
    }

    /// Start over with a new connection: after a failure the old one may be dead without
    /// knowing it (a node whose network went away and came back).
    fn reconnect(&mut self) {
        if let Ok(client) = Client::try_from(self.config.clone()) {
            self.api = Api::all(client.clone());
            self.recorder = Recorder::new(client, reporter(&self.node));
        }
    }

    fn manager(&self) -> String {
        format!("kube-vrrp-{}", self.node)
    }

    /// Write what changed since the last successful write. Returns false if something failed
    /// (the API server is down, say): call again later; nothing is lost.
    pub async fn flush(&mut self) -> bool {
        let mut ok = true;
        let now: BTreeMap<String, InstanceStatus> = self
            .store
            .snapshot()
            .into_iter()
            .map(|i| (i.name.clone(), i))
            .collect();
        for (name, inst) in &now {
            let generation = self.objects.get(name).and_then(|o| o.0);
            let key = Written::of(inst, generation);
            // Two nodes can race on `status.master` (a stale "I am master" from the old master
            // landing after the new one's claim). When what the API server shows disagrees with
            // our own state, write again: at most every 2 s per VirtualIP, so even a lasting split
            // brain cannot turn into a write storm, and never in a steady state.
            let shown = self.masters.get(name).cloned().flatten();
            let disagrees = self.masters.contains_key(name)
                && (inst.state == ReportedState::Master)
                    != (shown.as_deref() == Some(self.node.as_str()));
            let may_correct = self
                .corrected
                .get(name)
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
            if self.written.get(name) == Some(&key) && !(disagrees && may_correct) {
                continue;
            }
            if disagrees {
                self.corrected
                    .insert(name.clone(), std::time::Instant::now());
            }
            let previous = self.written.get(name).cloned();
            match self.apply(name, Some(inst)).await {
                Ok(()) => {
                    self.written.insert(name.clone(), key);
                    let previous_state = previous.map(|p| p.fields.state);
                    if previous_state != Some(inst.state) {
                        self.event(name, inst, previous_state).await;
                    }
                }
                Err(e) => {
                    ok = false;
                    tracing::debug!(vip = %name, error = %e, "status write failed; will retry");
                }
            }
        }
        let gone: Vec<String> = self
            .written
            .keys()
            .filter(|n| !now.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            match self.apply(&name, None).await {
                Ok(()) => {
                    self.written.remove(&name);
                }
                // The VirtualIP itself is gone: nothing to clean.
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    self.written.remove(&name);
                }
                Err(_) => ok = false,
            }
        }
        ok
    }

    /// Apply this node's part of the status (or withdraw it with `None`).
    async fn apply(
        &mut self,
        name: &str,
        inst: Option<&InstanceStatus>,
    ) -> Result<(), kube::Error> {
        let status = match inst {
            None => VirtualIpStatus::default(),
            Some(i) => {
                let generation = self.objects.get(name).and_then(|o| o.0);
                node_part(&self.node, generation, i, SystemTime::now())
            }
        };
        let patch = StatusPatch::new(name, status);
        tracing::trace!(vip = %name, patch = ?patch, "status apply");
        let params = PatchParams::apply(&self.manager()).force();
        self.writes.inc();
        self.api
            .patch_status(name, &params, &Patch::Apply(&patch))
            .await
            .map(|_| ())
    }

    async fn event(&mut self, name: &str, inst: &InstanceStatus, from: Option<ReportedState>) {
        let uid = self.objects.get(name).and_then(|o| o.1.clone());
        let reference = ObjectReference {
            api_version: Some("kubevrrp.io/v1alpha1".into()),
            kind: Some("VirtualIP".into()),
            name: Some(name.to_string()),
            uid,
            ..Default::default()
        };
        let warning = matches!(inst.state, ReportedState::Fault | ReportedState::Error);
        let note = match (&from, &inst.error) {
            (_, Some(e)) => format!("{}: cannot run: {e}", self.node),
            (Some(f), None) => format!(
                "{}: {f} -> {} ({}), priority {}",
                self.node,
                inst.state,
                inst.reason_text(),
                inst.priority
            ),
            (None, None) => format!(
                "{}: {} ({}), priority {}",
                self.node,
                inst.state,
                inst.reason_text(),
                inst.priority
            ),
        };
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: inst
                .reason
                .map_or_else(|| inst.state.to_string(), |r| r.to_string()),
            note: Some(note),
            action: format!("Become{}", inst.state),
            secondary: None,
        };
        self.writes.inc();
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            tracing::debug!(vip = %name, error = %e, "event not recorded");
        }
    }
}

fn reporter(node: &str) -> Reporter {
    Reporter {
        controller: "kube-vrrp".into(),
        instance: Some(node.to_string()),
    }
}

/// This node's part of a VirtualIP's status: its entry in `nodes`, the generation it acted on,
/// and, as master, `master`, `masterPriority` and the Ready condition; a Conflict or Invalid
/// condition when it sees a foreign router or cannot run the VirtualIP. Fields this node does
/// not set are left out, so server-side apply leaves them to their owners.
fn node_part(
    node: &str,
    generation: Option<i64>,
    i: &InstanceStatus,
    now: SystemTime,
) -> VirtualIpStatus {
    let master = i.state == ReportedState::Master;
    let mut conditions = Vec::new();
    if master {
        conditions.push(condition(
            "Ready",
            "True",
            "MasterElected",
            &format!("{node} holds {}", i.addresses.join(", ")),
            now,
        ));
    }
    if let Some(c) = &i.conflict {
        conditions.push(condition(
            "Conflict",
            "True",
            "ForeignRouter",
            &format!("{node}: {c}"),
            now,
        ));
    }
    if let Some(err) = &i.error {
        let (kind, reason) = match i.error_kind {
            Some(ErrorKind::VridInUse) => ("Conflict", "VridInUse"),
            Some(ErrorKind::HooksRefused) => ("Invalid", "NotifyHooksRefused"),
            Some(ErrorKind::Invalid | ErrorKind::CannotStart) | None => ("Invalid", "CannotRun"),
        };
        conditions.push(condition(
            kind,
            "True",
            reason,
            &format!("{node}: {err}"),
            now,
        ));
    }
    VirtualIpStatus {
        master: master.then(|| node.to_string()),
        master_priority: master.then_some(i.priority),
        observed_generation: generation,
        nodes: vec![node_status(node, i)],
        conditions,
    }
}

fn node_status(node: &str, i: &InstanceStatus) -> NodeStatus {
    NodeStatus {
        node: node.to_string(),
        state: i.state.to_string(),
        priority: i.priority,
        since: Some(i.since.clone()),
        reason: i.reason.map(|r| r.to_string()),
        message: i.error.clone(),
    }
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: SystemTime) -> Condition {
    Condition {
        kind: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Some(rfc3339::format(now)),
    }
}

/// Run the writer: flush on every reportable change, retry failures every `retry`.
pub async fn run(
    mut writer: StatusWriter,
    mut objects: tokio::sync::watch::Receiver<Objects>,
    mut masters: tokio::sync::watch::Receiver<Masters>,
    retry: Duration,
) {
    let mut changes = writer.store.subscribe();
    loop {
        writer.objects = objects.borrow_and_update().clone();
        writer.masters = masters.borrow_and_update().clone();
        let ok = writer.flush().await;
        if !ok {
            writer.reconnect();
        }
        // A pending correction is retried too.
        let pending = writer
            .corrected
            .values()
            .any(|t| t.elapsed() < Duration::from_secs(3));
        let wait = if ok && !pending {
            Duration::from_secs(3600)
        } else {
            retry
        };
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            r = objects.changed() => if r.is_err() { return },
            r = masters.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
#[path = "status_writer_tests.rs"]
mod tests;
