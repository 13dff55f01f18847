//! The netns lab (README's main command, run through `hack/lab.sh`): three kube-vrrp nodes and a
//! client on a bridge in network namespaces. Prints the election, then a node loss and the
//! failover the client sees, then a planned handover; tears everything down.
#![allow(unsafe_code)]

#[allow(dead_code)]
#[path = "../tests/common/bed.rs"]
mod bed;

use std::time::{Duration, Instant};

use bed::{Bed, Pinger, Proc, VIP4, binary, wait_until};

fn main() {
    if unsafe_is_not_root() {
        eprintln!("the lab creates network namespaces: run it as root (sudo hack/lab.sh)");
        std::process::exit(2);
    }
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lab-vips.yaml");
    let text = std::fs::read_to_string(&example).expect("examples/lab-vips.yaml");
    let start = Instant::now();
    let t = || format!("[{:6.2}s]", start.elapsed().as_secs_f64());

    let bed = Bed::new(3);
    println!(
        "kube-vrrp lab: 3 nodes and a client on a bridge, in network namespaces {}-*",
        bed.prefix
    );
    for (node, prio) in bed.nodes.iter().zip([150, 100, 50]) {
        println!("  {} {} priority {prio}", node.name, node.ip4);
    }
    println!("  client {}", bed.client.ip4);
    println!("VirtualIP web (examples/lab-vips.yaml): vrid 51, VRRPv3, advert 1s, VIP {VIP4}");
    let cfg = bed.write("vips.yaml", &text);
    let bin = binary();
    let agent = |node: &bed::Host| -> Proc {
        bed.spawn(
            node,
            "agent",
            &[
                bin.to_str().unwrap_or("kube-vrrp"),
                "run",
                "--config",
                cfg.to_str().unwrap_or(""),
                "--node-name",
                &node.name,
                "--http-addr",
                "127.0.0.1:9650",
            ],
        )
    };
    let t_start = Instant::now();
    let mut agents: Vec<Proc> = bed.nodes.iter().map(agent).collect();
    println!("{} agents started", t());
    let elected = wait_until(Duration::from_secs(15), Duration::from_millis(10), || {
        bed.holders(VIP4).len() == 1
    });
    if !elected {
        fail(&bed, &agents, "no master elected within 15 s");
    }
    let master = bed.holders(VIP4)[0].clone();
    println!(
        "{} election: {master} holds {VIP4} after {:.2} s; the others are Backup",
        t(),
        t_start.elapsed().as_secs_f64()
    );
    print_status(&bed, 1);

    // ping -i 0.009 really sends about every 10 ms here.
    println!("{} client pings {VIP4} every 10 ms", t());
    let pinger = Pinger::start(&bed, VIP4, 0.009, 600);
    std::thread::sleep(Duration::from_secs(1));
    println!("{} node1 dies (its eth0 goes down)", t());
    let t_fail = Instant::now();
    bed.set_link(&bed.nodes[0], false);
    if !wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
        bed.holders(VIP4) == vec!["node2".to_string()]
    }) {
        fail(&bed, &agents, "node2 did not take over within 10 s");
    }
    println!(
        "{} failover: node2 holds {VIP4} {:.3} s after node1 died (at most Master_Down_Interval = 3.609 s after node1's last advert)",
        t(),
        t_fail.elapsed().as_secs_f64()
    );
    let report = pinger.finish();
    println!(
        "{} client during the node loss: {} pings, {} lost, longest gap without replies {:.3} s",
        t(),
        report.sent,
        report.sent - report.received,
        report.max_gap.as_secs_f64()
    );
    print_status(&bed, 1);
    let pinger = Pinger::start(&bed, VIP4, 0.009, 300);
    std::thread::sleep(Duration::from_secs(1));
    println!(
        "{} planned handover: node2 gets SIGTERM (sends priority 0, keeps the VIP until node3 advertises)",
        t()
    );
    let t_handover = Instant::now();
    agents[1].signal("TERM");
    if !wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        bed.has_addr(&bed.nodes[2], VIP4)
    }) {
        fail(&bed, &agents, "node3 did not take over within 5 s");
    }
    println!(
        "{} handover: node3 holds {VIP4} after {:.3} s (Skew_Time for priority 50: 0.805 s)",
        t(),
        t_handover.elapsed().as_secs_f64()
    );
    agents[1].wait_exit(Duration::from_secs(5));
    let report = pinger.finish();
    println!(
        "{} client during the handover: {} pings, {} lost, longest gap without replies {:.3} s",
        t(),
        report.sent,
        report.sent - report.received,
        report.max_gap.as_secs_f64()
    );
    drop(agents);
    drop(bed);
    println!("{} torn down: namespaces and processes removed", t());
}

fn print_status(bed: &Bed, node: usize) {
    let bin = binary();
    let out = bed.exec(
        &bed.nodes[node].ns,
        &[
            bin.to_str().unwrap_or("kube-vrrp"),
            "status",
            "--http-addr",
            "127.0.0.1:9650",
        ],
    );
    println!("  kube-vrrp status (on {}):", bed.nodes[node].name);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("    {line}");
    }
}

fn fail(bed: &Bed, agents: &[Proc], why: &str) -> ! {
    eprintln!("lab failed: {why}; holders {:?}", bed.holders(VIP4));
    for a in agents {
        eprintln!("{}", a.log_text());
    }
    std::process::exit(1);
}

fn unsafe_is_not_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(true)
}
