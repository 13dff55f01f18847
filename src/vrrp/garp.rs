//! When a master announces its addresses (gratuitous ARP / unsolicited NA), keepalived's way:
//! a burst on takeover, a second burst `delay` later, then one every `refresh` if set; and an
//! extra burst when another master is heard (or the link came back within its debounce), at
//! most one a second, so that a flood of lower-priority adverts cannot become a flood of
//! announcements. On the engine's clock: the instance emits [`super::Action::Announce`] when a
//! burst is due and folds the next one into its deadline.

use std::time::Duration;

/// keepalived's `garp_master_delay` and `garp_master_refresh`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnnounceTiming {
    /// The second burst this long after taking over (zero: none).
    pub delay: Duration,
    /// Then one burst every this long (zero: none).
    pub refresh: Duration,
}

/// Extra bursts (another master heard) at most this often.
pub const EXTRA_GAP: Duration = Duration::from_secs(1);

/// The announcement schedule of one instance.
#[derive(Clone, Debug, Default)]
pub struct GarpSchedule {
    timing: AnnounceTiming,
    next: Option<Duration>,
    second_pending: bool,
    last_extra: Option<Duration>,
}

impl GarpSchedule {
    /// Nothing scheduled.
    pub fn new(timing: AnnounceTiming) -> GarpSchedule {
        GarpSchedule {
            timing,
            ..GarpSchedule::default()
        }
    }

    /// Took over: a burst goes out now; this schedules what follows.
    pub fn took_over(&mut self, now: Duration) {
        self.second_pending = !self.timing.delay.is_zero();
        self.burst_sent(now);
    }

    /// When the next scheduled burst is due, if any.
    pub fn next_burst(&self) -> Option<Duration> {
        self.next
    }

    /// A scheduled burst went out at `now`: the second one after `delay`, then every
    /// `refresh`, if set.
    pub fn burst_sent(&mut self, now: Duration) {
        self.next = if self.second_pending {
            self.second_pending = false;
            Some(now + self.timing.delay)
        } else if !self.timing.refresh.is_zero() {
            Some(now + self.timing.refresh)
        } else {
            None
        };
    }

    /// Whether an extra burst may go out now (another master was heard); if so, it counts.
    pub fn extra_allowed(&mut self, now: Duration) -> bool {
        let allowed = self
            .last_extra
            .is_none_or(|t| now.saturating_sub(t) >= EXTRA_GAP);
        if allowed {
            self.last_extra = Some(now);
        }
        allowed
    }

    /// No longer master: nothing more to send.
    pub fn stop(&mut self) {
        self.next = None;
        self.second_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(delay: u64, refresh: u64) -> AnnounceTiming {
        AnnounceTiming {
            delay: Duration::from_secs(delay),
            refresh: Duration::from_secs(refresh),
        }
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn keepalived_pattern_then_refresh() {
        let mut a = GarpSchedule::new(timing(5, 0));
        a.took_over(s(10));
        assert_eq!(a.next_burst(), Some(s(15)));
        a.burst_sent(s(15));
        assert_eq!(a.next_burst(), None, "two bursts, then nothing");

        let mut a = GarpSchedule::new(timing(5, 60));
        a.took_over(s(10));
        a.burst_sent(s(15));
        assert_eq!(a.next_burst(), Some(s(75)));
        a.stop();
        assert_eq!(a.next_burst(), None);

        let mut a = GarpSchedule::new(timing(0, 0));
        a.took_over(s(10));
        assert_eq!(a.next_burst(), None, "delay 0s: one burst only");
    }

    #[test]
    fn extra_bursts_at_most_one_a_second() {
        let mut a = GarpSchedule::new(timing(5, 0));
        assert!(a.extra_allowed(s(10)));
        assert!(!a.extra_allowed(s(10) + Duration::from_millis(999)));
        assert!(a.extra_allowed(s(11)));
    }
}
