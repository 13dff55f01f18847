//! VRRP checksums: v2 over the message (RFC 3768 §5.3.8), v3 with an IP pseudo-header
//! (RFC 5798 §5.2.8), and the v3 IPv4 form without it that some implementations send
//! (RFC 9568 §5.2.8; keepalived's `v3_checksum_as_v2`).

use std::net::IpAddr;

use super::IPPROTO_VRRP;

/// How a VRRPv3 IPv4 advert's checksum is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// With the IP pseudo-header, as RFC 5798 and RFC 9568 specify (and always for IPv6).
    #[default]
    Standard,
    /// Over the VRRP message alone, as VRRPv2 does: what keepalived sends with
    /// `v3_checksum_as_v2` and some RFC 5798 implementations sent.
    WithoutPseudoHeader,
}

impl ChecksumForm {
    /// Stable snake_case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumForm::Standard => "standard",
            ChecksumForm::WithoutPseudoHeader => "without_pseudo_header",
        }
    }
}

/// The checksum of a message whose checksum field holds zero, or 0 when verifying a message
/// that holds its checksum: over the VRRP message, preceded by the IP pseudo-header when
/// `pseudo` (v3, RFC 5798 §5.2.8; v2 has none, RFC 3768 §5.3.8).
pub(super) fn checksum_for(pseudo: bool, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let mut sum = 0u32;
    if pseudo {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                sum = add_bytes(sum, &s.octets());
                sum = add_bytes(sum, &d.octets());
                sum += u32::from(IPPROTO_VRRP);
                sum += msg.len() as u32;
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                sum = add_bytes(sum, &s.octets());
                sum = add_bytes(sum, &d.octets());
                sum += msg.len() as u32;
                sum += u32::from(IPPROTO_VRRP);
            }
            _ => {}
        }
    }
    sum = add_bytes(sum, msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn add_bytes(mut sum: u32, bytes: &[u8]) -> u32 {
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
        // Fold early so long inputs cannot overflow.
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    sum
}
