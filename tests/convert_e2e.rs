//! `kube-vrrp convert` end to end: a two-host keepalived setup runs in the netns bed, then its
//! conversion runs with `kube-vrrp run` in a fresh bed, and both elect the same master and fail
//! over the same way (with nopreempt: the returning higher priority stays backup).

mod common;

use std::process::Command;
use std::time::Duration;

use common::agents::*;
use common::bed::*;

const A: &str = "tests/data/keepalived/e2e-a.conf";
const B: &str = "tests/data/keepalived/e2e-b.conf";

/// Who holds the VIP: after the election, after node1's link goes down, after it returns.
fn scenario(bed: &Bed) -> Vec<Vec<String>> {
    let mut seen = Vec::new();
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || bed.holders(VIP4).len() == 1
    ));
    std::thread::sleep(Duration::from_secs(2));
    seen.push(bed.holders(VIP4));
    bed.set_link(&bed.nodes[0], false);
    assert!(wait_until(
        Duration::from_secs(8),
        Duration::from_millis(50),
        || bed.holders(VIP4) == vec!["node2".to_string()]
    ));
    seen.push(bed.holders(VIP4));
    bed.set_link(&bed.nodes[0], true);
    // Well past a Master_Down_Interval: a preempting node1 would have taken over by now.
    std::thread::sleep(Duration::from_secs(6));
    seen.push(bed.holders(VIP4));
    seen
}

#[test]
fn converted_two_host_setup_behaves_like_keepalived() {
    let keepalived = {
        let bed = Bed::new(2);
        let read = |p: &str| std::fs::read_to_string(p).expect("test config");
        let _a = start_keepalived(&bed, &bed.nodes[0], &read(A));
        let _b = start_keepalived(&bed, &bed.nodes[1], &read(B));
        scenario(&bed)
    };
    let out = Command::new(binary())
        .args([
            "convert",
            "--strict",
            "--node",
            &format!("node1={A}"),
            "--node",
            &format!("node2={B}"),
        ])
        .output()
        .expect("run kube-vrrp convert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
    let kube_vrrp = {
        let bed = Bed::new(2);
        let cfg = bed.write("converted.yaml", &yaml);
        let _agents: Vec<Proc> = bed
            .nodes
            .iter()
            .map(|n| start_agent(&bed, n, &cfg))
            .collect();
        scenario(&bed)
    };
    let expected = vec![
        vec!["node1".to_string()],
        vec!["node2".to_string()],
        vec!["node2".to_string()],
    ];
    assert_eq!(keepalived, expected, "keepalived's own behaviour");
    assert_eq!(
        kube_vrrp, keepalived,
        "the conversion behaves like the original:\n{yaml}"
    );
}
