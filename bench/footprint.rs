//! The idle footprint: every instance elected on three nodes, then CPU, RSS and PSS per node
//! over an idle period, both systems measured at the same time.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::bed::Bed;
use crate::scenarios::{Fail, kill};
use crate::sys::{self, Router, System};
use crate::watch::{self, Watch, now};

/// Idle footprint of one system, per node.
#[derive(Debug, Clone)]
pub struct Footprint {
    /// Instances per node.
    pub instances: usize,
    /// Advert interval, ms.
    pub advert_ms: u32,
    /// VRRP version (2: with PASS authentication).
    pub version: u8,
    /// CPU milliseconds per minute per node (mean of the 3 nodes).
    pub cpu_ms_min: f64,
    /// The master's CPU milliseconds per minute.
    pub master_cpu_ms_min: f64,
    /// RSS MiB per node (mean), keepalived: parent + VRRP child.
    pub rss: f64,
    /// PSS MiB per node (mean).
    pub pss: f64,
    /// Start to node1 holding every VIP and the others none, seconds (None: not within 90 s).
    pub ready_after: Option<f64>,
    /// VRRP packets the raw sockets of the 3 nodes dropped during the idle period.
    pub drops_idle: u64,
    /// VIPs held by node1..node3 at the end of the idle period.
    pub at_end: [usize; 3],
    /// Most VIPs node2 and node3 held together during the election.
    pub others_max: usize,
}

/// How many of `vips` each node holds, from the address events.
fn holder_counts(events: &[watch::AddrEvent], vips: &HashSet<String>) -> [usize; 3] {
    let mut state: std::collections::HashMap<(usize, &str), bool> = Default::default();
    for e in events.iter().filter(|e| vips.contains(&e.addr)) {
        state.insert((e.node, e.addr.as_str()), e.added);
    }
    let mut counts = [0; 3];
    for ((node, _), held) in state {
        if held && node < 3 {
            counts[node] += 1;
        }
    }
    counts
}

/// Packets dropped by the raw sockets in the network namespace of process `pid` (last column
/// of /proc/PID/net/raw).
fn raw_drops(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/net/raw"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

fn addr_count(bed: &Bed, node: usize, vips: &HashSet<String>) -> usize {
    let out = bed.exec(
        &bed.nodes[node].ns,
        &["ip", "-o", "-4", "addr", "show", "dev", "eth0"],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(3)
                .and_then(|a| a.split('/').next())
                .is_some_and(|a| vips.contains(a))
        })
        .count()
}

/// Idle footprint of `systems`, each in its own bed, measured at the same time (the same
/// background), `routers` on every node, idle for `idle` seconds after the elections.
pub fn footprint(
    routers: &[Router],
    idle: f64,
    systems: &[System],
) -> Vec<Result<Footprint, Fail>> {
    let n = routers.len();
    let vips: HashSet<String> = routers.iter().map(|r| r.vip.clone()).collect();
    // One system after the other, each once the previous one's election settled (bounded:
    // 90 s each), so that one's election cannot disturb the other's; measured together.
    let mut beds = Vec::new();
    let mut ready: Vec<Option<f64>> = Vec::new();
    let mut others_max: Vec<usize> = Vec::new();
    let debug = std::env::var_os("BENCH_DEBUG").is_some();
    for &system in systems {
        let bed = Bed::new(3);
        let nss: Vec<String> = bed.nodes.iter().map(|n| n.ns.clone()).collect();
        let watch = Watch::start(&nss, &bed.switch).ok();
        let t0 = now();
        let procs = sys::start_all(&bed, system, routers, &[0, 1, 2]);
        // Election of every instance, from address events (`ip addr` crawls while hundreds of
        // addresses and announcements churn).
        let mut at = None;
        let mut most = 0;
        let mut last = [0usize; 3];
        let end = Instant::now() + Duration::from_secs(90);
        while let Some(w) = &watch {
            let counts = holder_counts(&w.addr_events(), &vips);
            if debug && counts != last {
                eprintln!("  {} +{:.2} s: {counts:?}", system.name(), now() - t0);
            }
            last = counts;
            most = most.max(counts[1] + counts[2]);
            if counts == [n, 0, 0] {
                at = Some(now() - t0);
                break;
            }
            if Instant::now() >= end {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Watchers off before the idle period: their notifications would cost the daemons a
        // little.
        drop(watch);
        ready.push(at);
        others_max.push(most);
        beds.push((system, bed, procs, t0));
    }
    // Let the takeover announcements (second GARP burst after 5 s) pass.
    std::thread::sleep(Duration::from_secs(6));
    let pids: Vec<Vec<Vec<u32>>> = beds
        .iter()
        .map(|(_, _, procs, _)| procs.iter().map(sys::pids).collect())
        .collect();
    // Drop counters first: reading them must not fall inside the CPU interval.
    let drops = |pids: &[Vec<u32>]| -> u64 { pids.iter().map(|p| raw_drops(p[0])).sum() };
    let drops0: Vec<u64> = pids.iter().map(|p| drops(p)).collect();
    let ta = Instant::now();
    let before: Vec<Vec<sys::CpuSample>> = pids
        .iter()
        .map(|nodes| nodes.iter().map(|p| sys::cpu(p)).collect())
        .collect();
    std::thread::sleep(Duration::from_secs_f64(idle));
    let after: Vec<Vec<sys::CpuSample>> = pids
        .iter()
        .map(|nodes| nodes.iter().map(|p| sys::cpu(p)).collect())
        .collect();
    let secs = ta.elapsed().as_secs_f64();
    let drops1: Vec<u64> = pids.iter().map(|p| drops(p)).collect();
    let mut out = Vec::new();
    for (i, (system, bed, procs, _)) in beds.iter_mut().enumerate() {
        let alive = procs
            .iter_mut()
            .all(|p| matches!(p.child.try_wait(), Ok(None)));
        let drops_idle = drops1[i].saturating_sub(drops0[i]);
        let at_end = [0, 1, 2].map(|node| addr_count(bed, node, &vips));
        let result = match ready[i] {
            _ if !alive => Err(format!("{}: a daemon exited", system.name())),
            ready_after => {
                let per_min = |a: &sys::CpuSample, b: &sys::CpuSample| {
                    sys::cpu_delta(a, b) * 1000.0 * 60.0 / secs
                };
                let cpu: Vec<f64> = before[i]
                    .iter()
                    .zip(&after[i])
                    .map(|(a, b)| per_min(a, b))
                    .collect();
                let mem: Vec<(f64, f64)> = pids[i].iter().map(|p| sys::memory(p)).collect();
                let k = cpu.len() as f64;
                Ok(Footprint {
                    instances: n,
                    advert_ms: routers[0].advert_ms,
                    version: routers[0].version,
                    cpu_ms_min: cpu.iter().sum::<f64>() / k,
                    master_cpu_ms_min: cpu[0],
                    rss: mem.iter().map(|m| m.0).sum::<f64>() / k,
                    pss: mem.iter().map(|m| m.1).sum::<f64>() / k,
                    ready_after,
                    drops_idle,
                    at_end,
                    others_max: others_max[i],
                })
            }
        };
        out.push(result);
    }
    for (_, _, procs, _) in &mut beds {
        for p in procs {
            kill(p);
        }
    }
    out
}
