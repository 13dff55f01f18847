//! Pure translation from a VirtualIP spec and the facts of one node to the configuration of the
//! virtual router that node runs. Shared by standalone mode and the Kubernetes agent.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::address::unusable_vip;
pub use crate::address::{Prefixed, no_router, parse_prefixed};
use crate::duration;
use crate::spec::{LabelSelector, VirtualIpSpec};
use crate::vrrp::priority::OWNER;
use crate::vrrp::timers::check_interval;
use crate::vrrp::{Auth, InstanceConfig, Version};

mod added;
pub use added::{MAX_LINK_DELAY, MAX_STARTUP_DELAY, NotifyConfig};

/// A problem with a spec, naming the field (e.g. `spec.advertInterval`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        message: message.into(),
    }
}

/// One interface of the node, as the translation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceFacts {
    /// Name.
    pub name: String,
    /// Addresses configured on it (ours excluded).
    pub addresses: Vec<Prefixed>,
}

/// What the translation knows about the node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// Node labels (empty in standalone mode).
    pub labels: BTreeMap<String, String>,
    /// Interfaces and their addresses.
    pub interfaces: Vec<InterfaceFacts>,
}

/// Announcement settings in effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// Announcements per burst.
    pub repeat: u32,
    /// Delay of the second burst; zero disables it.
    pub delay: Duration,
    /// Periodic refresh while master; zero disables it.
    pub refresh: Duration,
}

/// Everything a node needs to run one virtual router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The VirtualIP's name.
    pub name: String,
    /// Interface to run on.
    pub interface: String,
    /// The engine's configuration.
    pub instance: InstanceConfig,
    /// The virtual addresses with their prefix lengths.
    pub vips: Vec<Prefixed>,
    /// Unicast peers; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Announcement settings.
    pub announce: AnnounceConfig,
    /// The trackers, as written (validated).
    pub trackers: Vec<crate::spec::Tracker>,
    /// Adverts announcing a longer interval are discarded (`spec.maxAdvertInterval`).
    pub max_advert_interval: Option<Duration>,
    /// The checksum form of the VRRPv3 IPv4 adverts sent (`spec.v3Checksum`).
    pub checksum: crate::vrrp::packet::ChecksumForm,
    /// Notify hooks (`spec.notify`; standalone mode only).
    pub notify: NotifyConfig,
    /// The sync group (`spec.syncGroup`).
    pub sync_group: Option<String>,
    /// Hold the VIPs on a virtual MAC interface (`spec.virtualMac`).
    pub virtual_mac: bool,
}

/// Node-independent checks of a spec: every problem, each naming its field.
pub fn validate(spec: &VirtualIpSpec) -> Vec<SpecError> {
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
    if spec.addresses.is_empty() {
        errors.push(err("spec.addresses", "must list at least one address"));
    }
    let mut family: Option<bool> = None;
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
            }
        }
    }
    if spec.addresses.len() > 255 {
        errors.push(err(
            "spec.addresses",
            "at most 255 addresses fit in an advert",
        ));
    }
    match duration::parse(&spec.advert_interval) {
        Err(e) => errors.push(err("spec.advertInterval", e.to_string())),
        Ok(d) => {
            if let Some(v) = version
                && let Err(e) = check_interval(v, d)
            {
                errors.push(err("spec.advertInterval", e));
            }
        }
    }
    if let Some(max) = &spec.max_advert_interval {
        match (duration::parse(max), duration::parse(&spec.advert_interval)) {
            (Err(e), _) => errors.push(err("spec.maxAdvertInterval", e.to_string())),
            (Ok(m), Ok(own)) if m < own || m > Duration::from_secs(255) => errors.push(err(
                "spec.maxAdvertInterval",
                format!(
                    "must be at least spec.advertInterval ({}) and at most 255s, got {max}",
                    spec.advert_interval
                ),
            )),
            _ => {}
        }
    }
    if spec.priority == 0 {
        errors.push(err(
            "spec.priority",
            "must be 1..255 (0 is reserved for a leaving master)",
        ));
    }
    for (i, p) in spec.priorities.iter().enumerate() {
        if p.priority == 0 {
            errors.push(err(
                format!("spec.priorities[{i}].priority"),
                "must be 1..255",
            ));
        }
        if p.node_name.is_none() == p.node_selector.is_none() {
            errors.push(err(
                format!("spec.priorities[{i}]"),
                "set exactly one of nodeName and nodeSelector",
            ));
        }
        if let Some(sel) = &p.node_selector {
            check_selector(
                sel,
                &format!("spec.priorities[{i}].nodeSelector"),
                &mut errors,
            );
        }
    }
    if let Some(sel) = &spec.node_selector {
        check_selector(sel, "spec.nodeSelector", &mut errors);
    }
    if let Err(e) = duration::parse(&spec.preempt_delay) {
        errors.push(err("spec.preemptDelay", e.to_string()));
    }
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
            Ok(_) => {}
        }
    }
    if let Some(a) = &spec.announce {
        check_announce(a, &mut errors);
    }
    crate::track::validate_specs(&spec.trackers, &mut |field, message| {
        errors.push(err(field, message));
    });
    added::validate(spec, &mut errors);
    errors
}

