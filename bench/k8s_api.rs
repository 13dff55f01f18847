//! kube-vrrp with the real API server (hack/apiserver as a control-plane host of the bed):
//! `kubectl apply` to the VIP answering the client, and API writes in a steady state.

use std::time::Duration;

use crate::agents::{metrics, vip_doc, wait_ready};
use crate::bed::{Bed, Proc, wait_until};
use crate::k8s::{ApiServer, start_k8s_agent};
use crate::ping::Ping;
use crate::sys::{PRIOS, master_down};
use crate::watch::intervals;
use crate::watch::{Watch, now};

/// One apply.
#[derive(Debug, Clone)]
pub struct Apply {
    /// Advert interval, ms.
    pub advert_ms: u32,
    /// Start of `kubectl apply` to the VIP on node1, seconds.
    pub to_vip: f64,
    /// Start of `kubectl apply` to the client's first reply, seconds.
    pub to_ping: f64,
    /// How long `kubectl apply` itself took, seconds.
    pub kubectl: f64,
}

/// Everything measured with the API server.
#[derive(Debug, Clone, Default)]
pub struct K8sResult {
    /// Applies, in order.
    pub applies: Vec<Apply>,
    /// Seconds observed in the steady state.
    pub steady_s: f64,
    /// VirtualIPs during the steady state.
    pub steady_vips: usize,
    /// kube_vrrp_api_writes_total summed over the nodes, change over the steady period.
    pub writes: f64,
    /// Whether every VirtualIP's resourceVersion stayed the same.
    pub rv_unchanged: bool,
    /// Failed repetitions.
    pub failures: Vec<String>,
}

struct Cluster {
    agents: Vec<Proc>,
    api: ApiServer,
    bed: Bed,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for a in &mut self.agents {
            crate::scenarios::kill(a);
        }
        self.api.stop();
    }
}

fn writes(bed: &Bed) -> Option<f64> {
    let mut sum = 0.0;
    for n in &bed.nodes {
        let text = metrics(bed, n);
        let v = text
            .lines()
            .find(|l| l.starts_with("kube_vrrp_api_writes_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())?;
        sum += v;
    }
    Some(sum)
}

/// Run: `reps` applies at 1 s and at 100 ms adverts, then `steady` seconds of steady state.
pub fn run(reps: usize, steady: f64, log: &dyn Fn(&str)) -> Result<K8sResult, String> {
    let mut bed = Bed::new(3);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let agents = bed
        .nodes
        .iter()
        .map(|n| start_k8s_agent(&bed, n, &api.kubeconfig()))
        .collect();
    let c = Cluster { agents, api, bed };
    for n in &c.bed.nodes {
        if !wait_ready(&c.bed, n) {
            return Err(format!("agent on {} not ready", n.name));
        }
    }
    // Synced: the agents listed the (empty) VirtualIPs; give the watches a moment.
    std::thread::sleep(Duration::from_secs(2));
    let nss: Vec<String> = c.bed.nodes.iter().map(|n| n.ns.clone()).collect();
    let watch = Watch::start(&nss, &c.bed.switch).map_err(|e| format!("watchers: {e}"))?;
    let prios: Vec<(String, u8)> = PRIOS
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("node{}", i + 1), *p))
        .collect();
    let prio_refs: Vec<(&str, u8)> = prios.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let mut result = K8sResult::default();
    let mut names = Vec::new();
    for (advert_ms, base) in [(1000u32, 160u8), (100, 170)] {
        for i in 0..reps.min(9) {
            let octet = base + i as u8 + 1;
            let vip = format!("198.51.100.{octet}");
            let name = format!("apply{octet}");
            let interval = if advert_ms == 1000 { "1s" } else { "100ms" };
            let yaml = vip_doc(
                &name,
                octet,
                3,
                interval,
                &format!("{vip}/32"),
                &prio_refs,
                "",
            );
            let ping = Ping::start(&c.bed, &vip, 30);
            std::thread::sleep(Duration::from_millis(300));
            let t0 = now();
            let out = c.api.apply(&c.bed, &yaml);
            let t_applied = now();
            if !out.status.success() {
                let _ = ping.stop();
                result.failures.push(format!(
                    "apply {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
            names.push(name.clone());
            let limit = Duration::from_secs_f64(master_down(advert_ms, PRIOS[0]) * 2.0 + 10.0);
            let answered = wait_until(limit, Duration::from_millis(10), || {
                !ping.peek().replies.is_empty()
            });
            std::thread::sleep(Duration::from_millis(100));
            let pl = ping.stop();
            let events = watch.addr_events();
            let t_vip = intervals(&events, 0, &vip)
                .first()
                .map(|i| i.0)
                .unwrap_or(f64::NAN);
            match pl.replies.first() {
                Some(first) if answered => {
                    let a = Apply {
                        advert_ms,
                        to_vip: t_vip - t0,
                        to_ping: first.t - t0,
                        kubectl: t_applied - t0,
                    };
                    log(&format!(
                        "  apply {name} ({interval}): VIP on node1 after {:.3} s, ping after {:.3} s (kubectl {:.3} s)",
                        a.to_vip, a.to_ping, a.kubectl
                    ));
                    result.applies.push(a);
                }
                _ => result
                    .failures
                    .push(format!("{name}: no reply within {limit:?}")),
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    // Steady state: every VirtualIP has a master in status; then count writes.
    let all_master = wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        let masters = c.api.kubectl(
            &c.bed,
            &["get", "vip", "-o", "jsonpath={.items[*].status.master}"],
        );
        String::from_utf8_lossy(&masters.stdout)
            .split_whitespace()
            .filter(|m| *m == "node1")
            .count()
            == names.len()
    });
    if !all_master {
        result
            .failures
            .push("not every VirtualIP showed node1 as master within 30 s".into());
    }
    std::thread::sleep(Duration::from_secs(5));
    let rv = || c.api.vip_field_all(&c.bed);
    let rv0 = rv();
    let w0 = writes(&c.bed).ok_or("no kube_vrrp_api_writes_total in /metrics")?;
    let t0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs_f64(steady));
    let w1 = writes(&c.bed).ok_or("no kube_vrrp_api_writes_total in /metrics")?;
    result.steady_s = t0.elapsed().as_secs_f64();
    let rv1 = rv();
    result.writes = w1 - w0;
    result.rv_unchanged = !rv0.is_empty() && rv0 == rv1;
    result.steady_vips = names.len();
    drop(watch);
    drop(c);
    Ok(result)
}

/// Resource versions of every VirtualIP.
trait AllVersions {
    fn vip_field_all(&self, bed: &Bed) -> String;
}

impl AllVersions for ApiServer {
    fn vip_field_all(&self, bed: &Bed) -> String {
        let out = self.kubectl(
            bed,
            &[
                "get",
                "vip",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}",
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
