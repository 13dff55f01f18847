//! Receiving an advert (RFC 5798 §6.4.2 and §6.4.3, "If an ADVERTISEMENT is received").

use std::net::IpAddr;
use std::time::Duration;

use super::{Action, Instance, State, TransitionReason};
use crate::vrrp::packet::{Accepted, Advert, Discard, Expectation, Version};
use crate::vrrp::priority::{OWNER, STOP};
use crate::vrrp::timers::{from_centis, master_down_interval, skew_time, to_centis};

impl Instance {
    /// An advert arrived; validated here against the configuration. Returns the verdict so
    /// the driver can count it; an accepted advert may still report an address mismatch.
    pub fn handle_advert(
        &mut self,
        now: Duration,
        src: IpAddr,
        advert: &Advert,
    ) -> Result<Accepted, Discard> {
        // The checks against this router's configuration before the RFC's (design.md §7.1):
        // a unicast instance hears its peers only; an interval above the bound is refused.
        if !self.cfg.unicast_peers.is_empty() && !self.cfg.unicast_peers.contains(&src) {
            return Err(Discard::NotFromPeer);
        }
        if self
            .cfg
            .max_advert_interval
            .is_some_and(|max| from_centis(advert.interval_cs) > max)
        {
            return Err(Discard::IntervalAboveBound);
        }
        if advert.vrid != self.cfg.vrid {
            return Err(Discard::UnknownVrid);
        }
        if src == self.cfg.primary {
            return Err(Discard::OwnPacket);
        }
        // No router sends from a virtual address: a packet claiming one is spoofed or looped.
        if self.cfg.addresses.contains(&src) {
            return Err(Discard::BadSource);
        }
        let accepted = advert.validate(&Expectation {
            version: self.cfg.version,
            auth: &self.cfg.auth,
            interval_cs: to_centis(self.cfg.advert_interval),
            addresses: &self.cfg.addresses,
            local_is_owner: self.cfg.priority == OWNER,
        })?;
        match self.state {
            State::Backup => self.backup_heard(now, src, advert),
            State::Master => self.master_heard(now, src, advert),
            State::Initialize | State::Fault => {}
        }
        Ok(accepted)
    }

    /// RFC 5798 §6.4.2, "If an ADVERTISEMENT is received".
    fn backup_heard(&mut self, now: Duration, src: IpAddr, advert: &Advert) {
        // Another router holds the addresses as master: ours from a previous run must go now,
        // or two nodes answer for them (a leaving master's priority 0 hands them to us instead).
        if advert.priority != STOP {
            self.drop_leftover();
        }
        if advert.priority == STOP {
            // The master is leaving: take over after Skew_Time only.
            self.master_down_timer =
                Some(now + skew_time(self.priority, self.master_adver_interval));
            self.master_left = true;
            return;
        }
        let lower = advert.priority < self.priority;
        if !self.cfg.preempt || !lower {
            self.preempt_timer = None;
            self.accept_master(now, src, advert);
            return;
        }
        // Preempt_Mode and a lower-priority master. keepalived's preempt_delay: tolerate it
        // for that long, then take over.
        if self.cfg.preempt_delay > Duration::ZERO {
            if self.preempt_timer.is_none() {
                self.preempt_timer = Some(now + self.cfg.preempt_delay);
            }
            self.accept_master(now, src, advert);
        }
        // Otherwise the advert is discarded and the Master_Down_Timer runs out (RFC 5798 §6.4.2).
    }

    /// Accept the sender as master: adopt its interval (v3) and restart the Master_Down_Timer.
    fn accept_master(&mut self, now: Duration, src: IpAddr, advert: &Advert) {
        if self.cfg.version == Version::V3 {
            self.master_adver_interval = from_centis(advert.interval_cs);
        }
        self.master_down_timer =
            Some(now + master_down_interval(self.priority, self.master_adver_interval));
        self.master_left = false;
        self.master = Some(src);
    }

    /// RFC 5798 §6.4.3, "If an ADVERTISEMENT is received".
    fn master_heard(&mut self, now: Duration, src: IpAddr, advert: &Advert) {
        if self.stopping || self.faulting {
            // A successor is advertising: hand over now (design.md principle 5).
            if advert.priority != STOP {
                if self.stopping {
                    self.finish_stop(now);
                } else {
                    self.finish_fault(now);
                }
            }
            return;
        }
        if advert.priority == STOP {
            // Another master is leaving; assert ourselves at once.
            self.send_advert(self.priority);
            self.adver_timer = Some(now + self.cfg.advert_interval);
            return;
        }
        let better = advert.priority > self.priority
            || (advert.priority == self.priority && src > self.cfg.primary);
        if better {
            self.actions.push_back(Action::RemoveVips);
            let interval = if self.cfg.version == Version::V3 {
                from_centis(advert.interval_cs)
            } else {
                self.cfg.advert_interval
            };
            self.become_backup(now, interval, TransitionReason::HigherPriorityMaster);
            self.master = Some(src);
        } else {
            // Another router thinks it is master (a transient second master, or one that just
            // started): it may have announced itself to the LAN.
            self.announce_again(now);
        }
    }
}
