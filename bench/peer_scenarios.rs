//! The peer scenarios, measured at the client (the same `ping -D -i 0.009` as the keepalived
//! table): node loss, planned stop, kill -9, the API server down for a while (then a node loss
//! during the outage), and the steady state (API requests from the audit log, CPU and RSS).
//! Every system runs on its own bed with its own API server; the systems run at the same time,
//! one thread each (their timings are in seconds; the shared load hits all of them alike).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::bed::{VIP4, wait_until};
use crate::holders::overlap;
use crate::peers::{Peer, PeerCluster, restart_api};
use crate::ping::{Ping, PingLog, Sent};
use crate::sys;
use crate::watch::intervals;
use crate::watch::{Watch, now};

/// What the client saw around one fault.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Longest time without replies, seconds.
    pub gap: f64,
    /// Echo requests lost.
    pub lost: u64,
    /// Whether replies came back before we stopped.
    pub resumed: bool,
    /// Requests relative to the fault (for the plot).
    pub sent: Vec<Sent>,
}

/// kill -9 of the agent on the node the client reaches.
#[derive(Debug, Clone)]
pub struct Killed {
    /// The client's view.
    pub seen: Seen,
    /// How long the VIP stayed on the dead agent's node after SIGKILL, seconds; None: still
    /// there at the end of the window (address systems only).
    pub residue: Option<f64>,
    /// How long two nodes held the VIP, seconds (address systems only).
    pub two_holders: f64,
    /// The window, seconds.
    pub window: f64,
}

/// The API server down for `secs`, then a node loss during the outage.
#[derive(Debug, Clone)]
pub struct Outage {
    /// Outage length, seconds.
    pub secs: f64,
    /// Pings lost while the API server was down, before any node failed.
    pub lost_before_cut: u64,
    /// Longest time without replies then, seconds.
    pub gap_before_cut: f64,
    /// Node loss during the outage: the client's replies came back after (seconds), or None.
    pub failover: Option<f64>,
    /// How long we waited for that, seconds.
    pub waited: f64,
}

/// The steady state.
#[derive(Debug, Clone, Default)]
pub struct Steady {
    /// Observed seconds.
    pub secs: f64,
    /// API requests (audit log, the system's own clients).
    pub requests: u64,
    /// Of which writes (create, update, patch, delete).
    pub writes: u64,
    /// Requests by "verb resource".
    pub by_kind: BTreeMap<String, u64>,
    /// CPU ms per minute per node (mean of the 3 agents).
    pub cpu_ms_min: f64,
    /// RSS MiB per node (mean).
    pub rss: f64,
    /// PSS MiB per node (mean).
    pub pss: f64,
    /// MetalLB's controller: CPU ms/min and RSS MiB.
    pub controller: Option<(f64, f64)>,
}

/// Everything measured for one system.
#[derive(Debug, Clone)]
pub struct PeerResult {
    /// Which system.
    pub peer: Peer,
    /// Node losses.
    pub loss: Vec<Seen>,
    /// Planned stops (SIGTERM).
    pub stop: Vec<Seen>,
    /// kill -9.
    pub kill: Vec<Killed>,
    /// The API server outage.
    pub outage: Option<Outage>,
    /// The steady state.
    pub steady: Option<Steady>,
    /// Failed repetitions.
    pub failures: Vec<String>,
}

/// Options of the peer part.
#[derive(Debug, Clone)]
pub struct PeerOpts {
    /// Repetitions of node loss, planned stop and kill -9.
    pub reps: usize,
    /// Steady-state seconds.
    pub steady: f64,
    /// API server outage seconds.
    pub outage: f64,
    /// Stop starting repetitions after this long.
    pub budget: Duration,
}

