//! What the agent knows of the cluster: VirtualIPs, this node's labels and the Secrets the
//! VirtualIPs reference. Kept by watchers, saved to a local cache so an agent restarted while the
//! API server is down resumes from its last known configuration (design.md principle 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::translate::{Documents, VirtualIpDoc};

/// The cluster as last seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// VirtualIPs by name, with their generation and uid.
    pub virtual_ips: BTreeMap<String, ViewedVip>,
    /// This node's labels.
    pub node_labels: BTreeMap<String, String>,
    /// Secret name -> key -> value, for the secretRefs in use.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// One VirtualIP as seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewedVip {
    /// The spec.
    pub spec: crate::spec::VirtualIpSpec,
    /// metadata.generation.
    pub generation: Option<i64>,
    /// metadata.uid.
    pub uid: Option<String>,
}

impl ClusterView {
    /// The view as the input of translation (the same translation serves both modes).
    pub fn documents(&self) -> Documents {
        Documents {
            virtual_ips: self
                .virtual_ips
                .iter()
                .map(|(name, v)| VirtualIpDoc {
                    name: name.clone(),
                    spec: v.spec.clone(),
                })
                .collect(),
            secrets: self.secrets.clone(),
        }
    }
}

/// Where the cache lives.
pub fn cache_path(dir: &Path) -> PathBuf {
    dir.join("cluster-view.json")
}

/// Load the cached view, if any and readable.
pub fn load_cache(dir: &Path) -> Option<ClusterView> {
    let text = std::fs::read_to_string(cache_path(dir)).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable configuration cache");
            None
        }
    }
}

/// Save the view atomically, readable by root only (it holds Secret values).
pub fn save_cache(dir: &Path, view: &ClusterView) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("cluster-view.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(serde_json::to_string(view).unwrap_or_default().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, cache_path(dir))
}
