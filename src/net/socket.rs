//! Raw IP protocol 112 sockets on one interface.
//!
//! Two sockets per interface and family: a receiver bound to the device that joins the VRRP
//! group, and a sender bound to the router's primary address (so the source address is the one
//! the engine advertises and tie-breaks on) with multicast loopback off, so we never hear
//! ourselves. TTL / hop limit 255 on every send (RFC 5798 §5.1.1.3, §5.1.2.3).
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, SystemTime};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::vrrp::packet::{self, Discard, IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, VRRP_TTL};

/// A packet as received: addresses, TTL / hop limit and the VRRP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Sender.
    pub src: IpAddr,
    /// Destination (the group, or our address in unicast mode).
    pub dst: IpAddr,
    /// TTL or hop limit as received.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: Vec<u8>,
    /// When the kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME), if it said.
    pub received_at: Option<SystemTime>,
}

/// The VRRP sockets of one interface and family.
#[derive(Debug)]
pub struct VrrpSocket {
    recv: AsyncFd<Socket>,
    /// Not registered with the runtime: a registered socket reports itself writable each time
    /// a sent datagram is freed, a wake-up per advert for nothing.
    send: Socket,
    v6: bool,
}

fn io_context(what: &str, ifname: &str) -> impl FnOnce(io::Error) -> io::Error {
    let msg = format!("{what} on {ifname}");
    move |e| io::Error::new(e.kind(), format!("{msg}: {e}"))
}

