//! The cold-start rows: election time and transient second holders.

use super::{Report, Row, Target, advert_name, elections, row};
use crate::driver::Results;
use crate::stats::{Unit, fmt, median};
use crate::sys::{PRIOS, System, master_down};

/// The cold-start rows.
pub(super) fn cold_start(r: &Results, out: &mut Report) {
    let (k, ka) = (System::KubeVrrp, System::Keepalived);
    let Report {
        rows,
        targets,
        limits,
        ..
    } = out;
    let ek = elections(r, k);
    let eka = elections(r, ka);
    let times = |e: &[crate::scenarios::Election]| e.iter().map(|x| x.time).collect::<Vec<_>>();
    let bound_e = master_down(1000, PRIOS[0]);
    rows.push(row(
        "cold start, 1 s adverts: start of the daemons → VIP on node1 (210)",
        &times(&ek),
        &times(&eka),
        Unit::Time,
        &format!("node1's Master_Down_Interval {bound_e:.3} s"),
    ));
    let trans = |e: &[crate::scenarios::Election]| {
        let n = e.iter().filter(|x| x.transient).count();
        let longest = e.iter().map(|x| x.transient_s).fold(0.0, f64::max);
        (n, e.len(), longest)
    };
    let starts_at = |sys: System, advert: u32| -> Vec<crate::scenarios::Election> {
        if advert == 1000 {
            elections(r, sys)
        } else {
            r.loss
                .iter()
                .filter(|(s, a, _)| *s == sys && *a == advert)
                .map(|(_, _, x)| x.election.clone())
                .collect()
        }
    };
    let mut all_k = (0, 0);
    let mut per_advert = Vec::new();
    for advert in [1000u32, 100, 10] {
        let (tk, nk, lk) = trans(&starts_at(k, advert));
        let (tka, nka, lka) = trans(&starts_at(ka, advert));
        if nk + nka == 0 {
            continue;
        }
        all_k.0 += tk;
        all_k.1 += nk;
        per_advert.push(format!("{tk}/{nk} at {}", advert_name(advert)));
        let longest = |t: usize, l: f64| {
            if t > 0 {
                format!(" (longest {})", fmt(l, Unit::Time))
            } else {
                String::new()
            }
        };
        rows.push(Row {
            scenario: format!(
                "cold start, {} adverts: starts in which another node held the VIP too",
                advert_name(advert)
            ),
            kube: format!("{tk}/{nk}{}", longest(tk, lk)),
            keep: format!("{tka}/{nka}{}", longest(tka, lka)),
            ratio: "–".into(),
            note: "spawn order rotated over the repetitions".into(),
        });
    }
    if all_k.1 > 0 {
        targets.push(Target {
            what: "no transient second holder at a cold start".into(),
            measured: format!(
                "{} of {} starts ({})",
                all_k.0,
                all_k.1,
                per_advert.join(", ")
            ),
            met: Some(all_k.0 == 0),
        });
        if all_k.0 > 0 {
            limits.push(format!(
                "Cold start: another node held the VIP in {} of {} kube-vrrp starts ({}). When the daemons start further apart than the difference between the nodes' Master_Down_Intervals (at 10 ms adverts node2's is only 0.4 ms longer than node1's; at 1 s, 39 ms), a lower-priority node that starts first becomes master before node1 is up, and node1 then preempts it; process start-up time is in that race.",
                all_k.0,
                all_k.1,
                per_advert.join(", ")
            ));
        }
    }
    if let (Some(mk), Some(mka)) = (median(&times(&ek)), median(&times(&eka))) {
        targets.push(Target {
            what: "cold-start election no slower than keepalived".into(),
            measured: format!(
                "{} vs {} (ratio {:.3})",
                fmt(mk, Unit::Time),
                fmt(mka, Unit::Time),
                mk / mka
            ),
            met: Some(mk <= mka),
        });
        if mk > mka {
            limits.push(format!(
                "Cold start: kube-vrrp's median is {:.0} ms slower than keepalived's; both wait node1's Master_Down_Interval ({bound_e:.3} s) after their start, so the difference is process start-up (reading the configuration, opening sockets) before the engine's timer starts.",
                (mk - mka) * 1000.0
            ));
        }
    }
}
