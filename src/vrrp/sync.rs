//! Sync groups (keepalived's `vrrp_sync_group`): the virtual routers of one group on one node
//! fail over together, so the node is master of all of them or of none (the classic case: the
//! front VIP and the back gateway VIP of an LVS/NAT router). Pure rule: from what each member
//! reports ([`MemberView`]), what each member is told ([`GroupInput`]). The agent carries the
//! views and inputs between the members' tasks; [`super::Instance::handle_group`] applies an
//! input.
//!
//! - A member in Fault of its own (its link, a weight-0 tracker) puts every other member in
//!   Fault (reason `SyncGroup`; a master sends priority 0 first, so the peers take over after
//!   Skew_Time), until no member has a fault of its own.
//! - Tracker weights act on the whole group: each member runs with the lowest adjustment of
//!   any member (keepalived's group tracking). A tracker that lowers one member's priority
//!   below another node's lowers the others' by as much, so the other node takes all of them.
//!   With equal base priorities per node this keeps the node master of all or none; the
//!   priorities themselves stay per VirtualIP.

/// What one member reports to its group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberView {
    /// Whether the member runs (started, not stopping); a stopped member counts for nothing.
    pub running: bool,
    /// A fault of its own: its link is down or a weight-0 tracker is down.
    pub own_fault: bool,
    /// Its own trackers' adjustment.
    pub adjustment: i32,
}

/// What the group tells one member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupInput {
    /// Another member has a fault of its own: be in Fault too.
    pub fault: bool,
    /// The lowest adjustment of the other running members (none when there is no other).
    pub adjustment: Option<i32>,
}

/// The input of every member, in the order of `views`: each from the others' views.
pub fn group_inputs(views: &[MemberView]) -> Vec<GroupInput> {
    (0..views.len())
        .map(|i| {
            let mut input = GroupInput::default();
            for (_, v) in views
                .iter()
                .enumerate()
                .filter(|(j, v)| *j != i && v.running)
            {
                input.fault |= v.own_fault;
                input.adjustment = Some(
                    input
                        .adjustment
                        .map_or(v.adjustment, |a| a.min(v.adjustment)),
                );
            }
            input
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(own_fault: bool, adjustment: i32) -> MemberView {
        MemberView {
            running: true,
            own_fault,
            adjustment,
        }
    }

    #[test]
    fn each_member_follows_the_others_not_itself() {
        let inputs = group_inputs(&[view(true, 0), view(false, -60), view(false, 10)]);
        assert_eq!(
            inputs,
            [
                GroupInput {
                    fault: false,
                    adjustment: Some(-60)
                },
                GroupInput {
                    fault: true,
                    adjustment: Some(0)
                },
                GroupInput {
                    fault: true,
                    adjustment: Some(-60)
                },
            ]
        );
        let stopped = MemberView {
            running: false,
            ..view(true, -100)
        };
        assert_eq!(
            group_inputs(&[stopped, view(false, 0)])[1],
            GroupInput::default()
        );
    }
}
