//! N engines on a virtual clock with delay, loss and partitions (src/sim): the protocol-level
//! properties of issue 2, exact to the nanosecond because the clock is virtual.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use kube_vrrp::sim::{Event, Lan};
use kube_vrrp::vrrp::timers::{master_down_interval, skew_time};
use kube_vrrp::vrrp::{Auth, InstanceConfig, State, TransitionReason, Version};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 100));

fn cfg(i: u8, priority: u8, interval: Duration) -> InstanceConfig {
    InstanceConfig {
        vrid: 51,
        version: Version::V3,
        priority,
        advert_interval: interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        addresses: vec![VIP],
        auth: Auth::None,
        primary: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + i)),
        startup_delay: Duration::ZERO,
        link_debounce: Default::default(),
        announce: Default::default(),
        vip_refresh: None,
        unicast_peers: Vec::new(),
        max_advert_interval: None,
    }
}

fn lan(priorities: &[u8], interval: Duration) -> Lan {
    let mut lan = Lan::new(7);
    for (i, p) in priorities.iter().enumerate() {
        lan.add(&format!("n{i}"), cfg(i as u8, *p, interval));
    }
    for i in 0..priorities.len() {
        lan.start(i);
    }
    lan
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn exactly_one_master_after_convergence() {
    for n in 2..=8u8 {
        let priorities: Vec<u8> = (0..n).map(|i| 100 + i * 10).collect();
        let mut lan = lan(&priorities, secs(1.0));
        lan.run_until(secs(10.0));
        assert_eq!(
            lan.masters(),
            vec![usize::from(n) - 1],
            "{n} nodes: highest priority wins"
        );
        assert_eq!(lan.vip_holders(), vec![usize::from(n) - 1]);
    }
    // Equal priorities: the highest primary address wins.
    let mut lan = lan(&[100, 100, 100], secs(1.0));
    lan.run_until(secs(10.0));
    assert_eq!(lan.masters(), vec![2]);
}

#[test]
fn one_master_and_one_holder_under_loss() {
    // 30% loss per delivery for a minute: after the loss stops, one master within a few intervals.
    let mut lan = lan(&[150, 100, 50], secs(0.1));
    lan.loss_ppm = 300_000;
    lan.run_until(secs(60.0));
    lan.loss_ppm = 0;
    lan.run_until(secs(61.0));
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.vip_holders(), vec![0]);
}

/// Kill the master and check the takeover happens exactly Master_Down_Interval after the last
/// advert the successor heard.
fn node_loss_at(interval: Duration) {
    let mut lan = lan(&[200, 150, 100], interval);
    lan.run_until(interval * 50);
    assert_eq!(lan.masters(), vec![0]);
    let killed_at = lan.now() + interval / 3;
    lan.run_until(killed_at);
    lan.kill(0);
    let last_heard = lan.nodes[1].last_heard.expect("node 1 heard the master");
    lan.run_until(killed_at + interval * 10);
    let (at, node) = lan.first_master_since(killed_at).expect("a new master");
    assert_eq!(node, 1, "the next priority takes over");
    assert_eq!(
        at - last_heard,
        master_down_interval(150, interval),
        "to the tick"
    );
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.vip_holders(), vec![1]);
}

#[test]
fn node_loss_failover_at_master_down_interval_1s() {
    node_loss_at(secs(1.0));
}

#[test]
fn node_loss_failover_at_master_down_interval_100ms() {
    node_loss_at(secs(0.1));
}

#[test]
fn node_loss_failover_at_master_down_interval_10ms() {
    node_loss_at(secs(0.01));
}

#[test]
fn priority_zero_handover_within_skew_time() {
    for interval in [secs(1.0), secs(0.1), secs(0.01)] {
        let mut lan = lan(&[200, 150, 100], interval);
        lan.run_until(interval * 50);
        let t = lan.now();
        lan.shutdown(0);
        lan.run_until(t + interval * 10);
        let (at, node) = lan.first_master_since(t).expect("a new master");
        assert_eq!(node, 1);
        assert_eq!(at - t, lan.delay + skew_time(150, interval));
        assert!(at - t < interval, "handover within one interval");
        // The old master kept the VIP until it heard its successor: never zero holders.
        let released = lan.events.iter().find_map(|e| match e {
            Event::Vips {
                at,
                node: 0,
                held: false,
            } => Some(*at),
            _ => None,
        });
        assert_eq!(released, Some(at + lan.delay));
        assert_eq!(lan.vip_holders(), vec![1]);
        assert_eq!(lan.nodes[0].instance.state(), State::Initialize);
    }
}

