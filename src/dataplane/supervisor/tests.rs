//! Unit tests of the supervisor that need no running instance.

use std::collections::BTreeMap;

use tokio::sync::broadcast;

use super::Supervisor;
use crate::dataplane::status::{ErrorKind, ReportedState, StatusStore};
use crate::metrics::Metrics;
use crate::net::netlink::Netlink;
use crate::translate::{InterfaceFacts, NodeFacts, parse_prefixed, translate};

/// A VirtualIP with a notify hook, on an interface this machine does not have (so an allowed
/// start stops at the interface lookup, before any socket is opened).
fn with_hooks() -> crate::translate::RouterConfig {
    let doc = "vrid: 51\naddresses: [198.51.100.100/32]\ninterface: kvnohooks0\nnotify: {master: [/bin/true]}\n";
    let spec: crate::spec::VirtualIpSpec = serde_saphyr::from_str(doc).expect("spec");
    let node = NodeFacts {
        name: "n1".into(),
        labels: Default::default(),
        interfaces: vec![InterfaceFacts {
            name: "kvnohooks0".into(),
            addresses: vec![parse_prefixed("198.51.100.11/24").expect("address")],
        }],
    };
    translate("web", &spec, &node, &|_| Err("no secrets".into()))
        .expect("translates")
        .expect("runs on n1")
}

async fn kind_after_apply(allow: bool) -> (ReportedState, Option<ErrorKind>, String) {
    let netlink = Netlink::connect().expect("netlink (the tests run where it exists)");
    let (links, _) = broadcast::channel(16);
    let status = StatusStore::default();
    let mut sup = Supervisor::new(netlink, Metrics::new(), status.clone(), links);
    if allow {
        sup.allow_notify_hooks();
    }
    let desired = BTreeMap::from([("web".to_string(), Ok(with_hooks()))]);
    sup.apply(&desired, &[]).await;
    let s = status
        .snapshot()
        .into_iter()
        .find(|s| s.name == "web")
        .expect("a status for web");
    (s.state, s.error_kind, s.error.unwrap_or_default())
}

#[tokio::test]
async fn the_kubernetes_agent_refuses_notify_hooks() {
    let (state, kind, error) = kind_after_apply(false).await;
    assert_eq!(
        (state, kind),
        (ReportedState::Error, Some(ErrorKind::HooksRefused))
    );
    assert!(
        error.starts_with("spec.notify: notify hooks run only in standalone mode"),
        "{error}"
    );
    // Standalone mode goes past the hooks (and stops here at the missing interface).
    let (_, kind, _) = kind_after_apply(true).await;
    assert_eq!(kind, Some(ErrorKind::CannotStart));
}

#[tokio::test]
async fn an_instance_no_longer_wanted_leaves_no_status_and_no_series() {
    let netlink = Netlink::connect().expect("netlink (the tests run where it exists)");
    let (links, _) = broadcast::channel(16);
    let status = StatusStore::default();
    let metrics = Metrics::new();
    let mut sup = Supervisor::new(netlink, metrics.clone(), status.clone(), links);
    sup.allow_notify_hooks();
    let desired = BTreeMap::from([
        ("web".to_string(), Ok(with_hooks())),
        (
            "bad".to_string(),
            Err("spec.vrid: must be 1..255".to_string()),
        ),
    ]);
    sup.apply(&desired, &[]).await;
    metrics
        .notify_runs
        .with_label_values(&["web", "master"])
        .inc();
    assert_eq!(status.names(), ["bad", "web"]);
    let text = metrics.render(&status.snapshot());
    assert!(text.contains(r#"vip="web""#), "{text}");
    sup.apply(&BTreeMap::new(), &["web".to_string(), "bad".to_string()])
        .await;
    assert!(status.names().is_empty(), "{:?}", status.names());
    let text = metrics.render(&status.snapshot());
    assert!(!text.contains("vip="), "{text}");
}
