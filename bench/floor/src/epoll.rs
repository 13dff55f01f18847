//! The floor on epoll and one timerfd by hand: keepalived's shape (its scheduler is an epoll
//! loop over a timerfd set to the earliest timer), in Rust.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::timer::{Timer, now_ns};
use crate::wire::{self, Lifetimes};
use crate::{Config, REFRESH};

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

struct Epoll(OwnedFd);

impl Epoll {
    fn new(fds: &[RawFd]) -> io::Result<Self> {
        // SAFETY: plain epoll_create1(2); the descriptor is owned at once.
        let ep = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `ep` was just returned and nothing else owns it.
        let ep = Self(unsafe { OwnedFd::from_raw_fd(ep) });
        for &fd in fds {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            // SAFETY: `ev` is valid for the call.
            check(unsafe { libc::epoll_ctl(ep.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        }
        Ok(ep)
    }

    /// Wait without a timeout (the timerfd is the only clock); the ready descriptors.
    fn wait(&self, out: &mut Vec<RawFd>) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `evs` is valid for 8 events.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), 8, -1) };
        out.clear();
        out.extend(evs[..n.max(0) as usize].iter().map(|e| e.u64 as RawFd));
    }
}

/// Run `cfg` until killed.
pub fn run(cfg: &Config) -> io::Result<()> {
    let index = wire::ifindex(&cfg.interface)?;
    let sock = wire::vrrp_socket(&cfg.interface, index, cfg.source)?;
    let timer = Timer::new()?;
    let interval = cfg.interval.as_nanos() as u64;
    let mut ready = Vec::new();
    if cfg.master {
        let mut lifetimes = Lifetimes::open(index, cfg.lifetime())?;
        for &(_, vip) in &cfg.routers {
            lifetimes.refresh(vip)?;
        }
        let adverts = cfg.adverts();
        let ep = Epoll::new(&[timer.0.as_raw_fd()])?;
        let mut next = now_ns() + interval;
        let mut refreshed = now_ns();
        timer.set(next);
        loop {
            ep.wait(&mut ready);
            timer.drain();
            for a in &adverts {
                wire::send_advert(sock.as_raw_fd(), a);
            }
            if next - refreshed >= REFRESH.as_nanos() as u64 {
                for &(_, vip) in &cfg.routers {
                    lifetimes.refresh(vip)?;
                }
                refreshed = next;
            }
            next += interval;
            timer.set(next);
        }
    }
    let down = cfg.down_interval().as_nanos() as u64;
    let mut deadlines: Vec<Option<u64>> = vec![None; 256];
    let start = now_ns() + down;
    for &(vrid, _) in &cfg.routers {
        deadlines[usize::from(vrid)] = Some(start);
    }
    let ep = Epoll::new(&[sock.as_raw_fd(), timer.0.as_raw_fd()])?;
    timer.set(start);
    let mut buf = [0u8; 2048];
    let mut missed = 0u64;
    loop {
        ep.wait(&mut ready);
        let now = now_ns();
        for &fd in &ready {
            if fd == sock.as_raw_fd() {
                while let Some(n) = wire::recv(fd, &mut buf) {
                    if let Some(v) = wire::accepted_vrid(&buf[..n], &cfg.password)
                        && let Some(d) = deadlines[usize::from(v)].as_mut()
                    {
                        *d = now + down;
                    }
                }
            } else {
                timer.drain();
                // Master down: the floor does not take over; it counts and waits again.
                for d in deadlines.iter_mut().flatten().filter(|d| **d <= now) {
                    missed += 1;
                    *d = now + down;
                }
                if missed == 1 {
                    eprintln!("idle-floor: no advert within Master_Down_Interval");
                }
            }
        }
        if let Some(e) = deadlines.iter().flatten().min() {
            timer.set(*e);
        }
    }
}
