//! The instance's side of a sync group (see [`crate::vrrp::sync`]): what it reports, and what
//! it does with the group's input.

use std::time::Duration;

use super::{Instance, TransitionReason};
use crate::vrrp::sync::{GroupInput, MemberView};

impl Instance {
    /// What this instance reports to its sync group.
    pub fn view(&self) -> MemberView {
        let running = self.started && !self.stopping;
        MemberView {
            running,
            own_fault: running && (!self.link.is_up() || self.tracker_fault),
            adjustment: self.own_adjustment,
        }
    }

    /// The sync group's input changed. `fault`: be in Fault (a master sends priority 0 first)
    /// until it clears; `adjustment`: the lowest tracker adjustment of the other members, which
    /// applies here too when it is lower than this instance's own.
    pub fn handle_group(&mut self, now: Duration, input: GroupInput) {
        let before = self.group;
        self.group = input;
        if input.adjustment != before.adjustment {
            self.apply_adjustment();
        }
        if input.fault != before.fault {
            self.update_fault(now, TransitionReason::SyncGroup);
        }
    }
}
