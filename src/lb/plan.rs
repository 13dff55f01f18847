//! The allocator, pure: from the pools, the VirtualIPs and the Services' requests as they are
//! in the API, the state that should be: which Service VIP (one VirtualIP per address) exists
//! with which spec, which Service shows which addresses, why the others got none, and each
//! pool's counts. The controller applies the difference. Because the VirtualIPs record every
//! allocation (one VirtualIP per address, named after it), running this again on the API's
//! state after a restart gives the same answer: nothing is remembered anywhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::pool::{AddressRanges, VirtualIpPoolSpec, parse_addresses, parse_vrids};
use super::service::{Request, ServiceKey};
use crate::spec::{LabelSelector, PodsTracker, Tracker, VirtualIpSpec};

/// A pool as read from the API.
#[derive(Clone, Debug)]
pub struct PoolInput {
    /// Name.
    pub name: String,
    /// creationTimestamp (RFC 3339): the older of two overlapping pools keeps working.
    pub created: String,
    /// Spec.
    pub spec: VirtualIpPoolSpec,
}

/// What marks a VirtualIP as a Service VIP made by the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Managed {
    /// The pool it came from.
    pub pool: String,
    /// The Services it carries (more than one when they share the address).
    pub services: Vec<ServiceKey>,
    /// Their sharing key.
    pub sharing_key: Option<String>,
}

/// A VirtualIP as read from the API.
#[derive(Clone, Debug)]
pub struct VipInput {
    /// Name.
    pub name: String,
    /// VRID.
    pub vrid: u8,
    /// Its addresses (without prefix lengths).
    pub addresses: Vec<IpAddr>,
    /// Set for the controller's own.
    pub managed: Option<Managed>,
}

/// Why a Service has no address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// No pool serves the Service.
    #[error("no VirtualIPPool serves this Service (autoAssign, serviceAllocation)")]
    NoPool,
    /// The pool it names does not exist or is not usable.
    #[error("VirtualIPPool {0:?} does not exist or is not Ready")]
    UnknownPool(String),
    /// The pool it names does not serve it.
    #[error("VirtualIPPool {0:?} does not serve this Service (serviceAllocation)")]
    PoolDoesNotServe(String),
    /// Every eligible pool is full for a family.
    #[error("no free {family} address in {pools}")]
    Exhausted {
        /// IPv4 or IPv6.
        family: &'static str,
        /// The pools tried.
        pools: String,
    },
    /// The pool has addresses but no VRID left.
    #[error(
        "VirtualIPPool {0:?} has no free VRID left (spec.vrids; 255 VRIDs per segment at most)"
    )]
    VridsExhausted(String),
    /// A requested address is in no pool that serves the Service.
    #[error("{0} is in no VirtualIPPool that serves this Service")]
    NotInPool(IpAddr),
    /// A requested address is held by something else.
    #[error("{addr} is already used by {by}")]
    InUse {
        /// The address.
        addr: IpAddr,
        /// Who holds it.
        by: String,
    },
}

/// A Service VIP that should exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredVip {
    /// The VirtualIP's spec.
    pub spec: VirtualIpSpec,
    /// Its marker.
    pub managed: Managed,
}

/// A pool's computed status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolState {
    /// Usable.
    pub ready: Result<(), String>,
    /// Overlaps another pool or a VirtualIP (the message says which).
    pub conflict: Option<String>,
    /// Assigned / available per family (IPv4, IPv6).
    pub assigned: (u64, u64),
    /// Available per family.
    pub available: (u128, u128),
    /// Free VRIDs.
    pub available_vrids: u64,
}

impl Default for PoolState {
    fn default() -> Self {
        PoolState {
            ready: Ok(()),
            conflict: None,
            assigned: (0, 0),
            available: (0, 0),
            available_vrids: 0,
        }
    }
}

