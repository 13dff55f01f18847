//! What the README promises a Kubernetes operator, on a real kube-apiserver with kubectl:
//! `kubectl get vip -o wide` columns, `kubectl describe vip` (each node's state, the conditions,
//! an Event per transition), and the top-level `nodeSelector` choosing which nodes take part.

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;
use common::k8s::*;

const PRIOS: &[(&str, u8)] = &[("node1", 150), ("node2", 100), ("node3", 50)];

/// The sum of an agent's `kube_vrrp_transitions_total` samples for one VirtualIP.
fn transitions(bed: &Bed, node: &Host, vip: &str) -> u64 {
    let label = format!("vip=\"{vip}\"");
    metrics(bed, node)
        .lines()
        .filter(|l| l.starts_with("kube_vrrp_transitions_total{") && l.contains(&label))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Events recorded for a VirtualIP: (reason, message), each repeat counted.
fn events(c: &Cluster, vip: &str) -> Vec<(String, String)> {
    let out = c.api.kubectl_ok(
        &c.bed,
        &[
            "get",
            "events",
            "-A",
            "--field-selector",
            &format!("involvedObject.name={vip}"),
            "-o",
            "jsonpath={range .items[*]}{.reason}{\"\\t\"}{.message}{\"\\t\"}{.count}{\"\\n\"}{end}",
        ],
    );
    let mut all = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let count = f.get(2).and_then(|c| c.parse::<usize>().ok()).unwrap_or(1);
        for _ in 0..count.max(1) {
            all.push((f[0].to_string(), f.get(1).unwrap_or(&"").to_string()));
        }
    }
    all
}

#[test]
fn wide_and_describe_show_version_nodes_conditions_and_an_event_per_transition() {
    let c = cluster(3);
    // 1 s adverts: each node's Backup is written before node1's Master (3.4 s later).
    let out = c.api.apply(
        &c.bed,
        &vip_doc("web", 51, 2, "1s", &format!("{VIP4}/32"), PRIOS, ""),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(20)),
        "{}",
        c.logs()
    );
    let wide = c.api.kubectl_ok(&c.bed, &["get", "vip", "-o", "wide"]);
    let rows: Vec<Vec<&str>> = wide
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "NAME",
            "VRID",
            "ADDRESSES",
            "MASTER",
            "READY",
            "AGE",
            "VERSION",
            "INTERVAL",
            "MASTER-PRIORITY"
        ],
        "{wide}"
    );
    let row = &rows[1];
    assert_eq!(row.len(), 9, "{wide}");
    assert_eq!(
        [&row[..5], &row[6..]].concat(),
        [
            "web",
            "51",
            "[\"198.51.100.100/32\"]",
            "node1",
            "True",
            "2",
            "1s",
            "150"
        ],
        "{wide}"
    );

    // Every transition so far (3 x Startup to Backup, node1 to Master) is one Event.
    let total = || -> u64 {
        c.bed
            .nodes
            .iter()
            .map(|n| transitions(&c.bed, n, "web"))
            .sum()
    };
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(200),
        || total() == 4
    ));
    let mut seen = Vec::new();
    let matched = wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        seen = events(&c, "web");
        seen.len() as u64 == total()
    });
    assert!(matched, "{} transitions, events: {seen:#?}", total());
    for node in ["node1", "node2", "node3"] {
        assert!(
            seen.iter()
                .any(|(reason, msg)| reason == "Startup" && msg.starts_with(&format!("{node}: "))),
            "no Startup event from {node}: {seen:#?}"
        );
    }
    assert!(
        seen.iter()
            .any(|(reason, msg)| reason == "MasterDown" && msg.contains("node1: Backup -> Master")),
        "{seen:#?}"
    );
    // Quiet afterwards: no event without a transition.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(events(&c, "web").len() as u64, total());

    // describe: each node's state, the conditions, the events.
    let describe = c.api.kubectl_ok(&c.bed, &["describe", "vip", "web"]);
    println!("{describe}");
    // status.nodes: one entry per node, "Node: X" then its fields, "State: S" among them.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in describe.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["Node:", node] => entries.push((node.to_string(), String::new())),
            ["State:", state] => {
                if let Some(last) = entries.last_mut() {
                    last.1 = state.to_string();
                }
            }
            _ => {}
        }
    }
    entries.sort();
    let expected: Vec<(String, String)> = [
        ("node1", "Master"),
        ("node2", "Backup"),
        ("node3", "Backup"),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect();
    assert_eq!(entries, expected, "{describe}");
    assert!(describe.contains("Conditions:"), "{describe}");
    assert!(
        describe.contains("Type:") && describe.contains("Ready"),
        "{describe}"
    );
    let events_section = describe
        .split_once("\nEvents:")
        .unwrap_or_else(|| panic!("no Events section:\n{describe}"))
        .1;
    assert!(
        events_section.contains("MasterDown") && events_section.contains("Startup"),
        "{describe}"
    );
}

#[test]
fn node_selector_chooses_the_nodes_that_take_part() {
    let c = cluster(3);
    let nodes = c
        .bed
        .nodes
        .iter()
        .map(|n| {
            let labels = if n.name == "node3" {
                "{}"
            } else {
                "{vrrp: \"yes\"}"
            };
            format!(
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: {}\n  labels: {labels}\n",
                n.name
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let out = c.api.apply(&c.bed, &nodes);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // node3 has the highest priority but is not selected.
    let prios = &[("node1", 150), ("node2", 100), ("node3", 250)];
    let out = c.api.apply(
        &c.bed,
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            prios,
            "  nodeSelector: {matchLabels: {vrrp: \"yes\"}}\n",
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            let mut nodes: Vec<String> = c
                .api
                .vip_field(&c.bed, "web", ".status.nodes[*].node")
                .split_whitespace()
                .map(String::from)
                .collect();
            nodes.sort();
            nodes == ["node1", "node2"]
        }),
        "{}",
        c.api.vip_field(&c.bed, "web", ".status.nodes[*].node")
    );
    assert_eq!(c.bed.holders(VIP4), vec!["node1"]);
    assert!(
        instance(&c.bed, &c.bed.nodes[2], "web").is_null(),
        "node3 runs no instance: {}",
        status(&c.bed, &c.bed.nodes[2])
    );
    // Unlabel node1: it leaves the virtual router, node2 takes over.
    c.api
        .kubectl_ok(&c.bed, &["label", "node", "node1", "vrrp-"]);
    assert!(
        wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(10)),
        "{:?}\n{}",
        c.bed.holders(VIP4),
        c.logs()
    );
    assert!(
        c.wait_status_master("web", "node2", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(200),
        || instance(&c.bed, &c.bed.nodes[0], "web").is_null()
    ));
}
