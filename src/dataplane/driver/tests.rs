//! The driver with a fake host and paused time: what it does to the host and reports, for
//! the engine's actions (the engine itself is tested by the conformance transcripts).

use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::io::{HostIo, Via};
use super::{Command, Host, Received, run};
use crate::address::Prefixed;
use crate::metrics::Metrics;
use crate::net::netlink::{Link, NetlinkError};
use crate::status::{FailedAction, InstanceStatus, ReportedState, StatusStore};
use crate::translate::{InterfaceFacts, NodeFacts, RouterConfig, parse_prefixed, translate};
use crate::vrrp::{Advert, Auth, TransitionReason, Version};

/// One thing the driver did to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// An advert with this priority, to this destination.
    Sent(u8, IpAddr),
    Announced(IpAddr),
    Installed(IpAddr),
    Removed(IpAddr),
}

#[derive(Clone, Default)]
struct FakeHost {
    ops: Arc<Mutex<Vec<Op>>>,
    fail_sends: bool,
    /// What a direct read of the links finds.
    links: Arc<Mutex<Vec<Link>>>,
}

impl FakeHost {
    fn ops(&self) -> Vec<Op> {
        self.ops.lock().expect("ops").clone()
    }
    fn record(&self, op: Op) {
        self.ops.lock().expect("ops").push(op);
    }
}

