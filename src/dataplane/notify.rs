//! Notify hooks (keepalived's notify_master, notify_backup, notify_fault, notify_stop and
//! notify): commands run on an instance's transitions, in standalone mode.
//!
//! The driver hands each transition to [`Notifier::transition`], which only queues it: the
//! hooks run in a task of their own, one at a time and in order (a per-instance queue), so a
//! slow hook never delays an advert and a `BACKUP` hook never overtakes the `MASTER` one before
//! it. Each run is its own process group, killed on `timeout` (as tracker scripts are). Runs and
//! failures are counted (`kube_vrrp_notify_runs_total`, `kube_vrrp_notify_failures_total`) and
//! failures logged.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::track::Reading;
use crate::track::script::ScriptProbe;
use crate::translate::NotifyConfig;
use crate::vrrp::State;

/// Transitions queued at most; more (a hook stuck while the instance flaps) are dropped and
/// counted as `queue_full`.
const QUEUE: usize = 64;

/// The state a hook reports, as keepalived names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookState {
    /// Became master (`notify_master`).
    Master,
    /// Became backup (`notify_backup`).
    Backup,
    /// Entered Fault (`notify_fault`).
    Fault,
    /// Stopped (`notify_stop`).
    Stop,
}

impl HookState {
    /// Every hook.
    pub const ALL: [HookState; 4] = [
        HookState::Master,
        HookState::Backup,
        HookState::Fault,
        HookState::Stop,
    ];

    /// The hook of a new engine state.
    pub fn of(state: State) -> HookState {
        match state {
            State::Master => HookState::Master,
            State::Backup => HookState::Backup,
            State::Fault => HookState::Fault,
            State::Initialize => HookState::Stop,
        }
    }

    /// keepalived's name of the state, the third argument of `notify`.
    pub fn keepalived(self) -> &'static str {
        match self {
            HookState::Master => "MASTER",
            HookState::Backup => "BACKUP",
            HookState::Fault => "FAULT",
            HookState::Stop => "STOP",
        }
    }

    /// The hook's name in metrics and logs (`master`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookState::Master => "master",
            HookState::Backup => "backup",
            HookState::Fault => "fault",
            HookState::Stop => "stop",
        }
    }
}

/// Why a hook run counts as failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookFailure {
    /// It exited non-zero, was killed by a signal or ran past its timeout.
    Failed,
    /// It could not be started (not found, not executable).
    CannotRun,
    /// The queue was full; the transition's hooks were not run.
    QueueFull,
}

impl HookFailure {
    /// Every failure kind.
    pub const ALL: [HookFailure; 3] = [
        HookFailure::Failed,
        HookFailure::CannotRun,
        HookFailure::QueueFull,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            HookFailure::Failed => "failed",
            HookFailure::CannotRun => "cannot_run",
            HookFailure::QueueFull => "queue_full",
        }
    }
}

/// One queued transition.
#[derive(Debug)]
struct Event {
    state: HookState,
    priority: u8,
}

/// The hooks of one instance; inert when none is configured.
#[derive(Debug)]
pub struct Notifier {
    name: String,
    metrics: Metrics,
    tx: Option<mpsc::Sender<Event>>,
    task: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl Notifier {
    /// Start the queue of instance `name` (nothing when `cfg` has no hook).
    pub fn start(name: &str, cfg: &NotifyConfig, metrics: &Metrics) -> Notifier {
        let mut n = Notifier {
            name: name.to_string(),
            metrics: metrics.clone(),
            tx: None,
            task: None,
            timeout: cfg.timeout,
        };
        if !cfg.is_empty() {
            let (tx, rx) = mpsc::channel(QUEUE);
            n.tx = Some(tx);
            n.task = Some(tokio::spawn(worker(
                name.to_string(),
                cfg.clone(),
                metrics.clone(),
                rx,
            )));
        }
        n
    }

    /// The instance entered `state` with `priority`: queue its hooks (never waits).
    pub fn transition(&self, state: State, priority: u8) {
        let Some(tx) = &self.tx else { return };
        let state = HookState::of(state);
        if tx.try_send(Event { state, priority }).is_err() {
            tracing::warn!(vip = %self.name, hook = state.as_str(), "notify queue full; hooks of this transition not run");
            count_failure(&self.metrics, &self.name, state, HookFailure::QueueFull);
        }
    }

    /// Let the queued hooks finish (the instance stopped), waiting at most `bound`.
    pub async fn finish(&mut self, bound: Duration) {
        self.tx = None;
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(bound, task).await.is_err() {
                tracing::warn!(vip = %self.name, "notify hooks still running at stop; killed");
                abort.abort();
            }
        }
    }

