//! A VRRP packet injector for hostile-condition tests: crafts whole IPv4 packets (any TTL, any
//! source, any bytes) and sends them from inside a bed namespace through a raw socket. It runs on
//! a thread of the test process that joins the namespace with setns(2), so sockets it opens
//! belong to that namespace; the rest of the process is unaffected.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use kube_vrrp::vrrp::packet::{Advert, Auth, MULTICAST_V4, Version};
use socket2::{Domain, Protocol, Socket, Type};

/// One packet to send: IPv4 header fields and the VRRP payload as raw bytes.
#[derive(Clone, Debug)]
pub struct Crafted {
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// TTL.
    pub ttl: u8,
    /// The VRRP message (possibly malformed).
    pub payload: Vec<u8>,
}

/// A well-formed advert's bytes, as `src` would send it to the group.
pub fn advert_bytes(
    src: Ipv4Addr,
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addresses: &[&str],
    auth: Auth,
) -> Vec<u8> {
    advert_bytes_to(
        src,
        MULTICAST_V4,
        version,
        vrid,
        priority,
        interval_cs,
        addresses,
        auth,
    )
}

/// A well-formed advert's bytes from `src` to `dst` (the v3 checksum covers both).
#[allow(clippy::too_many_arguments)]
pub fn advert_bytes_to(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addresses: &[&str],
    auth: Auth,
) -> Vec<u8> {
    let ad = Advert {
        version,
        vrid,
        priority,
        interval_cs,
        addresses: addresses
            .iter()
            .map(|a| a.parse().expect("address"))
            .collect(),
        auth,
    };
    ad.encode(IpAddr::V4(src), IpAddr::V4(dst))
        .expect("encodable advert")
}

fn ipv4_packet(p: &Crafted) -> Vec<u8> {
    let total = 20 + p.payload.len();
    let mut h = vec![0x45, 0xc0];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0, p.ttl, 112, 0, 0]);
    h.extend_from_slice(&p.src.octets());
    h.extend_from_slice(&p.dst.octets());
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(&p.payload);
    h
}

/// Send `packets` round-robin from namespace `ns` out of its eth0, `count` packets in all, at most
/// `rate` per second. Returns how many were sent.
pub fn send(ns: &str, packets: Vec<Crafted>, count: usize, rate: u32) -> usize {
    spawn(ns, packets, count, rate)
        .join()
        .expect("injector thread")
}

/// `send` on a background thread, so a test can assert while the packets keep coming; joining
/// the handle gives how many were sent.
pub fn spawn(
    ns: &str,
    packets: Vec<Crafted>,
    count: usize,
    rate: u32,
) -> std::thread::JoinHandle<usize> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("namespace file");
        // SAFETY: setns on this thread only, with a valid namespace fd.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )
        .expect("raw socket");
        sock.bind_device(Some(b"eth0")).expect("bind eth0");
        let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let start = Instant::now();
        let mut sent = 0;
        for i in 0..count {
            let p = &packets[i % packets.len()];
            let bytes = ipv4_packet(p);
            let to: socket2::SockAddr = SocketAddr::new(IpAddr::V4(p.dst), 0).into();
            if sock.send_to(&bytes, &to).is_ok() {
                sent += 1;
            }
            // Pace to the rate, bounded by the count.
            let due = start + gap * (i as u32 + 1);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        sent
    })
}
