//! `kube-vrrp simulate`: an election and a failover on the virtual clock, printed as a story.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{Event, Lan};
use crate::duration::format;
use crate::vrrp::timers::{master_down_interval, skew_time};
use crate::vrrp::{Auth, InstanceConfig, State, Version};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Number of routers (2..=200).
    pub nodes: usize,
    /// Advertisement interval.
    pub advert_interval: Duration,
    /// Protocol version.
    pub version: Version,
    /// When the master dies.
    pub kill_at: Duration,
    /// Loss in percent, per delivery.
    pub loss_percent: u32,
    /// Whether the master leaves gracefully (SIGTERM, priority 0) instead of dying.
    pub graceful: bool,
}

/// Priorities of the demo routers: 150, 140, 130, ... (never below 1).
fn priority_of(i: usize) -> u8 {
    150u8.saturating_sub((i as u8).saturating_mul(10)).max(1)
}

/// Run the scenario; returns the printed story.
pub fn run(opts: &DemoOptions) -> String {
    let mut out = String::new();
    let vip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 100));
    let mut lan = Lan::new(42);
    lan.loss_ppm = opts.loss_percent * 10_000;
    for i in 0..opts.nodes {
        let cfg = InstanceConfig {
            vrid: 51,
            version: opts.version,
            priority: priority_of(i),
            advert_interval: opts.advert_interval,
            preempt: true,
            preempt_delay: Duration::ZERO,
            addresses: vec![vip],
            auth: Auth::None,
            primary: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11 + i as u8)),
            startup_delay: Duration::ZERO,
            link_debounce: Default::default(),
            // keepalived's defaults: a second burst 5 s after the takeover.
            announce: crate::vrrp::AnnounceTiming {
                delay: Duration::from_secs(5),
                refresh: Duration::ZERO,
            },
            // The simulated LAN's addresses have no kernel lifetime.
            vip_refresh: None,
            unicast_peers: Vec::new(),
            max_advert_interval: None,
        };
        lan.add(&format!("node{}", i + 1), cfg);
    }
    let _ = writeln!(
        out,
        "simulated LAN: {} routers, VRRP{} vrid 51, VIP {vip}, advert {}, loss {}%",
        opts.nodes,
        if opts.version == Version::V2 { 2 } else { 3 },
        format(opts.advert_interval),
        opts.loss_percent
    );
    for node in &lan.nodes {
        let _ = writeln!(out, "  {} priority {}", node.name, node.instance.priority());
    }
    for i in 0..opts.nodes {
        lan.start(i);
    }
    lan.run_until(opts.kill_at);
    let masters = lan.masters();
    let Some(&master) = masters.first() else {
        let _ = writeln!(out, "no master elected by {}", format(opts.kill_at));
        return out;
    };
    print_events(&mut out, &lan, 0);
    let _ = writeln!(
        out,
        "election: {} is master ({} master(s) at t={})",
        lan.nodes[master].name,
        masters.len(),
        secs(opts.kill_at)
    );
    let seen = lan.events.len();
    let kill_at = lan.now();
    let interval = opts.advert_interval;
    let name = lan.nodes[master].name.clone();
    if opts.graceful {
        let _ = writeln!(
            out,
            "t={} {name} shuts down (sends priority 0)",
            secs(kill_at)
        );
        lan.shutdown(master);
    } else {
        let _ = writeln!(out, "t={} {name} dies", secs(kill_at));
        lan.kill(master);
    }
    // Heard by the backups when the master died; a graceful stop is heard a delay later.
    let heard_before: Vec<Option<Duration>> = lan.nodes.iter().map(|n| n.last_heard).collect();
    lan.run_until(kill_at + interval * 10);
    print_events(&mut out, &lan, seen);
    if let Some((at, node)) = lan.first_master_since(kill_at) {
        let prio = lan.nodes[node].instance.priority();
        let (from, what, bound_name, bound) = if opts.graceful {
            (
                kill_at + lan.delay,
                "the priority-0 advert",
                "Skew_Time",
                skew_time(prio, interval),
            )
        } else {
            let last = heard_before[node].unwrap_or(kill_at);
            (
                last,
                "the last advert it heard",
                "Master_Down_Interval",
                master_down_interval(prio, interval),
            )
        };
        let _ = writeln!(
            out,
            "failover: {} took over {} after {what} ({bound_name} for priority {prio} = {})",
            lan.nodes[node].name,
            secs(at.saturating_sub(from)),
            secs(bound)
        );
    } else {
        let _ = writeln!(out, "failover: no new master");
    }
    out
}

fn print_events(out: &mut String, lan: &Lan, from: usize) {
    for event in &lan.events[from..] {
        if let Event::Transition {
            at,
            node,
            from,
            to,
            reason,
        } = event
        {
            if *to == State::Backup && *from == State::Initialize {
                continue;
            }
            let _ = writeln!(
                out,
                "t={} {} {from} -> {to} ({reason})",
                secs(*at),
                lan.nodes[*node].name
            );
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.6}s", d.as_secs_f64())
}
