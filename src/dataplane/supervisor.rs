//! The supervisor: keeps the running instances equal to the desired ones. Unchanged instances
//! are left alone; changed ones are restarted; removed ones leave gracefully.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::command::{AbortOnDrop, LinkSubscribers, forward_links};
use super::deadline::Timers;
use super::driver::{self, Command, Host, NetHost};
use super::listener::Listener;
use super::status::{ErrorKind, ReportedState, StatusStore};
use super::sync::SyncGroup;
use crate::metrics::Metrics;
use crate::net::announce::FrameSender;
use crate::net::netlink::{KernelAddress, Link, Netlink};
use crate::net::socket::VrrpSocket;
use crate::net::vmac::Vmac;
use crate::track::{self, TrackerEnv, TrackerSet};
use crate::translate::RouterConfig;
use crate::vrrp::timers::master_down_interval;

/// One desired instance, or why it cannot run on this node.
pub type Desired = BTreeMap<String, Result<RouterConfig, String>>;

/// Why an instance could not start on this node.
struct StartError {
    kind: ErrorKind,
    message: String,
}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError {
            kind: ErrorKind::CannotStart,
            message,
        }
    }
}

struct Running {
    cfg: RouterConfig,
    tx: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    listener: (String, bool),
    trackers: TrackerSet,
    /// The virtual MAC interface's index, deleted when the instance stops.
    vmac: Option<u32>,
    /// Adverts arriving on the virtual MAC interface (see [`Vmac`]); stops when dropped.
    _vmac_listener: Option<Listener>,
}

/// Owner of every instance task and the per-interface sockets.
pub struct Supervisor {
    netlink: Netlink,
    metrics: Metrics,
    status: StatusStore,
    links: broadcast::Sender<Link>,
    epoch: Instant,
    /// Created with the first instance (it needs the runtime); `None` until then.
    timers: Option<Timers>,
    /// The instances' channels by link, for link events.
    link_subscribers: LinkSubscribers,
    /// The task that hands them the events ([`forward_links`]), started with the first
    /// instance; ends with the supervisor.
    link_forwarder: Option<AbortOnDrop>,
    running: BTreeMap<String, Running>,
    listeners: HashMap<(String, bool), Listener>,
    frames: HashMap<u32, Arc<FrameSender>>,
    pods: Option<tokio::sync::watch::Receiver<crate::track::pods::PodsView>>,
    /// VIPs an earlier run left installed, not yet claimed by an instance.
    leftovers: Vec<KernelAddress>,
    /// Whether notify hooks may run (standalone mode; see [`Supervisor::allow_notify_hooks`]).
    hooks_allowed: bool,
    /// The sync groups of this node's instances, by name.
    groups: HashMap<String, SyncGroup>,
}

impl Supervisor {
    /// A supervisor with nothing running.
    pub fn new(
        netlink: Netlink,
        metrics: Metrics,
        status: StatusStore,
        links: broadcast::Sender<Link>,
    ) -> Supervisor {
        Supervisor {
            netlink,
            metrics,
            status,
            links,
            epoch: Instant::now(),
            timers: None,
            link_subscribers: LinkSubscribers::default(),
            link_forwarder: None,
            running: BTreeMap::new(),
            listeners: HashMap::new(),
            frames: HashMap::new(),
            pods: None,
            leftovers: Vec::new(),
            hooks_allowed: false,
            groups: HashMap::new(),
        }
    }

    /// Let instances run their notify hooks (`spec.notify`): standalone mode. The Kubernetes
    /// agent never calls this, so a VirtualIP with hooks is refused there
    /// ([`ErrorKind::HooksRefused`]): the agent runs in a locked-down pod with nothing to run,
    /// and the VirtualIP's Events report every transition.
    pub fn allow_notify_hooks(&mut self) {
        self.hooks_allowed = true;
    }