impl HostIo for FakeHost {
    async fn send_advert(&self, _via: Via, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        if self.fail_sends {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        // RFC 5798 §5.1: the priority is the third octet.
        self.record(Op::Sent(bytes[2], dst));
        Ok(())
    }
    fn announce(&self, _via: Via, vip: IpAddr) -> io::Result<()> {
        self.record(Op::Announced(vip));
        Ok(())
    }
    fn install_vip(&self, _: &Link, vip: Prefixed, _: Duration) -> Result<(), NetlinkError> {
        self.record(Op::Installed(vip.addr));
        Ok(())
    }
    fn remove_vip(&self, _: u32, vip: Prefixed) -> Result<(), NetlinkError> {
        self.record(Op::Removed(vip.addr));
        Ok(())
    }
    async fn set_vmac_up(&self, _: bool) -> Result<(), NetlinkError> {
        Ok(())
    }
    async fn links(&self) -> Result<Vec<Link>, NetlinkError> {
        Ok(self.links.lock().expect("links").clone())
    }
}

const VIP: &str = "198.51.100.100";
const OURS: &str = "198.51.100.11";
const PEER: &str = "198.51.100.12";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// A VirtualIP on eth0 at priority 100, 1 s adverts (and `extra` spec lines).
fn config(extra: &str) -> RouterConfig {
    let doc = format!("vrid: 51\naddresses: [{VIP}/32]\ninterface: eth0\n{extra}");
    let spec: crate::spec::VirtualIpSpec = serde_saphyr::from_str(&doc).expect("spec");
    let node = NodeFacts {
        name: "n1".into(),
        labels: Default::default(),
        interfaces: vec![InterfaceFacts {
            name: "eth0".into(),
            addresses: vec![parse_prefixed(&format!("{OURS}/24")).expect("address")],
        }],
    };
    translate("web", &spec, &node, &|_| Err("no secrets".into()))
        .expect("translates")
        .expect("runs on n1")
}

struct Started {
    host: FakeHost,
    status: StatusStore,
    tx: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Started {
    fn status(&self) -> InstanceStatus {
        self.status
            .snapshot()
            .into_iter()
            .find(|s| s.name == "web")
            .expect("status of web")
    }
    async fn advert(&self, from: &str, priority: u8) {
        let advert = Advert {
            version: Version::V3,
            vrid: 51,
            priority,
            interval_cs: 100,
            addresses: vec![ip(VIP)],
            auth: Auth::None,
        };
        self.tx
            .send(Command::Advert(Box::new(Received {
                src: ip(from),
                advert,
                arrived: tokio::time::Instant::now(),
            })))
            .await
            .expect("driver runs");
        // Let the driver take it.
        sleep(Duration::from_millis(1)).await;
    }
}

/// The instance's link (index 7), up or down.
fn eth0(up: bool) -> Link {
    Link {
        index: 7,
        name: "eth0".into(),
        mac: vec![2, 0, 0, 0, 0, 1],
        up,
        present: true,
    }
}

fn start(cfg: RouterConfig, host: FakeHost) -> Started {
    let status = StatusStore::default();
    let link = eth0(true);
    let h = Host {
        io: host.clone(),
        metrics: Metrics::new(),
        status: status.clone(),
        epoch: Instant::now(),
        started: Instant::now(),
        timers: None,
        group: None,
        vmac: None,
    };
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(run(cfg, h, link, Default::default(), false, rx));
    Started {
        host,
        status,
        tx,
        task,
    }
}

fn group() -> IpAddr {
    ip("224.0.0.18")
}

#[tokio::test(start_paused = true)]
async fn a_backup_that_hears_nothing_installs_announces_then_advertises() {
    let s = start(config(""), FakeHost::default());
    sleep(Duration::from_millis(3500)).await;
    assert_eq!(s.status().state, ReportedState::Backup);
    assert!(s.host.ops().is_empty(), "{:?}", s.host.ops());
    // Master_Down_Interval for priority 100 at 1 s: 3.609375 s.
    sleep(Duration::from_millis(200)).await;
    let ops = s.host.ops();
    let vip = ip(VIP);
    assert_eq!(
        ops[..7],
        [
            Op::Installed(vip),
            Op::Announced(vip),
            Op::Announced(vip),
            Op::Announced(vip),
            Op::Announced(vip),
            Op::Announced(vip),
            Op::Sent(100, group()),
        ],
        "addresses, the announcement burst, then the advert: {ops:?}"
    );
    let st = s.status();
    assert_eq!(st.state, ReportedState::Master);
    assert_eq!(st.master, Some(OURS.to_string()));
    assert_eq!(st.counters.adverts_sent, 1);
}

#[tokio::test(start_paused = true)]
async fn a_master_refreshes_its_vips_with_each_advert() {
    let s = start(config(""), FakeHost::default());
    sleep(Duration::from_millis(3700)).await;
    let before = s.host.ops().len();
    sleep(Duration::from_secs(3)).await;
    let later: Vec<Op> = s.host.ops().split_off(before);
    let vip = ip(VIP);
    assert_eq!(
        later,
        [
            Op::Sent(100, group()),
            Op::Installed(vip),
            Op::Sent(100, group()),
            Op::Installed(vip),
            Op::Sent(100, group()),
            Op::Installed(vip),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_higher_priority_master_takes_the_vips_away() {
    let s = start(config(""), FakeHost::default());
    sleep(Duration::from_millis(3700)).await;
    s.advert(PEER, 200).await;
    assert_eq!(s.host.ops().last(), Some(&Op::Removed(ip(VIP))));
    let st = s.status();
    assert_eq!(st.state, ReportedState::Backup);
    assert_eq!(st.master, Some(PEER.to_string()));
    assert_eq!(st.reason, Some(TransitionReason::HigherPriorityMaster));
    assert_eq!(st.counters.adverts_received, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_over_with_priority_zero_then_removes_and_stops() {
    let s = start(config(""), FakeHost::default());
    sleep(Duration::from_millis(3700)).await;
    s.tx.send(Command::Shutdown).await.expect("driver runs");
    sleep(Duration::from_millis(1)).await;
    assert_eq!(s.host.ops().last(), Some(&Op::Sent(0, group())));
    // A successor's advert ends the handover at once.
    s.advert(PEER, 90).await;
    assert_eq!(s.host.ops().last(), Some(&Op::Removed(ip(VIP))));
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .expect("the driver stops")
        .expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_is_counted_and_the_master_keeps_its_vips() {
    let host = FakeHost {
        fail_sends: true,
        ..Default::default()
    };
    let s = start(config(""), host);
    sleep(Duration::from_secs(6)).await;
    let st = s.status();
    assert_eq!(st.state, ReportedState::Master);
    assert_eq!(st.counters.adverts_sent, 0);
    assert!(
        st.counters.action_errors[&FailedAction::Send] >= 3,
        "{:?}",
        st.counters
    );
    assert!(s.host.ops().contains(&Op::Installed(ip(VIP))));
}

#[tokio::test(start_paused = true)]
async fn unicast_adverts_go_to_each_peer_and_strangers_are_discarded() {
    let s = start(
        config(&format!("unicastPeers: [{OURS}, {PEER}, 198.51.100.13]\n")),
        FakeHost::default(),
    );
    sleep(Duration::from_millis(3700)).await;
    let sent: Vec<Op> = s
        .host
        .ops()
        .into_iter()
        .filter(|o| matches!(o, Op::Sent(..)))
        .collect();
    assert_eq!(
        sent,
        [Op::Sent(100, ip(PEER)), Op::Sent(100, ip("198.51.100.13"))],
        "to every peer but ourselves"
    );
    s.advert("198.51.100.99", 200).await;
    let st = s.status();
    assert_eq!(
        st.state,
        ReportedState::Master,
        "a stranger changes nothing"
    );
    assert_eq!(st.counters.discards.get("not_from_peer"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn link_events_arrive_as_commands_and_missed_ones_are_read_anew() {
    let s = start(config(""), FakeHost::default());
    sleep(Duration::from_millis(3700)).await;
    assert_eq!(s.status().state, ReportedState::Master);
    s.tx.send(Command::Link(Some(Box::new(eth0(false)))))
        .await
        .expect("driver runs");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(s.status().state, ReportedState::Fault);
    assert!(s.host.ops().contains(&Op::Removed(ip(VIP))));
    // Events were missed: the driver reads the link, finds it up again, and rejoins.
    s.host.links.lock().expect("links").push(eth0(true));
    s.tx.send(Command::Link(None)).await.expect("driver runs");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(s.status().state, ReportedState::Backup);
}

#[tokio::test]
async fn the_forwarder_hands_a_links_events_to_its_instances_and_missed_ones_to_all() {
    use super::super::command::{LinkSubscribers, forward_links};
    let (events, _) = tokio::sync::broadcast::channel(2);
    let subscribers = LinkSubscribers::default();
    let (on7, mut rx7) = mpsc::channel(8);
    let (on8, mut rx8) = mpsc::channel(8);
    subscribers.add(7, on7);
    subscribers.add(8, on8.clone());
    let task = tokio::spawn(forward_links(events.subscribe(), subscribers.clone()));
    events.send(eth0(false)).expect("a receiver");
    let Some(Command::Link(Some(link))) = rx7.recv().await else {
        panic!("link 7's event for link 7's instance");
    };
    assert_eq!((link.index, link.up), (7, false));
    assert!(rx8.try_recv().is_err(), "not for link 8's instance");
    // Three events into a broadcast of two before the forwarder runs again: it lagged, and
    // every instance is told to read its link anew.
    for _ in 0..3 {
        events.send(eth0(true)).expect("a receiver");
    }
    assert!(matches!(rx7.recv().await, Some(Command::Link(None))));
    assert!(matches!(rx8.recv().await, Some(Command::Link(None))));
    // A stopped instance is told nothing more.
    subscribers.remove(&on8);
    while rx7.try_recv().is_ok() {}
    let mut other = eth0(false);
    other.index = 8;
    events.send(other).expect("a receiver");
    events.send(eth0(true)).expect("a receiver");
    assert!(matches!(rx7.recv().await, Some(Command::Link(Some(_)))));
    assert!(rx8.try_recv().is_err());
    drop(events);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("ends with the broadcast")
        .expect("no panic");
}
