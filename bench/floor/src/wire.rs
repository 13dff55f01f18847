//! The kernel calls both loops share: the VRRP raw socket, the adverts, the lifetime refresh.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// IANA protocol number of VRRP.
const IPPROTO_VRRP: i32 = 112;
/// 224.0.0.18, where every advert goes (RFC 5798 §5.1.1.2).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn setsockopt<T>(fd: RawFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a valid T for the duration of the call, its size is passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Index of interface `name`.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::other("interface name has a NUL"))?;
    // SAFETY: `c` is a valid C string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// The raw VRRP socket on `iface`: non-blocking, TTL 255, joined to 224.0.0.18 there from
/// `source` (what keepalived and kube-vrrp open).
pub fn vrrp_socket(iface: &str, index: u32, source: Ipv4Addr) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            IPPROTO_VRRP,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = sock.as_raw_fd();
    let name = CString::new(iface).map_err(|_| io::Error::other("interface name has a NUL"))?;
    // SAFETY: the name's bytes with their NUL, length passed.
    check(unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.as_bytes_with_nul().len() as libc::socklen_t,
        )
    })?;
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &255i32)?;
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from(GROUP).to_be(),
        },
        imr_address: libc::in_addr {
            s_addr: u32::from(source).to_be(),
        },
        imr_ifindex: index as i32,
    };
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
    // Not bound to `source`: a raw socket bound to an address receives only datagrams sent to
    // it, and adverts go to the group. The kernel sends from the interface's primary address.
    Ok(sock)
}

