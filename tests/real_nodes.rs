//! The chart's DaemonSet under real kubelets and containerd (hack/cluster.sh: three nodes, each in
//! its own network namespace), through the events that move VIPs in real clusters, with a client
//! pinging the VIP every 10 ms: installation as the README says, a rolling update, a pod
//! deletion, a killed agent, node maintenance, node loss, a node gone NotReady, an API server
//! outage. One bed for the whole binary (it takes about 20 s to bring up); the scenarios run in
//! order and each leaves node1 master again. Needs root (CI runs as root).

mod common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::bed::wait_until;
use common::cluster::*;

const VIP: &str = "198.51.100.100";
const NODES: usize = 3;
const NS: &str = "kube-vrrp";
const SEC: Duration = Duration::from_secs(1);

/// The VirtualIP of the scenarios: node1 150, node2 100, node3 50, 1 s adverts (the default).
const WEB: &str = "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {name: web}\nspec:\n  vrid: 51\n  addresses: [198.51.100.100/32]\n  priorities:\n  - {nodeName: node1, priority: 150}\n  - {nodeName: node2, priority: 100}\n  - {nodeName: node3, priority: 50}\n";

fn agent_pods(c: &RealCluster) -> Vec<(String, String)> {
    let out = c.kubectl_ok(&[
        "get",
        "pods",
        "-n",
        NS,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, n)| (p.to_string(), n.to_string()))
        .collect()
}

fn pod_on(c: &RealCluster, node: &str) -> String {
    agent_pods(c)
        .into_iter()
        .find(|(_, n)| n == node)
        .map(|(p, _)| p)
        .unwrap_or_else(|| panic!("no agent pod on {node}"))
}

fn rollout_done(c: &RealCluster) {
    c.kubectl_ok(&[
        "rollout",
        "status",
        "-n",
        NS,
        "daemonset/kube-vrrp",
        "--timeout=180s",
    ]);
}

/// Wait until node1 holds the VIP alone and the API says so.
fn node1_master(c: &RealCluster, what: &str) {
    assert!(
        c.wait_holder(VIP, 1, NODES, 30 * SEC),
        "{what}: node1 did not get the VIP back: holders {:?}",
        c.holders(VIP, NODES)
    );
    assert!(
        wait_until(30 * SEC, Duration::from_millis(250), || c.vip_master("web")
            == "node1"),
        "{what}: status.master is {:?}",
        c.vip_master("web")
    );
}

fn unhealthy_events(c: &RealCluster) -> String {
    c.kubectl_ok(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "reason=Unhealthy",
        "-o",
        "jsonpath={range .items[*]}{.involvedObject.name}: {.message}{\"\\n\"}{end}",
    ])
}

#[test]
fn the_chart_on_real_kubelets_through_the_node_lifecycle() {
    let c = RealCluster::up(NODES);
    println!("bed: {NODES} nodes Ready after {:?}", c.bring_up);

    static_pod_before_the_chart(&c);
    install_as_the_readme_says(&c);
    c.apply(WEB);
    node1_master(&c, "priorities applied");

    rolling_update(&c);
    pod_deletion(&c);
    killed_agent(&c);
    node_maintenance(&c);
    node_loss(&c);
    kubelet_stopped(&c);
    api_server_outage(&c);
}

