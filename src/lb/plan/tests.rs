//! Unit tests of the allocator: pools, requests, sharing, conflicts, and the property that the
//! API's state after applying a plan plans to itself (a restarted controller changes nothing).

use super::*;
use crate::lb::pool::ServiceAllocation;

fn pool(name: &str, created: &str, addresses: &[&str], vrids: &str) -> PoolInput {
    PoolInput {
        name: name.into(),
        created: created.into(),
        spec: serde_json::from_value(serde_json::json!({
            "addresses": addresses, "vrids": vrids
        }))
        .unwrap(),
    }
}

fn req(ns: &str, name: &str, created: &str) -> Request {
    Request {
        key: ServiceKey {
            namespace: ns.into(),
            name: name.into(),
        },
        labels: Default::default(),
        namespace_labels: Default::default(),
        families: vec![true],
        pool: None,
        addresses: Vec::new(),
        sharing_key: None,
        ports: vec![("TCP".into(), 80)],
        local: None,
        created: created.into(),
    }
}

/// The VirtualIPs the API holds after the plan was applied.
fn applied(d: &Desired) -> Vec<VipInput> {
    d.vips
        .iter()
        .map(|(name, v)| VipInput {
            name: name.clone(),
            vrid: v.spec.vrid,
            addresses: v
                .spec
                .addresses
                .iter()
                .map(|a| a.parse().unwrap())
                .collect(),
            managed: Some(v.managed.clone()),
        })
        .collect()
}

