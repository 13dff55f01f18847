//! Virtual MAC (`virtualMac`, keepalived's `use_vmac`) on real nodes: the master holds the VIP
//! on a macvlan `vrrp.51` with MAC 00:00:5e:00:01:33, so the client's neighbour entry keeps one
//! MAC across failovers; the macvlan goes with a clean stop and is replaced after `kill -9`.
//! Needs root (CI runs as root).

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);
const VMAC: &str = "00:00:5e:00:01:33";

fn logs(agents: &[&Proc]) -> String {
    agents
        .iter()
        .map(|a| a.log_text())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// The nodes holding the VIP on any interface.
fn holders(bed: &Bed) -> Vec<String> {
    bed.nodes
        .iter()
        .filter(|n| {
            let out = bed.exec(&n.ns, &["ip", "-o", "-4", "addr", "show"]);
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .any(|w| w.split('/').next() == Some(VIP4))
        })
        .map(|n| n.name.clone())
        .collect()
}

fn wait_holder_any(bed: &Bed, node: &str) -> bool {
    wait_until(10 * SEC, 20 * MS, || holders(bed) == [node])
}

/// `ip -o link show vrrp.51` in a node: None when it does not exist.
fn vmac_link(bed: &Bed, node: &Host) -> Option<String> {
    let out = bed.exec(&node.ns, &["ip", "-o", "link", "show", "vrrp.51"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// The client's neighbour entry for the VIP, after reaching it.
fn client_mac(bed: &Bed) -> String {
    let ping = Pinger::start(bed, VIP4, 0.02, 10).finish();
    assert!(ping.received > 0, "{ping:?}");
    let out = bed.exec(&bed.client.ns, &["ip", "neigh", "show", VIP4]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_vip_keeps_its_virtual_mac_across_failover() {
    let bed = Bed::new(2);
    let doc = vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        &[("node1", 200), ("node2", 100)],
        "  virtualMac: true\n",
    );
    let conf = bed.write("web.yaml", &doc);
    let (n1, n2) = (&bed.nodes[0], &bed.nodes[1]);
    let mut a1 = start_agent(&bed, n1, &conf);
    assert!(wait_holder_any(&bed, "node1"), "{}", logs(&[&a1]));
    let mut a2 = start_agent(&bed, n2, &conf);
    assert!(
        wait_until(10 * SEC, 50 * MS, || state_of(&bed, n2, "web") == "Backup"),
        "{}",
        logs(&[&a1, &a2])
    );
    // The master's macvlan is up with the virtual MAC and holds the VIP; the backup's is down.
    let l1 = vmac_link(&bed, n1).expect("vrrp.51 on node1");
    assert!(l1.contains(VMAC) && l1.contains("state UP"), "{l1}");
    let l2 = vmac_link(&bed, n2).expect("vrrp.51 on node2");
    assert!(l2.contains(VMAC) && l2.contains("state DOWN"), "{l2}");
    assert!(
        !bed.has_addr(n1, VIP4),
        "the VIP lives on vrrp.51, not eth0"
    );
    assert_eq!(client_mac(&bed), VMAC);

    // Failover: node2 takes the VIP and the client still sees the same MAC.
    bed.set_link(n1, false);
    assert!(wait_holder_any(&bed, "node2"), "{}", logs(&[&a1, &a2]));
    assert_eq!(client_mac(&bed), VMAC);
    bed.set_link(n1, true);
    assert!(wait_holder_any(&bed, "node1"), "{}", logs(&[&a1, &a2]));
    assert_eq!(client_mac(&bed), VMAC);

    // A clean stop removes the macvlan.
    a2.signal("TERM");
    assert!(a2.wait_exit(10 * SEC), "{}", a2.log_text());
    assert_eq!(vmac_link(&bed, n2), None);

    // kill -9 leaves it; the next start removes it and makes a fresh one.
    a1.kill();
    assert!(vmac_link(&bed, n1).is_some());
    let a1 = start_agent(&bed, n1, &conf);
    assert!(
        wait_until(10 * SEC, 20 * MS, || a1.log_text().contains(
            "removed a virtual MAC interface left behind by an earlier run"
        )),
        "{}",
        a1.log_text()
    );
    assert!(
        wait_until(10 * SEC, 20 * MS, || state_of(&bed, n1, "web") == "Master"),
        "{}",
        a1.log_text()
    );
    assert!(wait_holder_any(&bed, "node1"), "{}", a1.log_text());
    assert_eq!(client_mac(&bed), VMAC);
}
