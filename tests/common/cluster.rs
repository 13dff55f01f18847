//! The real-node bed (hack/cluster.sh) from a test: real kubelets and containerd in network
//! namespaces, brought up once per test binary and torn down on drop, also after a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::bed::wait_until;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A running bed; `down` on drop.
pub struct RealCluster {
    /// `KVC_*` and `KUBECONFIG` from `hack/cluster.sh env`.
    pub env: BTreeMap<String, String>,
    /// How long `up` took.
    pub bring_up: Duration,
}

impl RealCluster {
    /// `hack/cluster.sh up N` (after a `down` of anything left from an earlier run).
    pub fn up(nodes: usize) -> RealCluster {
        Self::up_with(nodes, &[])
    }

    /// `hack/cluster.sh up N FLAGS...` (`--services`: pod network and kube-proxy).
    pub fn up_with(nodes: usize, flags: &[&str]) -> RealCluster {
        let _ = Self::script(&["down"]);
        let t0 = Instant::now();
        let n = nodes.to_string();
        let mut args = vec!["up", n.as_str()];
        args.extend_from_slice(flags);
        let out = Self::script(&args);
        // Drop tears down whatever part came up, even when `up` failed half-way.
        let mut bed = RealCluster {
            env: BTreeMap::new(),
            bring_up: t0.elapsed(),
        };
        assert!(out.status.success(), "hack/cluster.sh up: {}", text(&out));
        let env = Self::script(&["env"]);
        assert!(env.status.success(), "{}", text(&env));
        for line in String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            for pair in line.trim_start_matches("export ").split(' ') {
                if let Some((k, v)) = pair.split_once('=') {
                    bed.env
                        .insert(k.to_string(), v.trim_matches('"').to_string());
                }
            }
        }
        bed
    }

    /// hack/cluster.sh with this test process's own namespace prefix and state directory, so two
    /// test runs on one machine never touch each other's bed.
    fn script(args: &[&str]) -> Output {
        let id = std::process::id();
        Command::new(repo().join("hack/cluster.sh"))
            .args(args)
            .env("KUBE_VRRP_CLUSTER_PREFIX", format!("kvc{id}"))
            .env(
                "KUBE_VRRP_CLUSTER_DIR",
                std::env::temp_dir().join(format!("kube-vrrp-cluster-{id}")),
            )
            .stdin(Stdio::null())
            .output()
            .expect("hack/cluster.sh runs")
    }

    /// `hack/cluster.sh ARGS` that must succeed; its output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = Self::script(args);
        assert!(
            out.status.success(),
            "hack/cluster.sh {args:?}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl against the bed (may fail).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut all = vec!["kubectl"];
        all.extend_from_slice(args);
        Self::script(&all)
    }

    /// kubectl that must succeed; stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["kubectl"];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    /// `kubectl apply -f -` of a YAML text.
    pub fn apply(&self, yaml: &str) -> String {
        let path = std::env::temp_dir().join(format!("kvc-apply-{}.yaml", std::process::id()));
        std::fs::write(&path, yaml).expect("write");
        self.kubectl_ok(&["apply", "-f", path.to_str().expect("utf-8")])
    }

    /// A variable of `hack/cluster.sh env`.
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("hack/cluster.sh env has no {key}"))
    }

    /// Node I's network namespace (1-based).
    pub fn node_ns(&self, i: usize) -> String {
        self.var(&format!("KVC_NODE{i}_NETNS")).to_string()
    }

    /// Whether node I has `addr` on eth0.
    pub fn has_addr(&self, i: usize, addr: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", &self.node_ns(i), "-o", "addr", "show", "dev", "eth0"])
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(addr))
    }

    /// The nodes (1-based) holding `addr`.
    pub fn holders(&self, addr: &str, nodes: usize) -> Vec<usize> {
        (1..=nodes).filter(|i| self.has_addr(*i, addr)).collect()
    }

    /// Wait until exactly node I holds `addr`.
    pub fn wait_holder(&self, addr: &str, i: usize, nodes: usize, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(20), || {
            self.holders(addr, nodes) == vec![i]
        })
    }

    /// The PID (in the root PID namespace) of the kube-vrrp agent on node I, if one runs.
    pub fn agent_pid(&self, i: usize) -> Option<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.node_ns(i)])
            .output()
            .expect("ip netns pids");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "kube-vrrp")
            })
    }

    /// `status.master` of a VirtualIP.
    pub fn vip_master(&self, name: &str) -> String {
        let out = self.kubectl(&["get", "vip", name, "-o", "jsonpath={.status.master}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Start pinging `addr` from the client every `interval` seconds for at most `seconds`.
    pub fn pinger(&self, addr: &str, interval: f64, seconds: u32) -> ClientPing {
        ClientPing::start(self.var("KVC_CLIENT_NETNS"), addr, interval, seconds)
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_CLUSTER").is_some() {
            eprintln!("KEEP_CLUSTER: the bed stays up; hack/cluster.sh down removes it");
            return;
        }
        let out = Self::script(&["down"]);
        if !out.status.success() {
            eprintln!("hack/cluster.sh down: {}", text(&out));
        }
        let dir = std::env::temp_dir().join(format!("kube-vrrp-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A ping from the client namespace, stopped early with SIGINT; what the client saw.
pub struct ClientPing {
    child: Child,
    log: PathBuf,
}

/// What the client saw.
#[derive(Debug, Clone, Copy)]
pub struct PingSummary {
    /// Echo requests sent.
    pub sent: u64,
    /// Replies.
    pub received: u64,
    /// The longest time between two replies.
    pub max_gap: Duration,
    /// When the last reply came (Unix seconds).
    pub last_reply: f64,
}

impl PingSummary {
    /// Requests without a reply.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Whether a reply came after `t`.
    pub fn replied_after(&self, t: SystemTime) -> bool {
        self.last_reply
            > t.duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_secs_f64()
    }
}

impl ClientPing {
    fn start(ns: &str, addr: &str, interval: f64, seconds: u32) -> ClientPing {
        let log = std::env::temp_dir().join(format!(
            "kvc-ping-{}-{}.log",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("time")
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).expect("ping log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-n", "-D", "-W", "1"])
            .args([
                "-i",
                &interval.to_string(),
                "-w",
                &seconds.to_string(),
                addr,
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("fd"))
            .stderr(file)
            .spawn()
            .expect("ping");
        ClientPing { child, log }
    }

    /// Stop (SIGINT, by PID) and summarize.
    pub fn stop(mut self) -> PingSummary {
        let _ = Command::new("kill")
            .args(["-s", "INT", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        summarize(&text)
    }
}

fn summarize(text: &str) -> PingSummary {
    let report = super::bed::parse_ping(text);
    PingSummary {
        sent: report.sent,
        received: report.received,
        max_gap: report.max_gap,
        last_reply: report.last_reply.unwrap_or(0.0),
    }
}

/// Capabilities and confinement of a process, from /proc/PID/status and mountinfo.
#[derive(Debug, PartialEq, Eq)]
pub struct Confinement {
    /// CapEff as hex.
    pub cap_eff: String,
    /// CapBnd as hex.
    pub cap_bnd: String,
    /// NoNewPrivs.
    pub no_new_privs: bool,
    /// Seccomp mode (2 = filter).
    pub seccomp: u32,
    /// The root filesystem is mounted read-only.
    pub read_only_root: bool,
}

/// Read a process's confinement.
pub fn confinement(pid: u32) -> Confinement {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    let read_only_root = mountinfo.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(4) == Some(&"/") && f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro"))
    });
    Confinement {
        cap_eff: field("CapEff:"),
        cap_bnd: field("CapBnd:"),
        no_new_privs: field("NoNewPrivs:") == "1",
        seccomp: field("Seccomp:").parse().unwrap_or(0),
        read_only_root,
    }
}

/// The README's first `sh` block after `heading`.
pub fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"))
        .1;
    section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no sh block under {heading:?}"))
        .0
        .to_string()
}

/// Run a shell script in the control-plane namespace with the admin kubeconfig and hack/bin on
/// PATH, from the repository root, as a user would type it.
pub fn run_as_user(cluster: &RealCluster, script: &str) -> Output {
    let path = format!(
        "{}:{}",
        repo().join("hack/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("nsenter")
        .arg(format!(
            "--net=/run/netns/{}",
            cluster.var("KVC_CONTROL_NETNS")
        ))
        .args(["bash", "-euo", "pipefail", "-c", script])
        .current_dir(repo())
        .env("PATH", path)
        .env("KUBECONFIG", cluster.var("KUBECONFIG"))
        .output()
        .expect("bash")
}

/// Whether `path` exists (for prerequisites that must be there).
pub fn must_exist(path: &Path) {
    assert!(path.exists(), "{} is missing", path.display());
}
