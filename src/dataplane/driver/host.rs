//! What a driver does on the host besides the engine's adverts: announcement bursts (paced),
//! failed actions counted, the configuration published to metrics and status.

use std::time::Duration;

use tokio::time::Instant;

use std::net::IpAddr;
use std::time::SystemTime;

use super::Driver;
use super::io::{HostIo, Via};
use crate::net::netlink::Link;
use crate::rfc3339;
use crate::status::FailedAction;
use crate::vrrp::{State, TransitionReason};

/// Announcement frames sent at once before the rest of a burst is paced.
const INLINE_FRAMES: usize = 64;
/// Time between two paced rounds of a burst.
pub(super) const ROUND_GAP: Duration = Duration::from_millis(1);

impl<H: HostIo> Driver<H> {
    /// One burst: `repeat` announcements of every VIP. As many rounds as fit in
    /// [`INLINE_FRAMES`] go out now (all of them with keepalived's default of 5 and a few
    /// addresses); the rest one round every [`ROUND_GAP`], after whatever else is due, so a
    /// big burst (100 x 255 frames at most) never holds back an advert or a signal.
    pub(super) fn send_frames(&mut self) {
        let per_round = self.cfg.vips.len().max(1);
        let now = (INLINE_FRAMES / per_round).max(1) as u32;
        let repeat = self.cfg.announce_repeat.max(1);
        for _ in 0..repeat.min(now) {
            self.send_round();
        }
        self.rounds_left = repeat.saturating_sub(now);
        self.next_round = Instant::now() + ROUND_GAP;
    }

    /// One announcement of every VIP.
    pub(super) fn send_round(&mut self) {
        let via = self.via();
        for vip in &self.cfg.vips {
            if let Err(e) = self.host.io.announce(via, vip.addr) {
                self.action_error(FailedAction::Announce, &e.to_string());
            }
        }
    }

    /// The engine changed state: log, metrics, status, and the notify hooks.
    pub(super) fn state_changed(&mut self, from: State, to: State, reason: TransitionReason) {
        tracing::info!(
            vip = self.name(), vrid = self.cfg.instance.vrid, interface = %self.cfg.interface,
            priority = self.inst.priority(), %from, %to, %reason, "state changed"
        );
        let since = SystemTime::now();
        self.published_master = self.inst.master();
        let master = self.published_master.map(|m| m.to_string());
        self.host.status.update(&self.cfg.name, |s| {
            s.state = to.into();
            s.reason = Some(reason);
            s.since = rfc3339::format(since);
            s.since_time = Some(since);
            s.master = master;
            s.counters.transitions += 1;
            match s
                .transitions_by
                .iter_mut()
                .find(|(t, r, _)| (*t, *r) == (to, reason))
            {
                Some((_, _, n)) => *n += 1,
                None => s.transitions_by.push((to, reason, 1)),
            }
        });
        self.notifier.transition(to, self.inst.priority());
    }

    /// Log a change of the effective priority from `before` (with the trackers' `adjustment`,
    /// or as the sync group's when `None`) and publish it.
    pub(super) fn publish_priority(&self, before: u8, adjustment: Option<i32>) {
        let p = self.inst.priority();
        if p != before {
            match adjustment {
                Some(adjustment) => tracing::info!(
                    vip = self.name(),
                    vrid = self.cfg.instance.vrid,
                    from = before,
                    to = p,
                    adjustment,
                    "effective priority changed"
                ),
                None => tracing::info!(
                    vip = self.name(),
                    vrid = self.cfg.instance.vrid,
                    from = before,
                    to = p,
                    "effective priority changed with its sync group"
                ),
            }
        }
        self.host.status.update(&self.cfg.name, |s| s.priority = p);
    }

    /// The link the VIPs live on: the virtual MAC interface, if any, else the interface.
    pub(super) fn vip_link(&self) -> &Link {
        self.host.vmac.as_ref().unwrap_or(&self.link)
    }

    /// Where announcements go: the virtual MAC interface, if any, else the interface.
    fn via(&self) -> Via {
        if self.host.vmac.is_some() {
            Via::VirtualMac
        } else {
            Via::Interface
        }
    }

    /// Bring the virtual MAC interface up (becoming master) or down (leaving), if any.
    pub(super) async fn vmac_up(&self, up: bool) {
        if self.host.vmac.is_some()
            && let Err(e) = self.host.io.set_vmac_up(up).await
        {
            self.action_error(FailedAction::Vmac, &e.to_string());
        }
    }

    /// Send an advert: from the virtual MAC interface while holding the VIPs on it, else from
    /// the interface.
    pub(super) async fn send_bytes(&self, bytes: &[u8], dst: IpAddr) -> std::io::Result<()> {
        let via = if self.holding {
            self.via()
        } else {
            Via::Interface
        };
        self.host.io.send_advert(via, bytes, dst).await
    }

    /// Tell the sync group what changed, if anything.
    pub(super) fn report_to_group(&mut self) {
        if let Some(group) = &self.host.group {
            let view = self.inst.view();
            if view != self.reported {
                self.reported = view;
                group.report(&self.cfg.name, view);
            }
        }
    }

    /// Log and count a failed action (its count shows in /status and /metrics).
    pub(super) fn action_error(&self, action: FailedAction, error: &str) {
        tracing::warn!(vip = %self.cfg.name, action = action.as_str(), error, "action failed");
        self.host.status.count(&self.cfg.name, |c| {
            *c.action_errors.entry(action).or_default() += 1
        });
    }

    pub(super) fn publish_config(&self) {
        let c = &self.cfg;
        self.host.status.update(&c.name, |s| {
            s.vrid = c.instance.vrid;
            s.interface = c.interface.clone();
            s.version = if c.instance.version == crate::vrrp::Version::V2 {
                2
            } else {
                3
            };
            s.addresses = c.vips.iter().map(|v| v.to_string()).collect();
            s.priority = c.instance.priority;
            s.base_priority = c.instance.priority;
            s.error = None;
            s.error_kind = None;
        });
    }
}
