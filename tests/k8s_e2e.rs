//! End to end on a real kube-apiserver (hack/apiserver) running as a control-plane host of the
//! bed: agents in node namespaces, kubectl through `ip netns exec`, a client pinging the VIP.

mod common;

use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;
use common::k8s::*;

fn vip_yaml(name: &str, vrid: u8, address: &str, priorities: &[(&str, u8)], extra: &str) -> String {
    vip_doc(name, vrid, 3, "100ms", address, priorities, extra)
}

const PRIOS: &[(&str, u8)] = &[("node1", 150), ("node2", 100), ("node3", 50)];

#[test]
fn apply_elects_a_master_that_kubectl_shows_and_failover_updates_status() {
    let c = cluster(3);
    let t0 = Instant::now();
    let out = c.api.apply(
        &c.bed,
        &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS, ""),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Apply to the VIP answering ping from the client.
    let answered = wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
        c.bed
            .exec(&c.bed.client.ns, &["ping", "-c", "1", "-W", "0.2", VIP4])
            .status
            .success()
    });
    assert!(answered, "{}", c.logs());
    println!("kubectl apply -> VIP answers ping: {:?}", t0.elapsed());
    assert_eq!(c.bed.holders(VIP4), vec!["node1"]);
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    let table = c.api.kubectl_ok(&c.bed, &["get", "vip"]);
    println!("{table}");
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "VRID", "ADDRESSES", "MASTER", "READY", "AGE"]
    );
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..5],
        ["web", "51", "[\"198.51.100.100/32\"]", "node1", "True"]
    );
    let wide = c.api.kubectl_ok(&c.bed, &["get", "vip", "-o", "wide"]);
    assert!(
        wide.contains("MASTER-PRIORITY") && wide.contains("100ms") && wide.contains("150"),
        "{wide}"
    );
    // Every node reports its own entry.
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            c.api
                .vip_field(&c.bed, "web", ".status.nodes[*].node")
                .split_whitespace()
                .count()
                == 3
        }
    ));
    let states = c.api.vip_field(&c.bed, "web", ".status.nodes[*].state");
    assert_eq!(
        states.split_whitespace().filter(|s| *s == "Master").count(),
        1,
        "{states}"
    );

    // Master loss: status names the new master and the client still reaches the VIP.
    let t1 = Instant::now();
    c.bed.set_link(&c.bed.nodes[0], false);
    assert!(
        c.wait_status_master("web", "node2", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    println!("master loss -> status shows node2: {:?}", t1.elapsed());
    assert!(
        c.bed
            .exec(
                &c.bed.client.ns,
                &["ping", "-c", "3", "-i", "0.2", "-W", "1", VIP4]
            )
            .status
            .success()
    );
    let events = c.api.kubectl_ok(
        &c.bed,
        &[
            "get",
            "events",
            "-A",
            "--field-selector",
            "involvedObject.name=web",
        ],
    );
    assert!(
        events.contains("MasterDown"),
        "transitions are recorded as events:\n{events}"
    );
}

#[test]
fn priority_change_preempts_and_delete_releases_everywhere() {
    let c = cluster(3);
    assert!(
        c.api
            .apply(
                &c.bed,
                &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS, "")
            )
            .status
            .success()
    );
    assert!(
        wait_holder(&c.bed, VIP4, "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    // node3 gets the highest priority: it preempts.
    let out = c.api.apply(
        &c.bed,
        &vip_yaml(
            "web",
            51,
            &format!("{VIP4}/32"),
            &[("node1", 150), ("node2", 100), ("node3", 250)],
            "",
        ),
    );
    assert!(out.status.success());
    assert!(
        wait_holder(&c.bed, VIP4, "node3", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    assert!(c.wait_status_master("web", "node3", Duration::from_secs(10)));
    // Delete: the VIP leaves every node.
    let t0 = Instant::now();
    c.api.kubectl_ok(&c.bed, &["delete", "vip", "web"]);
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || c
            .bed
            .holders(VIP4)
            .is_empty()),
        "{:?}",
        c.bed.holders(VIP4)
    );
    println!("delete -> VIP gone from every node: {:?}", t0.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    assert!(c.bed.holders(VIP4).is_empty());
    for n in &c.bed.nodes {
        assert!(
            status(&c.bed, n).as_array().is_some_and(|a| a.is_empty()),
            "{}",
            status(&c.bed, n)
        );
    }
}

#[test]
fn invalid_objects_are_refused_with_useful_messages() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let base = |spec: &str| {
        format!(
            "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: bad}}\nspec:\n{spec}"
        )
    };
    let cases: &[(&str, &str)] = &[
        ("  vrid: 0\n  addresses: [198.51.100.1]\n", "spec.vrid"),
        ("  vrid: 256\n  addresses: [198.51.100.1]\n", "spec.vrid"),
        (
            "  vrid: 5\n  priority: 0\n  addresses: [198.51.100.1]\n",
            "spec.priority",
        ),
        (
            "  vrid: 5\n  addresses: [not-an-ip]\n",
            "must be an IP address",
        ),
        ("  vrid: 5\n  addresses: []\n", "spec.addresses"),
        (
            "  vrid: 5\n  addresses: [198.51.100.1, 2001:db8::1]\n",
            "one family",
        ),
        (
            "  vrid: 5\n  version: 2\n  addresses: [2001:db8::1]\n",
            "IPv4 only",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  advertInterval: 15ms\n",
            "steps of 10ms",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  advertInterval: 5ms\n",
            "steps of 10ms",
        ),
        (
            "  vrid: 5\n  version: 2\n  addresses: [198.51.100.1]\n  advertInterval: 1500ms\n",
            "whole seconds",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  advertInterval: soon\n",
            "spec.advertInterval",
        ),
        (
            "  vrid: 5\n  version: 4\n  addresses: [198.51.100.1]\n",
            "spec.version",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  authentication: {type: PASS, secretRef: {name: s, key: k}}\n",
            "only VRRPv2 has authentication",
        ),
        (
            "  vrid: 5\n  version: 2\n  addresses: [198.51.100.1]\n  authentication: {type: AH, secretRef: {name: s, key: k}}\n",
            "only PASS",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  trackers: [{name: t, file: {path: /a}, interface: {name: eth1}}]\n",
            "exactly one of script, process, file, interface, pods",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  trackers: [{name: t}]\n",
            "exactly one of script, process, file, interface, pods",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  priorities: [{priority: 10}]\n",
            "exactly one of nodeName and nodeSelector",
        ),
        (
            "  vrid: 5\n  addresses: [198.51.100.1]\n  unicastPeers: [nope]\n",
            "spec.unicastPeers",
        ),
    ];
    let mut failures = Vec::new();
    for (spec, expected) in cases {
        let out = api.apply(&bed, &base(spec));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains(expected) {
            failures.push(format!(
                "{spec:?}: expected refusal mentioning {expected:?}, got success={} {stderr}",
                out.status.success()
            ));
            let _ = api.kubectl(&bed, &["delete", "vip", "bad", "--ignore-not-found"]);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // vrid is immutable.
    assert!(
        api.apply(&bed, &base("  vrid: 5\n  addresses: [198.51.100.1]\n"))
            .status
            .success()
    );
    let out = api.apply(&bed, &base("  vrid: 6\n  addresses: [198.51.100.1]\n"));
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("immutable"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kube-vrrp convert` output (VirtualIPs and their Secrets) is what the API server accepts:
/// the CRD's schema and CEL rules, by a server-side dry run.
#[test]
fn converted_keepalived_files_pass_the_api_servers_validation() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let data = |f: &str| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/keepalived")
            .join(f)
            .to_string_lossy()
            .into_owned()
    };
    let two_hosts = vec![
        "convert".to_string(),
        "--node".into(),
        format!("node1={}", data("host-a.conf")),
        "--node".into(),
        format!("node2={}", data("host-b.conf")),
    ];
    let mut cases = vec![two_hosts];
    for f in ["host-a.conf", "seed.conf", "features.conf"] {
        cases.push(vec!["convert".to_string(), data(f)]);
    }
    for (i, args) in cases.iter().enumerate() {
        let out = std::process::Command::new(binary())
            .args(args)
            .output()
            .expect("kube-vrrp convert runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut yaml = String::from_utf8_lossy(&out.stdout).into_owned();
        if yaml.contains("\n  notify:\n") {
            // Notify hooks convert (for `kube-vrrp run`), and the API server refuses them by
            // design, saying why; everything else must pass.
            let file = bed.write(&format!("converted-{i}-notify.yaml"), &yaml);
            let refused = api.kubectl(
                &bed,
                &[
                    "apply",
                    "--dry-run=server",
                    "-f",
                    file.to_str().expect("utf-8"),
                ],
            );
            assert!(!refused.status.success(), "{args:?}: notify accepted");
            assert!(
                String::from_utf8_lossy(&refused.stderr)
                    .contains("spec.notify: notify hooks run only in standalone mode"),
                "{}",
                String::from_utf8_lossy(&refused.stderr)
            );
            yaml = without_notify(&yaml);
        }
        let file = bed.write(&format!("converted-{i}.yaml"), &yaml);
        let applied = api.kubectl(
            &bed,
            &[
                "apply",
                "--dry-run=server",
                "-n",
                "kube-vrrp",
                "-f",
                file.to_str().expect("utf-8"),
            ],
        );
        let stdout = String::from_utf8_lossy(&applied.stdout);
        assert!(
            applied.status.success(),
            "{args:?}: the API server refused the conversion:\n{}\n{yaml}",
            String::from_utf8_lossy(&applied.stderr)
        );
        let vips = yaml.matches("kind: VirtualIP").count();
        assert!(vips > 0, "{args:?}: {yaml}");
        assert_eq!(
            stdout.matches("virtualip.kubevrrp.io/").count(),
            vips,
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn api_server_outage_does_not_stop_failover_and_status_catches_up() {
    let mut c = cluster(2);
    assert!(
        c.api
            .apply(
                &c.bed,
                &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS, "")
            )
            .status
            .success()
    );
    assert!(
        wait_holder(&c.bed, VIP4, "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    assert!(c.wait_status_master("web", "node1", Duration::from_secs(10)));
    // Give the agents time to write their cache.
    std::thread::sleep(Duration::from_secs(1));
    c.api.stop();
    let down = Instant::now();
    // The master dies while the API server is away: the backup still takes over.
    c.bed.set_link(&c.bed.nodes[0], false);
    assert!(
        wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(5)),
        "{}",
        c.logs()
    );
    // An agent restarted during the outage resumes from its cache.
    c.agents[1].signal("TERM");
    assert!(c.agents[1].wait_exit(Duration::from_secs(5)));
    let restarted = start_k8s_agent(&c.bed, &c.bed.nodes[1], &c.api.kubeconfig());
    assert!(
        wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(5)),
        "{}",
        restarted.log_text()
    );
    assert!(
        restarted.log_text().contains("configuration cache"),
        "{}",
        restarted.log_text()
    );
    c.agents[1] = restarted;
    let elapsed = down.elapsed();
    std::thread::sleep(Duration::from_secs(30).saturating_sub(elapsed));
    c.api.restart(&c.bed);
    assert!(
        c.wait_status_master("web", "node2", Duration::from_secs(20)),
        "status catches up:\n{}",
        c.logs()
    );
    let node_state = |c: &Cluster, node: &str| {
        c.api.vip_field(
            &c.bed,
            "web",
            &format!(".status.nodes[?(@.node==\"{node}\")].state"),
        )
    };
    assert_eq!(node_state(&c, "node2"), "Master");
    // node1's network returns: it preempts, and status says so.
    c.bed.set_link(&c.bed.nodes[0], true);
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(20)),
        "{}",
        c.logs()
    );
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(200),
        || node_state(&c, "node2") == "Backup"
    ));
    assert_eq!(c.bed.holders(VIP4), vec!["node1"]);
}

#[test]
fn a_steady_state_makes_no_api_writes() {
    let c = cluster(2);
    assert!(
        c.api
            .apply(
                &c.bed,
                &vip_yaml("web", 51, &format!("{VIP4}/32"), PRIOS, "")
            )
            .status
            .success()
    );
    assert!(
        c.wait_status_master("web", "node1", Duration::from_secs(15)),
        "{}",
        c.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    let rv = |c: &Cluster| c.api.vip_field(&c.bed, "web", ".metadata.resourceVersion");
    let before = rv(&c);
    let writes = |c: &Cluster| -> u64 {
        c.bed
            .nodes
            .iter()
            .map(|n| metric(&c.bed, n, "kube_vrrp_api_writes_total"))
            .sum()
    };
    let w0 = writes(&c);
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(rv(&c), before, "the VirtualIP changed in a steady state");
    assert_eq!(writes(&c), w0, "API writes in a quiet period");
}

/// Read one unlabelled metric from an agent.
fn metric(bed: &Bed, node: &Host, name: &str) -> u64 {
    metric_value(bed, node, name)
        .unwrap_or_else(|| panic!("no {name} in /metrics of {}", node.name))
}

#[test]
fn a_pods_tracker_moves_the_vip_with_its_pod() {
    let c = cluster(2);
    c.api.kubectl_ok(&c.bed, &["create", "namespace", "web"]);
    let pod = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: web, labels: {{app: web}}}}\nspec:\n  nodeName: {node}\n  containers: [{{name: web, image: example.invalid/web}}]\n"
        )
    };
    let ready = |name: &str, status: &str| {
        let patch = format!(
            "{{\"status\":{{\"conditions\":[{{\"type\":\"Ready\",\"status\":\"{status}\"}}]}}}}"
        );
        c.api.kubectl_ok(
            &c.bed,
            &[
                "patch",
                "pod",
                name,
                "-n",
                "web",
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch,
            ],
        );
    };
    // The backend runs on node2 only; node1 has the higher base priority.
    assert!(c.api.apply(&c.bed, &pod("web-a", "node2")).status.success());
    ready("web-a", "True");
    let tracker = "  trackers:\n    - {name: backend, weight: 100, pods: {namespace: web, selector: {matchLabels: {app: web}}}}\n";
    assert!(
        c.api
            .apply(
                &c.bed,
                &vip_yaml(
                    "web",
                    51,
                    &format!("{VIP4}/32"),
                    &[("node1", 150), ("node2", 100)],
                    tracker
                )
            )
            .status
            .success()
    );
    assert!(
        wait_holder(&c.bed, VIP4, "node2", Duration::from_secs(15)),
        "the VIP follows the ready pod:\n{}",
        c.logs()
    );
    // The pod becomes ready on node1 instead: the VIP follows it.
    assert!(c.api.apply(&c.bed, &pod("web-b", "node1")).status.success());
    ready("web-b", "True");
    ready("web-a", "False");
    assert!(
        wait_holder(&c.bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        c.logs()
    );
    assert!(c.wait_status_master("web", "node1", Duration::from_secs(10)));
    let trackers = &instance(&c.bed, &c.bed.nodes[0], "web")["trackers"];
    assert_eq!(trackers[0]["up"], true, "{trackers}");
}

/// A converted YAML without its `spec.notify` blocks.
fn without_notify(yaml: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in yaml.lines() {
        if line == "  notify:" {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with("    ") {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}