    /// VIPs an earlier run left installed (it was killed while master): an instance that
    /// carries one keeps it while it rejoins (see [`crate::vrrp::Instance::handle_startup_holding`]);
    /// [`Supervisor::remove_unclaimed_leftovers`] removes the rest once the configuration is
    /// known.
    pub fn hold_leftovers(&mut self, leftovers: Vec<KernelAddress>) {
        self.leftovers = leftovers;
    }

    /// Remove the leftovers no instance carries (call after the first `apply`).
    pub fn remove_unclaimed_leftovers(&mut self) {
        for a in std::mem::take(&mut self.leftovers) {
            match self.netlink.remove(a.index, a.addr) {
                Ok(()) => {
                    tracing::info!(address = %a.addr, ifindex = a.index, "removed a VIP left behind by an earlier run")
                }
                Err(e) => {
                    tracing::warn!(address = %a.addr, error = %e, "cannot remove a VIP left behind by an earlier run")
                }
            }
        }
    }

    /// Whether an earlier run left any of `vips` on interface `index`; those are claimed.
    fn claim_leftovers(&mut self, index: u32, vips: &[crate::translate::Prefixed]) -> bool {
        let before = self.leftovers.len();
        self.leftovers
            .retain(|a| a.index != index || !vips.iter().any(|v| v.addr == a.addr.addr));
        self.leftovers.len() != before
    }

