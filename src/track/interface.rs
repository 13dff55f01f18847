//! The interface tracker (keepalived's `track_interface`): up while the named interface is
//! administratively up and has carrier (IFF_UP and IFF_RUNNING). Driven by rtnetlink link
//! events, not polling; the initial state is read once. A missing interface is down.

use tokio::sync::{broadcast, mpsc};

use super::{Observation, Reading};
use crate::net::netlink::{Link, Netlink};

/// The observation for a link (or its absence).
pub fn reading(link: Option<&Link>) -> Observation {
    match link {
        Some(l) if l.present && l.up => Observation::new(Reading::Pass, "link up".into()),
        Some(l) if l.present => Observation::new(Reading::Fail, "link down".into()),
        _ => Observation::new(Reading::Fail, "no such interface".into()),
    }
}

/// The current state of `name`, read from the kernel.
pub async fn check(netlink: &Netlink, name: &str) -> Observation {
    match netlink.links().await {
        Ok(links) => reading(links.iter().find(|l| l.name == name)),
        Err(e) => Observation::broken(format!("cannot read links: {e}")),
    }
}

/// Follow link events for `name` (subscribe before the caller's initial [`check`], so nothing
/// falls between), sending one observation per event about it until the receiver goes away.
pub async fn run(
    name: String,
    mut events: broadcast::Receiver<Link>,
    netlink: Netlink,
    index: usize,
    tx: mpsc::Sender<(usize, Observation)>,
) {
    // The ifindex the name had when last seen, to notice a rename away from it.
    let mut known: Option<u32> = None;
    loop {
        let observation = match events.recv().await {
            Ok(link) if link.name == name => {
                known = link.present.then_some(link.index);
                reading(Some(&link))
            }
            Ok(link) if known == Some(link.index) => {
                known = None;
                reading(None)
            }
            Ok(_) => continue,
            // Missed events: read the state directly.
            Err(broadcast::error::RecvError::Lagged(_)) => check(&netlink, &name).await,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if tx.send((index, observation)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(up: bool, present: bool) -> Link {
        Link {
            index: 7,
            name: "ens9".into(),
            mac: Vec::new(),
            up,
            present,
        }
    }

    #[test]
    fn up_needs_present_up_and_running() {
        assert_eq!(reading(Some(&link(true, true))).reading, Reading::Pass);
        let down = reading(Some(&link(false, true)));
        assert_eq!(
            (down.reading, down.detail.as_str()),
            (Reading::Fail, "link down")
        );
        let gone = reading(Some(&link(false, false)));
        assert_eq!(gone.detail, "no such interface");
        assert_eq!(reading(None).reading, Reading::Fail);
    }

    #[tokio::test]
    async fn follows_events_for_its_name_only() {
        let (events, _) = broadcast::channel(16);
        let (tx, mut rx) = mpsc::channel(16);
        let netlink = Netlink::connect().expect("netlink (the tests run where it exists)");
        let task = tokio::spawn(run("ens9".into(), events.subscribe(), netlink, 3, tx));
        let mut other = link(true, true);
        other.name = "eth0".into();
        other.index = 2;
        events.send(other).unwrap();
        events.send(link(false, true)).unwrap();
        events.send(link(true, true)).unwrap();
        // Renamed away: the same index under another name.
        let mut renamed = link(true, true);
        renamed.name = "uplink".into();
        events.send(renamed).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let (i, o) = rx.recv().await.unwrap();
            assert_eq!(i, 3);
            got.push(o.detail);
        }
        assert_eq!(got, ["link down", "link up", "no such interface"]);
        task.abort();
    }
}
