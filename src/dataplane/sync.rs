//! Sync groups on this node: one task per group carries each member's view (from its driver)
//! to the pure rule ([`crate::vrrp::sync::group_inputs`]) and the resulting inputs back to the
//! members' drivers. Members are the running VirtualIPs with the same `spec.syncGroup`.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::command::Command;
use crate::vrrp::sync::{GroupInput, MemberView, group_inputs};

/// A message to a group's task.
#[derive(Debug)]
enum Msg {
    Join(String, mpsc::Sender<Command>),
    Leave(String),
    View(String, MemberView),
}

/// A handle on one group's task; cheap to clone. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub struct SyncGroup {
    name: String,
    tx: mpsc::UnboundedSender<Msg>,
}

impl SyncGroup {
    /// Start the task of group `name`.
    pub fn start(name: &str) -> SyncGroup {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(name.to_string(), rx));
        SyncGroup {
            name: name.to_string(),
            tx,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Instance `member` joins; its inputs go to `driver`.
    pub fn join(&self, member: &str, driver: mpsc::Sender<Command>) {
        let _ = self.tx.send(Msg::Join(member.to_string(), driver));
    }

    /// Instance `member` left (stopped or reconfigured).
    pub fn leave(&self, member: &str) {
        let _ = self.tx.send(Msg::Leave(member.to_string()));
    }

    /// Instance `member` reports a new view.
    pub fn report(&self, member: &str, view: MemberView) {
        let _ = self.tx.send(Msg::View(member.to_string(), view));
    }
}

struct Member {
    driver: mpsc::Sender<Command>,
    view: MemberView,
    sent: Option<GroupInput>,
}

async fn run(group: String, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Join(name, driver) => {
                members.insert(
                    name,
                    Member {
                        driver,
                        view: MemberView::default(),
                        sent: None,
                    },
                );
            }
            Msg::Leave(name) => {
                members.remove(&name);
            }
            Msg::View(name, view) => match members.get_mut(&name) {
                Some(m) => m.view = view,
                None => continue,
            },
        }
        let views: Vec<MemberView> = members.values().map(|m| m.view).collect();
        for (m, input) in members.values_mut().zip(group_inputs(&views)) {
            if m.sent == Some(input) {
                continue;
            }
            // A driver's queue holds 1024 commands; a full one is far behind and gets this
            // input with the next change.
            if m.driver.try_send(Command::Group(input)).is_ok() {
                m.sent = Some(input);
            } else {
                tracing::warn!(group = %group, "sync group input not delivered; retried on the next change");
            }
        }
    }
}
