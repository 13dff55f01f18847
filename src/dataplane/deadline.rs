//! The engines' deadlines: one Linux timerfd (CLOCK_MONOTONIC, the clock of `Instant`) shared
//! by every instance of the process, as keepalived keeps one timer list for all its instances.
//!
//! Why not tokio's timers: they round a deadline up to the next millisecond (3% of a
//! Master_Down_Interval at 10 ms adverts), a sleep longer than 64 ms wakes the process twice
//! (once to move it down the timer wheel), and the first timer set after the only one fired
//! writes the runtime's eventfd to wake a thread that is already awake: three wake-ups per
//! advert for a lone master, where this timer costs one. Why not a timerfd per instance: 255
//! of them fire apart, a wake-up each; here deadlines within an instance's slack (a
//! thousandth of its advert interval, at most 1 ms) fire together.
//!
//! Every deadline woken by one expiry is told the same instant, the time the expiry was seen
//! (keepalived computes every timer of a loop pass from one cached time): the engines that
//! fire together set their next deadlines from it alike, so they keep firing together rather
//! than drifting apart by the time each took to run.
//!
//! A deadline that moves later (a backup hearing its master) re-arms the timerfd only once
//! the tasks woken with it have run, when other deadlines share the timer: a burst of 255
//! adverts then costs one `timerfd_settime`, not 255. Until then the timerfd may fire early,
//! which finds nothing due and re-arms; it never fires late, because a deadline that moves
//! earlier re-arms at once.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The most a deadline may fire late so that it can share a wake-up with others.
const MAX_SLACK: Duration = Duration::from_millis(1);

/// Handle to the process's shared timer; cheap to clone.
#[derive(Clone, Debug)]
pub struct Timers {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Debug)]
struct Shared {
    fd: Arc<AsyncFd<OwnedFd>>,
    /// Pending deadlines by (latest time to fire, id).
    entries: BTreeMap<(Instant, u64), Entry>,
    /// When the timerfd is set to expire.
    armed: Option<Instant>,
    /// A later deadline is waiting for the serving task to re-arm (see the module's notes).
    rearm_pending: bool,
    /// Wakes the serving task for that re-arm.
    rearm_later: Arc<Notify>,
    /// When the serving task last found deadlines due: the instant each of them fired at.
    expired_at: Option<Instant>,
    next_id: u64,
    /// The keys of due entries, kept between expiries (no allocation per wake-up).
    due_keys: Vec<(Instant, u64)>,
    /// One `Instant` and the CLOCK_MONOTONIC time read just after it, to give the timerfd
    /// absolute times without reading the clock for each.
    clock_base: (Instant, u128),
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    waker: Option<Waker>,
}

