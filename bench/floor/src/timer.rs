//! A monotonic timerfd: the one clock of both loops (keepalived's and kube-vrrp's too: tokio's
//! timer wheel wakes early to cascade a timer seconds away down its levels, a second wake-up
//! per advert that neither of them has).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A monotonic timerfd set to absolute times.
pub struct Timer(pub OwnedFd);

impl Timer {
    /// A disarmed timer.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain timerfd_create(2); the descriptor is owned at once.
        let fd = check(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned and nothing else owns it.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Fire at `at_ns` (CLOCK_MONOTONIC).
    pub fn set(&self, at_ns: u64) {
        set_fd(self.0.as_raw_fd(), at_ns);
    }

    /// Read the expiry count, so that the descriptor stops being readable.
    pub fn drain(&self) {
        drain_fd(self.0.as_raw_fd());
    }
}

/// Set timerfd `fd` to fire at `at_ns` (CLOCK_MONOTONIC).
pub fn set_fd(fd: std::os::fd::RawFd, at_ns: u64) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: (at_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
        },
    };
    // SAFETY: `spec` is valid for the call; the old value is not asked for.
    unsafe { libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
}

/// Read timerfd `fd`'s expiry count, so that it stops being readable.
pub fn drain_fd(fd: std::os::fd::RawFd) {
    let mut n = [0u8; 8];
    // SAFETY: `n` is valid for 8 bytes of writes.
    let _ = unsafe { libc::read(fd, n.as_mut_ptr().cast(), 8) };
}
