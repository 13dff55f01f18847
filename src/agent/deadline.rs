//! A one-shot timer with microsecond precision for the engine's deadline: a Linux timerfd on
//! CLOCK_MONOTONIC (the clock of `Instant`), registered with tokio.
//!
//! tokio's own timers round a deadline up to the next millisecond, which at 10 ms adverts is 3%
//! of a Master_Down_Interval; a timerfd fires within the kernel's timer slack (50 µs). It costs
//! a descriptor and a wake-up per deadline, where tokio's timer wheel serves every instance of
//! the process from user space and fires those due in the same millisecond together, so an
//! instance uses it only where a millisecond matters ([`EngineTimer`]).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// A timer that is either disarmed or set to one instant.
#[derive(Debug)]
pub struct Deadline {
    fd: AsyncFd<OwnedFd>,
    armed: Option<Instant>,
}

impl Deadline {
    /// A disarmed timer.
    pub fn new() -> io::Result<Deadline> {
        // SAFETY: no pointers; a non-negative result is a new descriptor that we own.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the AsyncFd owns the descriptor, so it stays open while registered.
        let fd = unsafe { AsyncFd::register(fd) }?;
        Ok(Deadline { fd, armed: None })
    }

    /// Fire at `at` (at once if it has passed), or never with `None`. Re-arming to the
    /// instant already set costs nothing.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let value = match at {
            // The kernel takes an absolute CLOCK_MONOTONIC time; `Instant` reads the same
            // clock but does not expose it, so go through the time left.
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                let mut now = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: `now` is a valid timespec to write.
                if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                let now_ns = now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128;
                let at_ns = now_ns + left.as_nanos();
                libc::timespec {
                    tv_sec: (at_ns / 1_000_000_000) as libc::time_t,
                    tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
                }
            }
            // All zero disarms.
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: a valid timerfd and a valid itimerspec; the old value is not asked for.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = at;
        Ok(())
    }

    /// Wait until the armed instant; never completes while disarmed. Cancel-safe: dropping the
    /// future leaves the timer armed.
    pub async fn fired(&mut self) {
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    guard.get_inner().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                self.armed = None;
                // Not readable again before the next expiry, which the kernel signals anew:
                // no need to learn it from an EAGAIN.
                guard.clear_ready();
                return;
            }
            // EAGAIN: readiness from an expiry that a later re-arm cancelled.
            guard.clear_ready();
        }
    }
}

/// Advert intervals below which an instance's deadlines run on a [`Deadline`] instead of
/// tokio's millisecond timers: from 100 ms up, a millisecond is at most 0.3% of a
/// Master_Down_Interval, and tokio's timer wheel is cheaper with many instances (255 instances at
/// 1 s adverts, a timerfd each: the master's CPU went up by about 60%, one wake-up per timer).
pub const PRECISE_BELOW: Duration = Duration::from_millis(100);

/// The timer of one instance's engine: a timerfd for short advert intervals, tokio's otherwise.
#[derive(Debug)]
pub enum EngineTimer {
    /// Microseconds, one descriptor.
    Precise(Deadline),
    /// Milliseconds, tokio's shared timer wheel.
    Coarse(Option<Instant>),
}

impl EngineTimer {
    /// The timer for an instance advertising every `interval`.
    pub fn for_interval(interval: Duration) -> EngineTimer {
        if interval >= PRECISE_BELOW {
            return EngineTimer::Coarse(None);
        }
        match Deadline::new() {
            Ok(d) => EngineTimer::Precise(d),
            Err(e) => {
                tracing::warn!(error = %e, "no timerfd: deadlines have millisecond precision");
                EngineTimer::Coarse(None)
            }
        }
    }

    /// Fire at `at`, or never.
    pub fn set(&mut self, at: Option<Instant>) {
        match self {
            EngineTimer::Precise(d) => {
                if let Err(e) = d.set(at) {
                    tracing::warn!(error = %e, "timerfd failed: deadlines have millisecond precision");
                    *self = EngineTimer::Coarse(at);
                }
            }
            EngineTimer::Coarse(c) => *c = at,
        }
    }

    /// Wait until the instant set; never completes while unset.
    pub async fn fired(&mut self) {
        match self {
            EngineTimer::Precise(d) => d.fired().await,
            EngineTimer::Coarse(Some(at)) => tokio::time::sleep_until(*at).await,
            EngineTimer::Coarse(None) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_at_the_instant_and_not_before() {
        let mut d = Deadline::new().unwrap();
        let start = Instant::now();
        d.set(Some(start + Duration::from_millis(30))).unwrap();
        d.fired().await;
        assert!(start.elapsed() >= Duration::from_millis(30));
        // Disarmed now: waiting again does not complete.
        let again = tokio::time::timeout(Duration::from_millis(50), d.fired()).await;
        assert!(again.is_err());
    }

    #[tokio::test]
    async fn a_moved_deadline_replaces_the_old_one() {
        let mut d = Deadline::new().unwrap();
        let start = Instant::now();
        d.set(Some(start + Duration::from_millis(10))).unwrap();
        d.set(Some(start + Duration::from_millis(60))).unwrap();
        d.fired().await;
        assert!(start.elapsed() >= Duration::from_millis(60));
        // A passed instant fires at once; disarming stops it.
        d.set(Some(start)).unwrap();
        d.fired().await;
        d.set(Some(Instant::now() + Duration::from_millis(5)))
            .unwrap();
        d.set(None).unwrap();
        let never = tokio::time::timeout(Duration::from_millis(50), d.fired()).await;
        assert!(never.is_err());
    }
}
