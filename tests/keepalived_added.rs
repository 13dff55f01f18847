//! The migration features against a real keepalived 2.2.7 on the wire, where keepalived has
//! the feature: a kube-vrrp sync group facing a keepalived `vrrp_sync_group` (both VIPs move
//! together both ways), a link blip absorbed by `linkDebounce` that a keepalived backup never
//! sees as a failure, and `virtualMac` against keepalived's `use_vmac` (the client keeps one
//! MAC whichever of them holds the VIP). Needs root and keepalived (CI installs both).

mod common;

use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;

const SEC: Duration = Duration::from_secs(1);
const VIP_DB: &str = "198.51.100.101";

fn keepalived_group(priority: u8) -> String {
    let instance = |name: &str, vrid: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {vip}/32\n    }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\nvrrp_sync_group LVS {{\n    group {{\n        WEB\n        DB\n    }}\n}}\n{}{}",
        instance("WEB", 51, VIP4),
        instance("DB", 52, VIP_DB)
    )
}

fn kube_vrrp_group(tracked: &std::path::Path) -> String {
    let web = vip_doc(
        "web",
        51,
        3,
        "1s",
        &format!("{VIP4}/32"),
        &[("node1", 150)],
        &format!(
            "  syncGroup: lvs\n  trackers:\n    - {{name: app, weight: 0, file: {{path: {}, interval: 100ms}}}}\n",
            tracked.display()
        ),
    );
    let db = vip_doc(
        "db",
        52,
        3,
        "1s",
        &format!("{VIP_DB}/32"),
        &[("node1", 150)],
        "  syncGroup: lvs\n",
    );
    format!("{web}---\n{db}")
}

fn both_on(bed: &Bed, node: &str, logs: &dyn Fn() -> String) {
    for a in [VIP4, VIP_DB] {
        assert!(
            wait_holder(bed, a, node, 15 * SEC),
            "{a} not on {node}: {:?}\n{}",
            bed.holders(a),
            logs()
        );
    }
}

#[test]
fn sync_group_moves_both_vips_to_and_from_a_keepalived_sync_group() {
    let bed = Bed::new(2);
    let tracked = bed.write("app", "0\n");
    let conf = bed.write("node1.yaml", &kube_vrrp_group(&tracked));
    let agent = start_agent(&bed, &bed.nodes[0], &conf);
    let keepalived = start_keepalived(&bed, &bed.nodes[1], &keepalived_group(100));
    let logs = || format!("{}\n---\n{}", agent.log_text(), keepalived.log_text());
    both_on(&bed, "node1", &logs);
    // web's tracker fails: db follows it (priority 0 for both); keepalived takes both.
    let failed = Instant::now();
    bed.write("app", "1\n");
    both_on(&bed, "node2", &logs);
    let moved = failed.elapsed();
    // (What the other test looks for when it checks that keepalived did not take over.)
    assert!(
        keepalived.log_text().contains("Entering MASTER STATE"),
        "{}",
        logs()
    );
    let db = instance(&bed, &bed.nodes[0], "db");
    assert_eq!(db["reason"], "SyncGroup", "{db}");
    // Back: kube-vrrp (150) preempts both; keepalived's group follows its members to Backup.
    bed.write("app", "0\n");
    both_on(&bed, "node1", &logs);
    eprintln!("measured: tracker fault -> both VIPs on the keepalived node {moved:?}");
}

#[test]
fn a_debounced_link_blip_is_invisible_to_a_keepalived_backup() {
    let bed = Bed::new(2);
    let conf = bed.write(
        "node1.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "1s",
            &format!("{VIP4}/32"),
            &[("node1", 200)],
            "  linkDebounce: {down: 2s, up: 1s}\n",
        ),
    );
    let agent = start_agent(&bed, &bed.nodes[0], &conf);
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        agent.log_text()
    );
    let keepalived = start_keepalived(
        &bed,
        &bed.nodes[1],
        &keepalived_conf(3, 51, 100, "1", None, &format!("{VIP4}/32"), false),
    );
    std::thread::sleep(2 * SEC);
    assert_eq!(bed.holders(VIP4), ["node1"], "{}", keepalived.log_text());
    bed.set_link(&bed.nodes[0], false);
    std::thread::sleep(Duration::from_millis(300));
    bed.set_link(&bed.nodes[0], true);
    std::thread::sleep(3 * SEC);
    assert_eq!(bed.holders(VIP4), ["node1"], "{}", keepalived.log_text());
    assert_eq!(state_of(&bed, &bed.nodes[0], "web"), "Master");
    assert!(
        !keepalived.log_text().contains("Entering MASTER STATE"),
        "keepalived took over during the blip:\n{}",
        keepalived.log_text()
    );
}

/// The nodes holding `VIP4` on any interface (a virtual MAC interface included).
fn vip_holders(bed: &Bed) -> Vec<String> {
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
fn virtual_mac_with_keepalived_use_vmac_both_ways() {
    const VMAC: &str = "00:00:5e:00:01:33";
    let bed = Bed::new(2);
    let conf = bed.write(
        "node1.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "1s",
            &format!("{VIP4}/32"),
            &[("node1", 200)],
            "  virtualMac: true\n",
        ),
    );
    let keepalived_conf = keepalived_conf(3, 51, 100, "1", None, &format!("{VIP4}/32"), false)
        .replace("    interface eth0\n", "    interface eth0\n    use_vmac\n");
    let (n1, n2) = (&bed.nodes[0], &bed.nodes[1]);
    // keepalived 2.2.7 sets arp_ignore on the parent but leaves arp_announce at 0, so its
    // node's own ARP requests (answering the client from the VIP) name the VIP with the
    // parent's MAC; kube-vrrp sets arp_announce=2 itself. Set it for keepalived's node too.
    sh(&[
        "ip",
        "netns",
        "exec",
        &n2.ns,
        "sysctl",
        "-qw",
        "net.ipv4.conf.eth0.arp_announce=2",
    ]);
    let mut agent = start_agent(&bed, n1, &conf);
    let keepalived = start_keepalived(&bed, n2, &keepalived_conf);
    let logs = |a: &Proc| format!("{}\n---\n{}", a.log_text(), keepalived.log_text());
    let held_by = |node: &str| {
        wait_until(15 * SEC, Duration::from_millis(20), || {
            vip_holders(&bed) == [node]
        })
    };
    assert!(held_by("node1"), "{}", logs(&agent));
    std::thread::sleep(2 * SEC);
    assert_eq!(vip_holders(&bed), ["node1"], "{}", logs(&agent));
    assert_eq!(client_mac(&bed), VMAC);
    // kube-vrrp -> keepalived: SIGTERM hands over; keepalived holds it on its own vrrp.51.
    agent.signal("TERM");
    assert!(agent.wait_exit(15 * SEC), "{}", logs(&agent));
    assert!(held_by("node2"), "{}", logs(&agent));
    assert_eq!(client_mac(&bed), VMAC);
    // keepalived -> kube-vrrp: the agent comes back with the higher priority and preempts.
    let agent = start_agent(&bed, n1, &conf);
    assert!(held_by("node1"), "{}", logs(&agent));
    std::thread::sleep(2 * SEC);
    assert_eq!(vip_holders(&bed), ["node1"], "{}", logs(&agent));
    assert_eq!(client_mac(&bed), VMAC);
}
