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
