//! Hostile HTTP clients and a second daemon (issue 20, findings 4 and 5): the endpoint cannot be
//! held open or starve the process of descriptors, a configuration edit made meanwhile is not
//! lost, and a second kube-vrrp on the host touches nothing. Needs root.

mod common;

use std::time::Duration;

use common::agents::*;
use common::bed::*;

const PRIOS: &[(&str, u8)] = &[("node1", 200), ("node2", 100)];

/// How often a node logged a transition to Master.
fn masters(p: &Proc) -> usize {
    p.log_text().matches("to=Master").count()
}

/// Run a Python script inside a node's namespace in the background (it ends by itself).
fn python(bed: &Bed, node: &Host, tag: &str, script: &str) -> Proc {
    bed.spawn(node, tag, &["python3", "-c", script])
}

/// A script that opens `n` connections to the agent and sends a header line every second (a
/// slow-loris), for `secs` seconds, then prints how many the server had closed.
fn slow_loris(n: usize, secs: u32) -> String {
    format!(
        r#"
import socket, time
conns = []
for _ in range({n}):
    try:
        conns.append(socket.create_connection(("127.0.0.1", 9650), timeout=2))
    except OSError:
        pass
print("opened", len(conns), flush=True)
closed = set()
for t in range({secs}):
    for i, c in enumerate(conns):
        if i in closed:
            continue
        try:
            c.send(b"GET /healthz HTTP/1.1\r\n" if t == 0 else b"X-a: b\r\n")
            c.settimeout(0.001)
            try:
                if c.recv(100) == b"":
                    closed.add(i)
            except socket.timeout:
                pass
        except OSError:
            closed.add(i)
    print("t", t, "closed", len(closed), flush=True)
    time.sleep(1)
"#
    )
}

/// The last "closed N" the slow-loris script printed.
fn closed(p: &Proc) -> Option<usize> {
    p.log_text()
        .lines()
        .rev()
        .find_map(|l| l.split("closed ").nth(1)?.trim().parse().ok())
}

#[test]
fn slow_and_idle_connections_are_closed_and_capped() {
    let bed = Bed::new(1);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, ""),
    );
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_ready(&bed, &bed.nodes[0]), "{}", agent.log_text());
    // 40 slow-loris connections: all closed by the header timeout (5 s), well within 15 s.
    let mut loris = python(&bed, &bed.nodes[0], "loris", &slow_loris(40, 15));
    assert!(loris.wait_exit(Duration::from_secs(60)));
    assert_eq!(closed(&loris), Some(40), "{}", loris.log_text());
    // 200 idle connections: at most 64 are served, the others closed at once; the endpoint
    // answers again once the idle ones time out.
    let idle = python(
        &bed,
        &bed.nodes[0],
        "idle",
        r#"
import socket, time
conns = [socket.create_connection(("127.0.0.1", 9650), timeout=2) for _ in range(200)]
time.sleep(1)
shut = 0
for c in conns:
    c.settimeout(0.01)
    try:
        if c.recv(1) == b"":
            shut += 1
    except socket.timeout:
        pass
    except OSError:
        shut += 1
print("shut", shut, flush=True)
time.sleep(10)
"#,
    );
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(100), || idle
            .log_text()
            .contains("shut")),
        "{}",
        idle.log_text()
    );
    let shut: usize = idle
        .log_text()
        .split("shut ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        shut >= 136,
        "only {shut} of 200 closed: {}",
        idle.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
            http_get(&bed, &bed.nodes[0], "/healthz").contains("ok")
        }),
        "the endpoint never answered again"
    );
    assert!(!agent.log_text().contains("panicked"));
}

#[test]
fn an_edit_made_while_descriptors_run_out_is_applied_later_and_logged() {
    // Finding 4: the file stamp was taken before a read that failed (EMFILE); the edit was
    // never applied.
    let bed = Bed::new(1);
    let dir = bed.dir.join("etc");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("vips.yaml");
    let doc = vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, "");
    std::fs::write(&cfg, &doc).expect("config");
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)));
    let pid = agent.pid().to_string();
    // Few descriptors left: the HTTP connections below take the rest.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(20);
    let limit = (fds + 8).to_string();
    sh(&[
        "prlimit",
        "--pid",
        &pid,
        &format!("--nofile={limit}:{limit}"),
    ]);
    let hog = python(
        &bed,
        &bed.nodes[0],
        "hog",
        r#"
import socket, time
conns = []
for _ in range(60):
    try:
        conns.append(socket.create_connection(("127.0.0.1", 9650), timeout=1))
    except OSError:
        pass
print("opened", len(conns), flush=True)
time.sleep(3)
"#,
    );
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || hog.log_text().contains("opened")
    ));
    // The edit, while the daemon has no descriptor to open the file with.
    let tmp = dir.join(".vips.tmp");
    std::fs::write(&tmp, doc.replace("priority: 200", "priority: 201")).expect("write");
    std::fs::rename(&tmp, &cfg).expect("rename");
    assert!(
        wait_until(Duration::from_secs(30), Duration::from_millis(100), || {
            agent.log_text().contains("changed=[\"web\"]")
        }),
        "the edit was lost:\n{}",
        agent.log_text()
    );
    // It was applied after a read that failed, not by luck of timing.
    assert!(
        agent.log_text().contains("configuration not read yet"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn run_serves_http_on_loopback_by_default() {
    let bed = Bed::new(1);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, ""),
    );
    let bin = binary();
    let agent = bed.spawn(
        &bed.nodes[0],
        "agent",
        &[
            bin.to_str().expect("utf-8"),
            "run",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--node-name",
            "node1",
        ],
    );
    assert!(wait_ready(&bed, &bed.nodes[0]), "{}", agent.log_text());
    let node_ip = bed.exec(
        &bed.nodes[0].ns,
        &[
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{}/9650 && echo open", bed.nodes[0].ip4),
        ],
    );
    assert!(
        !String::from_utf8_lossy(&node_ip.stdout).contains("open"),
        "reachable on the node's address"
    );
}

