//! `kube-vrrp agent`: watches VirtualIPs and this node, runs the instances that apply to the
//! node, and writes status back. The data plane never waits for the API server: the instances run
//! from the last known configuration (in memory, or from the local cache after a restart) while
//! the API is away, and status catches up when it returns.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event, ExponentialBackoff};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};

use super::status_writer::{self as k8s_status, StatusWriter};
use super::view::{self, ClusterView, ViewedVip};
use crate::dataplane::node::{DataPlane, RunError, desired};
use crate::spec::VirtualIP;
use crate::track::pods::{PodFacts, PodsView};

/// Server-side timeout of every watch, in seconds.
const WATCH_TIMEOUT_SECS: u32 = 60;

/// Options of `kube-vrrp agent`.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// This node's name.
    pub node_name: String,
    /// The agent's namespace, where `secretRef`s are looked up.
    pub namespace: String,
    /// Where to serve /metrics, /healthz, /readyz, /status.
    pub http_addr: SocketAddr,
    /// Directory of the configuration cache.
    pub cache_dir: PathBuf,
    /// Leave every virtual router while the node has [`EXCLUDE_LABEL`].
    pub honor_exclude_label: bool,
}

/// The well-known label that takes a node out of external load balancing (Kubernetes puts it on
/// nodes under maintenance by hand; the Service controller honours it). With it, this node's
/// agent hands over every VIP (priority 0) and runs no instance until the label is removed.
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// What this node runs: nothing while it is excluded, else what applies to it.
async fn wanted(
    netlink: &crate::net::netlink::Netlink,
    opts: &AgentOptions,
    labels: &BTreeMap<String, String>,
    file: &crate::translate::Documents,
) -> crate::dataplane::Desired {
    if opts.honor_exclude_label && labels.contains_key(EXCLUDE_LABEL) {
        return crate::dataplane::Desired::new();
    }
    desired(netlink, &opts.node_name, labels, file).await
}

/// Shared between the watchers and the reconcile loop.
#[derive(Default)]
struct Shared {
    view: ClusterView,
    /// The VirtualIP list has been read from the API server at least once.
    synced: bool,
    /// VirtualIPs deleted since the last reconcile.
    deleted: Vec<String>,
}

