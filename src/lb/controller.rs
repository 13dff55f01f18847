//! `kube-vrrp controller`: waits for the Lease, then watches Services, VirtualIPs,
//! VirtualIPPools and Namespaces into reflector stores and reconciles after every change (a
//! burst of changes settles into one pass) and every 30 s. It exits when leadership is lost
//! (the Deployment restarts it as a follower) and releases the Lease on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

use super::apply::{Applier, Stores};
use super::lease::{Elector, Timings};
use super::pool::VirtualIPPool;
use crate::spec::VirtualIP;

/// Options of `kube-vrrp controller`.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// This replica's name (the pod name).
    pub identity: String,
    /// Also serve LoadBalancer Services without a loadBalancerClass.
    pub take_unclassed: bool,
    /// Leader election timings.
    pub timings: Timings,
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// No Kubernetes client.
    #[error("Kubernetes client (in-cluster or KUBECONFIG): {0}")]
    Client(String),
    /// Signals could not be set up.
    #[error("signals: {0}")]
    Signals(std::io::Error),
    /// Another replica took over (or the Lease could not be renewed in time).
    #[error("lost the leader Lease; exiting so that the Deployment restarts this replica")]
    LostLeadership,
}

/// The Lease's name.
pub const LEASE: &str = "kube-vrrp-controller";

/// Run until SIGTERM/SIGINT or lost leadership.
pub async fn run(opts: ControllerOptions) -> Result<(), ControllerError> {
    let client = Client::try_default()
        .await
        .map_err(|e| ControllerError::Client(e.to_string()))?;
    let mut term = signal(SignalKind::terminate()).map_err(ControllerError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ControllerError::Signals)?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &opts.namespace);
    let mut elector = Elector::new(leases, LEASE, &opts.identity, opts.timings);
    tracing::info!(identity = %opts.identity, lease = LEASE, namespace = %opts.namespace, "waiting for the leader Lease");
    tokio::select! {
        _ = elector.acquire() => {}
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    }
    tracing::info!(identity = %opts.identity, "leading");
    let notify = Arc::new(Notify::new());
    let stores = Stores {
        services: watch_into(Api::<Service>::all(client.clone()), &notify),
        vips: watch_into(Api::<VirtualIP>::all(client.clone()), &notify),
        pools: watch_into(Api::<VirtualIPPool>::all(client.clone()), &notify),
        namespaces: watch_into(Api::<Namespace>::all(client.clone()), &notify),
    };
    let reporter = Reporter {
        controller: "kube-vrrp-controller".into(),
        instance: Some(opts.identity.clone()),
    };
    let mut applier = Applier::new(
        client.clone(),
        Recorder::new(client, reporter),
        opts.take_unclassed,
    );
    let work = async {
        for ready in [
            stores.services.wait_until_ready().await.is_ok(),
            stores.vips.wait_until_ready().await.is_ok(),
            stores.pools.wait_until_ready().await.is_ok(),
            stores.namespaces.wait_until_ready().await.is_ok(),
        ] {
            if !ready {
                tracing::warn!("a watch ended before its first list");
            }
        }
        let mut resync = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = notify.notified() => {}
                _ = resync.tick() => {}
            }
            // Let a burst (100 Services applied at once) settle into one pass.
            tokio::time::sleep(Duration::from_millis(200)).await;
            applier.reconcile(&stores).await;
        }
    };
    let result = tokio::select! {
        _ = work => Ok(()),
        _ = elector.hold() => Err(ControllerError::LostLeadership),
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    };
    if result.is_ok() {
        elector.release().await;
        tracing::info!("released the leader Lease");
    }
    result
}

/// Watch `api` into a reflector store; every event wakes the reconcile loop.
fn watch_into<K>(api: Api<K>, notify: &Arc<Notify>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let notify = notify.clone();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                tracing::warn!(error = %e, "watch failed; retrying");
            }
            notify.notify_one();
        }
    });
    store
}
