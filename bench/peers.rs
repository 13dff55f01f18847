//! The Kubernetes peers on the same bed as kube-vrrp: each system runs as processes in the three
//! node namespaces with a kubeconfig against its own real API server (hack/apiserver on a
//! control-plane host of the bed, audit log on, so every request a system makes is counted).
//! Pods on the real-node bed would add kubelets and containerd to every measurement for no
//! difference in what the agents do; processes with kubeconfigs are what the pods run.
//!
//! - kube-vrrp: `kube-vrrp agent` per node and one VirtualIP (VRRPv3, 1 s adverts, priorities
//!   node1 210 / node2 200 / node3 190, as in the keepalived table).
//! - MetalLB v0.15.2 layer 2 (hack/peers): the controller on the control-plane host and a
//!   speaker per node with memberlist (its secret key, as the chart sets it), an IPAddressPool
//!   holding the VIP, an L2Advertisement, a LoadBalancer Service with one ready endpoint. Like
//!   kube-proxy in IPVS mode with `strictARP` (what MetalLB's docs require for IPVS), every
//!   node has the VIP on a local interface (`lo` here: this kernel has no dummy interfaces; IPVS
//!   uses a dummy `kube-ipvs0`) and ignores ARP for it (arp_ignore=1, arp_announce=2): the
//!   speaker's ARP responder decides which node the client reaches.
//! - Lease election (hack/peers/lease-announcer, client-go leaderelection): kube-vip's ARP-mode
//!   behaviour at kube-vip's default timings (15/10/2 s) and at its static-pod example's (5/3/1 s).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agents::vip_doc;
use crate::bed::{Bed, Host, Proc, VIP4, binary, wait_until};
use crate::k8s::{API_IP, ApiServer};
use crate::sys::PRIOS;

/// A system compared in the peer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// kube-vrrp in agent mode (Kubernetes client and watches).
    KubeVrrp,
    /// MetalLB layer 2 (controller + speakers, memberlist).
    MetalLb,
    /// Lease election at kube-vip's defaults (15/10/2 s).
    LeaseDefault,
    /// Lease election at kube-vip's static-pod example (5/3/1 s).
    LeaseFast,
}

impl Peer {
    /// Every system, in the order the report shows them.
    pub const ALL: [Peer; 4] = [
        Peer::KubeVrrp,
        Peer::MetalLb,
        Peer::LeaseFast,
        Peer::LeaseDefault,
    ];

    /// Short name (for --peers and the log).
    pub fn name(self) -> &'static str {
        match self {
            Peer::KubeVrrp => "kube-vrrp",
            Peer::MetalLb => "metallb",
            Peer::LeaseDefault => "lease-15s",
            Peer::LeaseFast => "lease-5s",
        }
    }

    /// The label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Peer::KubeVrrp => "kube-vrrp (agent)",
            Peer::MetalLb => "MetalLB L2 v0.15.2",
            Peer::LeaseDefault => "Lease election (client-go) at kube-vip's defaults 15/10/2 s",
            Peer::LeaseFast => {
                "Lease election (client-go) at kube-vip's static-pod example 5/3/1 s"
            }
        }
    }

    /// Whether the VIP is an address on the holder's eth0 (MetalLB answers ARP instead).
    pub fn holds_address(self) -> bool {
        self != Peer::MetalLb
    }

    /// Lease timings (duration, renew deadline, retry period), seconds.
    fn lease(self) -> Option<(u32, u32, u32)> {
        match self {
            Peer::LeaseDefault => Some((15, 10, 2)),
            Peer::LeaseFast => Some((5, 3, 1)),
            _ => None,
        }
    }
}

/// hack/peers (the peers' build).
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hack/peers")
}

/// Whether hack/peers/build.sh has built the binaries.
pub fn built() -> bool {
    ["controller", "speaker", "lease-announcer", "metallb-dir"]
        .iter()
        .all(|b| peers_dir().join("bin").join(b).exists())
}

const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n";

