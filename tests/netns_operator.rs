//! What the README promises an operator of `kube-vrrp run`, each on real kernels in network
//! namespaces: SIGINT hands over like SIGTERM, the node name's defaults, the metrics that count
//! transitions, adverts, address mismatches and failed actions, and `announce` and
//! `preemptDelay` carried from the file to the running engine (counted on the wire).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::agents::*;
use common::bed::*;

const MS: Duration = Duration::from_millis(1);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// One Prometheus sample (exact name and labels) from a node's /metrics.
fn sample(bed: &Bed, node: &Host, series: &str) -> Option<u64> {
    metrics(bed, node)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

#[test]
fn sigint_hands_over_like_sigterm() {
    let bed = Bed::new(2);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 150), ("node2", 100)],
            "",
        ),
    );
    let mut node1 = start_agent(&bed, &bed.nodes[0], &cfg);
    let node2 = start_agent(&bed, &bed.nodes[1], &cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(5)),
        "{}\n{}",
        node1.log_text(),
        node2.log_text()
    );
    assert!(wait_until(Duration::from_secs(3), MS * 50, || state_of(
        &bed,
        &bed.nodes[1],
        "web"
    ) == "Backup"));
    node1.signal("INT");
    assert!(node1.wait_exit(Duration::from_secs(5)), "no exit on SIGINT");
    assert_eq!(
        node1.child.try_wait().ok().flatten().and_then(|s| s.code()),
        Some(0),
        "{}",
        node1.log_text()
    );
    assert!(wait_holder(&bed, VIP4, "node2", Duration::from_secs(3)));
    // node2 took over because node1 said it was leaving (priority 0, RFC 5798 §6.4.3), not
    // because node1 fell silent.
    let st = instance(&bed, &bed.nodes[1], "web");
    assert_eq!(st["state"], "Master", "{st}");
    assert_eq!(st["reason"], "MasterLeft", "{st}");
    assert!(
        node1.log_text().contains("handing over"),
        "{}",
        node1.log_text()
    );
}

#[test]
fn node_name_defaults_to_node_name_env_then_the_hostname() {
    let bed = Bed::new(2);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string();
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "1s",
            &format!("{VIP4}/32"),
            &[("from-env", 77), (hostname.as_str(), 66)],
            "",
        ),
    );
    let bin = binary();
    let bin = bin.to_str().expect("utf-8");
    let cfg = cfg.to_str().expect("utf-8");
    let run = ["run", "--config", cfg, "--http-addr", "127.0.0.1:9650"];
    let with_env: Vec<&str> = ["env", "NODE_NAME=from-env", bin]
        .into_iter()
        .chain(run)
        .collect();
    let without: Vec<&str> = ["env", "-u", "NODE_NAME", bin]
        .into_iter()
        .chain(run)
        .collect();
    let _a = bed.spawn(&bed.nodes[0], "agent", &with_env);
    let _b = bed.spawn(&bed.nodes[1], "agent", &without);
    for (node, priority) in [(&bed.nodes[0], 77), (&bed.nodes[1], 66)] {
        assert!(wait_ready(&bed, node));
        let st = instance(&bed, node, "web");
        assert_eq!(st["priority"], priority, "{}: {st}", node.name);
    }
}

