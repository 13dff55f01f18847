//! The driver of one virtual router: feeds the pure engine with packets, link events, tracker
//! changes and time, and carries out its actions on the host (send, addresses, announcements).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

mod host;

pub use super::command::{Command, Received};
pub mod io;
#[cfg(test)]
mod tests;

pub use io::{HostIo, NetHost, Via};

use super::deadline::{EngineTimer, Timers};
use super::notify::Notifier;
use super::sync::SyncGroup;
use crate::metrics::Metrics;
use crate::net::netlink::Link;
use crate::net::socket::group_for;
use crate::status::{AdvertCounters, FailedAction, StatusStore};
use crate::track::Contribution;
use crate::translate::RouterConfig;
use crate::vrrp::sync::MemberView;
use crate::vrrp::timers::vip_lifetime;
use crate::vrrp::{Action, Advert, Instance, State};

/// What a driver needs from the host: its I/O (`io`) and the process's shared parts.
#[derive(Clone, Debug)]
pub struct Host<H> {
    /// Sends, addresses and announcements.
    pub io: H,
    /// Metrics.
    pub metrics: Metrics,
    /// Status for /status.
    pub status: StatusStore,
    /// The engine's time zero.
    pub epoch: Instant,
    /// When the pass that started this instance began: the instances started together start
    /// their engines at this one instant, so that their deadlines coincide and share the
    /// process's wake-ups (keepalived starts every instance with one time).
    pub started: Instant,
    /// The shared deadline timer (tokio's timers if it could not be had).
    pub timers: Option<Timers>,
    /// The sync group this instance belongs to on this node, if any.
    pub group: Option<SyncGroup>,
    /// The virtual MAC interface (`spec.virtualMac`), if any: the VIPs live there.
    pub vmac: Option<Link>,
}

struct Driver<H> {
    cfg: RouterConfig,
    host: Host<H>,
    link: Link,
    inst: Instance,
    holding: bool,
    /// Rounds of the current burst still to send, and when the next one is due (paced, see
    /// `send_frames`).
    rounds_left: u32,
    next_round: Instant,
    stopped: bool,
    /// The latest time given to the engine: its clock never runs backwards.
    last_now: Duration,
    /// The master last written to the status.
    published_master: Option<IpAddr>,
    /// The notify hooks' queue.
    notifier: Notifier,
    /// What was last reported to the sync group.
    reported: MemberView,
    /// This instance's advert counters in the status store.
    adverts: Arc<AdvertCounters>,
    /// Link events were missed ([`Command::Link`] `None`): read the link before the next turn.
    links_missed: bool,
}

/// Run one virtual router until it is told to shut down (or its channel closes). `trackers` is
/// the trackers' combined state to start with; changes arrive as [`Command::Trackers`].
/// `leftover`: an earlier run left this router's VIPs installed; they stay (with a fresh
/// lifetime) while it rejoins, until the engine says otherwise.
///
/// Not an `async fn`: the driver is built here and moved into the task's future once, where an
/// `async fn` would keep its arguments beside the driver made of them (the task of each of 255
/// instances was that much bigger).
pub fn run<H: HostIo>(
    cfg: RouterConfig,
    host: Host<H>,
    link: Link,
    trackers: Contribution,
    leftover: bool,
    rx: mpsc::Receiver<Command>,
) -> impl std::future::Future<Output = ()> {
    let inst = Instance::new(cfg.instance.clone());
    let notifier = Notifier::start(&cfg.name, &cfg.notify, &host.metrics);
    let adverts = host.status.advert_counters(&cfg.name);
    let d = Driver {
        adverts,
        notifier,
        reported: MemberView::default(),
        cfg,
        host,
        link,
        inst,
        holding: false,
        rounds_left: 0,
        next_round: Instant::now(),
        stopped: false,
        last_now: Duration::ZERO,
        published_master: None,
        links_missed: false,
    };
    drive(Box::new(d), trackers, leftover, rx)
}