/// Run until SIGTERM/SIGINT.
pub async fn run(opts: AgentOptions) -> Result<(), RunError> {
    let mut plane = crate::daemon::start(opts.http_addr, false).await?;
    let mut config = kube::Config::infer().await.map_err(|e| {
        RunError::Setup(format!("Kubernetes client (in-cluster or KUBECONFIG): {e}"))
    })?;
    // A connection that died silently (the node's network went away and came back) must not
    // hold a watch for the default five minutes: watches end every WATCH_TIMEOUT and a read
    // stalls out after a little longer.
    config.read_timeout = Some(Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 15));
    let client = Client::try_from(config.clone())
        .map_err(|e| RunError::Setup(format!("Kubernetes client: {e}")))?;
    // Every start-up check passed (lock, netlink, HTTP, client): now the leftovers may be
    // touched.
    plane.take_leftovers().await?;
    let DataPlane {
        netlink,
        mut supervisor,
        status,
        ready,
        metrics,
        lock: _lock,
    } = plane;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let notify = Arc::new(Notify::new());

    // Pods are watched only once a VirtualIP has a pods tracker: without one, the agent needs
    // no access to pods at all (the chart grants it only when pod trackers are enabled).
    let (pods_tx, pods_rx) = watch::channel(PodsView::new());
    supervisor.set_pods(pods_rx);

    // Principle 1: start from the cached configuration while the API server is not answering.
    if let Some(cached) = view::load_cache(&opts.cache_dir) {
        tracing::info!(
            virtual_ips = cached.virtual_ips.len(),
            "starting from the configuration cache"
        );
        let file = cached.documents();
        supervisor
            .apply(
                &wanted(&netlink, &opts, &cached.node_labels, &file).await,
                &[],
            )
            .await;
        supervisor.remove_unclaimed_leftovers();
        lock(&shared).view = cached;
    }
    ready.store(true, Ordering::Relaxed);

    let (masters_tx, masters_rx) = watch::channel(k8s_status::Masters::new());
    tokio::spawn(watch_virtual_ips(
        Api::all(client.clone()),
        shared.clone(),
        notify.clone(),
        masters_tx,
    ));
    tokio::spawn(watch_node(
        Api::all(client.clone()),
        opts.node_name.clone(),
        shared.clone(),
        notify.clone(),
    ));
    let (objects_tx, objects_rx) = watch::channel(BTreeMap::new());
    // Status writes use their own short-timeout connection, rebuilt after any failure.
    let mut write_config = config;
    write_config.read_timeout = Some(Duration::from_secs(10));
    write_config.connect_timeout = Some(Duration::from_secs(5));
    let writer = StatusWriter::new(
        write_config,
        &opts.node_name,
        status.clone(),
        metrics.api_writes.clone(),
    )
    .map_err(|e| RunError::Setup(format!("Kubernetes client: {e}")))?;
    tokio::spawn(k8s_status::run(
        writer,
        objects_rx,
        masters_rx,
        Duration::from_secs(2),
    ));

    let mut pods_watch: Option<tokio::task::JoinHandle<()>> = None;
    let pods_api: Api<Pod> = Api::all(client.clone());
    let secrets: Api<Secret> = Api::namespaced(client, &opts.namespace);
    let mut term = signal(SignalKind::terminate()).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| RunError::Setup(e.to_string()))?;
    // Secrets are read with GET (no watch, least privilege); re-read now and then.
    let mut secret_refresh = tokio::time::interval(Duration::from_secs(300));
    let mut saved: Option<ClusterView> = None;
    let mut was_excluded = false;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = notify.notified() => {}
            _ = secret_refresh.tick() => {}
        }
        // Let a burst of events (a rapid series of edits) settle into one reconcile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (mut snapshot, deleted) = {
            let mut s = lock(&shared);
            if !s.synced && saved.is_none() && s.view.virtual_ips.is_empty() {
                continue;
            }
            (s.view.clone(), std::mem::take(&mut s.deleted))
        };
        refresh_secrets(&secrets, &mut snapshot).await;
        lock(&shared).view.secrets = snapshot.secrets.clone();
        let objects: BTreeMap<_, _> = snapshot
            .virtual_ips
            .iter()
            .map(|(n, v)| (n.clone(), (v.generation, v.uid.clone())))
            .collect();
        objects_tx.send_if_modified(|o| {
            let changed = *o != objects;
            *o = objects;
            changed
        });
        let wants_pods = snapshot
            .virtual_ips
            .values()
            .any(|v| v.spec.trackers.iter().any(|t| t.pods.is_some()));
        if wants_pods && pods_watch.is_none() {
            pods_watch = Some(tokio::spawn(watch_pods(
                pods_api.clone(),
                opts.node_name.clone(),
                pods_tx.clone(),
            )));
        }
        let file = snapshot.documents();
        let excluded = opts.honor_exclude_label && snapshot.node_labels.contains_key(EXCLUDE_LABEL);
        if excluded != was_excluded {
            was_excluded = excluded;
            if excluded {
                tracing::info!(
                    label = EXCLUDE_LABEL,
                    "node excluded: handing over every VIP"
                );
            } else {
                tracing::info!(label = EXCLUDE_LABEL, "node no longer excluded: rejoining");
            }
        }
        let want = wanted(&netlink, &opts, &snapshot.node_labels, &file).await;
        supervisor.apply(&want, &deleted).await;
        supervisor.remove_unclaimed_leftovers();
        if lock(&shared).synced && saved.as_ref() != Some(&snapshot) {
            if let Err(e) = view::save_cache(&opts.cache_dir, &snapshot) {
                tracing::warn!(error = %e, dir = %opts.cache_dir.display(), "cannot write the configuration cache");
            }
            saved = Some(snapshot);
        }
    }
    tracing::info!("shutting down: handing over");
    supervisor.shutdown().await;
    // Give the status writer a moment to report the stop; the data plane is already done.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tracing::info!("stopped");
    Ok(())
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Read the Secrets the VirtualIPs reference; keep the last known value when the API fails.
async fn refresh_secrets(api: &Api<Secret>, view: &mut ClusterView) {
    let names: std::collections::BTreeSet<String> = view
        .virtual_ips
        .values()
        .filter_map(|v| {
            v.spec
                .authentication
                .as_ref()
                .map(|a| a.secret_ref.name.clone())
        })
        .collect();
    view.secrets.retain(|name, _| names.contains(name));
    for name in names {
        match api.get(&name).await {
            Ok(secret) => {
                let mut values = BTreeMap::new();
                for (k, v) in secret.data.unwrap_or_default() {
                    values.insert(k, String::from_utf8_lossy(&v.0).into_owned());
                }
                for (k, v) in secret.string_data.unwrap_or_default() {
                    values.insert(k, v);
                }
                view.secrets.insert(name, values);
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                view.secrets.remove(&name);
            }
            Err(e) => {
                tracing::debug!(secret = %name, error = %e, "cannot read Secret; keeping the last known value")
            }
        }
    }
}

fn viewed(vip: &VirtualIP) -> Option<(String, ViewedVip)> {
    let name = vip.metadata.name.clone()?;
    Some((
        name,
        ViewedVip {
            spec: vip.spec.clone(),
            generation: vip.metadata.generation,
            uid: vip.metadata.uid.clone(),
        },
    ))
}

