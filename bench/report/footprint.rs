//! The idle-footprint rows: CPU, RSS, PSS and settling, per configuration.

use std::fmt::Write as _;

use super::{Report, Row, Target, row};
use crate::driver::Results;
use crate::stats::{Unit, fmt, median};
use crate::sys::System;

/// What a profile of an idle node showed (the figures are from the run named; the table's
/// are this run's).
const IDLE_PROFILE: &str = "Profile of an idle backup at 1 s adverts (perf cpu-clock every 5 µs over 90 s, the profiling build, beside the tokio floor on the same machine): kube-vrrp 12.9 ms against the floor's 9.1 ms; in the kernel 4.7 against 5.3 ms (kube-vrrp makes three system calls per advert, epoll_wait, one recvmmsg that empties the queue and timerfd_settime, where the floor makes keepalived's four: epoll_wait, recv twice, the second finding EAGAIN, timerfd_settime), in user space 8.2 against 3.8 ms, spread over about a hundred functions of 0.5–5 % each: two task polls and a channel hand-over per advert (listener, then instance), tokio's I/O and timer drivers, the select over commands, timer and announcement rounds, the advert's allocations. After a second asleep every wake-up runs on cold caches, so what costs is how much code and data a wake-up touches, not what it computes. A master also refreshes its VIP's lifetime (RTM_NEWADDR and its acknowledgement, two system calls a second): the price of a VIP that leaves by itself after kill -9, which keepalived neither pays nor has.";

/// Median CPU per node (ms/min) of `sys` in footprint configuration `v`.
fn cpu_of(r: &Results, sys: System, v: &crate::driver::Footprints) -> Option<f64> {
    let xs: Vec<f64> = r
        .foot
        .iter()
        .filter(|(s, x)| *s == sys && v.is(x))
        .map(|(_, x)| x.cpu_ms_min)
        .collect();
    median(&xs)
}

/// The table of idle CPU against the floors (bench/floor), or "" when no floor ran.
pub(super) fn floor_table(r: &Results) -> String {
    if !r.foot.iter().any(|(s, _)| System::FLOORS.contains(s)) {
        return String::new();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Idle CPU against the floor\n\nbench/floor (`idle-floor`) does only what any router must do while idle, with the same kernel calls as kube-vrrp: a master sends its pre-encoded adverts on a raw socket when a timerfd fires and refreshes its VIPs' lifetimes every 900 ms (RTM_NEWADDR + acknowledgement); a backup receives each advert (TTL, version, checksum, PASS checked) and moves a timerfd. No election, state machine, configuration, logging or metrics. Two event loops: a current-thread tokio runtime (as kube-vrrp runs) and epoll by hand (keepalived's shape). Measured in the same idle window as the two systems above, in beds of their own. CPU per node, mean of the 3 nodes, ms/min.\n"
    );
    let _ = writeln!(
        s,
        "| configuration | kube-vrrp | floor, tokio | floor, epoll | keepalived | kube-vrrp / floor (tokio) | floor (tokio) / keepalived | floor (epoll) / keepalived |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    };
    let val = |x: Option<f64>| x.map_or("–".into(), |x| fmt(x, Unit::CpuMs));
    for v in crate::driver::FOOTPRINTS {
        let [k, ft, fe, ka] = [
            System::KubeVrrp,
            System::FloorTokio,
            System::FloorEpoll,
            System::Keepalived,
        ]
        .map(|sys| cpu_of(r, sys, &v));
        if [k, ft, fe, ka].iter().all(Option::is_none) {
            continue;
        }
        let label = crate::driver::Footprints::label(&v.routers());
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            val(k),
            val(ft),
            val(fe),
            val(ka),
            div(k, ft),
            div(ft, ka),
            div(fe, ka)
        );
    }
    s
}

