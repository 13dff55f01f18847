//! HTTP endpoints: `/healthz`, `/readyz`, `/status` (JSON) and `/metrics` (Prometheus), served
//! over HTTP/1.1 with a connection cap and header and lifetime timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::status::StatusStore;

/// What the endpoints read.
#[derive(Clone)]
pub struct HttpState {
    /// Instance status.
    pub status: StatusStore,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Set once the first configuration has been applied.
    pub ready: Arc<AtomicBool>,
    /// `/readyz` also requires every instance to run (none in Error): `kube-vrrp run`. The
    /// agent leaves it off: a VirtualIP that cannot run on one node is reported on that
    /// VirtualIP (status, Event), and must not hold back a DaemonSet rollout.
    pub require_all: bool,
}

/// At most this many connections are served at once; more are closed as soon as they are
/// accepted. Probes and scrapes need a handful; the cap bounds the descriptors and memory a
/// client can take from the process that also runs the VRRP engine (docs/hostile.md).
pub const MAX_CONNECTIONS: usize = 64;
/// A request's headers must have arrived this long after the connection opened or the previous
/// response went out (keep-alive); otherwise the connection is closed (slow-loris).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection lives longer than this, keep-alive included.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60);

/// Bind `addr` and serve until the task is dropped. Binding errors are returned at once.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state);
    Ok(tokio::spawn(accept_loop(listener, app)))
}

/// Accept connections and serve each with the limits above. A failed accept (no descriptors
/// left) is logged at most every 10 s and paced, so it can neither spin nor flood the log.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut last_log: Option<Instant> = None;
    let mut refused = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::error!(error = %e, "HTTP: cannot accept a connection");
                    last_log = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    refused,
                    "HTTP: too many connections; closing new ones"
                );
                last_log = Some(Instant::now());
            }
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(MAX_LIFETIME, conn).await {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
        });
    }
}

async fn readyz(State(s): State<HttpState>) -> impl IntoResponse {
    if !s.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_string());
    }
    let failed = if s.require_all {
        s.status.failed()
    } else {
        Vec::new()
    };
    if failed.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: cannot run {}\n", failed.join(", ")),
        )
    }
}

async fn status(State(s): State<HttpState>) -> impl IntoResponse {
    let body = serde_json::to_string_pretty(&s.status.snapshot()).unwrap_or_else(|_| "[]".into());
    ([(header::CONTENT_TYPE, "application/json")], body + "\n")
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(&s.status.snapshot()),
    )
}