/// Start the API server on a control-plane host with an audit log (every request, metadata).
fn start_api(bed: &mut Bed) -> ApiServer {
    let host = bed.attach("api", 5);
    let dir = bed.dir.join("apiserver");
    std::fs::create_dir_all(&dir).expect("apiserver dir");
    let mut api = ApiServer {
        host,
        dir,
        proc: None,
    };
    restart_api(&mut api, bed);
    api
}

/// (Re)start the audited API server with its state; waits until ready (bounded, 90 s).
pub fn restart_api(api: &mut ApiServer, bed: &Bed) {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("hack/apiserver/bin/kube-apiserver-embedded");
    let policy = api.dir.join("audit-policy.yaml");
    std::fs::write(&policy, AUDIT_POLICY).expect("audit policy");
    let log = api.dir.join("audit.log");
    let _ = std::fs::remove_file(api.dir.join("admin.kubeconfig"));
    let proc = bed.spawn(
        &api.host,
        &format!("apiserver-{}", crate::watch::now()),
        &[
            bin.to_str().expect("utf-8"),
            "--dir",
            api.dir.to_str().expect("utf-8"),
            "--bind-address",
            API_IP,
            "--port",
            "6443",
            "--",
            &format!("--audit-policy-file={}", policy.display()),
            &format!("--audit-log-path={}", log.display()),
            "--audit-log-maxsize=0",
        ],
    );
    let ready = wait_until(Duration::from_secs(90), Duration::from_millis(200), || {
        proc.log_text().contains("ready https://")
    });
    assert!(ready, "the API server did not start:\n{}", proc.log_text());
    api.proc = Some(proc);
}

/// One system on a bed of three nodes and a client, with its API server.
pub struct PeerCluster {
    /// Which system.
    pub peer: Peer,
    /// The agents (kube-vrrp agent, speaker or announcer), by node index.
    pub agents: Vec<Option<Proc>>,
    /// MetalLB's controller (on the control-plane host).
    pub controller: Option<Proc>,
    /// The API server.
    pub api: ApiServer,
    /// The bed (dropped last).
    pub bed: Bed,
    starts: usize,
}

impl Drop for PeerCluster {
    fn drop(&mut self) {
        for p in self.agents.iter_mut().flatten() {
            p.kill();
        }
        if let Some(c) = &mut self.controller {
            c.kill();
        }
        self.api.stop();
    }
}

