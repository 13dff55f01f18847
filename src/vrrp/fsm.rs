//! The VRRP state machine of one virtual router (RFC 5798 §6.4), sans-IO.
//!
//! Inputs are `handle_*` calls carrying the current time; outputs are [`Action`]s taken with
//! [`Instance::poll_action`] and the next deadline from [`Instance::poll_timeout`]. The caller
//! calls [`Instance::handle_timeout`] once that deadline has passed.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

pub use super::action::{Action, State, TransitionReason};
use super::garp::{AnnounceTiming, GarpSchedule};
use super::link::{DebouncedLink, LinkDebounce};
use super::packet::{Advert, Auth, Version};
use super::priority::{self, OWNER};
use super::sync::GroupInput;
use super::timers::{join_down_interval, master_down_interval, to_centis};

mod advert;
mod fault;
mod group;
mod stop;

/// What one virtual router is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Base priority, 1..=255 (255 = address owner).
    pub priority: u8,
    /// Advertisement_Interval; centisecond-exact (whole seconds for v2).
    pub advert_interval: Duration,
    /// Preempt_Mode: a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// keepalived's preempt_delay: how long a backup tolerates a lower-priority master it has
    /// heard before preempting it.
    pub preempt_delay: Duration,
    /// The virtual addresses.
    pub addresses: Vec<IpAddr>,
    /// v2 authentication.
    pub auth: Auth,
    /// This router's primary address on the interface: the advert source and the tie-breaker.
    pub primary: IpAddr,
    /// keepalived's `vrrp_startup_delay`: the instance joins no earlier than this engine time.
    /// The agent's engine clock starts with the process, so this is a delay after the agent
    /// starts; an instance started later (a VirtualIP added or changed) joins at once.
    pub startup_delay: Duration,
    /// keepalived's `interface_up_down_delays`: how long a link change must last before the
    /// instance acts on it.
    pub link_debounce: LinkDebounce,
    /// When a master announces its addresses after the takeover burst.
    pub announce: AnnounceTiming,
    /// Refresh the addresses' kernel lifetime with the adverts at most this often (`None`:
    /// they have no lifetime to refresh).
    pub vip_refresh: Option<Duration>,
    /// Unicast peers: adverts from any other source are discarded (empty: multicast).
    pub unicast_peers: Vec<IpAddr>,
    /// Adverts announcing a longer interval are discarded (`spec.maxAdvertInterval`): a
    /// forged advert cannot stretch the backups' Master_Down_Interval.
    pub max_advert_interval: Option<Duration>,
}

/// One virtual router.
#[derive(Debug)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    /// Current effective priority (base adjusted by trackers).
    priority: u8,
    /// Master_Adver_Interval: the interval the current master advertises (v3 backups adopt it).
    master_adver_interval: Duration,
    adver_timer: Option<Duration>,
    master_down_timer: Option<Duration>,
    /// Set while a lower-priority master is tolerated under preempt_delay.
    preempt_timer: Option<Duration>,
    /// Set while a leaving master waits for its successor's advert.
    handover_timer: Option<Duration>,
    /// Whether the master down timer was last set by a priority-0 advert.
    master_left: bool,
    master: Option<IpAddr>,
    /// The interface's link, debounced.
    link: DebouncedLink,
    /// Set while the start waits for `startup_delay`.
    startup_timer: Option<Duration>,
    /// The sync group's input (see [`super::sync`]).
    group: GroupInput,
    /// This instance's own tracker adjustment (the group may lower what applies).
    own_adjustment: i32,
    tracker_fault: bool,
    started: bool,
    stopping: bool,
    /// A master whose weight-0 tracker failed (or whose sync group faulted): it has sent
    /// priority 0 and keeps its addresses until its successor advertises (at most
    /// Master_Down_Interval), then enters Fault.
    faulting: bool,
    /// The addresses are installed although this instance is not master: a previous run of the
    /// agent left them (it was killed while master) and this one started holding them.
    holds_leftover: bool,
    /// The announcement schedule while master.
    garp: GarpSchedule,
    /// When the addresses' lifetime was last refreshed (installed or refreshed).
    last_refresh: Option<Duration>,
    since: Duration,
    actions: VecDeque<Action>,
}

