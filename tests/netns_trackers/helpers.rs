//! Helpers of the tracker tests: documents, two-node start, the fail-and-recover scenario,
//! and reading /proc.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::common::agents::*;
use crate::common::bed::*;

pub const MS: Duration = Duration::from_millis(1);
pub const SEC: Duration = Duration::from_secs(1);
/// The second VirtualIP of the pair tests (`db`, preempt: false).
pub const VIP_DB: &str = "198.51.100.101";

pub fn logs(agents: &[Proc]) -> String {
    agents
        .iter()
        .map(|a| a.log_text())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

pub fn trackers_yaml(list: &[&str]) -> String {
    let mut out = String::from("  trackers:\n");
    for t in list {
        out.push_str(&format!("    - {t}\n"));
    }
    out
}

/// VirtualIP `web`: vrid 51, [`VIP4`], 100 ms adverts, these priorities and `extra` spec lines.
pub fn web_doc(priorities: &[(&str, u8)], extra: &str) -> String {
    vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        priorities,
        extra,
    )
}

/// `web` (node1 at `web_prio`, node2 at 100, preempt) tracking `web_tracker`, and `db`
/// (node1 150, node2 100, preempt: false) tracking `db_tracker`, which should have weight 0.
pub fn pair_docs(web_prio: u8, web_tracker: Option<&str>, db_tracker: Option<&str>) -> String {
    let t = |x: Option<&str>| x.map(|t| trackers_yaml(&[t])).unwrap_or_default();
    let web = web_doc(&[("node1", web_prio), ("node2", 100)], &t(web_tracker));
    let db = vip_doc(
        "db",
        52,
        3,
        "100ms",
        &format!("{VIP_DB}/32"),
        &[("node1", 150), ("node2", 100)],
        &format!("  preempt: false\n{}", t(db_tracker)),
    );
    format!("{web}---\n{db}")
}

/// Start node1 with its documents until it holds `addresses`, then node2 until it is Backup
/// for `names`.
pub fn start_nodes(
    bed: &Bed,
    node1: &str,
    node2: &str,
    addresses: &[&str],
    names: &[&str],
) -> Vec<Proc> {
    let c1 = bed.write("node1.yaml", node1);
    let mut agents = vec![start_agent(bed, &bed.nodes[0], &c1)];
    for a in addresses {
        assert!(
            wait_holder(bed, a, "node1", 8 * SEC),
            "node1 never held {a}\n{}",
            logs(&agents)
        );
    }
    let c2 = bed.write("node2.yaml", node2);
    agents.push(start_agent(bed, &bed.nodes[1], &c2));
    for n in names {
        assert!(
            wait_until(8 * SEC, 50 * MS, || state_of(bed, &bed.nodes[1], n)
                == "Backup"),
            "node2 never joined {n} as Backup\n{}",
            logs(&agents)
        );
    }
    agents
}

/// The pair with trackers on node1 only (`web`'s and `db`'s, see [`pair_docs`]), started as
/// [`start_nodes`] does.
pub fn start_pair(bed: &Bed, web: &str, db: &str) -> Vec<Proc> {
    start_nodes(
        bed,
        &pair_docs(150, Some(web), Some(db)),
        &pair_docs(150, None, None),
        &[VIP4, VIP_DB],
        &["web", "db"],
    )
}

/// The value of the first metric line starting with `prefix`.
pub fn metric(bed: &Bed, node: &Host, prefix: &str) -> Option<f64> {
    metrics(bed, node)
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

pub fn tracker_num(bed: &Bed, vip: &str, name: &str, field: &str) -> u64 {
    tracker(bed, &bed.nodes[0], vip, name)[field]
        .as_u64()
        .unwrap_or(0)
}

/// The pair scenario: node1's trackers fail, both VIPs move to node2 and the client keeps
/// reaching `web`; they recover, `web` (preempt) moves back, `db` (preempt: false) stays.
/// `db`'s tracker (weight 0) must be down while failed: Fault, and its metrics say so.
pub fn fail_and_recover(
    bed: &Bed,
    agents: &[Proc],
    name: &str,
    fail: impl FnOnce(),
    recover: impl FnOnce(),
) {
    let n1 = &bed.nodes[0];
    assert_eq!(tracker(bed, n1, "db", name)["up"], true, "{}", logs(agents));
    let pinger = Pinger::start(bed, VIP4, 0.02, 150);
    fail();
    for addr in [VIP4, VIP_DB] {
        assert!(
            wait_holder(bed, addr, "node2", 8 * SEC),
            "{addr} did not move: {:?}\n{}",
            bed.holders(addr),
            logs(agents)
        );
    }
    let report = pinger.finish();
    assert!(report.received > 0, "{report:?}");
    let after = Pinger::start(bed, VIP4, 0.02, 25).finish();
    assert!(
        after.received >= 20,
        "client lost the VIP after the move: {after:?}"
    );
    assert_eq!(state_of(bed, n1, "db"), "Fault", "weight 0 down = Fault");
    let t = tracker(bed, n1, "db", name);
    assert_eq!(
        (t["up"].as_bool(), t["fault"].as_bool()),
        (Some(false), Some(true)),
        "{t}"
    );
    let up = format!("kube_vrrp_tracker_up{{tracker=\"{name}\",vip=\"db\"}}");
    assert_eq!(metric(bed, n1, &up), Some(0.0));
    let failures = format!("kube_vrrp_tracker_failures_total{{tracker=\"{name}\",vip=\"db\"}}");
    assert!(metric(bed, n1, &failures).is_some_and(|f| f >= 1.0));
    recover();
    assert!(
        wait_holder(bed, VIP4, "node1", 8 * SEC),
        "web did not come back with preempt\n{}",
        logs(agents)
    );
    assert!(
        wait_until(5 * SEC, 50 * MS, || state_of(bed, n1, "db") == "Backup"),
        "{}",
        logs(agents)
    );
    std::thread::sleep(SEC);
    assert_eq!(
        bed.holders(VIP_DB),
        ["node2"],
        "preempt: false must not move db back"
    );
    assert_eq!(tracker(bed, n1, "db", name)["up"], true);
    assert_eq!(metric(bed, n1, &up), Some(1.0));
}

pub fn sh_script(path: &Path) -> String {
    format!(
        "[/bin/sh, -c, {}]",
        serde_json::to_string(&format!("exit $(cat {})", path.display())).unwrap_or_default()
    )
}

/// Count the "tracker changed" log lines of node1's tracker `check`.
pub fn transitions(agents: &[Proc]) -> usize {
    agents[0]
        .log_text()
        .lines()
        .filter(|l| l.contains("tracker changed") && l.contains("tracker=check"))
        .count()
}

/// PIDs of processes whose command line contains `needle`.
pub fn pids_with(needle: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            out.insert(pid);
        }
    }
    out
}

/// Zombie children of `parent`.
pub fn zombies_of(parent: u32) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            out.insert(pid);
        }
    }
    out
}
