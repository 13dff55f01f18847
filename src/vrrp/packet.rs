//! VRRP advertisement codec: RFC 3768 (VRRPv2) and RFC 5798 (VRRPv3), IPv4 and IPv6.
//!
//! Decoding never panics: every way a packet can be wrong is a [`Discard`] value, which the
//! caller counts per reason (design.md §5).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod checksum;
pub use checksum::ChecksumForm;
use checksum::checksum_for;

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
/// TTL / hop limit every VRRP packet is sent with and must arrive with (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Length of the fixed VRRP header, both versions.
const HEADER_LEN: usize = 8;
/// Length of the v2 authentication data (RFC 3768 §5.3.10).
const AUTH_LEN: usize = 8;
/// The only packet type: ADVERTISEMENT (RFC 5798 §5.2.2).
const TYPE_ADVERTISEMENT: u8 = 1;
/// Largest v3 Max Adver Int: 12 bits of centiseconds (RFC 5798 §5.2.7).
pub const V3_MAX_INTERVAL_CS: u16 = 0x0fff;

/// Protocol version of a virtual router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Version {
    /// RFC 3768: IPv4 only, whole-second intervals, optional PASS authentication.
    V2,
    /// RFC 5798: IPv4 and IPv6, centisecond intervals, no authentication.
    V3,
}

impl Version {
    fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// v2 authentication (RFC 3768 §5.3.6). v3 removed authentication altogether.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0.
    None,
    /// Auth type 1: a plain-text password of up to 8 octets, zero padded.
    Pass([u8; AUTH_LEN]),
}

impl Auth {
    /// A PASS authentication from a password; keepalived truncates to 8 octets, and so do we.
    pub fn pass(password: &str) -> Auth {
        let mut data = [0u8; AUTH_LEN];
        let bytes = password.as_bytes();
        let n = bytes.len().min(AUTH_LEN);
        data[..n].copy_from_slice(&bytes[..n]);
        Auth::Pass(data)
    }

    fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
        }
    }
}

/// One VRRP ADVERTISEMENT, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router identifier, 1..255.
    pub vrid: u8,
    /// Sender's priority; 0 means "master is leaving", 255 "address owner".
    pub priority: u8,
    /// Advertisement interval in centiseconds. v2 carries whole seconds on the wire, so a v2
    /// advert always holds a multiple of 100 here.
    pub interval_cs: u16,
    /// The virtual addresses, all of one family.
    pub addresses: Vec<IpAddr>,
    /// v2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
}

/// Why a received packet was dropped. Each RFC 5798 §7.1 / RFC 3768 §7.1 check is its own value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Discard {
    /// Shorter than the IP header, the VRRP header, or the addresses it announces.
    Truncated,
    /// An IP header that is not IPv4/IPv6 carrying protocol 112.
    BadIpHeader,
    /// TTL or hop limit not 255: the packet crossed a router.
    TtlNot255,
    /// Version field neither 2 nor 3, or not the version configured, or v2 over IPv6.
    BadVersion,
    /// Type field not ADVERTISEMENT.
    BadType,
    /// Checksum does not verify.
    BadChecksum,
    /// Longer than the header and address count say, or addresses of the wrong family.
    LengthMismatch,
    /// No virtual router with this VRID on the receiving interface.
    UnknownVrid,
    /// The local router owns the addresses (priority 255) and so must not listen.
    LocalIsOwner,
    /// v2 auth type differs from the configured one.
    AuthTypeMismatch,
    /// v2 PASS data differs from the configured password.
    AuthMismatch,
    /// v2 advert interval differs from the configured one.
    IntervalMismatch,
    /// Sent by this router itself (looped back multicast).
    OwnPacket,
    /// Unicast mode: the sender is not one of the configured peers.
    NotFromPeer,
    /// A source no router can have: one of the virtual addresses, unspecified, multicast,
    /// broadcast or loopback.
    BadSource,
    /// An IPv6 advert whose source is not a link-local address (RFC 5798 §5.1.2.1: a router
    /// sends from its interface's link-local address).
    SourceNotLinkLocal,
    /// A v3 advert with a Max Adver Int of 0: no valid router sends it, and obeying it would
    /// make the backups' timers expire at once (RFC 5798 §5.2.7 gives no meaning to 0).
    ZeroInterval,
    /// The advert's interval is longer than the local `maxAdvertInterval` bound.
    IntervalAboveBound,
}

