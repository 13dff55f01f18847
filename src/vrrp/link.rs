//! The link as the engine acts on it: the kernel's link reports filtered through the debounce
//! delays (keepalived's `interface_up_down_delays`). Pure state plus one deadline; the instance
//! ([`super::fsm::Instance`]) owns it and reports its deadline with its other timers.
//!
//! A change takes effect only once the link has stayed in its new state for the delay of that
//! direction; a report of the old state before then cancels it, so a flapping link that comes
//! back within `down` never takes a master to Fault (a blip), and one that keeps flapping within
//! `up` never rejoins.

use std::time::Duration;

/// How long a link change must last before the engine acts on it. Zero (the default) acts at
/// once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinkDebounce {
    /// Delay before a link that went down puts the instance in Fault.
    pub down: Duration,
    /// Delay before a link that came back takes the instance out of Fault.
    pub up: Duration,
}

/// What a link report did to the state the engine acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkReport {
    /// The effective state changed at once (no delay for that direction).
    Changed(bool),
    /// A change is pending: it takes effect at [`DebouncedLink::deadline`] unless cancelled.
    Pending,
    /// The link returned to its effective state before the delay ran out: a blip, absorbed.
    Absorbed,
    /// Nothing changed (the report repeats the state already acted on or pending).
    Unchanged,
}

/// The effective link state and the change pending, if any.
#[derive(Clone, Debug)]
pub struct DebouncedLink {
    delays: LinkDebounce,
    up: bool,
    /// The state last reported, when it differs from `up`, and when it takes effect.
    pending: Option<(bool, Duration)>,
}

impl DebouncedLink {
    /// An up link with these delays.
    pub fn new(delays: LinkDebounce) -> DebouncedLink {
        DebouncedLink {
            delays,
            up: true,
            pending: None,
        }
    }

    /// The state the engine acts on.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Take this state at once, without delay (before the instance starts: the link as found).
    pub fn set(&mut self, up: bool) {
        self.up = up;
        self.pending = None;
    }

    /// The kernel reported the link `up` (or down) at `now`.
    pub fn report(&mut self, now: Duration, up: bool) -> LinkReport {
        if up == self.up {
            return match self.pending.take() {
                Some(_) => LinkReport::Absorbed,
                None => LinkReport::Unchanged,
            };
        }
        if self.pending.is_some() {
            return LinkReport::Unchanged;
        }
        let delay = if up { self.delays.up } else { self.delays.down };
        if delay.is_zero() {
            self.up = up;
            return LinkReport::Changed(up);
        }
        self.pending = Some((up, now + delay));
        LinkReport::Pending
    }

    /// When the pending change takes effect, if one is pending.
    pub fn deadline(&self) -> Option<Duration> {
        self.pending.map(|(_, at)| at)
    }

    /// Apply the pending change if its time has come; returns the new state.
    pub fn poll(&mut self, now: Duration) -> Option<bool> {
        match self.pending {
            Some((up, at)) if at <= now => {
                self.pending = None;
                self.up = up;
                Some(up)
            }
            _ => None,
        }
    }

    /// Forget a pending change (the instance stopped).
    pub fn cancel(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_blip_shorter_than_the_delay_is_absorbed() {
        let mut l = DebouncedLink::new(LinkDebounce { down: 2 * S, up: S });
        assert_eq!(l.report(S, false), LinkReport::Pending);
        assert_eq!(l.deadline(), Some(3 * S));
        assert_eq!(l.report(S, false), LinkReport::Unchanged);
        assert_eq!(l.poll(2 * S), None);
        assert_eq!(l.report(2 * S, true), LinkReport::Absorbed);
        assert_eq!((l.is_up(), l.deadline()), (true, None));
    }

    #[test]
    fn a_lasting_change_takes_effect_at_its_deadline() {
        let mut l = DebouncedLink::new(LinkDebounce { down: 2 * S, up: S });
        l.report(S, false);
        assert_eq!(l.poll(3 * S), Some(false));
        assert!(!l.is_up());
        assert_eq!(l.report(4 * S, true), LinkReport::Pending);
        assert_eq!(l.deadline(), Some(5 * S));
        assert_eq!(l.poll(5 * S), Some(true));
    }

    #[test]
    fn no_delay_changes_at_once() {
        let mut l = DebouncedLink::new(LinkDebounce::default());
        assert_eq!(l.report(S, false), LinkReport::Changed(false));
        assert_eq!(l.report(S, true), LinkReport::Changed(true));
        assert_eq!(l.deadline(), None);
    }
}
