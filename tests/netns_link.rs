//! Link debounce and start-up delay on real links: two kube-vrrp nodes in network namespaces.
//! node1's link flaps; a blip shorter than `linkDebounce.down` must not cost it the VIP, a
//! longer outage must fault it. Needs root (CI runs as root).

mod common;

use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn logs(agents: &[Proc]) -> String {
    agents
        .iter()
        .map(|a| a.log_text())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn transitions(bed: &Bed, node: &Host) -> u64 {
    instance(bed, node, "web")["counters"]["transitions"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// `web`, 1 s adverts (node2's Master_Down_Interval 3.6 s), node1 200, node2 100, a 2 s down
/// delay and a 1 s up delay.
fn doc() -> String {
    vip_doc(
        "web",
        51,
        3,
        "1s",
        &format!("{VIP4}/32"),
        &[("node1", 200), ("node2", 100)],
        "  linkDebounce: {down: 2s, up: 1s}\n",
    )
}

#[test]
fn link_blip_within_debounce_keeps_the_vip_and_a_long_outage_faults() {
    let bed = Bed::new(2);
    let conf = bed.write("web.yaml", &doc());
    let mut agents = vec![start_agent(&bed, &bed.nodes[0], &conf)];
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        logs(&agents)
    );
    agents.push(start_agent(&bed, &bed.nodes[1], &conf));
    assert!(
        wait_until(10 * SEC, 50 * MS, || state_of(&bed, &bed.nodes[1], "web")
            == "Backup"),
        "{}",
        logs(&agents)
    );
    let n1 = &bed.nodes[0];
    let before = transitions(&bed, n1);

    // A blip: down and up again well within the 2 s down delay (and node2's 3.6 s).
    let blip = Instant::now();
    bed.set_link(n1, false);
    std::thread::sleep(300 * MS);
    bed.set_link(n1, true);
    let blip = blip.elapsed();
    // Let two adverts pass: nothing may have moved.
    std::thread::sleep(2500 * MS);
    assert_eq!(state_of(&bed, n1, "web"), "Master", "{}", logs(&agents));
    assert_eq!(
        transitions(&bed, n1),
        before,
        "a blip must not change state"
    );
    assert_eq!(state_of(&bed, &bed.nodes[1], "web"), "Backup");
    assert_eq!(bed.holders(VIP4), ["node1"]);
    let after = Pinger::start(&bed, VIP4, 0.02, 25).finish();
    assert!(
        after.received >= 20,
        "VIP unreachable after the blip: {after:?}"
    );

    // An outage longer than the delay: Fault, and node2 takes over.
    let down = Instant::now();
    bed.set_link(n1, false);
    assert!(
        wait_until(10 * SEC, 20 * MS, || state_of(&bed, n1, "web") == "Fault"),
        "node1 never faulted\n{}",
        logs(&agents)
    );
    let to_fault = down.elapsed();
    assert_eq!(instance(&bed, n1, "web")["reason"], "LinkDown");
    assert!(
        wait_holder(&bed, VIP4, "node2", 10 * SEC),
        "{:?}\n{}",
        bed.holders(VIP4),
        logs(&agents)
    );
    // Back up: node1 rejoins after the up delay and preempts node2.
    let up = Instant::now();
    bed.set_link(n1, true);
    assert!(
        wait_holder(&bed, VIP4, "node1", 15 * SEC),
        "node1 did not come back\n{}",
        logs(&agents)
    );
    eprintln!(
        "measured: blip {blip:?} absorbed; link down -> Fault {to_fault:?} (down delay 2s); link up -> VIP back {:?} (up delay 1s + join)",
        up.elapsed()
    );
}

#[test]
fn startup_delay_holds_the_instance_in_initialize() {
    let bed = Bed::new(1);
    let conf = bed.write(
        "web.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 200)],
            "  startupDelay: 3s\n",
        ),
    );
    let started = Instant::now();
    let agents = [start_agent(&bed, &bed.nodes[0], &conf)];
    assert!(wait_ready(&bed, &bed.nodes[0]), "{}", logs(&agents));
    // Read while the 3 s delay runs: the instance has not joined and holds nothing.
    let waiting = state_of(&bed, &bed.nodes[0], "web");
    let read_at = started.elapsed();
    assert_eq!(waiting, "Initialize", "read after {read_at:?}");
    assert!(bed.holders(VIP4).is_empty());
    assert!(
        wait_holder(&bed, VIP4, "node1", 10 * SEC),
        "{}",
        logs(&agents)
    );
    eprintln!(
        "measured: start -> VIP held {:?} (startupDelay 3s)",
        started.elapsed()
    );
}
