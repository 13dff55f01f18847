//! RFC 9568 checksum compatibility on the wire: node1 sends VRRPv3 IPv4 adverts whose checksum
//! leaves out the pseudo-header (`v3Checksum: WithoutPseudoHeader`, keepalived's
//! `v3_checksum_as_v2`); node2 (standard form) accepts them, stays Backup and counts them.
//! keepalived 2.2.7 has no `v3_checksum_as_v2`, so no keepalived sends this form here. Needs
//! root (CI runs as root).

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;

const SEC: Duration = Duration::from_secs(1);
const COUNTER: &str = "kube_vrrp_checksum_without_pseudo_header_total{interface=\"eth0\"}";

fn doc(extra: &str) -> String {
    vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        &[("node1", 200), ("node2", 100)],
        extra,
    )
}

#[test]
fn adverts_without_pseudo_header_are_accepted_and_counted() {
    let bed = Bed::new(2);
    let legacy = bed.write("node1.yaml", &doc("  v3Checksum: WithoutPseudoHeader\n"));
    let standard = bed.write("node2.yaml", &doc(""));
    let n1 = start_agent(&bed, &bed.nodes[0], &legacy);
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        n1.log_text()
    );
    let n2 = start_agent(&bed, &bed.nodes[1], &standard);
    assert!(wait_ready(&bed, &bed.nodes[1]), "{}", n2.log_text());
    // node2 hears node1's adverts: it stays Backup (a discarded advert would let its
    // Master_Down_Timer run out in 0.4 s and make it a second master).
    assert!(
        wait_until(10 * SEC, Duration::from_millis(50), || {
            metric_value(&bed, &bed.nodes[1], COUNTER).is_some_and(|n| n >= 20)
        }),
        "{}",
        metrics(&bed, &bed.nodes[1])
    );
    assert_eq!(state_of(&bed, &bed.nodes[1], "web"), "Backup");
    assert_eq!(bed.holders(VIP4), ["node1"]);
    let received = instance(&bed, &bed.nodes[1], "web")["counters"]["advertsReceived"]
        .as_u64()
        .unwrap_or(0);
    assert!(received >= 20, "{received}");
    assert_eq!(
        metric_value(
            &bed,
            &bed.nodes[1],
            "kube_vrrp_discards_total{interface=\"eth0\",reason=\"bad_checksum\"}"
        ),
        Some(0)
    );
    // And the other way: node1 receives node2's standard adverts only after node1 leaves;
    // nothing of node2's is counted on node1 meanwhile (it sends none as a backup).
    assert_eq!(metric_value(&bed, &bed.nodes[0], COUNTER), Some(0));
}
