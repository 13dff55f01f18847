//! Unit tests of the codec.
use super::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn v2_pass_roundtrip_and_validation() {
    let ad = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 210,
        interval_cs: 100,
        addresses: vec![v4("198.51.100.100")],
        auth: Auth::pass("1111"),
    };
    let src = v4("198.51.100.11");
    let dst = IpAddr::V4(MULTICAST_V4);
    let bytes = ad.encode(src, dst).unwrap();
    assert_eq!(bytes.len(), 20);
    let back = Advert::decode(&bytes, src, dst).unwrap();
    assert_eq!(back, ad);
    let wrong = Auth::pass("2222");
    let expect = Expectation {
        version: Version::V2,
        auth: &wrong,
        interval_cs: 100,
        addresses: &ad.addresses,
        local_is_owner: false,
    };
    assert_eq!(back.validate(&expect), Err(Discard::AuthMismatch));
    let none = Auth::None;
    let expect = Expectation {
        auth: &none,
        ..expect
    };
    assert_eq!(back.validate(&expect), Err(Discard::AuthTypeMismatch));
    let expect = Expectation {
        auth: &ad.auth,
        interval_cs: 200,
        ..expect
    };
    assert_eq!(back.validate(&expect), Err(Discard::IntervalMismatch));
    let other = [v4("198.51.100.101")];
    let expect = Expectation {
        interval_cs: 100,
        addresses: &other,
        ..expect
    };
    assert_eq!(
        back.validate(&expect),
        Ok(Accepted {
            address_mismatch: true
        })
    );
    let expect = Expectation {
        local_is_owner: true,
        ..expect
    };
    assert_eq!(back.validate(&expect), Err(Discard::LocalIsOwner));
}

#[test]
fn discards_each_malformation() {
    let ad = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 100,
        interval_cs: 10,
        addresses: vec![v4("203.0.113.9"), v4("203.0.113.10")],
        auth: Auth::None,
    };
    let src = v4("203.0.113.1");
    let dst = IpAddr::V4(MULTICAST_V4);
    let good = ad.encode(src, dst).unwrap();
    assert_eq!(Advert::decode(&good, src, dst), Ok(ad.clone()));
    assert_eq!(
        Advert::decode(&good[..7], src, dst),
        Err(Discard::Truncated)
    );
    assert_eq!(
        Advert::decode(&good[..12], src, dst),
        Err(Discard::Truncated)
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        Advert::decode(&long, src, dst),
        Err(Discard::LengthMismatch)
    );
    let mut bad = good.clone();
    bad[0] = 0x41;
    assert_eq!(Advert::decode(&bad, src, dst), Err(Discard::BadVersion));
    bad[0] = 0x32;
    assert_eq!(Advert::decode(&bad, src, dst), Err(Discard::BadType));
    let mut bad = good.clone();
    bad[2] ^= 1;
    assert_eq!(Advert::decode(&bad, src, dst), Err(Discard::BadChecksum));
    // The v3 checksum covers the pseudo-header: another source breaks it.
    assert_eq!(
        Advert::decode(&good, v4("203.0.113.2"), dst),
        Err(Discard::BadChecksum)
    );
    assert_eq!(check_ttl(64), Err(Discard::TtlNot255));
    assert_eq!(check_ttl(255), Ok(()));
}

#[test]
fn encode_refuses_what_the_wire_cannot_carry() {
    let mut ad = Advert {
        version: Version::V2,
        vrid: 1,
        priority: 1,
        interval_cs: 150,
        addresses: vec![],
        auth: Auth::None,
    };
    let (s, d) = (v4("198.51.100.1"), IpAddr::V4(MULTICAST_V4));
    assert_eq!(ad.encode(s, d), Err(EncodeError::V2Interval(150)));
    ad.version = Version::V3;
    ad.interval_cs = 4096;
    assert_eq!(ad.encode(s, d), Err(EncodeError::V3Interval(4096)));
    ad.interval_cs = 100;
    ad.addresses = vec!["2001:db8::1".parse().unwrap()];
    assert_eq!(ad.encode(s, d), Err(EncodeError::Family));
}