impl Discard {
    /// Every reason, for pre-registering metrics.
    pub const ALL: [Discard; 18] = [
        Discard::Truncated,
        Discard::BadIpHeader,
        Discard::TtlNot255,
        Discard::BadVersion,
        Discard::BadType,
        Discard::BadChecksum,
        Discard::LengthMismatch,
        Discard::UnknownVrid,
        Discard::LocalIsOwner,
        Discard::AuthTypeMismatch,
        Discard::AuthMismatch,
        Discard::IntervalMismatch,
        Discard::OwnPacket,
        Discard::NotFromPeer,
        Discard::BadSource,
        Discard::SourceNotLinkLocal,
        Discard::ZeroInterval,
        Discard::IntervalAboveBound,
    ];

    /// Stable snake_case name, used as the `reason` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Truncated => "truncated",
            Discard::BadIpHeader => "bad_ip_header",
            Discard::TtlNot255 => "ttl_not_255",
            Discard::BadVersion => "bad_version",
            Discard::BadType => "bad_type",
            Discard::BadChecksum => "bad_checksum",
            Discard::LengthMismatch => "length_mismatch",
            Discard::UnknownVrid => "unknown_vrid",
            Discard::LocalIsOwner => "local_is_owner",
            Discard::AuthTypeMismatch => "auth_type_mismatch",
            Discard::AuthMismatch => "auth_mismatch",
            Discard::IntervalMismatch => "interval_mismatch",
            Discard::OwnPacket => "own_packet",
            Discard::NotFromPeer => "not_from_peer",
            Discard::BadSource => "bad_source",
            Discard::SourceNotLinkLocal => "source_not_link_local",
            Discard::ZeroInterval => "zero_interval",
            Discard::IntervalAboveBound => "interval_above_bound",
        }
    }
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an advert cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// v2 intervals are whole seconds 0..=255 on the wire.
    #[error("VRRPv2 needs a whole-second advert interval of at most 255 s, got {0} cs")]
    V2Interval(u16),
    /// v3 intervals are 12 bits of centiseconds.
    #[error("VRRPv3 advert interval {0} cs exceeds 4095 cs")]
    V3Interval(u16),
    /// v2 is IPv4 only, and one advert carries one family.
    #[error("addresses must all be of the source address's family (and IPv4 for VRRPv2)")]
    Family,
    /// The count field is one octet.
    #[error("at most 255 addresses fit in one advert, got {0}")]
    TooManyAddresses(usize),
    /// v3 has no authentication field.
    #[error("VRRPv3 has no authentication")]
    V3Auth,
}

/// What the receiver checks an advert against (RFC 5798 §7.1, RFC 3768 §7.1).
#[derive(Clone, Debug)]
pub struct Expectation<'a> {
    /// Configured version.
    pub version: Version,
    /// Configured v2 authentication.
    pub auth: &'a Auth,
    /// Configured interval in centiseconds (checked for v2 only).
    pub interval_cs: u16,
    /// Configured virtual addresses.
    pub addresses: &'a [IpAddr],
    /// True when the local router owns the addresses (priority 255).
    pub local_is_owner: bool,
}

/// An accepted advert and what the optional checks found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The advert's address list differs from ours: accepted, but a misconfiguration to report
    /// (RFC 5798 §7.1 "MAY verify ... SHOULD log").
    pub address_mismatch: bool,
}

