//! `kube-vrrp run`: the engine driven by a file of VirtualIP documents, without Kubernetes.
//! Reloads on SIGHUP and when the file changes (inotify); SIGTERM/SIGINT hand over gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tokio::signal::unix::{SignalKind, signal};

pub use crate::agent::dataplane::RunError;
use crate::agent::dataplane::{DataPlane, desired};
use crate::config::{self, ConfigFile};
use crate::watch::FileWatch;

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

/// Run until SIGTERM/SIGINT. `initial` is the already loaded and checked file.
pub async fn run(opts: RunOptions, initial: ConfigFile) -> Result<(), RunError> {
    let DataPlane {
        netlink,
        mut supervisor,
        ready,
        ..
    } = DataPlane::start(opts.http_addr).await?;
    let mut current = initial;
    supervisor
        .apply(
            &desired(&netlink, &opts.node_name, &Default::default(), &current).await,
            &[],
        )
        .await;
    supervisor.remove_unclaimed_leftovers();
    ready.store(true, Ordering::Relaxed);
    tracing::info!(config = %opts.config.display(), node = %opts.node_name, instances = supervisor.running().len(), "running");

    let mut term = signal(SignalKind::terminate()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| RunError::Setup(e.to_string()))?;
    // Woken by inotify (src/watch.rs), not a timer; then a stat (size, mtime, inode: an editor's
    // rename counts too), and the file is read only when one of them changed.
    let mut watch = FileWatch::new(&opts.config);
    let mut last_stamp = stamp(&opts.config);
    let mut last_text = std::fs::read_to_string(&opts.config).ok();
    loop {
        let reason = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => "SIGHUP",
            _ = watch.changed() => {
                let now = stamp(&opts.config);
                if now == last_stamp {
                    continue;
                }
                last_stamp = now;
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
                    .apply(
                        &desired(&netlink, &opts.node_name, &Default::default(), &current).await,
                        &[],
                    )
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

/// What changes when a file is written or replaced.
fn stamp(path: &std::path::Path) -> Option<(u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?, m.ino()))
}
