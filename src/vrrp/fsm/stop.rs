//! Leaving: shutdown (a graceful handover) and release (at once).

use std::time::Duration;

use super::{Action, Instance, State, TransitionReason};
use crate::vrrp::priority::STOP;
use crate::vrrp::timers::master_down_interval;

impl Instance {
    /// Shutdown event. A master sends priority 0 and keeps its addresses until a successor's
    /// advert arrives or `Master_Down_Interval` has passed (design.md principle 5), then stops.
    pub fn handle_shutdown(&mut self, now: Duration) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.faulting = false;
        if self.state == State::Master {
            self.send_advert(STOP);
            self.adver_timer = None;
            self.handover_timer =
                Some(now + master_down_interval(self.priority, self.cfg.advert_interval));
        } else {
            self.finish_stop(now);
        }
    }

    /// Leave at once, without waiting for a successor: the virtual router is being deleted on
    /// every node, so nobody will take over. A master still sends priority 0 first.
    pub fn handle_release(&mut self, now: Duration) {
        if self.state == State::Master && !self.stopping {
            self.send_advert(STOP);
        }
        self.finish_stop(now);
    }

    pub(super) fn finish_stop(&mut self, now: Duration) {
        self.faulting = false;
        if self.state == State::Master {
            self.actions.push_back(Action::RemoveVips);
            self.holds_leftover = false;
        }
        self.drop_leftover();
        self.clear_timers();
        self.link.cancel();
        self.stopping = true;
        if self.state != State::Initialize {
            self.enter(now, State::Initialize, TransitionReason::Shutdown);
        }
        self.actions.push_back(Action::Stopped);
    }
}
