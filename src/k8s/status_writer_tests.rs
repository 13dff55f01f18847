//! The status patch: built from the typed `VirtualIpStatus`, the same JSON as the API server
//! has always been sent.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use crate::vrrp::TransitionReason;

use super::*;

fn instance(state: ReportedState) -> InstanceStatus {
    InstanceStatus {
        name: "web".into(),
        vrid: 51,
        interface: "eth0".into(),
        version: 3,
        addresses: vec!["198.51.100.10".into(), "198.51.100.11".into()],
        state,
        reason: Some(TransitionReason::HigherPriorityMaster),
        priority: 200,
        base_priority: 200,
        since: "2026-11-27T07:43:11.250Z".into(),
        ..Default::default()
    }
}

fn patch_json(name: &str, status: VirtualIpStatus) -> serde_json::Value {
    serde_json::to_value(StatusPatch::new(name, status)).unwrap()
}

const NOW: &str = "2026-11-27T07:43:12.000Z";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_765_392_000)
}

#[test]
fn a_master_sets_master_priority_generation_and_ready() {
    let status = node_part("n1", Some(4), &instance(ReportedState::Master), now());
    assert_eq!(
        patch_json("web", status),
        json!({
            "apiVersion": "kubevrrp.io/v1alpha1",
            "kind": "VirtualIP",
            "metadata": {"name": "web"},
            "status": {
                "nodes": [{
                    "node": "n1",
                    "state": "Master",
                    "priority": 200,
                    "since": "2026-11-27T07:43:11.250Z",
                    "reason": "HigherPriorityMaster",
                }],
                "observedGeneration": 4,
                "master": "n1",
                "masterPriority": 200,
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "reason": "MasterElected",
                    "message": "n1 holds 198.51.100.10, 198.51.100.11",
                    "lastTransitionTime": NOW,
                }],
            },
        })
    );
}

#[test]
fn a_backup_sets_only_its_own_entry() {
    let mut i = instance(ReportedState::Backup);
    i.reason = None;
    let status = node_part("n2", None, &i, now());
    assert_eq!(
        patch_json("web", status)["status"],
        json!({
            "nodes": [{
                "node": "n2",
                "state": "Backup",
                "priority": 200,
                "since": "2026-11-27T07:43:11.250Z",
            }],
        })
    );
}

#[test]
fn errors_and_conflicts_become_conditions_by_their_kind() {
    let mut i = instance(ReportedState::Error);
    i.error = Some("vrid 51 is already used by api on eth0".into());
    i.error_kind = Some(ErrorKind::VridInUse);
    i.conflict = Some("198.51.100.9 advertises vrid 51 with other addresses".into());
    let status = node_part("n1", Some(2), &i, now());
    let kinds: Vec<(&str, &str)> = status
        .conditions
        .iter()
        .map(|c| (c.kind.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("Conflict", "ForeignRouter"), ("Conflict", "VridInUse")]
    );
    assert_eq!(
        status.conditions[1].message,
        "n1: vrid 51 is already used by api on eth0"
    );
    assert_eq!(
        status.nodes[0].message.as_deref(),
        Some("vrid 51 is already used by api on eth0")
    );
    assert_eq!((status.master, status.master_priority), (None, None));
    for (kind, reason) in [
        (
            Some(ErrorKind::HooksRefused),
            ("Invalid", "NotifyHooksRefused"),
        ),
        (Some(ErrorKind::Invalid), ("Invalid", "CannotRun")),
        (Some(ErrorKind::CannotStart), ("Invalid", "CannotRun")),
        (None, ("Invalid", "CannotRun")),
    ] {
        i.error_kind = kind;
        i.conflict = None;
        let c = &node_part("n1", None, &i, now()).conditions[0];
        assert_eq!((c.kind.as_str(), c.reason.as_str()), reason);
    }
}

#[test]
fn a_withdrawal_applies_an_empty_status() {
    assert_eq!(
        patch_json("web", VirtualIpStatus::default())["status"],
        json!({})
    );
}

#[test]
fn what_was_written_changes_with_reportable_fields_only() {
    let i = instance(ReportedState::Backup);
    let mut counted = i.clone();
    counted.counters.adverts_received += 10;
    assert_eq!(Written::of(&i, Some(1)), Written::of(&counted, Some(1)));
    assert_ne!(Written::of(&i, Some(1)), Written::of(&i, Some(2)));
    let mut again = i.clone();
    again.since = "2026-11-27T07:43:15.000Z".into();
    assert_ne!(Written::of(&i, Some(1)), Written::of(&again, Some(1)));
}