/// Wait until the client reaches the VIP on one node, the same twice 2 s apart (and, for the
/// address systems, that node alone holds it). Bounded: 90 s.
pub fn settle(c: &PeerCluster) -> Result<usize, String> {
    let mut last = None;
    let end = Instant::now() + Duration::from_secs(90);
    while Instant::now() < end {
        let out = c.bed.exec(
            &c.bed.client.ns,
            &["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", VIP4],
        );
        let ok = out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains(" 0% packet loss");
        let target = c.client_target();
        let alone = !c.peer.holds_address() || target.is_some_and(|t| c.holders() == [t]);
        match target {
            Some(t) if ok && alone => {
                if last == Some(t) {
                    return Ok(t);
                }
                last = Some(t);
            }
            _ => last = None,
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    Err(format!(
        "{}: the client never reached the VIP on one node; holders {:?}\n{}",
        c.peer.name(),
        c.holders(),
        c.logs()
    ))
}

/// Ping from before `act` until the replies have flowed again for 1 s (at least `min` after
/// the fault; bounded by `max`).
fn observe(c: &PeerCluster, min: f64, max: f64, act: impl FnOnce()) -> (PingLog, f64) {
    let ping = Ping::start(&c.bed, VIP4, (max + 10.0) as u32);
    let _ = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        !ping.peek().replies.is_empty()
    });
    std::thread::sleep(Duration::from_millis(800));
    let t0 = now();
    act();
    let end = Instant::now() + Duration::from_secs_f64(max);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        let t = now();
        if t - t0 < min {
            continue;
        }
        let log = ping.peek();
        let recent = log.replies.iter().filter(|r| r.t > t - 1.0).count();
        if recent >= 50 && log.replies.last().is_some_and(|r| t - r.t < 0.1) {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    (ping.stop(), t0)
}

fn seen(log: &PingLog, t0: f64) -> Seen {
    Seen {
        gap: log.max_gap(),
        lost: log.lost(),
        resumed: log.resumed(),
        sent: log
            .timeline()
            .into_iter()
            .map(|s| Sent {
                t: s.t - t0,
                answered: s.answered,
            })
            .collect(),
    }
}

/// Bring node `n` back as after a reboot: agent killed, link up, the VIP gone from its eth0,
/// agent started again; then wait for a settled VIP.
fn restore(c: &mut PeerCluster, n: usize) -> Result<(), String> {
    if let Some(mut p) = c.agents[n].take() {
        p.kill();
    }
    c.bed.set_link(&c.bed.nodes[n], true);
    let _ = c.bed.exec(
        &c.bed.nodes[n].ns,
        &["ip", "addr", "del", &format!("{VIP4}/32"), "dev", "eth0"],
    );
    c.start_agent(n);
    std::thread::sleep(Duration::from_secs(3));
    settle(c).map(|_| ())
}

pub fn node_loss(c: &mut PeerCluster) -> Result<Seen, String> {
    let h = settle(c)?;
    let (log, t0) = observe(c, 2.0, 60.0, || c.bed.set_link(&c.bed.nodes[h], false));
    restore(c, h)?;
    Ok(seen(&log, t0))
}

pub fn planned_stop(c: &mut PeerCluster) -> Result<Seen, String> {
    let h = settle(c)?;
    let (log, t0) = observe(c, 3.0, 40.0, || {
        if let Some(p) = &c.agents[h] {
            p.signal("TERM")
        }
    });
    if let Some(p) = c.agents[h].as_mut()
        && !p.wait_exit(Duration::from_secs(15))
    {
        p.kill();
    }
    restore(c, h)?;
    Ok(seen(&log, t0))
}

pub fn kill9(c: &mut PeerCluster, watch: &Watch, window: f64) -> Result<Killed, String> {
    let h = settle(c)?;
    std::thread::sleep(Duration::from_secs(2));
    let addr = c.peer.holds_address();
    let mut victim = c.agents[h].take();
    let (log, t0) = observe(c, 1.0, window, || {
        if let Some(p) = victim.as_mut() {
            p.kill();
        }
        if addr {
            // Until the dead node's VIP is gone and another holds it alone (bounded).
            let _ = watch.wait_holders(VIP4, 3, Duration::from_secs_f64(window), |hs| {
                hs.len() == 1 && hs[0] != h
            });
        }
    });
    let events = watch.addr_events();
    let t_end = now();
    let residue = intervals(&events, h, VIP4)
        .last()
        .map(|i| i.1)
        .filter(|t| t.is_finite() && *t > t0)
        .map(|t| t - t0);
    let (two, _) = overlap(&events, 3, VIP4, t0, t_end);
    restore(c, h)?;
    Ok(Killed {
        seen: seen(&log, t0),
        residue: if addr { residue } else { None },
        two_holders: if addr { two } else { 0.0 },
        window: t_end - t0,
    })
}

pub fn outage(c: &mut PeerCluster, secs: f64) -> Result<Outage, String> {
    let h = settle(c)?;
    let ping = Ping::start(&c.bed, VIP4, (secs + 60.0) as u32);
    let _ = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        !ping.peek().replies.is_empty()
    });
    c.api.stop();
    let t_stop = now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let t_cut = now();
    c.bed.set_link(&c.bed.nodes[h], false);
    let wait = 40.0;
    let back = wait_until(
        Duration::from_secs_f64(wait),
        Duration::from_millis(50),
        || {
            ping.peek()
                .replies
                .iter()
                .any(|r| r.t - r.rtt > t_cut + 0.05)
        },
    );
    let log = ping.stop();
    let failover = back
        .then(|| {
            log.replies
                .iter()
                .find(|r| r.t - r.rtt > t_cut + 0.05)
                .map(|r| r.t - t_cut)
        })
        .flatten();
    // Before the cut: the requests sent between the API stop and the cut that got no reply
    // (the timeline interpolates send times between replies and extrapolates after the last).
    let window: Vec<Sent> = log
        .timeline()
        .into_iter()
        .filter(|x| x.t > t_stop && x.t <= t_cut)
        .collect();
    let lost = window.iter().filter(|x| !x.answered).count() as u64;
    let mut edges = vec![t_stop];
    edges.extend(window.iter().filter(|x| x.answered).map(|x| x.t));
    edges.push(t_cut);
    let gap = edges.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    restart_api(&mut c.api, &c.bed);
    restore(c, h)?;
    Ok(Outage {
        secs,
        lost_before_cut: lost,
        gap_before_cut: gap,
        failover,
        waited: wait,
    })
}

