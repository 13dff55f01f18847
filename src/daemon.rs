//! What both daemons (`kube-vrrp run` and `kube-vrrp agent`) start first: the node's data plane
//! and, beside it, the HTTP endpoints that show its status and metrics. Composed here so that
//! the data plane does not know HTTP and HTTP does not know the data plane.

use std::net::SocketAddr;

use crate::dataplane::node::{DataPlane, RunError};
use crate::http::{self, HttpState};

/// Start the data plane and serve HTTP on `http_addr`. `require_all`: `/readyz` also requires
/// every instance to run (see [`HttpState::require_all`]). The server task lives as long as the
/// process.
pub async fn start(http_addr: SocketAddr, require_all: bool) -> Result<DataPlane, RunError> {
    let plane = DataPlane::start()?;
    let state = HttpState {
        status: plane.status.clone(),
        metrics: plane.metrics.clone(),
        ready: plane.ready.clone(),
        require_all,
    };
    http::serve(http_addr, state)
        .await
        .map_err(|source| RunError::Http {
            addr: http_addr,
            source,
        })?;
    Ok(plane)
}