impl VrrpSocket {
    /// Open the sockets on interface `ifname` (index `ifindex`), sending from `primary`.
    pub fn open(ifname: &str, ifindex: u32, primary: IpAddr) -> io::Result<VrrpSocket> {
        let v6 = primary.is_ipv6();
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let proto = Some(Protocol::from(i32::from(IPPROTO_VRRP)));
        let recv =
            Socket::new(domain, Type::RAW, proto).map_err(io_context("raw socket", ifname))?;
        let send =
            Socket::new(domain, Type::RAW, proto).map_err(io_context("raw socket", ifname))?;
        for s in [&recv, &send] {
            s.bind_device(Some(ifname.as_bytes()))
                .map_err(io_context("SO_BINDTODEVICE", ifname))?;
            s.set_nonblocking(true)?;
        }
        if v6 {
            recv.join_multicast_v6(&MULTICAST_V6, ifindex)
                .map_err(io_context("join ff02::12", ifname))?;
            set_int(&recv, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
            set_int(&recv, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            send.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
            send.set_unicast_hops_v6(u32::from(VRRP_TTL))?;
            send.set_multicast_loop_v6(false)?;
            send.set_multicast_if_v6(ifindex)?;
            // Traffic class 0xc0 (network control), as keepalived.
            set_int(&send, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, 0xc0)?;
            if let IpAddr::V6(a) = primary {
                let scope = if a.is_unicast_link_local() {
                    ifindex
                } else {
                    0
                };
                send.bind(&SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope)).into())
                    .map_err(io_context(&format!("bind {primary}"), ifname))?;
            }
        } else {
            recv.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
                .map_err(io_context("join 224.0.0.18", ifname))?;
            send.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
            send.set_ttl_v4(u32::from(VRRP_TTL))?;
            send.set_multicast_loop_v4(false)?;
            // TOS 0xc0 (internetwork control), as keepalived sends.
            send.set_tos_v4(0xc0)?;
            send.bind(&SocketAddr::new(primary, 0).into())
                .map_err(io_context(&format!("bind {primary}"), ifname))?;
        }
        // Receive timestamps: a backup restarts its Master_Down_Timer from the moment the
        // advert arrived, not from when its task got to it.
        set_int(&recv, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
        // The sender never reads; keep its receive queue minimal.
        send.set_recv_buffer_size(0)?;
        recv.set_recv_buffer_size(1 << 20)?;
        Ok(VrrpSocket {
            recv: register(recv)?,
            send,
            v6,
        })
    }

    /// Send one VRRP message to `dst` (the group, or a unicast peer).
    pub async fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let addr: socket2::SockAddr = SocketAddr::new(dst, 0).into();
        // A full send buffer (a stalled queue: adverts are a few dozen bytes) is retried for
        // up to SEND_RETRIES ms, then reported.
        for _ in 0..SEND_RETRIES {
            match self.send.send_to(payload, &addr) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(Duration::from_millis(1)).await
                }
                result => return result.map(|_| ()),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "send buffer full",
        ))
    }

    /// Receive the next packet. A packet that fails the IP-level checks is returned as the
    /// reason it was discarded, so the caller can count it.
    pub async fn recv(&self) -> io::Result<Result<Received, Discard>> {
        loop {
            let mut guard = self.recv.readable().await?;
            let result = if self.v6 {
                guard.try_io(|s| recv_v6(s.get_ref()))
            } else {
                guard.try_io(|s| recv_v4(s.get_ref()))
            };
            match result {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// How many times (a millisecond apart) a send that finds the buffer full is tried.
const SEND_RETRIES: u32 = 10;

fn register(s: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: the AsyncFd owns the socket, so the fd stays open for as long as it is registered.
    unsafe { AsyncFd::register_with_interest(s, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into())
}

fn set_int(s: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd and a pointer to an int of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What one `recvmsg` returned: length, sender, and the ancillary data we ask for.
struct Message {
    len: usize,
    from_v6: Option<Ipv6Addr>,
    hop_limit: Option<i32>,
    dst_v6: Option<Ipv6Addr>,
    received_at: Option<SystemTime>,
}

/// `recvmsg` into `buf`, with the control messages enabled on the socket (IPV6_HOPLIMIT,
/// IPV6_PKTINFO, SO_TIMESTAMPNS).
fn recv_message(s: &Socket, buf: &mut [u8]) -> io::Result<Message> {
    use std::os::fd::AsRawFd;
    // u64 elements: the control buffer must be aligned for cmsghdr.
    let mut control = [0u64; 32];
    // SAFETY: zeroed plain C structs.
    let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the stated sizes.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Message {
        len: n as usize,
        from_v6: (i32::from(from.sin6_family) == libc::AF_INET6)
            .then(|| Ipv6Addr::from(from.sin6_addr.s6_addr)),
        hop_limit: None,
        dst_v6: None,
        received_at: None,
    };
    // SAFETY: walking the control buffer the kernel filled, with the libc CMSG macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    out.hop_limit = Some(std::ptr::read_unaligned(data.cast::<i32>()));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    out.dst_v6 = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                    let ts = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                    out.received_at = u64::try_from(ts.tv_sec).ok().map(|secs| {
                        SystemTime::UNIX_EPOCH
                            + Duration::new(secs, u32::try_from(ts.tv_nsec).unwrap_or(0))
                    });
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(out)
}

/// IPv4 raw sockets return the IP header with the payload.
fn recv_v4(s: &Socket) -> io::Result<Result<Received, Discard>> {
    let mut buf = [0u8; 2048];
    let m = recv_message(s, &mut buf)?;
    Ok(
        packet::parse_ipv4(&buf[..m.len]).map(|(hdr, payload)| Received {
            src: IpAddr::V4(hdr.src),
            dst: IpAddr::V4(hdr.dst),
            ttl: hdr.ttl,
            payload: payload.to_vec(),
            received_at: m.received_at,
        }),
    )
}

/// IPv6 raw sockets return the payload only; hop limit and destination come as ancillary data.
fn recv_v6(s: &Socket) -> io::Result<Result<Received, Discard>> {
    let mut buf = [0u8; 2048];
    let m = recv_message(s, &mut buf)?;
    let (Some(ttl), Some(dst), Some(src)) = (m.hop_limit, m.dst_v6, m.from_v6) else {
        return Ok(Err(Discard::BadIpHeader));
    };
    Ok(Ok(Received {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl: u8::try_from(ttl).unwrap_or(0),
        payload: buf[..m.len].to_vec(),
        received_at: m.received_at,
    }))
}

/// The VRRP group address for a family.
pub fn group_for(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
        IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
    }
}
