//! One receiver per interface and family: reads VRRP packets, runs the packet-level checks
//! (RFC 5798 §7.1: TTL, version, type, length, checksum) and hands each advert to the instance
//! of its VRID. One socket serves every instance on the interface, however many there are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::driver::{Command, Received};
use crate::metrics::Metrics;
use crate::net::socket::VrrpSocket;
use crate::vrrp::Advert;
use crate::vrrp::packet::{self, ChecksumForm, Discard};

/// Where adverts of each VRID go.
pub type Routes = Arc<Mutex<HashMap<u8, mpsc::Sender<Command>>>>;

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
    let count = |reason: Discard| {
        metrics
            .discards
            .with_label_values(&[&interface, reason.as_str()])
            .inc()
    };
    loop {
        let received = match socket.recv().await {
            Ok(Ok(r)) => r,
            Ok(Err(reason)) => {
                count(reason);
                continue;
            }
            Err(e) => {
                // E.g. ENETDOWN while the link flaps; the socket stays usable. Pace retries.
                tracing::debug!(%interface, error = %e, "receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        tracing::trace!(%interface, src = %received.src, len = received.payload.len(), "packet");
        let advert = match packet::check_ttl(received.ttl)
            .and_then(|()| Advert::decode_form(&received.payload, received.src, received.dst))
        {
            Ok((a, ChecksumForm::Standard)) => a,
            Ok((a, ChecksumForm::WithoutPseudoHeader)) => {
                metrics
                    .checksum_without_pseudo_header
                    .with_label_values(&[&interface])
                    .inc();
                a
            }
            Err(reason) => {
                count(reason);
                continue;
            }
        };
        if crate::translate::no_router(received.src) {
            count(Discard::BadSource);
            continue;
        }
        let target = routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&advert.vrid)
            .cloned();
        match target {
            None => count(Discard::UnknownVrid),
            Some(tx) => {
                // A full queue means the instance is far behind; dropping is what the wire
                // would do, and the next advert carries the same information.
                let _ = tx.try_send(Command::Advert(Box::new(Received {
                    src: received.src,
                    advert,
                    received_at: received.received_at,
                })));
            }
        }
    }
}
