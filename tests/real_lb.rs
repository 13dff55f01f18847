//! LoadBalancer Services with real traffic on real nodes (hack/cluster.sh up --services: real
//! kubelets and containerd, kube-proxy in nftables mode, a bridge pod network): the chart with
//! the controller, a VirtualIPPool, echo pods, and a client that curls the Services' EXTERNAL-IP.
//! Service created → address → ping → curl; the master node lost → curl again; a Service with
//! externalTrafficPolicy: Local whose only pod moves to another node → the VIP follows it.
//! Needs root (CI runs as root).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::bed::wait_until;
use common::cluster::*;

const NODES: usize = 3;
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// The pool: node1 first, then node2 (the echo pods run on node2 and node3, so losing node1
/// loses no endpoint: what is measured is the VIP's move).
const POOL: &str = "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIPPool\nmetadata: {name: public}\nspec:\n  addresses: [198.51.100.200-198.51.100.219]\n  vrids: 100-150\n  template:\n    priorities:\n    - {nodeName: node1, priority: 150}\n    - {nodeName: node2, priority: 120}\n";

/// An echo Deployment (`replicas` pods on `nodes`) and its LoadBalancer Service.
fn echo_app(name: &str, image: &str, replicas: u32, nodes: &str, policy: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 5
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{nodes}]}}]
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: {name}}}}}}}
      containers:
      - name: echo
        image: {image}
        imagePullPolicy: Never
        env: [{{name: NODE_NAME, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  type: LoadBalancer
  loadBalancerClass: kubevrrp.io/vrrp
  externalTrafficPolicy: {policy}
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"
    )
}

/// curl from the client namespace once (1 s timeout): the body, or None.
fn curl(c: &RealCluster, addr: &str) -> Option<String> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            c.var("KVC_CLIENT_NETNS"),
            "curl",
            "-s",
            "--max-time",
            "1",
        ])
        .arg(format!("http://{addr}/"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// curl every 100 ms in the background, at most `count` times: (Unix time, answered) per
/// request.
struct Prober {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Prober {
    fn start(c: &RealCluster, addr: &str, count: u32) -> Prober {
        let log = std::env::temp_dir().join(format!("kvc-curl-{}-{addr}.log", std::process::id()));
        let script = format!(
            "for i in $(seq 1 {count}); do if curl -s -o /dev/null --max-time 1 http://{addr}/; then r=ok; else r=fail; fi; echo \"$(date +%s.%N) $r\"; sleep 0.1; done"
        );
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                c.var("KVC_CLIENT_NETNS"),
                "bash",
                "-c",
                &script,
            ])
            .stdout(file)
            .spawn()
            .expect("prober");
        Prober { child, log }
    }

    /// Stop (by PID) and return (requests, failed, longest gap between answers in seconds).
    fn stop(mut self) -> (usize, usize, f64) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let rows: Vec<(f64, bool)> = text
            .lines()
            .filter_map(|l| {
                let (t, r) = l.split_once(' ')?;
                Some((t.parse().ok()?, r == "ok"))
            })
            .collect();
        let ok: Vec<f64> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
        let gap = ok.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        (rows.len(), rows.iter().filter(|r| !r.1).count(), gap)
    }
}

