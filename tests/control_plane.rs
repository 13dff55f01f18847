//! The control-plane VIP (issue 17): three control-plane nodes in network namespaces, each
//! running a real kube-apiserver (hack/apiserver, all on one etcd in its own namespace) and
//! `kube-vrrp run` on the configuration `kube-vrrp manifest static-pod` generates, with an http
//! tracker on the local https://127.0.0.1:6443/readyz. A client reaches the API servers
//! through the VIP with curl and kubectl (TLS: the serving certificates carry the VIP).
//!
//! One bed, in order: cold bootstrap (the first node holds the VIP before any API server
//! runs), the master's API server killed (the node and its agent stay up), started again
//! (preemption back), node loss. The gaps are printed (the closing note quotes them); the
//! assertions are about behaviour. Needs root and hack/apiserver/bin (.ci/run builds it).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;
use common::k8s::kubectl_bin;

const VIP: &str = "198.51.100.10";
const ETCD_OCTET: u8 = 6;
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
/// The node priorities (the generated files differ only in this); the health weight is 50.
const PRIORITIES: [u8; 3] = [150, 140, 130];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn apiserver_bin() -> String {
    let bin = repo().join("hack/apiserver/bin/kube-apiserver-embedded");
    assert!(
        bin.exists(),
        "{} missing: run hack/apiserver/build.sh (.ci/run does)",
        bin.display()
    );
    bin.to_str().expect("utf-8").to_string()
}

/// The shared PKI files an API server needs besides its own serving certificate.
const SHARED_PKI: [&str; 6] = [
    "ca.crt",
    "ca.key",
    "admin.crt",
    "admin.key",
    "sa.key",
    "sa.pub",
];

/// Start the API server of node `i` on the shared etcd (it listens on every address, so the
/// VIP reaches it); the caller waits with [`wait_api`].
fn start_api(bed: &Bed, i: usize, pki: &Path) -> Proc {
    let dir = bed.dir.join(format!("api-{i}"));
    std::fs::create_dir_all(&dir).expect("api dir");
    for f in SHARED_PKI {
        std::fs::copy(pki.join(f), dir.join(f)).expect("copy the shared PKI");
    }
    let etcd = format!("http://198.51.100.{ETCD_OCTET}:2379");
    let node = &bed.nodes[i];
    bed.spawn(
        node,
        "apiserver",
        &[
            &apiserver_bin(),
            "--dir",
            dir.to_str().expect("utf-8"),
            "--bind-address",
            &node.ip4,
            "--port",
            "6443",
            "--etcd-servers",
            &etcd,
            "--listen-any",
            "--extra-sans",
            VIP,
        ],
    )
}

fn wait_api(api: &Proc) {
    let ready = wait_until(120 * SEC, 200 * MS, || {
        api.log_text().contains("ready https://")
    });
    assert!(ready, "an API server did not start:\n{}", api.log_text());
}

/// `kube-vrrp manifest static-pod` for node `i`; writes its VirtualIP file and returns it.
fn generate_config(bed: &Bed, i: usize, pki: &Path) -> PathBuf {
    let config = bed.dir.join(format!("control-plane-node{}.yaml", i + 1));
    let out = std::process::Command::new(binary())
        .args(["manifest", "static-pod", "--address", VIP, "--vrid", "10"])
        .args(["--priority", &PRIORITIES[i].to_string()])
        .args(["--health-url", "https://127.0.0.1:6443/readyz"])
        .args([
            "--health-ca-file",
            &pki.join("ca.crt").display().to_string(),
        ])
        .args(["--config-path", config.to_str().expect("utf-8")])
        .arg("--write-config")
        .output()
        .expect("kube-vrrp manifest");
    assert!(
        out.status.success(),
        "manifest static-pod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: Pod"));
    config
}

/// curl https://VIP:6443/readyz from the client every 100 ms, at most `count` times.
struct Prober {
    proc: Proc,
}

/// What the client's curl saw: each request's Unix time and whether it got 200.
struct ProbeReport {
    answers: Vec<(f64, bool)>,
}

impl Prober {
    fn start(bed: &Bed, ca: &Path, count: u32) -> Prober {
        let script = format!(
            "for i in $(seq 1 {count}); do code=$(curl -s -o /dev/null -w '%{{http_code}}' \
             --connect-timeout 1 --max-time 1 --cacert {ca} https://{VIP}:6443/readyz); \
             echo \"$(date +%s.%N) $code\"; sleep 0.1; done",
            ca = ca.display()
        );
        Prober {
            proc: bed.spawn(&bed.client, "curl", &["bash", "-c", &script]),
        }
    }

