//! The second table of docs/benchmarks.md (kube-vrrp and its Kubernetes peers) and
//! docs/peers.svg (the client's pings around a node loss, one row per system).

use std::fmt::Write as _;

use crate::peer_scenarios::{PeerResult, Seen};
use crate::peers::Peer;
use crate::scenarios::Plot;
use crate::stats::{Unit, cell, median};
use crate::svg::{Panel, ROW, W, panel, representative};

fn of(rs: &[PeerResult], p: Peer) -> Option<&PeerResult> {
    rs.iter().find(|r| r.peer == p)
}

/// peer / kube-vrrp of the medians.
fn ratio(peer: Option<f64>, base: Option<f64>) -> String {
    match (peer, base) {
        (Some(a), Some(b)) if b.abs() > 1e-9 => format!("{:.1}", a / b),
        (Some(a), Some(_)) if a.abs() < 1e-9 => "1 (both 0)".into(),
        (Some(_), Some(_)) => "∞ (kube-vrrp 0)".into(),
        _ => "–".into(),
    }
}

/// One row: a cell per system (values) and ratios against kube-vrrp.
fn row(
    out: &mut String,
    rs: &[PeerResult],
    peers: &[Peer],
    name: &str,
    unit: Unit,
    note: &str,
    f: &dyn Fn(&PeerResult) -> Vec<f64>,
) {
    let base = of(rs, Peer::KubeVrrp).map(f).and_then(|v| median(&v));
    let _ = write!(out, "| {name} |");
    for &p in peers {
        let v = of(rs, p).map(f).unwrap_or_default();
        let _ = write!(out, " {} |", cell(&v, unit));
        if p != Peer::KubeVrrp {
            let _ = write!(out, " {} |", ratio(median(&v), base));
        }
    }
    let _ = writeln!(out, " {note} |");
}

/// A row of text cells (no ratios).
fn text_row(
    out: &mut String,
    rs: &[PeerResult],
    peers: &[Peer],
    name: &str,
    note: &str,
    f: &dyn Fn(&PeerResult) -> String,
) {
    let _ = write!(out, "| {name} |");
    for &p in peers {
        let t = of(rs, p).map(f).unwrap_or_else(|| "not measured".into());
        let _ = write!(out, " {t} |");
        if p != Peer::KubeVrrp {
            let _ = write!(out, " – |");
        }
    }
    let _ = writeln!(out, " {note} |");
}

fn gaps(v: &[Seen]) -> Vec<f64> {
    v.iter().map(|s| s.gap).collect()
}

fn losts(v: &[Seen]) -> Vec<f64> {
    v.iter().map(|s| s.lost as f64).collect()
}

