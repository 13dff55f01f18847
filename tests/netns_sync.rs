//! Sync groups on real nodes: `web` and `db` share `syncGroup: lvs` on two kube-vrrp nodes
//! (100 ms adverts). node1 tracks a file for `web` only; when `web` faults, or its priority
//! drops below node2's, `db` follows, so node1 is master of both or of neither. Needs root
//! (CI runs as root).

mod common;
#[path = "netns_trackers/helpers.rs"]
#[allow(dead_code)] // shared with netns_trackers.rs, which uses the rest
mod helpers;

use std::time::Instant;

use common::agents::*;
use common::bed::*;
use helpers::*;

/// `web` (vrid 51) and `db` (vrid 52) in group `lvs`; node1 150, node2 100; node1's `web`
/// tracks `file` with `weight`.
fn docs(file: Option<(&std::path::Path, i32)>) -> String {
    let tracker = file
        .map(|(p, w)| {
            trackers_yaml(&[&format!(
                "{{name: app, weight: {w}, file: {{path: {}, interval: 100ms}}}}",
                p.display()
            )])
        })
        .unwrap_or_default();
    let web = vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        &[("node1", 150), ("node2", 100)],
        &format!("  syncGroup: lvs\n{tracker}"),
    );
    let db = vip_doc(
        "db",
        52,
        3,
        "100ms",
        &format!("{VIP_DB}/32"),
        &[("node1", 150), ("node2", 100)],
        "  syncGroup: lvs\n",
    );
    format!("{web}---\n{db}")
}

fn both_on(bed: &Bed, node: &str, agents: &[Proc]) {
    for a in [VIP4, VIP_DB] {
        assert!(
            wait_holder(bed, a, node, 8 * SEC),
            "{a} not on {node}: {:?}\n{}",
            bed.holders(a),
            logs(agents)
        );
    }
}

#[test]
fn a_tracker_fault_on_one_member_moves_both() {
    let bed = Bed::new(2);
    let path = bed.write("app", "0\n");
    let agents = start_nodes(
        &bed,
        &docs(Some((&path, 0))),
        &docs(None),
        &[VIP4, VIP_DB],
        &["web", "db"],
    );
    let n1 = &bed.nodes[0];
    let failed = Instant::now();
    bed.write("app", "1\n");
    both_on(&bed, "node2", &agents);
    let moved = failed.elapsed();
    assert_eq!(state_of(&bed, n1, "web"), "Fault");
    let db = instance(&bed, n1, "db");
    assert_eq!(
        (db["state"].as_str(), db["reason"].as_str()),
        (Some("Fault"), Some("SyncGroup")),
        "{db}"
    );
    bed.write("app", "0\n");
    both_on(&bed, "node1", &agents);
    eprintln!("measured: web's tracker fault -> both VIPs on node2 {moved:?}");
}

#[test]
fn a_priority_drop_on_one_member_moves_both() {
    let bed = Bed::new(2);
    let path = bed.write("app", "0\n");
    let agents = start_nodes(
        &bed,
        &docs(Some((&path, -1))),
        &docs(None),
        &[VIP4, VIP_DB],
        &["web", "db"],
    );
    let n1 = &bed.nodes[0];
    // web: 150 - 100 = 50 < node2's 100. The group's lowest adjustment applies to db too
    // (150 - 100 = 50): node2 preempts both.
    let dropped = Instant::now();
    bed.write("app", "100\n");
    both_on(&bed, "node2", &agents);
    let moved = dropped.elapsed();
    let db = instance(&bed, n1, "db");
    assert_eq!(
        (db["state"].as_str(), db["priority"].as_u64()),
        (Some("Backup"), Some(50)),
        "{db}"
    );
    // web's priority back: both return.
    bed.write("app", "0\n");
    both_on(&bed, "node1", &agents);
    assert_eq!(instance(&bed, n1, "db")["priority"], 150);
    eprintln!("measured: web's priority drop -> both VIPs on node2 {moved:?}");
}