/// The driver is boxed: a by-value argument would be stored twice in the future (the argument
/// and the local rustc moves it into).
async fn drive<H: HostIo>(
    mut d: Box<Driver<H>>,
    trackers: Contribution,
    leftover: bool,
    mut rx: mpsc::Receiver<Command>,
) {
    let mut timer = EngineTimer::new(d.host.timers.as_ref(), d.cfg.instance.advert_interval);
    d.publish_config();
    let now = d.seen_at(d.host.started);
    d.apply_trackers(now, trackers);
    d.inst.handle_link(now, d.link.up);
    if leftover {
        tracing::info!(
            vip = d.name(),
            "keeping the VIP an earlier run left while rejoining"
        );
        d.holding = true;
        d.refresh_vips();
        d.inst.handle_startup_holding(now);
    } else {
        d.inst.handle_startup(now);
    }
    loop {
        if d.links_missed {
            d.links_missed = false;
            Box::pin(d.reread_link()).await;
        }
        d.execute().await;
        d.report_to_group();
        if d.stopped {
            // The stop hook (and any still queued) may finish; the engine is done.
            let bound = d.notifier.timeout() + Duration::from_secs(1);
            // Boxed, here and below: rare paths whose futures would otherwise size every
            // instance's task (255 instances: memory is a benchmark target).
            Box::pin(d.notifier.finish(bound)).await;
            break;
        }
        timer.set(d.inst.poll_timeout().map(|t| d.host.epoch + t));
        tokio::select! {
            // Adverts before time: one that arrived before the deadline must count.
            biased;
            cmd = rx.recv() => match cmd {
                Some(cmd) => d.command(cmd),
                None => {
                    let now = d.now();
                    d.inst.handle_shutdown(now)
                }
            },
            fired = timer.fired() => d.timeout(fired, &mut rx).await,
            // Last: the rest of a big burst, one round every ROUND_GAP. In a block, so that
            // the timer is made only when the branch is enabled (select! builds every
            // branch's future on each turn).
            () = async { sleep_until(d.next_round).await }, if d.rounds_left > 0 => {
                d.rounds_left -= 1;
                d.next_round = Instant::now() + host::ROUND_GAP;
                if d.holding {
                    d.send_round();
                } else {
                    d.rounds_left = 0;
                }
            }
        }
    }
}

