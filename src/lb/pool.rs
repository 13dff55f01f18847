//! The VirtualIPPool resource (`kubevrrp.io/v1alpha1`, cluster-scoped): the addresses and VRIDs
//! LoadBalancer Services get, which Services a pool serves, and the VirtualIP fields every
//! Service's VIP inherits. Shaped like MetalLB's IPAddressPool + serviceAllocation, with status
//! counts and a conflict condition like Cilium's pools.

use std::net::IpAddr;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Announce, Authentication, Condition, LabelSelector, PriorityOverride, Tracker};

/// `spec` of a VirtualIPPool.
#[derive(CustomResource, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kubevrrp.io",
    version = "v1alpha1",
    kind = "VirtualIPPool",
    plural = "virtualippools",
    shortname = "vippool",
    status = "VirtualIpPoolStatus",
    doc = "Addresses and VRIDs for LoadBalancer Services of class kubevrrp.io/vrrp.",
    printcolumn(name = "Addresses", type_ = "string", json_path = ".spec.addresses"),
    printcolumn(
        name = "IPv4-Assigned",
        type_ = "integer",
        json_path = ".status.assignedIPv4"
    ),
    printcolumn(
        name = "IPv4-Available",
        type_ = "integer",
        json_path = ".status.availableIPv4"
    ),
    printcolumn(
        name = "IPv6-Assigned",
        type_ = "integer",
        json_path = ".status.assignedIPv6"
    ),
    printcolumn(
        name = "IPv6-Available",
        type_ = "string",
        json_path = ".status.availableIPv6"
    ),
    printcolumn(
        name = "VRIDs-Free",
        type_ = "integer",
        json_path = ".status.availableVrids"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualIpPoolSpec {
    /// Addresses to hand out: CIDRs (`198.51.100.64/27`, `2001:db8:1::/120`) and ranges
    /// (`198.51.100.70-198.51.100.79`), both families.
    #[schemars(length(min = 1, max = 64), inner(length(max = 100)))]
    pub addresses: Vec<String>,
    /// VRIDs the pool's virtual routers may use, e.g. `1-100` or `10,20-29` (default 1-255).
    /// Each Service address gets its own, unique among all VirtualIPs.
    #[serde(default = "default_vrids")]
    #[schemars(length(max = 200))]
    pub vrids: String,
    /// Hand out addresses to Services that do not name a pool (default true); false: only to
    /// Services that ask for this pool or one of its addresses.
    #[serde(default = "default_true")]
    pub auto_assign: bool,
    /// Which Services the pool serves (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
    /// The VirtualIP fields every Service VIP of this pool gets.
    #[serde(default)]
    pub template: VirtualIpTemplate,
}

fn default_vrids() -> String {
    "1-255".into()
}
fn default_true() -> bool {
    true
}

/// Which Services a pool serves, and its rank among pools that serve the same Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAllocation {
    /// Lower first: a Service gets its address from the matching pool with the lowest
    /// priority number that has one free (default 0; ties by name).
    #[serde(default)]
    pub priority: i32,
    /// Only Services in these namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Only Services in namespaces with these labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Only Services with these labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<LabelSelector>,
}

/// The VirtualIP fields a pool gives its Services' VIPs (see VirtualIP for each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualIpTemplate {
    /// Interface (default: the one whose subnet holds the address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// VRRP version (3; 2 for IPv4-only pools with PASS authentication).
    #[serde(default = "default_version")]
    pub version: u8,
    /// Advertisement interval.
    #[serde(default = "default_interval")]
    pub advert_interval: String,
    /// Base priority.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Per-node priorities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<PriorityOverride>,
    /// Which nodes take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// false = keepalived's nopreempt.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// v2 PASS authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Gratuitous ARP / NA settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Announce>,
    /// Health trackers of every VIP of the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trackers: Vec<Tracker>,
}

impl Default for VirtualIpTemplate {
    fn default() -> Self {
        VirtualIpTemplate {
            interface: None,
            version: default_version(),
            advert_interval: default_interval(),
            priority: default_priority(),
            priorities: Vec::new(),
            node_selector: None,
            preempt: true,
            authentication: None,
            announce: None,
            trackers: Vec::new(),
        }
    }
}

