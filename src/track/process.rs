//! The process tracker (keepalived's `vrrp_track_process`): up while at least `minCount`
//! processes of the given name run. The name matches a process's `comm` (from
//! `/proc/PID/stat`) or the file name of its `argv[0]` (from `/proc/PID/cmdline`); zombies do
//! not count. `/proc` is scanned every [`POLL`], without spawning `ps`: a process that starts
//! or dies is seen within about a second. (A netlink proc connector would report at once, but
//! needs CAP_NET_ADMIN in the initial network namespace; one second is well inside what a
//! tracker is for.)

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{Observation, Reading};
use crate::translate::tracker::ProcessConfig;

/// How often `/proc` is scanned.
pub const POLL: Duration = Duration::from_secs(1);

/// Whether one process counts, from the text of its `stat` and `cmdline` files. `cmdline` is
/// read lazily: only when `comm` does not match already.
pub fn matches(stat: &str, cmdline: impl FnOnce() -> Vec<u8>, name: &str) -> bool {
    // stat: "PID (comm) S ...", and comm may itself hold spaces and parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    if close < open {
        return false;
    }
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    if matches!(state, Some('Z' | 'X' | 'x') | None) {
        return false;
    }
    if comm == name {
        return true;
    }
    let cmdline = cmdline();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let base = argv0.rsplit(|b| *b == b'/').next().unwrap_or_default();
    !base.is_empty() && base == name.as_bytes()
}

/// Count the live processes named `name` under `proc_root` (normally `/proc`).
pub fn count(proc_root: &Path, name: &str) -> std::io::Result<u32> {
    let mut n = 0;
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str() else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let cmdline = || std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if matches(&stat, cmdline, name) {
            n += 1;
        }
    }
    Ok(n)
}

/// One scan, as an observation.
pub fn check(spec: &ProcessConfig) -> Observation {
    check_in(Path::new("/proc"), spec)
}

fn check_in(proc_root: &Path, spec: &ProcessConfig) -> Observation {
    match count(proc_root, &spec.name) {
        Err(e) => Observation::broken(format!("cannot read {}: {e}", proc_root.display())),
        Ok(n) => {
            let noun = if n == 1 { "process" } else { "processes" };
            if n >= spec.min_count {
                Observation::new(Reading::Pass, format!("{n} {noun}"))
            } else {
                Observation::new(
                    Reading::Fail,
                    format!("{n} {noun} (need {})", spec.min_count),
                )
            }
        }
    }
}

/// Scan every [`POLL`] (the first scan after one period: the caller made the initial one),
/// sending each result until the receiver goes away. The scan runs on a blocking thread: on a
/// busy host reading every /proc entry takes long enough to stall the engine's runtime (a
/// backup that misses adverts for that long takes over).
pub async fn run(spec: ProcessConfig, index: usize, tx: mpsc::Sender<(usize, Observation)>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let scan = spec.clone();
        let observation = tokio::task::spawn_blocking(move || check(&scan))
            .await
            .unwrap_or_else(|e| Observation::broken(format!("the /proc scan failed: {e}")));
        if tx.send((index, observation)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cmdline() -> Vec<u8> {
        Vec::new()
    }

    #[test]
    fn matches_comm_or_argv0_and_skips_zombies() {
        assert!(matches("12 (httpd) S 1 12", no_cmdline, "httpd"));
        assert!(!matches("12 (httpd) Z 1 12", no_cmdline, "httpd"));
        assert!(!matches("12 (httpd) S 1 12", no_cmdline, "http"));
        // comm with spaces and parentheses.
        assert!(matches("12 (a (b) c) R 1", no_cmdline, "a (b) c"));
        // argv[0]'s file name: comm is truncated to 15 characters, or differs for scripts.
        let argv = || b"/usr/local/bin/kvtrack-long-application-name\0--flag\0".to_vec();
        assert!(matches(
            "12 (kvtrack-long-a) S 1",
            argv,
            "kvtrack-long-application-name"
        ));
        assert!(!matches("12 (python3) S 1", || b"\0".to_vec(), ""));
        assert!(!matches("garbage", no_cmdline, "httpd"));
    }

    #[test]
    fn counts_in_a_proc_tree() {
        let root = std::env::temp_dir().join(format!("kvtrack-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (pid, stat, cmdline) in [
            ("10", "10 (httpd) S 1", "/usr/sbin/httpd\0-k\0"),
            ("11", "11 (httpd) S 10", "/usr/sbin/httpd\0"),
            ("12", "12 (httpd) Z 10", ""),
            ("13", "13 (bash) S 1", "/usr/sbin/httpd-wrapper\0"),
            ("self", "1 (httpd) S 1", ""),
        ] {
            let dir = root.join(pid);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("stat"), stat).unwrap();
            std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        }
        let spec = |min_count| ProcessConfig {
            name: "httpd".into(),
            min_count,
        };
        let o = check_in(&root, &spec(1));
        assert_eq!(
            (o.reading, o.detail.as_str()),
            (Reading::Pass, "2 processes")
        );
        let o = check_in(&root, &spec(3));
        assert_eq!(
            (o.reading, o.detail.as_str()),
            (Reading::Fail, "2 processes (need 3)")
        );
        let o = check_in(&root.join("missing"), &spec(1));
        assert!(o.broken && o.reading == Reading::Fail, "{o:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn finds_this_test_process_in_proc() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(count(Path::new("/proc"), comm.trim()).unwrap() >= 1);
        assert_eq!(count(Path::new("/proc"), "kvtrack-none-such").unwrap(), 0);
    }
}
