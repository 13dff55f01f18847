//! Fault: the link (debounced, see [`crate::vrrp::link`]), weight-0 trackers and the sync
//! group take an instance out of the election and back in.

use std::time::Duration;

use super::{Action, Instance, State, TransitionReason};
use crate::vrrp::link::LinkReport;
use crate::vrrp::priority::STOP;
use crate::vrrp::timers::master_down_interval;

impl Instance {
    /// A weight-0 tracker went down (`true`) or came back (`false`).
    pub fn handle_tracker_fault(&mut self, now: Duration, fault: bool) {
        self.tracker_fault = fault;
        self.update_fault(now, TransitionReason::TrackerFault);
    }

    /// The interface's link went down (`false`) or came back (`true`). Before the start the
    /// state is taken as is; after it, a change takes effect once it has lasted
    /// `link_debounce` (at once with no delay). A master whose link comes back within the
    /// delay announces its addresses again: the switch may have forgotten where they are.
    pub fn handle_link(&mut self, now: Duration, up: bool) {
        if !self.started {
            self.link.set(up);
            return;
        }
        match self.link.report(now, up) {
            LinkReport::Changed(_) => self.update_fault(now, TransitionReason::LinkDown),
            LinkReport::Absorbed if self.state == State::Master && up => self.announce_again(now),
            LinkReport::Absorbed | LinkReport::Pending | LinkReport::Unchanged => {}
        }
    }

    pub(super) fn update_fault(&mut self, now: Duration, reason: TransitionReason) {
        let link_down = !self.link.is_up();
        let faulty = link_down || self.tracker_fault || self.group.fault;
        if !self.started || self.stopping {
            return;
        }
        match (self.state, faulty) {
            (State::Fault, false) => self.join(now, TransitionReason::FaultCleared),
            (State::Fault, true) | (State::Initialize, _) => {}
            (State::Master, true) if link_down => {
                // Nothing can be sent or heard: leave at once.
                self.faulting = false;
                self.actions.push_back(Action::RemoveVips);
                self.enter(now, State::Fault, reason);
            }
            (State::Master, true) => {
                // A tracker (or sync group) fault with the link up: tell the backups (priority
                // 0: they take over after Skew_Time) and keep the addresses until the
                // successor's first advert, at most Master_Down_Interval, as a shutdown does
                // (design.md principle 5): the client sees no gap. A kube-proxy keeps serving a
                // terminating endpoint meanwhile.
                if !self.faulting {
                    self.faulting = true;
                    self.send_advert(STOP);
                    self.adver_timer = None;
                    self.handover_timer =
                        Some(now + master_down_interval(self.priority, self.cfg.advert_interval));
                }
            }
            (State::Master, false) if self.faulting => {
                // Healthy again before anyone took over: carry on as master.
                self.faulting = false;
                self.handover_timer = None;
                self.send_advert(self.priority);
                self.adver_timer = Some(now + self.cfg.advert_interval);
            }
            (State::Backup, true) => {
                self.drop_leftover();
                self.enter(now, State::Fault, reason);
            }
            (_, false) => {}
        }
    }

    /// The end of a fault handover: the successor spoke, or nobody did in time.
    pub(super) fn finish_fault(&mut self, now: Duration) {
        self.faulting = false;
        self.actions.push_back(Action::RemoveVips);
        let reason = if self.tracker_fault || !self.group.fault {
            TransitionReason::TrackerFault
        } else {
            TransitionReason::SyncGroup
        };
        self.enter(now, State::Fault, reason);
    }
}
