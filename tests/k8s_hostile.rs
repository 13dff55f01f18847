//! Kubernetes on a bad day: the API server restarted during failovers, a VirtualIP edited many
//! times a second, two VirtualIPs claiming one VRID. Real kube-apiserver, agents in netns nodes.

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;
use common::k8s::*;

const PRIOS: &[(&str, u8)] = &[("node1", 150), ("node2", 100)];

fn vip_yaml(name: &str, vrid: u8, address: &str, priorities: &[(&str, u8)]) -> String {
    vip_doc(name, vrid, 3, "100ms", address, priorities, "")
}

#[test]
fn api_server_restarts_during_failovers_leave_status_right() {
    let mut c = cluster(2);
    assert!(
        c.api
            .apply(&c.bed, &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS))
            .status
            .success()
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    for round in 0..3 {
        c.api.stop();
        c.bed.set_link(&c.bed.nodes[0], false);
        assert!(
            wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(5)),
            "round {round}: failover without the API server\n{}",
            c.logs()
        );
        c.api.restart(&c.bed);
        assert!(
            c.wait_status_master("web", "node2", Duration::from_secs(20)),
            "round {round}\n{}",
            c.logs()
        );
        c.bed.set_link(&c.bed.nodes[0], true);
        assert!(
            wait_holder(&c.bed, VIP4, "node1", Duration::from_secs(5)),
            "round {round}: preempt back"
        );
        assert!(
            c.wait_status_master("web", "node1", Duration::from_secs(20)),
            "round {round}\n{}\n{}",
            c.api.kubectl_ok(
                &c.bed,
                &["get", "vip", "web", "-o", "yaml", "--show-managed-fields"]
            ),
            c.logs()
        );
    }
}

#[test]
fn rapid_edits_converge_to_the_last_generation() {
    let c = cluster(2);
    assert!(
        c.api
            .apply(&c.bed, &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS))
            .status
            .success()
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    // 20 generations in one kubectl run (well under a second), ending with node2 on top.
    let docs: Vec<String> = (0..20u8)
        .map(|i| {
            vip_yaml(
                "web",
                51,
                &format!("{VIP4}/32"),
                &[
                    ("node1", 150),
                    ("node2", if i == 19 { 250 } else { 60 + i }),
                ],
            )
        })
        .collect();
    let t0 = std::time::Instant::now();
    let out = c.api.apply(&c.bed, &docs.join("---\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("20 edits applied in {:?}", t0.elapsed());
    assert!(
        wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    assert!(c.wait_status_master("web", "node2", Duration::from_secs(10)));
    let generation = c.api.vip_field(&c.bed, "web", ".metadata.generation");
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            c.api.vip_field(&c.bed, "web", ".status.observedGeneration") == generation
        }),
        "observedGeneration catches up with {generation}"
    );
    assert_eq!(instance(&c.bed, &c.bed.nodes[1], "web")["priority"], 250);
}

#[test]
fn two_virtual_ips_on_one_vrid_get_a_conflict_condition() {
    let c = cluster(2);
    assert!(
        c.api
            .apply(&c.bed, &vip_yaml("a", 60, "198.51.100.110/32", PRIOS))
            .status
            .success()
    );
    assert!(
        wait_holder(&c.bed, "198.51.100.110", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    assert!(
        c.api
            .apply(&c.bed, &vip_yaml("b", 60, "198.51.100.111/32", PRIOS))
            .status
            .success()
    );
    let conflict = ".status.conditions[?(@.type==\"Conflict\")]";
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            c.api.vip_field(&c.bed, "b", &format!("{conflict}.status")) == "True"
        }),
        "{}",
        c.logs()
    );
    let message = c.api.vip_field(&c.bed, "b", &format!("{conflict}.message"));
    assert!(
        message.contains("vrid 60 on eth0 is already used by VirtualIP a"),
        "{message}"
    );
    assert!(c.bed.holders("198.51.100.111").is_empty());
    assert_eq!(
        c.bed.holders("198.51.100.110"),
        vec!["node1"],
        "the first keeps running"
    );
    let events = c.api.kubectl_ok(
        &c.bed,
        &[
            "get",
            "events",
            "-A",
            "--field-selector",
            "involvedObject.name=b",
        ],
    );
    assert!(events.contains("Warning"), "{events}");
}

#[test]
fn a_foreign_router_with_other_addresses_raises_a_conflict() {
    use common::inject::{self, Crafted, advert_bytes};
    use kube_vrrp::vrrp::{Auth, Version};
    use std::net::Ipv4Addr;
    let mut c = cluster(2);
    let attacker = c.bed.attach("foreign", 66);
    assert!(
        c.api
            .apply(&c.bed, &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS))
            .status
            .success()
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    // Another router on the LAN runs VRID 51 for another address (at a lower priority).
    let src = Ipv4Addr::new(198, 51, 100, 66);
    let payload = advert_bytes(src, Version::V3, 51, 1, 10, &["198.51.100.200"], Auth::None);
    let packet = Crafted {
        src,
        dst: Ipv4Addr::new(224, 0, 0, 18),
        ttl: 255,
        payload,
    };
    inject::send(&attacker.ns, vec![packet], 5, 50);
    let conflict = ".status.conditions[?(@.type==\"Conflict\")]";
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            c.api
                .vip_field(&c.bed, "web", &format!("{conflict}.status"))
                == "True"
        }),
        "{}",
        c.logs()
    );
    let message = c
        .api
        .vip_field(&c.bed, "web", &format!("{conflict}.message"));
    assert!(
        message.contains("198.51.100.66") && message.contains("198.51.100.200"),
        "{message}"
    );
    assert_eq!(
        c.bed.holders(VIP4),
        vec!["node1"],
        "a lower-priority foreign router changes nothing else"
    );
}
