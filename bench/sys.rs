//! The two systems under test with the same virtual-router settings, and what the benchmark
//! reads from their processes (/proc).

use std::fmt::Write as _;

use crate::agents::{start_agent, start_keepalived, vip_doc};
use crate::bed::{Bed, Proc};

/// Priorities of node1..node3: node1 is the master, node2 (200) the backup that takes over
/// (the seed's 210/200), node3 a second backup.
pub const PRIOS: [u8; 3] = [210, 200, 190];

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// This project.
    KubeVrrp,
    /// Debian's keepalived 2.2.7.
    Keepalived,
    /// bench/floor on a current-thread tokio runtime: the least a Rust/tokio router does
    /// while idle (footprint only).
    FloorTokio,
    /// bench/floor on epoll and a timerfd by hand, keepalived's shape (footprint only).
    FloorEpoll,
}

impl System {
    /// Both, in the order the report shows them.
    pub const BOTH: [System; 2] = [System::KubeVrrp, System::Keepalived];

    /// The two floors, measured beside both in the footprint.
    pub const FLOORS: [System; 2] = [System::FloorTokio, System::FloorEpoll];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            System::KubeVrrp => "kube-vrrp",
            System::Keepalived => "keepalived",
            System::FloorTokio => "floor (tokio)",
            System::FloorEpoll => "floor (epoll)",
        }
    }
}

/// One virtual router (the same on every node, VRRPv3).
#[derive(Debug, Clone)]
pub struct Router {
    /// VRID.
    pub vrid: u8,
    /// The VIP (IPv4, /32).
    pub vip: String,
    /// Advertisement interval in milliseconds (10 ms steps; whole seconds for v2).
    pub advert_ms: u32,
    /// VRRP version (3, or 2 with PASS authentication).
    pub version: u8,
}

impl Router {
    /// kube-vrrp's spelling of the interval.
    fn kube_interval(&self) -> String {
        if self.advert_ms.is_multiple_of(1000) {
            format!("{}s", self.advert_ms / 1000)
        } else {
            format!("{}ms", self.advert_ms)
        }
    }

    /// keepalived's spelling (seconds, centisecond steps).
    fn keepalived_interval(&self) -> String {
        let s = format!("{:.2}", f64::from(self.advert_ms) / 1000.0);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `n` routers at `advert_ms`: VRIDs 1..=n, VIPs from 198.51.100.128-254 then 203.0.113.1-254
/// (the bed's hosts use 198.51.100.2-13). A single router uses the bed's VIP4 (.100), vrid 51.
pub fn routers(n: usize, advert_ms: u32) -> Vec<Router> {
    if n == 1 {
        return vec![Router {
            vrid: 51,
            vip: crate::bed::VIP4.to_string(),
            advert_ms,
            version: 3,
        }];
    }
    assert!(n <= 255);
    let addrs = (128..=254)
        .map(|o| format!("198.51.100.{o}"))
        .chain((1..=254).map(|o| format!("203.0.113.{o}")));
    addrs
        .take(n)
        .enumerate()
        .map(|(i, vip)| Router {
            vrid: (i + 1) as u8,
            vip,
            advert_ms,
            version: 3,
        })
        .collect()
}

/// The PASS password of the v2 routers (keepalived's `auth_pass`, kube-vrrp's Secret).
pub const PASS: &str = "1111";

/// The same routers as VRRPv2 with PASS authentication (whole-second adverts).
pub fn v2_pass(routers: Vec<Router>) -> Vec<Router> {
    routers
        .into_iter()
        .map(|r| Router {
            version: 2,
            advert_ms: r.advert_ms.max(1000) / 1000 * 1000,
            ..r
        })
        .collect()
}

/// The kube-vrrp configuration: one VirtualIP per router, per-node priorities.
pub fn kube_config(routers: &[Router]) -> String {
    let prios: Vec<(String, u8)> = PRIOS
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("node{}", i + 1), *p))
        .collect();
    let prio_refs: Vec<(&str, u8)> = prios.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let auth = "  interface: eth0\n  authentication:\n    type: PASS\n    secretRef: {name: vrrp-auth, key: password}\n";
    let docs = routers.iter().map(|r| {
        vip_doc(
            &format!("vr{}", r.vrid),
            r.vrid,
            r.version,
            &r.kube_interval(),
            &format!("{}/32", r.vip),
            &prio_refs,
            if r.version == 2 {
                auth
            } else {
                "  interface: eth0\n"
            },
        )
    });
    let secret = routers
        .iter()
        .any(|r| r.version == 2)
        .then(|| crate::agents::secret_doc("vrrp-auth", PASS));
    secret
        .into_iter()
        .chain(docs)
        .collect::<Vec<_>>()
        .join("---\n")
}

/// keepalived's configuration for node `node` (0-based): the same routers, `state BACKUP`,
/// VRRPv3, the node's priority.
pub fn keepalived_config(routers: &[Router], node: usize) -> String {
    let version = routers.first().map_or(3, |r| r.version);
    let mut c = format!("global_defs {{\n    vrrp_version {version}\n}}\n");
    for r in routers {
        let auth = if r.version == 2 {
            format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {PASS}\n    }}\n"
            )
        } else {
            String::new()
        };
        let _ = write!(
            c,
            "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int {adv}\n{auth}    virtual_ipaddress {{\n        {vip}/32\n    }}\n}}\n",
            vrid = r.vrid,
            prio = PRIOS[node],
            adv = r.keepalived_interval(),
            vip = r.vip,
        );
    }
    c
}