/// Requests in audit-log lines: the system's own (not the API server's loopback client, not
/// the bench's kubectl).
fn count_requests(lines: &str, st: &mut Steady) {
    for line in lines.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let user = v["user"]["username"].as_str().unwrap_or_default();
        let agent = v["userAgent"].as_str().unwrap_or_default();
        if user == "system:apiserver" || agent.starts_with("kubectl") {
            continue;
        }
        let verb = v["verb"].as_str().unwrap_or_default();
        let resource = v["objectRef"]["resource"].as_str().unwrap_or("-");
        st.requests += 1;
        if matches!(
            verb,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        ) {
            st.writes += 1;
        }
        *st.by_kind.entry(format!("{verb} {resource}")).or_default() += 1;
    }
}

pub fn steady(c: &PeerCluster, secs: f64) -> Steady {
    let (agents, controller) = c.pids();
    let offset = c.audit().len();
    let ta = Instant::now();
    let cpu0: Vec<sys::CpuSample> = agents.iter().map(|p| sys::cpu(&[*p])).collect();
    let ctl0 = controller.map(|p| sys::cpu(&[p]));
    std::thread::sleep(Duration::from_secs_f64(secs));
    let cpu1: Vec<sys::CpuSample> = agents.iter().map(|p| sys::cpu(&[*p])).collect();
    let ctl1 = controller.map(|p| sys::cpu(&[p]));
    let el = ta.elapsed().as_secs_f64();
    let audit = c.audit();
    let mut st = Steady {
        secs: el,
        ..Steady::default()
    };
    count_requests(audit.get(offset..).unwrap_or_default(), &mut st);
    let per_min = |a: &sys::CpuSample, b: &sys::CpuSample| sys::cpu_delta(a, b) * 60_000.0 / el;
    let k = agents.len().max(1) as f64;
    st.cpu_ms_min = cpu0
        .iter()
        .zip(&cpu1)
        .map(|(a, b)| per_min(a, b))
        .sum::<f64>()
        / k;
    let mem: Vec<(f64, f64)> = agents.iter().map(|p| sys::memory(&[*p])).collect();
    st.rss = mem.iter().map(|m| m.0).sum::<f64>() / k;
    st.pss = mem.iter().map(|m| m.1).sum::<f64>() / k;
    if let (Some(a), Some(b), Some(p)) = (ctl0, ctl1, controller) {
        st.controller = Some((per_min(&a, &b), sys::memory(&[p]).0));
    }
    st
}