#[test]
fn a_second_daemon_on_the_host_exits_and_touches_nothing() {
    // Finding 5: a second `run` removed the first one's live VIPs as "left behind".
    let bed = Bed::new(1);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, ""),
    );
    let first = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)));
    let bin = binary();
    let mut second = bed.spawn(
        &bed.nodes[0],
        "second",
        &[
            bin.to_str().expect("utf-8"),
            "run",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--node-name",
            "node1",
            "--http-addr",
            "127.0.0.1:9652",
        ],
    );
    assert!(second.wait_exit(Duration::from_secs(10)));
    let code = second
        .child
        .try_wait()
        .ok()
        .flatten()
        .and_then(|s| s.code());
    assert_eq!(code, Some(1), "{}", second.log_text());
    let text = second.log_text();
    assert!(
        text.contains("another kube-vrrp")
            && text.contains(&format!("pid {}", first.pid()))
            && !text.contains("left behind"),
        "{text}"
    );
    // The agent takes the same lock, before anything else (no API server needed to see it).
    let mut agent = bed.spawn(
        &bed.nodes[0],
        "second-agent",
        &[
            bin.to_str().expect("utf-8"),
            "agent",
            "--node-name",
            "node1",
            "--http-addr",
            "127.0.0.1:9653",
        ],
    );
    assert!(agent.wait_exit(Duration::from_secs(10)));
    assert!(
        agent.log_text().contains("another kube-vrrp"),
        "{}",
        agent.log_text()
    );
    // The VIP never left node1.
    for _ in 0..20 {
        assert_eq!(bed.holders(VIP4), vec!["node1".to_string()]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(masters(&first), 1, "{}", first.log_text());
    assert_eq!(state_of(&bed, &bed.nodes[0], "web"), "Master");
}

#[test]
fn a_daemon_that_cannot_start_leaves_leftovers_alone() {
    // Finding 5: a daemon whose HTTP address was unusable had already removed addresses.
    let bed = Bed::new(1);
    let cfg = bed.write(
        "vips.yaml",
        // The address owner (255) takes over at once; 10 s adverts give a 31 s lifetime.
        &vip_doc(
            "web",
            51,
            3,
            "10s",
            &format!("{VIP4}/32"),
            &[("node1", 255)],
            "",
        ),
    );
    let mut first = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)));
    first.kill(); // the VIP stays for its lifetime (31 s at 10 s adverts)
    let bin = binary();
    let mut failing = bed.spawn(
        &bed.nodes[0],
        "failing",
        &[
            bin.to_str().expect("utf-8"),
            "run",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--node-name",
            "node1",
            "--http-addr",
            "203.0.113.1:9650", // not an address of this host
        ],
    );
    assert!(failing.wait_exit(Duration::from_secs(10)));
    assert!(
        failing.log_text().contains("--http-addr 203.0.113.1:9650"),
        "{}",
        failing.log_text()
    );
    assert!(
        bed.has_addr(&bed.nodes[0], VIP4),
        "removed before start-up failed: {}",
        failing.log_text()
    );
    // An agent without a usable Kubernetes client fails its start-up too: nothing removed.
    let mut agent = bed.spawn(
        &bed.nodes[0],
        "failing-agent",
        &[
            "env",
            "KUBECONFIG=/nonexistent/kubeconfig",
            "KUBERNETES_SERVICE_HOST=",
            bin.to_str().expect("utf-8"),
            "agent",
            "--node-name",
            "node1",
            "--http-addr",
            "127.0.0.1:9653",
        ],
    );
    assert!(
        agent.wait_exit(Duration::from_secs(20)),
        "{}",
        agent.log_text()
    );
    assert!(
        agent.log_text().contains("Kubernetes client"),
        "{}",
        agent.log_text()
    );
    assert!(
        bed.has_addr(&bed.nodes[0], VIP4),
        "the agent removed it before its start-up failed: {}",
        agent.log_text()
    );
    // A daemon that does start takes it (this one carries the VIP: it keeps it, see netns_restart).
    let restarted = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            restarted.log_text().contains("left behind")
        }),
        "{}",
        restarted.log_text()
    );
}
