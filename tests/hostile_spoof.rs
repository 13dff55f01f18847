//! The threat VRRP without authentication leaves (issue 20, docs/hostile.md "Threat model"):
//! one spoofed priority-255 advert with a 40.95 s interval keeps a VIP off every node for
//! minutes, as the RFC says; `spec.maxAdvertInterval` bounds what a backup adopts. Needs root.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::agents::*;
use common::bed::*;
use common::inject::{self, Crafted, advert_bytes};
use kube_vrrp::vrrp::{Auth, Version};

const PRIOS: &[(&str, u8)] = &[("node1", 200), ("node2", 100)];
const OPEN_VIP: &str = "198.51.100.101";
const ATTACKER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);

#[test]
fn a_bound_on_the_advert_interval_defeats_the_long_interval_spoof() {
    let mut bed = Bed::new(2);
    let attacker = bed.attach("attacker", 66);
    let text = format!(
        "{}---\n{}",
        vip_doc(
            "bounded",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            PRIOS,
            "  maxAdvertInterval: 1s\n"
        ),
        vip_doc("open", 52, 3, "100ms", &format!("{OPEN_VIP}/32"), PRIOS, "")
    );
    let cfg = bed.write("vips.yaml", &text);
    let agents: Vec<Proc> = bed
        .nodes
        .iter()
        .map(|n| start_agent(&bed, n, &cfg))
        .collect();
    for vip in [VIP4, OPEN_VIP] {
        assert!(
            wait_holder(&bed, vip, "node1", Duration::from_secs(10)),
            "{vip}: {}",
            agents[0].log_text()
        );
    }
    // One advert each: priority 255, Max Adver Int 4095 cs (40.95 s).
    let packets: Vec<Crafted> = [(51, VIP4), (52, OPEN_VIP)]
        .into_iter()
        .map(|(vrid, vip)| Crafted {
            src: ATTACKER,
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ttl: 255,
            payload: advert_bytes(ATTACKER, Version::V3, vrid, 255, 4095, &[vip], Auth::None),
        })
        .collect();
    inject::send(&attacker.ns, packets, 2, 100);
    // The open VIP leaves every node (the RFC's behaviour; it comes back after ~3 x 40.95 s).
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || bed
            .holders(OPEN_VIP)
            .is_empty()),
        "{:?}",
        bed.holders(OPEN_VIP)
    );
    // The bounded one never moved, and both nodes counted the discard.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bed.holders(VIP4), vec!["node1".to_string()]);
    for node in &bed.nodes {
        let n = metric_value(
            &bed,
            node,
            "kube_vrrp_discards_total{interface=\"eth0\",reason=\"interval_above_bound\"}",
        );
        assert_eq!(n, Some(1), "{}", node.name);
    }
    assert_eq!(state_of(&bed, &bed.nodes[0], "bounded"), "Master");
}