fn external_ip(c: &RealCluster, name: &str) -> String {
    let out = c.kubectl(&[
        "get",
        "svc",
        "-n",
        "shop",
        name,
        "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn load_balancer_services_carry_real_traffic() {
    let c = RealCluster::up_with(NODES, &["--services"]);
    println!(
        "bed with kube-proxy and a pod network: {NODES} nodes Ready after {:?}",
        c.bring_up
    );
    let image = c.var("KVC_AGENT_IMAGE");
    let (repository, tag) = image.rsplit_once(':').expect("NAME:TAG");
    let chart = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/kube-vrrp");
    c.ok(&[
        "helm",
        "install",
        "kube-vrrp",
        chart.to_str().expect("utf-8"),
        "--namespace",
        "kube-vrrp",
        "--create-namespace",
        "--set",
        &format!("image.repository={repository},image.tag={tag},image.pullPolicy=Never"),
        "--set",
        "controller.enabled=true",
        "--wait",
        "--timeout",
        "120s",
    ]);
    c.apply(POOL);
    c.kubectl_ok(&["create", "namespace", "shop"]);

    // ETP Cluster: two echo pods on node2 and node3; node1 holds the VIP.
    let t0 = Instant::now();
    c.apply(&echo_app(
        "web",
        c.var("KVC_ECHO_IMAGE"),
        2,
        "node2, node3",
        "Cluster",
    ));
    assert!(
        wait_until(60 * SEC, 100 * MS, || !external_ip(&c, "web").is_empty()),
        "no EXTERNAL-IP"
    );
    let t_ip = t0.elapsed();
    let addr = external_ip(&c, "web");
    assert!(
        c.wait_holder(&addr, 1, NODES, 30 * SEC),
        "node1 never held {addr}"
    );
    let t_vip = t0.elapsed();
    assert!(
        wait_until(90 * SEC, 100 * MS, || curl(&c, &addr)
            .is_some_and(|b| b.contains(" on node"))),
        "curl never answered"
    );
    let t_curl = t0.elapsed();
    println!(
        "Service created -> EXTERNAL-IP {addr} after {t_ip:?}, VIP on node1 after {t_vip:?}, curl answered after {t_curl:?} (echo pods starting included)"
    );
    println!("{}", c.kubectl_ok(&["get", "svc", "-n", "shop", "web"]));
    println!("{}", c.kubectl_ok(&["get", "vip"]));
    println!("{}", c.kubectl_ok(&["get", "vippool"]));

    // Node loss: node1's link is cut; node2 takes the VIP and the client's curl works again.
    let prober = Prober::start(&c, &addr, 600);
    std::thread::sleep(2 * SEC);
    let t_loss = Instant::now();
    c.ok(&["link", "1", "down"]);
    assert!(
        wait_until(20 * SEC, 20 * MS, || c.has_addr(2, &addr)),
        "node2 never took {addr}"
    );
    let taken = t_loss.elapsed();
    assert!(
        wait_until(20 * SEC, 100 * MS, || curl(&c, &addr).is_some()),
        "curl after the node loss"
    );
    std::thread::sleep(2 * SEC);
    let (requests, failed, gap) = prober.stop();
    println!(
        "node1 lost: VIP on node2 after {taken:?}; client curl every 100 ms: {requests} requests, {failed} failed, longest gap {gap:.2} s (1 s adverts: Master_Down_Interval 3.53 s at priority 120)"
    );
    c.ok(&["link", "1", "up"]);

    // ETP Local: the only pod on node2; the VIP follows it to node3.
    c.apply(&echo_app(
        "local",
        c.var("KVC_ECHO_IMAGE"),
        1,
        "node2",
        "Local",
    ));
    assert!(wait_until(60 * SEC, 100 * MS, || !external_ip(&c, "local").is_empty()));
    let local = external_ip(&c, "local");
    assert!(
        wait_until(60 * SEC, 100 * MS, || curl(&c, &local)
            .is_some_and(|b| b.ends_with("on node2"))),
        "curl to the Local Service"
    );
    assert_eq!(
        c.holders(&local, NODES),
        vec![2],
        "the VIP is where the endpoint is, not on node1"
    );
    let prober = Prober::start(&c, &local, 900);
    std::thread::sleep(SEC);
    let t_move = Instant::now();
    c.apply(&echo_app(
        "local",
        c.var("KVC_ECHO_IMAGE"),
        1,
        "node3",
        "Local",
    ));
    assert!(
        wait_until(60 * SEC, 100 * MS, || c.holders(&local, NODES) == vec![3]),
        "the VIP did not follow the pod to node3: {:?}",
        c.holders(&local, NODES)
    );
    let followed = t_move.elapsed();
    assert!(wait_until(20 * SEC, 100 * MS, || curl(&c, &local)
        .is_some_and(|b| b.ends_with("on node3"))));
    std::thread::sleep(2 * SEC);
    let (requests, failed, gap) = prober.stop();
    println!(
        "Local Service's pod moved node2 -> node3: VIP on node3 after {followed:?} (new pod start included); client curl: {requests} requests, {failed} failed, longest gap {gap:.2} s"
    );
}