/// 0. The control-plane VIP as a real static pod: `kube-vrrp manifest static-pod` written into
/// node1's staticPodPath (its VirtualIP file under the node's state directory, an http tracker
/// on the bed's API server with its CA). The kubelet runs it without any API object; it holds
/// the VIP confined like the DaemonSet's agents; removing the manifest releases the VIP. (Then
/// the chart's agent can run there: one kube-vrrp per network namespace.)
fn static_pod_before_the_chart(c: &RealCluster) {
    const CP_VIP: &str = "198.51.100.9";
    let state = std::path::PathBuf::from(c.var("KVC_STATE"));
    let config = state.join("n1/static/control-plane.yaml");
    let manifest = state.join("n1/host/etc-kubernetes-manifests/kube-vrrp.yaml");
    let health = format!("{}/readyz", c.var("KVC_API_SERVER"));
    let ca = state.join("cp/ca.crt");
    let out = std::process::Command::new(common::bed::binary())
        .args(["manifest", "static-pod", "--address", CP_VIP, "--vrid", "9"])
        .args(["--health-url", &health, "--health-interval", "500ms"])
        .args(["--health-ca-file", ca.to_str().expect("utf-8")])
        .args(["--image", c.var("KVC_AGENT_IMAGE")])
        .args([
            "--config-path",
            config.to_str().expect("utf-8"),
            "--write-config",
        ])
        .output()
        .expect("kube-vrrp manifest static-pod");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&manifest, &out.stdout).expect("write the static pod manifest");
    let t0 = Instant::now();
    assert!(
        c.wait_holder(CP_VIP, 1, NODES, 90 * SEC),
        "the static pod never held {CP_VIP}: {:?}",
        c.kubectl(&["get", "pods", "-A", "-o", "wide"])
    );
    println!(
        "static pod manifest written -> node1 holds {CP_VIP}: {:?}",
        t0.elapsed()
    );
    // The kubelet's mirror pod shows it in the API.
    assert!(
        wait_until(60 * SEC, Duration::from_millis(500), || {
            let out = c.kubectl(&[
                "get",
                "pod",
                "-n",
                "kube-system",
                "kube-vrrp-node1",
                "-o",
                "jsonpath={.status.phase}",
            ]);
            String::from_utf8_lossy(&out.stdout) == "Running"
        }),
        "no Running mirror pod"
    );
    // The http tracker reaches the API server with the mounted CA.
    let bin = common::bed::binary();
    let healthy = wait_until(30 * SEC, Duration::from_millis(500), || {
        let out = Command::new("ip")
            .args(["netns", "exec", &c.node_ns(1)])
            .arg(&bin)
            .args(["status", "-o", "json"])
            .output()
            .expect("kube-vrrp status");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v[0]["trackers"][0]["up"] == true && v[0]["trackers"][0]["lastResult"] == "status 200"
    });
    assert!(healthy, "the static pod's http tracker never passed");
    let pid = c.agent_pid(1).expect("the static pod's kube-vrrp");
    let conf = confinement(pid);
    assert_eq!(
        (
            conf.cap_eff.as_str(),
            conf.no_new_privs,
            conf.read_only_root
        ),
        ("0000000000003000", true, true),
        "{conf:?}"
    );
    // Removing the manifest stops the pod; the VIP goes with it.
    std::fs::remove_file(&manifest).expect("remove the manifest");
    assert!(
        wait_until(60 * SEC, Duration::from_millis(100), || c
            .holders(CP_VIP, NODES)
            .is_empty()
            && c.agent_pid(1).is_none()),
        "the VIP or the agent stayed after the static pod was removed"
    );
}

