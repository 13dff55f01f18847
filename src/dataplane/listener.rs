//! One receiver per interface and family: reads VRRP packets, runs the packet-level checks
//! (RFC 5798 §7.1: TTL, version, type, length, checksum) and hands each advert to the instance
//! of its VRID. One socket serves every instance on the interface, however many there are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::driver::Command;
use crate::metrics::Metrics;
use crate::net::socket::{Received, VrrpSocket};
use crate::vrrp::Advert;
use crate::vrrp::packet::{self, ChecksumForm, Discard};

/// Where adverts of each VRID go (ordered by VRID: no hashing on every advert).
pub type Routes = Arc<Mutex<BTreeMap<u8, mpsc::Sender<Command>>>>;

/// A running receiver and the socket it shares with the instances for sending.
#[derive(Debug)]
pub struct Listener {
    /// The interface's VRRP sockets.
    pub socket: Arc<VrrpSocket>,
    /// VRID -> instance.
    pub routes: Routes,
    task: JoinHandle<()>,
}

impl Listener {
    /// Start receiving on `socket`.
    pub fn start(socket: VrrpSocket, interface: String, metrics: Metrics) -> Listener {
        Listener::with_socket(Arc::new(socket), interface, metrics)
    }

    /// Start receiving on a socket shared with its sender (a virtual MAC interface's).
    pub fn with_socket(socket: Arc<VrrpSocket>, interface: String, metrics: Metrics) -> Listener {
        let routes: Routes = Arc::default();
        metrics.init_discards(&interface);
        let task = tokio::spawn(receive_loop(
            socket.clone(),
            routes.clone(),
            interface,
            metrics,
        ));
        Listener {
            socket,
            routes,
            task,
        }
    }

