//! The idle-footprint rows: CPU, RSS, PSS and settling, per configuration.

use super::{Report, Row, Target, row};
use crate::driver::Results;
use crate::stats::{Unit, fmt, median};
use crate::sys::System;

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
                limits.push(format!(
                    "Idle CPU with {label}: kube-vrrp uses {:.2}× keepalived's CPU ({} against {}; one measurement of each, side by side). Profile (perf cpu-clock at 40 kHz over 60 s on one node of a 3-node bed, strace -c, /proc/PID/task/*/schedstat): a lone master makes 6 system calls per advert (epoll_wait, read of the timerfd, sendto of the advert, sendto + recvfrom of the VIP lifetime refresh, timerfd_settime), keepalived's 4 (the same without the refresh); a backup 4, the same 4 as keepalived's (epoll_wait, recvmsg twice: the second finds EAGAIN, timerfd_settime). Of the master's CPU at 1 s adverts, 43% is the advert's sendto (which also delivers it to the two backups' sockets in softirq: the same for keepalived), 14% the refresh, 12% epoll_wait, the rest tokio's wake-up path and our code; at 10 ms adverts (warm caches) a master costs 73 µs per advert against keepalived's 58, a backup 33 against 23. What is left is the refresh (the price of a VIP that leaves by itself after kill -9; keepalived neither pays it nor has it) and waking a runtime with a task per instance plus the listener's task (two task polls and a channel hand-over per received advert where keepalived makes one function call), in a 16 MB binary whose cache lines come back cold after a second asleep. Tried and kept: the per-instance metrics drawn from the status at scrape time (no Prometheus counter per advert), the blocking-pool thread kept alive (the 30 s configuration look created one each time: clone3 was 4.6% of an idle backup), one timerfd for all instances, inotify instead of a stat a second. Not done: refreshing every other advert (the VIP would outlive a kill -9 by up to one more second and leave gaps with no holder), dropping the refresh's ack (one recvfrom; a failed refresh must still be seen), and one event loop per interface driving its instances in line without tasks or channels (a redesign of the data plane).",
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