fn join(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl<H: HostIo> Driver<H> {
    /// The engine's current time, never earlier than a time it was already given.
    fn now(&mut self) -> Duration {
        self.seen_at(Instant::now())
    }

    /// `at` in engine time, but not before a time the engine was already given.
    fn seen_at(&mut self, at: Instant) -> Duration {
        self.last_now = self
            .last_now
            .max(at.saturating_duration_since(self.host.epoch));
        self.last_now
    }

    /// The engine's deadline passed, as seen at `fired` (the instant shared by every deadline
    /// of that expiry: the next deadlines they set coincide too). Adverts that arrived just
    /// before it are handled first (one pass of the runtime lets the listener hand them
    /// over): at 10 ms adverts the next backup's deadline is only 0.39 ms behind the one
    /// taking over.
    async fn timeout(&mut self, fired: Instant, rx: &mut mpsc::Receiver<Command>) {
        if self.inst.state() == State::Backup {
            tokio::task::yield_now().await;
            while let Ok(cmd) = rx.try_recv() {
                self.command(cmd);
            }
        }
        let now = self.seen_at(fired);
        self.inst.handle_timeout(now);
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Advert(received) => {
                let Received {
                    src,
                    advert,
                    arrived,
                } = *received;
                let now = self.seen_at(arrived);
                match self.inst.handle_advert(now, src, &advert) {
                    Ok(accepted) => {
                        self.adverts.received();
                        if accepted.address_mismatch {
                            let conflict = format!(
                                "router {src} advertises vrid {} on {} with addresses {} (ours: {})",
                                advert.vrid,
                                self.cfg.interface,
                                join(&advert.addresses),
                                join(&self.cfg.instance.addresses)
                            );
                            self.host.status.update(&self.cfg.name, |s| {
                                s.counters.address_mismatches += 1;
                                s.conflict = Some(conflict);
                            });
                        }
                        // Formatted only when it changes: this runs on every advert.
                        let master = self.inst.master();
                        if master != self.published_master {
                            self.published_master = master;
                            let master = master.map(|m| m.to_string());
                            self.host
                                .status
                                .update(&self.cfg.name, |s| s.master = master);
                        }
                    }
                    Err(reason) => {
                        // Counted once, here; /metrics adds it to the interface's discards.
                        self.host.status.update(&self.cfg.name, |s| {
                            *s.counters
                                .discards
                                .entry(reason.as_str().to_string())
                                .or_default() += 1;
                        });
                        tracing::trace!(vip = self.name(), %src, %reason, "advert discarded");
                    }
                }
            }
            // An advert is judged at its arrival (above); the rest now.
            Command::Trackers { adjustment, fault } => {
                let now = self.now();
                self.apply_trackers(now, Contribution { adjustment, fault });
            }
            Command::Group(input) => {
                let now = self.now();
                let before = self.inst.priority();
                self.inst.handle_group(now, input);
                self.publish_priority(before, None);
            }
            Command::Link(Some(link)) => self.link_changed(&link),
            // Read after this turn (the read is asynchronous).
            Command::Link(None) => self.links_missed = true,
            Command::Shutdown => {
                let now = self.now();
                self.inst.handle_shutdown(now);
            }
            Command::Release => {
                let now = self.now();
                self.inst.handle_release(now);
            }
        }
    }

    /// Feed the trackers' combined state to the engine and publish the effective priority.
    fn apply_trackers(&mut self, now: Duration, trackers: Contribution) {
        let before = self.inst.priority();
        self.inst
            .handle_priority_adjustment(now, trackers.adjustment);
        self.inst.handle_tracker_fault(now, trackers.fault);
        self.publish_priority(before, Some(trackers.adjustment));
    }

    /// Link events were missed: read the link's state directly.
    async fn reread_link(&mut self) {
        if let Ok(all) = self.host.io.links().await
            && let Some(link) = all.into_iter().find(|l| l.index == self.link.index)
        {
            self.link_changed(&link);
        }
    }

    fn link_changed(&mut self, link: &Link) {
        let up = link.up && link.present;
        if up != self.link.up {
            tracing::info!(vip = self.name(), interface = %self.cfg.interface, up, "link changed");
        }
        self.link.up = up;
        let now = self.now();
        self.inst.handle_link(now, up);
    }

    /// Carry out every pending action of the engine.
    async fn execute(&mut self) {
        let mut refresh = false;
        while let Some(action) = self.inst.poll_action() {
            match action {
                Action::Send(advert) => self.send(&advert).await,
                Action::AddVips => {
                    Box::pin(self.vmac_up(true)).await;
                    self.holding = true;
                    self.refresh_vips();
                }
                Action::RemoveVips => {
                    self.holding = false;
                    self.rounds_left = 0;
                    for vip in self.cfg.vips.clone() {
                        if let Err(e) = self.host.io.remove_vip(self.vip_link().index, vip) {
                            self.action_error(FailedAction::RemoveVip, &e.to_string());
                        }
                    }
                    Box::pin(self.vmac_up(false)).await;
                }
                Action::Announce => {
                    if self.holding {
                        self.send_frames();
                    }
                }
                Action::RefreshVips => refresh = true,
                Action::StateChanged { from, to, reason } => self.state_changed(from, to, reason),
                Action::Stopped => self.stopped = true,
            }
        }
        if refresh && self.holding {
            // After every advert of this turn: the masters woken together send their adverts
            // back to back, then refresh (a netlink round trip each), so the backups receive a
            // burst they read a batch at a time rather than one advert per wake-up. A yield
            // runs the other woken tasks first; the lifetime has seconds to spare.
            tokio::task::yield_now().await;
            if self.holding {
                self.refresh_vips();
            }
        }
    }

    async fn send(&mut self, advert: &Advert) {
        let src = self.cfg.instance.primary;
        if self.cfg.instance.unicast_peers.is_empty() {
            return self.send_to(advert, group_for(src)).await;
        }
        // One peer list serves every node, so it may name this node itself: skip it.
        let peers = self.cfg.instance.unicast_peers.clone();
        for dst in peers.into_iter().filter(|p| *p != src) {
            self.send_to(advert, dst).await;
        }
    }

    async fn send_to(&mut self, advert: &Advert, dst: IpAddr) {
        let src = self.cfg.instance.primary;
        match advert.encode_with(src, dst, self.cfg.checksum) {
            Ok(bytes) => match self.send_bytes(&bytes, dst).await {
                Ok(()) => {
                    self.adverts.sent();
                }
                // A down link refuses sends; the link monitor moves us to Fault.
                Err(e) => self.action_error(FailedAction::Send, &e.to_string()),
            },
            Err(e) => self.action_error(FailedAction::Encode, &e.to_string()),
        }
    }

    /// Install (or refresh the lifetime of) every VIP. A master refreshes with an advert at most
    /// every `VIP_REFRESH` (900 ms), so this stays off the heap unless a request fails.
    fn refresh_vips(&mut self) {
        let lifetime = vip_lifetime(self.cfg.instance.advert_interval);
        let link = self.vip_link();
        let failed: Vec<String> = self
            .cfg
            .vips
            .iter()
            .filter_map(|vip| self.host.io.install_vip(link, *vip, lifetime).err())
            .map(|e| e.to_string())
            .collect();
        for e in failed {
            self.action_error(FailedAction::InstallVip, &e);
        }
    }
}

impl<H> Drop for Driver<H> {
    fn drop(&mut self) {
        // Dropped without a clean stop (task aborted): nothing else to do; the kernel lifetime
        // removes the VIPs. A clean stop has removed them already.
        if self.holding {
            tracing::warn!(vip = %self.cfg.name, "driver stopped while holding its addresses; their lifetime will remove them");
        }
    }
}
