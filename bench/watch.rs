//! What the benchmark watches, without polling and without touching the root namespace:
//! - address events (RTM_NEWADDR / RTM_DELADDR) of every node namespace, from a netlink socket
//!   created inside that namespace (a socket keeps the namespace it was created in);
//! - VRRP adverts and ARP frames on the bed's bridge (an AF_PACKET socket on br0 inside the
//!   switch namespace), with the kernel's receive timestamps.
//!
//! All times are CLOCK_REALTIME seconds (like `ping -D`), so they line up with the client's view.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in seconds since the epoch (CLOCK_REALTIME).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One address appearing on or leaving a node's interface.
#[derive(Debug, Clone)]
pub struct AddrEvent {
    /// When our thread received the notification.
    pub t: f64,
    /// Index of the node in the bed.
    pub node: usize,
    /// The IPv4 address.
    pub addr: String,
    /// RTM_NEWADDR (true) or RTM_DELADDR (false).
    pub added: bool,
}

/// What one frame on the bridge was.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A VRRP packet from `src` (IPv4) for `vrid` with `prio`.
    Vrrp {
        /// Sender.
        src: String,
        /// Virtual router.
        vrid: u8,
        /// Priority (0 = leaving).
        prio: u8,
    },
    /// An ARP frame whose sender protocol address is `ip`.
    Arp {
        /// Sender IP.
        ip: String,
    },
}

/// A frame with its kernel receive time on br0.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Seconds since the epoch.
    pub t: f64,
    /// The frame.
    pub frame: Frame,
}

/// Background watchers for one bed; stopped (and joined) on drop.
pub struct Watch {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Address events from every node, in arrival order per node.
    pub events: Arc<Mutex<Vec<AddrEvent>>>,
    /// Frames seen on the bridge.
    pub frames: Arc<Mutex<Vec<Captured>>>,
    /// Netlink overruns (events lost): must stay 0 for the figures to be trusted.
    pub overruns: Arc<AtomicU64>,
}

/// Run `f` on a thread that has entered the network namespace `ns`, and return its result.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path)?;
        // SAFETY: setns on this (short-lived) thread only; the fd is valid while `file` lives.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| io::Error::other("netns thread panicked"))?
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set_opt(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is a valid buffer of the given length.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn common_opts(fd: &OwnedFd) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: timeval is plain old data.
    let tv_bytes = unsafe {
        std::slice::from_raw_parts(
            (&tv as *const libc::timeval).cast::<u8>(),
            std::mem::size_of::<libc::timeval>(),
        )
    };
    set_opt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, tv_bytes)?;
    set_opt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_RCVBUF,
        &(4_i32 << 20).to_ne_bytes(),
    )
}

/// A netlink socket subscribed to IPv4 address events, created inside `ns`.
fn addr_socket(ns: &str) -> io::Result<OwnedFd> {
    in_netns(ns, || {
        // SAFETY: plain socket call; the result is checked.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain old data; zeroed is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = libc::RTMGRP_IPV4_IFADDR as u32;
        // SAFETY: `sa` is a valid sockaddr_nl.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        common_opts(&fd)?;
        Ok(fd)
    })
}

/// An AF_PACKET socket on `ifname` inside `ns`.
fn packet_socket(ns: &str, ifname: &str) -> io::Result<OwnedFd> {
    let ifname = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
    in_netns(ns, move || {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket call; the result is checked.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(proto),
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a valid NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain old data; zeroed is a valid value.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = index as i32;
        // SAFETY: `sa` is a valid sockaddr_ll.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        common_opts(&fd)?;
        Ok(fd)
    })
}

/// Netlink has no receive timestamps, so an address event is stamped when its watcher thread
/// reads it; on two cores busy with a takeover that read waited up to 3 ms behind the daemon
/// under test (the VIP "appeared" after the advert that followed it on the wire). The watchers
/// therefore run at SCHED_FIFO priority 1: woken before any ordinary process, for both systems
/// alike. They block in `recv` (100 ms timeout), so they cannot hog a core; without the
/// privilege they run as before.
fn realtime() {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: a valid sched_param; 0 is the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        eprintln!(
            "address watcher: no SCHED_FIFO ({}); event times may lag",
            io::Error::last_os_error()
        );
    }
}

/// Receive into `buf`; Ok(None) on the 100 ms timeout.
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
        _ => Err(err),
    }
}

/// SIOCGSTAMPNS: the kernel receive time of the last packet read from the socket.
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;

fn packet_time(fd: &OwnedFd) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the ioctl writes one timespec.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGSTAMPNS as _, &mut ts) };
    if rc == 0 && ts.tv_sec > 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        now()
    }
}