/// The state that should be.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    /// Service VIPs by VirtualIP name.
    pub vips: BTreeMap<String, DesiredVip>,
    /// Addresses each served Service shows.
    pub ingress: BTreeMap<ServiceKey, Vec<IpAddr>>,
    /// Services that got nothing, and why.
    pub failures: BTreeMap<ServiceKey, AllocError>,
    /// Pools by name.
    pub pools: BTreeMap<String, PoolState>,
}

/// The VirtualIP name of a Service address: readable, and the API server's uniqueness of
/// names makes it the lock that keeps two controllers from giving one address twice.
pub fn vip_name(a: IpAddr) -> String {
    format!("lb-{}", a.to_string().replace(':', "-"))
}

mod place;

use place::{Placed, Slot, place};

/// A usable pool.
struct Pool<'a> {
    input: &'a PoolInput,
    ranges: AddressRanges,
    vrids: Vec<u8>,
}

/// Compute the desired state.
pub fn plan(pools: &[PoolInput], vips: &[VipInput], requests: &[Request]) -> Desired {
    let mut out = Desired::default();
    let foreign: BTreeMap<IpAddr, &str> = vips
        .iter()
        .filter(|v| v.managed.is_none())
        .flat_map(|v| v.addresses.iter().map(move |a| (*a, v.name.as_str())))
        .collect();
    let mut used_vrids: BTreeSet<u8> = vips
        .iter()
        .filter(|v| v.managed.is_none())
        .map(|v| v.vrid)
        .collect();
    let usable = usable_pools(pools, &foreign, &mut out);
    // Current allocations, by address.
    let current: BTreeMap<IpAddr, &VipInput> = vips
        .iter()
        .filter(|v| v.managed.is_some())
        .filter_map(|v| v.addresses.first().map(|a| (*a, v)))
        .collect();
    // Services holding an address keep it first; then the oldest.
    let holds = |r: &Request| {
        current.values().any(|v| {
            v.managed
                .as_ref()
                .is_some_and(|m| m.services.contains(&r.key))
        })
    };
    let mut order: Vec<&Request> = requests.iter().collect();
    order.sort_by(|a, b| (!holds(a), &a.created, &a.key).cmp(&(!holds(b), &b.created, &b.key)));
    let mut placed = Placed::new();
    for r in order {
        let mut mine = Vec::new();
        let mut failed = None;
        // VRIDs taken, with those of this Service's other families.
        let mut taken = used_vrids.clone();
        for &v4 in &r.families {
            match place(r, v4, &usable, &foreign, &current, &placed, &taken) {
                Ok(p) => {
                    taken.insert(p.1);
                    mine.push(p);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            out.failures.insert(r.key.clone(), e);
            continue;
        }
        let mut addresses = Vec::new();
        for (addr, vrid, pool) in mine {
            used_vrids.insert(vrid);
            let slot = placed.entry(addr).or_insert_with(|| Slot {
                vrid,
                managed: Managed {
                    pool,
                    services: Vec::new(),
                    sharing_key: r.sharing_key.clone(),
                },
                local: r.local.clone(),
                ports: Vec::new(),
            });
            slot.managed.services.push(r.key.clone());
            slot.ports.extend(r.ports.iter().cloned());
            addresses.push(addr);
        }
        out.ingress.insert(r.key.clone(), addresses);
    }
    for (addr, slot) in placed {
        let Some(p) = usable.iter().find(|p| p.input.name == slot.managed.pool) else {
            continue;
        };
        let spec = vip_spec(
            &p.input.spec,
            addr,
            slot.vrid,
            &slot.managed,
            slot.local.as_ref(),
        );
        out.vips.insert(
            vip_name(addr),
            DesiredVip {
                spec,
                managed: slot.managed,
            },
        );
    }
    for p in &usable {
        let state = out.pools.entry(p.input.name.clone()).or_default();
        for (v4, slot) in [(true, 0), (false, 1)] {
            let assigned = out
                .vips
                .values()
                .filter(|d| d.managed.pool == p.input.name)
                .filter(|d| d.spec.addresses[0].contains('.') == v4)
                .count() as u64;
            let blocked = foreign
                .keys()
                .filter(|a| a.is_ipv4() == v4 && p.ranges.contains(**a))
                .count();
            let total = p.ranges.count(v4);
            let available = total.saturating_sub(u128::from(assigned) + blocked as u128);
            if slot == 0 {
                state.assigned.0 = assigned;
                state.available.0 = available;
            } else {
                state.assigned.1 = assigned;
                state.available.1 = available;
            }
        }
        state.available_vrids = p.vrids.iter().filter(|v| !used_vrids.contains(v)).count() as u64;
    }
    out
}

/// Parse the pools; mark invalid and overlapping ones (the newer of two overlapping pools is
/// not used), and those holding another VirtualIP's address (still used, that address skipped).
fn usable_pools<'a>(
    pools: &'a [PoolInput],
    foreign: &BTreeMap<IpAddr, &str>,
    out: &mut Desired,
) -> Vec<Pool<'a>> {
    let mut sorted: Vec<&PoolInput> = pools.iter().collect();
    sorted.sort_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)));
    let mut usable: Vec<Pool> = Vec::new();
    for input in sorted {
        let state = out.pools.entry(input.name.clone()).or_default();
        let parsed = parse_addresses(&input.spec.addresses)
            .and_then(|r| Ok((r, parse_vrids(&input.spec.vrids)?)));
        let (ranges, vrids) = match parsed {
            Ok(x) => x,
            Err(e) => {
                state.ready = Err(e.to_string());
                continue;
            }
        };
        if let Some(other) = usable.iter().find(|p| p.ranges.overlaps(&ranges)) {
            let msg = format!(
                "overlaps VirtualIPPool {:?}, which is older and keeps its addresses",
                other.input.name
            );
            state.conflict = Some(msg.clone());
            state.ready = Err(msg);
            continue;
        }
        if let Some((a, vip)) = foreign.iter().find(|(a, _)| ranges.contains(**a)) {
            state.conflict = Some(format!(
                "{a} is used by VirtualIP {vip:?}; it is not handed out"
            ));
        }
        usable.push(Pool {
            input,
            ranges,
            vrids,
        });
    }
    usable
}