fn default_version() -> u8 {
    3
}
fn default_interval() -> String {
    "1s".into()
}
fn default_priority() -> u8 {
    100
}

/// `status` of a VirtualIPPool: how full it is, and whether it is usable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualIpPoolStatus {
    /// IPv4 addresses held by Services.
    #[serde(rename = "assignedIPv4")]
    pub assigned_ipv4: u64,
    /// IPv4 addresses free.
    #[serde(rename = "availableIPv4")]
    pub available_ipv4: u64,
    /// IPv6 addresses held by Services.
    #[serde(rename = "assignedIPv6")]
    pub assigned_ipv6: u64,
    /// IPv6 addresses free (a string: it can exceed 2^64).
    #[serde(rename = "availableIPv6")]
    pub available_ipv6: String,
    /// VRIDs of the pool not used by any VirtualIP.
    pub available_vrids: u64,
    /// Ready (usable), Conflict (overlaps another pool or a VirtualIP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A pool's address set: inclusive ranges, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRanges(pub Vec<(IpAddr, IpAddr)>);

/// Why a pool field is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PoolError {
    /// The field (spec.addresses[2], spec.vrids).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn pool_err(field: impl Into<String>, message: impl Into<String>) -> PoolError {
    PoolError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parse `spec.addresses`: CIDRs and `first-last` ranges.
pub fn parse_addresses(list: &[String]) -> Result<AddressRanges, PoolError> {
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let field = format!("spec.addresses[{i}]");
        let entry = entry.trim();
        let range = if let Some((a, b)) = entry.split_once('-') {
            let parse = |s: &str| {
                s.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| pool_err(&field, format!("{s:?} is not an IP address")))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if a.is_ipv4() != b.is_ipv4() {
                return Err(pool_err(&field, "a range's ends must be of one family"));
            }
            if to_u128(a) > to_u128(b) {
                return Err(pool_err(&field, "the first address is above the last"));
            }
            (a, b)
        } else {
            let (addr, len) = entry.split_once('/').ok_or_else(|| {
                pool_err(
                    &field,
                    "expected a CIDR (198.51.100.64/27) or a range (a-b)",
                )
            })?;
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| pool_err(&field, format!("{addr:?} is not an IP address")))?;
            let bits = if addr.is_ipv4() { 32 } else { 128 };
            let len: u32 = len
                .parse()
                .ok()
                .filter(|l| *l <= bits)
                .ok_or_else(|| pool_err(&field, format!("prefix length must be 0..{bits}")))?;
            if (addr.is_ipv4() && len < 8) || (addr.is_ipv6() && len < 64) {
                return Err(pool_err(
                    &field,
                    "too large a block (at most a /8 or a /64): a pool is a list of addresses",
                ));
            }
            let host_bits = bits - len;
            let mask = if host_bits == 0 {
                0
            } else {
                (1u128 << host_bits) - 1
            };
            let base = to_u128(addr) & !mask;
            (
                from_u128(base, addr.is_ipv4()),
                from_u128(base | mask, addr.is_ipv4()),
            )
        };
        out.push(range);
    }
    Ok(AddressRanges(out))
}

impl AddressRanges {
    /// Whether `a` is in the pool.
    pub fn contains(&self, a: IpAddr) -> bool {
        self.0.iter().any(|(first, last)| {
            first.is_ipv4() == a.is_ipv4()
                && (to_u128(*first)..=to_u128(*last)).contains(&to_u128(a))
        })
    }

    /// The addresses of one family in order, skipping none (a /27 hands out all 32: the VIPs
    /// are host addresses, not a subnet).
    pub fn iter(&self, v4: bool) -> impl Iterator<Item = IpAddr> + '_ {
        self.0
            .iter()
            .filter(move |(first, _)| first.is_ipv4() == v4)
            .flat_map(move |(first, last)| {
                (to_u128(*first)..=to_u128(*last)).map(move |n| from_u128(n, v4))
            })
    }

    /// How many addresses of one family (saturating).
    pub fn count(&self, v4: bool) -> u128 {
        self.0
            .iter()
            .filter(|(first, _)| first.is_ipv4() == v4)
            .map(|(f, l)| to_u128(*l) - to_u128(*f) + 1)
            .fold(0u128, u128::saturating_add)
    }

    /// Whether two pools share an address.
    pub fn overlaps(&self, other: &AddressRanges) -> bool {
        self.0.iter().any(|(f1, l1)| {
            other.0.iter().any(|(f2, l2)| {
                f1.is_ipv4() == f2.is_ipv4()
                    && to_u128(*f1) <= to_u128(*l2)
                    && to_u128(*f2) <= to_u128(*l1)
            })
        })
    }
}

