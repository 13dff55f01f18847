//! A real keepalived (Debian's 2.2.7) and kube-vrrp in one virtual router, both directions,
//! with the seed's settings (v2, PASS "1111", advert 1 s, vrid 51, priorities 210/200) and v3.

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;

fn kube_vrrp_config(
    bed: &Bed,
    version: u8,
    node: &str,
    priority: u8,
    password: Option<&str>,
) -> std::path::PathBuf {
    let extra = if password.is_some() {
        "  authentication: {type: PASS, secretRef: {name: vrrp-auth, key: password}}\n"
    } else {
        ""
    };
    let mut text = vip_doc(
        "vi-1",
        51,
        version,
        "1s",
        &format!("{VIP4}/32"),
        &[(node, priority)],
        extra,
    );
    if let Some(p) = password {
        text.push_str("---\n");
        text.push_str(&secret_doc("vrrp-auth", p));
    }
    bed.write(&format!("{node}.yaml"), &text)
}

fn password_for(version: u8) -> Option<&'static str> {
    (version == 2).then_some("1111")
}

/// keepalived (210) is master, kube-vrrp (200) backs it up and takes over on node loss.
fn keepalived_master(version: u8) {
    let bed = Bed::new(2);
    let pass = password_for(version);
    let keepalived = start_keepalived(
        &bed,
        &bed.nodes[0],
        &keepalived_conf(version, 51, 210, "1", pass, &format!("{VIP4}/32"), false),
    );
    let cfg = kube_vrrp_config(&bed, version, "node2", 200, pass);
    let agent = start_agent(&bed, &bed.nodes[1], &cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "keepalived never became the only master: {:?}\n{}\n{}",
        bed.holders(VIP4),
        keepalived.log_text(),
        agent.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        bed.holders(VIP4),
        vec!["node1"],
        "kube-vrrp accepts keepalived as master"
    );
    let st = instance(&bed, &bed.nodes[1], "vi-1");
    assert_eq!(st["state"], "Backup", "{st}");
    assert_eq!(st["master"], bed.nodes[0].ip4.as_str(), "{st}");
    assert!(
        st["counters"]["advertsReceived"].as_u64().unwrap_or(0) >= 2,
        "{st}"
    );
    assert_eq!(st["counters"]["discards"], serde_json::json!({}), "{st}");
    bed.set_link(&bed.nodes[0], false);
    assert!(
        wait_holder(&bed, VIP4, "node2", Duration::from_secs(8)),
        "{}",
        agent.log_text()
    );
    // keepalived comes back and, with preempt, takes over again from kube-vrrp.
    bed.set_link(&bed.nodes[0], true);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}\n{}",
        keepalived.log_text(),
        agent.log_text()
    );
}

/// kube-vrrp (210) is master, keepalived (200) backs it up and takes over on node loss.
fn kube_vrrp_master(version: u8) {
    let bed = Bed::new(2);
    let pass = password_for(version);
    let cfg = kube_vrrp_config(&bed, version, "node1", 210, pass);
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    let keepalived = start_keepalived(
        &bed,
        &bed.nodes[1],
        &keepalived_conf(version, 51, 200, "1", pass, &format!("{VIP4}/32"), false),
    );
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "kube-vrrp never became the only master: {:?}\n{}\n{}",
        bed.holders(VIP4),
        agent.log_text(),
        keepalived.log_text()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        bed.holders(VIP4),
        vec!["node1"],
        "keepalived accepts kube-vrrp as master:\n{}",
        keepalived.log_text()
    );
    assert!(
        keepalived.log_text().contains("Entering BACKUP STATE"),
        "{}",
        keepalived.log_text()
    );
    bed.set_link(&bed.nodes[0], false);
    assert!(
        wait_holder(&bed, VIP4, "node2", Duration::from_secs(8)),
        "{}",
        keepalived.log_text()
    );
    bed.set_link(&bed.nodes[0], true);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}\n{}",
        agent.log_text(),
        keepalived.log_text()
    );
}

#[test]
fn v2_pass_keepalived_master_kube_vrrp_backup() {
    keepalived_master(2);
}

#[test]
fn v2_pass_kube_vrrp_master_keepalived_backup() {
    kube_vrrp_master(2);
}

#[test]
fn v3_keepalived_master_kube_vrrp_backup() {
    keepalived_master(3);
}

#[test]
fn v3_kube_vrrp_master_keepalived_backup() {
    kube_vrrp_master(3);
}

#[test]
fn sigterm_handover_to_keepalived_within_skew_time() {
    // kube-vrrp leaves with priority 0: keepalived takes over after Skew_Time, not MDI.
    let bed = Bed::new(2);
    let cfg = kube_vrrp_config(&bed, 2, "node1", 210, Some("1111"));
    let mut agent = start_agent(&bed, &bed.nodes[0], &cfg);
    let keepalived = start_keepalived(
        &bed,
        &bed.nodes[1],
        &keepalived_conf(2, 51, 200, "1", Some("1111"), &format!("{VIP4}/32"), false),
    );
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        agent.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let t0 = std::time::Instant::now();
    agent.signal("TERM");
    // A liveness bound, not a timing check (bench/ measures the handover).
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(5), || bed
            .has_addr(&bed.nodes[1], VIP4)),
        "keepalived never took over:\n{}",
        keepalived.log_text()
    );
    let took = t0.elapsed();
    assert!(agent.wait_exit(Duration::from_secs(5)));
    println!("kube-vrrp -> keepalived handover: keepalived held the VIP after {took:?}");
    // What tells Skew_Time from Master_Down_Interval without a clock: keepalived (-D) logs the
    // priority-0 advert that set its timer to Skew_Time, and only then becomes master.
    let log = keepalived.log_text();
    let after_priority_zero = log
        .rfind("Backup received priority 0 advertisement")
        .map(|at| &log[at..]);
    assert!(
        after_priority_zero.is_some_and(|rest| rest.contains("Entering MASTER STATE")),
        "keepalived did not take over on our priority-0 advert:\n{log}"
    );
    assert_eq!(bed.holders(VIP4), vec!["node2"]);
}

#[test]
fn wrong_password_is_dropped_counted_and_changes_nothing() {
    let bed = Bed::new(3);
    let keepalived = start_keepalived(
        &bed,
        &bed.nodes[0],
        &keepalived_conf(2, 51, 210, "1", Some("1111"), &format!("{VIP4}/32"), false),
    );
    let good = kube_vrrp_config(&bed, 2, "node2", 200, Some("1111"));
    let agent = start_agent(&bed, &bed.nodes[1], &good);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        keepalived.log_text()
    );
    // A third router with a higher priority but the wrong password: everyone drops its adverts.
    let bad = kube_vrrp_config(&bed, 2, "node3", 250, Some("2222"));
    let intruder = start_agent(&bed, &bed.nodes[2], &bad);
    assert!(
        wait_until(Duration::from_secs(8), Duration::from_millis(100), || {
            instance(&bed, &bed.nodes[1], "vi-1")["counters"]["discards"]["auth_mismatch"]
                .as_u64()
                .unwrap_or(0)
                >= 2
        }),
        "{}",
        agent.log_text()
    );
    let st = instance(&bed, &bed.nodes[1], "vi-1");
    assert_eq!(st["state"], "Backup", "{st}");
    assert_eq!(st["master"], bed.nodes[0].ip4.as_str(), "{st}");
    assert!(
        bed.has_addr(&bed.nodes[0], VIP4),
        "keepalived stays master:\n{}",
        keepalived.log_text()
    );
    assert!(!bed.has_addr(&bed.nodes[1], VIP4));
    drop(intruder);
}
