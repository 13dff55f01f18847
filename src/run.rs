//! `kube-vrrp run`: the engine driven by a file of VirtualIP documents, without Kubernetes.
//! Reloads on SIGHUP and when the file changes; SIGTERM/SIGINT hand over gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::agent::{Desired, StatusStore, Supervisor};
use crate::config::{self, ConfigFile};
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::net::{link, netlink::Netlink};
use crate::translate::{self, NodeFacts};

/// Options of `kube-vrrp run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The file of VirtualIP (and Secret) documents.
    pub config: PathBuf,
    /// This node's name (matched by `priorities` and selectors).
    pub node_name: String,
    /// Where to serve /metrics, /healthz, /readyz, /status.
    pub http_addr: SocketAddr,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Netlink or socket setup failed.
    #[error("{0}")]
    Setup(String),
    /// The HTTP address could not be bound.
    #[error("--http-addr {addr}: {source}")]
    Http {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Run until SIGTERM/SIGINT. `initial` is the already loaded and checked file.
pub async fn run(opts: RunOptions, initial: ConfigFile) -> Result<(), RunError> {
    let netlink = Netlink::connect().map_err(|e| RunError::Setup(format!("netlink: {e}")))?;
    let links = link::watch().map_err(|e| RunError::Setup(format!("netlink link monitor: {e}")))?;
    // Principle 4: addresses an earlier run left behind go before we join as backup.
    match netlink.remove_leftovers().await {
        Ok(left) => {
            for a in left {
                tracing::info!(address = %a.addr, ifindex = a.index, "removed a VIP left behind by an earlier run");
            }
        }
        Err(e) => return Err(RunError::Setup(e.to_string())),
    }
    let metrics = Metrics::new();
    let status = StatusStore::default();
    let ready = Arc::new(AtomicBool::new(false));
    let state = HttpState {
        status: status.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let _http = http::serve(opts.http_addr, state)
        .await
        .map_err(|source| RunError::Http {
            addr: opts.http_addr,
            source,
        })?;

    let mut supervisor = Supervisor::new(netlink.clone(), metrics, status, links);
    let mut current = initial;
    supervisor
        .apply(&desired(&netlink, &opts.node_name, &current).await)
        .await;
    ready.store(true, Ordering::Relaxed);
    tracing::info!(config = %opts.config.display(), node = %opts.node_name, instances = supervisor.running().len(), "running");

    let mut term = signal(SignalKind::terminate()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    let mut last_text = std::fs::read_to_string(&opts.config).ok();
    loop {
        let reason = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => "SIGHUP",
            _ = poll.tick() => {
                let text = std::fs::read_to_string(&opts.config).ok();
                if text == last_text || text.is_none() {
                    continue;
                }
                last_text = text;
                "file changed"
            }
        };
        match config::load(&opts.config) {
            Ok(file) => {
                tracing::info!(reason, "reloading configuration");
                current = file;
                supervisor
                    .apply(&desired(&netlink, &opts.node_name, &current).await)
                    .await;
            }
            Err(e) => {
                tracing::error!(reason, error = %e, "reload refused; everything running keeps running")
            }
        }
    }
    tracing::info!("shutting down: handing over");
    supervisor.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// What this node should run for `file`.
async fn desired(netlink: &Netlink, node: &str, file: &ConfigFile) -> Desired {
    let interfaces = match netlink.interface_facts().await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "cannot read interfaces");
            Vec::new()
        }
    };
    let facts = NodeFacts {
        name: node.to_string(),
        labels: Default::default(),
        interfaces,
    };
    let mut out = Desired::new();
    for doc in &file.virtual_ips {
        match translate::translate(&doc.name, &doc.spec, &facts, &|r| file.password(r)) {
            Ok(Some(cfg)) => {
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
