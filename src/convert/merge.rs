//! Several hosts' instances of one virtual router, merged into one VirtualIP: the same VRID and
//! address family (and, where a host has several, the same interface) make one virtual router.
//! Each host's priority becomes a `priorities` entry; the base priority is the lowest.

use std::collections::HashMap;

use crate::spec::{PriorityOverride, VirtualIpSpec};

use super::Diagnostics;
use super::instance::Converted;
use super::parse::Loc;

/// One VirtualIP to write.
#[derive(Debug)]
pub(crate) struct Vip {
    /// The vrrp_instance name (of the first host).
    pub instance: String,
    /// The merged spec.
    pub spec: VirtualIpSpec,
    /// The PASS password (of the first host).
    pub password: Option<String>,
    /// Where the instance is, on every host.
    pub sources: Vec<Loc>,
}

/// One host's instances; `node` is None for a single host without a node name.
pub(crate) struct Host {
    pub node: Option<String>,
    pub instances: Vec<Converted>,
}

/// Merge the hosts' instances into VirtualIPs, in the order they first appear. Linear in the
/// number of instances: groups are found by (VRID, family), not by a scan of every group.
pub(crate) fn merge(hosts: Vec<Host>, diag: &mut Diagnostics) -> Vec<Vip> {
    let nodes: Vec<String> = hosts.iter().filter_map(|h| h.node.clone()).collect();
    let mut groups: Vec<Vec<(Option<String>, Converted)>> = Vec::new();
    let mut by_router: HashMap<(u8, bool), Vec<usize>> = HashMap::new();
    for host in hosts {
        // One host's routers: a second instance with the VRID, family and interface of an
        // earlier one is refused by `run` at run time (the VRID is taken); say so now.
        let mut seen: HashMap<(u8, bool, Option<String>), String> = HashMap::new();
        for c in host.instances {
            let key = (c.spec.vrid, c.ipv4);
            if let Some(first) = seen.insert(
                (c.spec.vrid, c.ipv4, c.spec.interface.clone()),
                c.name.clone(),
            ) {
                diag.warn(
                    &c.loc,
                    "virtual_router_id",
                    format!(
                        "vrrp_instance {} uses vrid {} on the same interface as vrrp_instance {}; kube-vrrp runs only the first of them",
                        super::shown(&c.name),
                        c.spec.vrid,
                        super::shown(&first)
                    ),
                );
            }
            let candidates: &[usize] = match (&host.node, by_router.get(&key)) {
                (Some(_), Some(c)) => c,
                _ => &[],
            };
            let fits = |i: &usize| {
                groups
                    .get(*i)
                    .is_some_and(|g| g.iter().all(|(n, _)| n != &host.node))
            };
            let same_if = candidates.iter().copied().find(|i| {
                fits(i)
                    && groups[*i]
                        .first()
                        .is_some_and(|(_, f)| f.spec.interface == c.spec.interface)
            });
            match same_if.or_else(|| candidates.iter().copied().find(fits)) {
                Some(i) => groups[i].push((host.node.clone(), c)),
                None => {
                    by_router.entry(key).or_default().push(groups.len());
                    groups.push(vec![(host.node.clone(), c)]);
                }
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|g| group(g, &nodes, diag))
        .collect()
}

fn group(
    members: Vec<(Option<String>, Converted)>,
    nodes: &[String],
    diag: &mut Diagnostics,
) -> Option<Vip> {
    let mut members = members.into_iter();
    let (first_node, first) = members.next()?;
    let mut spec = first.spec.clone();
    let mut sources = vec![first.loc.clone()];
    let mut present = vec![first_node.clone()];
    let first_name = first_node.clone().unwrap_or_default();
    let mut priorities = Vec::new();
    if let Some(n) = &first_node {
        priorities.push(PriorityOverride {
            node_name: Some(n.clone()),
            node_selector: None,
            priority: first.spec.priority,
        });
    }
    for (node, other) in members {
        let o = &other.spec;
        let node_name = node.clone().unwrap_or_default();
        let mut differs = |option: &str, detail: String| {
            diag.warn(
                &other.loc,
                option,
                format!(
                    "vrrp_instance {} (vrid {}) on node {node_name} differs from node {first_name} ({}:{}){detail}; node {first_name}'s is used",
                    super::shown(&other.name),
                    o.vrid,
                    first.loc.file.display(),
                    first.loc.line
                ),
            )
        };
        let simple: [(&str, String, String); 10] = [
            (
                "virtual_ipaddress",
                format!("{:?}", o.addresses),
                format!("{:?}", first.spec.addresses),
            ),
            (
                "version",
                o.version.to_string(),
                first.spec.version.to_string(),
            ),
            (
                "advert_int",
                o.advert_interval.clone(),
                first.spec.advert_interval.clone(),
            ),
            (
                "nopreempt",
                (!o.preempt).to_string(),
                (!first.spec.preempt).to_string(),
            ),
            (
                "preempt_delay",
                o.preempt_delay.clone(),
                first.spec.preempt_delay.clone(),
            ),
            (
                "vrrp_startup_delay",
                o.startup_delay.clone(),
                first.spec.startup_delay.clone(),
            ),
            (
                "interface_up_down_delays",
                format!("{:?}", o.link_debounce),
                format!("{:?}", first.spec.link_debounce),
            ),
            (
                "v3_checksum_as_v2",
                format!("{:?}", o.v3_checksum),
                format!("{:?}", first.spec.v3_checksum),
            ),
            (
                "notify",
                format!("{:?}", o.notify),
                format!("{:?}", first.spec.notify),
            ),
            (
                "vrrp_sync_group",
                format!("{:?}", o.sync_group),
                format!("{:?}", first.spec.sync_group),
            ),
        ];
        for (option, theirs, ours) in simple {
            if theirs != ours {
                differs(option, format!(": {theirs} vs {ours}"));
            }
        }
        if o.announce != first.spec.announce {
            differs("garp_master_delay", " in its garp_master_* settings".into());
        }
        if o.trackers != first.spec.trackers {
            differs("track_script", " in its trackers (track_*)".into());
        }
        if other.password != first.password {
            differs("authentication", " in its authentication".into());
        }
        if o.interface != spec.interface && spec.interface.is_some() {
            diag.warn(
                &other.loc,
                "interface",
                format!(
                    "interface differs between nodes ({} on {first_name}, {} on {node_name}); spec.interface is left out, so each node uses the interface whose subnet holds the address",
                    spec.interface.as_deref().unwrap_or_default(),
                    o.interface.as_deref().unwrap_or("none")
                ),
            );
            spec.interface = None;
        }
        for p in &o.unicast_peers {
            if !spec.unicast_peers.contains(p) {
                spec.unicast_peers.push(p.clone());
            }
        }
        spec.priority = spec.priority.min(o.priority);
        if let Some(n) = &node {
            priorities.push(PriorityOverride {
                node_name: Some(n.clone()),
                node_selector: None,
                priority: o.priority,
            });
        }
        sources.push(other.loc.clone());
        present.push(node);
    }
    let missing: Vec<&str> = nodes
        .iter()
        .filter(|n| !present.iter().any(|p| p.as_deref() == Some(n.as_str())))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        diag.warn(
            &first.loc,
            "vrrp_instance",
            format!(
                "{} (vrid {}) is not configured on {}; those nodes take part too, with priority {}",
                first.name,
                spec.vrid,
                missing.join(", "),
                spec.priority
            ),
        );
    }
    spec.priorities = priorities;
    Some(Vip {
        instance: first.name,
        spec,
        password: first.password,
        sources,
    })
}