/// The markdown section.
pub fn markdown(rs: &[PeerResult], reps: usize, outage: f64, steady: f64) -> String {
    let peers: Vec<Peer> = Peer::ALL
        .iter()
        .copied()
        .filter(|p| of(rs, *p).is_some())
        .collect();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\n## Kubernetes peers: kube-vrrp, MetalLB and Lease election on the same nodes\n"
    );
    let _ = writeln!(
        o,
        "Written by the same `bench/run` (part `peers`). Every system runs as processes in the three node namespaces of its own bed with a kubeconfig against its own real API server (hack/apiserver on a control-plane host of the bed, audit log on); the four beds run at the same time (one thread each), so the same background load hits all of them. Processes rather than pods on the real-node bed: the agents do the same with or without a kubelet around them, and four kubelet+containerd beds would load the 2 cores far more than what is measured. The client pings the VIP every ~10 ms as in the first table; a fault is applied to the node the client reaches (its neighbour entry). Cells: median [min–max] over up to {reps} repetitions; ratio = peer median / kube-vrrp median (above 1: the peer is slower or bigger). Plot: [peers.svg](peers.svg).\n"
    );
    let _ = writeln!(
        o,
        "- kube-vrrp: `kube-vrrp agent` per node, one VirtualIP (VRRPv3, 1 s adverts, priorities 210/200/190, preemption)."
    );
    let _ = writeln!(
        o,
        "- MetalLB v0.15.2 layer 2 (built by hack/peers/build.sh from the Go module proxy; v0.16.2 needs frr-k8s API types that no version the proxy serves has, v0.15.2 builds with frr-k8s v0.0.21 in place of its v0.0.20, whose BGP types layer 2 does not use): controller on the control-plane host (webhooks off: no webhook service without pods), a speaker per node with memberlist and its secret key, as the Helm chart runs them; an IPAddressPool with the VIP, an L2Advertisement, a LoadBalancer Service with one ready endpoint. Defaults everywhere (memberlist LAN profile). kube-proxy's part is played as its IPVS mode with `strictARP` does it (MetalLB's documented requirement for IPVS): the VIP on a local interface of every node (`lo`; IPVS uses a dummy `kube-ipvs0`, which this kernel lacks), `arp_ignore=1`, `arp_announce=2`; the speaker's ARP answers decide which node the client reaches."
    );
    let _ = writeln!(
        o,
        "- Lease election (hack/peers/lease-announcer, client-go `leaderelection` on a Lease, ReleaseOnCancel): the leader adds the VIP to eth0 and sends gratuitous ARPs (again every 3 s), like kube-vip's ARP mode; losing the lease removes the VIP; after a loss it joins the election again (kube-vip exits and is restarted). Not kube-vip (the module proxy refuses its module): its behaviour with kube-vip's default timings (lease 15 s, renew deadline 10 s, retry 2 s) and its static-pod example's (5/3/1 s)."
    );
    let _ = writeln!(
        o,
        "- After every fault the node comes back as after a reboot (agent killed, link up, VIP gone from eth0, agent started) and the bench waits until the client reaches the VIP on one node (twice, 2 s apart)."
    );
    let _ = writeln!(
        o,
        "- Steady state: {steady:.0} s, all systems at the same time, 5 s after their election; API requests = audit-log entries of the system's own clients (the API server's loopback client and the bench's kubectl left out), one VIP; CPU = run time of the agents' threads, per node; MetalLB's controller separately.\n"
    );
    let _ = write!(o, "| scenario |");
    for &p in &peers {
        let _ = write!(o, " {} |", p.label());
        if p != Peer::KubeVrrp {
            let _ = write!(o, " ratio |");
        }
    }
    let _ = writeln!(o, " note |");
    let _ = write!(o, "|---|");
    for &p in &peers {
        let _ = write!(o, "---|");
        if p != Peer::KubeVrrp {
            let _ = write!(o, "---|");
        }
    }
    let _ = writeln!(o, "---|");
    row(
        &mut o,
        rs,
        &peers,
        "node loss (link down): client gap",
        Unit::Time,
        "longest time without replies",
        &|r| gaps(&r.loss),
    );
    row(
        &mut o,
        rs,
        &peers,
        "node loss: pings lost",
        Unit::Count,
        "",
        &|r| losts(&r.loss),
    );
    row(
        &mut o,
        rs,
        &peers,
        "planned stop (SIGTERM to the agent): client gap",
        Unit::Time,
        "",
        &|r| gaps(&r.stop),
    );
    row(
        &mut o,
        rs,
        &peers,
        "planned stop: pings lost",
        Unit::Count,
        "",
        &|r| losts(&r.stop),
    );
    row(
        &mut o,
        rs,
        &peers,
        "kill -9 of the agent: pings lost",
        Unit::Count,
        "",
        &|r| r.kill.iter().map(|k| k.seen.lost as f64).collect(),
    );
    text_row(
        &mut o,
        rs,
        &peers,
        "kill -9: VIP residue on the dead agent's node",
        "address systems; MetalLB holds no address (its ARP answers stop with the process)",
        &|r| {
            if !r.peer.holds_address() {
                return "n/a".into();
            }
            let left: Vec<f64> = r.kill.iter().filter_map(|k| k.residue).collect();
            let stays = r.kill.iter().filter(|k| k.residue.is_none()).count();
            let mut t = if left.is_empty() {
                String::new()
            } else {
                format!("left after {}", cell(&left, Unit::Time))
            };
            if stays > 0 {
                let w = r.kill.iter().map(|k| k.window).fold(0.0, f64::max);
                if !t.is_empty() {
                    t.push_str("; ");
                }
                let _ = write!(t, "stays ({stays}/{} runs, > {w:.0} s)", r.kill.len());
            }
            if t.is_empty() {
                "not measured".into()
            } else {
                t
            }
        },
    );
    row(
        &mut o,
        rs,
        &peers,
        "kill -9: time two nodes held the VIP",
        Unit::Time,
        "until the end of the window when it stays",
        &|r| {
            if r.peer.holds_address() {
                r.kill.iter().map(|k| k.two_holders).collect()
            } else {
                Vec::new()
            }
        },
    );
    text_row(
        &mut o,
        rs,
        &peers,
        &format!("API server down {outage:.0} s, no node failure: pings lost (longest gap)"),
        "does the VIP stay up",
        &|r| {
            r.outage
                .as_ref()
                .map(|x| {
                    format!(
                        "{} ({})",
                        x.lost_before_cut,
                        cell(&[x.gap_before_cut], Unit::Time)
                    )
                })
                .unwrap_or_else(|| "not measured".into())
        },
    );
    text_row(
        &mut o,
        rs,
        &peers,
        "then a node loss during the outage: client back after",
        "",
        &|r| {
            r.outage
                .as_ref()
                .map(|x| {
                    x.failover
                        .map(|t| cell(&[t], Unit::Time))
                        .unwrap_or_else(|| format!("no (not within {:.0} s)", x.waited))
                })
                .unwrap_or_else(|| "not measured".into())
        },
    );
    let per_min = |r: &PeerResult, f: &dyn Fn(&crate::peer_scenarios::Steady) -> f64| -> Vec<f64> {
        r.steady
            .iter()
            .map(|s| f(s) * 60.0 / s.secs.max(1.0))
            .collect()
    };
    row(
        &mut o,
        rs,
        &peers,
        "steady state: API requests per minute per VIP",
        Unit::Count,
        "lease renewals included; watches count when they end",
        &|r| per_min(r, &|s| s.requests as f64),
    );
    row(
        &mut o,
        rs,
        &peers,
        "steady state: API writes per minute per VIP",
        Unit::Count,
        "",
        &|r| per_min(r, &|s| s.writes as f64),
    );
    text_row(
        &mut o,
        rs,
        &peers,
        "steady state: requests by kind",
        "",
        &|r| {
            r.steady
                .as_ref()
                .map(|s| {
                    s.by_kind
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "none".into())
        },
    );
    row(
        &mut o,
        rs,
        &peers,
        "idle CPU per node (agent mode)",
        Unit::CpuMs,
        "mean of the 3 agents",
        &|r| r.steady.iter().map(|s| s.cpu_ms_min).collect(),
    );
    row(&mut o, rs, &peers, "RSS per node", Unit::Mib, "", &|r| {
        r.steady.iter().map(|s| s.rss).collect()
    });
    row(&mut o, rs, &peers, "PSS per node", Unit::Mib, "", &|r| {
        r.steady.iter().map(|s| s.pss).collect()
    });
    text_row(
        &mut o,
        rs,
        &peers,
        "plus, once per cluster: controller CPU, RSS",
        "",
        &|r| {
            r.steady
                .as_ref()
                .and_then(|s| s.controller)
                .map(|(c, m)| format!("{c:.1} ms/min, {m:.1} MiB"))
                .unwrap_or_else(|| "none".into())
        },
    );
    notes(&mut o, rs);
    let fails: Vec<String> = rs
        .iter()
        .flat_map(|r| {
            r.failures.iter().map(move |f| {
                format!(
                    "{}: {}",
                    r.peer.name(),
                    f.lines().next().unwrap_or_default()
                )
            })
        })
        .collect();
    if !fails.is_empty() {
        let _ = writeln!(o, "\nFailed or skipped ({}):\n", fails.len());
        for f in fails {
            let _ = writeln!(o, "- {f}");
        }
    }
    o
}

