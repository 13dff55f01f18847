//! A simulated LAN: several [`Instance`]s on one virtual clock, exchanging encoded adverts with
//! configurable delay, loss and partitions. Deterministic (seeded); used by the tests and by
//! `kube-vrrp simulate`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::Duration;

pub mod demo;

use crate::vrrp::packet::{MULTICAST_V4, MULTICAST_V6};
use crate::vrrp::{Action, Advert, Instance, InstanceConfig, State, TransitionReason};

/// Something that happened on the LAN, for assertions and for printing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A node changed state.
    Transition {
        /// When.
        at: Duration,
        /// Node index.
        node: usize,
        /// Old state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: TransitionReason,
    },
    /// A node installed (`true`) or removed (`false`) the virtual addresses.
    Vips {
        /// When.
        at: Duration,
        /// Node index.
        node: usize,
        /// Installed or removed.
        held: bool,
    },
}

/// One simulated router.
#[derive(Debug)]
pub struct Node {
    /// Name for printing.
    pub name: String,
    /// The engine.
    pub instance: Instance,
    /// False after [`Lan::kill`]: the node neither sends nor receives.
    pub alive: bool,
    /// Whether the node currently holds the virtual addresses.
    pub holds_vips: bool,
    /// Partition group; nodes only hear nodes of the same group.
    pub group: u32,
    /// Adverts this node sent.
    pub sent: u64,
    /// When this node last accepted an advert.
    pub last_heard: Option<Duration>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Duration,
    seq: u64,
    to: usize,
    from_addr: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

/// The virtual LAN.
#[derive(Debug)]
pub struct Lan {
    /// The routers.
    pub nodes: Vec<Node>,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
    /// One-way delivery delay.
    pub delay: Duration,
    /// Loss probability in parts per million, applied per delivery.
    pub loss_ppm: u32,
    now: Duration,
    queue: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    rng: u64,
}

impl Lan {
    /// An empty LAN with a 100 µs delay, no loss, and a fixed seed.
    pub fn new(seed: u64) -> Lan {
        Lan {
            nodes: Vec::new(),
            events: Vec::new(),
            delay: Duration::from_micros(100),
            loss_ppm: 0,
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            seq: 0,
            rng: seed | 1,
        }
    }

    /// Add a router; returns its index.
    pub fn add(&mut self, name: &str, cfg: InstanceConfig) -> usize {
        self.nodes.push(Node {
            name: name.to_string(),
            instance: Instance::new(cfg),
            alive: true,
            holds_vips: false,
            group: 0,
            sent: 0,
            last_heard: None,
        });
        self.nodes.len() - 1
    }

    /// Current virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Start a node now.
    pub fn start(&mut self, node: usize) {
        let now = self.now;
        self.nodes[node].alive = true;
        self.nodes[node].instance.handle_startup(now);
        self.drain(node);
    }

    /// Bring a node back as a freshly started router (after [`Lan::kill`] or a shutdown).
    pub fn restart(&mut self, node: usize) {
        let cfg = self.nodes[node].instance.config().clone();
        self.nodes[node].instance = Instance::new(cfg);
        self.nodes[node].last_heard = None;
        self.start(node);
    }

