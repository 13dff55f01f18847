//! The pods tracker (Kubernetes only): up while at least one Ready pod in the given namespace
//! matching the selector runs on this node, so a VIP can follow its backend. The agent keeps the
//! node's pods in a [`PodsView`] (one watch of the pods on this node); each tracker re-evaluates
//! on every change, without polling.

use std::collections::BTreeMap;

use kube::core::SelectorExt;
use tokio::sync::{mpsc, watch};

use super::{Observation, Reading};
use crate::translate::tracker::PodsConfig;

/// One pod on this node, as far as trackers care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFacts {
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The pod's Ready condition is True and it is not being deleted.
    pub ready: bool,
}

/// Pods on this node, keyed by namespace/name.
pub type PodsView = BTreeMap<String, PodFacts>;

/// The observation for `spec` given the node's pods.
pub fn reading(spec: &PodsConfig, pods: &PodsView) -> Observation {
    let matching: Vec<&PodFacts> = pods
        .values()
        .filter(|p| p.namespace == spec.namespace && spec.selector.matches(&p.labels))
        .collect();
    let ready = matching.iter().filter(|p| p.ready).count();
    let detail = format!("{ready} of {} matching pods ready", matching.len());
    Observation::new(
        if ready > 0 {
            Reading::Pass
        } else {
            Reading::Fail
        },
        detail,
    )
}

/// Follow the node's pods, sending an observation whenever this tracker's reading changes.
pub async fn run(
    spec: PodsConfig,
    mut pods: watch::Receiver<PodsView>,
    index: usize,
    tx: mpsc::Sender<(usize, Observation)>,
) {
    let mut last = None;
    loop {
        let observation = reading(&spec, &pods.borrow_and_update());
        if last.as_ref() != Some(&observation) {
            last = Some(observation.clone());
            if tx.send((index, observation)).await.is_err() {
                return;
            }
        }
        if pods.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LabelSelector;

    fn pod(ns: &str, app: &str, ready: bool) -> PodFacts {
        PodFacts {
            namespace: ns.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ready,
        }
    }

    #[test]
    fn up_while_a_matching_pod_is_ready() {
        let spec = PodsConfig {
            namespace: "web".into(),
            selector: LabelSelector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }
            .to_selector()
            .unwrap(),
        };
        let mut view = PodsView::new();
        assert_eq!(reading(&spec, &view).reading, Reading::Fail);
        view.insert("web/a".into(), pod("web", "web", false));
        view.insert("other/b".into(), pod("other", "web", true));
        view.insert("web/c".into(), pod("web", "db", true));
        assert_eq!(reading(&spec, &view).reading, Reading::Fail);
        view.insert("web/d".into(), pod("web", "web", true));
        let r = reading(&spec, &view);
        assert_eq!(r.reading, Reading::Pass);
        assert_eq!(r.detail, "1 of 2 matching pods ready");
    }
}
