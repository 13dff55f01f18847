//! The data plane of a node (started by both front ends): netlink, link events,
//! the host lock, leftover cleanup, metrics, status and the supervisor. The front ends serve
//! the HTTP endpoints from its status and metrics (the data plane does not know HTTP).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Desired, StatusStore, Supervisor};
use crate::metrics::Metrics;
use crate::net::host_lock::HostLock;
use crate::net::{link, netlink::Netlink};
use crate::translate::{self, Documents, NodeFacts};

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Netlink, socket or client setup failed.
    #[error("{0}")]
    Setup(String),
    /// Stopped as asked, but these VirtualIPs could not run (the exit status says so).
    #[error("stopped; these VirtualIPs could not run: {}", .0.join(", "))]
    Failed(Vec<String>),
    /// The HTTP address could not be bound.
    #[error("--http-addr {addr}: {source}")]
    Http {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// A started data plane.
pub struct DataPlane {
    /// Netlink handle.
    pub netlink: Netlink,
    /// The supervisor of instances.
    pub supervisor: Supervisor,
    /// Instance status.
    pub status: StatusStore,
    /// Set once the first configuration is applied.
    pub ready: Arc<AtomicBool>,
    /// Metrics.
    pub metrics: Metrics,
    /// One daemon per network namespace: held as long as this lives.
    pub lock: HostLock,
}

impl DataPlane {
    /// Take the host lock, connect netlink. Touches no address: the caller takes the leftovers
    /// ([`DataPlane::take_leftovers`]) once every start-up check (its HTTP address too) has
    /// passed, so a daemon that cannot start never removes anything.
    pub fn start() -> Result<DataPlane, RunError> {
        // First of all: a second daemon in this network namespace must touch nothing.
        let lock = HostLock::take().map_err(|e| RunError::Setup(e.to_string()))?;
        let netlink = Netlink::connect().map_err(|e| RunError::Setup(format!("netlink: {e}")))?;
        let links =
            link::watch().map_err(|e| RunError::Setup(format!("netlink link monitor: {e}")))?;
        let metrics = Metrics::new();
        let status = StatusStore::default();
        let ready = Arc::new(AtomicBool::new(false));
        let supervisor = Supervisor::new(netlink.clone(), metrics.clone(), status.clone(), links);
        Ok(DataPlane {
            netlink,
            supervisor,
            status,
            ready,
            metrics,
            lock,
        })
    }

    /// Hand the VIPs an earlier run of this daemon left behind to the supervisor (principle 4):
    /// an instance that carries one keeps it while it rejoins; the supervisor removes the others
    /// after the first configuration is applied. Only the host lock's holder may do this: the
    /// addresses are then surely not another daemon's.
    pub async fn take_leftovers(&mut self) -> Result<(), RunError> {
        // Virtual MAC interfaces an earlier run left go first (with the VIPs on them): the
        // instances create theirs again.
        match self.netlink.delete_leftover_vmacs().await {
            Ok(names) => {
                for name in names {
                    tracing::info!(interface = %name, "removed a virtual MAC interface left behind by an earlier run");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove virtual MAC interfaces left behind")
            }
        }
        let left = self
            .netlink
            .ours()
            .await
            .map_err(|e| RunError::Setup(e.to_string()))?;
        for a in &left {
            tracing::info!(address = %a.addr, ifindex = a.index, "found a VIP left behind by an earlier run");
        }
        self.supervisor.hold_leftovers(left);
        Ok(())
    }
}

/// What this node should run for the documents in `file`, given its name and labels.
pub async fn desired(
    netlink: &Netlink,
    node: &str,
    labels: &BTreeMap<String, String>,
    file: &Documents,
) -> Desired {
    let interfaces = match netlink.interface_facts().await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "cannot read interfaces");
            Vec::new()
        }
    };
    let facts = NodeFacts {
        name: node.to_string(),
        labels: labels.clone(),
        interfaces,
    };
    let mut out = Desired::new();
    for doc in &file.virtual_ips {
        match translate::translate(&doc.name, &doc.spec, &facts, &|r| file.password(r)) {
            Ok(Some(cfg)) => {
                warn_false_owner(&facts, &cfg);
                out.insert(doc.name.clone(), Ok(cfg));
            }
            Ok(None) => {}
            Err(errors) => {
                let msg = errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                out.insert(doc.name.clone(), Err(msg));
            }
        }
    }
    out
}

/// RFC 5798 §3: priority 255 is for the router that owns the addresses (has them configured as
/// its own). Another router with 255 takes over at once and never yields: say so.
fn warn_false_owner(facts: &NodeFacts, cfg: &crate::translate::RouterConfig) {
    if cfg.instance.priority != crate::vrrp::priority::OWNER {
        return;
    }
    let owns = facts
        .interfaces
        .iter()
        .filter(|i| i.name == cfg.interface)
        .flat_map(|i| &i.addresses)
        .any(|a| cfg.vips.iter().any(|v| v.addr == a.addr));
    if !owns {
        tracing::warn!(
            vip = %cfg.name,
            interface = %cfg.interface,
            "priority 255 is for the address owner, but this node has none of the addresses configured; it will take over at once and never yield (use 1..254 unless it owns them)"
        );
    }
}
