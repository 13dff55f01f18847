//! The translation of a spec for one node: one pass, every value typed.

use std::time::Duration;

use super::*;
use crate::spec::VirtualIpSpec;

fn spec(yaml: &str) -> VirtualIpSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

fn node(name: &str, labels: &[(&str, &str)]) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        interfaces: vec![
            InterfaceFacts {
                name: "eth0".into(),
                addresses: vec![
                    parse_prefixed("198.51.100.11/24").unwrap(),
                    parse_prefixed("fe80::1/64").unwrap(),
                ],
            },
            InterfaceFacts {
                name: "eth1".into(),
                addresses: vec![parse_prefixed("203.0.113.11/24").unwrap()],
            },
        ],
    }
}

fn run(s: &VirtualIpSpec, n: &NodeFacts) -> Result<Option<RouterConfig>, Vec<SpecError>> {
    translate("web", s, n, &|r| {
        (r.name == "auth" && r.key == "pw")
            .then(|| "1111".to_string())
            .ok_or_else(|| format!("no Secret {:?} in the file", r.name))
    })
}

#[test]
fn every_value_is_parsed_into_its_type() {
    let s = spec(
        "{vrid: 51, addresses: [198.51.100.100/32, 198.51.100.101], advertInterval: 250ms, \
         preemptDelay: 2s, maxAdvertInterval: 5s, unicastPeers: [198.51.100.12], \
         announce: {repeat: 3, delay: 1s, refresh: 30s}, startupDelay: 10s, \
         linkDebounce: {down: 1s, up: 2s}, notify: {master: [/bin/true], timeout: 3s}}",
    );
    let cfg = run(&s, &node("n1", &[])).unwrap().unwrap();
    assert_eq!(cfg.interface, "eth0");
    assert_eq!(cfg.vips[1], parse_prefixed("198.51.100.101/32").unwrap());
    let i = &cfg.instance;
    assert_eq!(
        (i.advert_interval, i.preempt_delay, i.startup_delay),
        (
            Duration::from_millis(250),
            Duration::from_secs(2),
            Duration::from_secs(10)
        )
    );
    assert_eq!(
        (i.link_debounce.down, i.link_debounce.up),
        (Duration::from_secs(1), Duration::from_secs(2))
    );
    assert_eq!(i.primary, "198.51.100.11".parse::<IpAddr>().unwrap());
    assert_eq!(i.max_advert_interval, Some(Duration::from_secs(5)));
    assert_eq!(
        i.unicast_peers,
        ["198.51.100.12".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(cfg.announce_repeat, 3);
    assert_eq!(
        i.announce,
        AnnounceTiming {
            delay: Duration::from_secs(1),
            refresh: Duration::from_secs(30)
        }
    );
    assert_eq!(i.vip_refresh, Some(crate::vrrp::timers::VIP_REFRESH));
    assert_eq!(cfg.notify.timeout, Duration::from_secs(3));
    // Defaults are keepalived's.
    let plain = run(
        &spec("{vrid: 51, addresses: [198.51.100.100]}"),
        &node("n1", &[]),
    )
    .unwrap()
    .unwrap();
    assert_eq!(plain.announce_repeat, 5);
    assert_eq!(
        plain.instance.announce,
        AnnounceTiming {
            delay: Duration::from_secs(5),
            refresh: Duration::ZERO
        }
    );
    assert_eq!(plain.notify, NotifyConfig::default());
    assert_eq!(plain.instance.advert_interval, Duration::from_secs(1));
}

#[test]
fn every_problem_is_listed_in_field_order() {
    let s = spec(
        "{vrid: 0, version: 2, addresses: [198.51.100.1, '2001:db8::1', nope], \
         advertInterval: 1500ms, priority: 0, preemptDelay: 1x, \
         unicastPeers: [224.0.0.18], announce: {repeat: 0}, startupDelay: 2h}",
    );
    let fields: Vec<String> = validate(&s).into_iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "spec.vrid",
            "spec.addresses[1]",
            "spec.addresses[1]",
            "spec.addresses[2]",
            "spec.advertInterval",
            "spec.priority",
            "spec.preemptDelay",
            "spec.unicastPeers[0]",
            "spec.announce.repeat",
            "spec.startupDelay",
        ]
    );
    assert_eq!(run(&s, &node("n1", &[])).unwrap_err().len(), fields.len());
}

#[test]
fn priorities_and_selectors_pick_by_node() {
    let s = spec(
        "{vrid: 51, addresses: [198.51.100.100], priority: 100, \
         nodeSelector: {matchExpressions: [{key: role, operator: NotIn, values: [edge]}]}, \
         priorities: [{nodeName: n1, priority: 210}, {nodeSelector: {matchLabels: {zone: a}}, priority: 150}]}",
    );
    let priority = |n: &NodeFacts| run(&s, n).unwrap().map(|c| c.instance.priority);
    assert_eq!(priority(&node("n1", &[("zone", "a")])), Some(210));
    assert_eq!(priority(&node("n2", &[("zone", "a")])), Some(150));
    assert_eq!(priority(&node("n3", &[("zone", "b")])), Some(100));
    assert_eq!(priority(&node("n4", &[("role", "edge")])), None);
    let bad = spec(
        "{vrid: 51, addresses: [198.51.100.100], nodeSelector: {matchExpressions: [{key: a, operator: In}]}}",
    );
    assert_eq!(
        validate(&bad)[0].to_string(),
        "spec.nodeSelector.matchExpressions[0]: operator must be In/NotIn (with values) or Exists/DoesNotExist (without)"
    );
}

#[test]
fn the_node_decides_interface_source_and_secret() {
    let n = node("n1", &[]);
    let v6 = spec("{vrid: 51, addresses: ['2001:db8::100'], interface: eth0}");
    let cfg = run(&v6, &n).unwrap().unwrap();
    assert_eq!(cfg.instance.primary, "fe80::1".parse::<IpAddr>().unwrap());
    let other = spec("{vrid: 51, addresses: [203.0.113.100]}");
    assert_eq!(run(&other, &n).unwrap().unwrap().interface, "eth1");
    let nowhere = spec("{vrid: 51, addresses: [198.18.0.1]}");
    assert_eq!(
        run(&nowhere, &n).unwrap_err()[0].to_string(),
        "spec.interface: no interface of node n1 has a subnet holding 198.18.0.1; set spec.interface"
    );
    let own = spec("{vrid: 51, addresses: [198.51.100.11]}");
    assert_eq!(run(&own, &n).unwrap_err()[0].field, "spec.addresses");
    let auth = |key: &str| {
        spec(&format!(
            "{{vrid: 51, version: 2, addresses: [198.51.100.100], authentication: {{type: PASS, secretRef: {{name: auth, key: {key}}}}}}}"
        ))
    };
    assert_eq!(
        run(&auth("pw"), &n).unwrap().unwrap().instance.auth,
        crate::vrrp::Auth::pass("1111")
    );
    assert_eq!(
        run(&auth("other"), &n).unwrap_err()[0].field,
        "spec.authentication.secretRef"
    );
}