/// 1. The README's install section, as written plus the local image values.
fn install_as_the_readme_says(c: &RealCluster) {
    let image = c.var("KVC_AGENT_IMAGE");
    let (repository, tag) = image.rsplit_once(':').expect("NAME:TAG");
    let values = format!(
        " --set image.repository={repository} --set image.tag={tag} --set image.pullPolicy=Never"
    );
    let script: String = readme_block("## Installing in Kubernetes")
        .lines()
        .map(|l| {
            if l.starts_with("helm install") {
                format!("{l}{values}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let t0 = Instant::now();
    let out = run_as_user(c, &script);
    assert!(
        out.status.success(),
        "the README's install section failed:\n{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    rollout_done(c);
    println!("helm install -> 3/3 agents Ready: {:?}", t0.elapsed());
    assert_eq!(agent_pods(c).len(), NODES);
    // A normal start fails no probe.
    std::thread::sleep(2 * SEC);
    let unhealthy = unhealthy_events(c);
    assert!(unhealthy.is_empty(), "failed probes:\n{unhealthy}");
    // The securityContext really applies: read from each agent's /proc.
    for i in 1..=NODES {
        let pid = c
            .agent_pid(i)
            .unwrap_or_else(|| panic!("no agent on node{i}"));
        let conf = confinement(pid);
        println!("node{i} agent (pid {pid}): {conf:?}");
        // CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only.
        assert_eq!(conf.cap_eff, "0000000000003000", "node{i}");
        assert_eq!(conf.cap_bnd, "0000000000003000", "node{i}");
        assert!(conf.no_new_privs, "node{i}: NoNewPrivs");
        assert_eq!(
            conf.seccomp, 2,
            "node{i}: RuntimeDefault seccomp is a filter"
        );
        assert!(conf.read_only_root, "node{i}: read-only root filesystem");
    }
    // kubectl get vip shows the master, and the master's log shows the election.
    assert!(
        wait_until(30 * SEC, Duration::from_millis(250), || {
            let m = c.vip_master("web");
            !m.is_empty() && c.holders(VIP, NODES) == vec![m[4..].parse().unwrap_or(0)]
        }),
        "no master shown: {}",
        c.kubectl_ok(&["get", "vip"])
    );
    let table = c.kubectl_ok(&["get", "vip"]);
    println!("{table}");
    let master = c.vip_master("web");
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..4],
        ["web", "51", "[\"198.51.100.100/32\"]", master.as_str()]
    );
    let logs = c.kubectl_ok(&["logs", "-n", NS, &pod_on(c, &master)]);
    assert!(
        logs.lines()
            .any(|l| l.contains("state changed") && l.contains("to=Master")),
        "{logs}"
    );
}

/// 2. `helm upgrade` that changes the pod template: every agent replaced, one node at a time.
fn rolling_update(c: &RealCluster) {
    let before: Vec<String> = agent_pods(c).into_iter().map(|(p, _)| p).collect();
    let ping = c.pinger(VIP, 0.01, 600);
    std::thread::sleep(SEC);
    let t0 = Instant::now();
    c.ok(&[
        "helm",
        "upgrade",
        "kube-vrrp",
        "charts/kube-vrrp",
        "-n",
        NS,
        "--reuse-values",
        "--set-string",
        "podAnnotations.rollout=1",
        "--wait",
        "--timeout",
        "300s",
    ]);
    rollout_done(c);
    let rollout = t0.elapsed();
    node1_master(c, "rolling update");
    std::thread::sleep(2 * SEC);
    let seen = ping.stop();
    let after: Vec<String> = agent_pods(c).into_iter().map(|(p, _)| p).collect();
    println!(
        "rolling update of 3 agents: {rollout:?}; client {seen:?}, {} lost",
        seen.lost()
    );
    assert!(
        before.iter().all(|p| !after.contains(p)),
        "{before:?} -> {after:?}"
    );
    assert!(seen.sent > 500, "{seen:?}");
    assert_eq!(
        seen.lost(),
        0,
        "pings lost during the rolling update: {seen:?}"
    );
}

/// 3. `kubectl delete pod` of the master's agent: handover, then preemption back.
fn pod_deletion(c: &RealCluster) {
    let ping = c.pinger(VIP, 0.01, 300);
    std::thread::sleep(SEC);
    let pod = pod_on(c, "node1");
    c.kubectl_ok(&["delete", "pod", "-n", NS, &pod, "--wait=true"]);
    rollout_done(c);
    node1_master(c, "pod deletion");
    std::thread::sleep(2 * SEC);
    let seen = ping.stop();
    println!(
        "kubectl delete pod of the master: client {seen:?}, {} lost",
        seen.lost()
    );
    assert_eq!(seen.lost(), 0, "pings lost on a pod deletion: {seen:?}");
}

/// 4. `kill -9` of the agent inside its container; the kubelet restarts it at once.
fn killed_agent(c: &RealCluster) {
    let ping = c.pinger(VIP, 0.01, 300);
    std::thread::sleep(SEC);
    let pid = c.agent_pid(1).expect("node1's agent");
    let killed_at = SystemTime::now();
    let t0 = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-s", "KILL", &pid.to_string()])
        .status();
    assert!(
        wait_until(60 * SEC, Duration::from_millis(50), || c
            .agent_pid(1)
            .is_some_and(|p| p != pid)),
        "the kubelet did not restart the agent"
    );
    let restarted = t0.elapsed();
    node1_master(c, "kill -9");
    std::thread::sleep(2 * SEC);
    let seen = ping.stop();
    println!(
        "kill -9 of the master's agent: restarted after {restarted:?}; client {seen:?}, {} lost",
        seen.lost()
    );
    assert!(seen.replied_after(killed_at), "{seen:?}");
    // The restarted agent kept the VIP its predecessor left while it rejoined: nothing lost.
    assert_eq!(
        seen.lost(),
        0,
        "pings lost on kill -9 and restart: {seen:?}"
    );

    // Killed while its restart is delayed (as by the kubelet's crash back-off; here the kubelet
    // is stopped, which delays it for as long as the test needs): the dead agent's VIP leaves
    // node1 by its kernel lifetime (4 s at 1 s adverts), with node2 holding it meanwhile.
    c.ok(&["kubelet", "stop", "1"]);
    let pid = c.agent_pid(1).expect("node1's agent");
    let _ = std::process::Command::new("kill")
        .args(["-s", "KILL", &pid.to_string()])
        .status();
    let t0 = Instant::now();
    assert!(
        wait_until(9 * SEC, Duration::from_millis(50), || !c.has_addr(1, VIP)),
        "the dead agent's VIP stayed on node1"
    );
    let gone = t0.elapsed();
    assert!(
        c.agent_pid(1).is_none(),
        "nothing restarted the agent meanwhile"
    );
    assert!(
        c.wait_holder(VIP, 2, NODES, 10 * SEC),
        "{:?}",
        c.holders(VIP, NODES)
    );
    println!("killed with its restart delayed: VIP gone from node1 after {gone:?} (lifetime)");
    c.ok(&["kubelet", "start", "1"]);
    assert!(
        wait_until(90 * SEC, Duration::from_millis(200), || c
            .agent_pid(1)
            .is_some()),
        "the kubelet never restarted the agent"
    );
    rollout_done(c);
    node1_master(c, "kill -9 with back-off");
}

/// 5. Node maintenance: the exclusion label hands every VIP over and keeps the node out.
fn node_maintenance(c: &RealCluster) {
    const LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
    let ping = c.pinger(VIP, 0.01, 300);
    std::thread::sleep(SEC);
    c.kubectl_ok(&["label", "node", "node1", &format!("{LABEL}=true")]);
    assert!(
        c.wait_holder(VIP, 2, NODES, 20 * SEC),
        "{:?}",
        c.holders(VIP, NODES)
    );
    // It stays out while labelled (priority 150 would preempt after ~3.4 s).
    std::thread::sleep(6 * SEC);
    assert_eq!(
        c.holders(VIP, NODES),
        vec![2],
        "node1 came back while excluded"
    );
    let excluded = ping.stop();
    println!(
        "exclusion label on the master's node: client {excluded:?}, {} lost",
        excluded.lost()
    );
    assert_eq!(excluded.lost(), 0, "{excluded:?}");
    let ping = c.pinger(VIP, 0.01, 300);
    c.kubectl_ok(&["label", "node", "node1", &format!("{LABEL}-")]);
    node1_master(c, "label removed");
    std::thread::sleep(2 * SEC);
    let back = ping.stop();
    println!(
        "label removed: node1 rejoined; client {back:?}, {} lost",
        back.lost()
    );
    assert_eq!(back.lost(), 0, "{back:?}");
}

/// 6a. Node loss (its link cut): failover within the bound; status right once the API sees it.
fn node_loss(c: &RealCluster) {
    let ping = c.pinger(VIP, 0.01, 300);
    std::thread::sleep(SEC);
    let t0 = Instant::now();
    c.ok(&["link", "1", "down"]);
    assert!(
        wait_until(10 * SEC, Duration::from_millis(5), || c.has_addr(2, VIP)),
        "node2 never took the VIP"
    );
    let takeover = t0.elapsed();
    let taken_at = SystemTime::now();
    assert!(
        wait_until(30 * SEC, Duration::from_millis(250), || c.vip_master("web")
            == "node2"),
        "status.master: {:?}",
        c.vip_master("web")
    );
    let status = t0.elapsed();
    std::thread::sleep(SEC);
    let seen = ping.stop();
    println!(
        "node loss at 1 s adverts: VIP on node2 after {takeover:?} (bound 3.609 s after the last \
         advert), status.master node2 after {status:?}; client {seen:?}, {} lost",
        seen.lost()
    );
    assert!(seen.replied_after(taken_at), "{seen:?}");
    c.ok(&["link", "1", "up"]);
    node1_master(c, "link restored");
}

/// 6b. The master's kubelet stops: the node goes NotReady, the VIP stays where it is.
fn kubelet_stopped(c: &RealCluster) {
    let ping = c.pinger(VIP, 0.01, 300);
    c.ok(&["kubelet", "stop", "1"]);
    let not_ready = || {
        c.kubectl(&[
            "get",
            "node",
            "node1",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .stdout
            != b"True"
    };
    assert!(
        wait_until(90 * SEC, SEC, not_ready),
        "node1 never went NotReady"
    );
    std::thread::sleep(5 * SEC);
    assert_eq!(
        c.holders(VIP, NODES),
        vec![1],
        "the VIP moved off a NotReady node"
    );
    assert_eq!(c.vip_master("web"), "node1");
    assert!(
        c.agent_pid(1).is_some(),
        "the agent keeps running without its kubelet"
    );
    let seen = ping.stop();
    println!("node1 NotReady (kubelet stopped): VIP stayed on node1; client {seen:?}");
    assert_eq!(seen.lost(), 0, "{seen:?}");
    c.ok(&["kubelet", "start", "1"]);
    assert!(
        wait_until(90 * SEC, SEC, || !not_ready()),
        "node1 never became Ready again"
    );
}

/// 6c. The API server stopped for 30 s: nothing moves.
fn api_server_outage(c: &RealCluster) {
    let ping = c.pinger(VIP, 0.01, 300);
    c.ok(&["apiserver", "stop"]);
    for _ in 0..30 {
        std::thread::sleep(SEC);
        assert_eq!(
            c.holders(VIP, NODES),
            vec![1],
            "the VIP moved during the outage"
        );
    }
    c.ok(&["apiserver", "start"]);
    let seen = ping.stop();
    println!("API server down 30 s: VIP stayed on node1; client {seen:?}");
    assert_eq!(seen.lost(), 0, "{seen:?}");
    node1_master(c, "after the outage");
}
