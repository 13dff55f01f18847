//! An agent killed while master and restarted at once (what a kubelet does): the VIP its
//! predecessor left stays while it rejoins, goes the moment another master is heard, is adopted
//! when it wins, and is removed when no configured VirtualIP carries it. Real kernels in network
//! namespaces; needs root.

mod common;

use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;

const PRIOS: &[(&str, u8)] = &[("node1", 150), ("node2", 100)];

fn setup(interval: &str) -> (Bed, Vec<Proc>) {
    let bed = Bed::new(2);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc("web", 51, 3, interval, &format!("{VIP4}/32"), PRIOS, ""),
    );
    let agents = bed
        .nodes
        .iter()
        .map(|n| start_agent(&bed, n, &cfg))
        .collect();
    (bed, agents)
}

/// Sample the holders every 20 ms until `done` or `timeout`; returns (moments with no holder,
/// the longest run with two holders).
fn watch_holders(bed: &Bed, timeout: Duration, mut done: impl FnMut() -> bool) -> (u32, Duration) {
    let end = Instant::now() + timeout;
    let mut none = 0;
    let mut two_since: Option<Instant> = None;
    let mut two_longest = Duration::ZERO;
    while Instant::now() < end && !done() {
        let n = bed.holders(VIP4).len();
        if n == 0 {
            none += 1;
        }
        match (n >= 2, two_since) {
            (true, None) => two_since = Some(Instant::now()),
            (false, Some(t)) => {
                two_longest = two_longest.max(t.elapsed());
                two_since = None;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(t) = two_since {
        two_longest = two_longest.max(t.elapsed());
    }
    (none, two_longest)
}

#[test]
fn restarted_at_once_the_vip_never_leaves_and_node1_gets_it_back() {
    let (bed, mut agents) = setup("1s");
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        agents[0].log_text()
    );
    agents[0].kill();
    let restarted = start_agent(&bed, &bed.nodes[0], &bed.dir.join("vips.yaml"));
    // Until node1 is master again: some node holds the VIP at every sample (the leftover while
    // nobody else is master), and two holders never outlast one advert interval (1 s) plus
    // the sampling.
    let (none, two) = watch_holders(&bed, Duration::from_secs(20), || {
        state_of(&bed, &bed.nodes[0], "web") == "Master" && bed.holders(VIP4) == vec!["node1"]
    });
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(5)),
        "{}",
        restarted.log_text()
    );
    println!(
        "kill -9 and restart at 1 s adverts: {none} samples with no holder, two holders for at most {two:?}"
    );
    assert_eq!(none, 0, "the VIP had no holder:\n{}", restarted.log_text());
    assert!(two < Duration::from_millis(1500), "two holders for {two:?}");
    assert!(
        restarted
            .log_text()
            .contains("keeping the VIP an earlier run left while rejoining"),
        "{}",
        restarted.log_text()
    );
    agents.push(restarted);
}

#[test]
fn a_leftover_goes_when_another_master_is_heard_and_unconfigured_ones_at_once() {
    let bed = Bed::new(2);
    let web = vip_doc("web", 51, 3, "1s", &format!("{VIP4}/32"), PRIOS, "");
    // A second VirtualIP only node1 runs, and that its restarted agent will not have.
    let extra = "198.51.100.150";
    let solo = vip_doc(
        "solo",
        60,
        3,
        "1s",
        &format!("{extra}/32"),
        &[("node1", 150)],
        "",
    );
    let both = bed.write("node1.yaml", &format!("{web}---\n{solo}"));
    let web_only = bed.write("vips.yaml", &web);
    let mut node1 = start_agent(&bed, &bed.nodes[0], &both);
    let node2 = start_agent(&bed, &bed.nodes[1], &web_only);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        node1.log_text()
    );
    assert!(wait_until(
        Duration::from_secs(8),
        Duration::from_millis(50),
        || bed.has_addr(&bed.nodes[0], extra)
    ));
    // Partition node1 from VRRP: node2 takes over too (two masters), then node1's agent dies
    // with its VIPs installed, and the partition heals.
    let rules = bed.write(
        "partition.nft",
        "table inet part {\n chain in { type filter hook input priority 0; ip protocol 112 drop; }\n chain out { type filter hook output priority 0; ip protocol 112 drop; }\n}\n",
    );
    let nft = |args: &[&str]| {
        let out = bed.exec(&bed.nodes[0].ns, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    nft(&["nft", "-f", rules.to_str().expect("utf-8")]);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || bed
            .holders(VIP4)
            == vec!["node1", "node2"]),
        "{:?}\n{}",
        bed.holders(VIP4),
        node2.log_text()
    );
    node1.kill();
    nft(&["nft", "delete", "table", "inet", "part"]);
    // Restarted with web only: `solo` is no longer configured.
    let restarted = start_agent(&bed, &bed.nodes[0], &web_only);
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || !bed
            .has_addr(&bed.nodes[0], extra)),
        "an unconfigured leftover stays:\n{}",
        restarted.log_text()
    );
    // node2 advertises every second: the leftover goes at its next advert.
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || bed
            .holders(VIP4)
            == vec!["node2"]),
        "the leftover stayed next to node2's VIP: {:?}\n{}",
        bed.holders(VIP4),
        restarted.log_text()
    );
    assert!(
        restarted
            .log_text()
            .contains("keeping the VIP an earlier run left while rejoining"),
        "{}",
        restarted.log_text()
    );
    // Then node1 preempts, as after any restart.
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(20)),
        "{}",
        restarted.log_text()
    );
    drop(node2);
}
