//! The network-namespace test bed: a "switch" namespace holding a bridge, and node and client
//! namespaces attached to it by veth pairs. Nothing touches the root namespace: the bridge lives
//! in its own namespace. Addresses come from 198.51.100.0/24 and 2001:db8::/32 only. Every
//! namespace and process is removed on drop, also when a test panics.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The VIP the beds use.
pub const VIP4: &str = "198.51.100.100";
/// The IPv6 VIP.
pub const VIP6: &str = "2001:db8::100";
/// The client's address.
pub const CLIENT4: &str = "198.51.100.2";

/// One node (or client) namespace.
#[derive(Debug, Clone)]
pub struct Host {
    /// Namespace name.
    pub ns: String,
    /// Short name (node1, client).
    pub name: String,
    /// IPv4 address on eth0.
    pub ip4: String,
    /// IPv6 global address on eth0.
    pub ip6: String,
}

/// A process started in a namespace; killed on drop.
#[derive(Debug)]
pub struct Proc {
    /// The child (`ip netns exec` execs the program, so this is its PID).
    pub child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// Extra PID files whose processes we started indirectly (keepalived's VRRP child).
    pub pid_files: Vec<PathBuf>,
}

impl Proc {
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal by PID.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status();
    }

    /// Wait for exit, bounded; true if it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        false
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kill (SIGKILL) and reap, including PIDs named in its PID files.
    pub fn kill(&mut self) {
        for f in &self.pid_files {
            if let Ok(pid) = fs::read_to_string(f) {
                let pid = pid.trim();
                if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
                    let _ = Command::new("kill").args(["-s", "KILL", pid]).status();
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Let a graceful process clean up briefly, then make sure it is gone.
            self.signal("TERM");
            if !self.wait_exit(Duration::from_secs(5)) {
                self.kill();
            }
        }
        self.kill();
    }
}

/// The bed: a bridge in its own namespace plus hosts.
#[derive(Debug)]
pub struct Bed {
    /// Unique prefix of every namespace name.
    pub prefix: String,
    /// Namespace holding the bridge.
    pub switch: String,
    /// Nodes, in order.
    pub nodes: Vec<Host>,
    /// The client.
    pub client: Host,
    /// Scratch directory for configs and logs.
    pub dir: PathBuf,
    namespaces: Vec<String>,
}

/// Run a command; panic with its output if it fails.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Poll `f` every `every` until it returns true or `timeout` passes (bounded).
pub fn wait_until(timeout: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        sleep(every);
    }
}

impl Bed {
    /// A bed with `n` nodes (node1..noden at .11, .12, ...) and a client at .2.
    pub fn new(n: usize) -> Bed {
        assert!(n <= 8);
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("kvt{}x{seq}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        let switch = format!("{prefix}-sw");
        let mut bed = Bed {
            prefix: prefix.clone(),
            switch: switch.clone(),
            nodes: Vec::new(),
            client: Host {
                ns: String::new(),
                name: String::new(),
                ip4: String::new(),
                ip6: String::new(),
            },
            dir,
            namespaces: Vec::new(),
        };
        bed.add_ns(&switch);
        sh(&[
            "ip",
            "-n",
            &switch,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        sh(&["ip", "-n", &switch, "link", "set", "br0", "up"]);
        for i in 0..n {
            let host = bed.attach(&format!("node{}", i + 1), 11 + i as u8);
            bed.nodes.push(host);
        }
        bed.client = bed.attach("client", 2);
        bed
    }

    fn add_ns(&mut self, ns: &str) {
        sh(&["ip", "netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        // No duplicate address detection: addresses are usable at once.
        for key in [
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
        ] {
            sh(&["ip", "netns", "exec", ns, "sysctl", "-qw", key]);
        }
    }

    /// Attach one more host namespace to the bridge at 198.51.100.`octet`.
    pub fn attach(&mut self, name: &str, octet: u8) -> Host {
        let ns = format!("{}-{name}", self.prefix);
        self.add_ns(&ns);
        let port = format!("p{octet}");
        sh(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns,
        ]);
        sh(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "set",
            &port,
            "master",
            "br0",
            "up",
        ]);
        let ip4 = format!("198.51.100.{octet}");
        let ip6 = format!("2001:db8::{octet}");
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ip4}/24"),
            "dev",
            "eth0",
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ip6}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        Host {
            ns,
            name: name.to_string(),
            ip4,
            ip6,
        }
    }

    /// Run a command inside a namespace.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {ns} {args:?}: {e}"))
    }

    /// Start a long-running process inside a namespace, logging to a file in the scratch dir.
    pub fn spawn(&self, host: &Host, tag: &str, args: &[&str]) -> Proc {
        let log = self.dir.join(format!("{}-{tag}.log", host.name));
        let file = fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &host.ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Proc {
            child,
            log,
            pid_files: Vec::new(),
        }
    }

