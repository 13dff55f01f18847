//! The peer part's runner: every system on its own bed, one thread each, at the same time;
//! the steady state measured by all together (a barrier), then the repetitions, then the API
//! server outage.

use std::time::{Duration, Instant};

use crate::peer_scenarios::{
    PeerOpts, PeerResult, kill9, node_loss, outage, planned_stop, settle, steady,
};
use crate::peers::{Peer, PeerCluster};
use crate::watch::Watch;

/// Run a scenario, turning a panic (a failed `ip` command in the bed) into an error.
fn guard<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into()))
    })
}

/// Run every scenario for `peer`: start, settle, wait at `barrier` for the others (the steady
/// state is measured by all at the same time), then the repetitions, then the outage.
pub fn run_peer(
    peer: Peer,
    o: &PeerOpts,
    barrier: &std::sync::Barrier,
    log: &(dyn Fn(&str) + Sync),
) -> PeerResult {
    let started = Instant::now();
    let mut r = PeerResult {
        peer,
        loss: Vec::new(),
        stop: Vec::new(),
        kill: Vec::new(),
        outage: None,
        steady: None,
        failures: Vec::new(),
    };
    let setup = guard(|| PeerCluster::start(peer).and_then(|c| settle(&c).map(|h| (c, h))));
    barrier.wait();
    let mut c = match setup {
        Ok((c, h)) => {
            log(&format!(
                "{}: up, the client reaches node{}",
                peer.name(),
                h + 1
            ));
            c
        }
        Err(e) => {
            log(&format!("{}: setup FAILED: {}", peer.name(), first(&e)));
            r.failures.push(format!("setup: {e}"));
            return r;
        }
    };
    // Quiet for a moment after the elections, then the steady state (all systems together).
    std::thread::sleep(Duration::from_secs(5));
    let st = steady(&c, o.steady);
    log(&format!(
        "{}: steady {:.0} s: {} API requests ({} writes), CPU {:.1} ms/min per node, RSS {:.1} MiB; {:?}",
        peer.name(),
        st.secs,
        st.requests,
        st.writes,
        st.cpu_ms_min,
        st.rss,
        st.by_kind
    ));
    r.steady = Some(st);
    let nss: Vec<String> = c.bed.nodes.iter().map(|n| n.ns.clone()).collect();
    let watch = match Watch::start(&nss, &c.bed.switch) {
        Ok(w) => w,
        Err(e) => {
            r.failures.push(format!("watchers: {e}"));
            return r;
        }
    };
    let window = 22.0;
    for rep in 0..o.reps {
        if started.elapsed() > o.budget {
            r.failures
                .push(format!("budget spent: stopped after {rep} repetitions"));
            break;
        }
        match guard(|| node_loss(&mut c)) {
            Ok(s) => {
                log(&format!(
                    "{} node loss #{rep}: client gap {:.3} s, {} lost{}",
                    peer.name(),
                    s.gap,
                    s.lost,
                    if s.resumed { "" } else { ", NOT BACK" }
                ));
                r.loss.push(s);
            }
            Err(e) => fail(&mut r, "node loss", rep, &e, log),
        }
        match guard(|| planned_stop(&mut c)) {
            Ok(s) => {
                log(&format!(
                    "{} planned stop #{rep}: client gap {:.3} s, {} lost",
                    peer.name(),
                    s.gap,
                    s.lost
                ));
                r.stop.push(s);
            }
            Err(e) => fail(&mut r, "planned stop", rep, &e, log),
        }
        // A VIP that stays after kill -9 stays every time (nothing removes it): 3 runs show it.
        let stayed = r.kill.iter().filter(|k| k.residue.is_none()).count();
        if peer.holds_address() && stayed >= 3 && stayed == r.kill.len() {
            continue;
        }
        match guard(|| kill9(&mut c, &watch, window)) {
            Ok(k) => {
                log(&format!(
                    "{} kill -9 #{rep}: client gap {:.3} s, {} lost, residue {:?}, two holders {:.3} s",
                    peer.name(),
                    k.seen.gap,
                    k.seen.lost,
                    k.residue,
                    k.two_holders
                ));
                r.kill.push(k);
            }
            Err(e) => fail(&mut r, "kill -9", rep, &e, log),
        }
    }
    drop(watch);
    match guard(|| outage(&mut c, o.outage)) {
        Ok(x) => {
            log(&format!(
                "{} API server down {:.0} s: {} pings lost (gap {:.3} s); node loss during it: {}",
                peer.name(),
                x.secs,
                x.lost_before_cut,
                x.gap_before_cut,
                x.failover
                    .map(|t| format!("client back after {t:.3} s"))
                    .unwrap_or_else(|| format!("no failover within {:.0} s", x.waited))
            ));
            r.outage = Some(x);
        }
        Err(e) => fail(&mut r, "API outage", 0, &e, log),
    }
    r
}

fn first(e: &str) -> String {
    e.lines().take(3).collect::<Vec<_>>().join(" | ")
}

fn fail(r: &mut PeerResult, what: &str, rep: usize, e: &str, log: &(dyn Fn(&str) + Sync)) {
    log(&format!(
        "{} {what} #{rep} FAILED: {}",
        r.peer.name(),
        first(e)
    ));
    r.failures.push(format!("{what} #{rep}: {e}"));
}

/// Run `peers` at the same time, one thread each.
pub fn run_all(peers: &[Peer], o: &PeerOpts, log: &(dyn Fn(&str) + Sync)) -> Vec<PeerResult> {
    let barrier = std::sync::Barrier::new(peers.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = peers
            .iter()
            .map(|&p| {
                let barrier = &barrier;
                s.spawn(move || run_peer(p, o, barrier, log))
            })
            .collect();
        handles
            .into_iter()
            .zip(peers)
            .map(|(h, &p)| {
                h.join().unwrap_or_else(|_| PeerResult {
                    peer: p,
                    loss: Vec::new(),
                    stop: Vec::new(),
                    kill: Vec::new(),
                    outage: None,
                    steady: None,
                    failures: vec!["panic".into()],
                })
            })
            .collect()
    })
}
