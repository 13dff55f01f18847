//! Property tests of the codec: every valid advert survives encode/decode unchanged, and no
//! input bytes make the decoder panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kube_vrrp::vrrp::packet::{self, Advert, Auth, MULTICAST_V4, MULTICAST_V6, Version};
use proptest::prelude::*;

fn v4() -> impl Strategy<Value = IpAddr> {
    any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n)))
}

fn v6() -> impl Strategy<Value = IpAddr> {
    any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n)))
}

/// An IPv6 link-local address, the only source an IPv6 advert may have (RFC 5798 §5.1.2.1).
fn link_local() -> impl Strategy<Value = IpAddr> {
    any::<u64>().prop_map(|n| IpAddr::V6(Ipv6Addr::from((0xfe80u128 << 112) | u128::from(n))))
}

/// (advert, source) pairs the wire can carry and a receiver accepts (interval not 0, IPv6
/// from a link-local source).
fn valid_advert() -> impl Strategy<Value = (Advert, IpAddr)> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        prop::collection::vec(v4(), 0..20),
        prop::option::of(any::<[u8; 8]>()),
        v4(),
    )
        .prop_map(|(vrid, priority, secs, addresses, pass, src)| {
            let auth = pass.map_or(Auth::None, Auth::Pass);
            (
                Advert {
                    version: Version::V2,
                    vrid,
                    priority,
                    interval_cs: secs * 100,
                    addresses,
                    auth,
                },
                src,
            )
        });
    let v3_4 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(v4(), 0..20),
        v4(),
    )
        .prop_map(|(vrid, priority, interval_cs, addresses, src)| {
            (
                Advert {
                    version: Version::V3,
                    vrid,
                    priority,
                    interval_cs,
                    addresses,
                    auth: Auth::None,
                },
                src,
            )
        });
    let v3_6 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(v6(), 0..20),
        link_local(),
    )
        .prop_map(|(vrid, priority, interval_cs, addresses, src)| {
            (
                Advert {
                    version: Version::V3,
                    vrid,
                    priority,
                    interval_cs,
                    addresses,
                    auth: Auth::None,
                },
                src,
            )
        });
    prop_oneof![v2, v3_4, v3_6]
}

fn group(src: IpAddr) -> IpAddr {
    match src {
        IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
        IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_inverts_encode((advert, src) in valid_advert()) {
        let dst = group(src);
        let bytes = advert.encode(src, dst).expect("valid adverts encode");
        prop_assert_eq!(Advert::decode(&bytes, src, dst), Ok(advert));
    }

    /// Hostile inputs (docs/hostile.md): each is discarded with its own reason.
    #[test]
    fn zero_interval_stray_bytes_and_global_v6_sources_are_discarded(
        (advert, src) in valid_advert(), extra in 1usize..100, global in v6()
    ) {
        let dst = group(src);
        // Max Adver Int 0 (v3; v2 carries seconds, 0 likewise).
        let mut zero = advert.clone();
        zero.interval_cs = 0;
        let bytes = zero.encode(src, dst).expect("encodes");
        prop_assert_eq!(Advert::decode(&bytes, src, dst), Err(packet::Discard::ZeroInterval));
        // Bytes after the addresses (and authentication data), inside the datagram.
        let mut long = advert.encode(src, dst).expect("encodes");
        long.extend(std::iter::repeat_n(0u8, extra));
        prop_assert_eq!(Advert::decode(&long, src, dst), Err(packet::Discard::LengthMismatch));
        // The same bytes past the IPv4 total length are link padding, not the packet's.
        if let IpAddr::V4(s4) = src {
            let body = advert.encode(src, dst).expect("encodes");
            let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
            ip[2..4].copy_from_slice(&((20 + body.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&s4.octets());
            ip.extend_from_slice(&MULTICAST_V4.octets());
            ip.extend_from_slice(&body);
            ip.extend(std::iter::repeat_n(0u8, extra));
            let (_, payload) = packet::parse_ipv4(&ip).expect("a valid IPv4 header");
            prop_assert_eq!(Advert::decode(payload, src, dst), Ok(advert.clone()));
        }
        // IPv6 from anything but a link-local address.
        if let IpAddr::V6(g) = global && src.is_ipv6() && !g.is_unicast_link_local() {
            let bytes = advert.encode(global, dst).expect("encodes");
            prop_assert_eq!(
                Advert::decode(&bytes, global, dst),
                Err(packet::Discard::SourceNotLinkLocal)
            );
        }
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), six in any::<bool>()) {
        let src = if six { "fe80::1".parse().unwrap() } else { "198.51.100.1".parse().unwrap() };
        let _ = Advert::decode(&bytes, src, group(src));
        let _ = packet::parse_ipv4(&bytes);
    }

    #[test]
    fn decode_never_panics_on_plausible_headers(
        version in 0u8..16, kind in 0u8..16, count in any::<u8>(), tail in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        // Random bytes rarely pass the first checks; start from a plausible header instead.
        let mut bytes = vec![(version << 4) | kind, 1, 100, count];
        bytes.extend(tail);
        let src: IpAddr = "198.51.100.1".parse().unwrap();
        let _ = Advert::decode(&bytes, src, group(src));
    }
}
