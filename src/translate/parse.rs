//! The node-independent half of the translation: one pass over a spec that checks every field
//! and parses it into its type, or lists every problem, each naming its field.

use std::net::IpAddr;
use std::time::Duration;

use kube::core::Selector;

use super::tracker::{self, TrackerConfig};
use super::{AnnounceConfig, SpecError, added, check_selector, err};
use crate::address::{Prefixed, no_router, parse_prefixed, unusable_vip};
use crate::duration;
use crate::spec::{Announce, SecretKeyRef, VirtualIpSpec};
use crate::vrrp::Version;
use crate::vrrp::timers::check_interval;

/// Most announcements per burst (keepalived's default is 5). Each is one frame per address on
/// the wire, sent by the engine's thread: a bound keeps a burst from becoming a storm that
/// starves the adverts (docs/hostile.md).
pub const MAX_ANNOUNCE_REPEAT: u32 = 100;
/// Longest `announce.delay` and `announce.refresh` (keepalived's own limit is a day too).
pub const MAX_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(86_400);
/// Shortest `announce.refresh` other than 0 (keepalived counts it in whole seconds).
pub const MIN_ANNOUNCE_REFRESH: Duration = Duration::from_secs(1);

/// Which nodes a priority override applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum NodeMatch {
    /// The node with this name.
    Name(String),
    /// The nodes whose labels match.
    Labels(Selector),
}

/// A spec with every field parsed: what the node-dependent half starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    pub vrid: u8,
    pub version: Version,
    pub vips: Vec<Prefixed>,
    pub interface: Option<String>,
    pub advert_interval: Duration,
    pub max_advert_interval: Option<Duration>,
    pub priority: u8,
    pub priorities: Vec<(NodeMatch, u8)>,
    pub node_selector: Option<Selector>,
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub auth: Option<SecretKeyRef>,
    pub unicast_peers: Vec<IpAddr>,
    pub announce: AnnounceConfig,
    pub trackers: Vec<TrackerConfig>,
    pub added: added::Added,
}

/// Check and parse a spec: every problem, each naming its field, or the parsed spec.
pub(super) fn parse(spec: &VirtualIpSpec) -> Result<Parsed, Vec<SpecError>> {
    let mut errors = Vec::new();
    if spec.vrid == 0 {
        errors.push(err("spec.vrid", "must be 1..255"));
    }
    let version = match spec.version {
        2 => Some(Version::V2),
        3 => Some(Version::V3),
        n => {
            errors.push(err("spec.version", format!("must be 2 or 3, got {n}")));
            None
        }
    };
    let vips = addresses(spec, version, &mut errors);
    let advert_interval = match duration::parse(&spec.advert_interval) {
        Err(e) => {
            errors.push(err("spec.advertInterval", e.to_string()));
            None
        }
        Ok(d) => {
            if let Some(v) = version
                && let Err(e) = check_interval(v, d)
            {
                errors.push(err("spec.advertInterval", e));
            }
            Some(d)
        }
    };
    let max_advert_interval = match &spec.max_advert_interval {
        None => None,
        Some(max) => match (duration::parse(max), advert_interval) {
            (Err(e), _) => {
                errors.push(err("spec.maxAdvertInterval", e.to_string()));
                None
            }
            (Ok(m), Some(own)) if m < own || m > Duration::from_secs(255) => {
                errors.push(err(
                    "spec.maxAdvertInterval",
                    format!(
                        "must be at least spec.advertInterval ({}) and at most 255s, got {max}",
                        spec.advert_interval
                    ),
                ));
                None
            }
            (Ok(m), _) => Some(m),
        },
    };
    if spec.priority == 0 {
        errors.push(err(
            "spec.priority",
            "must be 1..255 (0 is reserved for a leaving master)",
        ));
    }
    let mut priorities = Vec::new();
    for (i, p) in spec.priorities.iter().enumerate() {
        if p.priority == 0 {
            errors.push(err(
                format!("spec.priorities[{i}].priority"),
                "must be 1..255",
            ));
        }
        let matching = match (&p.node_name, &p.node_selector) {
            (Some(name), None) => Some(NodeMatch::Name(name.clone())),
            (None, Some(sel)) => {
                let field = format!("spec.priorities[{i}].nodeSelector");
                check_selector(sel, &field, &mut errors);
                sel.to_selector().ok().map(NodeMatch::Labels)
            }
            (name, sel) => {
                errors.push(err(
                    format!("spec.priorities[{i}]"),
                    "set exactly one of nodeName and nodeSelector",
                ));
                if let (Some(_), Some(sel)) = (name, sel) {
                    let field = format!("spec.priorities[{i}].nodeSelector");
                    check_selector(sel, &field, &mut errors);
                }
                None
            }
        };
        priorities.extend(matching.map(|m| (m, p.priority)));
    }
    let node_selector = spec.node_selector.as_ref().and_then(|sel| {
        check_selector(sel, "spec.nodeSelector", &mut errors);
        sel.to_selector().ok()
    });
    let preempt_delay = match duration::parse(&spec.preempt_delay) {
        Err(e) => {
            errors.push(err("spec.preemptDelay", e.to_string()));
            None
        }
        Ok(d) => Some(d),
    };
    if let Some(auth) = &spec.authentication {
        if version != Some(Version::V2) {
            errors.push(err(
                "spec.authentication",
                "only VRRPv2 has authentication (RFC 5798 removed it); set version: 2 or remove it",
            ));
        }
        if auth.kind != "PASS" {
            errors.push(err(
                "spec.authentication.type",
                format!("only PASS is supported, got {:?}", auth.kind),
            ));
        }
    }
    let family = vips.first().map(|v| v.addr.is_ipv4());
    let mut unicast_peers = Vec::new();
    for (i, peer) in spec.unicast_peers.iter().enumerate() {
        match peer.parse::<IpAddr>() {
            Err(_) => errors.push(err(
                format!("spec.unicastPeers[{i}]"),
                format!("{peer:?} is not an IP address"),
            )),
            Ok(a) if family.is_some_and(|f| f != a.is_ipv4()) => errors.push(err(
                format!("spec.unicastPeers[{i}]"),
                "must be of the addresses' family",
            )),
            Ok(a) if no_router(a) => errors.push(err(
                format!("spec.unicastPeers[{i}]"),
                format!(
                    "{peer:?} cannot be a router (unspecified, multicast, broadcast or loopback)"
                ),
            )),
            Ok(a) => unicast_peers.push(a),
        }
    }
    let announce = match &spec.announce {
        Some(a) => announce(a, &mut errors),
        None => announce(&Announce::default(), &mut errors),
    };
    let trackers = tracker::parse(&spec.trackers, &mut errors);
    let added = added::parse(spec, &mut errors);
    match (version, advert_interval, preempt_delay, announce, added) {
        (
            Some(version),
            Some(advert_interval),
            Some(preempt_delay),
            Some(announce),
            Some(added),
        ) if errors.is_empty() => Ok(Parsed {
            vrid: spec.vrid,
            version,
            vips,
            interface: spec.interface.clone(),
            advert_interval,
            max_advert_interval,
            priority: spec.priority,
            priorities,
            node_selector,
            preempt: spec.preempt,
            preempt_delay,
            auth: spec.authentication.as_ref().map(|a| a.secret_ref.clone()),
            unicast_peers,
            announce,
            trackers,
            added,
        }),
        _ => Err(errors),
    }
}

