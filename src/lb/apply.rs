//! One reconcile pass: read the stores, [`plan`](super::plan::plan), and make the API match:
//! new and changed Service VIPs first (a create is the lock on an address; a replace carries
//! the resourceVersion it read), then the Services' `status.loadBalancer.ingress` (server-side
//! apply, field manager `kube-vrrp-controller`), then VIPs nobody needs (after the statuses that
//! named them are cleared), then pool statuses. Events say what happened to each Service.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    LoadBalancerIngress, LoadBalancerStatus, Namespace, Service, ServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};

use super::plan::{self, Desired, Managed, PoolInput, VipInput};
use super::pool::{VirtualIPPool, VirtualIpPoolStatus};
use super::service::{self, ServiceKey};
use crate::spec::{Condition, VirtualIP};

/// The field manager of every write.
pub const MANAGER: &str = "kube-vrrp-controller";
/// Label on every Service VIP.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label: the pool of a Service VIP.
pub const POOL_LABEL: &str = "kubevrrp.io/pool";
/// Annotation: the Services a Service VIP carries (`ns/name,...`).
pub const SERVICES_ANNOTATION: &str = "kubevrrp.io/services";
/// Annotation: their sharing key.
pub const SHARING_KEY_ANNOTATION: &str = "kubevrrp.io/sharing-key";

/// What the controller reads.
pub struct Stores {
    /// Services, all namespaces.
    pub services: Store<Service>,
    /// VirtualIPs.
    pub vips: Store<VirtualIP>,
    /// VirtualIPPools.
    pub pools: Store<VirtualIPPool>,
    /// Namespaces (for pools' namespaceSelector).
    pub namespaces: Store<Namespace>,
}

/// The writer side, and what it remembers between passes (only to avoid repeating Events).
pub struct Applier {
    client: Client,
    recorder: Recorder,
    take_unclassed: bool,
    failures: BTreeMap<ServiceKey, String>,
    /// API writes made (`kube_vrrp_controller_api_writes_total`).
    pub writes: u64,
}

impl Applier {
    /// An applier.
    pub fn new(client: Client, recorder: Recorder, take_unclassed: bool) -> Applier {
        Applier {
            client,
            recorder,
            take_unclassed,
            failures: BTreeMap::new(),
            writes: 0,
        }
    }

    /// One pass. Errors are logged; the next pass (on the next event or resync) retries.
    pub async fn reconcile(&mut self, stores: &Stores) {
        let before = self.writes;
        self.pass(stores).await;
        if self.writes != before {
            tracing::info!(
                writes = self.writes - before,
                writes_total = self.writes,
                "reconciled"
            );
        }
    }

    async fn pass(&mut self, stores: &Stores) {
        let services = stores.services.state();
        let vips_now = stores.vips.state();
        let ns_labels: BTreeMap<String, BTreeMap<String, String>> = stores
            .namespaces
            .state()
            .iter()
            .map(|n| (n.name_any(), n.labels().clone()))
            .collect();
        let mut requests = Vec::new();
        let mut by_key: BTreeMap<ServiceKey, &Service> = BTreeMap::new();
        for s in &services {
            let key = ServiceKey {
                namespace: s.namespace().unwrap_or_default(),
                name: s.name_any(),
            };
            by_key.insert(key.clone(), s);
            if !service::is_ours(s, self.take_unclassed) || s.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let labels = ns_labels.get(&key.namespace).cloned().unwrap_or_default();
            match service::request(s, &labels) {
                Ok(r) => requests.push(r),
                Err(e) => self.failed(&key, s, &e.to_string()).await,
            }
        }
        let pools: Vec<PoolInput> = stores
            .pools
            .state()
            .iter()
            .map(|p| PoolInput {
                name: p.name_any(),
                created: p
                    .creation_timestamp()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
                spec: p.spec.clone(),
            })
            .collect();
        let vips: Vec<VipInput> = vips_now.iter().map(|v| vip_input(v)).collect();
        let desired = plan::plan(&pools, &vips, &requests);

        // 1. Service VIPs to create or change.
        for (name, want) in &desired.vips {
            let current = vips_now.iter().find(|v| v.name_any() == *name);
            if let Err(e) = self.put_vip(name, want, current.map(|v| &**v)).await {
                tracing::warn!(vip = %name, error = %e, "cannot write the Service VIP; retrying on the next pass");
            }
        }
        // 2. Service statuses.
        for r in &requests {
            let addresses = desired.ingress.get(&r.key).cloned().unwrap_or_default();
            let Some(svc) = by_key.get(&r.key) else {
                continue;
            };
            if let Some(e) = desired.failures.get(&r.key) {
                self.failed(&r.key, svc, &e.to_string()).await;
            } else {
                self.failures.remove(&r.key);
            }
            self.set_ingress(svc, &addresses).await;
        }
        // Services a Service VIP still names that are no longer ours: clear what we wrote.
        for v in &vips {
            for key in v.managed.iter().flat_map(|m| &m.services) {
                let served = requests.iter().any(|r| r.key == *key);
                if let (false, Some(svc)) = (served, by_key.get(key)) {
                    self.set_ingress(svc, &[]).await;
                }
            }
        }
        // 3. Service VIPs nobody needs.
        let api: Api<VirtualIP> = Api::all(self.client.clone());
        for v in vips.iter().filter(|v| v.managed.is_some()) {
            if !desired.vips.contains_key(&v.name) {
                match api.delete(&v.name, &DeleteParams::default()).await {
                    Ok(_) => {
                        self.writes += 1;
                        tracing::info!(vip = %v.name, "released the Service VIP");
                    }
                    Err(e) => {
                        tracing::warn!(vip = %v.name, error = %e, "cannot delete the Service VIP")
                    }
                }
            }
        }
        // 4. Pools.
        self.pool_statuses(&stores.pools.state(), &desired).await;
    }

