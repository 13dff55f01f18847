//! Unit tests of the two VRRPv3 IPv4 checksum forms (RFC 9568 §5.2.8, keepalived's
//! `v3_checksum_as_v2`).
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn advert(version: Version, address: &str) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority: 100,
        interval_cs: 100,
        addresses: vec![ip(address)],
        auth: Auth::None,
    }
}

/// The one's complement sum of a message alone, as VRRPv2 computes it.
fn message_only(msg: &[u8]) -> u16 {
    let mut m = msg.to_vec();
    m[6] = 0;
    m[7] = 0;
    let mut sum: u32 = m
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn v3_ipv4_without_pseudo_header_is_accepted_and_reported() {
    let ad = advert(Version::V3, "198.51.100.100");
    let (src, dst) = (ip("198.51.100.11"), IpAddr::V4(MULTICAST_V4));
    let standard = ad.encode(src, dst).unwrap();
    let legacy = ad
        .encode_with(src, dst, ChecksumForm::WithoutPseudoHeader)
        .unwrap();
    assert_ne!(standard[6..8], legacy[6..8]);
    assert_eq!(standard[..6], legacy[..6]);
    assert_eq!(
        u16::from_be_bytes([legacy[6], legacy[7]]),
        message_only(&legacy)
    );
    assert_eq!(
        Advert::decode_form(&standard, src, dst),
        Ok((ad.clone(), ChecksumForm::Standard))
    );
    assert_eq!(
        Advert::decode_form(&legacy, src, dst),
        Ok((ad.clone(), ChecksumForm::WithoutPseudoHeader))
    );
    // decode accepts both and says nothing.
    assert_eq!(Advert::decode(&legacy, src, dst), Ok(ad));
}

#[test]
fn a_checksum_right_in_neither_form_is_discarded() {
    let ad = advert(Version::V3, "198.51.100.100");
    let (src, dst) = (ip("198.51.100.11"), IpAddr::V4(MULTICAST_V4));
    for form in [ChecksumForm::Standard, ChecksumForm::WithoutPseudoHeader] {
        let mut bytes = ad.encode_with(src, dst, form).unwrap();
        bytes[2] ^= 1;
        assert_eq!(
            Advert::decode_form(&bytes, src, dst),
            Err(Discard::BadChecksum)
        );
    }
}

#[test]
fn ipv6_and_v2_have_one_form_only() {
    // IPv6: the pseudo-header is always in; asking for the other form changes nothing, and a
    // message-only checksum is refused.
    let ad = advert(Version::V3, "2001:db8::100");
    let (src, dst) = (ip("fe80::1"), IpAddr::V6(MULTICAST_V6));
    let bytes = ad
        .encode_with(src, dst, ChecksumForm::WithoutPseudoHeader)
        .unwrap();
    assert_eq!(bytes, ad.encode(src, dst).unwrap());
    let mut legacy = bytes.clone();
    legacy[6..8].copy_from_slice(&message_only(&bytes).to_be_bytes());
    assert_eq!(
        Advert::decode_form(&legacy, src, dst),
        Err(Discard::BadChecksum)
    );
    // v2: the message-only sum is the standard one.
    let ad = advert(Version::V2, "198.51.100.100");
    let (src, dst) = (ip("198.51.100.11"), IpAddr::V4(MULTICAST_V4));
    let bytes = ad
        .encode_with(src, dst, ChecksumForm::WithoutPseudoHeader)
        .unwrap();
    assert_eq!(bytes, ad.encode(src, dst).unwrap());
    assert_eq!(
        Advert::decode_form(&bytes, src, dst),
        Ok((ad, ChecksumForm::Standard))
    );
}