/// `spec.addresses`: all of one family, none unusable, IPv4 for VRRPv2, 1 to 255 of them.
fn addresses(
    spec: &VirtualIpSpec,
    version: Option<Version>,
    errors: &mut Vec<SpecError>,
) -> Vec<Prefixed> {
    if spec.addresses.is_empty() {
        errors.push(err("spec.addresses", "must list at least one address"));
    }
    let mut family: Option<bool> = None;
    let mut vips = Vec::new();
    for (i, a) in spec.addresses.iter().enumerate() {
        match parse_prefixed(a) {
            Err(e) => errors.push(err(format!("spec.addresses[{i}]"), e)),
            Ok(p) => {
                if *family.get_or_insert(p.addr.is_ipv4()) != p.addr.is_ipv4() {
                    errors.push(err(
                        format!("spec.addresses[{i}]"),
                        "all addresses must be of one family",
                    ));
                }
                if let Some(why) = unusable_vip(p) {
                    errors.push(err(format!("spec.addresses[{i}]"), format!("{a:?}: {why}")));
                }
                if version == Some(Version::V2) && !p.addr.is_ipv4() {
                    errors.push(err(
                        format!("spec.addresses[{i}]"),
                        "VRRPv2 carries IPv4 only; use version: 3",
                    ));
                }
                vips.push(p);
            }
        }
    }
    if spec.addresses.len() > 255 {
        errors.push(err(
            "spec.addresses",
            "at most 255 addresses fit in an advert",
        ));
    }
    vips
}

/// `spec.announce`, parsed.
fn announce(a: &Announce, errors: &mut Vec<SpecError>) -> Option<AnnounceConfig> {
    if !(1..=MAX_ANNOUNCE_REPEAT).contains(&a.repeat) {
        errors.push(err(
            "spec.announce.repeat",
            format!("must be 1..{MAX_ANNOUNCE_REPEAT}, got {}", a.repeat),
        ));
    }
    let mut parsed = [None, None];
    for ((field, value, min), slot) in [
        ("delay", &a.delay, Duration::ZERO),
        ("refresh", &a.refresh, MIN_ANNOUNCE_REFRESH),
    ]
    .into_iter()
    .zip(&mut parsed)
    {
        match duration::parse(value) {
            Err(e) => errors.push(err(format!("spec.announce.{field}"), e.to_string())),
            Ok(d) if d > MAX_ANNOUNCE_INTERVAL || (!d.is_zero() && d < min) => errors.push(err(
                format!("spec.announce.{field}"),
                format!(
                    "must be 0s (off) or {}..24h, got {value}",
                    if min.is_zero() { "0s" } else { "1s" }
                ),
            )),
            Ok(d) => *slot = Some(d),
        }
    }
    let [delay, refresh] = parsed;
    Some(AnnounceConfig {
        repeat: a.repeat,
        delay: delay?,
        refresh: refresh?,
    })
}
