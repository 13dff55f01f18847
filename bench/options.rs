//! The bench's command line.

use std::path::PathBuf;
use std::time::Duration;

use crate::sys::System;

/// Options (bench/run passes them through).
#[derive(Debug, Clone)]
pub struct Opts {
    /// Repetitions of the timing scenarios.
    pub reps: usize,
    /// Repetitions of keepalived's crash scenario (it always "stays": each costs the window).
    pub crash_reps_keepalived: usize,
    /// Crash observation window, seconds.
    pub crash_window: f64,
    /// Idle period of the footprint measurement, seconds.
    pub idle: f64,
    /// Steady-state period with the API server, seconds.
    pub steady: f64,
    /// Applies per advert interval with the API server.
    pub k8s_reps: usize,
    /// Scenarios to run (empty: all).
    pub only: Vec<String>,
    /// Where to write benchmarks.md and failover.svg.
    pub out: PathBuf,
    /// Stop starting new repetitions after this long.
    pub budget: Duration,
    /// The systems to run (both unless --systems says otherwise).
    pub systems: Vec<System>,
    /// The floors measured beside them in the footprint (both unless --floors says otherwise).
    pub floors: Vec<System>,
    /// The Kubernetes peers' part (`peers`): systems, repetitions, outage, budget.
    pub peers: Vec<crate::peers::Peer>,
    /// Repetitions of the peer scenarios.
    pub peer_reps: usize,
    /// API server outage in the peer part, seconds.
    pub outage: f64,
    /// Budget of the peer part's repetitions.
    pub peer_budget: Duration,
}

impl Opts {
    pub fn parse() -> Opts {
        let mut o = Opts {
            reps: 10,
            crash_reps_keepalived: 3,
            crash_window: 15.0,
            idle: 50.0,
            steady: 60.0,
            k8s_reps: 5,
            only: Vec::new(),
            out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs"),
            budget: Duration::from_secs(19 * 60),
            systems: System::BOTH.to_vec(),
            floors: System::FLOORS.to_vec(),
            peers: crate::peers::Peer::ALL.to_vec(),
            peer_reps: 10,
            outage: 60.0,
            peer_budget: Duration::from_secs(9 * 60),
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let val = args.get(i + 1).cloned().unwrap_or_default();
            let num = || -> f64 {
                val.parse().unwrap_or_else(|_| {
                    eprintln!("{}: a number, please", args[i]);
                    std::process::exit(2)
                })
            };
            match args[i].as_str() {
                "--reps" => o.reps = num() as usize,
                "--crash-reps-keepalived" => o.crash_reps_keepalived = num() as usize,
                "--crash-window" => o.crash_window = num(),
                "--idle" => o.idle = num(),
                "--steady" => o.steady = num(),
                "--k8s-reps" => o.k8s_reps = num() as usize,
                "--budget" => o.budget = Duration::from_secs_f64(num()),
                "--peer-reps" => o.peer_reps = num() as usize,
                "--outage" => o.outage = num(),
                "--peer-budget" => o.peer_budget = Duration::from_secs_f64(num()),
                "--peers" => {
                    o.peers = crate::peers::Peer::ALL
                        .into_iter()
                        .filter(|p| val.split(',').any(|v| v == p.name()))
                        .collect()
                }
                "--only" => o.only = val.split(',').map(str::to_string).collect(),
                "--out" => o.out = PathBuf::from(&val),
                "--systems" => {
                    o.systems = System::BOTH
                        .into_iter()
                        .filter(|s| val.split(',').any(|v| v == s.name()))
                        .collect()
                }
                "--floors" => {
                    o.floors = System::FLOORS
                        .into_iter()
                        .filter(|s| val.split(',').any(|v| s.name().contains(v)))
                        .collect()
                }
                "-h" | "--help" => {
                    println!(
                        "bench [--reps N] [--crash-reps-keepalived N] [--crash-window S] [--idle S] [--steady S] [--k8s-reps N] [--budget S] [--only loss1s,loss100ms,loss10ms,handover,crash,footprint,k8s,peers] [--systems kube-vrrp,keepalived] [--floors tokio,epoll|none] [--peers kube-vrrp,metallb,lease-5s,lease-15s] [--peer-reps N] [--outage S] [--peer-budget S] [--out DIR]"
                    );
                    std::process::exit(0)
                }
                other => {
                    eprintln!("unknown option {other} (--help)");
                    std::process::exit(2)
                }
            }
            i += 2;
        }
        o
    }

    pub fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}
