//! The benchmark against keepalived (bench/run builds and runs it as root): node loss, planned
//! handover, crash residue, idle footprint and the API server, written to docs/benchmarks.md
//! and docs/failover.svg. The code lives in bench/; the bed is the tests' (tests/common).
#![allow(unsafe_code)]

#[allow(dead_code)]
#[path = "../tests/common/agents.rs"]
mod agents;
#[allow(dead_code)]
#[path = "../tests/common/bed.rs"]
mod bed;
#[allow(dead_code)]
#[path = "../tests/common/k8s.rs"]
mod k8s;

#[path = "../bench/driver.rs"]
mod driver;
#[path = "../bench/footprint.rs"]
mod footprint;
#[path = "../bench/holders.rs"]
mod holders;
#[path = "../bench/k8s_api.rs"]
mod k8s_api;
#[path = "../bench/options.rs"]
mod options;
#[path = "../bench/peer_report.rs"]
mod peer_report;
#[path = "../bench/peer_run.rs"]
mod peer_run;
#[path = "../bench/peer_scenarios.rs"]
mod peer_scenarios;
#[path = "../bench/peers.rs"]
mod peers;
#[path = "../bench/ping.rs"]
mod ping;
#[path = "../bench/report.rs"]
mod report;
#[path = "../bench/scenarios.rs"]
mod scenarios;
#[path = "../bench/stats.rs"]
mod stats;
#[path = "../bench/svg.rs"]
mod svg;
#[path = "../bench/sys.rs"]
mod sys;
#[path = "../bench/watch.rs"]
mod watch;

fn main() {
    if std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(true)
    {
        eprintln!("the benchmark creates network namespaces: run it as root (sudo bench/run)");
        std::process::exit(2);
    }
    driver::main();
}
