//! Byte-exact tests against packets captured from keepalived 2.2.7 (tests/data, from
//! ../shared/golden): decode each, check every field, re-encode and compare the bytes.

mod common;

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use common::pcap;
use kube_vrrp::vrrp::packet::{
    self, Advert, Auth, IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, VRRP_TTL, Version,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Decode the IPv4 VRRP frame, check the IP fields VRRP fixes, and return (src, dst, payload).
fn ipv4_vrrp(frame: &[u8]) -> (IpAddr, IpAddr, Vec<u8>) {
    let (ethertype, ip) = pcap::ethernet(frame);
    assert_eq!(ethertype, 0x0800);
    assert_eq!(ip[9], IPPROTO_VRRP);
    assert_eq!(
        ip[1], 0xc0,
        "keepalived sends TOS 0xc0 (internetwork control)"
    );
    let (hdr, payload) = packet::parse_ipv4(ip).expect("IPv4 header");
    assert_eq!(hdr.ttl, VRRP_TTL);
    assert_eq!(hdr.dst, MULTICAST_V4);
    // Ethernet destination is the IPv4 multicast MAC of 224.0.0.18.
    assert_eq!(&frame[0..6], &[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    (IpAddr::V4(hdr.src), IpAddr::V4(hdr.dst), payload.to_vec())
}

fn check_roundtrip(file: &str, expected: Advert) {
    let frames = pcap::frames(&data(file));
    let (src, dst, payload) = ipv4_vrrp(&frames[0]);
    assert_eq!(src, "192.0.2.11".parse::<IpAddr>().unwrap());
    let decoded = Advert::decode(&payload, src, dst).expect("golden packet decodes");
    assert_eq!(decoded, expected, "{file}: decoded fields");
    let encoded = expected.encode(src, dst).expect("encodes");
    assert_eq!(
        encoded, payload,
        "{file}: encoded bytes differ from keepalived's"
    );
}

fn vip() -> Vec<IpAddr> {
    vec!["192.0.2.100".parse().unwrap()]
}

#[test]
fn v2_pass_advert_matches_keepalived() {
    check_roundtrip(
        "vrrp-v2-advert.pcap",
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 210,
            interval_cs: 100,
            addresses: vip(),
            auth: Auth::pass("1111"),
        },
    );
}

#[test]
fn v2_priority_zero_matches_keepalived() {
    check_roundtrip(
        "vrrp-v2-prio0.pcap",
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 0,
            interval_cs: 100,
            addresses: vip(),
            auth: Auth::pass("1111"),
        },
    );
}

#[test]
fn v3_advert_matches_keepalived() {
    check_roundtrip(
        "vrrp-v3-advert.pcap",
        Advert {
            version: Version::V3,
            vrid: 51,
            priority: 210,
            interval_cs: 100,
            addresses: vip(),
            auth: Auth::None,
        },
    );
}

#[test]
fn v3_priority_zero_matches_keepalived() {
    check_roundtrip(
        "vrrp-v3-prio0.pcap",
        Advert {
            version: Version::V3,
            vrid: 51,
            priority: 0,
            interval_cs: 100,
            addresses: vip(),
            auth: Auth::None,
        },
    );
}

#[test]
fn v3_ipv6_advert_matches_keepalived() {
    let frames = pcap::frames(&data("vrrp-v3-ipv6-advert.pcap"));
    assert_eq!(frames.len(), 3);
    let expected = Advert {
        version: Version::V3,
        vrid: 60,
        priority: 150,
        interval_cs: 100,
        addresses: vec!["2001:db8::100".parse().unwrap()],
        auth: Auth::None,
    };
    for frame in &frames {
        let (ethertype, ip) = pcap::ethernet(frame);
        assert_eq!(ethertype, 0x86dd);
        assert_eq!(ip[6], IPPROTO_VRRP, "next header");
        assert_eq!(ip[7], VRRP_TTL, "hop limit");
        let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap()));
        let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap()));
        assert_eq!(dst, IpAddr::V6(MULTICAST_V6));
        assert_eq!(src, "fe80::ff:fe00:60a".parse::<IpAddr>().unwrap());
        let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let payload = &ip[40..40 + len];
        assert_eq!(
            Advert::decode(payload, src, dst).expect("decodes"),
            expected
        );
        assert_eq!(expected.encode(src, dst).unwrap(), payload);
    }
}

#[test]
fn corrupting_any_golden_byte_is_discarded() {
    // Every single-bit flip in a golden packet must be refused (checksum or a field check),
    // or decode to a different advert: never silently accepted as the original.
    for file in ["vrrp-v2-advert.pcap", "vrrp-v3-advert.pcap"] {
        let frames = pcap::frames(&data(file));
        let (src, dst, payload) = ipv4_vrrp(&frames[0]);
        let original = Advert::decode(&payload, src, dst).unwrap();
        for byte in 0..payload.len() {
            for bit in 0..8 {
                let mut bad = payload.clone();
                bad[byte] ^= 1 << bit;
                if let Ok(ad) = Advert::decode(&bad, src, dst) {
                    assert_ne!(ad, original, "{file}: flip at {byte}.{bit} went unnoticed");
                }
            }
        }
    }
}

#[test]
fn gratuitous_arp_matches_keepalived() {
    let frames = pcap::frames(&data("garp-v2.pcap"));
    let captured = &frames[0];
    let src_mac = &captured[6..12];
    let ours = kube_vrrp::net::announce::gratuitous_arp(src_mac, "192.0.2.100".parse().unwrap());
    // The capture may carry Ethernet padding to 60 octets; the ARP frame itself is 42.
    assert_eq!(
        &captured[..ours.len()],
        &ours[..],
        "our gratuitous ARP differs from keepalived's"
    );
    assert!(
        captured[ours.len()..].iter().all(|&b| b == 0),
        "only padding follows"
    );
}