    /// Write a scratch file; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::write(&p, text).expect("write scratch file");
        p
    }

    /// Whether `addr` is configured on the host's eth0.
    pub fn has_addr(&self, host: &Host, addr: &str) -> bool {
        let out = self.exec(&host.ns, &["ip", "-o", "addr", "show", "dev", "eth0"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .any(|w| w.split('/').next() == Some(addr))
    }

    /// The hosts holding `addr`.
    pub fn holders(&self, addr: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| self.has_addr(n, addr))
            .map(|n| n.name.clone())
            .collect()
    }

    /// The MAC of a host's eth0.
    pub fn mac(&self, host: &Host) -> String {
        let out = sh(&["ip", "-n", &host.ns, "-o", "link", "show", "dev", "eth0"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut words = text.split_whitespace();
        while let Some(w) = words.next() {
            if w == "link/ether" {
                return words.next().unwrap_or_default().to_string();
            }
        }
        panic!("no MAC in {text}");
    }

    /// Take a host's link down or up (node loss without killing the agent).
    pub fn set_link(&self, host: &Host, up: bool) {
        sh(&[
            "ip",
            "-n",
            &host.ns,
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ]);
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if std::env::var_os("KEEP_BED_LOGS").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A client pinging an address every `interval` until stopped; measures what users see.
#[derive(Debug)]
pub struct Pinger {
    proc: Proc,
}

/// What the client saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingReport {
    /// Echo requests sent.
    pub sent: u64,
    /// Replies received.
    pub received: u64,
    /// Longest time between two consecutive replies (an outage that lasts to the end of the run
    /// is not a gap between replies: check `replied_after` too).
    pub max_gap: Duration,
    /// When the last reply arrived (ping -D's Unix time), if any did.
    pub last_reply: Option<f64>,
}

impl PingReport {
    /// Whether the client got a reply after `t`: the VIP answers again after a takeover, rather
    /// than only before it.
    pub fn replied_after(&self, t: std::time::SystemTime) -> bool {
        let t = t
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        self.last_reply.is_some_and(|last| last > t)
    }
}

impl Pinger {
    /// Send `count` echo requests to `addr` from the bed's client, one every `interval` seconds
    /// (ping -i), giving up after `count x interval + 5 s`.
    pub fn start(bed: &Bed, addr: &str, interval: f64, count: u32) -> Pinger {
        let deadline = ((f64::from(count) * interval) as u64 + 5).to_string();
        let proc = bed.spawn(
            &bed.client,
            &format!("ping-{addr}"),
            &[
                "ping",
                "-n",
                "-D",
                "-i",
                &format!("{interval}"),
                "-c",
                &count.to_string(),
                "-w",
                &deadline,
                "-W",
                "1",
                addr,
            ],
        );
        Pinger { proc }
    }

    /// Stop now (SIGINT: ping prints its statistics) and report.
    pub fn stop(mut self) -> PingReport {
        self.proc.signal("INT");
        if !self.proc.wait_exit(Duration::from_secs(5)) {
            self.proc.kill();
        }
        parse_ping(&self.proc.log_text())
    }

    /// Wait for ping to finish (bounded by its own deadline plus a margin) and report.
    pub fn finish(mut self) -> PingReport {
        if !self.proc.wait_exit(Duration::from_secs(120)) {
            self.proc.signal("INT");
            self.proc.wait_exit(Duration::from_secs(5));
        }
        parse_ping(&self.proc.log_text())
    }
}

/// Parse `ping -D` output.
pub fn parse_ping(text: &str) -> PingReport {
    let mut sent = 0;
    let mut received = 0;
    let mut times = Vec::new();
    for line in text.lines() {
        if line.contains("bytes from")
            && line.starts_with('[')
            && let Some(ts) = line[1..]
                .split(']')
                .next()
                .and_then(|t| t.parse::<f64>().ok())
        {
            times.push(ts);
        }
        if line.contains("packets transmitted") {
            let nums: Vec<u64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            if nums.len() >= 2 {
                sent = nums[0];
                received = nums[1];
            }
        }
    }
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    PingReport {
        sent,
        received,
        max_gap: Duration::from_secs_f64(max_gap.max(0.0)),
        last_reply: times.last().copied(),
    }
}

/// The kube-vrrp binary under test.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBE_VRRP_BIN") {
        // Said once: it replaces the binary under test for every bed test.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "kube-vrrp binary from KUBE_VRRP_BIN: {}",
                p.to_string_lossy()
            )
        });
        return PathBuf::from(p);
    }
    match option_env!("CARGO_BIN_EXE_kube-vrrp") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/kube-vrrp"),
    }
}