/// Watch `api` into a reflector store, relisting after outages; the stream yields each event
/// after the store has taken it in (a relist lands in the store whole, at `InitDone`).
fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<Event<K>, watcher::Error>>,
)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher::watcher(api, config)).backoff(backoff());
    (store, stream)
}

/// Whether the store behind a watch has something new to show: after the first complete list,
/// on every change; not while a relist is still arriving.
fn settled<K>(event: Result<Event<K>, watcher::Error>, synced: &mut bool, what: &str) -> bool {
    match event {
        Err(e) => {
            tracing::debug!(error = %e, "{what} watch failed; retrying");
            false
        }
        Ok(Event::Init | Event::InitApply(_)) => false,
        Ok(Event::InitDone) => {
            *synced = true;
            true
        }
        Ok(Event::Apply(_) | Event::Delete(_)) => *synced,
    }
}

/// Keep the view's VirtualIPs in step with the API server.
async fn watch_virtual_ips(
    api: Api<VirtualIP>,
    shared: Arc<Mutex<Shared>>,
    notify: Arc<Notify>,
    masters: watch::Sender<k8s_status::Masters>,
) {
    let (store, stream) = reflect(api, watcher::Config::default().timeout(WATCH_TIMEOUT_SECS));
    let mut stream = std::pin::pin!(stream);
    let mut synced = false;
    while let Some(event) = stream.next().await {
        if !settled(event, &mut synced, "VirtualIP") {
            continue;
        }
        let objects = store.state();
        let seen: k8s_status::Masters = objects
            .iter()
            .filter_map(|v| {
                let master = v.status.as_ref().and_then(|s| s.master.clone());
                Some((v.metadata.name.clone()?, master))
            })
            .collect();
        masters.send_if_modified(|m| {
            let changed = *m != seen;
            *m = seen;
            changed
        });
        let list: BTreeMap<String, ViewedVip> = objects.iter().filter_map(|v| viewed(v)).collect();
        let mut s = lock(&shared);
        if s.synced && s.view.virtual_ips == list {
            continue; // a status write by some node: nothing for us
        }
        let gone: Vec<String> = s
            .view
            .virtual_ips
            .keys()
            .filter(|n| !list.contains_key(*n))
            .cloned()
            .collect();
        s.deleted.extend(gone);
        s.view.virtual_ips = list;
        s.synced = true;
        drop(s);
        notify.notify_one();
    }
}

/// Keep this node's labels in the view.
async fn watch_node(api: Api<Node>, node: String, shared: Arc<Mutex<Shared>>, notify: Arc<Notify>) {
    let config = watcher::Config::default()
        .timeout(WATCH_TIMEOUT_SECS)
        .fields(&format!("metadata.name={node}"));
    let mut stream = watcher::watcher(api, config)
        .backoff(backoff())
        .applied_objects()
        .boxed();
    while let Some(event) = stream.next().await {
        let Ok(n) = event else { continue };
        let labels: BTreeMap<String, String> = n.metadata.labels.unwrap_or_default();
        let mut s = lock(&shared);
        if s.view.node_labels != labels {
            s.view.node_labels = labels;
            drop(s);
            notify.notify_one();
        }
    }
}

/// Keep the pods on this node (for pods trackers).
async fn watch_pods(api: Api<Pod>, node: String, tx: watch::Sender<PodsView>) {
    let config = watcher::Config::default()
        .timeout(WATCH_TIMEOUT_SECS)
        .fields(&format!("spec.nodeName={node}"));
    let (store, stream) = reflect(api, config);
    let mut stream = std::pin::pin!(stream);
    let mut synced = false;
    while let Some(event) = stream.next().await {
        if !settled(event, &mut synced, "pod") {
            continue;
        }
        let pods: PodsView = store.state().iter().filter_map(|p| pod_facts(p)).collect();
        tx.send_if_modified(|v| {
            let changed = *v != pods;
            *v = pods;
            changed
        });
    }
}

fn pod_facts(p: &Pod) -> Option<(String, PodFacts)> {
    let namespace = p.metadata.namespace.clone()?;
    let name = p.metadata.name.clone()?;
    let ready = p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let facts = PodFacts {
        namespace: namespace.clone(),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        ready,
    };
    Some((format!("{namespace}/{name}"), facts))
}

/// Retry a failed watch after 0.2 s, doubling up to 2 s: after an outage the agent sees the
/// cluster again within two seconds (kube's default backoff waits up to 30 s, long enough for
/// `status.master` to stay wrong that long). Reset after every success.
fn backoff() -> ExponentialBackoff {
    ExponentialBackoff::from(
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(2))
            .with_factor(2.0)
            .without_max_times(),
    )
}
