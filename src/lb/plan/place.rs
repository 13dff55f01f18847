//! Where one Service's address of one family comes from: the pools that may serve it, the
//! address it holds, the one it asks for, a sharing partner's, or the first free one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::{AllocError, Managed, Pool, VipInput};
use crate::lb::service::{Port, Request};

/// Whether a pool serves a Service.
pub(super) fn serves(p: &Pool, r: &Request) -> bool {
    let Some(sa) = &p.input.spec.service_allocation else {
        return true;
    };
    (sa.namespaces.is_empty() || sa.namespaces.contains(&r.key.namespace))
        && sa
            .namespace_selector
            .as_ref()
            .is_none_or(|s| s.matches(&r.namespace_labels))
        && sa
            .service_selector
            .as_ref()
            .is_none_or(|s| s.matches(&r.labels))
}

/// The pools a Service may get an address of family `v4` from, best first.
pub(super) fn eligible<'p, 'a>(
    r: &Request,
    usable: &'p [Pool<'a>],
) -> Result<Vec<&'p Pool<'a>>, AllocError> {
    if let Some(name) = &r.pool {
        let p = usable
            .iter()
            .find(|p| &p.input.name == name)
            .ok_or_else(|| AllocError::UnknownPool(name.clone()))?;
        return if serves(p, r) {
            Ok(vec![p])
        } else {
            Err(AllocError::PoolDoesNotServe(name.clone()))
        };
    }
    let mut list: Vec<&Pool> = usable
        .iter()
        .filter(|p| serves(p, r))
        .filter(|p| p.input.spec.auto_assign || !r.addresses.is_empty())
        .collect();
    list.sort_by_key(|p| {
        let prio = p
            .input
            .spec
            .service_allocation
            .as_ref()
            .map_or(0, |s| s.priority);
        (prio, p.input.name.clone())
    });
    if list.is_empty() {
        return Err(AllocError::NoPool);
    }
    Ok(list)
}

/// An address placed in this round.
pub(super) struct Slot {
    pub(super) vrid: u8,
    pub(super) managed: Managed,
    /// The pod selector of its externalTrafficPolicy: Local Services.
    pub(super) local: Option<BTreeMap<String, String>>,
    /// The ports its Services use.
    pub(super) ports: Vec<Port>,
}

pub(super) type Placed = BTreeMap<IpAddr, Slot>;

/// Whether `r` may join the address placed as `slot`: the same sharing key, no port in common,
/// the same traffic policy (and for Local, the same selector in the same namespace).
pub(super) fn may_share(r: &Request, slot: &Slot) -> bool {
    r.sharing_key.is_some()
        && slot.managed.sharing_key == r.sharing_key
        && slot.local == r.local
        && r.ports.iter().all(|p| !slot.ports.contains(p))
        && (r.local.is_none()
            || slot
                .managed
                .services
                .iter()
                .all(|s| s.namespace == r.key.namespace))
}

/// One address of family `v4` for `r`: (address, VRID, pool).
pub(super) fn place(
    r: &Request,
    v4: bool,
    usable: &[Pool],
    foreign: &BTreeMap<IpAddr, &str>,
    current: &BTreeMap<IpAddr, &VipInput>,
    placed: &Placed,
    used_vrids: &BTreeSet<u8>,
) -> Result<(IpAddr, u8, String), AllocError> {
    let pools = eligible(r, usable)?;
    let wanted = r.addresses.iter().find(|a| a.is_ipv4() == v4).copied();
    let in_pool = |a: IpAddr| pools.iter().find(|p| p.ranges.contains(a));
    // Joining an address already placed this round (sharing), or keeping one's own.
    let join = |a: IpAddr| -> Option<Result<(IpAddr, u8, String), AllocError>> {
        let slot = placed.get(&a)?;
        Some(if may_share(r, slot) {
            Ok((a, slot.vrid, slot.managed.pool.clone()))
        } else {
            let by: Vec<String> = slot
                .managed
                .services
                .iter()
                .map(ToString::to_string)
                .collect();
            Err(AllocError::InUse {
                addr: a,
                by: by.join(", "),
            })
        })
    };
    let vrid_free = |v: u8| !used_vrids.contains(&v) && !placed.values().any(|x| x.vrid == v);
    let new_vrid = |p: &Pool| p.vrids.iter().copied().find(|v| vrid_free(*v));
    // 1. What the Service holds now, if still acceptable (its VRID too, unless taken since).
    let held = current.iter().find(|(a, v)| {
        a.is_ipv4() == v4
            && v.managed
                .as_ref()
                .is_some_and(|m| m.services.contains(&r.key))
    });
    if let Some((a, v)) = held
        && wanted.is_none_or(|w| w == *a)
        && let Some(p) = in_pool(*a)
        && !foreign.contains_key(a)
    {
        match join(*a) {
            Some(Ok(x)) => return Ok(x),
            Some(Err(_)) => {} // no longer compatible with its partners: a new address
            None => {
                let vrid = if vrid_free(v.vrid) {
                    Some(v.vrid)
                } else {
                    new_vrid(p)
                };
                if let Some(vrid) = vrid {
                    return Ok((*a, vrid, p.input.name.clone()));
                }
            }
        }
    }
    // 2. A requested address.
    if let Some(a) = wanted {
        let p = in_pool(a).ok_or(AllocError::NotInPool(a))?;
        if let Some(by) = foreign.get(&a) {
            return Err(AllocError::InUse {
                addr: a,
                by: format!("VirtualIP {by:?}"),
            });
        }
        if let Some(j) = join(a) {
            return j;
        }
        let vrid = new_vrid(p).ok_or_else(|| AllocError::VridsExhausted(p.input.name.clone()))?;
        return Ok((a, vrid, p.input.name.clone()));
    }
    // 3. A sharing partner's address.
    if r.sharing_key.is_some()
        && let Some((a, x)) = placed.iter().find(|(a, x)| {
            a.is_ipv4() == v4
                && pools.iter().any(|p| p.input.name == x.managed.pool)
                && may_share(r, x)
        })
    {
        return Ok((*a, x.vrid, x.managed.pool.clone()));
    }
    // 4. The first free address of the best pool that has one and a VRID.
    let mut vrids_out = None;
    for p in &pools {
        let free = p.ranges.iter(v4).find(|a| {
            !foreign.contains_key(a)
                && !placed.contains_key(a)
                && !current.get(a).is_some_and(|v| {
                    // Held by a Service still to be processed: not free.
                    v.managed
                        .as_ref()
                        .is_some_and(|m| !m.services.contains(&r.key))
                })
        });
        let Some(a) = free else { continue };
        match new_vrid(p) {
            Some(vrid) => return Ok((a, vrid, p.input.name.clone())),
            None => vrids_out = vrids_out.or(Some(p.input.name.clone())),
        }
    }
    if let Some(pool) = vrids_out {
        return Err(AllocError::VridsExhausted(pool));
    }
    Err(AllocError::Exhausted {
        family: if v4 { "IPv4" } else { "IPv6" },
        pools: pools
            .iter()
            .map(|p| format!("{:?}", p.input.name))
            .collect::<Vec<_>>()
            .join(", "),
    })
}
