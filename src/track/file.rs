//! The file tracker (keepalived's `vrrp_track_file`): the file holds an integer that, times the
//! weight, adjusts the priority (weight 0: any non-zero value is a Fault; a product of -254 or
//! less is a Fault). A missing or empty file counts as 0, as in keepalived. Content that is not
//! one decimal integer, or a file that cannot be read, is a failed check with the reason in the
//! status and log (keepalived silently reads such content as 0).
//!
//! The file is re-read every `interval` (default 1 s, down to 10 ms) rather than watched
//! with inotify: no extra dependency, nothing to re-arm when the file is replaced by a rename,
//! and a change is seen within one interval.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{Observation, Reading};

/// keepalived reads at most 127 bytes; a value needs far fewer.
const MAX_LEN: u64 = 128;

/// Interpret the content of a tracked file.
pub fn parse(content: &[u8]) -> Observation {
    let Ok(text) = std::str::from_utf8(content) else {
        return Observation::new(Reading::Fail, "not an integer: not UTF-8 text".into());
    };
    let text = text.trim();
    if text.is_empty() {
        return Observation::new(Reading::Value(0), "empty (counts as 0)".into());
    }
    match text.parse::<i64>() {
        Ok(v) => Observation::new(Reading::Value(v), format!("value {v}")),
        Err(_) => {
            let shown: String = text.chars().take(32).collect();
            Observation::new(Reading::Fail, format!("not an integer: {shown:?}"))
        }
    }
}

/// Read the file once. Regular files only: the read runs on the engine's thread, and opening
/// a FIFO would wait for a writer forever (the open is non-blocking, then refused).
pub fn check(path: &Path) -> Observation {
    let mut content = Vec::new();
    let read = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .and_then(|f| {
            if !f.metadata()?.is_file() {
                return Err(std::io::Error::other(
                    "not a regular file (a tracked file must be one)",
                ));
            }
            f.take(MAX_LEN).read_to_end(&mut content).map(|_| ())
        });
    match read {
        Ok(()) => parse(&content),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Observation::new(Reading::Value(0), "missing (counts as 0)".into())
        }
        Err(e) => Observation::new(Reading::Fail, format!("unreadable: {e}")),
    }
}

/// Read every `every` (the first read after one period: the caller made the initial one),
/// sending each result until the receiver goes away.
pub async fn run(
    path: PathBuf,
    every: Duration,
    index: usize,
    tx: mpsc::Sender<(usize, Observation)>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Off the engine's runtime: a file on a slow or hung filesystem delays only this tracker.
        let read = path.clone();
        let observation = tokio::task::spawn_blocking(move || check(&read))
            .await
            .unwrap_or_else(|e| {
                Observation::broken(format!("reading {} failed: {e}", path.display()))
            });
        if tx.send((index, observation)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_and_refuses_the_rest() {
        let r = |s: &[u8]| parse(s).reading;
        assert_eq!(r(b"7\n"), Reading::Value(7));
        assert_eq!(r(b"  -12  "), Reading::Value(-12));
        assert_eq!(r(b"+3"), Reading::Value(3));
        assert_eq!(r(b""), Reading::Value(0));
        assert_eq!(r(b"\n"), Reading::Value(0));
        assert_eq!(r(b"abc"), Reading::Fail);
        assert_eq!(r(b"7 8"), Reading::Fail);
        assert_eq!(r(b"1.5"), Reading::Fail);
        assert_eq!(r(b"\xff\xfe"), Reading::Fail);
        assert_eq!(parse(b"abc").detail, "not an integer: \"abc\"");
        assert_eq!(parse(b"42").detail, "value 42");
    }

    #[test]
    fn missing_counts_as_zero_and_unreadable_fails() {
        let dir = std::env::temp_dir().join(format!("kvtrack-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let o = check(&dir.join("absent"));
        assert_eq!(o.reading, Reading::Value(0));
        assert_eq!(o.detail, "missing (counts as 0)", "{o:?}");
        std::fs::write(dir.join("v"), "5\n").unwrap();
        assert_eq!(check(&dir.join("v")).reading, Reading::Value(5));
        // A directory cannot be read as a file.
        let o = check(&dir);
        assert_eq!(o.reading, Reading::Fail);
        assert!(o.detail.starts_with("unreadable"), "{o:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