/// A second LAN (the "back" network, 203.0.113.0/24 on a bridge of its own) on eth1 of every
/// node; returns the switch-side port of each node's eth1.
fn back_network(bed: &Bed) -> Vec<String> {
    sh(&[
        "ip",
        "-n",
        &bed.switch,
        "link",
        "add",
        "br1",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    sh(&["ip", "-n", &bed.switch, "link", "set", "br1", "up"]);
    let mut ports = Vec::new();
    for (i, node) in bed.nodes.iter().enumerate() {
        let octet = 11 + i;
        let port = format!("q{octet}");
        sh(&[
            "ip",
            "-n",
            &bed.switch,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            &node.ns,
        ]);
        sh(&[
            "ip",
            "-n",
            &bed.switch,
            "link",
            "set",
            &port,
            "master",
            "br1",
            "up",
        ]);
        let addr = format!("203.0.113.{octet}/24");
        sh(&["ip", "-n", &node.ns, "addr", "add", &addr, "dev", "eth1"]);
        sh(&["ip", "-n", &node.ns, "link", "set", "eth1", "up"]);
        ports.push(port);
    }
    ports
}

/// Wait (bounded) until exactly `node` holds the back VIP on its eth1.
fn wait_back(bed: &Bed, node: &str) -> bool {
    wait_until(8 * SEC, 20 * MS, || {
        let holders: Vec<&str> = bed
            .nodes
            .iter()
            .filter(|n| {
                let out = bed.exec(&n.ns, &["ip", "-o", "addr", "show", "dev", "eth1"]);
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .any(|w| w.split('/').next() == Some("203.0.113.100"))
            })
            .map(|n| n.name.as_str())
            .collect();
        holders == [node]
    })
}

/// The classic LVS/NAT pair: the front VIP on eth0 and the back (gateway) VIP on eth1, one
/// sync group. Only the back network fails at node1 (its switch port goes down: no carrier
/// on node1's eth1, eth0 untouched): both VIPs move to node2, and come back with the link.
#[test]
fn a_partition_of_the_back_interface_only_moves_both() {
    let bed = Bed::new(2);
    let ports = back_network(&bed);
    const BACK: &str = "203.0.113.100"; // wait_back looks for it on eth1
    let front = vip_doc(
        "front",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        &[("node1", 150), ("node2", 100)],
        "  syncGroup: lvs-nat\n",
    );
    let back = vip_doc(
        "back",
        52,
        3,
        "100ms",
        &format!("{BACK}/24"),
        &[("node1", 150), ("node2", 100)],
        "  syncGroup: lvs-nat\n",
    );
    let docs = format!("{front}---\n{back}");
    let agents = start_nodes(&bed, &docs, &docs, &[VIP4], &["front", "back"]);
    let n1 = &bed.nodes[0];
    assert!(wait_back(&bed, "node1"), "{}", logs(&agents));
    assert_eq!(instance(&bed, n1, "back")["interface"], "eth1");
    let cut = Instant::now();
    sh(&["ip", "-n", &bed.switch, "link", "set", &ports[0], "down"]);
    assert!(
        wait_holder(&bed, VIP4, "node2", 8 * SEC),
        "{:?}\n{}",
        bed.holders(VIP4),
        logs(&agents)
    );
    assert!(wait_back(&bed, "node2"), "{}", logs(&agents));
    let moved = cut.elapsed();
    let front = instance(&bed, n1, "front");
    assert_eq!(
        (front["state"].as_str(), front["reason"].as_str()),
        (Some("Fault"), Some("SyncGroup")),
        "{front}"
    );
    // The front network still works: the client reaches the front VIP on node2.
    let ping = Pinger::start(&bed, VIP4, 0.02, 25).finish();
    assert!(ping.received >= 20, "{ping:?}");
    sh(&["ip", "-n", &bed.switch, "link", "set", &ports[0], "up"]);
    assert!(
        wait_holder(&bed, VIP4, "node1", 8 * SEC),
        "{}",
        logs(&agents)
    );
    assert!(wait_back(&bed, "node1"), "{}", logs(&agents));
    eprintln!("measured: back link lost at node1 -> both VIPs on node2 {moved:?}");
}