fn sockaddr(ip: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Internet checksum (RFC 1071) of `parts` laid end to end (each of even length but the last).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The advert `source` sends for `vrid` protecting `vip`: VRRPv3 (RFC 5798 §5.1, checksum
/// over the IPv4 pseudo-header), or VRRPv2 with PASS authentication (RFC 3768 §5.3, checksum
/// over the VRRP message alone). It never changes while idle, so it is encoded once.
pub fn advert(
    version: u8,
    vrid: u8,
    priority: u8,
    interval: Duration,
    vip: Ipv4Addr,
    source: Ipv4Addr,
    password: &[u8; 8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(24);
    if version == 2 {
        let secs = interval.as_secs().clamp(1, 255) as u8;
        p.extend_from_slice(&[0x21, vrid, priority, 1, 1, secs, 0, 0]);
        p.extend_from_slice(&vip.octets());
        p.extend_from_slice(password);
        let sum = checksum(&[&p]);
        p[6..8].copy_from_slice(&sum.to_be_bytes());
    } else {
        let cs = (interval.as_millis() / 10).clamp(1, 0x0fff) as u16;
        p.extend_from_slice(&[0x31, vrid, priority, 1]);
        p.extend_from_slice(&cs.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&vip.octets());
        let pseudo = pseudo_header(source, GROUP, p.len());
        let sum = checksum(&[&pseudo, &p]);
        p[6..8].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&src.octets());
    h[4..8].copy_from_slice(&dst.octets());
    h[9] = IPPROTO_VRRP as u8;
    h[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    h
}

/// Send `packet` to 224.0.0.18 (a full socket buffer drops it, as a busy link would).
pub fn send_advert(sock: RawFd, packet: &[u8]) {
    let to = sockaddr(GROUP);
    // SAFETY: `packet` and `to` are valid for the call, their sizes passed.
    let _ = unsafe {
        libc::sendto(
            sock,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
}

/// The VRID of a received datagram (IPv4 header included) when it is an advert a backup must
/// accept: TTL 255 (RFC 5798 §7.1), version and type, a valid checksum, and for VRRPv2 PASS
/// authentication with `password` (RFC 3768 §5.3.6). None otherwise.
pub fn accepted_vrid(d: &[u8], password: &[u8; 8]) -> Option<u8> {
    let ihl = usize::from(*d.first()? & 0x0f) * 4;
    let (ip, v) = (d.get(..ihl)?, d.get(ihl..)?);
    if ip.get(8) != Some(&255) || v.len() < 8 {
        return None;
    }
    let sum = match v[0] {
        0x31 => {
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            checksum(&[&pseudo_header(src, dst, v.len()), v])
        }
        0x21 if v.len() >= 16 && v[4] == 1 && v[v.len() - 8..] == password[..] => checksum(&[v]),
        _ => return None,
    };
    (sum == 0).then_some(v[1])
}

/// Receive one datagram into `buf` without blocking: its length, or None when the queue is
/// empty (or on an error, which the next readiness brings back).
pub fn recv(sock: RawFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), 0) };
    usize::try_from(n).ok()
}

/// A route netlink socket (blocking: the kernel answers within the send) that refreshes the
/// VIPs' lifetimes, as kube-vrrp does: RTM_NEWADDR with NLM_F_REPLACE and an acknowledgement.
pub struct Lifetimes {
    sock: OwnedFd,
    index: u32,
    seq: u32,
    lifetime: u32,
}

const NLMSG_HDR: usize = 16;

impl Lifetimes {
    /// Open it for interface `index`, addresses living `lifetime` unless refreshed.
    pub fn open(index: u32, lifetime: Duration) -> io::Result<Self> {
        // SAFETY: plain socket(2); the descriptor is owned at once.
        let fd = check(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        })?;
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            sock,
            index,
            seq: 1,
            lifetime: lifetime.as_secs() as u32,
        })
    }

    /// Add or refresh `vip`/32 with the lifetime; the kernel's answer (0 or an errno).
    pub fn refresh(&mut self, vip: Ipv4Addr) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(64);
        let flags =
            libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_REPLACE;
        m.extend_from_slice(&0u32.to_ne_bytes()); // length, set below
        m.extend_from_slice(&libc::RTM_NEWADDR.to_ne_bytes());
        m.extend_from_slice(&(flags as u16).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        // ifaddrmsg: family, prefix length, flags, scope (universe), index.
        m.extend_from_slice(&[libc::AF_INET as u8, 32, 0, 0]);
        m.extend_from_slice(&self.index.to_ne_bytes());
        for kind in [libc::IFA_LOCAL, libc::IFA_ADDRESS] {
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&vip.octets());
        }
        // IFA_CACHEINFO: preferred, valid, created, updated.
        m.extend_from_slice(&20u16.to_ne_bytes());
        m.extend_from_slice(&libc::IFA_CACHEINFO.to_ne_bytes());
        for v in [self.lifetime, self.lifetime, 0, 0] {
            m.extend_from_slice(&v.to_ne_bytes());
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        let fd = self.sock.as_raw_fd();
        // SAFETY: `m` is valid for its length; the kernel is the default destination.
        check(unsafe { libc::send(fd, m.as_ptr().cast(), m.len(), 0) } as i32)?;
        let mut ack = [0u8; 256];
        // SAFETY: `ack` is valid for writes of its length.
        let n = check(unsafe { libc::recv(fd, ack.as_mut_ptr().cast(), ack.len(), 0) } as i32)?;
        let n = n as usize;
        if n >= NLMSG_HDR + 4 && u16::from_ne_bytes([ack[4], ack[5]]) == libc::NLMSG_ERROR as u16 {
            let errno = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(-errno));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_advert_passes_its_own_check() {
        let src = Ipv4Addr::new(198, 51, 100, 11);
        let p = advert(
            3,
            51,
            210,
            Duration::from_secs(1),
            Ipv4Addr::new(198, 51, 100, 100),
            src,
            &[0; 8],
        );
        let mut ip = vec![0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&GROUP.octets());
        ip.extend_from_slice(&p);
        assert_eq!(accepted_vrid(&ip, &[0; 8]), Some(51));
        ip[8] = 254;
        assert_eq!(accepted_vrid(&ip, &[0; 8]), None);
        ip[8] = 255;
        ip[25] ^= 1;
        assert_eq!(accepted_vrid(&ip, &[0; 8]), None);
    }

    #[test]
    fn v2_advert_needs_the_password() {
        let src = Ipv4Addr::new(198, 51, 100, 11);
        let pass = *b"1111\0\0\0\0";
        let p = advert(
            2,
            7,
            200,
            Duration::from_secs(1),
            Ipv4Addr::new(198, 51, 100, 100),
            src,
            &pass,
        );
        let mut ip = vec![0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&GROUP.octets());
        ip.extend_from_slice(&p);
        assert_eq!(accepted_vrid(&ip, &pass), Some(7));
        assert_eq!(accepted_vrid(&ip, b"2222\0\0\0\0"), None);
    }
}
