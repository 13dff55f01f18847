//! The script tracker (keepalived's `vrrp_script`): run an argv every `interval`; exit 0 is a
//! success. No shell is involved unless the argv names one. Each run gets its own process
//! group; on `timeout` the whole group is killed with SIGKILL and the run counts as a failure.
//! Every child is waited for, so none is left a zombie.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{Observation, Reading};
use crate::duration;
use crate::translate::tracker::ScriptConfig;

/// A script check, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptProbe {
    argv: Vec<String>,
    interval: Duration,
    timeout: Duration,
}

/// Bound on reaping a group we have just SIGKILLed (a process stuck in the kernel may take
/// longer; tokio's orphan reaper then collects it).
const REAP_BOUND: Duration = Duration::from_secs(5);

impl ScriptProbe {
    /// From a script tracker's configuration.
    pub fn new(config: &ScriptConfig) -> ScriptProbe {
        ScriptProbe {
            argv: config.argv.clone(),
            interval: config.interval,
            timeout: config.timeout,
        }
    }

    /// A one-off command (a notify hook): `argv` killed with its process group after
    /// `timeout`.
    pub fn command(argv: Vec<String>, timeout: Duration) -> ScriptProbe {
        ScriptProbe {
            argv,
            interval: timeout,
            timeout,
        }
    }

    /// Time between runs.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How long a run may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Run the script once and report what happened.
    pub async fn check(&self) -> Observation {
        let Some(program) = self.argv.first() else {
            return Observation::broken("no command".into());
        };
        // A bare name is looked up in PATH (as keepalived does); a path must be absolute,
        // since "relative to the agent's working directory" means nothing to a user.
        if program.contains('/') && !program.starts_with('/') {
            return Observation::broken(format!(
                "cannot run {program:?}: a relative path; use an absolute path or a bare name found in PATH"
            ));
        }
        let mut command = Command::new(program);
        command
            .args(&self.argv[1..])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return Observation::broken(format!("cannot run {program}: {e}")),
        };
        let Some(pid) = child.id() else {
            return Observation::new(Reading::Fail, "exited before it could be watched".into());
        };
        // Kills the group if this future is dropped (the tracker stopped mid-run).
        let mut group = GroupGuard(Some(pid));
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => {
                group.0 = None;
                match (status.code(), status.signal()) {
                    (Some(0), _) => Observation::new(Reading::Pass, "exit 0".into()),
                    (Some(code), _) => Observation::new(Reading::Fail, format!("exit {code}")),
                    (None, Some(sig)) => {
                        Observation::new(Reading::Fail, format!("killed by signal {sig}"))
                    }
                    (None, None) => Observation::new(Reading::Fail, format!("{status}")),
                }
            }
            Ok(Err(e)) => Observation::new(Reading::Fail, format!("waiting for the script: {e}")),
            Err(_) => {
                group.kill();
                // Reap the leader now; `kill_on_drop` and tokio's reaper cover the rest.
                let _ = tokio::time::timeout(REAP_BOUND, child.wait()).await;
                Observation::new(
                    Reading::Fail,
                    format!("timeout after {}", duration::format(self.timeout)),
                )
            }
        }
    }

    /// Check now and then every `interval` (a run that overruns delays the next one), sending
    /// each result as `(index, observation)` until the receiver goes away.
    pub async fn run(self, index: usize, tx: mpsc::Sender<(usize, Observation)>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let observation = self.check().await;
            if tx.send((index, observation)).await.is_err() {
                return;
            }
        }
    }
}

/// A process group to SIGKILL unless disarmed.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pid) = self.0.take()
            && let Ok(pgid) = i32::try_from(pid)
        {
            // SAFETY: kill(2) takes plain integers and has no memory effects. The leader is
            // not reaped yet, so its PID (the group's id) cannot have been reused.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(argv: &[&str], interval: &str, timeout: Option<&str>) -> ScriptProbe {
        let interval = duration::parse(interval).unwrap();
        ScriptProbe::new(&ScriptConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            interval,
            timeout: timeout.map_or(interval, |t| duration::parse(t).unwrap()),
            rise: 1,
            fall: 1,
        })
    }

    #[tokio::test]
    async fn exit_status_decides() {
        let ok = probe(&["/bin/sh", "-c", "exit 0"], "1s", None)
            .check()
            .await;
        assert_eq!((ok.reading, ok.detail.as_str()), (Reading::Pass, "exit 0"));
        let bad = probe(&["sh", "-c", "exit 3"], "1s", None).check().await;
        assert_eq!(
            (bad.reading, bad.detail.as_str()),
            (Reading::Fail, "exit 3")
        );
        assert!(!bad.broken);
    }

    #[tokio::test]
    async fn missing_or_relative_programs_are_broken() {
        let o = probe(&["/nonexistent/kvtrack-check"], "1s", None)
            .check()
            .await;
        assert_eq!(o.reading, Reading::Fail);
        assert!(
            o.broken && o.detail.contains("/nonexistent/kvtrack-check"),
            "{o:?}"
        );
        let o = probe(&["bin/check.sh"], "1s", None).check().await;
        assert!(o.broken, "{o:?}");
        assert_eq!(
            o.detail,
            "cannot run \"bin/check.sh\": a relative path; use an absolute path or a bare name found in PATH"
        );
        let o = probe(&["kvtrack-no-such-program"], "1s", None)
            .check()
            .await;
        assert!(o.broken, "{o:?}");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("kvtrack-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("child.pid");
        let script = format!("sleep 1000 & echo $! > {}; wait", pidfile.display());
        let o = probe(&["/bin/sh", "-c", &script], "1s", Some("300ms"))
            .check()
            .await;
        assert_eq!(
            (o.reading, o.detail.as_str()),
            (Reading::Fail, "timeout after 300ms")
        );
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let pid: i32 = pid.trim().parse().unwrap();
        // The background sleep was in the group: it is gone (or a zombie awaiting its reaper).
        let gone = (0..100).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
            if alive {
                std::thread::sleep(Duration::from_millis(20));
            }
            !alive
        });
        assert!(gone, "the script's child {pid} survived the timeout");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