fn ingress(d: &Desired, name: &str) -> Vec<String> {
    d.ingress
        .iter()
        .find(|(k, _)| k.name == name)
        .map(|(_, a)| a.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn services_get_distinct_addresses_and_vrids_in_age_order() {
    let pools = [pool("public", "1", &["198.51.100.64/30"], "10-20")];
    let reqs = [
        req("a", "web", "2"),
        req("a", "api", "1"),
        req("b", "db", "3"),
    ];
    let d = plan(&pools, &[], &reqs);
    assert_eq!(ingress(&d, "api"), ["198.51.100.64"]);
    assert_eq!(ingress(&d, "web"), ["198.51.100.65"]);
    assert_eq!(ingress(&d, "db"), ["198.51.100.66"]);
    let vrids: Vec<u8> = d.vips.values().map(|v| v.spec.vrid).collect();
    assert_eq!(vrids, [10, 11, 12]);
    let v = &d.vips["lb-198.51.100.64"];
    assert_eq!(v.managed.services[0].to_string(), "a/api");
    assert_eq!(v.spec.addresses, ["198.51.100.64"]);
    let p = &d.pools["public"];
    assert_eq!(
        (p.assigned, p.available, p.available_vrids),
        ((3, 0), (1, 0), 8)
    );
}

#[test]
fn a_restarted_controller_plans_what_the_api_already_holds() {
    let pools = [pool("public", "1", &["198.51.100.64/29"], "1-255")];
    let mut reqs: Vec<Request> = (0..6)
        .map(|i| req("n", &format!("s{i}"), &format!("{i}")))
        .collect();
    let first = plan(&pools, &[], &reqs);
    // Later Services arrive, and the list comes back in another order.
    reqs.push(req("n", "late", "0"));
    reqs.reverse();
    let again = plan(&pools, &applied(&first), &reqs);
    for (k, a) in &first.ingress {
        assert_eq!(again.ingress.get(k), Some(a), "{k} moved");
    }
    for (name, v) in &first.vips {
        assert_eq!(
            again.vips[name].spec.vrid, v.spec.vrid,
            "{name} changed VRID"
        );
    }
    // The newcomer, although "older", gets a free address, not someone's.
    assert_eq!(ingress(&again, "late"), ["198.51.100.70"]);
}

#[test]
fn full_pools_and_vrids_say_so() {
    let pools = [pool("small", "1", &["198.51.100.64/31"], "5-9")];
    let reqs = [req("n", "a", "1"), req("n", "b", "2"), req("n", "c", "3")];
    let d = plan(&pools, &[], &reqs);
    assert_eq!(
        d.failures.values().next().unwrap().to_string(),
        "no free IPv4 address in \"small\""
    );
    let pools = [pool("few", "1", &["198.51.100.64/29"], "5")];
    let d = plan(&pools, &[], &reqs[..2]);
    assert_eq!(
        d.failures.values().next(),
        Some(&AllocError::VridsExhausted("few".into()))
    );
    assert_eq!(d.pools["few"].available_vrids, 0);
}

#[test]
fn requested_addresses_are_checked() {
    let pools = [pool("p", "1", &["198.51.100.64/29"], "1-255")];
    let user_vip = VipInput {
        name: "web".into(),
        vrid: 51,
        addresses: vec!["198.51.100.66".parse().unwrap()],
        managed: None,
    };
    let mut a = req("n", "a", "1");
    a.addresses = vec!["198.51.100.67".parse().unwrap()];
    let mut b = req("n", "b", "2");
    b.addresses = vec!["198.51.100.66".parse().unwrap()];
    let mut c = req("n", "c", "3");
    c.addresses = vec!["203.0.113.5".parse().unwrap()];
    let mut d2 = req("n", "d", "4");
    d2.addresses = vec!["198.51.100.67".parse().unwrap()];
    let d = plan(&pools, std::slice::from_ref(&user_vip), &[a, b, c, d2]);
    assert_eq!(ingress(&d, "a"), ["198.51.100.67"]);
    let f = |n: &str| {
        d.failures
            .iter()
            .find(|(k, _)| k.name == n)
            .unwrap()
            .1
            .to_string()
    };
    assert_eq!(f("b"), "198.51.100.66 is already used by VirtualIP \"web\"");
    assert_eq!(
        f("c"),
        "203.0.113.5 is in no VirtualIPPool that serves this Service"
    );
    assert_eq!(f("d"), "198.51.100.67 is already used by n/a");
    // The user's VirtualIP's VRID and address are never handed out; the pool says so.
    assert!(d.vips.values().all(|v| v.spec.vrid != 51));
    assert_eq!(
        d.pools["p"].conflict.as_deref(),
        Some("198.51.100.66 is used by VirtualIP \"web\"; it is not handed out")
    );
    assert_eq!(d.pools["p"].available.0, 6);
}

#[test]
fn a_sharing_key_shares_one_address_when_ports_differ() {
    let pools = [pool("p", "1", &["198.51.100.64/29"], "1-255")];
    let mut http = req("n", "http", "1");
    http.sharing_key = Some("k".into());
    let mut dns = req("n", "dns", "2");
    dns.sharing_key = Some("k".into());
    dns.ports = vec![("UDP".into(), 53)];
    let mut clash = req("n", "clash", "3");
    clash.sharing_key = Some("k".into());
    let d = plan(&pools, &[], &[http, dns, clash]);
    assert_eq!(ingress(&d, "http"), ingress(&d, "dns"));
    assert_ne!(ingress(&d, "clash"), ingress(&d, "http"), "port 80 twice");
    let shared = &d.vips["lb-198.51.100.64"];
    let names: Vec<String> = shared
        .managed
        .services
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["n/http", "n/dns"]);
    // After a restart the two still share.
    let again = plan(
        &pools,
        &applied(&d),
        &d.ingress
            .keys()
            .map(|k| {
                let mut r = req(&k.namespace, &k.name, "9");
                r.sharing_key = Some("k".into());
                if k.name == "dns" {
                    r.ports = vec![("UDP".into(), 53)];
                }
                r
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(again.ingress, d.ingress);
}

#[test]
fn pools_are_chosen_by_allocation_rules_and_priority() {
    let mut private = pool("private", "1", &["203.0.113.0/29"], "1-100");
    private.spec.service_allocation = Some(ServiceAllocation {
        priority: 10,
        namespaces: vec!["internal".into()],
        ..Default::default()
    });
    let mut public = pool("public", "2", &["198.51.100.64/29"], "101-200");
    public.spec.service_allocation = Some(ServiceAllocation {
        priority: 20,
        ..Default::default()
    });
    let mut manual = pool("manual", "3", &["198.51.100.80/29"], "201-210");
    manual.spec.auto_assign = false;
    let mut asks = req("web", "asks", "3");
    asks.pool = Some("manual".into());
    let mut nope = req("web", "nope", "4");
    nope.pool = Some("private".into());
    let d = plan(
        &[private, public, manual],
        &[],
        &[req("internal", "a", "1"), req("web", "b", "2"), asks, nope],
    );
    assert_eq!(ingress(&d, "a"), ["203.0.113.0"]);
    assert_eq!(ingress(&d, "b"), ["198.51.100.64"]);
    assert_eq!(ingress(&d, "asks"), ["198.51.100.80"]);
    assert_eq!(
        d.failures.values().next(),
        Some(&AllocError::PoolDoesNotServe("private".into()))
    );
}

#[test]
fn overlapping_and_invalid_pools_are_not_used() {
    let d = plan(
        &[
            pool("old", "1", &["198.51.100.64/29"], "1-10"),
            pool("new", "2", &["198.51.100.70-198.51.100.90"], "11-20"),
            pool("bad", "3", &["198.51.100.1"], "1-10"),
        ],
        &[],
        &[req("n", "a", "1")],
    );
    assert!(d.pools["old"].ready.is_ok());
    assert_eq!(
        d.pools["new"].conflict.as_deref(),
        Some("overlaps VirtualIPPool \"old\", which is older and keeps its addresses")
    );
    assert!(d.pools["new"].ready.is_err());
    assert_eq!(
        d.pools["bad"].ready,
        Err("spec.addresses[0]: expected a CIDR (198.51.100.64/27) or a range (a-b)".into())
    );
    assert_eq!(ingress(&d, "a"), ["198.51.100.64"]);
}

#[test]
fn a_shrunk_pool_moves_addresses_outside_it() {
    let wide = [pool("p", "1", &["198.51.100.64/29"], "1-10")];
    let reqs = [req("n", "a", "1"), req("n", "b", "2")];
    let d = plan(&wide, &[], &reqs);
    assert_eq!(ingress(&d, "b"), ["198.51.100.65"]);
    let narrow = [pool(
        "p",
        "1",
        &["198.51.100.64/31", "198.51.100.66-198.51.100.67"],
        "1-10",
    )];
    let narrow_without_65 = [pool(
        "p",
        "1",
        &["198.51.100.64/32", "198.51.100.66/31"],
        "1-10",
    )];
    assert_eq!(
        ingress(&plan(&narrow, &applied(&d), &reqs), "b"),
        ["198.51.100.65"]
    );
    let moved = plan(&narrow_without_65, &applied(&d), &reqs);
    assert_eq!(ingress(&moved, "a"), ["198.51.100.64"]);
    assert_eq!(ingress(&moved, "b"), ["198.51.100.66"]);
}

#[test]
fn dual_stack_gets_one_address_per_family_and_local_follows_endpoints() {
    let pools = [pool(
        "p",
        "1",
        &["198.51.100.64/30", "2001:db8::100/126"],
        "1-10",
    )];
    let mut r = req("shop", "web", "1");
    r.families = vec![false, true];
    r.local = Some([("app".to_string(), "web".to_string())].into());
    let d = plan(&pools, &[], &[r]);
    assert_eq!(ingress(&d, "web"), ["2001:db8::100", "198.51.100.64"]);
    let v6 = &d.vips["lb-2001-db8--100"];
    assert_eq!(v6.spec.addresses, ["2001:db8::100"]);
    let t = v6.spec.trackers.last().unwrap();
    let pods = t.pods.as_ref().unwrap();
    assert_eq!(
        (t.name.as_str(), t.weight, pods.namespace.as_str()),
        ("local-endpoints", 0, "shop")
    );
    assert_eq!(pods.selector.match_labels["app"], "web");
    assert_ne!(v6.spec.vrid, d.vips["lb-198.51.100.64"].spec.vrid);
    // A family without room fails the whole Service: no half allocation.
    let mut r = req("shop", "v6only-pool", "1");
    r.families = vec![true, false];
    let d = plan(&[pool("v4", "1", &["198.51.100.64/30"], "1-10")], &[], &[r]);
    assert!(d.ingress.is_empty() && d.vips.is_empty());
}