/// The VirtualIP spec of one Service address: the pool's template, the address, the VRID, and
/// for externalTrafficPolicy: Local a pods tracker (weight 0: a node without a Ready local
/// endpoint is in Fault, so it does not take the VIP, and a master losing its last one hands
/// over with priority 0).
fn vip_spec(
    pool: &VirtualIpPoolSpec,
    addr: IpAddr,
    vrid: u8,
    managed: &Managed,
    local: Option<&BTreeMap<String, String>>,
) -> VirtualIpSpec {
    let t = &pool.template;
    let mut trackers = t.trackers.clone();
    if let (Some(selector), Some(first)) = (local, managed.services.first()) {
        trackers.push(Tracker {
            name: "local-endpoints".into(),
            weight: 0,
            script: None,
            process: None,
            file: None,
            interface: None,
            http: None,
            pods: Some(PodsTracker {
                namespace: first.namespace.clone(),
                selector: LabelSelector {
                    match_labels: selector.clone(),
                    match_expressions: Vec::new(),
                },
            }),
        });
    }
    VirtualIpSpec {
        vrid,
        addresses: vec![addr.to_string()],
        interface: t.interface.clone(),
        version: t.version,
        advert_interval: t.advert_interval.clone(),
        priority: t.priority,
        priorities: t.priorities.clone(),
        node_selector: t.node_selector.clone(),
        preempt: t.preempt,
        preempt_delay: "0s".into(),
        authentication: t.authentication.clone(),
        unicast_peers: Vec::new(),
        max_advert_interval: None,
        announce: t.announce.clone(),
        trackers,
        // The migration features (issue 18) are not in the pool template.
        startup_delay: "0s".into(),
        link_debounce: None,
        v3_checksum: None,
        notify: None,
        sync_group: None,
        virtual_mac: false,
    }
}

#[cfg(test)]
mod tests;
