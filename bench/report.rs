//! docs/benchmarks.md from the results: machine, table with both systems and ratios, the
//! targets of design.md §7 marked met / not met, what limits the figures, raw data.

use std::fmt::Write as _;

use crate::driver::Results;
use crate::stats::{Unit, cell, ratio};
use crate::sys::System;

#[path = "report/api.rs"]
mod api;
#[path = "report/crash.rs"]
mod crash;
#[path = "report/election.rs"]
mod election;
#[path = "report/footprint.rs"]
mod footprint;
#[path = "report/handover.rs"]
mod handover;
#[path = "report/loss.rs"]
mod loss;
#[path = "report/machine.rs"]
mod machine;
#[path = "report/observations.rs"]
mod observations;
#[path = "report/raw.rs"]
mod raw;

/// Values of one system from a list of (system, item).
fn of<T>(v: &[(System, T)], sys: System, f: impl Fn(&T) -> f64) -> Vec<f64> {
    v.iter()
        .filter(|(s, _)| *s == sys)
        .map(|(_, x)| f(x))
        .collect()
}

fn loss_vals(
    r: &Results,
    sys: System,
    advert: u32,
    f: impl Fn(&crate::scenarios::NodeLoss) -> f64,
) -> Vec<f64> {
    r.loss
        .iter()
        .filter(|(s, a, _)| *s == sys && *a == advert)
        .map(|(_, _, x)| f(x))
        .collect()
}

/// Election samples (every start at 1 s adverts: node-loss and handover repetitions).
fn elections(r: &Results, sys: System) -> Vec<crate::scenarios::Election> {
    r.loss
        .iter()
        .filter(|(s, a, _)| *s == sys && *a == 1000)
        .map(|(_, _, x)| x.election.clone())
        .chain(
            r.handover
                .iter()
                .filter(|(s, _)| *s == sys)
                .map(|(_, x)| x.election.clone()),
        )
        .collect()
}

fn advert_name(ms: u32) -> String {
    if ms >= 1000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// The VIP lifetime kube-vrrp installs (src/vrrp/timers.rs `vip_lifetime`): 3 x advert + 1 s,
/// rounded up to whole seconds, at least 3 s.
fn lifetime(advert_ms: u32) -> f64 {
    (3.0 * f64::from(advert_ms) / 1000.0 + 1.0).ceil().max(3.0)
}

struct Row {
    scenario: String,
    kube: String,
    keep: String,
    ratio: String,
    note: String,
}

fn row(scenario: &str, k: &[f64], ka: &[f64], unit: Unit, note: &str) -> Row {
    Row {
        scenario: scenario.into(),
        kube: cell(k, unit),
        keep: cell(ka, unit),
        ratio: ratio(k, ka),
        note: note.into(),
    }
}

struct Target {
    what: String,
    measured: String,
    met: Option<bool>,
}

/// What the sections add up: the rows of the results table (the API server's last), the
/// targets and what limits the figures that miss them.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    k8s_rows: Vec<Row>,
    targets: Vec<Target>,
    limits: Vec<String>,
}

/// The report.
pub fn markdown(r: &Results) -> String {
    render(r, &machine::machine(r))
}