/// The closing note: the ratios, and why a figure may look unfair to a peer.
fn notes(o: &mut String, rs: &[PeerResult]) {
    let med =
        |p: Peer, f: &dyn Fn(&PeerResult) -> Vec<f64>| of(rs, p).map(f).and_then(|v| median(&v));
    let base_gap = med(Peer::KubeVrrp, &|r| gaps(&r.loss));
    let _ = writeln!(o, "\n### What the peer figures mean\n");
    let mut ratios = Vec::new();
    for p in [Peer::MetalLb, Peer::LeaseFast, Peer::LeaseDefault] {
        if let (Some(a), Some(b)) = (med(p, &|r| gaps(&r.loss)), base_gap) {
            ratios.push(format!(
                "{} {:.1}× ({:.1} s against {:.1} s)",
                short(p),
                a / b,
                a,
                b
            ));
        }
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            o,
            "- Node loss, client gap, peer / kube-vrrp: {}. The design's target is at least 4× faster than kube-vip at its defaults: {}. kube-vrrp ran at 1 s adverts here (its default; at 100 ms or 10 ms adverts the gap shrinks to ~0.3 s or ~30 ms, the first table); the lease systems are bound by their lease duration plus a retry period, MetalLB by memberlist declaring the node dead (LAN profile: 1 s probes, then a suspicion timeout of at least 4 s).",
            ratios.join("; "),
            match (med(Peer::LeaseDefault, &|r| gaps(&r.loss)), base_gap) {
                (Some(a), Some(b)) => format!(
                    "{:.1}× ({})",
                    a / b,
                    if a / b >= 4.0 { "met" } else { "not met" }
                ),
                _ => "not measured".into(),
            }
        );
    }
    let _ = writeln!(
        o,
        "- Planned stop and kill -9 with MetalLB lose nothing: the speaker holds no address; the node the client reaches keeps delivering the VIP (kube-proxy's part stays) while another speaker takes over the ARP answers. That is MetalLB's real behaviour when only its pod goes, not an artefact; a whole node going is the node-loss row."
    );
    let _ = writeln!(
        o,
        "- The lease announcer is not kube-vip: it reproduces kube-vip's ARP mode (address on the interface, gratuitous ARPs, lease timings, the VIP dropped when leadership is lost, the lease released on SIGTERM). kube-vip has options this stand-in leaves at their defaults or does not model (e.g. `vip_preserve_on_leadership_loss`, off by default; its restart after losing the lease is immediate here). After kill -9 its address stays (nothing removes it; kube-vip users report the same orphaned VIPs, kv#1579) and the next leader adds it too: two holders until someone cleans up. kill -9 runs of a system whose VIP stayed stop after 3 runs (like keepalived's in the first table)."
    );
    let _ = writeln!(
        o,
        "- API server down: the lease holders cannot renew, lose leadership after the renew deadline and remove the VIP; nothing fails over until the API server is back. MetalLB's speakers keep announcing from their caches and memberlist still moves the VIP. kube-vrrp does not depend on the API server for either."
    );
    let _ = writeln!(
        o,
        "- Steady-state cost: the lease systems write their Lease every retry period (the leader) and read it (everyone), per VIP; MetalLB and kube-vrrp only hold watches (no writes). The bed has 3 nodes, 1 Service and nothing else, so watch traffic is the minimum; in a real cluster MetalLB's speakers also watch Services, EndpointSlices, Nodes and their CRDs (more events, more memory), kube-vrrp its VirtualIPs (and Pods/Nodes only for trackers and selectors). MetalLB's speaker also runs its memberlist gossip (every 200 ms) and its BGP machinery idle; Go processes carry their runtime (GC, goroutines); CPU figures are the processes' own threads."
    );
}