/// The idle-footprint rows.
pub(super) fn footprint(r: &Results, out: &mut Report) {
    let (k, ka) = (System::KubeVrrp, System::Keepalived);
    let Report {
        rows,
        targets,
        limits,
        ..
    } = out;
    for v in crate::driver::FOOTPRINTS {
        let n = v.instances;
        let f = |sys: System, g: fn(&crate::scenarios::Footprint) -> f64| -> Vec<f64> {
            r.foot
                .iter()
                .filter(|(s, x)| *s == sys && v.is(x))
                .map(|(_, x)| g(x))
                .collect()
        };
        let label = crate::driver::Footprints::label(&v.routers());
        if r.foot.iter().all(|(_, x)| !v.is(x)) {
            continue;
        }
        rows.push(row(
            &format!("idle, {label} per node: CPU per node"),
            &f(k, |x| x.cpu_ms_min),
            &f(ka, |x| x.cpu_ms_min),
            Unit::CpuMs,
            &format!(
                "mean of the 3 nodes over {:.0} s; keepalived: parent + VRRP child",
                r.idle
            ),
        ));
        rows.push(row(
            &format!("idle, {label}: CPU of the master"),
            &f(k, |x| x.master_cpu_ms_min),
            &f(ka, |x| x.master_cpu_ms_min),
            Unit::CpuMs,
            "",
        ));
        rows.push(row(
            &format!("idle, {label}: RSS per node"),
            &f(k, |x| x.rss),
            &f(ka, |x| x.rss),
            Unit::Mib,
            "keepalived: parent + child (shared pages counted twice)",
        ));
        rows.push(row(
            &format!("idle, {label}: PSS per node"),
            &f(k, |x| x.pss),
            &f(ka, |x| x.pss),
            Unit::Mib,
            "/proc/PID/smaps_rollup",
        ));
        let ready = |sys: System| -> String {
            r.foot
                .iter()
                .filter(|(s, x)| *s == sys && v.is(x))
                .map(|(_, x)| {
                    let t = match x.ready_after {
                        Some(t) => fmt(t, Unit::Time),
                        None => "not within 90 s".into(),
                    };
                    if x.others_max > 0 {
                        format!(
                            "{t} (meanwhile node2 and node3 held up to {} VIPs)",
                            x.others_max
                        )
                    } else {
                        t
                    }
                })
                .next()
                .unwrap_or_else(|| "not measured".into())
        };
        rows.push(Row {
            scenario: format!("{label}: start → node1 holds every VIP, the others none"),
            kube: ready(k),
            keep: ready(ka),
            ratio: "–".into(),
            note: "address events".into(),
        });
        let health = |sys: System| -> String {
            r.foot
                .iter()
                .filter(|(s, x)| *s == sys && v.is(x))
                .map(|(_, x)| {
                    format!(
                        "{} dropped; VIPs on node1/2/3 at the end {}/{}/{}",
                        x.drops_idle, x.at_end[0], x.at_end[1], x.at_end[2]
                    )
                })
                .next()
                .unwrap_or_else(|| "not measured".into())
        };
        rows.push(Row {
            scenario: format!("{label}: adverts dropped by the nodes' raw sockets while idle"),
            kube: health(k),
            keep: health(ka),
            ratio: "–".into(),
            note: "/proc/net/raw drops (receive buffer full)".into(),
        });
        let (ck, cka) = (
            median(&f(k, |x| x.cpu_ms_min)),
            median(&f(ka, |x| x.cpu_ms_min)),
        );
        if let (Some(a), Some(b)) = (ck, cka) {
            targets.push(Target {
                what: format!("idle CPU no more than keepalived's, {label}"),
                measured: format!(
                    "{} vs {} (ratio {:.2})",
                    fmt(a, Unit::CpuMs),
                    fmt(b, Unit::CpuMs),
                    a / b.max(1e-9)
                ),
                met: Some(a <= b),
            });
            if a > b {
                let floor = |sys| cpu_of(r, sys, &v);
                let floors = match (floor(System::FloorTokio), floor(System::FloorEpoll)) {
                    (Some(ft), Some(fe)) => {
                        format!(
                            " The floor (table above: only the kernel calls every router must make, the lifetime refresh included) measured {} on epoll ({:.2}× keepalived) and {} on tokio ({:.2}×); kube-vrrp is {:.2}× the tokio floor.",
                            fmt(fe, Unit::CpuMs),
                            fe / b.max(1e-9),
                            fmt(ft, Unit::CpuMs),
                            ft / b.max(1e-9),
                            a / ft.max(1e-9)
                        ) + if ft > b {
                            " At most keepalived's CPU is below the tokio floor here, so out of reach for a daemon on tokio (the design's runtime); what is left to win is kube-vrrp's distance to that floor."
                        } else {
                            " The tokio floor is within keepalived's here: the whole distance is kube-vrrp's own path."
                        }
                    }
                    _ => String::new(),
                };
                limits.push(format!(
                    "Idle CPU with {label}: kube-vrrp uses {:.2}× keepalived's CPU ({} against {}; one measurement of each, side by side).{floors} {IDLE_PROFILE}",
                    a / b.max(1e-9),
                    fmt(a, Unit::CpuMs),
                    fmt(b, Unit::CpuMs)
                ));
            }
        }
        let (pk, pka) = (median(&f(k, |x| x.pss)), median(&f(ka, |x| x.pss)));
        if let (Some(a), Some(b)) = (pk, pka)
            && n >= 255
        {
            targets.push(Target {
                what: format!("PSS at most 1.5× keepalived's, {label}"),
                measured: format!(
                    "{} vs {} (ratio {:.2})",
                    fmt(a, Unit::Mib),
                    fmt(b, Unit::Mib),
                    a / b
                ),
                met: Some(a <= 1.5 * b),
            });
            if a > 1.5 * b {
                limits.push(format!(
                    "PSS with {label}: kube-vrrp {a:.1} MiB against keepalived's {b:.1} MiB ({:.2}×). Per instance: the driver (boxed, about 1.4 KiB) and its task (0.9 KiB), the command channel's first block (32 commands of 16 bytes), the status entry the metrics are drawn from, the configuration; the binary's touched pages add about 2.5 MiB of PSS per node (shared by the three processes).",
                    a / b
                ));
            }
        }
        let (rk, rka) = (median(&f(k, |x| x.rss)), median(&f(ka, |x| x.rss)));
        if let (Some(a), Some(b)) = (rk, rka) {
            targets.push(Target {
                what: format!("RSS under 2× keepalived's, {label}"),
                measured: format!(
                    "{} vs {} (ratio {:.2})",
                    fmt(a, Unit::Mib),
                    fmt(b, Unit::Mib),
                    a / b
                ),
                met: Some(a < 2.0 * b),
            });
            if a >= 2.0 * b {
                limits.push(format!(
                    "RSS with {label}: kube-vrrp {:.1} MiB against keepalived's {:.1} MiB.",
                    a, b
                ));
            }
        }
    }
}
