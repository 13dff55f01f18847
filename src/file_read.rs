//! Reading the standalone configuration file without trusting it: regular files only (a FIFO
//! would block the reader forever, `/dev/zero` would fill memory), at most [`MAX_BYTES`], never
//! while another process holds it open for writing (a half-written file must never be applied),
//! and never a file that changed while it was read.
//!
//! "Open for writing" is asked of the kernel with a read lease (fcntl `F_SETLEASE`), which it
//! refuses with `EAGAIN` exactly when some process has the file open for writing. Where leases
//! are unavailable (another owner without `CAP_LEASE`, some network file systems), the file is
//! read anyway and only the before/after comparison of its stat guards against a writer.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration file accepted (the keepalived converter's limit too).
pub const MAX_BYTES: u64 = 16 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The system refused (missing, permission, no descriptors left, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A FIFO, device, socket or directory.
    #[error("not a regular file (a {0}); the configuration must be a regular file")]
    NotRegular(&'static str),
    /// Over [`MAX_BYTES`].
    #[error("larger than 16 MiB; a configuration file holds at most 16 MiB")]
    TooLarge,
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// Another process has it open for writing, or it changed while it was read.
    #[error("being written (open for writing by another process, or changed while read)")]
    BeingWritten,
}

impl ReadError {
    /// Whether trying again later can succeed without anyone changing the file.
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadError::BeingWritten | ReadError::Io(_))
    }
}

/// What identifies one version of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The stamp of `path` now (following symlinks), if it can be had.
pub fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
}

fn kind(t: std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("directory")
    } else if t.is_fifo() {
        Some("FIFO")
    } else if t.is_char_device() {
        Some("character device")
    } else if t.is_block_device() {
        Some("block device")
    } else if t.is_socket() {
        Some("socket")
    } else {
        Some("special file")
    }
}

/// Read the whole file, with the checks above; returns its text and stamp.
pub fn read(path: &Path) -> Result<(String, Stamp), ReadError> {
    // Refuse before opening: opening some devices has effects of its own.
    if let Some(k) = kind(std::fs::metadata(path)?.file_type()) {
        return Err(ReadError::NotRegular(k));
    }
    // Non-blocking open: if a FIFO was renamed in since the check, the open does not wait.
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let before = file.metadata()?;
    if let Some(k) = kind(before.file_type()) {
        return Err(ReadError::NotRegular(k));
    }
    if before.len() > MAX_BYTES {
        return Err(ReadError::TooLarge);
    }
    let leased = take_lease(&file)?;
    let mut bytes = Vec::new();
    let read = (&mut file).take(MAX_BYTES + 1).read_to_end(&mut bytes);
    let after = file.metadata();
    if leased {
        release_lease(&file);
    }
    read?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ReadError::TooLarge);
    }
    let stamp = Stamp::of(&before);
    if Stamp::of(&after?) != stamp || bytes.len() as u64 != before.len() {
        return Err(ReadError::BeingWritten);
    }
    let text = String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)?;
    Ok((text, stamp))
}

/// Take a read lease: refused (`BeingWritten`) while any process has the file open for writing.
/// `Ok(false)`: leases are not available here; go on without.
fn take_lease(file: &File) -> Result<bool, ReadError> {
    ignore_sigio();
    // SAFETY: fcntl on a descriptor we own; F_SETLEASE takes an integer argument.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
    if rc == 0 {
        return Ok(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EBUSY) => Err(ReadError::BeingWritten),
        _ => Ok(false),
    }
}

fn release_lease(file: &File) {
    // SAFETY: as above.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
}

/// A writer opening the file while we hold the lease makes the kernel send the lease holder
/// SIGIO, whose default action ends the process. Nothing here uses SIGIO: ignore it (once).
fn ignore_sigio() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety requirements.
        unsafe { libc::signal(libc::SIGIO, libc::SIG_IGN) };
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kvread{}{tag}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_or_too_large() {
        let d = dir("a");
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(ReadError::NotRegular("character device"))
        ));
        assert!(matches!(read(&d), Err(ReadError::NotRegular("directory"))));
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read(&fifo), Err(ReadError::NotRegular("FIFO"))));
        let link = d.join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(read(&link), Err(ReadError::NotRegular(_))));
        let big = d.join("big");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_BYTES + 1).unwrap();
        assert!(matches!(read(&big), Err(ReadError::TooLarge)));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_open_for_writing_is_not_read() {
        let d = dir("b");
        let p = d.join("vips.yaml");
        let mut w = File::create(&p).unwrap();
        w.write_all(b"half").unwrap();
        w.flush().unwrap();
        assert!(matches!(read(&p), Err(ReadError::BeingWritten)));
        w.write_all(b" and the rest").unwrap();
        drop(w);
        assert_eq!(read(&p).unwrap().0, "half and the rest");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
