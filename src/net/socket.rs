//! Raw IP protocol 112 sockets on one interface.
//!
//! Two sockets per interface and family: a receiver bound to the device that joins the VRRP
//! group, and a sender bound to the router's primary address (so the source address is the one
//! the engine advertises and tie-breaks on) with multicast loopback off, so we never hear
//! ourselves. TTL / hop limit 255 on every send (RFC 5798 §5.1.1.3, §5.1.2.3).
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

mod batch;

pub use batch::{BATCH, Received, RecvBatch};

use crate::vrrp::packet::{IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, VRRP_TTL};

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

    /// Wait for packets and read the next burst into `batch` (see [`RecvBatch::packets`]).
    pub async fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<()> {
        loop {
            let mut guard = self.recv.readable().await?;
            match batch.fill(self.recv.get_ref()) {
                Ok(n) => {
                    // Fewer than a full batch: the queue was emptied. A packet that arrives
                    // after the read raises a new readiness event, which clearing this one
                    // (taken before the read) leaves in place.
                    if n < BATCH {
                        guard.clear_ready();
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Fresh buffers for [`VrrpSocket::recv_batch`] on this socket.
    pub fn batch(&self) -> RecvBatch {
        RecvBatch::new(self.v6)
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

/// The VRRP group address for a family.
pub fn group_for(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
        IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
    }
}

#[cfg(test)]
mod tests;