/// The report, with the machine table given (the tests pass a fixed one).
fn render(r: &Results, machine_table: &str) -> String {
    let mut out = Report::default();
    election::cold_start(r, &mut out);
    loss::node_loss(r, &mut out);
    handover::handover(r, &mut out);
    crash::crash(r, &mut out);
    footprint::footprint(r, &mut out);
    api::api_server(r, &mut out);
    let Report {
        rows,
        k8s_rows,
        targets,
        limits,
    } = out;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks: kube-vrrp and keepalived side by side\n");
    let _ = writeln!(
        s,
        "Written by `bench/run` (as root) (do not edit by hand: the next run overwrites it). Both systems ran in the same run on the same machine, repetitions interleaved (kube-vrrp, keepalived, kube-vrrp, ...), so drifting load hits both alike and cancels in the ratios. Cells: median [min–max] over the repetitions; ratio = kube-vrrp median / keepalived median (below 1: kube-vrrp faster or smaller). Plot of the client's pings around a failover: [failover.svg](failover.svg).\n"
    );
    let _ = writeln!(s, "## Machine and versions\n");
    s.push_str(machine_table);
    let _ = writeln!(s, "\n## Setup\n");
    let _ = writeln!(
        s,
        "- Bed (tests/common/bed.rs): a bridge in its own network namespace, three node namespaces (node1 198.51.100.11, node2 .12, node3 .13) and a client (.2) on veth pairs; a fresh bed for every repetition, torn down after it.\n\
- One virtual router on every node, the same for both systems: VRRPv3, vrid 51, VIP 198.51.100.100/32 on eth0, priorities node1 210 / node2 200 / node3 190, preemption on; keepalived `state BACKUP`, `vrrp_version 3`, `advert_int 1 | 0.1 | 0.01`, started as `keepalived -n -l -G -D -P -f CONF -p PID -r VRRP_PID` (`-G`: no syslog; without a syslog daemon keepalived writes every line to the slow serial console instead); kube-vrrp `run --config` with the equivalent VirtualIP (`advertInterval: 1s | 100ms | 10ms`).\n\
- Times come from events, not polling: address events (RTM_NEWADDR/RTM_DELADDR) from a netlink socket opened inside each node namespace, read by a thread at SCHED_FIFO priority 1 (netlink has no receive timestamps; at normal priority the read lagged the daemon under test by up to 3 ms), and VRRP adverts captured on the bridge (AF_PACKET on br0 in the switch namespace, kernel receive timestamps); the client runs `ping -D -i 0.009` (about one request every 10 ms here). All on CLOCK_REALTIME.\n\
- Cold start: the three daemons are started one after the other, the order rotated over the repetitions; time from the first start to the VIP on node1. Every start at 1 s adverts counts (node-loss and handover repetitions).\n\
- Node loss: `ip link set eth0 down` in node1's namespace; takeover = node1's last advert on the bridge → the VIP added on node2. Bound = RFC 5798 Master_Down_Interval of node2 = 3 × advert + (256 − 200)/256 × advert.\n\
- Planned handover: SIGTERM to node1's daemon (keepalived: the parent, which stops its VRRP child).\n\
- kill -9: SIGKILL to node1's daemon (keepalived: parent and VRRP child) 3 s after node1 held the VIP alone, link up; watched for {:.0} s.\n\
- Footprint: both systems side by side in two beds, and the two floors (below) in two more, measured over the same {:.0} s (same background load); the second system is started only once the first one's election has settled (node1 holds every VIP alone, or 90 s passed; keepalived first with 255 instances), and the idle period starts 6 s after the last election; CPU = run time of every thread (/proc/PID/task/*/schedstat; utime+stime from /proc/PID/stat when threads came or went), RSS from /proc/PID/status, PSS from /proc/PID/smaps_rollup; keepalived counts its parent and VRRP child. 255 instances: vrids 1–255, VIPs 198.51.100.128–254 and 203.0.113.1–128.\n\
- API server: hack/apiserver as a control-plane host on the bridge (198.51.100.5), three `kube-vrrp agent`s, kubectl through `ip netns exec`; each apply is a new VirtualIP while the agents run; steady-state writes = change of `kube_vrrp_api_writes_total` summed over the nodes, and every VirtualIP's resourceVersion before and after.",
        r.crash_window, r.idle
    );
    let _ = writeln!(
        s,
        "\n## Results ({} repetitions per timing row unless noted)\n",
        r.reps
    );
    let _ = writeln!(
        s,
        "| scenario | kube-vrrp | keepalived | ratio | bound / note |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for x in rows.iter().chain(&k8s_rows) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            x.scenario, x.kube, x.keep, x.ratio, x.note
        );
    }
    s.push_str(&footprint::floor_table(r));
    let _ = writeln!(s, "\n## Targets (design.md §7)\n");
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    for t in &targets {
        let mark = match t.met {
            Some(true) => "**met**",
            Some(false) => "**not met**",
            None => "not measured",
        };
        let _ = writeln!(s, "| {} | {} | {mark} |", t.what, t.measured);
    }
    let met = targets.iter().filter(|t| t.met == Some(true)).count();
    let _ = writeln!(s, "\n{met} of {} targets met.\n", targets.len());
    let _ = writeln!(s, "## What limits the figures that miss\n");
    if limits.is_empty() {
        let _ = writeln!(s, "Every target was met in this run.");
    }
    for l in &limits {
        let _ = writeln!(s, "- {l}");
    }
    let obs = observations::observations(r);
    if !obs.is_empty() {
        let _ = writeln!(s, "\n## Other observations from this run\n");
        for o in &obs {
            let _ = writeln!(s, "- {o}");
        }
    }
    let _ = writeln!(s, "\n## Failed or skipped repetitions\n");
    if r.failures.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for f in &r.failures {
        let first: Vec<&str> = f.lines().take(3).collect();
        let _ = writeln!(s, "- {}", first.join(" / "));
    }
    raw::raw_data(r, &mut s);
    s
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
