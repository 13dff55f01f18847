//! The kill -9 rows: how long the dead agent's VIP stays, two holders, takeover.

use super::{Report, Row, Target, lifetime, of, row};
use crate::driver::Results;
use crate::stats::{Unit, cell, fmt};
use crate::sys::{PRIOS, System, master_down};

/// The kill -9 rows.
pub(super) fn crash(r: &Results, out: &mut Report) {
    let (k, ka) = (System::KubeVrrp, System::Keepalived);
    let Report {
        rows,
        targets,
        limits,
        ..
    } = out;
    let crash_cell = |sys: System| -> (String, Vec<f64>, usize, usize) {
        let c: Vec<&crate::scenarios::Crash> = r
            .crash
            .iter()
            .filter(|(s, _)| *s == sys)
            .map(|(_, x)| x)
            .collect();
        let left: Vec<f64> = c.iter().filter_map(|x| x.left_after).collect();
        let stays = c.iter().filter(|x| x.left_after.is_none()).count();
        let text = if c.is_empty() {
            "not measured".to_string()
        } else if stays == c.len() {
            format!(
                "stays (still there after {:.0} s, {stays}/{} runs)",
                r.crash_window,
                c.len()
            )
        } else if stays == 0 {
            cell(&left, Unit::Time)
        } else {
            format!(
                "{}; stays in {stays}/{} runs",
                cell(&left, Unit::Time),
                c.len()
            )
        };
        (text, left, stays, c.len())
    };
    let (ck, left_k, stays_k, n_ck) = crash_cell(k);
    let (cka, _, _, _) = crash_cell(ka);
    rows.push(Row {
        scenario: "kill -9 of node1's daemon, link up, 1 s adverts: VIP leaves node1 after".into(),
        kube: ck,
        keep: cka,
        ratio: "–".into(),
        note: format!(
            "kube-vrrp's VIP lifetime at 1 s adverts: {:.0} s (kernel expiry runs on whole seconds)",
            lifetime(1000)
        ),
    });
    let two = |sys: System| -> String {
        let c: Vec<&crate::scenarios::Crash> = r
            .crash
            .iter()
            .filter(|(s, _)| *s == sys)
            .map(|(_, x)| x)
            .collect();
        if c.is_empty() {
            return "not measured".into();
        }
        let v: Vec<f64> = c.iter().map(|x| x.two_holders).collect();
        let open = c.iter().filter(|x| x.left_after.is_none()).count();
        if open > 0 {
            format!(
                "{} (until the end of the window, still two)",
                cell(&v, Unit::Time)
            )
        } else {
            cell(&v, Unit::Time)
        }
    };
    rows.push(Row {
        scenario: "kill -9: time two nodes held the VIP".into(),
        kube: two(k),
        keep: two(ka),
        ratio: "–".into(),
        note: "from SIGKILL until one holder (or the window's end)".into(),
    });
    rows.push(row(
        "kill -9: SIGKILL → VIP on node2",
        &of(&r.crash, k, |x| x.takeover),
        &of(&r.crash, ka, |x| x.takeover),
        Unit::Time,
        &format!(
            "bound {} after the last advert; depends on where in the advert period the kill falls",
            fmt(master_down(1000, PRIOS[1]), Unit::Time)
        ),
    ));
    if n_ck > 0 {
        let limit = lifetime(1000) + 1.0;
        let worst = left_k.iter().copied().fold(0.0, f64::max);
        let met = stays_k == 0 && worst <= limit;
        targets.push(Target {
            what: "after kill -9 the VIP leaves the dead agent's node within its lifetime and never stays".into(),
            measured: format!(
                "left after {} in {}/{n_ck} runs (lifetime {:.0} s + ≤1 s kernel expiry granularity = {limit:.0} s); keepalived: {}",
                cell(&left_k, Unit::Time),
                n_ck - stays_k,
                lifetime(1000),
                crash_cell(ka).0
            ),
            met: Some(met),
        });
        if !met {
            limits.push(format!(
                "kill -9: the dead agent's VIP stayed {} (worst) against a limit of {limit:.0} s.",
                fmt(worst, Unit::Time)
            ));
        }
    }
}
