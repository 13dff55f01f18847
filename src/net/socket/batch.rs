//! Reading a burst of VRRP packets with one `recvmmsg`.
//!
//! Every instance on an interface advertises at the same instants (see dataplane/deadline.rs),
//! so a backup of 255 instances receives 255 adverts at once: one system call per `BATCH`
//! packets, not one per packet. A read that returns fewer than `BATCH` packets emptied the
//! queue, so the socket is known not to be readable without a second read that finds EAGAIN.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};

use socket2::Socket;

use crate::vrrp::packet::{self, Discard};

/// The most packets one read returns.
pub const BATCH: usize = 16;

/// Room for one packet: an IPv4 header with options and an advert with 255 IPv4 addresses
/// (1088 bytes) fit; an IPv6 advert as large as a 1500-byte link carries fits too.
const PACKET_ROOM: usize = 2048;

/// Room for the control messages asked for (SO_TIMESTAMPNS 32 bytes, IPV6_HOPLIMIT 24,
/// IPV6_PKTINFO 40), in u64 so that it is aligned for cmsghdr.
const CONTROL_WORDS: usize = 16;

/// A packet as received, borrowed from the [`RecvBatch`] that read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// Sender.
    pub src: IpAddr,
    /// Destination (the group, or our address in unicast mode).
    pub dst: IpAddr,
    /// TTL or hop limit as received.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: &'a [u8],
    /// When the kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME), if it said.
    pub received_at: Option<SystemTime>,
}

/// What the kernel said about one packet besides its bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Meta {
    len: usize,
    from_v6: Option<Ipv6Addr>,
    hop_limit: Option<i32>,
    dst_v6: Option<Ipv6Addr>,
    received_at: Option<SystemTime>,
}

/// Buffers for up to [`BATCH`] packets, reused from read to read.
pub struct RecvBatch {
    data: Box<[[u8; PACKET_ROOM]; BATCH]>,
    control: Box<[[u64; CONTROL_WORDS]; BATCH]>,
    meta: [Meta; BATCH],
    filled: usize,
    v6: bool,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("filled", &self.filled)
            .field("v6", &self.v6)
            .finish()
    }
}

impl RecvBatch {
    /// Empty buffers for a socket of the family `v6` says.
    pub fn new(v6: bool) -> RecvBatch {
        RecvBatch {
            data: Box::new([[0; PACKET_ROOM]; BATCH]),
            control: Box::new([[0; CONTROL_WORDS]; BATCH]),
            meta: [Meta::default(); BATCH],
            filled: 0,
            v6,
        }
    }

    /// Read what the socket holds, up to [`BATCH`] packets, without waiting; returns how many
    /// (an error, EAGAIN included, when there were none).
    pub(super) fn fill(&mut self, s: &Socket) -> io::Result<usize> {
        self.filled = 0;
        // SAFETY: zeroed plain C structs.
        let mut names: [libc::sockaddr_in6; BATCH] = unsafe { std::mem::zeroed() };
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iov[i] = libc::iovec {
                iov_base: self.data[i].as_mut_ptr().cast(),
                iov_len: PACKET_ROOM,
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&mut names[i] as *mut libc::sockaddr_in6).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; CONTROL_WORDS]>() as _;
        }
        // SAFETY: every header points at live buffers of the stated sizes, which outlive the
        // call; MSG_DONTWAIT: returns what is queued (at least one packet) or EAGAIN.
        let n = unsafe {
            libc::recvmmsg(
                s.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(BATCH);
        for i in 0..n {
            let from = names[i];
            self.meta[i] = Meta {
                len: (hdrs[i].msg_len as usize).min(PACKET_ROOM),
                from_v6: (i32::from(from.sin6_family) == libc::AF_INET6)
                    .then(|| Ipv6Addr::from(from.sin6_addr.s6_addr)),
                ..control_messages(&hdrs[i].msg_hdr)
            };
        }
        self.filled = n;
        Ok(n)
    }

    /// The packets of the last read, in arrival order. A packet that fails the IP-level
    /// checks is given as the reason it is to be discarded, so the caller can count it.
    pub fn packets(&self) -> impl Iterator<Item = Result<Received<'_>, Discard>> {
        (0..self.filled).map(|i| {
            let m = &self.meta[i];
            let bytes = &self.data[i][..m.len];
            if self.v6 {
                // IPv6 raw sockets return the payload only; hop limit and destination come as
                // ancillary data.
                let (Some(ttl), Some(dst), Some(src)) = (m.hop_limit, m.dst_v6, m.from_v6) else {
                    return Err(Discard::BadIpHeader);
                };
                Ok(Received {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    ttl: u8::try_from(ttl).unwrap_or(0),
                    payload: bytes,
                    received_at: m.received_at,
                })
            } else {
                // IPv4 raw sockets return the IP header with the payload.
                packet::parse_ipv4(bytes).map(|(hdr, payload)| Received {
                    src: IpAddr::V4(hdr.src),
                    dst: IpAddr::V4(hdr.dst),
                    ttl: hdr.ttl,
                    payload,
                    received_at: m.received_at,
                })
            }
        })
    }
}

/// The control messages enabled on the socket (IPV6_HOPLIMIT, IPV6_PKTINFO, SO_TIMESTAMPNS)
/// of one received message.
fn control_messages(msg: &libc::msghdr) -> Meta {
    let mut out = Meta::default();
    // SAFETY: walking the control buffer the kernel filled (msg_controllen says how much),
    // with the libc CMSG macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
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
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    out
}