#[test]
fn split_brain_heals_within_one_advert_interval() {
    let interval = secs(1.0);
    let mut lan = lan(&[200, 150, 100], interval);
    lan.run_until(secs(10.0));
    lan.partition(&[1, 2, 2]);
    lan.run_until(secs(20.0));
    assert_eq!(lan.masters(), vec![0, 1], "each side elects its own master");
    let healed = lan.now();
    lan.heal();
    lan.run_until(healed + interval);
    assert_eq!(
        lan.masters(),
        vec![0],
        "one master one interval after healing"
    );
    assert_eq!(lan.vip_holders(), vec![0]);
    let stepped_down = lan.events.iter().any(|e| {
        matches!(e, Event::Transition { at, node: 1, to: State::Backup, reason: TransitionReason::HigherPriorityMaster, .. } if *at > healed)
    });
    assert!(stepped_down);
}

#[test]
fn preempt_returns_mastership_to_higher_priority() {
    let mut lan = lan(&[200, 150], secs(1.0));
    lan.run_until(secs(10.0));
    lan.kill(0);
    lan.run_until(secs(20.0));
    assert_eq!(lan.masters(), vec![1]);
    lan.restart(0);
    lan.run_until(secs(30.0));
    assert_eq!(lan.masters(), vec![0], "the higher priority preempts");
    assert_eq!(lan.vip_holders(), vec![0]);
}

#[test]
fn nopreempt_holds_against_returning_higher_priority() {
    let mut lan = Lan::new(3);
    let mut high = cfg(0, 200, secs(1.0));
    high.preempt = false;
    let mut low = cfg(1, 150, secs(1.0));
    low.preempt = false;
    lan.add("high", high);
    lan.add("low", low);
    lan.start(0);
    lan.start(1);
    lan.run_until(secs(10.0));
    assert_eq!(lan.masters(), vec![0]);
    lan.kill(0);
    lan.run_until(secs(20.0));
    assert_eq!(lan.masters(), vec![1]);
    lan.restart(0);
    lan.run_until(secs(120.0));
    assert_eq!(
        lan.masters(),
        vec![1],
        "nopreempt: the returning higher priority stays backup"
    );
    assert_eq!(lan.vip_holders(), vec![1]);
}

#[test]
fn preempt_delay_is_respected() {
    let mut lan = Lan::new(5);
    let mut high = cfg(0, 200, secs(1.0));
    high.preempt_delay = secs(15.0);
    lan.add("high", high);
    lan.add("low", cfg(1, 150, secs(1.0)));
    lan.start(1);
    lan.run_until(secs(10.0));
    assert_eq!(lan.masters(), vec![1]);
    let started = lan.now();
    lan.start(0);
    lan.run_until(started + secs(30.0));
    let (at, node) = lan
        .first_master_since(started)
        .expect("preempted eventually");
    assert_eq!(node, 0);
    // It first heard the low master within one interval of starting, and waited 15 s from then.
    assert!(at >= started + secs(15.0), "not before the delay: {at:?}");
    assert!(
        at <= started + secs(16.0) + lan.delay,
        "right after the delay: {at:?}"
    );
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn owner_takes_over_immediately_on_return() {
    let mut lan = lan(&[255, 150], secs(1.0));
    lan.run_until(secs(1.0));
    assert_eq!(lan.masters(), vec![0], "an owner does not wait");
    lan.kill(0);
    lan.run_until(secs(10.0));
    assert_eq!(lan.masters(), vec![1]);
    let t = lan.now();
    lan.restart(0);
    lan.run_until(t + secs(0.001));
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(
        lan.vip_holders(),
        vec![0],
        "the backup stepped down on the owner's first advert"
    );
}
