//! The measured scenarios. Each repetition builds its own bed (3 nodes + client on a bridge),
//! starts one system, measures, and tears everything down (also when it fails).

use std::time::{Duration, Instant};

use crate::bed::{Bed, Proc};
use crate::holders::overlap;
use crate::ping::{Ping, PingLog, Sent};
use crate::sys::{self, PRIOS, Router, System};
use crate::watch::intervals;
use crate::watch::{self, Watch, now};

/// A failed repetition: why.
pub type Fail = String;

/// A bed with watchers and one system running on every node. Daemons are SIGKILLed before
/// the bed (namespaces) goes.
pub struct Run {
    /// The daemons, by node index.
    pub procs: Vec<Proc>,
    /// Address events and bridge frames.
    pub watch: Watch,
    /// The bed.
    pub bed: Bed,
    /// The routers.
    pub routers: Vec<Router>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for p in &mut self.procs {
            kill(p);
        }
    }
}

/// SIGKILL a daemon (keepalived: its VRRP child too) once: its PID files are forgotten after,
/// so that dropping it does not signal a PID that is gone.
pub fn kill(p: &mut Proc) {
    for f in p.pid_files.drain(..) {
        let pid = std::fs::read_to_string(&f)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "keepalived" {
                // SAFETY: kill(2) on a PID we started (keepalived's VRRP child), checked by name.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = p.child.kill();
    let _ = p.child.wait();
}

impl Run {
    /// The (single) VIP.
    pub fn vip(&self) -> &str {
        &self.routers[0].vip
    }

    /// Logs of the daemons, for failure messages.
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| {
                let t = p.log_text();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    fn fail(&self, why: &str) -> Fail {
        format!(
            "{why}; holders {:?}\n{}",
            self.bed.holders(self.vip()),
            self.logs()
        )
    }
}

/// The election as seen at a cold start.
#[derive(Debug, Clone)]
pub struct Election {
    /// Start of the first daemon to the VIP on node1, seconds.
    pub time: f64,
    /// Whether another node held the VIP during the election.
    pub transient: bool,
    /// How long other nodes held it, seconds.
    pub transient_s: f64,
}

/// Build a bed, start `system` on all nodes in `order`, wait for node1 to hold the VIP alone.
pub fn boot(system: System, advert_ms: u32, order: &[usize]) -> Result<(Run, Election), Fail> {
    let bed = Bed::new(3);
    let nss: Vec<String> = bed.nodes.iter().map(|n| n.ns.clone()).collect();
    let watch = Watch::start(&nss, &bed.switch).map_err(|e| format!("watchers: {e}"))?;
    let routers = sys::routers(1, advert_ms);
    let t_start = now();
    let procs = sys::start_all(&bed, system, &routers, order);
    let run = Run {
        procs,
        watch,
        bed,
        routers,
    };
    let vip = run.vip().to_string();
    let bound = sys::master_down(advert_ms, PRIOS[0]);
    let limit = Duration::from_secs_f64(bound * 3.0 + 10.0);
    if !run.watch.wait_holders(&vip, 3, limit, |h| h.contains(&0)) {
        return Err(run.fail("node1 never took the VIP"));
    }
    let events = run.watch.addr_events();
    let t1 = intervals(&events, 0, &vip)
        .first()
        .map(|i| i.0)
        .unwrap_or(f64::NAN);
    // Watch a little longer for other holders, then require node1 alone.
    let window = (f64::from(advert_ms) / 1000.0 * 2.0).clamp(0.5, 1.0);
    std::thread::sleep(Duration::from_secs_f64(window));
    if !run
        .watch
        .wait_holders(&vip, 3, Duration::from_secs(10), |h| h == [0])
    {
        return Err(run.fail("node1 never held the VIP alone"));
    }
    let events = run.watch.addr_events();
    let t_end = now();
    let mut transient_s = 0.0;
    let mut transient = false;
    for n in 1..3 {
        for (a, b) in intervals(&events, n, &vip) {
            if a <= t_end {
                transient = true;
                transient_s += b.min(t_end) - a;
            }
        }
    }
    Ok((
        run,
        Election {
            time: t1 - t_start,
            transient,
            transient_s,
        },
    ))
}

/// A node loss (link down on the master).
#[derive(Debug, Clone)]
pub struct NodeLoss {
    /// The election of this start.
    pub election: Election,
    /// Master's last advert on the wire to the VIP on node2, seconds.
    pub takeover: f64,
    /// Link down to the VIP on node2, seconds.
    pub after_fault: f64,
    /// Master's last advert to node2's first advert on the wire, seconds.
    pub wire: f64,
    /// Longest time without replies at the client, seconds.
    pub gap: f64,
    /// Echo requests lost.
    pub lost: u64,
    /// Whether the client got replies again before we stopped (8 s after the takeover).
    pub resumed: bool,
    /// node3 took the VIP too after the fault: for how long, seconds.
    pub third: Option<f64>,
    /// A backup took the VIP while node1 was still advertising (after the election, or just
    /// before the fault; then the takeover times are NaN).
    pub spurious: bool,
    /// For the plot: requests relative to the fault, and the markers.
    pub plot: Plot,
}

/// What the plot shows of one repetition (times relative to the fault).
#[derive(Debug, Clone, Default)]
pub struct Plot {
    /// Echo requests.
    pub sent: Vec<Sent>,
    /// Master's last advert (node loss) or SIGTERM (handover), relative.
    pub marks: Vec<(String, f64)>,
}

fn relative(log: &PingLog, t0: f64) -> Vec<Sent> {
    log.timeline()
        .into_iter()
        .map(|s| Sent {
            t: s.t - t0,
            answered: s.answered,
        })
        .collect()
}

/// Wait for the client's first reply (bounded), then `lead` more.
fn warm_up(ping: &Ping, lead: Duration) -> bool {
    let ok = crate::bed::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        !ping.peek().replies.is_empty()
    });
    std::thread::sleep(lead);
    ok
}

/// Keep the client pinging until its replies flow again after the last change of holders
/// since `t0`, then 300 ms more. Bounded (8 s): a client whose neighbour entry points at a node
/// that dropped the VIP again waits for the next announcement burst, 5 s later.
fn wait_client_back(run: &Run, ping: &Ping, t0: f64) {
    let vip = run.vip().to_string();
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        let events = run.watch.addr_events();
        let t_change = (0..3)
            .flat_map(|n| intervals(&events, n, &vip))
            .flat_map(|(a, b)| [a, b])
            .filter(|t| t.is_finite() && *t > t0)
            .fold(t0, f64::max);
        let replies = ping.peek().replies;
        let fresh = replies.last().is_some_and(|r| now() - r.t < 0.1);
        if fresh && replies.iter().any(|r| r.t - r.rtt > t_change + 0.03) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Take node1's link down and measure the takeover by node2.
pub fn node_loss(system: System, advert_ms: u32, order: &[usize]) -> Result<NodeLoss, Fail> {
    let (run, election) = boot(system, advert_ms, order)?;
    let vip = run.vip().to_string();
    let t_stable = now();
    let ping = Ping::start(&run.bed, &vip, 40);
    if !warm_up(&ping, Duration::from_millis(800)) {
        return Err(run.fail("the client got no reply before the fault"));
    }
    let t_fault = now();
    run.bed.set_link(&run.bed.nodes[0], false);
    let bound = sys::master_down(advert_ms, PRIOS[1]);
    let limit = Duration::from_secs_f64(bound * 3.0 + 5.0);
    if !run.watch.wait_holders(&vip, 3, limit, |h| h.contains(&1)) {
        return Err(run.fail("node2 never took over"));
    }
    wait_client_back(&run, &ping, t_fault);
    let log = ping.stop();
    let events = run.watch.addr_events();
    let frames = run.watch.captured();
    let n1 = run.bed.nodes[0].ip4.clone();
    let n2 = run.bed.nodes[1].ip4.clone();
    let t_last = frames
        .iter()
        .filter(|c| {
            matches!(&c.frame, watch::Frame::Vrrp { src, prio, .. } if *src == n1 && *prio > 0)
                && c.t < t_fault + 0.05
        })
        .map(|c| c.t)
        .fold(f64::NAN, f64::max);
    let t_adv2 = frames
        .iter()
        .filter(|c| {
            matches!(&c.frame, watch::Frame::Vrrp { src, .. } if *src == n2) && c.t > t_fault
        })
        .map(|c| c.t)
        .fold(f64::NAN, f64::min);
    let t_vip = intervals(&events, 1, &vip)
        .iter()
        .map(|i| i.0)
        .find(|&t| t > t_fault)
        .unwrap_or(f64::NAN);
    // node3 (190) also timing out, a fraction of a millisecond after node2 at 10 ms adverts.
    let third: f64 = intervals(&events, 2, &vip)
        .iter()
        .filter(|i| i.0 > t_fault)
        .map(|i| i.1.min(log.t_stop) - i.0)
        .sum();
    let third_taken = intervals(&events, 2, &vip).iter().any(|i| i.0 > t_fault);
    if t_last.is_nan() {
        return Err(run.fail("no advert from node1 captured on the bridge"));
    }
    // A backup that took the VIP before node1's last advert did not take over from a dead
    // master (a missed-advert takeover under load, coinciding with the fault): no takeover time.
    let premature = t_vip < t_last;
    let spurious = premature
        || (1..3).any(|n| {
            intervals(&events, n, &vip)
                .iter()
                .any(|i| i.0 > t_stable && i.0 < t_fault)
        });
    if std::env::var_os("BENCH_DEBUG").is_some() {
        for c in frames.iter().filter(|c| c.t > t_fault - 0.03) {
            eprintln!("  {:+.4} {:?}", c.t - t_fault, c.frame);
        }
        for e in events.iter().filter(|e| e.t > t_fault - 0.03) {
            eprintln!(
                "  {:+.4} node{} {} {}",
                e.t - t_fault,
                e.node + 1,
                e.addr,
                e.added
            );
        }
        let after = log.replies.iter().filter(|r| r.t > t_fault).count();
        eprintln!(
            "  replies after the fault: {after}; last reply {:+.4}",
            log.replies
                .last()
                .map(|r| r.t - t_fault)
                .unwrap_or(f64::NAN)
        );
    }
    let overruns = run
        .watch
        .overruns
        .load(std::sync::atomic::Ordering::Relaxed);
    if overruns > 0 {
        return Err(format!("{overruns} netlink overruns: address events lost"));
    }
    Ok(NodeLoss {
        election,
        takeover: if premature { f64::NAN } else { t_vip - t_last },
        after_fault: if premature { f64::NAN } else { t_vip - t_fault },
        wire: if premature || t_adv2 < t_last {
            f64::NAN
        } else {
            t_adv2 - t_last
        },
        gap: log.max_gap(),
        lost: log.lost(),
        resumed: log.resumed(),
        third: third_taken.then_some(third),
        spurious,
        plot: Plot {
            sent: relative(&log, t_fault),
            marks: vec![
                ("last advert of node1".into(), t_last - t_fault),
                ("VIP on node2".into(), t_vip - t_fault),
            ],
        },
    })
}

/// A planned handover (SIGTERM to the master's daemon).
#[derive(Debug, Clone)]
pub struct Handover {
    /// The election of this start.
    pub election: Election,
    /// Longest time without replies at the client, seconds.
    pub gap: f64,
    /// Echo requests lost.
    pub lost: u64,
    /// Whether the client got replies again before we stopped.
    pub resumed: bool,
    /// VIP added on node2 minus VIP removed from node1, seconds (negative: both held it).
    pub vip_gap: f64,
    /// SIGTERM to the VIP on node2, seconds.
    pub takeover: f64,
    /// SIGTERM to the daemon's exit, seconds.
    pub exit: f64,
    /// For the plot.
    pub plot: Plot,
}

/// SIGTERM to node1's daemon while the client pings.
pub fn handover(system: System, advert_ms: u32, order: &[usize]) -> Result<Handover, Fail> {
    let (mut run, election) = boot(system, advert_ms, order)?;
    let vip = run.vip().to_string();
    let ping = Ping::start(&run.bed, &vip, 40);
    if !warm_up(&ping, Duration::from_millis(800)) {
        return Err(run.fail("the client got no reply before the handover"));
    }
    let t_term = now();
    run.procs[0].signal("TERM");
    let bound = sys::master_down(advert_ms, PRIOS[1]);
    let limit = Duration::from_secs_f64(bound * 2.0 + 5.0);
    if !run.watch.wait_holders(&vip, 3, limit, |h| h == [1]) {
        return Err(run.fail("node2 never held the VIP alone after SIGTERM"));
    }
    let exited = run.procs[0].wait_exit(Duration::from_secs(10));
    let t_exit = now();
    wait_client_back(&run, &ping, t_term);
    std::thread::sleep(Duration::from_millis(500));
    let log = ping.stop();
    if !exited {
        return Err(run.fail("node1's daemon did not exit within 10 s of SIGTERM"));
    }
    let events = run.watch.addr_events();
    let t_del1 = intervals(&events, 0, &vip)
        .iter()
        .map(|i| i.1)
        .find(|&t| t > t_term && t.is_finite())
        .unwrap_or(f64::NAN);
    let t_add2 = intervals(&events, 1, &vip)
        .iter()
        .map(|i| i.0)
        .find(|&t| t > t_term)
        .unwrap_or(f64::NAN);
    Ok(Handover {
        election,
        gap: log.max_gap(),
        lost: log.lost(),
        resumed: log.resumed(),
        vip_gap: t_add2 - t_del1,
        takeover: t_add2 - t_term,
        exit: t_exit - t_term,
        plot: Plot {
            sent: relative(&log, t_term),
            marks: vec![
                ("VIP on node2".into(), t_add2 - t_term),
                ("VIP off node1".into(), t_del1 - t_term),
            ],
        },
    })
}

/// SIGKILL of the master's daemon, link up.
#[derive(Debug, Clone)]
pub struct Crash {
    /// SIGKILL to the VIP leaving node1, seconds; None: still there at the end of the window.
    pub left_after: Option<f64>,
    /// SIGKILL to the VIP on node2, seconds.
    pub takeover: f64,
    /// Time during which two nodes held the VIP, seconds (up to the end of the window).
    pub two_holders: f64,
    /// The observation window, seconds.
    pub window: f64,
}

/// SIGKILL node1's daemon and watch for `window`.
pub fn crash(system: System, advert_ms: u32, window: f64) -> Result<Crash, Fail> {
    let (mut run, _) = boot(system, advert_ms, &[0, 1, 2])?;
    let vip = run.vip().to_string();
    // Steady state first: a master refreshes its VIP's lifetime every second.
    std::thread::sleep(Duration::from_secs(3));
    let t_kill = now();
    kill(&mut run.procs[0]);
    let end = Instant::now() + Duration::from_secs_f64(window);
    // Stop early once node1 is clean and node2 holds the VIP (then nothing more can change).
    while Instant::now() < end {
        let h = run.watch.holders(&vip, 3);
        if h == [1] {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let t_end = now();
    let events = run.watch.addr_events();
    let left = intervals(&events, 0, &vip)
        .last()
        .map(|i| i.1)
        .filter(|t| t.is_finite())
        .map(|t| t - t_kill);
    let takeover = intervals(&events, 1, &vip)
        .iter()
        .map(|i| i.0)
        .find(|&t| t > t_kill)
        .map(|t| t - t_kill)
        .unwrap_or(f64::NAN);
    let (two, _) = overlap(&events, 3, &vip, t_kill, t_end);
    if std::env::var_os("BENCH_DEBUG").is_some() {
        // When node1's address was installed or refreshed (RTM_NEWADDR), relative to SIGKILL.
        let refreshes: Vec<String> = events
            .iter()
            .filter(|e| e.node == 0 && e.addr == vip && e.t > t_kill - 6.0)
            .map(|e| format!("{}{:+.3}", if e.added { "+" } else { "-" }, e.t - t_kill))
            .collect();
        eprintln!(
            "  node1 address events around SIGKILL: {}",
            refreshes.join(" ")
        );
    }
    // Cross-check the event view with `ip addr` once.
    let ip_view = run.bed.has_addr(&run.bed.nodes[0], &vip);
    if ip_view != left.is_none() {
        return Err(run.fail(&format!(
            "address events and ip addr disagree on node1 (ip addr: {ip_view})"
        )));
    }
    Ok(Crash {
        left_after: left,
        takeover,
        two_holders: two,
        window,
    })
}

pub use crate::footprint::{Footprint, footprint};