impl Instance {
    /// A new instance in Initialize; nothing happens until [`Instance::handle_startup`].
    pub fn new(cfg: InstanceConfig) -> Instance {
        let priority = cfg.priority;
        let master_adver_interval = cfg.advert_interval;
        let link = DebouncedLink::new(cfg.link_debounce);
        let garp = GarpSchedule::new(cfg.announce);
        Instance {
            garp,
            last_refresh: None,
            cfg,
            state: State::Initialize,
            priority,
            master_adver_interval,
            adver_timer: None,
            master_down_timer: None,
            preempt_timer: None,
            handover_timer: None,
            master_left: false,
            master: None,
            link,
            startup_timer: None,
            group: GroupInput::default(),
            own_adjustment: 0,
            tracker_fault: false,
            started: false,
            stopping: false,
            faulting: false,
            holds_leftover: false,
            since: Duration::ZERO,
            actions: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Current effective priority.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Address of the current master as last heard (ours when master), if known.
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }

    /// When the current state was entered.
    pub fn since(&self) -> Duration {
        self.since
    }

    /// Master_Adver_Interval as currently in force.
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest pending deadline; call [`Instance::handle_timeout`] when it has passed.
    pub fn poll_timeout(&self) -> Option<Duration> {
        [
            self.adver_timer,
            self.master_down_timer,
            self.preempt_timer,
            self.handover_timer,
            self.startup_timer,
            self.link.deadline(),
            self.garp.next_burst(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Startup event (RFC 5798 §6.4.1).
    pub fn handle_startup(&mut self, now: Duration) {
        if self.started {
            return;
        }
        self.started = true;
        if now < self.cfg.startup_delay {
            // Nothing is held while waiting: addresses a killed run left go now (they would
            // outlive their kernel lifetime unrefreshed anyway).
            self.drop_leftover();
            self.startup_timer = Some(self.cfg.startup_delay);
            return;
        }
        self.join(now, TransitionReason::Startup);
    }

    /// Startup while the addresses are still installed by a previous run that was killed while
    /// master (the agent restarted at once). They stay while this instance rejoins, so that
    /// clients keep reaching the VIP until another router takes over: removed the moment
    /// another master is heard (`RemoveVips`), adopted if this instance becomes master, removed
    /// on Fault or shutdown. Removing them at once instead left no holder until the next master
    /// took over (Master_Down_Interval after the killed master's last advert).
    pub fn handle_startup_holding(&mut self, now: Duration) {
        if self.started {
            return;
        }
        self.holds_leftover = true;
        self.handle_startup(now);
    }

    /// Give up addresses held from a previous run, if any.
    fn drop_leftover(&mut self) {
        if self.holds_leftover {
            self.holds_leftover = false;
            self.actions.push_back(Action::RemoveVips);
        }
    }

    /// Join the virtual router from Initialize or Fault, as at startup.
    fn join(&mut self, now: Duration, reason: TransitionReason) {
        if !self.link.is_up() || self.tracker_fault || self.group.fault {
            self.drop_leftover();
            let why = if !self.link.is_up() {
                TransitionReason::LinkDown
            } else if self.tracker_fault {
                TransitionReason::TrackerFault
            } else {
                TransitionReason::SyncGroup
            };
            self.enter(now, State::Fault, why);
            return;
        }
        if self.priority == OWNER {
            self.become_master(now, TransitionReason::AddressOwner);
        } else {
            self.become_backup(now, self.cfg.advert_interval, reason);
            // Until a master is heard, wait with a skew that orders nodes starting a few
            // milliseconds apart (timers.rs, join_down_interval).
            self.master_down_timer =
                Some(now + join_down_interval(self.priority, self.cfg.advert_interval));
        }
    }

    /// Time has passed the deadline from [`Instance::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.garp.next_burst().is_some_and(|t| t <= now) {
            self.actions.push_back(Action::Announce);
            self.garp.burst_sent(now);
        }
        if self.handover_timer.is_some_and(|t| t <= now) {
            if self.stopping {
                self.finish_stop(now);
            } else {
                self.finish_fault(now);
            }
            return;
        }
        if self.link.poll(now).is_some() {
            self.update_fault(now, TransitionReason::LinkDown);
        }
        if self.startup_timer.is_some_and(|t| t <= now) {
            self.startup_timer = None;
            self.join(now, TransitionReason::Startup);
            return;
        }
        match self.state {
            State::Backup => {
                if self.master_down_timer.is_some_and(|t| t <= now) {
                    let reason = if self.master_left {
                        TransitionReason::MasterLeft
                    } else {
                        TransitionReason::MasterDown
                    };
                    self.become_master(now, reason);
                } else if self.preempt_timer.is_some_and(|t| t <= now) {
                    self.become_master(now, TransitionReason::PreemptDelayElapsed);
                }
            }
            State::Master => {
                if self.adver_timer.is_some_and(|t| t <= now) {
                    self.send_advert(self.priority);
                    self.adver_timer = Some(now + self.cfg.advert_interval);
                    self.refresh_with_advert(now);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// The trackers' adjustment changed (base adjusted by tracker weights; see
    /// [`priority::effective`]; in a sync group the lowest adjustment of its members applies).
    /// Takes effect in the next advert and timer.
    pub fn handle_priority_adjustment(&mut self, _now: Duration, adjustment: i32) {
        self.own_adjustment = adjustment;
        self.apply_adjustment();
    }

    fn apply_adjustment(&mut self) {
        let adjustment = match self.group.adjustment {
            Some(group) => self.own_adjustment.min(group),
            None => self.own_adjustment,
        };
        self.priority = priority::effective(self.cfg.priority, adjustment);
    }

    fn become_master(&mut self, now: Duration, reason: TransitionReason) {
        self.clear_timers();
        // Addresses held from a previous run are adopted: AddVips below installs them anew.
        self.holds_leftover = false;
        // Addresses first, then the announcement, then the advert (RFC 5798 §6.4.2 lists the
        // advert first; the order inside one instant does not change the protocol). A master
        // that hears another one re-announces (master_heard), so the last announcement the LAN
        // hears must be the rightful master's: when two backups take over at once (10 ms
        // adverts: their timers are 0.39 ms apart per 10 priority points) the loser's
        // announcement has to go out before its advert triggers the winner's re-announcement.
        // With the advert first, a client was left pointing at the loser for 5 s (bench run).
        self.actions.push_back(Action::AddVips);
        self.last_refresh = Some(now);
        self.actions.push_back(Action::Announce);
        self.garp.took_over(now);
        self.send_advert(self.priority);
        self.adver_timer = Some(now + self.cfg.advert_interval);
        self.master = Some(self.cfg.primary);
        self.enter(now, State::Master, reason);
    }

    /// The advert just queued carries a lifetime refresh when one is due (see
    /// [`crate::vrrp::timers::VIP_REFRESH`]).
    fn refresh_with_advert(&mut self, now: Duration) {
        let Some(every) = self.cfg.vip_refresh else {
            return;
        };
        if self
            .last_refresh
            .is_none_or(|t| now.saturating_sub(t) >= every)
        {
            self.actions.push_back(Action::RefreshVips);
            self.last_refresh = Some(now);
        }
    }

    /// Another master was heard, or the link came back within its debounce: announce again
    /// so that neighbours point back at us (keepalived's garp_lower_prio_repeat), at most one
    /// burst a second, so that a flood of adverts cannot become a flood of announcements.
    pub(super) fn announce_again(&mut self, now: Duration) {
        if self.garp.extra_allowed(now) {
            self.actions.push_back(Action::Announce);
        }
    }

    fn become_backup(&mut self, now: Duration, interval: Duration, reason: TransitionReason) {
        self.clear_timers();
        self.master_adver_interval = interval;
        self.master_down_timer = Some(now + master_down_interval(self.priority, interval));
        self.master = None;
        self.enter(now, State::Backup, reason);
    }

    fn send_advert(&mut self, priority: u8) {
        self.actions.push_back(Action::Send(Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            interval_cs: to_centis(self.cfg.advert_interval),
            addresses: self.cfg.addresses.clone(),
            auth: self.cfg.auth.clone(),
        }));
    }

    fn clear_timers(&mut self) {
        self.adver_timer = None;
        self.master_down_timer = None;
        self.preempt_timer = None;
        self.handover_timer = None;
        self.startup_timer = None;
        self.master_left = false;
    }

    fn enter(&mut self, now: Duration, to: State, reason: TransitionReason) {
        if to != State::Master && to != State::Backup {
            self.master = None;
        }
        if to == State::Fault {
            self.clear_timers();
        }
        let from = self.state;
        if to != State::Master {
            self.garp.stop();
        }
        self.state = to;
        self.since = now;
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }
}
