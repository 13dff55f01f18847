//! `kube-vrrp run`: the engine driven by a file of VirtualIP documents, without Kubernetes.
//! Reloads on SIGHUP and when the file changes (inotify); SIGTERM/SIGINT hand over gracefully.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::time::{Instant, sleep_until};

use crate::config::{self, ConfigError, ConfigFile};
pub use crate::dataplane::node::RunError;
use crate::dataplane::node::{DataPlane, desired};
use crate::file_read::{self, Stamp};
use crate::file_watch::FileWatch;

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

/// Run until SIGTERM/SIGINT. `initial` is the already loaded and checked file, `stamp` the
/// version of the file it was read from (a change made since is picked up).
pub async fn run(opts: RunOptions, initial: ConfigFile, stamp: Stamp) -> Result<(), RunError> {
    let mut plane = crate::daemon::start(opts.http_addr, true).await?;
    // Every start-up check passed (lock, netlink, HTTP): now the leftovers may be touched.
    plane.take_leftovers().await?;
    let DataPlane {
        netlink,
        mut supervisor,
        ready,
        status,
        lock: _lock,
        ..
    } = plane;
    // Standalone mode runs notify hooks (the Kubernetes agent refuses them).
    supervisor.allow_notify_hooks();
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
    // Woken by inotify (src/file_watch.rs), not a timer; then a stat, and the file is read only when
    // it changed. Reading and parsing run on a blocking thread, never on the engine's: a huge
    // or slow file must not delay an advert (docs/hostile.md).
    let mut watch = FileWatch::new(&opts.config);
    let mut last_stamp = Some(stamp);
    let mut retry: Option<Instant> = None;
    let mut last_problem: Option<String> = None;
    loop {
        let reason = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => Trigger::Signal,
            _ = watch.changed() => Trigger::FileChanged,
            _ = sleep_until(retry.unwrap_or_else(Instant::now)), if retry.is_some() => Trigger::Retry,
        };
        let forced = reason == Trigger::Signal;
        let path = opts.config.clone();
        let seen = last_stamp;
        let outcome = tokio::task::spawn_blocking(move || reload(&path, seen, forced))
            .await
            .unwrap_or_else(|e| Outcome::Failed(None, format!("reader failed: {e}"), false));
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Failed(stamp, error, transient) => {
                // Transient (being written, no descriptors, missing): look again soon; the
                // stamp is kept, so the change is not forgotten. Refused content: wait for the
                // next change. Each problem is logged once.
                retry = transient.then(|| Instant::now() + RETRY);
                if !transient {
                    last_stamp = stamp;
                }
                if last_problem.as_deref() != Some(error.as_str()) {
                    if transient {
                        tracing::warn!(%reason, %error, "configuration not read yet; everything running keeps running; trying again");
                    } else {
                        tracing::error!(%reason, %error, "reload refused; everything running keeps running");
                    }
                    last_problem = Some(error);
                }
            }
            Outcome::Loaded(stamp, file) => {
                retry = None;
                last_problem = None;
                last_stamp = Some(stamp);
                let changes = Changes::between(&current, &file);
                if changes.is_empty() {
                    tracing::info!(%reason, "configuration unchanged");
                    continue;
                }
                tracing::info!(
                    %reason,
                    added = ?changes.added,
                    removed = ?changes.removed,
                    changed = ?changes.changed,
                    "reloading configuration"
                );
                current = file;
                supervisor
                    .apply(
                        &desired(&netlink, &opts.node_name, &Default::default(), &current).await,
                        &[],
                    )
                    .await;
            }
        }
    }
    tracing::info!("shutting down: handing over");
    let failed = status.failed();
    supervisor.shutdown().await;
    tracing::info!("stopped");
    if failed.is_empty() {
        Ok(())
    } else {
        Err(RunError::Failed(failed))
    }
}

/// What made the loop look at the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// SIGHUP: read and parse even if the stamp is unchanged.
    Signal,
    /// inotify or the fallback timer.
    FileChanged,
    /// A read that failed for a passing reason is tried again.
    Retry,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Signal => "SIGHUP",
            Trigger::FileChanged => "file changed",
            Trigger::Retry => "retry",
        })
    }
}

/// How soon a file that could not be read (being written, no descriptors) is read again.
const RETRY: Duration = Duration::from_secs(1);

/// What a look at the file found.
enum Outcome {
    /// Same stamp as last time.
    Unchanged,
    /// Read and parsed.
    Loaded(Stamp, ConfigFile),
    /// Not usable: the stamp if known, the message, and whether to try again by itself.
    Failed(Option<Stamp>, String, bool),
}

/// On a blocking thread: read and parse the file unless its stamp is `seen` (and not forced).
fn reload(path: &Path, seen: Option<Stamp>, forced: bool) -> Outcome {
    let now = file_read::stamp(path);
    if !forced && now.is_some() && now == seen {
        return Outcome::Unchanged;
    }
    let (text, stamp) = match config::read(path) {
        Ok(r) => r,
        Err(e) => {
            let transient = matches!(&e, ConfigError::Read { source, .. } if source.is_transient());
            return Outcome::Failed(now, e.to_string(), transient);
        }
    };
    match config::parse(path, &text) {
        Ok(file) => Outcome::Loaded(stamp, file),
        Err(e) => Outcome::Failed(Some(stamp), e.to_string(), false),
    }
}

/// What a reload changes, by VirtualIP name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New names.
    pub added: Vec<String>,
    /// Names gone.
    pub removed: Vec<String>,
    /// Same name, different spec or password.
    pub changed: Vec<String>,
}

impl Changes {
    /// Compare two loaded files.
    pub fn between(old: &ConfigFile, new: &ConfigFile) -> Changes {
        let mut c = Changes::default();
        let password = |f: &ConfigFile, d: &config::VirtualIpDoc| {
            d.spec
                .authentication
                .as_ref()
                .map(|a| f.password(&a.secret_ref))
        };
        for d in &new.virtual_ips {
            match old.virtual_ips.iter().find(|o| o.name == d.name) {
                None => c.added.push(d.name.clone()),
                Some(o) if o.spec != d.spec || password(old, o) != password(new, d) => {
                    c.changed.push(d.name.clone())
                }
                Some(_) => {}
            }
        }
        for o in &old.virtual_ips {
            if !new.virtual_ips.iter().any(|d| d.name == o.name) {
                c.removed.push(o.name.clone());
            }
        }
        c
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}
