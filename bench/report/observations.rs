//! Findings beyond the targets, from the data.

use super::{advert_name, lifetime};
use crate::driver::Results;
use crate::stats::{Unit, cell, fmt};
use crate::sys::{PRIOS, System, master_down};

/// Findings beyond the targets, from the data.
pub(super) fn observations(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let k = System::KubeVrrp;
    let kc: Vec<&crate::scenarios::Crash> = r
        .crash
        .iter()
        .filter(|(s, _)| *s == k)
        .map(|(_, x)| x)
        .collect();
    if !kc.is_empty() {
        let two: Vec<f64> = kc.iter().map(|x| x.two_holders).collect();
        let with = two.iter().filter(|&&t| t > 0.0).count();
        if with > 0 {
            out.push(format!(
                "kill -9 with kube-vrrp: the dead agent's VIP outlives node2's takeover in {with} of {} runs, two holders for {} (median [min–max]): the lifetime is {:.0} s from the last refresh, which a master makes on every advert (at 1 s adverts; the engine refreshes once 0.9 s have passed, src/vrrp/timers.rs `VIP_REFRESH`), so the VIP goes 3–4 s after the kill, plus up to 1 s because the kernel expires lifetimes on whole seconds, while node2 takes over {:.3} s after node1's last advert. The dead agent's kernel still answers for the VIP meanwhile, and node2's gratuitous ARPs move the clients; a lifetime below the Master_Down_Interval would instead leave the VIP nowhere for a moment. keepalived keeps two holders until someone removes the VIP.",
                kc.len(),
                cell(&two, Unit::Time),
                lifetime(1000),
                master_down(1000, PRIOS[1])
            ));
        }
    }
    for advert in [1000u32, 100, 10] {
        for sys in System::BOTH {
            let v: Vec<&crate::scenarios::NodeLoss> = r
                .loss
                .iter()
                .filter(|(s, a, _)| *s == sys && *a == advert)
                .map(|(_, _, x)| x)
                .collect();
            let third = v.iter().filter(|x| x.third.is_some()).count();
            let bound = master_down(advert, PRIOS[1]);
            let long: Vec<f64> = v
                .iter()
                .filter(|x| x.gap > bound + 1.0)
                .map(|x| x.gap)
                .collect();
            if third > 0 || !long.is_empty() {
                let mut text = format!(
                    "Node loss at {} adverts, {}: node3 (190) took the VIP as well in {third} of {} runs (its Master_Down_Interval is only {} longer than node2's).",
                    advert_name(advert),
                    sys.name(),
                    v.len(),
                    fmt(master_down(advert, PRIOS[2]) - bound, Unit::Time),
                );
                if !long.is_empty() {
                    text.push_str(&format!(
                        " In {} run(s) the client was then cut off for {}: node3's gratuitous ARPs reached it after node2's and node3 gave the VIP back, so it kept sending to node3's MAC address until it learned node2's again (kube-vrrp: its next announcement burst, 5 s after the takeover). The cure is for the winner to announce again when it hears the other master: keepalived can do it with `higher_prio_send_advert` (off by default; the loser sends one last advert before stepping down) and `garp_lower_prio_repeat` (the winner then re-sends its gratuitous ARPs); both systems ran with their defaults here.",
                        long.len(),
                        cell(&long, Unit::Time)
                    ));
                }
                out.push(text);
            }
        }
    }
    for (sys, f) in r
        .foot
        .iter()
        .filter(|(s, f)| f.instances > 1 && !System::FLOORS.contains(s))
    {
        if f.others_max > 0 || f.ready_after.is_none_or(|t| t > 10.0) {
            let mut text = format!(
                "{} with {} instances per node: node1 held every VIP alone only after {}; meanwhile node2 and node3 held up to {} VIPs, the VIPs moving back and forth.",
                sys.name(),
                f.instances,
                f.ready_after
                    .map(|t| fmt(t, Unit::Time))
                    .unwrap_or_else(|| "more than 90 s".into()),
                f.others_max
            );
            if f.at_end != [f.instances, 0, 0] || f.drops_idle > 0 {
                text.push_str(&format!(
                    " At the end of the idle period node1/node2/node3 held {}/{}/{}, and the nodes' raw sockets had dropped {} adverts during it (receive buffer full: keepalived sizes it with `vrrp_rx_bufs_policy`/`vrrp_rx_bufs_multiplier`, left at their defaults here; kube-vrrp asks for 1 MiB). Its idle CPU and memory figures are then not those of an idle steady state.",
                    f.at_end[0], f.at_end[1], f.at_end[2], f.drops_idle
                ));
            } else if f.ready_after.is_none() {
                text.push_str(
                    " It had settled by the end of the idle period (every VIP on node1, no advert dropped), but the idle period may have begun before it settled.",
                );
            }
            out.push(text);
        }
    }
    out
}