    /// Node loss: it stops at once, sends nothing more, and its addresses die with it.
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].alive = false;
        if self.nodes[node].holds_vips {
            self.nodes[node].holds_vips = false;
            let at = self.now;
            self.events.push(Event::Vips {
                at,
                node,
                held: false,
            });
        }
    }

    /// Graceful shutdown of a node (SIGTERM).
    pub fn shutdown(&mut self, node: usize) {
        let now = self.now;
        self.nodes[node].instance.handle_shutdown(now);
        self.drain(node);
    }

    /// Change a node's tracker adjustment.
    pub fn adjust_priority(&mut self, node: usize, adjustment: i32) {
        let now = self.now;
        self.nodes[node]
            .instance
            .handle_priority_adjustment(now, adjustment);
        self.drain(node);
    }

    /// Put each node in a partition group; nodes hear only their own group.
    pub fn partition(&mut self, groups: &[u32]) {
        for (node, group) in self.nodes.iter_mut().zip(groups) {
            node.group = *group;
        }
    }

    /// Remove every partition.
    pub fn heal(&mut self) {
        for node in &mut self.nodes {
            node.group = 0;
        }
    }

    /// Run the LAN until `until` (inclusive), processing deliveries and timers in time order.
    pub fn run_until(&mut self, until: Duration) {
        // Bounded: every step advances time or consumes a queued event; cap the count anyway.
        for _ in 0..50_000_000u64 {
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.alive)
                .filter_map(|(i, n)| n.instance.poll_timeout().map(|t| (t, i)))
                .min();
            let next_delivery = self.queue.peek().map(|Reverse(d)| d.at);
            let step = match (next_timer, next_delivery) {
                (Some((t, _)), Some(d)) => t.min(d),
                (Some((t, _)), None) => t,
                (None, Some(d)) => d,
                (None, None) => break,
            };
            if step > until {
                break;
            }
            self.now = self.now.max(step);
            if next_delivery == Some(step) {
                if let Some(Reverse(d)) = self.queue.pop() {
                    self.deliver(d);
                }
            } else if let Some((_, node)) = next_timer {
                let now = self.now;
                self.nodes[node].instance.handle_timeout(now);
                self.drain(node);
            }
        }
        self.now = self.now.max(until);
    }

    /// Indices of nodes in Master state (alive only).
    pub fn masters(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.alive && n.instance.state() == State::Master)
            .map(|(i, _)| i)
            .collect()
    }

    /// Indices of nodes holding the virtual addresses.
    pub fn vip_holders(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.holds_vips)
            .map(|(i, _)| i)
            .collect()
    }

    /// The first transition into Master at or after `after`, as (time, node).
    pub fn first_master_since(&self, after: Duration) -> Option<(Duration, usize)> {
        self.events.iter().find_map(|e| match e {
            Event::Transition {
                at,
                node,
                to: State::Master,
                ..
            } if *at >= after => Some((*at, *node)),
            _ => None,
        })
    }

    fn deliver(&mut self, d: Delivery) {
        let node = &mut self.nodes[d.to];
        if !node.alive {
            return;
        }
        if let Ok(advert) = Advert::decode(&d.bytes, d.from_addr, d.dst) {
            let now = self.now;
            // Discards are the engine's business here; the simulator only delivers.
            if node
                .instance
                .handle_advert(now, d.from_addr, &advert)
                .is_ok()
            {
                node.last_heard = Some(now);
            }
            self.drain(d.to);
        }
    }

    fn drain(&mut self, node: usize) {
        while let Some(action) = self.nodes[node].instance.poll_action() {
            let at = self.now;
            match action {
                Action::Send(advert) => self.broadcast(node, &advert),
                Action::AddVips | Action::RemoveVips => {
                    let held = action == Action::AddVips;
                    if self.nodes[node].holds_vips != held {
                        self.nodes[node].holds_vips = held;
                        self.events.push(Event::Vips { at, node, held });
                    }
                }
                Action::StateChanged { from, to, reason } => self.events.push(Event::Transition {
                    at,
                    node,
                    from,
                    to,
                    reason,
                }),
                Action::Announce | Action::RefreshVips | Action::Stopped => {}
            }
        }
    }

    fn broadcast(&mut self, from: usize, advert: &Advert) {
        if !self.nodes[from].alive {
            return;
        }
        self.nodes[from].sent += 1;
        let src = self.nodes[from].instance.config().primary;
        let dst = match src {
            IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
            IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
        };
        let Ok(bytes) = advert.encode(src, dst) else {
            return;
        };
        let group = self.nodes[from].group;
        for to in 0..self.nodes.len() {
            if to == from || self.nodes[to].group != group || self.lost() {
                continue;
            }
            self.seq += 1;
            self.queue.push(Reverse(Delivery {
                at: self.now + self.delay,
                seq: self.seq,
                to,
                from_addr: src,
                dst,
                bytes: bytes.clone(),
            }));
        }
    }

    /// xorshift64: deterministic loss without a random-number crate.
    fn lost(&mut self) -> bool {
        if self.loss_ppm == 0 {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1_000_000) < u64::from(self.loss_ppm)
    }
}