fn ipv4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// Parse the address notifications in one netlink datagram.
fn parse_addr_msgs(buf: &[u8], node: usize, t: f64, out: &mut Vec<AddrEvent>) {
    let mut at = 0;
    while at + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        if len < 16 || at + len > buf.len() {
            break;
        }
        let msg = &buf[at + 16..at + len];
        if (kind == libc::RTM_NEWADDR || kind == libc::RTM_DELADDR)
            && msg.len() >= 8
            && i32::from(msg[0]) == libc::AF_INET
        {
            let mut local = None;
            let mut address = None;
            let mut a = 8;
            while a + 4 <= msg.len() {
                let alen = usize::from(u16::from_ne_bytes([msg[a], msg[a + 1]]));
                let atype = u16::from_ne_bytes([msg[a + 2], msg[a + 3]]);
                if alen < 4 || a + alen > msg.len() {
                    break;
                }
                let data = &msg[a + 4..a + alen];
                if data.len() == 4 {
                    match atype {
                        libc::IFA_LOCAL => local = Some(ipv4(data)),
                        libc::IFA_ADDRESS => address = Some(ipv4(data)),
                        _ => {}
                    }
                }
                a += (alen + 3) & !3;
            }
            if let Some(addr) = local.or(address) {
                out.push(AddrEvent {
                    t,
                    node,
                    addr,
                    added: kind == libc::RTM_NEWADDR,
                });
            }
        }
        at += (len + 3) & !3;
    }
}

/// Classify one Ethernet frame (VRRP over IPv4, or ARP).
fn parse_frame(f: &[u8]) -> Option<Frame> {
    if f.len() < 14 {
        return None;
    }
    let ethertype = u16::from_be_bytes([f[12], f[13]]);
    let p = &f[14..];
    match ethertype {
        0x0800 if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if p[9] != 112 || p.len() < ihl + 4 {
                return None;
            }
            Some(Frame::Vrrp {
                src: ipv4(&p[12..16]),
                vrid: p[ihl + 1],
                prio: p[ihl + 2],
            })
        }
        0x0806 if p.len() >= 28 => Some(Frame::Arp {
            ip: ipv4(&p[14..18]),
        }),
        _ => None,
    }
}

impl Watch {
    /// Watch the address events of `nodes` (namespace names, in bed order) and the frames on
    /// `br0` in `switch`.
    pub fn start(nodes: &[String], switch: &str) -> io::Result<Watch> {
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let overruns = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for (node, ns) in nodes.iter().enumerate() {
            let fd = addr_socket(ns)?;
            let (stop, events, overruns) = (stop.clone(), events.clone(), overruns.clone());
            threads.push(std::thread::spawn(move || {
                realtime();
                let mut buf = vec![0u8; 1 << 16];
                let mut batch = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match recv(&fd, &mut buf) {
                        Ok(Some(n)) => {
                            let t = now();
                            parse_addr_msgs(&buf[..n], node, t, &mut batch);
                            if !batch.is_empty()
                                && let Ok(mut e) = events.lock()
                            {
                                e.append(&mut batch);
                            }
                        }
                        Ok(None) => {}
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            overruns.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
            }));
        }
        let fd = packet_socket(switch, "br0")?;
        let (stop2, frames2) = (stop.clone(), frames.clone());
        threads.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while !stop2.load(Ordering::Relaxed) {
                match recv(&fd, &mut buf) {
                    Ok(Some(n)) => {
                        let t = packet_time(&fd);
                        if let Some(frame) = parse_frame(&buf[..n])
                            && let Ok(mut f) = frames2.lock()
                        {
                            f.push(Captured { t, frame });
                        }
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        }));
        Ok(Watch {
            stop,
            threads,
            events,
            frames,
            overruns,
        })
    }

    /// A copy of the address events so far.
    pub fn addr_events(&self) -> Vec<AddrEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// A copy of the frames so far.
    pub fn captured(&self) -> Vec<Captured> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Which nodes hold `addr` now, according to the events so far.
    pub fn holders(&self, addr: &str, n_nodes: usize) -> Vec<usize> {
        let events = self.addr_events();
        (0..n_nodes)
            .filter(|&n| {
                intervals(&events, n, addr)
                    .last()
                    .is_some_and(|i| i.1.is_infinite())
            })
            .collect()
    }

    /// Wait (bounded, polling our own memory every 2 ms) until `f` holds over the holders.
    pub fn wait_holders(
        &self,
        addr: &str,
        n_nodes: usize,
        timeout: Duration,
        f: impl Fn(&[usize]) -> bool,
    ) -> bool {
        let end = std::time::Instant::now() + timeout;
        loop {
            if f(&self.holders(addr, n_nodes)) {
                return true;
            }
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The intervals during which `node` held `addr`: (from, to), `to` infinite while it still does.
/// Repeated RTM_NEWADDR (lifetime refreshes) do not start a new interval.
pub fn intervals(events: &[AddrEvent], node: usize, addr: &str) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut holding = false;
    for e in events.iter().filter(|e| e.node == node && e.addr == addr) {
        if e.added && !holding {
            out.push((e.t, f64::INFINITY));
            holding = true;
        } else if !e.added && holding {
            if let Some(last) = out.last_mut() {
                last.1 = e.t;
            }
            holding = false;
        }
    }
    out
}
