//! Lease leader election between controller replicas (what client-go's leaderelection does,
//! kube-runtime has none): one `coordination.k8s.io/v1` Lease in the controller's namespace.
//! A replica takes the Lease when it is free or when its record has not changed for a whole
//! lease duration *as this replica observed it* (its own clock only, so clock skew between
//! nodes cannot make two leaders); every write carries the resourceVersion it read, so two
//! replicas racing for it cannot both win. The leader renews every retry period and gives up
//! (the process exits, the Deployment restarts it) when it could not renew for the renew
//! deadline; on SIGTERM it releases the Lease so the other replica takes over at once.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

/// Timings (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// How long a record must stay unchanged before another replica may take the Lease.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Time between attempts.
    pub retry_period: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// One replica's view of the Lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
    /// The record last read (resourceVersion, holder) and when this replica first saw it.
    observed: Option<(String, Option<String>, Instant)>,
}

impl Elector {
    /// An elector for Lease `name` in `api`'s namespace, as `identity` (the pod name).
    pub fn new(api: Api<Lease>, name: &str, identity: &str, timings: Timings) -> Elector {
        Elector {
            api,
            name: name.into(),
            identity: identity.into(),
            timings,
            observed: None,
        }
    }

    /// Timings in use.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Try once to take or renew the Lease; true while this replica holds it.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let secs = i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if !mine && holder.is_some() {
            // Someone else's: free only once its record stood still for a lease duration.
            let first_seen = match &self.observed {
                Some((v, h, at)) if *v == version && *h == holder => *at,
                _ => {
                    self.observed = Some((version.clone(), holder.clone(), Instant::now()));
                    return Ok(false);
                }
            };
            if first_seen.elapsed() < self.timings.lease_duration {
                return Ok(false);
            }
        }
        let mut next = spec;
        if !mine {
            next.acquire_time = Some(now.clone());
            next.lease_transitions = Some(next.lease_transitions.unwrap_or(0) + 1);
        }
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(secs);
        next.renew_time = Some(now);
        lease.spec = Some(next);
        // replace carries the resourceVersion read above: a concurrent writer makes this 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Give the Lease up (on shutdown), so that another replica need not wait it out.
    pub async fn release(&mut self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }

    /// Wait until this replica holds the Lease (retrying every retry period, forever).
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: cannot read or write the Lease")
                }
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Keep renewing; returns when leadership is lost (a renewal failed for the renew
    /// deadline, or another replica holds the Lease).
    pub async fn hold(&mut self) {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.timings.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: renewing the Lease failed");
                    if last_renewed.elapsed() >= self.timings.renew_deadline {
                        return;
                    }
                }
            }
        }
    }
}