impl Timers {
    /// Create the timerfd and the task that serves it; needs a tokio runtime.
    pub fn start() -> io::Result<Timers> {
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
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(io::Error::from)?;
        let fd = Arc::new(fd);
        let rearm_later = Arc::new(Notify::new());
        let shared = Arc::new(Mutex::new(Shared {
            fd: fd.clone(),
            entries: BTreeMap::new(),
            armed: None,
            rearm_pending: false,
            rearm_later: rearm_later.clone(),
            expired_at: None,
            next_id: 0,
            due_keys: Vec::new(),
            clock_base: clock_base()?,
        }));
        tokio::spawn(serve(fd, rearm_later, Arc::downgrade(&shared)));
        Ok(Timers { shared })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

/// The shared state, also after a panic elsewhere poisoned the lock (it stays consistent: no
/// method panics halfway).
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wake the owners of due deadlines whenever the timerfd expires, and re-arm when asked;
/// ends with the last handle.
async fn serve(fd: Arc<AsyncFd<OwnedFd>>, rearm_later: Arc<Notify>, shared: Weak<Mutex<Shared>>) {
    // Kept across expiries: no allocation per wake-up.
    let mut due = Vec::new();
    loop {
        let expired = tokio::select! {
            guard = fd.readable() => {
                let Ok(mut guard) = guard else {
                    return;
                };
                // The expiry count is not read: due entries are found by time, and the re-arm
                // below (`timerfd_settime`) resets the count and the readiness alike, so the
                // next expiry is a new edge for epoll. One system call fewer per wake-up.
                guard.clear_ready();
                true
            }
            () = rearm_later.notified() => false,
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        {
            let mut s = lock(&shared);
            s.rearm_pending = false;
            if expired {
                s.armed = None;
                let now = Instant::now();
                s.expired_at = Some(now);
                s.take_due(now, &mut due);
            }
            s.rearm();
        }
        for waker in due.drain(..) {
            waker.wake();
        }
    }
}

impl Shared {
    /// Remove every entry whose deadline has passed and add the wakers to call to `wakers`.
    fn take_due(&mut self, now: Instant, wakers: &mut Vec<Waker>) {
        // An entry that is due has its latest time before now + MAX_SLACK: look no further.
        let mut keys = std::mem::take(&mut self.due_keys);
        keys.extend(
            self.entries
                .range(..(now + MAX_SLACK, u64::MAX))
                .filter(|(_, e)| e.at <= now)
                .map(|(k, _)| *k),
        );
        wakers.extend(
            keys.drain(..)
                .filter_map(|k| self.entries.remove(&k).and_then(|e| e.waker)),
        );
        self.due_keys = keys;
    }

    /// Forget the entry under `key`, if it is still there, and re-arm for the rest.
    fn forget(&mut self, key: (Instant, u64)) {
        self.entries.remove(&key);
        self.rearm();
    }

    /// After a deadline moved: re-arm now if the timerfd would fire too late, else (it would
    /// fire early, and other deadlines share it) once the woken tasks have run.
    fn rearm_soon(&mut self) {
        let want = self.entries.keys().next().map(|(latest, _)| *latest);
        match (want, self.armed) {
            (Some(want), Some(armed)) if want > armed && self.entries.len() > 1 => {
                if !self.rearm_pending {
                    self.rearm_pending = true;
                    self.rearm_later.notify_one();
                }
            }
            _ => self.rearm(),
        }
    }

    /// Set the timerfd to the earliest latest-time, or disarm it.
    fn rearm(&mut self) {
        let want = self.entries.keys().next().map(|(latest, _)| *latest);
        if want == self.armed {
            return;
        }
        match settime(&self.fd, self.clock_base, want) {
            Ok(()) => self.armed = want,
            // Cannot happen with a valid timerfd and time; keep the old arming.
            Err(e) => tracing::warn!(error = %e, "timerfd_settime failed"),
        }
    }
}

impl Drop for Shared {
    /// Wake the serving task so that it sees the handles gone and ends.
    fn drop(&mut self) {
        let _ = settime(&self.fd, self.clock_base, Some(Instant::now()));
    }
}

/// `Instant::now()`, then CLOCK_MONOTONIC in nanoseconds. They are the same clock (`Instant`
/// reads CLOCK_MONOTONIC on Linux, but does not expose it); read in this order, a time
/// converted with the pair is a few nanoseconds late at most, never early (a timerfd that fired
/// early would find nothing due and cost a wake-up).
fn clock_base() -> io::Result<(Instant, u128)> {
    let base = Instant::now();
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        base,
        now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128,
    ))
}

/// Arm `fd` to expire at `at` (at once if it has passed), or disarm it with `None`; `base`
/// from [`clock_base`].
fn settime(fd: &AsyncFd<OwnedFd>, base: (Instant, u128), at: Option<Instant>) -> io::Result<()> {
    let value = match at {
        // The kernel takes an absolute CLOCK_MONOTONIC time. At least 1 ns: all zero would
        // disarm.
        Some(at) => {
            let at_ns = base
                .1
                .saturating_add(at.saturating_duration_since(base.0).as_nanos())
                .max(1);
            libc::timespec {
                tv_sec: (at_ns / 1_000_000_000) as _,
                tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
            }
        }
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
            fd.as_raw_fd(),
            libc::TFD_TIMER_ABSTIME,
            &spec,
            std::ptr::null_mut(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The timer of one instance's engine: fires once at the instant set.
#[derive(Debug)]
pub enum EngineTimer {
    /// On the shared timerfd.
    Shared(Alarm),
    /// tokio's timer, when no timerfd could be had (millisecond precision).
    Coarse(Option<Instant>),
}

/// One instance's entry in [`Timers`].
#[derive(Debug)]
pub struct Alarm {
    timers: Timers,
    id: u64,
    slack: Duration,
    /// The entry's key while one is registered (it is gone once fired).
    key: Option<(Instant, u64)>,
    at: Option<Instant>,
}

impl EngineTimer {
    /// The timer for an instance advertising every `interval`, on `timers` if there are.
    pub fn new(timers: Option<&Timers>, interval: Duration) -> EngineTimer {
        match timers {
            Some(t) => EngineTimer::Shared(Alarm::new(t, interval)),
            None => EngineTimer::Coarse(None),
        }
    }

    /// Fire at `at`, or never. Setting the instant already set costs nothing.
    pub fn set(&mut self, at: Option<Instant>) {
        match self {
            EngineTimer::Shared(a) => a.set(at),
            EngineTimer::Coarse(c) => *c = at,
        }
    }

    /// Wait until the instant set; never completes while unset. Returns when the deadline was
    /// seen to pass: for every deadline of one expiry of the shared timer, the same instant.
    /// Cancel-safe: dropping the future leaves the timer set.
    pub async fn fired(&mut self) -> Instant {
        match self {
            EngineTimer::Shared(a) => std::future::poll_fn(|cx| a.poll_fired(cx.waker())).await,
            EngineTimer::Coarse(Some(at)) => {
                tokio::time::sleep_until(*at).await;
                *self = EngineTimer::Coarse(None);
                Instant::now()
            }
            EngineTimer::Coarse(None) => std::future::pending().await,
        }
    }
}

impl Alarm {
    fn new(timers: &Timers, interval: Duration) -> Alarm {
        let id = {
            let mut s = timers.lock();
            s.next_id += 1;
            s.next_id
        };
        Alarm {
            timers: timers.clone(),
            id,
            slack: (interval / 1000).min(MAX_SLACK),
            key: None,
            at: None,
        }
    }

    fn set(&mut self, at: Option<Instant>) {
        if at == self.at {
            return;
        }
        let mut s = self.timers.lock();
        let old = self.key.take();
        // The new entry goes in before the old one comes out, so that a lone instance's map
        // never empties: an empty BTreeMap frees its node and the next insert allocates one.
        let waker = old
            .and_then(|k| s.entries.get_mut(&k))
            .and_then(|e| e.waker.take());
        if let Some(at) = at {
            let key = (at + self.slack, self.id);
            s.entries.insert(key, Entry { at, waker });
            self.key = Some(key);
        }
        if let Some(k) = old.filter(|k| Some(*k) != self.key) {
            s.entries.remove(&k);
        }
        s.rearm_soon();
        self.at = at;
    }

    /// Ready once the instant set has passed (and then unset until set again), with the
    /// instant it was seen to pass.
    fn poll_fired(&mut self, waker: &Waker) -> Poll<Instant> {
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        let mut s = self.timers.lock();
        let now = Instant::now();
        let fired_at = match self.key.and_then(|k| s.entries.get_mut(&k)) {
            Some(entry) if at > now => {
                if !entry.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    entry.waker = Some(waker.clone());
                }
                return Poll::Pending;
            }
            // Due already, before the serving task saw it.
            Some(_) => now,
            // Fired by the serving task, with the others of that expiry.
            None => s.expired_at.filter(|t| *t >= at).unwrap_or(now),
        };
        if let Some(k) = self.key.take() {
            s.forget(k);
        }
        self.at = None;
        Poll::Ready(fired_at)
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.timers.lock().forget(k);
        }
    }
}

#[cfg(test)]
mod tests;