/// Start `system` on node `node` of the bed.
pub fn start(bed: &Bed, system: System, node: usize, routers: &[Router]) -> Proc {
    let host = &bed.nodes[node];
    match system {
        System::KubeVrrp => {
            let cfg = bed.dir.join("vips.yaml");
            if !cfg.exists() {
                bed.write("vips.yaml", &kube_config(routers));
            }
            start_agent(bed, host, &cfg)
        }
        System::Keepalived => start_keepalived(bed, host, &keepalived_config(routers, node)),
        System::FloorTokio | System::FloorEpoll => {
            let args = floor_args(system == System::FloorTokio, routers, node, &host.ip4);
            let mut argv = vec![floor_binary()];
            argv.extend(args);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            bed.spawn(host, "floor", &argv)
        }
    }
}

/// bench/floor's binary: $KUBE_VRRP_FLOOR_BIN (bench/run builds it), else its release build
/// in the default place.
fn floor_binary() -> String {
    std::env::var("KUBE_VRRP_FLOOR_BIN")
        .unwrap_or_else(|_| "bench/floor/target/release/idle-floor".to_string())
}

/// The floor's flags for node `node` (0-based: node1 is the master, as it is elected in the
/// other systems).
pub fn floor_args(tokio: bool, routers: &[Router], node: usize, source: &str) -> Vec<String> {
    let first = routers.first();
    let mut a: Vec<String> = [
        "--runtime",
        if tokio { "tokio" } else { "epoll" },
        "--role",
        if node == 0 { "master" } else { "backup" },
        "--interface",
        "eth0",
        "--source",
        source,
        "--password",
        PASS,
    ]
    .map(String::from)
    .to_vec();
    a.extend([
        "--priority".to_string(),
        PRIOS[node].to_string(),
        "--version".to_string(),
        first.map_or(3, |r| r.version).to_string(),
        "--interval-ms".to_string(),
        first.map_or(1000, |r| r.advert_ms).to_string(),
    ]);
    for r in routers {
        a.push("--router".into());
        a.push(format!("{}={}", r.vrid, r.vip));
    }
    a
}

/// Start `system` on every node, in `order` (node indexes).
pub fn start_all(bed: &Bed, system: System, routers: &[Router], order: &[usize]) -> Vec<Proc> {
    if system == System::KubeVrrp {
        bed.write("vips.yaml", &kube_config(routers));
    }
    let mut procs: Vec<Option<Proc>> = (0..bed.nodes.len()).map(|_| None).collect();
    for &n in order {
        procs[n] = Some(start(bed, system, n, routers));
    }
    procs.into_iter().flatten().collect()
}

/// The PIDs of a daemon: kube-vrrp's process; keepalived's parent and its VRRP child.
pub fn pids(p: &Proc) -> Vec<u32> {
    let mut out = vec![p.pid()];
    for f in &p.pid_files {
        if let Ok(s) = std::fs::read_to_string(f)
            && let Ok(pid) = s.trim().parse::<u32>()
        {
            out.push(pid);
        }
    }
    out
}

/// CPU counters of a set of processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    /// utime + stime from /proc/PID/stat, seconds (clock-tick resolution; includes exited
    /// threads).
    pub ticks_s: f64,
    /// Sum of every live thread's run time from /proc/PID/task/TID/schedstat, seconds
    /// (nanosecond resolution).
    pub sched_s: f64,
    /// The threads seen (PID, TID) with their run time in seconds, to tell whether the set
    /// changed.
    pub threads: Vec<(u32, u32, f64)>,
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Read the CPU counters of `pids`.
pub fn cpu(pids: &[u32]) -> CpuSample {
    let mut s = CpuSample::default();
    for &pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some(rest) = stat.rsplit(')').next()
        {
            // Fields after "(comm)": state is field 3; utime 14, stime 15.
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            s.ticks_s += (ut + st) / clk_tck();
        }
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for e in dir.flatten() {
                let tid: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
                if let Ok(ss) = std::fs::read_to_string(e.path().join("schedstat")) {
                    let ns: f64 = ss
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0);
                    s.sched_s += ns * 1e-9;
                    s.threads.push((pid, tid, ns * 1e-9));
                }
            }
        }
    }
    s
}

/// CPU seconds between two samples: the precise per-thread figure when no thread exited in
/// between (a thread that appeared counts its whole run time: it started after the first
/// sample), else the clock-tick figure (which still counts the exited threads).
pub fn cpu_delta(a: &CpuSample, b: &CpuSample) -> f64 {
    let same = |x: &(u32, u32, f64), y: &(u32, u32, f64)| x.0 == y.0 && x.1 == y.1;
    let none_exited = a
        .threads
        .iter()
        .all(|x| b.threads.iter().any(|y| same(x, y)));
    if none_exited {
        b.threads
            .iter()
            .map(|y| {
                let before = a.threads.iter().find(|x| same(x, y)).map_or(0.0, |x| x.2);
                y.2 - before
            })
            .sum()
    } else {
        b.ticks_s - a.ticks_s
    }
}

/// (RSS, PSS) in MiB summed over `pids`.
pub fn memory(pids: &[u32]) -> (f64, f64) {
    let mut rss_kb = 0.0;
    let mut pss_kb = 0.0;
    let field = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    for &pid in pids {
        if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            rss_kb += field(&t, "VmRSS:");
        }
        if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            pss_kb += field(&t, "Pss:");
        }
    }
    (rss_kb / 1024.0, pss_kb / 1024.0)
}

/// RFC 5798 Master_Down_Interval for a backup of priority `prio`, seconds.
pub fn master_down(advert_ms: u32, prio: u8) -> f64 {
    let a = f64::from(advert_ms) / 1000.0;
    3.0 * a + f64::from(256 - u32::from(prio)) / 256.0 * a
}