    fn finish(mut self) -> ProbeReport {
        self.proc.signal("TERM");
        self.proc.wait_exit(5 * SEC);
        let answers = self
            .proc
            .log_text()
            .lines()
            .filter_map(|l| {
                let (t, code) = l.split_once(' ')?;
                Some((t.parse().ok()?, code == "200"))
            })
            .collect();
        ProbeReport { answers }
    }
}

impl ProbeReport {
    fn failed(&self) -> usize {
        self.answers.iter().filter(|(_, ok)| !ok).count()
    }

    /// The longest time between two answered requests.
    fn gap(&self) -> f64 {
        let ok: Vec<f64> = self
            .answers
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(t, _)| *t)
            .collect();
        ok.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
    }

    fn summary(&self) -> String {
        format!(
            "{} requests, {} failed, longest gap between answers {:.2} s",
            self.answers.len(),
            self.failed(),
            self.gap()
        )
    }
}

/// kubectl from the client through the VIP (the admin kubeconfig pointed at the VIP).
fn kubectl_via_vip(bed: &Bed, args: &[&str]) -> std::process::Output {
    let kubeconfig = bed.dir.join("vip.kubeconfig");
    if !kubeconfig.exists() {
        let admin = std::fs::read_to_string(bed.dir.join("api-0/admin.kubeconfig"))
            .expect("node1's admin kubeconfig");
        let server = format!("https://{}:6443", bed.nodes[0].ip4);
        assert!(admin.contains(&server), "{admin}");
        std::fs::write(
            &kubeconfig,
            admin.replace(&server, &format!("https://{VIP}:6443")),
        )
        .expect("write the VIP kubeconfig");
    }
    let mut argv = vec![
        kubectl_bin().to_str().expect("utf-8").to_string(),
        "--kubeconfig".into(),
        kubeconfig.to_str().expect("utf-8").into(),
        "--request-timeout=2s".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    bed.exec(&bed.client.ns, &argv)
}

fn kubectl_works(bed: &Bed) -> bool {
    let out = kubectl_via_vip(bed, &["get", "namespace", "kube-system", "-o", "name"]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "namespace/kube-system"
}

fn tracker_up(bed: &Bed, node: usize) -> Option<bool> {
    tracker(
        bed,
        &bed.nodes[node],
        "control-plane-198-51-100-10",
        "apiserver",
    )["up"]
        .as_bool()
}

fn logs(agents: &[Proc], apis: &[Option<Proc>]) -> String {
    let mut out: String = agents.iter().map(|a| a.log_text()).collect();
    for a in apis.iter().flatten() {
        let text = a.log_text();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        out.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    out
}

#[test]
fn three_api_servers_behind_the_generated_static_pod_config() {
    let mut bed = Bed::new(3);
    let etcd_host = bed.attach("etcd", ETCD_OCTET);
    let pki = bed.dir.join("etcd");
    let etcd_addr = format!("198.51.100.{ETCD_OCTET}");
    let etcd = bed.spawn(
        &etcd_host,
        "etcd",
        &[
            &apiserver_bin(),
            "--etcd-only",
            "--dir",
            pki.to_str().expect("utf-8"),
            "--bind-address",
            &etcd_addr,
            "--etcd-port",
            "2379",
        ],
    );
    assert!(
        wait_until(60 * SEC, 100 * MS, || etcd
            .log_text()
            .contains("ready etcd")),
        "etcd did not start:\n{}",
        etcd.log_text()
    );
    let configs: Vec<PathBuf> = (0..3).map(|i| generate_config(&bed, i, &pki)).collect();
    let mut apis: Vec<Option<Proc>> = vec![None, None, None];
    let mut agents = Vec::new();

    // Cold bootstrap: no API server anywhere; node1 takes the VIP at once, its failing health
    // check lowering its priority but not keeping it out.
    let t0 = Instant::now();
    agents.push(start_agent(&bed, &bed.nodes[0], &configs[0]));
    assert!(
        wait_holder(&bed, VIP, "node1", 15 * SEC),
        "no VIP before the API server: {}",
        logs(&agents, &apis)
    );
    let vip_up = t0.elapsed();
    assert!(
        wait_until(10 * SEC, 100 * MS, || tracker_up(&bed, 0) == Some(false)),
        "{}",
        logs(&agents, &apis)
    );
    assert_eq!(bed.holders(VIP), ["node1"], "the lone node keeps the VIP");
    assert_eq!(
        instance(&bed, &bed.nodes[0], "control-plane-198-51-100-10")["priority"],
        100
    );
    let t1 = Instant::now();
    apis[0] = Some(start_api(&bed, 0, &pki));
    wait_api(apis[0].as_ref().expect("api"));
    assert!(
        wait_until(30 * SEC, 200 * MS, || kubectl_works(&bed)),
        "kubectl through the VIP never answered: {}",
        logs(&agents, &apis)
    );
    println!(
        "cold bootstrap: VIP on node1 {vip_up:?} after its agent started (no API server); kubectl through the VIP {:?} after the API server was started",
        t1.elapsed()
    );

    // The other two control-plane nodes join.
    apis[1] = Some(start_api(&bed, 1, &pki));
    apis[2] = Some(start_api(&bed, 2, &pki));
    for api in apis.iter().flatten() {
        wait_api(api);
    }
    for i in 1..3 {
        agents.push(start_agent(&bed, &bed.nodes[i], &configs[i]));
    }
    for i in 0..3 {
        assert!(
            wait_until(20 * SEC, 100 * MS, || tracker_up(&bed, i) == Some(true)),
            "node{} health: {}",
            i + 1,
            logs(&agents, &apis)
        );
    }
    assert!(
        wait_holder(&bed, VIP, "node1", 10 * SEC),
        "{}",
        logs(&agents, &apis)
    );
    let out = kubectl_via_vip(&bed, &["create", "configmap", "written-via-node1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Kill only node1's API server: its health check fails (fall 3 x 1 s), its priority drops
    // to 100 and node2 (140) takes over; kubectl through the VIP works again.
    let prober = Prober::start(&bed, &pki.join("ca.crt"), 900);
    std::thread::sleep(2 * SEC);
    let t_kill = Instant::now();
    apis[0].take().expect("api").kill();
    assert!(
        wait_holder(&bed, VIP, "node2", 30 * SEC),
        "the VIP stayed with a dead API server: {:?}\n{}",
        bed.holders(VIP),
        logs(&agents, &apis)
    );
    let moved = t_kill.elapsed();
    assert!(
        wait_until(30 * SEC, 100 * MS, || kubectl_works(&bed)),
        "{}",
        logs(&agents, &apis)
    );
    // Served by node2's API server from the shared etcd.
    let out = kubectl_via_vip(
        &bed,
        &["get", "configmap", "written-via-node1", "-o", "name"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        state_of(&bed, &bed.nodes[0], "control-plane-198-51-100-10"),
        "Backup"
    );
    std::thread::sleep(2 * SEC);
    let killed = prober.finish();
    assert!(
        killed.failed() > 0,
        "the kill was not seen: {}",
        killed.summary()
    );
    println!(
        "API server killed on the master: VIP on node2 after {moved:?}; client curl: {}",
        killed.summary()
    );

    // Start it again: node1 is healthy after rise 2 and preempts back; the client keeps
    // answers (both API servers serve during the handover).
    let prober = Prober::start(&bed, &pki.join("ca.crt"), 900);
    let pinger = Pinger::start(&bed, VIP, 0.02, 3000);
    let t_start = Instant::now();
    apis[0] = Some(start_api(&bed, 0, &pki));
    wait_api(apis[0].as_ref().expect("api"));
    assert!(
        wait_holder(&bed, VIP, "node1", 30 * SEC),
        "node1 did not preempt back: {}",
        logs(&agents, &apis)
    );
    let back = t_start.elapsed();
    std::thread::sleep(2 * SEC);
    let pings = pinger.stop();
    let preempted = prober.finish();
    println!(
        "API server started again: VIP back on node1 after {back:?} (API server start included); client curl: {}; ping: {pings:?}",
        preempted.summary()
    );
    assert!(kubectl_works(&bed));
    assert!(
        pings.sent > 100 && pings.received == pings.sent,
        "pings lost while node1 preempted back: {pings:?}"
    );

    // Node loss: node1's link goes down; node2 takes over within Master_Down_Interval.
    let prober = Prober::start(&bed, &pki.join("ca.crt"), 900);
    std::thread::sleep(2 * SEC);
    let t_loss = Instant::now();
    bed.set_link(&bed.nodes[0], false);
    assert!(
        wait_until(20 * SEC, 20 * MS, || bed
            .holders(VIP)
            .contains(&"node2".to_string())),
        "{}",
        logs(&agents, &apis)
    );
    let taken = t_loss.elapsed();
    assert!(
        wait_until(30 * SEC, 100 * MS, || kubectl_works(&bed)),
        "{}",
        logs(&agents, &apis)
    );
    std::thread::sleep(2 * SEC);
    let lost = prober.finish();
    println!(
        "node loss: VIP on node2 after {taken:?}; client curl: {}",
        lost.summary()
    );
    assert!(
        lost.answers.last().is_some_and(|(_, ok)| *ok),
        "{}",
        lost.summary()
    );
}