    /// How long one hook may run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Forget the hook series of a VirtualIP that is gone.
pub fn forget(metrics: &Metrics, vip: &str) {
    for state in HookState::ALL {
        let _ = metrics
            .notify_runs
            .remove_label_values(&[vip, state.as_str()]);
        for why in HookFailure::ALL {
            let _ =
                metrics
                    .notify_failures
                    .remove_label_values(&[vip, state.as_str(), why.as_str()]);
        }
    }
}

fn count_failure(metrics: &Metrics, vip: &str, state: HookState, why: HookFailure) {
    metrics
        .notify_failures
        .with_label_values(&[vip, state.as_str(), why.as_str()])
        .inc();
}

/// keepalived's `notify` arguments: TYPE NAME STATE PRIORITY after the configured ones.
pub fn any_argv(base: &[String], name: &str, state: HookState, priority: u8) -> Vec<String> {
    let mut argv = base.to_vec();
    argv.extend([
        "INSTANCE".to_string(),
        name.to_string(),
        state.keepalived().to_string(),
        priority.to_string(),
    ]);
    argv
}

async fn worker(name: String, cfg: NotifyConfig, metrics: Metrics, mut rx: mpsc::Receiver<Event>) {
    while let Some(ev) = rx.recv().await {
        let specific = match ev.state {
            HookState::Master => &cfg.master,
            HookState::Backup => &cfg.backup,
            HookState::Fault => &cfg.fault,
            HookState::Stop => &cfg.stop,
        };
        let any = cfg
            .any
            .as_ref()
            .map(|a| any_argv(a, &name, ev.state, ev.priority));
        for argv in specific.iter().cloned().chain(any) {
            run_one(&name, &metrics, ev.state, argv, cfg.timeout).await;
        }
    }
}

async fn run_one(
    name: &str,
    metrics: &Metrics,
    state: HookState,
    argv: Vec<String>,
    timeout: Duration,
) {
    let shown = argv.join(" ");
    metrics
        .notify_runs
        .with_label_values(&[name, state.as_str()])
        .inc();
    let o = ScriptProbe::command(argv, timeout).check().await;
    let failure = match (o.reading, o.broken) {
        (Reading::Pass, _) => None,
        (_, true) => Some(HookFailure::CannotRun),
        (_, false) => Some(HookFailure::Failed),
    };
    match failure {
        None => {
            tracing::info!(vip = %name, hook = state.as_str(), command = %shown, "notify hook ran")
        }
        Some(why) => {
            tracing::warn!(vip = %name, hook = state.as_str(), command = %shown, result = %o.detail, "notify hook failed");
            count_failure(metrics, name, state, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_keepalived_names_and_arguments() {
        let names: Vec<_> = [
            State::Master,
            State::Backup,
            State::Fault,
            State::Initialize,
        ]
        .into_iter()
        .map(|s| HookState::of(s).keepalived())
        .collect();
        assert_eq!(names, ["MASTER", "BACKUP", "FAULT", "STOP"]);
        let argv = any_argv(
            &["/bin/notify".into(), "x".into()],
            "web",
            HookState::Master,
            210,
        );
        assert_eq!(
            argv,
            ["/bin/notify", "x", "INSTANCE", "web", "MASTER", "210"]
        );
    }

    /// Hooks run in order, one at a time; failures and timeouts are counted by reason.
    #[tokio::test]
    async fn hooks_run_in_order_and_failures_are_counted() {
        let dir = std::env::temp_dir().join(format!("kvnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        let sh = |script: &str| {
            Some(vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("{{ {script}; }} >> {}", log.display()),
            ])
        };
        let cfg = NotifyConfig {
            master: sh("sleep 0.2; echo master"),
            backup: sh("echo backup"),
            fault: sh("echo fault; exit 3"),
            stop: Some(vec!["/nonexistent/stop".into()]),
            any: sh("echo any \"$@\"").map(|mut a| {
                a.push("sh".into());
                a
            }),
            timeout: Duration::from_secs(5),
        };
        let metrics = Metrics::new();
        let mut n = Notifier::start("web", &cfg, &metrics);
        for s in [
            State::Backup,
            State::Master,
            State::Fault,
            State::Initialize,
        ] {
            n.transition(s, 100);
        }
        n.finish(Duration::from_secs(20)).await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "backup",
                "any INSTANCE web BACKUP 100",
                "master",
                "any INSTANCE web MASTER 100",
                "fault",
                "any INSTANCE web FAULT 100",
                "any INSTANCE web STOP 100",
            ]
        );
        let failures = |hook: &str, why: HookFailure| {
            metrics
                .notify_failures
                .with_label_values(&["web", hook, why.as_str()])
                .get()
        };
        assert_eq!(failures("fault", HookFailure::Failed), 1);
        assert_eq!(failures("stop", HookFailure::CannotRun), 1);
        assert_eq!(
            metrics
                .notify_runs
                .with_label_values(&["web", "master"])
                .get(),
            2
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
