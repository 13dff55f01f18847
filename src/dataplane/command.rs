//! What a driver is told from outside: adverts from the listener, tracker and sync-group
//! changes, and stop requests (the channel's vocabulary, shared by everything that feeds a
//! driver).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
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

/// The instances' command channels by the index of their link: where [`forward_links`] hands
/// link events. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct LinkSubscribers(Arc<Mutex<HashMap<u32, Vec<mpsc::Sender<Command>>>>>);

impl LinkSubscribers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Vec<mpsc::Sender<Command>>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The instance behind `tx` runs on link `index`.
    pub fn add(&self, index: u32, tx: mpsc::Sender<Command>) {
        self.lock().entry(index).or_default().push(tx);
    }

    /// The instance behind `tx` stopped.
    pub fn remove(&self, tx: &mpsc::Sender<Command>) {
        self.lock().retain(|_, txs| {
            txs.retain(|t| !t.same_channel(tx));
            !txs.is_empty()
        });
    }

    /// The channels of link `index`'s instances, or of every instance (`None`).
    fn of(&self, index: Option<u32>) -> Vec<mpsc::Sender<Command>> {
        let map = self.lock();
        match index {
            Some(i) => map.get(&i).cloned().unwrap_or_default(),
            None => map.values().flatten().cloned().collect(),
        }
    }
}

/// Hand each link event to the instances on that link, through their command channels (one
/// task for all, so that a driver's loop waits on its channel alone, not also on a broadcast
/// receiver it would poll on every advert); when events were missed, tell every instance
/// (`None`: read your link anew). Ends when the broadcast closes.
pub async fn forward_links(mut events: broadcast::Receiver<Link>, to: LinkSubscribers) {
    loop {
        let link = match events.recv().await {
            Ok(link) => Some(link),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for tx in to.of(link.as_ref().map(|l| l.index)) {
            // A stopped instance's channel is closed: nothing to tell it.
            let _ = tx.send(Command::Link(link.clone().map(Box::new))).await;
        }
    }
}

/// Aborts a task when dropped (the supervisor's link forwarder ends with it).
pub struct AbortOnDrop(pub tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
