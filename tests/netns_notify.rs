//! Notify hooks in standalone mode on real nodes: node1 runs keepalived-style hooks on every
//! transition, in order, with `notify`'s TYPE NAME STATE PRIORITY arguments; a hook that runs
//! past its timeout is killed and counted without delaying an advert; a failing hook is counted.
//! Needs root (CI runs as root).

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn sh(script: &str, log: &std::path::Path) -> String {
    let line = format!("{{ {script}; }} >> {}", log.display());
    format!(
        "[/bin/sh, -c, {}]",
        serde_json::to_string(&line).unwrap_or_default()
    )
}

fn failures(bed: &Bed, node: &Host, hook: &str, reason: &str) -> u64 {
    metric_value(
        bed,
        node,
        &format!(
            "kube_vrrp_notify_failures_total{{hook=\"{hook}\",reason=\"{reason}\",vip=\"web\"}}"
        ),
    )
    .unwrap_or(0)
}

#[test]
fn hooks_follow_transitions_in_order_without_blocking_the_engine() {
    let bed = Bed::new(2);
    let log = bed.dir.join("hooks.log");
    let any = format!(
        "[/bin/sh, -c, {}, sh]",
        serde_json::to_string(&format!("echo \"$@\" >> {}", log.display())).unwrap_or_default()
    );
    // The master hook sleeps past its 1 s timeout: it is killed, and meanwhile node1 must keep
    // advertising every 100 ms (node2's Master_Down_Interval is 0.36 s).
    let notify = format!(
        "  notify:\n    master: {}\n    backup: {}\n    fault: {}\n    stop: {}\n    any: {any}\n    timeout: 1s\n",
        sh("echo master; sleep 5", &log),
        sh("echo backup", &log),
        sh("echo fault; exit 3", &log),
        sh("echo stop", &log),
    );
    let doc = |extra: &str| {
        vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 200), ("node2", 100)],
            extra,
        )
    };
    let c1 = bed.write("node1.yaml", &doc(&notify));
    let c2 = bed.write("node2.yaml", &doc(""));
    let n1 = &bed.nodes[0];
    let mut agent1 = start_agent(&bed, n1, &c1);
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        agent1.log_text()
    );
    let agent2 = start_agent(&bed, &bed.nodes[1], &c2);
    assert!(
        wait_until(10 * SEC, 50 * MS, || state_of(&bed, &bed.nodes[1], "web")
            == "Backup"),
        "{}",
        agent2.log_text()
    );
    let before = instance(&bed, &bed.nodes[1], "web")["counters"]["transitions"].as_u64();
    assert!(
        wait_until(10 * SEC, 50 * MS, || failures(&bed, n1, "master", "failed")
            == 1),
        "{}",
        agent1.log_text()
    );
    // The slow hook held nothing up: node2 stayed Backup throughout.
    assert_eq!(
        instance(&bed, &bed.nodes[1], "web")["counters"]["transitions"].as_u64(),
        before
    );
    assert_eq!(bed.holders(VIP4), ["node1"]);

    // Fault: the fault hook fails (exit 3) and is counted; node2 takes over.
    bed.set_link(n1, false);
    assert!(
        wait_holder(&bed, VIP4, "node2", 10 * SEC),
        "{}",
        agent1.log_text()
    );
    assert!(
        wait_until(10 * SEC, 50 * MS, || failures(&bed, n1, "fault", "failed")
            == 1),
        "{}",
        agent1.log_text()
    );
    bed.set_link(n1, true);
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        agent1.log_text()
    );
    // Stop: SIGTERM hands over and runs the stop hook before the agent exits.
    agent1.signal("TERM");
    assert!(agent1.wait_exit(20 * SEC), "{}", agent1.log_text());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "backup",
            "INSTANCE web BACKUP 200",
            "master",
            "INSTANCE web MASTER 200",
            "fault",
            "INSTANCE web FAULT 200",
            "backup",
            "INSTANCE web BACKUP 200",
            "master",
            "INSTANCE web MASTER 200",
            "stop",
            "INSTANCE web STOP 200",
        ],
        "{}",
        agent1.log_text()
    );
}
