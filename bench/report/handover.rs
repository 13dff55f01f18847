//! The planned-handover rows.

use super::{Report, Row, Target, of, row};
use crate::driver::Results;
use crate::stats::{Unit, fmt, median, summary};
use crate::sys::{PRIOS, System};

/// The planned-handover rows.
pub(super) fn handover(r: &Results, out: &mut Report) {
    let (k, ka) = (System::KubeVrrp, System::Keepalived);
    let Report {
        rows,
        targets,
        limits,
        ..
    } = out;
    let hk = |f: fn(&crate::scenarios::Handover) -> f64| of(&r.handover, k, f);
    let hka = |f: fn(&crate::scenarios::Handover) -> f64| of(&r.handover, ka, f);
    rows.push(row(
        "planned handover (SIGTERM to node1), 1 s adverts: client gap",
        &hk(|x| x.gap),
        &hka(|x| x.gap),
        Unit::Time,
        "normal spacing of replies is ~10 ms",
    ));
    rows.push(row(
        "planned handover: pings lost",
        &hk(|x| x.lost as f64),
        &hka(|x| x.lost as f64),
        Unit::Count,
        "",
    ));
    rows.push(row(
        "planned handover: SIGTERM → VIP on node2",
        &hk(|x| x.takeover),
        &hka(|x| x.takeover),
        Unit::Time,
        &format!(
            "node2's Skew_Time {}",
            fmt(f64::from(256 - u32::from(PRIOS[1])) / 256.0, Unit::Time)
        ),
    ));
    let mut vip_gap = row(
        "planned handover: VIP on node2 − VIP off node1",
        &hk(|x| x.vip_gap),
        &hka(|x| x.vip_gap),
        Unit::Time,
        "negative: both held it briefly (make-before-break)",
    );
    vip_gap.ratio = "–".into();
    rows.push(vip_gap);
    let cut = |sys: System| {
        r.handover
            .iter()
            .filter(|(s, x)| *s == sys && !x.resumed)
            .count()
    };
    if cut(k) + cut(ka) > 0 {
        rows.push(Row {
            scenario: "planned handover: runs in which the client still got no reply 8 s later"
                .into(),
            kube: cut(k).to_string(),
            keep: cut(ka).to_string(),
            ratio: "–".into(),
            note: "the gap above counts to the stop in those runs".into(),
        });
    }
    let lost_k = hk(|x| x.lost as f64);
    if let Some((m, _, hi)) = summary(&lost_k) {
        targets.push(Target {
            what: "planned handover with zero lost pings".into(),
            measured: format!(
                "{} of {} handovers lost pings (median {m:.0}, max {hi:.0}); keepalived median {}",
                lost_k.iter().filter(|&&x| x > 0.0).count(),
                lost_k.len(),
                median(&hka(|x| x.lost as f64))
                    .map(|x| format!("{x:.0}"))
                    .unwrap_or_else(|| "–".into())
            ),
            met: Some(hi == 0.0),
        });
        if hi > 0.0 {
            limits.push(format!(
                "Planned handover: {} of {} runs lost pings (max {hi:.0}).",
                lost_k.iter().filter(|&&x| x > 0.0).count(),
                lost_k.len()
            ));
        }
    }
}
