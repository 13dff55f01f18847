//! The benchmark driver: runs every scenario for both systems (interleaved, so drifting load
//! hits both alike), then writes docs/benchmarks.md and docs/failover.svg.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use crate::scenarios::{self, Crash, Fail, Footprint, Handover, NodeLoss};
use crate::sys::System;

pub use crate::options::Opts;

/// Everything measured.
#[derive(Default)]
pub struct Results {
    /// Node losses: system, advert ms, result.
    pub loss: Vec<(System, u32, NodeLoss)>,
    /// Planned handovers at 1 s adverts.
    pub handover: Vec<(System, Handover)>,
    /// Crashes at 1 s adverts.
    pub crash: Vec<(System, Crash)>,
    /// Footprints.
    pub foot: Vec<(System, Footprint)>,
    /// The API server scenario.
    pub k8s: Option<crate::k8s_api::K8sResult>,
    /// Failed repetitions and skipped scenarios.
    pub failures: Vec<String>,
    /// Load average when each scenario started.
    pub load: Vec<(String, String)>,
    /// Load average at the start and the end.
    pub load_start: String,
    /// Load average at the end.
    pub load_end: String,
    /// Wall time of the whole run.
    pub took: Duration,
    /// The Kubernetes peers' part.
    pub peers: Vec<crate::peer_scenarios::PeerResult>,
    /// Options used.
    pub reps: usize,
    /// Crash window.
    pub crash_window: f64,
    /// Idle period.
    pub idle: f64,
}

/// One idle-footprint configuration: instances per node, advert interval, version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprints {
    /// Instances per node.
    pub instances: usize,
    /// Advert interval, ms.
    pub advert_ms: u32,
    /// 3, or 2 with PASS authentication.
    pub version: u8,
}

/// The footprint rows, in the order they are measured and shown.
pub const FOOTPRINTS: [Footprints; 6] = [
    Footprints {
        instances: 1,
        advert_ms: 1000,
        version: 3,
    },
    Footprints {
        instances: 1,
        advert_ms: 1000,
        version: 2,
    },
    Footprints {
        instances: 1,
        advert_ms: 50,
        version: 3,
    },
    Footprints {
        instances: 50,
        advert_ms: 1000,
        version: 3,
    },
    Footprints {
        instances: 50,
        advert_ms: 1000,
        version: 2,
    },
    Footprints {
        instances: 255,
        advert_ms: 1000,
        version: 3,
    },
];

impl Footprints {
    /// The routers of this configuration.
    pub fn routers(&self) -> Vec<crate::sys::Router> {
        let rs = crate::sys::routers(self.instances, self.advert_ms);
        if self.version == 2 {
            crate::sys::v2_pass(rs)
        } else {
            rs
        }
    }

    /// Whether a measured footprint belongs to this configuration.
    pub fn is(&self, f: &crate::scenarios::Footprint) -> bool {
        f.instances == self.instances && f.advert_ms == self.advert_ms && f.version == self.version
    }

    /// "1 instance, v3, 1 s adverts" and the like.
    pub fn label(routers: &[crate::sys::Router]) -> String {
        let n = routers.len();
        let (adv, ver) = routers
            .first()
            .map_or((1000, 3), |r| (r.advert_ms, r.version));
        let inst = if n == 1 {
            "1 instance".to_string()
        } else {
            format!("{n} instances")
        };
        let adv = if adv >= 1000 {
            format!("{} s", adv / 1000)
        } else {
            format!("{adv} ms")
        };
        let ver = if ver == 2 { "v2 + PASS" } else { "v3" };
        format!("{inst}, {ver}, {adv} adverts")
    }
}

/// The 1-minute, 5-minute and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn attempt<T>(f: impl FnOnce() -> Result<T, Fail>) -> Result<T, Fail> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())),
    }
}

fn first_line(s: &str) -> String {
    let l: Vec<&str> = s.lines().take(4).collect();
    l.join(" | ")
}

/// Spawn-order rotation for repetition `r`, so no node always starts first.
fn order(r: usize) -> [usize; 3] {
    [r % 3, (r + 1) % 3, (r + 2) % 3]
}

