//! Wakes `kube-vrrp run` when its configuration file may have changed, without polling it: an
//! inotify watch on the file's directory, because editors replace a file by renaming a new one
//! over it and Kubernetes ConfigMap volumes swap a `..data` symlink, neither of which a watch on
//! the file itself sees. Any event in the directory only means "look again": the caller compares
//! the file's stat and content. A slow timer covers what inotify cannot see (the directory itself
//! replaced, network file systems) and re-arms the watch. Without inotify, the timer ticks every
//! second instead.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::{Interval, MissedTickBehavior};

/// How often to look anyway while inotify works.
const FALLBACK: Duration = Duration::from_secs(30);
/// How often to look when inotify is unavailable.
const POLL: Duration = Duration::from_secs(1);

/// Events that can mean the file changed: written and closed, created or moved in (a rename over
/// it, a symlink swap), deleted, attributes changed, the directory itself moved or deleted.
const MASK: u32 = libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_TO
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

/// A watch on the directory of one file.
#[derive(Debug)]
pub struct FileWatch {
    dir: PathBuf,
    inotify: Option<AsyncFd<OwnedFd>>,
    timer: Interval,
}

impl FileWatch {
    /// Watch the directory holding `file`. Never fails: without inotify it polls every second.
    pub fn new(file: &Path) -> FileWatch {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let inotify = match open(&dir) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "no inotify watch: checking the configuration file every second");
                None
            }
        };
        let period = if inotify.is_some() { FALLBACK } else { POLL };
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        FileWatch {
            dir,
            inotify,
            timer,
        }
    }

    /// Wait until the file may have changed (an event in its directory, or the timer).
    pub async fn changed(&mut self) {
        let Some(fd) = &self.inotify else {
            self.timer.tick().await;
            return;
        };
        tokio::select! {
            ready = fd.readable() => match ready {
                Ok(mut guard) => {
                    drain(guard.get_inner().as_raw_fd());
                    guard.clear_ready();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "inotify failed: checking the configuration file every second");
                    self.inotify = None;
                    self.timer = tokio::time::interval(POLL);
                }
            },
            _ = self.timer.tick() => {
                // The directory may have been replaced: watch whatever is there now (the same
                // directory keeps its watch).
                if let Err(e) = add_watch(fd.get_ref().as_raw_fd(), &self.dir) {
                    tracing::debug!(dir = %self.dir.display(), error = %e, "cannot re-arm the inotify watch");
                }
            }
        }
    }
}

fn open(dir: &Path) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: inotify_init1 takes no pointers; a non-negative result is a new descriptor we own.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    add_watch(fd.as_raw_fd(), dir)?;
    // SAFETY: the AsyncFd owns the descriptor, so it stays open for as long as it is registered.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into())
}

fn add_watch(fd: i32, dir: &Path) -> std::io::Result<()> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    if unsafe { libc::inotify_add_watch(fd, path.as_ptr(), MASK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Read and discard every pending event: which file it names does not matter.
fn drain(fd: i32) {
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        // SAFETY: `buf` is valid for writes of its length for the duration of the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rename_over_the_file_wakes_the_watch() {
        let dir = std::env::temp_dir().join(format!("kvwatch{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vips.yaml");
        std::fs::write(&file, "a").unwrap();
        let mut watch = FileWatch::new(&file);
        assert!(watch.inotify.is_some(), "inotify is available on Linux");
        // Nothing happens: no wake-up (bounded wait).
        let quiet = tokio::time::timeout(Duration::from_millis(200), watch.changed()).await;
        assert!(quiet.is_err(), "woke without a change");
        // An editor's save: write a new file, rename it over the old one.
        let tmp = dir.join(".vips.yaml.swp");
        std::fs::write(&tmp, "b").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(5), watch.changed()).await;
        assert!(woke.is_ok(), "no wake-up after a rename");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
