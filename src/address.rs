//! Addresses as the configuration gives them: an address with its prefix length, and which
//! addresses no router can hold. Shared by the translation, the data plane and the converter.

use std::fmt;
use std::net::IpAddr;

/// An address with its prefix length, as installed on the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefixed {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Prefixed {
    /// Whether `other` lies in this address's subnet.
    pub fn contains(&self, other: IpAddr) -> bool {
        match (self.addr, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix.min(32)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix.min(128)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Prefixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One interface of the node and the addresses configured on it, as the translation needs
/// them (netlink reads them; the translation picks the interface and the advert source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceFacts {
    /// Name.
    pub name: String,
    /// Addresses configured on it (ours excluded).
    pub addresses: Vec<Prefixed>,
}

/// Parse `198.51.100.1`, `198.51.100.1/24` or `2001:db8::1/64`; no prefix means a host route.
pub fn parse_prefixed(s: &str) -> Result<Prefixed, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.trim().parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("{s:?}: prefix length must be 0..{max}")),
        },
    };
    Ok(Prefixed { addr, prefix })
}

/// An address no router can have as its own: unspecified, multicast, broadcast, loopback.
pub fn no_router(a: IpAddr) -> bool {
    a.is_unspecified()
        || a.is_multicast()
        || a.is_loopback()
        || matches!(a, IpAddr::V4(v4) if v4.is_broadcast())
}

/// Why a virtual address cannot be installed and announced, if it cannot.
pub(crate) fn unusable_vip(p: Prefixed) -> Option<&'static str> {
    if no_router(p.addr) {
        Some(
            "not a unicast address a host can hold (unspecified, multicast, broadcast or loopback)",
        )
    } else if p.prefix == 0 {
        Some(
            "a /0 prefix would claim every address; give the address alone or its subnet's prefix length",
        )
    } else {
        None
    }
}