#[test]
fn metrics_count_transitions_adverts_mismatches_and_failed_sends() {
    let bed = Bed::new(2);
    let prios = &[("node1", 150), ("node2", 100)];
    let node1_cfg = bed.write(
        "node1.yaml",
        &vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), prios, ""),
    );
    // node2 is configured with one more address: a misconfiguration it counts on every advert.
    let node2_cfg = bed.write(
        "node2.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32, 198.51.100.150/32"),
            prios,
            "",
        ),
    );
    let started = unix_now();
    let node1 = start_agent(&bed, &bed.nodes[0], &node1_cfg);
    let node2 = start_agent(&bed, &bed.nodes[1], &node2_cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(5)),
        "{}\n{}",
        node1.log_text(),
        node2.log_text()
    );
    let (n1, n2) = (&bed.nodes[0], &bed.nodes[1]);
    let labels = r#"vip="web",vrid="51""#;
    assert_eq!(
        sample(
            &bed,
            n1,
            &format!(r#"kube_vrrp_transitions_total{{reason="Startup",to="Backup",{labels}}}"#)
        ),
        Some(1)
    );
    assert_eq!(
        sample(
            &bed,
            n1,
            &format!(r#"kube_vrrp_transitions_total{{reason="MasterDown",to="Master",{labels}}}"#)
        ),
        Some(1)
    );
    let since = sample(
        &bed,
        n1,
        &format!("kube_vrrp_state_since_timestamp_seconds{{{labels}}}"),
    )
    .expect("state since");
    assert!(
        (started..=unix_now()).contains(&since),
        "entered Master at {since}, between {started} and now"
    );
    let received = format!("kube_vrrp_adverts_received_total{{{labels}}}");
    let mismatches = format!("kube_vrrp_address_mismatch_total{{{labels}}}");
    assert!(
        wait_until(Duration::from_secs(3), MS * 100, || sample(
            &bed,
            n2,
            &mismatches
        )
        .unwrap_or(0)
            >= 5),
        "{}",
        metrics(&bed, n2)
    );
    assert!(sample(&bed, n2, &received).unwrap_or(0) >= 5);
    // node1 counts no mismatch: node2 sends nothing while it is backup.
    assert_eq!(sample(&bed, n1, &mismatches).unwrap_or(0), 0);
    let send_errors = format!(r#"kube_vrrp_action_errors_total{{action="send",{labels}}}"#);
    assert_eq!(sample(&bed, n1, &send_errors).unwrap_or(0), 0);
    // The firewall refuses node1's adverts (sendto fails with EPERM): counted as failed sends.
    let rules = bed.write(
        "drop-vrrp.nft",
        "table inet drop_vrrp {\n chain out { type filter hook output priority 0; ip protocol 112 drop; }\n}\n",
    );
    let out = bed.exec(&n1.ns, &["nft", "-f", rules.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_until(Duration::from_secs(3), MS * 100, || sample(
            &bed,
            n1,
            &send_errors
        )
        .unwrap_or(0)
            >= 3),
        "{}",
        metrics(&bed, n1)
    );
    assert!(
        node1.log_text().contains("action failed"),
        "{}",
        node1.log_text()
    );
}

/// Count, in a capture of the bridge, gratuitous ARPs for `v4` and unsolicited neighbour
/// advertisements for `v6`.
fn announcements(capture: &str, v4: &str, v6: &str) -> (usize, usize) {
    let mut arps = 0;
    let mut nas = 0;
    for line in capture.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.first() == Some(&v4) {
            arps += 1;
        }
        if f.get(1) == Some(&"136") && f.get(2) == Some(&v6) {
            nas += 1;
        }
    }
    (arps, nas)
}

#[test]
fn announce_and_preempt_delay_reach_the_running_engine() {
    let bed = Bed::new(2);
    // announce: 3 per burst, a second burst 1 s later, no refresh: exactly 6 of each on the
    // wire (the default, 5 and 5 s, would give 5 in this window).
    let announce = "  announce: {repeat: 3, delay: 1s, refresh: 0s}\n";
    let mut text = vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        &[("node1", 150)],
        announce,
    );
    text.push_str("---\n");
    text.push_str(&vip_doc(
        "web6",
        52,
        3,
        "100ms",
        &format!("{VIP6}/128"),
        &[("node1", 150)],
        announce,
    ));
    let cfg = bed.write("announce.yaml", &text);
    let capture = bed.spawn(
        &Host {
            ns: bed.switch.clone(),
            name: "switch".into(),
            ip4: String::new(),
            ip6: String::new(),
        },
        "tshark",
        &[
            "tshark",
            "-n",
            "-l",
            "-i",
            "br0",
            "-a",
            "duration:7",
            "-f",
            "arp or icmp6",
            "-T",
            "fields",
            "-e",
            "arp.src.proto_ipv4",
            "-e",
            "icmpv6.type",
            "-e",
            "icmpv6.nd.na.target_address",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), MS * 100, || capture
            .log_text()
            .contains("Capturing on")),
        "tshark did not start: {}",
        capture.log_text()
    );
    let node1 = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(5)),
        "{}",
        node1.log_text()
    );
    let mut capture = capture;
    assert!(capture.wait_exit(Duration::from_secs(15)), "tshark ran on");
    let (arps, nas) = announcements(&capture.log_text(), VIP4, VIP6);
    assert_eq!(
        (arps, nas),
        (6, 6),
        "GARPs and NAs on the wire:\n{}",
        capture.log_text()
    );
    drop(node1);

    // preemptDelay: node1 (150) joins while node2 (100) is master and tolerates it for 3 s,
    // then preempts, saying why. Without the delay it would preempt when its join wait ends,
    // 0.71 s after it started (3 x 100 ms + the 1 s-floor Skew_Time of priority 150).
    let prios = &[("node1", 150), ("node2", 100)];
    let cfg = bed.write(
        "preempt.yaml",
        &vip_doc(
            "db",
            53,
            3,
            "100ms",
            "198.51.100.101/32",
            prios,
            "  preemptDelay: 3s\n",
        ),
    );
    let node2 = start_agent(&bed, &bed.nodes[1], &cfg);
    assert!(
        wait_holder(&bed, "198.51.100.101", "node2", Duration::from_secs(5)),
        "{}",
        node2.log_text()
    );
    let node1 = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_until(Duration::from_secs(5), MS * 20, || state_of(
        &bed,
        &bed.nodes[0],
        "db"
    ) == "Backup"));
    // Well past the join wait (0.71 s) and under the 3 s delay: still node2's.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        bed.holders("198.51.100.101"),
        vec!["node2"],
        "node1 preempted before preemptDelay:\n{}",
        node1.log_text()
    );
    assert!(
        wait_holder(&bed, "198.51.100.101", "node1", Duration::from_secs(6)),
        "{}",
        node1.log_text()
    );
    let st = instance(&bed, &bed.nodes[0], "db");
    assert_eq!(st["reason"], "PreemptDelayElapsed", "{st}");
}