impl Advert {
    /// Encode the VRRP message (the IP payload) as sent from `src` to `dst`. The v3 checksum
    /// covers an IP pseudo-header (RFC 5798 §5.2.8), so the addresses are needed.
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
        self.encode_with(src, dst, ChecksumForm::Standard)
    }

    /// [`Advert::encode`] with the checksum in `form`: a VRRPv3 IPv4 advert with
    /// [`ChecksumForm::WithoutPseudoHeader`] is summed over the VRRP message alone, as some
    /// implementations do (RFC 9568 §5.2.8; keepalived's `v3_checksum_as_v2`). Other adverts
    /// ignore `form`.
    pub fn encode_with(
        &self,
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
    ) -> Result<Vec<u8>, EncodeError> {
        let addr_len = family_len(src);
        if self.addresses.len() > 255 {
            return Err(EncodeError::TooManyAddresses(self.addresses.len()));
        }
        if self.addresses.iter().any(|a| a.is_ipv4() != src.is_ipv4())
            || (self.version == Version::V2 && !src.is_ipv4())
            || src.is_ipv4() != dst.is_ipv4()
        {
            return Err(EncodeError::Family);
        }
        let mut out = Vec::with_capacity(HEADER_LEN + addr_len * self.addresses.len() + AUTH_LEN);
        out.push((self.version.number() << 4) | TYPE_ADVERTISEMENT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(self.addresses.len() as u8);
        match self.version {
            Version::V2 => {
                if !self.interval_cs.is_multiple_of(100) || self.interval_cs > 25_500 {
                    return Err(EncodeError::V2Interval(self.interval_cs));
                }
                out.push(self.auth.type_code());
                out.push((self.interval_cs / 100) as u8);
            }
            Version::V3 => {
                if self.interval_cs > V3_MAX_INTERVAL_CS {
                    return Err(EncodeError::V3Interval(self.interval_cs));
                }
                if self.auth != Auth::None {
                    return Err(EncodeError::V3Auth);
                }
                out.extend_from_slice(&self.interval_cs.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
        for addr in &self.addresses {
            match addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            match &self.auth {
                Auth::None => out.extend_from_slice(&[0; AUTH_LEN]),
                Auth::Pass(data) => out.extend_from_slice(data),
            }
        }
        let pseudo = self.version == Version::V3
            && !(src.is_ipv4() && form == ChecksumForm::WithoutPseudoHeader);
        let sum = checksum_for(pseudo, src, dst, &out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(out)
    }

    /// Decode a VRRP message received from `src` to `dst` (the IP payload). Checks what the
    /// packet alone can tell: version, type, length, checksum (RFC 5798 §7.1 bullets 2-4).
    pub fn decode(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, Discard> {
        Advert::decode_form(payload, src, dst).map(|(advert, _)| advert)
    }

    /// [`Advert::decode`], also saying how the checksum was computed: a VRRPv3 IPv4 advert
    /// whose checksum verifies only without the pseudo-header is accepted (RFC 9568 §5.2.8:
    /// implementations of RFC 5798 differ on this) and reported as
    /// [`ChecksumForm::WithoutPseudoHeader`], for the caller to count.
    pub fn decode_form(
        payload: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Advert, ChecksumForm), Discard> {
        if payload.len() < HEADER_LEN {
            return Err(Discard::Truncated);
        }
        let version = match payload[0] >> 4 {
            2 if src.is_ipv4() => Version::V2,
            3 => Version::V3,
            _ => return Err(Discard::BadVersion),
        };
        if payload[0] & 0x0f != TYPE_ADVERTISEMENT {
            return Err(Discard::BadType);
        }
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Discard::BadIpHeader);
        }
        if let IpAddr::V6(a) = src
            && !a.is_unicast_link_local()
        {
            return Err(Discard::SourceNotLinkLocal);
        }
        // One rule for the length: the message is what the IP datagram carries (the IPv4
        // total length; bytes past it are link-layer padding, not part of the packet); every
        // byte of it past the addresses (and v2 authentication data) is a mismatch.
        let count = payload[3] as usize;
        let addr_len = family_len(src);
        let auth_len = if version == Version::V2 { AUTH_LEN } else { 0 };
        let expected = HEADER_LEN + count * addr_len + auth_len;
        if payload.len() < expected {
            return Err(Discard::Truncated);
        }
        if payload.len() > expected {
            return Err(Discard::LengthMismatch);
        }
        let form = if checksum_for(version == Version::V3, src, dst, payload) == 0 {
            ChecksumForm::Standard
        } else if version == Version::V3
            && src.is_ipv4()
            && checksum_for(false, src, dst, payload) == 0
        {
            ChecksumForm::WithoutPseudoHeader
        } else {
            return Err(Discard::BadChecksum);
        };
        let (interval_cs, auth) = match version {
            Version::V2 => {
                let auth = match payload[4] {
                    0 => Auth::None,
                    // Types other than PASS (e.g. the deprecated AH, type 2) are kept as a
                    // mismatch for the receiver to count, not decoded.
                    1 => {
                        let mut data = [0u8; AUTH_LEN];
                        data.copy_from_slice(&payload[expected - AUTH_LEN..expected]);
                        Auth::Pass(data)
                    }
                    _ => return Err(Discard::AuthTypeMismatch),
                };
                (u16::from(payload[5]) * 100, auth)
            }
            Version::V3 => (
                u16::from_be_bytes([payload[4], payload[5]]) & V3_MAX_INTERVAL_CS,
                Auth::None,
            ),
        };
        if interval_cs == 0 {
            return Err(Discard::ZeroInterval);
        }
        let addresses = payload[HEADER_LEN..HEADER_LEN + count * addr_len]
            .chunks_exact(addr_len)
            .map(|c| match src {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                IpAddr::V6(_) => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
            .collect();
        let advert = Advert {
            version,
            vrid: payload[1],
            priority: payload[2],
            interval_cs,
            addresses,
            auth,
        };
        Ok((advert, form))
    }

    /// Check a decoded advert against the local virtual router's configuration
    /// (RFC 5798 §7.1 bullets 5-6, RFC 3768 §7.1 auth and interval checks).
    pub fn validate(&self, expect: &Expectation<'_>) -> Result<Accepted, Discard> {
        if self.version != expect.version {
            return Err(Discard::BadVersion);
        }
        if expect.local_is_owner {
            return Err(Discard::LocalIsOwner);
        }
        if self.version == Version::V2 {
            if self.auth.type_code() != expect.auth.type_code() {
                return Err(Discard::AuthTypeMismatch);
            }
            if &self.auth != expect.auth {
                return Err(Discard::AuthMismatch);
            }
            // RFC 3768 §7.1: the interval MUST match the locally configured one.
            if self.interval_cs != expect.interval_cs {
                return Err(Discard::IntervalMismatch);
            }
        }
        let mut ours: Vec<IpAddr> = expect.addresses.to_vec();
        let mut theirs = self.addresses.clone();
        ours.sort();
        theirs.sort();
        Ok(Accepted {
            address_mismatch: ours != theirs,
        })
    }
}

/// The parts of a received IPv4 packet VRRP cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live as received.
    pub ttl: u8,
}

/// Split a raw IPv4 packet (as a raw socket returns it) into header and VRRP payload.
pub fn parse_ipv4(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), Discard> {
    if packet.len() < 20 {
        return Err(Discard::Truncated);
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if packet[0] >> 4 != 4 || ihl < 20 || packet[9] != IPPROTO_VRRP {
        return Err(Discard::BadIpHeader);
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if packet.len() < ihl || total < ihl {
        return Err(Discard::Truncated);
    }
    // The kernel hands over the whole datagram; trust the shorter of the two lengths.
    let end = total.min(packet.len());
    let header = Ipv4Header {
        src: Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]),
        dst: Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]),
        ttl: packet[8],
    };
    Ok((header, &packet[ihl..end]))
}

/// RFC 5798 §7.1 bullet 1: the TTL / hop limit must be 255.
pub fn check_ttl(ttl: u8) -> Result<(), Discard> {
    if ttl == VRRP_TTL {
        Ok(())
    } else {
        Err(Discard::TtlNot255)
    }
}

fn family_len(addr: IpAddr) -> usize {
    if addr.is_ipv4() { 4 } else { 16 }
}

#[cfg(test)]
mod checksum_tests;
#[cfg(test)]
mod tests;