/// Most announcements per burst (keepalived's default is 5). Each is one frame per address on
/// the wire, sent by the engine's thread: a bound keeps a burst from becoming a storm that
/// starves the adverts (docs/hostile.md).
pub const MAX_ANNOUNCE_REPEAT: u32 = 100;
/// Longest `announce.delay` and `announce.refresh` (keepalived's own limit is a day too).
pub const MAX_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(86_400);
/// Shortest `announce.refresh` other than 0 (keepalived counts it in whole seconds).
pub const MIN_ANNOUNCE_REFRESH: Duration = Duration::from_secs(1);

fn check_announce(a: &crate::spec::Announce, errors: &mut Vec<SpecError>) {
    if !(1..=MAX_ANNOUNCE_REPEAT).contains(&a.repeat) {
        errors.push(err(
            "spec.announce.repeat",
            format!("must be 1..{MAX_ANNOUNCE_REPEAT}, got {}", a.repeat),
        ));
    }
    for (field, value, min) in [
        ("delay", &a.delay, Duration::ZERO),
        ("refresh", &a.refresh, MIN_ANNOUNCE_REFRESH),
    ] {
        match duration::parse(value) {
            Err(e) => errors.push(err(format!("spec.announce.{field}"), e.to_string())),
            Ok(d) if d > MAX_ANNOUNCE_INTERVAL || (!d.is_zero() && d < min) => errors.push(err(
                format!("spec.announce.{field}"),
                format!(
                    "must be 0s (off) or {}..24h, got {value}",
                    if min.is_zero() { "0s" } else { "1s" }
                ),
            )),
            Ok(_) => {}
        }
    }
}

fn check_selector(sel: &LabelSelector, field: &str, errors: &mut Vec<SpecError>) {
    for (i, e) in sel.match_expressions.iter().enumerate() {
        let ok = match e.operator.as_str() {
            "In" | "NotIn" => !e.values.is_empty(),
            "Exists" | "DoesNotExist" => e.values.is_empty(),
            _ => false,
        };
        if !ok {
            errors.push(err(
                format!("{field}.matchExpressions[{i}]"),
                "operator must be In/NotIn (with values) or Exists/DoesNotExist (without)",
            ));
        }
    }
}

