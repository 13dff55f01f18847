//! When a master announces its addresses (gratuitous ARP / unsolicited NA), keepalived's way:
//! a burst on takeover, a second burst `delay` later, then one every `refresh` if set; and an
//! extra burst when another master is heard, at most one a second, so that a flood of
//! lower-priority adverts cannot become a flood of announcements. Pure: the caller sends.

use std::time::Duration;

use tokio::time::Instant;

use crate::translate::AnnounceConfig;

/// The announcement schedule of one instance.
#[derive(Debug)]
pub struct Announcer {
    cfg: AnnounceConfig,
    next: Option<Instant>,
    second_pending: bool,
    last_extra: Option<Instant>,
}

impl Announcer {
    /// Nothing scheduled.
    pub fn new(cfg: AnnounceConfig) -> Announcer {
        Announcer {
            cfg,
            next: None,
            second_pending: false,
            last_extra: None,
        }
    }

    /// Announcements per burst.
    pub fn repeat(&self) -> u32 {
        self.cfg.repeat.max(1)
    }

    /// Took over: the caller sends a burst now; this schedules what follows.
    pub fn took_over(&mut self, now: Instant) {
        self.second_pending = !self.cfg.delay.is_zero();
        self.burst_sent(now);
    }

    /// When the next scheduled burst is due, if any.
    pub fn next_burst(&self) -> Option<Instant> {
        self.next
    }

    /// A scheduled burst went out at `now`: the second one after `delay`, then every
    /// `refresh`, if set.
    pub fn burst_sent(&mut self, now: Instant) {
        self.next = if self.second_pending {
            self.second_pending = false;
            Some(now + self.cfg.delay)
        } else if !self.cfg.refresh.is_zero() {
            Some(now + self.cfg.refresh)
        } else {
            None
        };
    }

    /// Whether an extra burst may go out now (another master was heard).
    pub fn extra_allowed(&mut self, now: Instant) -> bool {
        let allowed = self
            .last_extra
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
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

    fn cfg(delay: u64, refresh: u64) -> AnnounceConfig {
        AnnounceConfig {
            repeat: 5,
            delay: Duration::from_secs(delay),
            refresh: Duration::from_secs(refresh),
        }
    }

    #[test]
    fn keepalived_pattern_then_refresh() {
        let t0 = Instant::now();
        let mut a = Announcer::new(cfg(5, 0));
        a.took_over(t0);
        assert_eq!(a.next_burst(), Some(t0 + Duration::from_secs(5)));
        a.burst_sent(t0 + Duration::from_secs(5));
        assert_eq!(a.next_burst(), None, "two bursts, then nothing");

        let mut a = Announcer::new(cfg(5, 60));
        a.took_over(t0);
        a.burst_sent(t0 + Duration::from_secs(5));
        assert_eq!(a.next_burst(), Some(t0 + Duration::from_secs(65)));
        a.stop();
        assert_eq!(a.next_burst(), None);

        let mut a = Announcer::new(cfg(0, 0));
        a.took_over(t0);
        assert_eq!(a.next_burst(), None, "delay 0s: one burst only");
    }

    #[test]
    fn extra_bursts_at_most_one_a_second() {
        let t0 = Instant::now();
        let mut a = Announcer::new(cfg(5, 0));
        assert!(a.extra_allowed(t0));
        assert!(!a.extra_allowed(t0 + Duration::from_millis(999)));
        assert!(a.extra_allowed(t0 + Duration::from_secs(1)));
    }
}
