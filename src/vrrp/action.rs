//! What the state machine reports: its states, why it changed state, and the actions it asks its
//! driver to carry out, in order.

use std::fmt;

use super::packet::Advert;

/// RFC 5798 §6.4 states, plus Fault (interface down or a weight-0 tracker down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Monitoring the master.
    Backup,
    /// Forwarding for the virtual addresses.
    Master,
    /// Cannot serve: link down or a critical tracker failed.
    Fault,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why a transition happened; logged, exported in metrics and written to status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TransitionReason {
    /// Started as a backup.
    Startup,
    /// Priority 255: takes over at once (RFC 5798 §6.4.1).
    AddressOwner,
    /// Master_Down_Timer fired: no advert heard from a master for Master_Down_Interval.
    MasterDown,
    /// The master sent priority 0 and this backup took over after Skew_Time.
    MasterLeft,
    /// This backup waited preempt_delay and preempted a lower-priority master.
    PreemptDelayElapsed,
    /// Heard a master with higher priority (or equal priority and a higher address).
    HigherPriorityMaster,
    /// The interface went down.
    LinkDown,
    /// A weight-0 tracker failed.
    TrackerFault,
    /// Fault cleared; rejoined as at startup.
    FaultCleared,
    /// Another member of its sync group faulted, or is outranked (this one follows it).
    SyncGroup,
    /// Shut down (priority 0 sent first if master).
    Shutdown,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What the instance asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement to the group (or the unicast peers).
    Send(Advert),
    /// Install the virtual addresses on the interface.
    AddVips,
    /// Remove the virtual addresses from the interface.
    RemoveVips,
    /// A burst of gratuitous ARP / unsolicited neighbour advertisements for every virtual
    /// address: on takeover, on the schedule that follows it ([`super::garp`]), and (at most
    /// once a second) when another master is heard.
    Announce,
    /// Refresh the kernel lifetime of the installed virtual addresses (with the master's
    /// adverts, see [`super::timers::VIP_REFRESH`]).
    RefreshVips,
    /// The state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: TransitionReason,
    },
    /// Shutdown has completed: nothing more will be asked.
    Stopped,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Send(ad) => write!(
                f,
                "send priority={} interval_cs={}",
                ad.priority, ad.interval_cs
            ),
            Action::AddVips => f.write_str("add_vips"),
            Action::RemoveVips => f.write_str("remove_vips"),
            Action::Announce => f.write_str("announce"),
            Action::RefreshVips => f.write_str("refresh_vips"),
            Action::StateChanged { from, to, reason } => write!(f, "state {from}->{to} {reason}"),
            Action::Stopped => f.write_str("stopped"),
        }
    }
}
