//! One kube-vrrp daemon (`run` or `agent`) per network namespace. A second one would take the
//! first one's addresses for "left behind by an earlier run" and remove them, and both would
//! then send adverts for the same routers.
//!
//! The lock is an abstract unix socket bound by name (`@kube-vrrp`). Abstract socket names
//! belong to the network namespace, so the lock is exactly as wide as what the daemon manages
//! (the addresses of one namespace); the kernel releases the name when the process dies, however
//! it dies, so a crash never leaves a stale lock behind (unlike a pid file); and it needs no
//! writable directory. The holder listens on it, so a second daemon can name the holder's PID
//! (SO_PEERCRED) in its message.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

/// The abstract name (without the leading NUL).
pub const NAME: &[u8] = b"kube-vrrp";

/// Why the lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds it.
    #[error(
        "another kube-vrrp{} is running in this network namespace; it manages the VIPs here, so this one exits without touching anything (stop it first, or run in another network namespace)",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held {
        /// The holder's PID, if it could be learned.
        pid: Option<i32>,
    },
    /// The socket could not be made.
    #[error("cannot take the host lock (abstract unix socket @kube-vrrp): {0}")]
    Io(#[from] std::io::Error),
}

/// Held for as long as this value lives (the process, in practice).
#[derive(Debug)]
pub struct HostLock {
    _listener: UnixListener,
}

impl HostLock {
    /// Take the lock of the current network namespace.
    pub fn take() -> Result<HostLock, LockError> {
        Self::take_named(NAME)
    }

    /// Take a lock of another name (tests).
    pub fn take_named(name: &[u8]) -> Result<HostLock, LockError> {
        let addr = SocketAddr::from_abstract_name(name)?;
        match UnixListener::bind_addr(&addr) {
            Ok(listener) => Ok(HostLock {
                _listener: listener,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                Err(LockError::Held { pid: holder(&addr) })
            }
            Err(e) => Err(LockError::Io(e)),
        }
    }
}

/// The PID of the process listening on `addr`, if it can be learned.
fn holder(addr: &SocketAddr) -> Option<i32> {
    let stream = UnixStream::connect_addr(addr).ok()?;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes and sized as SO_PEERCRED requires.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder() {
        let name = format!("kube-vrrp-test-{}", std::process::id());
        let first = HostLock::take_named(name.as_bytes()).expect("first lock");
        match HostLock::take_named(name.as_bytes()) {
            Err(LockError::Held { pid }) => {
                assert_eq!(pid, Some(std::process::id() as i32));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert!(
            HostLock::take_named(name.as_bytes()).is_ok(),
            "released on drop"
        );
    }
}