    /// Whether no instance uses this listener any more.
    pub fn is_unused(&self) -> bool {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive_loop(
    socket: Arc<VrrpSocket>,
    routes: Routes,
    interface: String,
    metrics: Metrics,
) {
    let mut batch = socket.batch();
    loop {
        match socket.recv_batch(&mut batch).await {
            Ok(()) => {
                let clock = Clock::read();
                let routes = routes.lock().unwrap_or_else(|p| p.into_inner());
                for packet in batch.packets() {
                    match packet {
                        Ok(received) => {
                            let arrived = clock.arrival(received.received_at);
                            deliver(&received, arrived, &routes, &metrics, &interface);
                        }
                        Err(reason) => count(&metrics, &interface, reason),
                    }
                }
            }
            Err(e) => {
                // E.g. ENETDOWN while the link flaps; the socket stays usable. Pace retries.
                tracing::debug!(%interface, error = %e, "receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Both clocks, read once for a burst of packets: the kernel stamps a packet with the wall
/// clock (SO_TIMESTAMPNS), the engines run on the monotonic one.
#[derive(Clone, Copy, Debug)]
struct Clock {
    mono: Instant,
    wall: SystemTime,
}

impl Clock {
    fn read() -> Clock {
        Clock {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// When a packet stamped `received_at` arrived, on the monotonic clock: as long ago as the
    /// wall clock says, but no stamp, a stamp in the future or one over a second old (the
    /// wall clock jumped) counts as now. A backup restarts its Master_Down_Timer from the
    /// arrival, not from when its task got to the advert.
    fn arrival(&self, received_at: Option<SystemTime>) -> Instant {
        let age = received_at
            .and_then(|t| self.wall.duration_since(t).ok())
            .filter(|age| *age < Duration::from_secs(1))
            .unwrap_or_default();
        self.mono.checked_sub(age).unwrap_or(self.mono)
    }
}

/// What became of one received packet.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Handed to the instance of this VRID.
    Routed(u8),
    /// Dropped for this reason (and counted).
    Dropped(Discard),
}

fn count(metrics: &Metrics, interface: &str, reason: Discard) {
    metrics
        .discards
        .with_label_values(&[interface, reason.as_str()])
        .inc()
}

/// The packet-level checks (RFC 5798 §7.1: TTL, version, type, length, checksum; a source no
/// router has), then the hand-over to the instance of the advert's VRID. The instance judges
/// the rest against its configuration.
fn deliver(
    received: &Received<'_>,
    arrived: Instant,
    routes: &BTreeMap<u8, mpsc::Sender<Command>>,
    metrics: &Metrics,
    interface: &str,
) -> Fate {
    tracing::trace!(%interface, src = %received.src, len = received.payload.len(), "packet");
    let dropped = |reason| {
        count(metrics, interface, reason);
        Fate::Dropped(reason)
    };
    let advert = match packet::check_ttl(received.ttl)
        .and_then(|()| Advert::decode_form(received.payload, received.src, received.dst))
    {
        Ok((a, ChecksumForm::Standard)) => a,
        Ok((a, ChecksumForm::WithoutPseudoHeader)) => {
            metrics
                .checksum_without_pseudo_header
                .with_label_values(&[interface])
                .inc();
            a
        }
        Err(reason) => return dropped(reason),
    };
    if crate::address::no_router(received.src) {
        return dropped(Discard::BadSource);
    }
    let Some(tx) = routes.get(&advert.vrid) else {
        return dropped(Discard::UnknownVrid);
    };
    let vrid = advert.vrid;
    // A full queue means the instance is far behind; dropping is what the wire would do, and
    // the next advert carries the same information.
    let _ = tx.try_send(Command::Advert(Box::new(
        crate::dataplane::driver::Received {
            src: received.src,
            advert,
            arrived,
        },
    )));
    Fate::Routed(vrid)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::vrrp::{Auth, Version};

    const SRC: &str = "198.51.100.12";
    const GROUP: &str = "224.0.0.18";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    /// A packet as the socket would hand it over, owning its bytes.
    struct Packet {
        src: IpAddr,
        ttl: u8,
        payload: Vec<u8>,
    }

    /// `deliver`, as the receive loop calls it.
    fn deliver_now(p: &Packet, routes: &Routes, metrics: &Metrics) -> Fate {
        let received = Received {
            src: p.src,
            dst: ip(GROUP),
            ttl: p.ttl,
            payload: &p.payload,
            received_at: None,
        };
        let routes = routes.lock().expect("routes");
        deliver(&received, Instant::now(), &routes, metrics, "eth0")
    }

    fn packet(vrid: u8, src: &str, ttl: u8, form: ChecksumForm) -> Packet {
        let advert = Advert {
            version: Version::V3,
            vrid,
            priority: 100,
            interval_cs: 100,
            addresses: vec![ip("198.51.100.100")],
            auth: Auth::None,
        };
        Packet {
            src: ip(src),
            ttl,
            payload: advert
                .encode_with(ip(src), ip(GROUP), form)
                .expect("encodes"),
        }
    }

    fn metric(m: &Metrics, series: &str) -> Option<String> {
        m.render(&[]).lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_string)
        })
    }

    fn setup() -> (Routes, Metrics, mpsc::Receiver<Command>) {
        let routes: Routes = Arc::default();
        let (tx, rx) = mpsc::channel(4);
        routes.lock().expect("routes").insert(51, tx);
        let metrics = Metrics::new();
        metrics.init_discards("eth0");
        (routes, metrics, rx)
    }

    #[test]
    fn a_good_advert_goes_to_its_instance() {
        let (routes, metrics, mut rx) = setup();
        let fate = deliver_now(
            &packet(51, SRC, 255, ChecksumForm::Standard),
            &routes,
            &metrics,
        );
        assert_eq!(fate, Fate::Routed(51));
        match rx.try_recv() {
            Ok(Command::Advert(r)) => assert_eq!((r.src, r.advert.vrid), (ip(SRC), 51)),
            other => panic!("expected the advert, got {other:?}"),
        }
    }

    #[test]
    fn packet_level_faults_are_dropped_and_counted_per_interface() {
        let (routes, metrics, mut rx) = setup();
        let mut corrupt = packet(51, SRC, 255, ChecksumForm::Standard);
        corrupt.payload[2] ^= 1;
        for (p, reason) in [
            (
                packet(51, SRC, 64, ChecksumForm::Standard),
                Discard::TtlNot255,
            ),
            (corrupt, Discard::BadChecksum),
            (
                packet(52, SRC, 255, ChecksumForm::Standard),
                Discard::UnknownVrid,
            ),
            (
                packet(51, "0.0.0.0", 255, ChecksumForm::Standard),
                Discard::BadSource,
            ),
        ] {
            assert_eq!(deliver_now(&p, &routes, &metrics), Fate::Dropped(reason));
            let series = format!(
                "kube_vrrp_discards_total{{interface=\"eth0\",reason=\"{}\"}}",
                reason.as_str()
            );
            assert_eq!(metric(&metrics, &series).as_deref(), Some("1"), "{series}");
        }
        assert!(rx.try_recv().is_err(), "nothing reached the instance");
    }

    #[test]
    fn a_checksum_without_the_pseudo_header_is_accepted_and_counted() {
        let (routes, metrics, _rx) = setup();
        let p = packet(51, SRC, 255, ChecksumForm::WithoutPseudoHeader);
        assert_eq!(deliver_now(&p, &routes, &metrics), Fate::Routed(51));
        assert_eq!(
            metric(
                &metrics,
                "kube_vrrp_checksum_without_pseudo_header_total{interface=\"eth0\"}"
            )
            .as_deref(),
            Some("1")
        );
    }

    #[test]
    fn an_arrival_is_as_old_as_its_stamp_says_within_a_second() {
        let clock = Clock::read();
        let ago = |d: Duration| clock.wall.checked_sub(d).expect("wall clock");
        let ms = Duration::from_millis;
        assert_eq!(clock.arrival(Some(ago(ms(30)))), clock.mono - ms(30));
        for odd in [
            None,
            Some(ago(Duration::from_secs(2))),
            Some(clock.wall + ms(5)),
        ] {
            assert_eq!(clock.arrival(odd), clock.mono, "{odd:?}");
        }
    }
}
