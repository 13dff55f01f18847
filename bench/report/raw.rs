//! The raw data at the end of the report: every repetition, one line each.

use std::fmt::Write as _;

use crate::driver::Results;

/// Append the raw-data section.
pub(super) fn raw_data(r: &Results, s: &mut String) {
    let _ = writeln!(
        s,
        "\n## Raw data\n\n<details><summary>every repetition</summary>\n\n```"
    );
    for (sys, advert, x) in &r.loss {
        let _ = writeln!(
            s,
            "node-loss {:<10} advert {:>4} ms: election {:.4} s transient {} ({:.4} s); takeover {:.4} s, link-down→VIP {:.4} s, wire {:.4} s, gap {:.4} s, lost {}{}",
            sys.name(),
            advert,
            x.election.time,
            x.election.transient,
            x.election.transient_s,
            x.takeover,
            x.after_fault,
            x.wire,
            x.gap,
            x.lost,
            if x.spurious {
                ", spurious takeover before the fault"
            } else {
                ""
            }
        );
    }
    for (sys, x) in &r.handover {
        let _ = writeln!(
            s,
            "handover  {:<10}: election {:.4} s transient {}; gap {:.4} s, lost {}, SIGTERM→VIP on node2 {:.4} s, VIP gap {:.4} s, exit {:.3} s",
            sys.name(),
            x.election.time,
            x.election.transient,
            x.gap,
            x.lost,
            x.takeover,
            x.vip_gap,
            x.exit
        );
    }
    for (sys, x) in &r.crash {
        let _ = writeln!(
            s,
            "kill -9   {:<10}: left node1 {}, node2 after {:.4} s, two holders {:.4} s",
            sys.name(),
            x.left_after
                .map(|t| format!("after {t:.4} s"))
                .unwrap_or_else(|| format!("never within {:.0} s", x.window)),
            x.takeover,
            x.two_holders
        );
    }
    for (sys, x) in &r.foot {
        let _ = writeln!(
            s,
            "footprint {:<10} {:>3} instances: CPU {:.2} ms/min per node (master {:.2}), RSS {:.2} MiB, PSS {:.2} MiB, elected after {:?} s, raw drops while idle {}, VIPs at the end {:?}",
            sys.name(),
            x.instances,
            x.cpu_ms_min,
            x.master_cpu_ms_min,
            x.rss,
            x.pss,
            x.ready_after,
            x.drops_idle,
            x.at_end
        );
        let _ = writeln!(
            s,
            "          {:<10} {:>3} instances: node2 + node3 held up to {} VIPs during the election",
            sys.name(),
            x.instances,
            x.others_max
        );
    }
    if let Some(kr) = &r.k8s {
        for a in &kr.applies {
            let _ = writeln!(
                s,
                "apply     advert {:>4} ms: VIP on node1 {:.4} s, ping {:.4} s, kubectl {:.3} s",
                a.advert_ms, a.to_vip, a.to_ping, a.kubectl
            );
        }
        let _ = writeln!(
            s,
            "steady    {} VirtualIPs: {} writes in {:.1} s, resourceVersions unchanged: {}",
            kr.steady_vips, kr.writes, kr.steady_s, kr.rv_unchanged
        );
    }
    let _ = writeln!(s, "```\n\n</details>");
}
