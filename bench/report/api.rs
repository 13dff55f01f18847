//! The API server rows: apply to VIP and ping, steady-state writes.

use super::{Report, Row, Target, advert_name};
use crate::driver::Results;
use crate::stats::{Unit, cell, fmt};
use crate::sys::{PRIOS, master_down};

/// The API server rows.
pub(super) fn api_server(r: &Results, out: &mut Report) {
    let Report {
        k8s_rows,
        targets,
        limits,
        ..
    } = out;
    if let Some(kr) = &r.k8s {
        for advert in [1000u32, 100] {
            let a: Vec<&crate::k8s_api::Apply> = kr
                .applies
                .iter()
                .filter(|x| x.advert_ms == advert)
                .collect();
            if a.is_empty() {
                continue;
            }
            let bound = master_down(advert, PRIOS[0]) + 0.5;
            let ping: Vec<f64> = a.iter().map(|x| x.to_ping).collect();
            k8s_rows.push(Row {
                scenario: format!(
                    "`kubectl apply` → VIP answers the client, {} adverts",
                    advert_name(advert)
                ),
                kube: cell(&ping, Unit::Time),
                keep: "n/a".into(),
                ratio: "–".into(),
                note: format!(
                    "target ≤ {} (Master_Down_Interval + 0.5 s)",
                    fmt(bound, Unit::Time)
                ),
            });
            k8s_rows.push(Row {
                scenario: format!(
                    "`kubectl apply` → VIP on node1, {} adverts",
                    advert_name(advert)
                ),
                kube: cell(&a.iter().map(|x| x.to_vip).collect::<Vec<_>>(), Unit::Time),
                keep: "n/a".into(),
                ratio: "–".into(),
                note: format!(
                    "kubectl itself took {}",
                    cell(&a.iter().map(|x| x.kubectl).collect::<Vec<_>>(), Unit::Time)
                ),
            });
            let over = ping.iter().filter(|&&x| x > bound).count();
            targets.push(Target {
                what: format!(
                    "apply-to-ping within Master_Down_Interval + 0.5 s, {} adverts",
                    advert_name(advert)
                ),
                measured: format!(
                    "{} (≤ {} in {}/{} applies)",
                    cell(&ping, Unit::Time),
                    fmt(bound, Unit::Time),
                    ping.len() - over,
                    ping.len()
                ),
                met: Some(over == 0),
            });
            if over > 0 {
                limits.push(format!(
                    "Apply-to-ping at {} adverts: {over} of {} applies took longer than {}; the path is kubectl → API server → watch event → agent → a new instance that, per RFC 5798, waits Master_Down_Interval as a backup before it becomes master.",
                    advert_name(advert),
                    ping.len(),
                    fmt(bound, Unit::Time)
                ));
            }
        }
        let per_min = if kr.steady_s > 0.0 {
            kr.writes * 60.0 / kr.steady_s
        } else {
            f64::NAN
        };
        k8s_rows.push(Row {
            scenario: format!(
                "steady state: API writes per minute ({} VirtualIPs × 3 nodes)",
                kr.steady_vips
            ),
            kube: format!(
                "{per_min:.1} ({} writes in {:.0} s); resourceVersions {}",
                kr.writes,
                kr.steady_s,
                if kr.rv_unchanged {
                    "unchanged"
                } else {
                    "CHANGED"
                }
            ),
            keep: "n/a".into(),
            ratio: "–".into(),
            note: "kube_vrrp_api_writes_total summed over the nodes".into(),
        });
        targets.push(Target {
            what: "zero API writes per minute in a steady state".into(),
            measured: format!(
                "{} writes in {:.0} s, resourceVersions {}",
                kr.writes,
                kr.steady_s,
                if kr.rv_unchanged {
                    "unchanged"
                } else {
                    "changed"
                }
            ),
            met: Some(kr.writes == 0.0 && kr.rv_unchanged),
        });
    } else {
        targets.push(Target {
            what: "apply-to-ping within Master_Down_Interval + 0.5 s; zero API writes per minute"
                .into(),
            measured: "not measured (see failures)".into(),
            met: None,
        });
    }
}