/// Run the benchmark.
pub fn main() {
    let opts = Opts::parse();
    let started = Instant::now();
    let log = |msg: &str| println!("[{:7.1}s] {msg}", started.elapsed().as_secs_f64());
    let over = || started.elapsed() > opts.budget;
    let mut r = Results {
        load_start: loadavg(),
        reps: opts.reps,
        crash_window: opts.crash_window,
        idle: opts.idle,
        ..Results::default()
    };
    log(&format!(
        "kube-vrrp vs keepalived, {} repetitions; load average {}",
        opts.reps, r.load_start
    ));
    for (name, advert) in [("loss1s", 1000u32), ("loss100ms", 100), ("loss10ms", 10)] {
        if !opts.wants(name) {
            continue;
        }
        r.load
            .push((format!("node loss, {advert} ms adverts"), loadavg()));
        for rep in 0..opts.reps {
            if over() {
                r.failures.push(format!(
                    "{name}: budget spent, stopped after {rep} repetitions"
                ));
                break;
            }
            for system in opts.systems.clone() {
                match attempt(|| scenarios::node_loss(system, advert, &order(rep))) {
                    Ok(x) => {
                        let third = x
                            .third
                            .map(|t| format!("; node3 held the VIP too for {:.1} ms", t * 1000.0))
                            .unwrap_or_default();
                        let cut = if x.resumed {
                            ""
                        } else {
                            "; NO REPLY 8 s after the takeover"
                        };
                        let cut = if x.spurious {
                            format!("{cut}; a backup took the VIP while node1 still advertised")
                        } else {
                            cut.to_string()
                        };
                        log(&format!(
                            "node loss {advert} ms {} #{rep}: election {:.3} s{}, takeover {:.1} ms after the last advert ({:.1} ms after link down), client gap {:.1} ms, {} lost{third}{cut}",
                            system.name(),
                            x.election.time,
                            if x.election.transient {
                                " (second holder!)"
                            } else {
                                ""
                            },
                            x.takeover * 1000.0,
                            x.after_fault * 1000.0,
                            x.gap * 1000.0,
                            x.lost
                        ));
                        r.loss.push((system, advert, x));
                    }
                    Err(e) => {
                        log(&format!(
                            "node loss {advert} ms {} #{rep} FAILED: {}",
                            system.name(),
                            first_line(&e)
                        ));
                        r.failures.push(format!(
                            "node loss {advert} ms, {} #{rep}: {e}",
                            system.name()
                        ));
                    }
                }
            }
        }
    }
    if opts.wants("handover") {
        r.load.push(("planned handover".into(), loadavg()));
        for rep in 0..opts.reps {
            if over() {
                r.failures.push(format!(
                    "handover: budget spent, stopped after {rep} repetitions"
                ));
                break;
            }
            for system in opts.systems.clone() {
                match attempt(|| scenarios::handover(system, 1000, &order(rep))) {
                    Ok(x) => {
                        log(&format!(
                            "handover {} #{rep}: election {:.3} s{}, client gap {:.1} ms, {} lost, VIP on node2 {:.1} ms after SIGTERM, exit after {:.3} s",
                            system.name(),
                            x.election.time,
                            if x.election.transient {
                                " (second holder!)"
                            } else {
                                ""
                            },
                            x.gap * 1000.0,
                            x.lost,
                            x.takeover * 1000.0,
                            x.exit
                        ));
                        r.handover.push((system, x));
                    }
                    Err(e) => {
                        log(&format!(
                            "handover {} #{rep} FAILED: {}",
                            system.name(),
                            first_line(&e)
                        ));
                        r.failures
                            .push(format!("handover, {} #{rep}: {e}", system.name()));
                    }
                }
            }
        }
    }
    if opts.wants("crash") {
        r.load.push(("agent crash".into(), loadavg()));
        for rep in 0..opts.reps {
            if over() {
                r.failures.push(format!(
                    "crash: budget spent, stopped after {rep} repetitions"
                ));
                break;
            }
            for system in opts.systems.clone() {
                if system == System::Keepalived && rep >= opts.crash_reps_keepalived {
                    continue;
                }
                match attempt(|| scenarios::crash(system, 1000, opts.crash_window)) {
                    Ok(x) => {
                        log(&format!(
                            "kill -9 {} #{rep}: VIP left node1 {}, node2 took over after {:.3} s, two holders for {:.3} s",
                            system.name(),
                            x.left_after
                                .map(|t| format!("after {t:.3} s"))
                                .unwrap_or_else(|| format!("never (stays > {} s)", x.window)),
                            x.takeover,
                            x.two_holders
                        ));
                        r.crash.push((system, x));
                    }
                    Err(e) => {
                        log(&format!(
                            "kill -9 {} #{rep} FAILED: {}",
                            system.name(),
                            first_line(&e)
                        ));
                        r.failures
                            .push(format!("crash, {} #{rep}: {e}", system.name()));
                    }
                }
            }
        }
    }
    if opts.wants("footprint") {
        // Both systems side by side, each started once the previous one's election settled.
        let runs: Vec<(Vec<crate::sys::Router>, Vec<System>)> = FOOTPRINTS
            .iter()
            .map(|v| {
                let mut order: Vec<System> = if v.instances > 50 {
                    opts.systems.iter().rev().copied().collect()
                } else {
                    opts.systems.clone()
                };
                // The floors last: their "election" is the master adding its VIPs at once.
                order.extend(&opts.floors);
                (v.routers(), order)
            })
            .collect();
        for (routers, systems) in runs {
            let what = Footprints::label(&routers);
            if over() {
                r.failures
                    .push(format!("footprint {what}: budget spent, not measured"));
                continue;
            }
            r.load.push((
                format!(
                    "footprint, {what}, {}",
                    systems
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(" + ")
                ),
                loadavg(),
            ));
            log(&format!(
                "footprint: {what} per node, {}, {} s idle",
                systems
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(" and "),
                opts.idle
            ));
            let results = match std::panic::catch_unwind(|| {
                scenarios::footprint(&routers, opts.idle, &systems)
            }) {
                Ok(v) => v,
                Err(_) => vec![Err("panic".to_string()); systems.len()],
            };
            for (system, res) in systems.iter().copied().zip(results) {
                match res {
                    Ok(f) => {
                        log(&format!(
                            "footprint {what} {}: CPU {:.1} ms/min per node (master {:.1}), RSS {:.1} MiB, PSS {:.1} MiB; all elected after {:?} s; raw drops while idle {}; VIPs at the end {:?}",
                            system.name(),
                            f.cpu_ms_min,
                            f.master_cpu_ms_min,
                            f.rss,
                            f.pss,
                            f.ready_after,
                            f.drops_idle,
                            f.at_end
                        ));
                        r.foot.push((system, f));
                    }
                    Err(e) => {
                        log(&format!(
                            "footprint {what} {} FAILED: {}",
                            system.name(),
                            first_line(&e)
                        ));
                        r.failures
                            .push(format!("footprint {what}, {}: {e}", system.name()));
                    }
                }
            }
        }
    }
    if opts.wants("k8s") {
        if over() {
            r.failures
                .push("API server scenario: budget spent, not measured".into());
        } else {
            r.load.push(("API server".into(), loadavg()));
            log("kube-vrrp with the API server (hack/apiserver)");
            match attempt(|| crate::k8s_api::run(opts.k8s_reps, opts.steady, &log)) {
                Ok(k) => {
                    log(&format!(
                        "steady state: {} API writes in {:.0} s over {} VirtualIPs, resourceVersions unchanged: {}",
                        k.writes, k.steady_s, k.steady_vips, k.rv_unchanged
                    ));
                    r.failures
                        .extend(k.failures.iter().map(|f| format!("API server: {f}")));
                    r.k8s = Some(k);
                }
                Err(e) => {
                    log(&format!("API server scenario FAILED: {}", first_line(&e)));
                    r.failures.push(format!("API server scenario: {e}"));
                }
            }
        }
    }
    if opts.wants("peers") {
        if !crate::peers::built() {
            r.failures
                .push("peers: hack/peers/bin missing (run hack/peers/build.sh)".into());
        } else {
            r.load.push(("Kubernetes peers".into(), loadavg()));
            log(&format!(
                "Kubernetes peers, each on its own bed at the same time: {}",
                opts.peers
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let po = crate::peer_scenarios::PeerOpts {
                reps: opts.peer_reps,
                steady: opts.steady,
                outage: opts.outage,
                budget: opts.peer_budget,
            };
            let plog = |m: &str| {
                println!("[{:7.1}s] {m}", started.elapsed().as_secs_f64());
            };
            r.peers = crate::peer_run::run_all(&opts.peers, &po, &plog);
        }
    }
    r.load_end = loadavg();
    r.took = started.elapsed();
    let mut md = crate::report::markdown(&r);
    if !r.peers.is_empty() {
        md.push_str(&crate::peer_report::markdown(
            &r.peers,
            opts.peer_reps,
            opts.outage,
            opts.steady,
        ));
        let p = opts.out.join("peers.svg");
        let _ = std::fs::create_dir_all(&opts.out);
        if let Err(e) = std::fs::write(&p, crate::peer_report::svg(&r.peers)) {
            eprintln!("{}: {e}", p.display());
        }
    }
    let svg = crate::svg::plot(&r);
    let _ = std::fs::create_dir_all(&opts.out);
    let md_path = opts.out.join("benchmarks.md");
    let svg_path = opts.out.join("failover.svg");
    if let Err(e) = std::fs::write(&md_path, md) {
        eprintln!("{}: {e}", md_path.display());
        std::process::exit(1);
    }
    if let Err(e) = std::fs::write(&svg_path, svg) {
        eprintln!("{}: {e}", svg_path.display());
        std::process::exit(1);
    }
    log(&format!(
        "wrote {} and {}; load average {}; {} failed repetitions",
        md_path.display(),
        svg_path.display(),
        r.load_end,
        r.failures.len()
    ));
}