fn short(p: Peer) -> &'static str {
    match p {
        Peer::KubeVrrp => "kube-vrrp",
        Peer::MetalLb => "MetalLB L2",
        Peer::LeaseFast => "Lease 5/3/1 s",
        Peer::LeaseDefault => "Lease 15/10/2 s",
    }
}

/// docs/peers.svg: the client's pings around a node loss, the median repetition per system.
pub fn svg(rs: &[PeerResult]) -> String {
    let mut rows = Vec::new();
    let mut longest: f64 = 4.0;
    for p in Peer::ALL {
        let Some(r) = of(rs, p) else { continue };
        let plots: Vec<(f64, Plot, String)> = r
            .loss
            .iter()
            .map(|s| {
                (
                    s.gap,
                    Plot {
                        sent: s.sent.clone(),
                        marks: Vec::new(),
                    },
                    format!("gap {:.2} s, {} lost", s.gap, s.lost),
                )
            })
            .collect();
        let refs: Vec<(f64, &Plot, String)> =
            plots.iter().map(|x| (x.0, &x.1, x.2.clone())).collect();
        let (plot, caption) = representative(&refs);
        longest = longest.max(
            plot.as_ref()
                .map(|_| median(&gaps(&r.loss)).unwrap_or(0.0))
                .unwrap_or(0.0),
        );
        rows.push((short(p).to_string(), plot, caption));
    }
    let n = rows.len();
    let panel_def = Panel {
        title: "Node loss (link down on the node the client reaches), one VIP, each system on its own bed at the same time".into(),
        from: -1.0,
        to: (longest * 1.3 + 1.0).ceil(),
        zero: "link down".into(),
        rows,
    };
    let height = 60.0 + 28.0 + n as f64 * ROW + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" font-family="sans-serif">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="20" font-size="16" font-weight="bold">What a client pinging the VIP every ~10 ms sees around a node loss</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="40" font-size="11"><tspan fill="#2a9d3a">| answered echo request</tspan>   <tspan fill="#d62828">| lost echo request</tspan>   (by send time; the repetition with the median gap)</text>"##
    );
    let _ = panel(&mut s, 52.0, &panel_def);
    let _ = writeln!(s, "</svg>");
    s
}