    /// The shared deadline timer, started on first use; `None` (tokio's timers) if the
    /// kernel refused a timerfd.
    fn timers(&mut self) -> Option<Timers> {
        if self.timers.is_none() {
            match Timers::start() {
                Ok(t) => self.timers = Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no timerfd: deadlines have millisecond precision")
                }
            }
        }
        self.timers.clone()
    }

    /// Names of the running instances.
    pub fn running(&self) -> Vec<String> {
        self.running.keys().cloned().collect()
    }

    /// Make the running set equal to `desired`. Instances named in `deleted` leave at once
    /// (their VirtualIP is gone everywhere); others that go away hand over gracefully.
    pub async fn apply(&mut self, desired: &Desired, deleted: &[String]) {
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(name, r)| !matches!(desired.get(*name), Some(Ok(cfg)) if *cfg == r.cfg))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let removed = !matches!(desired.get(&name), Some(Ok(_)));
            self.stop(&name, deleted.contains(&name)).await;
            if removed {
                self.forget(&name);
            }
        }
        // Instances that could not run and are no longer wanted.
        for name in self.status.names() {
            if !desired.contains_key(&name) && !self.running.contains_key(&name) {
                self.forget(&name);
            }
        }
        // The instances this pass starts start together (see driver::Host::started): from
        // here, after any stops above.
        let started = Instant::now();
        for (name, want) in desired {
            if self.running.contains_key(name) {
                continue;
            }
            match want {
                Ok(cfg) => {
                    if let Err(e) = self.start(cfg.clone(), started).await {
                        tracing::error!(vip = %name, error = %e.message, "cannot start");
                        self.report_error(name, e.kind, &e.message);
                    }
                }
                Err(e) => {
                    tracing::error!(vip = %name, error = %e, "invalid");
                    self.report_error(name, ErrorKind::Invalid, e);
                }
            }
        }
        self.listeners.retain(|_, l| !l.is_unused());
    }

    /// Make the node's pods available to pods trackers (the Kubernetes agent does this).
    pub fn set_pods(&mut self, pods: tokio::sync::watch::Receiver<crate::track::pods::PodsView>) {
        self.pods = Some(pods);
    }

    /// Forget an instance that is no longer wanted: its status goes, and with it every
    /// per-instance series (metrics.rs draws them from the status); the hook series apart.
    fn forget(&self, name: &str) {
        self.status.remove(name);
        super::notify::forget(&self.metrics, name);
    }

    fn report_error(&self, name: &str, kind: ErrorKind, error: &str) {
        self.status.update(name, |s| {
            s.state = ReportedState::Error;
            s.error = Some(error.to_string());
            s.error_kind = Some(kind);
            s.trackers.clear();
        });
    }

    async fn start(&mut self, cfg: RouterConfig, started: Instant) -> Result<(), StartError> {
        if !self.hooks_allowed && !cfg.notify.is_empty() {
            return Err(StartError {
                kind: ErrorKind::HooksRefused,
                message: "spec.notify: notify hooks run only in standalone mode (kube-vrrp run --config, the static pod); the Kubernetes agent runs in a locked-down pod, and the VirtualIP's Events report every transition".into(),
            });
        }
        track::set::check_supported(&cfg.trackers, self.pods.is_some())
            .map_err(|e| e.to_string())?;
        let link = self
            .netlink
            .link_by_name(&cfg.interface)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("interface {} not found", cfg.interface))?;
        let key = (cfg.interface.clone(), cfg.instance.primary.is_ipv6());
        if !self.listeners.contains_key(&key) {
            let socket = VrrpSocket::open(&cfg.interface, link.index, cfg.instance.primary)
                .map_err(|e| format!("VRRP socket: {e}"))?;
            self.listeners.insert(
                key.clone(),
                Listener::start(socket, cfg.interface.clone(), self.metrics.clone()),
            );
        }
        let timers = self.timers();
        let listener = &self.listeners[&key];
        let frames = match self.frames.get(&link.index) {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(
                    FrameSender::open(link.index)
                        .map_err(|e| format!("packet socket on {}: {e}", cfg.interface))?,
                );
                self.frames.insert(link.index, f.clone());
                f
            }
        };
        let (tx, rx) = mpsc::channel(1024);
        {
            let mut routes = listener.routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(other) = self
                .running
                .values()
                .find(|r| r.listener == key && r.cfg.instance.vrid == cfg.instance.vrid)
            {
                return Err(StartError {
                    kind: ErrorKind::VridInUse,
                    message: format!(
                        "vrid {} on {} is already used by VirtualIP {}",
                        cfg.instance.vrid, cfg.interface, other.cfg.name
                    ),
                });
            }
            routes.insert(cfg.instance.vrid, tx.clone());
        }
        let vmac = if cfg.virtual_mac {
            match Vmac::open(
                &self.netlink,
                &link,
                cfg.instance.vrid,
                cfg.instance.primary,
            )
            .await
            {
                Ok(v) => Some(Arc::new(v)),
                Err(e) => {
                    self.listeners[&key]
                        .routes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&cfg.instance.vrid);
                    return Err(format!("virtual MAC: {e}").into());
                }
            }
        } else {
            None
        };
        let vmac_index = vmac.as_ref().map(|v| v.link.index);
        let vmac_listener = vmac.as_ref().map(|v| {
            let l =
                Listener::with_socket(v.socket.clone(), v.link.name.clone(), self.metrics.clone());
            l.routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(cfg.instance.vrid, tx.clone());
            l
        });
        let group = cfg.sync_group.as_ref().map(|g| {
            let group = self
                .groups
                .entry(g.clone())
                .or_insert_with(|| SyncGroup::start(g))
                .clone();
            group.join(&cfg.name, tx.clone());
            group
        });
        let host = Host {
            group,
            vmac: vmac.as_ref().map(|v| v.link.clone()),
            io: NetHost {
                netlink: self.netlink.clone(),
                socket: listener.socket.clone(),
                frames,
                mac: link.mac.clone(),
                vmac,
            },
            metrics: self.metrics.clone(),
            status: self.status.clone(),
            epoch: self.epoch,
            started,
            timers,
        };
        let env = TrackerEnv {
            netlink: self.netlink.clone(),
            links: self.links.clone(),
            metrics: self.metrics.clone(),
            status: self.status.clone(),
            pods: self.pods.clone(),
        };
        // Kinds were checked above, so this cannot fail; should it, undo the route.
        let (trackers, initial) =
            match TrackerSet::start(&cfg.name, &cfg.trackers, &env, tx.clone()).await {
                Ok(started) => started,
                Err(e) => {
                    listener
                        .routes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&cfg.instance.vrid);
                    self.delete_vmac(&cfg.name, vmac_index).await;
                    return Err(e.to_string().into());
                }
            };
        let name = cfg.name.clone();
        let leftover = self.claim_leftovers(link.index, &cfg.vips);
        if self.link_forwarder.is_none() {
            let task = tokio::spawn(forward_links(
                self.links.subscribe(),
                self.link_subscribers.clone(),
            ));
            self.link_forwarder = Some(AbortOnDrop(task.abort_handle()));
        }
        self.link_subscribers.add(link.index, tx.clone());
        let task = tokio::spawn(driver::run(cfg.clone(), host, link, initial, leftover, rx));
        self.running.insert(
            name,
            Running {
                cfg,
                tx,
                task,
                listener: key,
                trackers,
                vmac: vmac_index,
                _vmac_listener: vmac_listener,
            },
        );
        Ok(())
    }

    /// Stop one instance and wait for it (bounded by its handover wait): gracefully, or at
    /// once when `release`.
    async fn stop(&mut self, name: &str, release: bool) {
        let Some(r) = self.running.remove(name) else {
            return;
        };
        self.link_subscribers.remove(&r.tx);
        r.trackers.stop().await;
        self.leave_group(&r.cfg);
        let command = if release {
            Command::Release
        } else {
            Command::Shutdown
        };
        let _ = r.tx.send(command).await;
        let bound = handover_bound(&r.cfg);
        let abort = r.task.abort_handle();
        if tokio::time::timeout(bound, r.task).await.is_err() {
            tracing::warn!(vip = %name, "instance did not stop in time; aborting it");
            abort.abort();
        }
        if let Some(l) = self.listeners.get(&r.listener) {
            l.routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&r.cfg.instance.vrid);
        }
        self.delete_vmac(name, r.vmac).await;
    }

    /// Take a stopping instance out of its sync group (the others stop following it); a
    /// group left without members ends.
    fn leave_group(&mut self, cfg: &RouterConfig) {
        let Some(g) = &cfg.sync_group else { return };
        if let Some(group) = self.groups.get(g) {
            group.leave(&cfg.name);
        }
        let still = self
            .running
            .values()
            .any(|r| r.cfg.sync_group.as_ref() == Some(g));
        if !still {
            self.groups.remove(g);
        }
    }

    async fn delete_vmac(&self, name: &str, index: Option<u32>) {
        if let Some(index) = index
            && let Err(e) = self.netlink.delete_link(index).await
        {
            tracing::warn!(vip = %name, error = %e, "cannot delete the virtual MAC interface");
        }
    }

    /// Send tracker state to an instance.
    pub async fn trackers(&self, name: &str, adjustment: i32, fault: bool) {
        if let Some(r) = self.running.get(name) {
            let _ = r.tx.send(Command::Trackers { adjustment, fault }).await;
        }
    }

    /// Stop everything gracefully, in parallel; returns when all have stopped.
    pub async fn shutdown(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        let mut waits = Vec::new();
        for name in names {
            if let Some(r) = self.running.remove(&name) {
                self.link_subscribers.remove(&r.tx);
                r.trackers.stop().await;
                let _ = r.tx.send(Command::Shutdown).await;
                let bound = handover_bound(&r.cfg);
                let netlink = self.netlink.clone();
                waits.push(async move {
                    let abort = r.task.abort_handle();
                    if tokio::time::timeout(bound, r.task).await.is_err() {
                        abort.abort();
                    }
                    if let Some(index) = r.vmac {
                        let _ = netlink.delete_link(index).await;
                    }
                });
            }
        }
        futures::future::join_all(waits).await;
        self.listeners.clear();
    }
}

/// A leaving master waits at most Master_Down_Interval for its successor; allow a second more.
/// The stop hooks may then take their timeout.
fn handover_bound(cfg: &RouterConfig) -> Duration {
    let hooks = if cfg.notify.is_empty() {
        Duration::ZERO
    } else {
        cfg.notify.timeout + Duration::from_secs(1)
    };
    master_down_interval(cfg.instance.priority, cfg.instance.advert_interval)
        + Duration::from_secs(1)
        + hooks
}

#[cfg(test)]
mod tests;
