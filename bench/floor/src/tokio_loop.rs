//! The floor on a current-thread tokio runtime, the way kube-vrrp runs (one thread, the
//! sockets and the timerfd behind `AsyncFd`), but one task for everything.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::timer::{Timer, now_ns};
use crate::wire::{self, Lifetimes};
use crate::{Config, REFRESH};

/// Run `cfg` until killed.
pub fn run(cfg: &Config) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    rt.block_on(async {
        let index = wire::ifindex(&cfg.interface)?;
        let sock = wire::vrrp_socket(&cfg.interface, index, cfg.source)?;
        let timer = Timer::new()?;
        // SAFETY: the descriptors are owned by their AsyncFd and closed only when it is dropped.
        let timer = unsafe { AsyncFd::register_with_interest(timer.0, Interest::READABLE) }?;
        if cfg.master {
            master(
                cfg,
                sock.as_raw_fd(),
                timer,
                Lifetimes::open(index, cfg.lifetime())?,
            )
            .await
        } else {
            // SAFETY: as above.
            let sock = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }?;
            backup(cfg, sock, timer).await
        }
    })
}

fn set(timer: &AsyncFd<OwnedFd>, at_ns: u64) {
    crate::timer::set_fd(timer.as_raw_fd(), at_ns);
}

async fn expired(timer: &AsyncFd<OwnedFd>) -> io::Result<()> {
    let mut guard = timer.readable().await?;
    crate::timer::drain_fd(timer.as_raw_fd());
    guard.clear_ready();
    Ok(())
}

async fn master(
    cfg: &Config,
    sock: i32,
    timer: AsyncFd<OwnedFd>,
    mut lifetimes: Lifetimes,
) -> io::Result<()> {
    let adverts = cfg.adverts();
    for &(_, vip) in &cfg.routers {
        lifetimes.refresh(vip)?;
    }
    let interval = cfg.interval.as_nanos() as u64;
    let mut next = now_ns() + interval;
    let mut refreshed = now_ns();
    set(&timer, next);
    loop {
        expired(&timer).await?;
        for a in &adverts {
            wire::send_advert(sock, a);
        }
        if next - refreshed >= REFRESH.as_nanos() as u64 {
            for &(_, vip) in &cfg.routers {
                lifetimes.refresh(vip)?;
            }
            refreshed = next;
        }
        next += interval;
        set(&timer, next);
    }
}

async fn backup(cfg: &Config, sock: AsyncFd<OwnedFd>, timer: AsyncFd<OwnedFd>) -> io::Result<()> {
    let down = cfg.down_interval().as_nanos() as u64;
    let mut deadlines: Vec<Option<u64>> = vec![None; 256];
    let start = now_ns() + down;
    for &(vrid, _) in &cfg.routers {
        deadlines[usize::from(vrid)] = Some(start);
    }
    set(&timer, start);
    let mut buf = [0u8; 2048];
    let mut missed = 0u64;
    loop {
        tokio::select! {
            biased;
            guard = sock.readable() => {
                let mut guard = guard?;
                let now = now_ns();
                while let Some(n) = wire::recv(sock.as_raw_fd(), &mut buf) {
                    if let Some(v) = wire::accepted_vrid(&buf[..n], &cfg.password)
                        && let Some(d) = deadlines[usize::from(v)].as_mut()
                    {
                        *d = now + down;
                    }
                }
                guard.clear_ready();
            }
            r = expired(&timer) => {
                r?;
                // Master down: the floor does not take over; it counts and waits again.
                let now = now_ns();
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
            set(&timer, *e);
        }
    }
}