/// Translate a spec for one node. `Ok(None)`: the node does not take part. `password` resolves
/// the authentication Secret.
pub fn translate(
    name: &str,
    spec: &VirtualIpSpec,
    node: &NodeFacts,
    password: &dyn Fn(&crate::spec::SecretKeyRef) -> Result<String, String>,
) -> Result<Option<RouterConfig>, Vec<SpecError>> {
    let errors = validate(spec);
    if !errors.is_empty() {
        return Err(errors);
    }
    if spec
        .node_selector
        .as_ref()
        .is_some_and(|s| !s.matches(&node.labels))
    {
        return Ok(None);
    }
    let one = |e: SpecError| vec![e];
    // Validated above, so these parse.
    let vips: Vec<Prefixed> = spec
        .addresses
        .iter()
        .filter_map(|a| parse_prefixed(a).ok())
        .collect();
    let version = if spec.version == 2 {
        Version::V2
    } else {
        Version::V3
    };
    let advert_interval = duration::parse(&spec.advert_interval).unwrap_or(Duration::from_secs(1));
    let priority = spec
        .priorities
        .iter()
        .find(|p| {
            p.node_name.as_deref() == Some(node.name.as_str())
                || p.node_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&node.labels))
        })
        .map_or(spec.priority, |p| p.priority);
    let first = vips[0].addr;
    // A VIP is installed and removed by kube-vrrp: one of the node's own addresses must not be
    // one (removing it would cut the node off).
    if let Some(own) = vips.iter().find_map(|v| {
        node.interfaces
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.addr == v.addr))
            .map(|i| (v.addr, &i.name))
    }) {
        return Err(one(err(
            "spec.addresses",
            format!(
                "{} is an address of node {} on {} (not a virtual one); kube-vrrp installs and removes VIPs, so use an address no node has",
                own.0, node.name, own.1
            ),
        )));
    }
    let iface = match &spec.interface {
        Some(wanted) => node
            .interfaces
            .iter()
            .find(|i| &i.name == wanted)
            .ok_or_else(|| {
                one(err(
                    "spec.interface",
                    format!("node {} has no interface {wanted:?}", node.name),
                ))
            })?,
        None => node
            .interfaces
            .iter()
            .find(|i| {
                i.addresses
                    .iter()
                    .any(|a| a.addr != first && a.contains(first))
            })
            .ok_or_else(|| {
                one(err(
                    "spec.interface",
                    format!(
                        "no interface of node {} has a subnet holding {first}; set spec.interface",
                        node.name
                    ),
                ))
            })?,
    };
    // RFC 5798 §5.1.2.1: IPv6 adverts come from the link-local address; IPv4 from the primary.
    let primary = iface
        .addresses
        .iter()
        .map(|a| a.addr)
        .filter(|a| !vips.iter().any(|v| v.addr == *a))
        .find(|a| match (a, first) {
            (IpAddr::V4(_), IpAddr::V4(_)) => true,
            (IpAddr::V6(a6), IpAddr::V6(_)) => a6.is_unicast_link_local(),
            _ => false,
        })
        .ok_or_else(|| {
            one(err(
                "spec.interface",
                format!(
                    "interface {} has no {} address to send adverts from",
                    iface.name,
                    if first.is_ipv4() {
                        "IPv4"
                    } else {
                        "IPv6 link-local"
                    }
                ),
            ))
        })?;
    let auth = match &spec.authentication {
        None => Auth::None,
        Some(a) => Auth::pass(
            &password(&a.secret_ref).map_err(|e| one(err("spec.authentication.secretRef", e)))?,
        ),
    };
    let announce = spec.announce.clone().unwrap_or_default();
    let instance = InstanceConfig {
        vrid: spec.vrid,
        version,
        priority,
        advert_interval,
        preempt: spec.preempt && priority != OWNER,
        preempt_delay: duration::parse(&spec.preempt_delay).unwrap_or_default(),
        addresses: vips.iter().map(|v| v.addr).collect(),
        auth,
        primary,
        startup_delay: added::startup_delay(spec),
        link_debounce: added::link_debounce(spec),
    };
    Ok(Some(RouterConfig {
        name: name.to_string(),
        interface: iface.name.clone(),
        instance,
        vips,
        unicast_peers: spec
            .unicast_peers
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect(),
        announce: AnnounceConfig {
            repeat: announce.repeat,
            delay: duration::parse(&announce.delay).unwrap_or_default(),
            refresh: duration::parse(&announce.refresh).unwrap_or_default(),
        },
        trackers: spec.trackers.clone(),
        max_advert_interval: spec
            .max_advert_interval
            .as_deref()
            .and_then(|m| duration::parse(m).ok()),
        checksum: added::checksum(spec),
        notify: added::notify(spec),
        sync_group: spec.sync_group.clone(),
        virtual_mac: spec.virtual_mac,
    }))
}