fn kubectl_ok(api: &ApiServer, bed: &Bed, args: &[&str]) -> Result<String, String> {
    let out = api.kubectl(bed, args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn apply(api: &ApiServer, bed: &Bed, name: &str, yaml: &str) -> Result<(), String> {
    let f = bed.write(name, yaml);
    kubectl_ok(
        api,
        bed,
        &["apply", "--server-side", "-f", f.to_str().expect("utf-8")],
    )
    .map(|_| ())
}

fn sh_in(bed: &Bed, host: &Host, args: &[&str]) -> Result<(), String> {
    let out = bed.exec(&host.ns, args);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?}: {}",
            host.name,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl PeerCluster {
    /// Build the bed, start the API server, configure and start `peer` on every node.
    pub fn start(peer: Peer) -> Result<PeerCluster, String> {
        let mut bed = Bed::new(3);
        let api = start_api(&mut bed);
        let mut c = PeerCluster {
            peer,
            agents: (0..3).map(|_| None).collect(),
            controller: None,
            api,
            bed,
            starts: 0,
        };
        match peer {
            Peer::KubeVrrp => c.setup_kube_vrrp()?,
            Peer::MetalLb => c.setup_metallb()?,
            Peer::LeaseDefault | Peer::LeaseFast => {}
        }
        for n in 0..3 {
            c.start_agent(n);
        }
        Ok(c)
    }

    fn setup_kube_vrrp(&mut self) -> Result<(), String> {
        self.api.install_crd(&self.bed);
        let prios: Vec<(String, u8)> = PRIOS
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("node{}", i + 1), *p))
            .collect();
        let refs: Vec<(&str, u8)> = prios.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        let doc = vip_doc("web", 51, 3, "1s", &format!("{VIP4}/32"), &refs, "");
        apply(&self.api, &self.bed, "vip.yaml", &doc)
    }

    fn setup_metallb(&mut self) -> Result<(), String> {
        let (api, bed) = (&self.api, &self.bed);
        let mdir = std::fs::read_to_string(peers_dir().join("bin/metallb-dir"))
            .map_err(|e| format!("hack/peers/bin/metallb-dir: {e} (run hack/peers/build.sh)"))?;
        let crds = Path::new(mdir.trim()).join("config/crd/bases");
        kubectl_ok(
            api,
            bed,
            &[
                "apply",
                "--server-side",
                "-f",
                crds.to_str().expect("utf-8"),
            ],
        )?;
        kubectl_ok(
            api,
            bed,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/ipaddresspools.metallb.io",
                "crd/l2advertisements.metallb.io",
                "crd/servicel2statuses.metallb.io",
            ],
        )?;
        let mut objs = String::from(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: metallb-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
        );
        for n in &bed.nodes {
            objs.push_str(&format!(
                "---\napiVersion: v1\nkind: Node\nmetadata: {{name: {0}, labels: {{kubernetes.io/hostname: {0}}}}}\n",
                n.name
            ));
        }
        apply(api, bed, "metallb-base.yaml", &objs)?;
        // The speakers' pods (memberlist finds its peers by their pod IPs); no kubelet runs
        // them, so their status is written here, as a kubelet would.
        for n in &bed.nodes {
            let pod = format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: speaker-{0}, namespace: metallb-system, labels: {{app: metallb, component: speaker}}}}\nspec:\n  nodeName: {0}\n  hostNetwork: true\n  containers: [{{name: speaker, image: quay.io/metallb/speaker:v0.15.2}}]\n",
                n.name
            );
            apply(api, bed, &format!("pod-{}.yaml", n.name), &pod)?;
            let status = format!(
                "{{\"status\":{{\"phase\":\"Running\",\"podIP\":\"{0}\",\"podIPs\":[{{\"ip\":\"{0}\"}}],\"hostIP\":\"{0}\"}}}}",
                n.ip4
            );
            kubectl_ok(
                api,
                bed,
                &[
                    "-n",
                    "metallb-system",
                    "patch",
                    "pod",
                    &format!("speaker-{}", n.name),
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    &status,
                ],
            )?;
        }
        let key = bed.dir.join("memberlist");
        std::fs::create_dir_all(&key).map_err(|e| e.to_string())?;
        std::fs::write(
            key.join("secretkey"),
            format!("kvt-bench-{}", std::process::id()),
        )
        .map_err(|e| e.to_string())?;
        // kube-proxy's IPVS mode with strictARP, on every node (lo for its dummy kube-ipvs0).
        for n in &bed.nodes {
            for cmd in [
                vec!["ip", "addr", "add", &format!("{VIP4}/32"), "dev", "lo"],
                vec!["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"],
                vec!["sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2"],
            ] {
                sh_in(bed, n, &cmd)?;
            }
        }
        let ctl = peers_dir().join("bin/controller");
        let kc = format!("KUBECONFIG={}", api.kubeconfig().display());
        self.controller = Some(bed.spawn(
            &api.host,
            "metallb-controller",
            &[
                "env",
                &kc,
                "METALLB_NAMESPACE=metallb-system",
                ctl.to_str().expect("utf-8"),
                "--webhook-mode=disabled",
                "--disable-cert-rotation",
                "--log-level=info",
            ],
        ));
        let config = format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: vip, namespace: metallb-system}}\nspec:\n  addresses: [{VIP4}/32]\n---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{name: vip, namespace: metallb-system}}\nspec:\n  ipAddressPools: [vip]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: web}}\nspec:\n  type: LoadBalancer\n  ports: [{{name: http, port: 80, protocol: TCP}}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: web-1, namespace: web, labels: {{kubernetes.io/service-name: web}}}}\naddressType: IPv4\nports: [{{name: http, port: 80, protocol: TCP}}]\nendpoints:\n- addresses: [{}]\n  conditions: {{ready: true, serving: true, terminating: false}}\n  nodeName: node1\n",
            bed.nodes[0].ip4
        );
        apply(api, bed, "metallb-config.yaml", &config)?;
        Ok(())
    }

    /// Start (or restart) the agent on node `n`.
    pub fn start_agent(&mut self, n: usize) {
        self.starts += 1;
        let tag = format!("{}-{}", self.peer.name(), self.starts);
        let host = self.bed.nodes[n].clone();
        let kc = format!("KUBECONFIG={}", self.api.kubeconfig().display());
        let proc = match self.peer {
            Peer::KubeVrrp => {
                let cache = self.bed.dir.join(format!("cache-{}", host.name));
                let bin = binary();
                self.bed.spawn(
                    &host,
                    &tag,
                    &[
                        "env",
                        &kc,
                        bin.to_str().expect("utf-8"),
                        "agent",
                        "--node-name",
                        &host.name,
                        "--namespace",
                        "kube-vrrp",
                        "--http-addr",
                        "127.0.0.1:9650",
                        "--cache-dir",
                        cache.to_str().expect("utf-8"),
                    ],
                )
            }
            Peer::MetalLb => {
                let bin = peers_dir().join("bin/speaker");
                let key = self.bed.dir.join("memberlist");
                self.bed.spawn(
                    &host,
                    &tag,
                    &[
                        "env",
                        &kc,
                        &format!("METALLB_NODE_NAME={}", host.name),
                        &format!("METALLB_POD_NAME=speaker-{}", host.name),
                        "METALLB_NAMESPACE=metallb-system",
                        &format!("METALLB_ML_BIND_ADDR={}", host.ip4),
                        &format!("METALLB_HOST={}", host.ip4),
                        "METALLB_ML_LABELS=app=metallb,component=speaker",
                        &format!("METALLB_ML_SECRET_KEY_PATH={}", key.display()),
                        bin.to_str().expect("utf-8"),
                        "--log-level=info",
                    ],
                )
            }
            Peer::LeaseDefault | Peer::LeaseFast => {
                let (d, r, p) = self.peer.lease().expect("lease timings");
                let bin = peers_dir().join("bin/lease-announcer");
                self.bed.spawn(
                    &host,
                    &tag,
                    &[
                        bin.to_str().expect("utf-8"),
                        "--kubeconfig",
                        self.api.kubeconfig().to_str().expect("utf-8"),
                        "--node-name",
                        &host.name,
                        "--address",
                        &format!("{VIP4}/32"),
                        "--interface",
                        "eth0",
                        "--lease-duration",
                        &format!("{d}s"),
                        "--renew-deadline",
                        &format!("{r}s"),
                        "--retry-period",
                        &format!("{p}s"),
                    ],
                )
            }
        };
        self.agents[n] = Some(proc);
    }

    /// The PIDs of every agent (by node) and of the controller.
    pub fn pids(&self) -> (Vec<u32>, Option<u32>) {
        (
            self.agents.iter().flatten().map(Proc::pid).collect(),
            self.controller.as_ref().map(Proc::pid),
        )
    }

    /// Which node the client reaches: the node whose MAC the client's neighbour entry for
    /// the VIP holds (None: no entry or a failed one).
    pub fn client_target(&self) -> Option<usize> {
        let out = self
            .bed
            .exec(&self.bed.client.ns, &["ip", "neigh", "show", VIP4]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut words = text.split_whitespace();
        let mut mac = None;
        while let Some(w) = words.next() {
            if w == "lladdr" {
                mac = words.next().map(str::to_string);
            }
        }
        let mac = mac?;
        (0..3).find(|&i| self.bed.mac(&self.bed.nodes[i]) == mac)
    }

    /// Nodes with the VIP on eth0 (the address-holding systems).
    pub fn holders(&self) -> Vec<usize> {
        (0..3)
            .filter(|&i| self.bed.has_addr(&self.bed.nodes[i], VIP4))
            .collect()
    }

    /// The tail of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in self.agents.iter().flatten().chain(self.controller.iter()) {
            let t = p.log_text();
            let tail: Vec<&str> = t.lines().rev().take(8).collect();
            out.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            out.push_str("\n---\n");
        }
        out
    }

    /// The audit log so far.
    pub fn audit(&self) -> String {
        std::fs::read_to_string(self.api.dir.join("audit.log")).unwrap_or_default()
    }
}
