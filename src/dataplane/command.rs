//! What a driver is told from outside: adverts from the listener, tracker and sync-group
//! changes, and stop requests (the channel's vocabulary, shared by everything that feeds a
//! driver).

use std::net::IpAddr;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::net::netlink::Link;
use crate::track::Contribution;
use crate::vrrp::Advert;
use crate::vrrp::sync::GroupInput;

/// What a driver is told from outside.
#[derive(Debug)]
pub enum Command {
    /// An advert that passed the packet-level checks. Boxed: every instance's channel holds
    /// a block of 32 commands, 16 bytes each this way instead of 80.
    Advert(Box<Received>),
    /// New tracker state: the summed weight adjustment and whether a weight-0 tracker is down.
    Trackers {
        /// Sum of weights in effect.
        adjustment: i32,
        /// A weight-0 tracker is down.
        fault: bool,
    },
    /// The sync group's input changed.
    Group(GroupInput),
    /// The instance's link changed; `None`: link events were missed, read the link anew.
    /// (Through this channel, not a receiver of the link broadcast in the driver's loop: that
    /// one was polled on every advert.)
    Link(Option<Box<Link>>),
    /// Leave gracefully (priority 0 and handover when master) and stop.
    Shutdown,
    /// Leave at once (priority 0, addresses removed now) and stop: the VirtualIP is deleted.
    Release,
}

/// The trackers report to the driver through its channel.
impl crate::track::set::ReportTo for mpsc::Sender<Command> {
    async fn report(&self, c: Contribution) -> bool {
        self.send(Command::Trackers {
            adjustment: c.adjustment,
            fault: c.fault,
        })
        .await
        .is_ok()
    }
}

/// Hand the events of link `index` to a driver through its channel, until the link broadcast
/// closes or the driver's channel does (the supervisor also aborts it with the instance).
pub async fn forward_links(
    mut events: broadcast::Receiver<Link>,
    index: u32,
    to: mpsc::Sender<Command>,
) {
    loop {
        let update = match events.recv().await {
            Ok(link) if link.index == index => Some(Box::new(link)),
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if to.send(Command::Link(update)).await.is_err() {
            return;
        }
    }
}

/// An advert as received.
#[derive(Debug)]
pub struct Received {
    /// Sender.
    pub src: IpAddr,
    /// The advert.
    pub advert: Advert,
    /// When it arrived: the kernel's receive timestamp on the monotonic clock (when the
    /// listener read it, if the kernel gave none).
    pub arrived: Instant,
}