/// Parse `spec.vrids`: `1-100`, `10,20-29`; each 1..255.
pub fn parse_vrids(text: &str) -> Result<Vec<u8>, PoolError> {
    let bad = |m: String| pool_err("spec.vrids", m);
    let one = |s: &str| -> Result<u8, PoolError> {
        s.trim()
            .parse::<u8>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad(format!("{s:?} is not a VRID (1..255)")))
    };
    let mut out = std::collections::BTreeSet::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (one(a)?, one(b)?);
                if a > b {
                    return Err(bad(format!("{part:?}: the first VRID is above the last")));
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(one(part)?);
            }
        }
    }
    if out.is_empty() {
        return Err(bad("must name at least one VRID".into()));
    }
    Ok(out.into_iter().collect())
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Result<AddressRanges, PoolError> {
        parse_addresses(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn addresses_parse_as_cidrs_and_ranges() {
        let r = ranges(&[
            "198.51.100.64/30",
            "198.51.100.70-198.51.100.71",
            "2001:db8::10/127",
        ])
        .unwrap();
        let v4: Vec<String> = r.iter(true).map(|a| a.to_string()).collect();
        assert_eq!(
            v4,
            [
                "198.51.100.64",
                "198.51.100.65",
                "198.51.100.66",
                "198.51.100.67",
                "198.51.100.70",
                "198.51.100.71"
            ]
        );
        assert_eq!((r.count(true), r.count(false)), (6, 2));
        assert!(r.contains("2001:db8::11".parse().unwrap()));
        assert!(!r.contains("198.51.100.68".parse().unwrap()));
        // A CIDR written with host bits counts from its network address.
        let r = ranges(&["198.51.100.66/30"]).unwrap();
        assert_eq!(r.iter(true).next().unwrap().to_string(), "198.51.100.64");
    }

    #[test]
    fn bad_addresses_name_the_entry() {
        let e = |l: &[&str]| ranges(l).unwrap_err().to_string();
        assert_eq!(
            e(&["198.51.100.1"]),
            "spec.addresses[0]: expected a CIDR (198.51.100.64/27) or a range (a-b)"
        );
        assert_eq!(
            e(&["198.51.100.0/24", "198.51.100.9-198.51.100.1"]),
            "spec.addresses[1]: the first address is above the last"
        );
        assert_eq!(
            e(&["198.51.100.1-2001:db8::1"]),
            "spec.addresses[0]: a range's ends must be of one family"
        );
        assert_eq!(
            e(&["10.0.0.0/4"]),
            "spec.addresses[0]: too large a block (at most a /8 or a /64): a pool is a list of addresses"
        );
        assert_eq!(
            e(&["198.51.100.0/33"]),
            "spec.addresses[0]: prefix length must be 0..32"
        );
    }

    #[test]
    fn overlap_is_per_family() {
        let a = ranges(&["198.51.100.64/28"]).unwrap();
        assert!(a.overlaps(&ranges(&["198.51.100.79-198.51.100.90"]).unwrap()));
        assert!(!a.overlaps(&ranges(&["198.51.100.80/28"]).unwrap()));
        assert!(!a.overlaps(&ranges(&["::c633:6440/124"]).unwrap()));
    }

    #[test]
    fn vrids_parse_lists_and_ranges() {
        assert_eq!(parse_vrids("10,20-22").unwrap(), [10, 20, 21, 22]);
        assert_eq!(parse_vrids("1-255").unwrap().len(), 255);
        assert_eq!(
            parse_vrids("0-5").unwrap_err().to_string(),
            "spec.vrids: \"0\" is not a VRID (1..255)"
        );
        assert!(parse_vrids("9-3").is_err());
        assert!(parse_vrids(" ").is_err());
    }
}