    /// Create a Service VIP, or replace it (with the resourceVersion read) when it differs.
    async fn put_vip(
        &mut self,
        name: &str,
        want: &plan::DesiredVip,
        current: Option<&VirtualIP>,
    ) -> Result<(), kube::Error> {
        let api: Api<VirtualIP> = Api::all(self.client.clone());
        let mut vip = VirtualIP::new(name, want.spec.clone());
        let m = &want.managed;
        vip.metadata.labels = Some(BTreeMap::from([
            (MANAGED_BY.to_string(), MANAGER.to_string()),
            (POOL_LABEL.to_string(), m.pool.clone()),
        ]));
        let mut annotations = BTreeMap::from([(
            SERVICES_ANNOTATION.to_string(),
            m.services
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )]);
        if let Some(k) = &m.sharing_key {
            annotations.insert(SHARING_KEY_ANNOTATION.into(), k.clone());
        }
        vip.metadata.annotations = Some(annotations);
        match current {
            None => {
                api.create(&PostParams::default(), &vip).await?;
                self.writes += 1;
                tracing::info!(vip = %name, services = ?m.services.iter().map(ToString::to_string).collect::<Vec<_>>(), "created the Service VIP");
            }
            Some(cur) => {
                let same = cur.spec == vip.spec
                    && cur.metadata.labels == vip.metadata.labels
                    && cur.metadata.annotations.as_ref().is_some_and(|a| {
                        vip.metadata
                            .annotations
                            .iter()
                            .flatten()
                            .all(|(k, v)| a.get(k) == Some(v))
                    });
                if same {
                    return Ok(());
                }
                let mut next = cur.clone();
                next.spec = vip.spec;
                next.metadata.labels = vip.metadata.labels;
                let mut annotations = cur.metadata.annotations.clone().unwrap_or_default();
                annotations.remove(SHARING_KEY_ANNOTATION);
                annotations.extend(vip.metadata.annotations.unwrap_or_default());
                next.metadata.annotations = Some(annotations);
                api.replace(name, &PostParams::default(), &next).await?;
                self.writes += 1;
            }
        }
        Ok(())
    }

    /// Make the Service's ingress list `addresses` (server-side apply of our field manager's
    /// part; an empty list removes what we wrote). An Event when it changes.
    async fn set_ingress(&mut self, svc: &Service, addresses: &[IpAddr]) {
        let now: Vec<String> = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .map(|i| i.iter().filter_map(|x| x.ip.clone()).collect())
            .unwrap_or_default();
        let want: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        if now == want {
            return;
        }
        let ns = svc.namespace().unwrap_or_default();
        let api: Api<Service> = Api::namespaced(self.client.clone(), &ns);
        let patch = Service {
            metadata: ObjectMeta {
                name: Some(svc.name_any()),
                namespace: Some(ns),
                ..Default::default()
            },
            spec: None,
            status: Some(ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(
                        want.iter()
                            .map(|ip| LoadBalancerIngress {
                                ip: Some(ip.clone()),
                                ip_mode: Some("VIP".into()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                }),
                conditions: None,
            }),
        };
        let params = PatchParams::apply(MANAGER).force();
        match api
            .patch_status(&svc.name_any(), &params, &Patch::Apply(&patch))
            .await
        {
            Ok(_) => {
                self.writes += 1;
                let (reason, note) = if want.is_empty() {
                    ("AddressReleased", format!("released {}", now.join(", ")))
                } else if now.is_empty() {
                    ("AddressAllocated", format!("allocated {}", want.join(", ")))
                } else {
                    (
                        "AddressChanged",
                        format!("{} -> {}", now.join(", "), want.join(", ")),
                    )
                };
                self.event(svc, EventType::Normal, reason, note).await;
            }
            Err(e) => {
                tracing::warn!(service = %svc.name_any(), error = %e, "cannot write the Service status")
            }
        }
    }

    /// A Warning Event, once per distinct reason.
    async fn failed(&mut self, key: &ServiceKey, svc: &Service, why: &str) {
        if self.failures.get(key).map(String::as_str) == Some(why) {
            return;
        }
        self.failures.insert(key.clone(), why.to_string());
        tracing::warn!(service = %key, reason = why, "allocation failed");
        self.event(svc, EventType::Warning, "AllocationFailed", why.to_string())
            .await;
    }

    async fn event(&mut self, svc: &Service, type_: EventType, reason: &str, note: String) {
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Allocate".into(),
            secondary: None,
        };
        if self
            .recorder
            .publish(&ev, &svc.object_ref(&()))
            .await
            .is_ok()
        {
            self.writes += 1;
        }
    }

