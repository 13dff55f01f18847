//! Pure translation from a VirtualIP spec and the facts of one node to the configuration of the
//! virtual router that node runs. Shared by standalone mode and the Kubernetes agent.
//!
//! One pass: translate/parse.rs checks every field of a spec and parses it into its type
//! (durations, addresses, selectors, trackers), listing every problem; [`translate`] then
//! applies the node's facts. Nothing is parsed twice and nothing falls back to a default.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use kube::core::SelectorExt;

pub use crate::address::{InterfaceFacts, Prefixed, no_router, parse_prefixed};
use crate::spec::{LabelSelector, SecretKeyRef, VirtualIpSpec};
use crate::vrrp::priority::OWNER;
use crate::vrrp::timers::VIP_REFRESH;
use crate::vrrp::{AnnounceTiming, Auth, InstanceConfig};

mod added;
mod fields;
pub mod http;
mod input;
mod parse;
pub mod tracker;
pub use added::{MAX_LINK_DELAY, MAX_STARTUP_DELAY, NotifyConfig};
pub use input::{Documents, VirtualIpDoc};
pub use parse::{MAX_ANNOUNCE_INTERVAL, MAX_ANNOUNCE_REPEAT, MIN_ANNOUNCE_REFRESH};
pub use tracker::{TrackerConfig, TrackerKind};

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
    /// Announcements per burst (`spec.announce.repeat`; the schedule is the engine's,
    /// `instance.announce`).
    pub announce_repeat: u32,
    /// The trackers, parsed.
    pub trackers: Vec<TrackerConfig>,
    /// The checksum form of the VRRPv3 IPv4 adverts sent (`spec.v3Checksum`).
    pub checksum: crate::vrrp::packet::ChecksumForm,
    /// Notify hooks (`spec.notify`; standalone mode only).
    pub notify: NotifyConfig,
    /// The sync group (`spec.syncGroup`).
    pub sync_group: Option<String>,
    /// Hold the VIPs on a virtual MAC interface (`spec.virtualMac`).
    pub virtual_mac: bool,
}

/// Node-independent checks of a spec: every problem, each naming its field (none: the spec
/// translates on a node that has its interface).
pub fn validate(spec: &VirtualIpSpec) -> Vec<SpecError> {
    parse::parse(spec).err().unwrap_or_default()
}

/// Report each `matchExpressions` entry whose operator and values do not fit.
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
    password: &dyn Fn(&SecretKeyRef) -> Result<String, String>,
) -> Result<Option<RouterConfig>, Vec<SpecError>> {
    let p = parse::parse(spec)?;
    if p.node_selector
        .as_ref()
        .is_some_and(|s| !s.matches(&node.labels))
    {
        return Ok(None);
    }
    let one = |e: SpecError| vec![e];
    let priority = p
        .priorities
        .iter()
        .find(|(m, _)| match m {
            parse::NodeMatch::Name(n) => *n == node.name,
            parse::NodeMatch::Labels(s) => s.matches(&node.labels),
        })
        .map_or(p.priority, |(_, priority)| *priority);
    let Some(first) = p.vips.first().map(|v| v.addr) else {
        return Err(one(err("spec.addresses", "must list at least one address")));
    };
    // A VIP is installed and removed by kube-vrrp: one of the node's own addresses must not be
    // one (removing it would cut the node off).
    if let Some(own) = p.vips.iter().find_map(|v| {
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
    let iface = match &p.interface {
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
        .filter(|a| !p.vips.iter().any(|v| v.addr == *a))
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
    let auth = match &p.auth {
        None => Auth::None,
        Some(secret) => {
            Auth::pass(&password(secret).map_err(|e| one(err("spec.authentication.secretRef", e)))?)
        }
    };
    let instance = InstanceConfig {
        vrid: p.vrid,
        version: p.version,
        priority,
        advert_interval: p.advert_interval,
        preempt: p.preempt && priority != OWNER,
        preempt_delay: p.preempt_delay,
        addresses: p.vips.iter().map(|v| v.addr).collect(),
        auth,
        primary,
        startup_delay: p.added.startup_delay,
        link_debounce: p.added.link_debounce,
        announce: AnnounceTiming {
            delay: p.announce.delay,
            refresh: p.announce.refresh,
        },
        vip_refresh: Some(VIP_REFRESH),
        unicast_peers: p.unicast_peers,
        max_advert_interval: p.max_advert_interval,
    };
    Ok(Some(RouterConfig {
        name: name.to_string(),
        interface: iface.name.clone(),
        instance,
        vips: p.vips,
        announce_repeat: p.announce.repeat,
        trackers: p.trackers,
        checksum: p.added.checksum,
        notify: p.added.notify,
        sync_group: p.added.sync_group,
        virtual_mac: p.added.virtual_mac,
    }))
}

#[cfg(test)]
mod tests;