    /// Write each pool's status when it changed.
    async fn pool_statuses(&mut self, pools: &[std::sync::Arc<VirtualIPPool>], desired: &Desired) {
        let api: Api<VirtualIPPool> = Api::all(self.client.clone());
        for p in pools {
            let Some(state) = desired.pools.get(&p.name_any()) else {
                continue;
            };
            let old = p.status.clone().unwrap_or_default();
            let condition = |kind: &str, ok: bool, reason: &str, message: String| {
                let status = if ok { "True" } else { "False" }.to_string();
                let since = old
                    .conditions
                    .iter()
                    .find(|c| c.kind == kind && c.status == status)
                    .and_then(|c| c.last_transition_time.clone())
                    .unwrap_or_else(now_rfc3339);
                Condition {
                    kind: kind.into(),
                    status,
                    reason: reason.into(),
                    message,
                    last_transition_time: Some(since),
                }
            };
            let ready = match &state.ready {
                Ok(()) => condition("Ready", true, "Usable", String::new()),
                Err(e) => condition("Ready", false, "NotUsable", e.clone()),
            };
            let conflict = match &state.conflict {
                Some(m) => condition("Conflict", true, "Overlap", m.clone()),
                None => condition("Conflict", false, "NoOverlap", String::new()),
            };
            // Out of room: say so on the pool too, not only in each Service's Events.
            let mut full = Vec::new();
            if state.available_vrids == 0 {
                full.push("no free VRID (spec.vrids)".to_string());
            }
            if state.available.0 == 0 && state.available.1 == 0 {
                full.push("no free address".to_string());
            }
            let exhausted = if full.is_empty() {
                condition("Exhausted", false, "HasRoom", String::new())
            } else {
                condition("Exhausted", true, "PoolFull", full.join("; "))
            };
            let status = VirtualIpPoolStatus {
                assigned_ipv4: state.assigned.0,
                available_ipv4: u64::try_from(state.available.0).unwrap_or(u64::MAX),
                assigned_ipv6: state.assigned.1,
                available_ipv6: state.available.1.to_string(),
                available_vrids: state.available_vrids,
                conditions: vec![ready, conflict, exhausted],
            };
            if p.status.as_ref() == Some(&status) {
                continue;
            }
            let body = StatusPatch { status: &status };
            match api
                .patch_status(&p.name_any(), &PatchParams::default(), &Patch::Merge(&body))
                .await
            {
                Ok(_) => self.writes += 1,
                Err(e) => {
                    tracing::warn!(pool = %p.name_any(), error = %e, "cannot write the pool status")
                }
            }
        }
    }
}

/// `{"status": ...}`, a merge patch of a pool's status.
#[derive(Debug, serde::Serialize)]
struct StatusPatch<'a> {
    status: &'a VirtualIpPoolStatus,
}

/// A VirtualIP as the allocator sees it (the controller's own carry their marker).
fn vip_input(v: &VirtualIP) -> VipInput {
    let labels = v.labels();
    let managed = (labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGER)).then(|| {
        let a = v.annotations();
        Managed {
            pool: labels.get(POOL_LABEL).cloned().unwrap_or_default(),
            services: a
                .get(SERVICES_ANNOTATION)
                .map(|s| s.split(',').filter_map(|k| k.parse().ok()).collect())
                .unwrap_or_default(),
            sharing_key: a.get(SHARING_KEY_ANNOTATION).cloned(),
        }
    });
    VipInput {
        name: v.name_any(),
        vrid: v.spec.vrid,
        addresses: v
            .spec
            .addresses
            .iter()
            .filter_map(|a| crate::address::parse_prefixed(a).ok().map(|p| p.addr))
            .collect(),
        managed,
    }
}

fn now_rfc3339() -> String {
    crate::rfc3339::format(std::time::SystemTime::now())
}
