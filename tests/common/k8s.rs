//! A real kube-apiserver with embedded etcd (hack/apiserver) as a control-plane host of the bed,
//! kubectl run through `ip netns exec`, and kube-vrrp agents in the node namespaces.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use super::bed::{Bed, Host, Proc, binary, wait_until};

/// The API server's address on the bridge.
pub const API_IP: &str = "198.51.100.5";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// kubectl from hack/bin (installed by hack/tools.sh).
pub fn kubectl_bin() -> PathBuf {
    repo().join("hack/bin/kubectl")
}

/// The control-plane host and its API server process.
pub struct ApiServer {
    /// The host namespace (198.51.100.5).
    pub host: Host,
    /// State directory (etcd, certificates, admin.kubeconfig).
    pub dir: PathBuf,
    /// The process, while running.
    pub proc: Option<Proc>,
}

impl ApiServer {
    /// Attach a control-plane host to the bed and start the API server on it.
    pub fn start(bed: &mut Bed) -> ApiServer {
        let host = bed.attach("api", 5);
        let dir = bed.dir.join("apiserver");
        let mut api = ApiServer {
            host,
            dir,
            proc: None,
        };
        api.restart(bed);
        api
    }

    /// (Re)start the server with the same state and certificates; waits until ready.
    pub fn restart(&mut self, bed: &Bed) {
        let bin = repo().join("hack/apiserver/bin/kube-apiserver-embedded");
        assert!(
            bin.exists(),
            "{} missing: run hack/apiserver/build.sh (.ci/run does)",
            bin.display()
        );
        let proc = bed.spawn(
            &self.host,
            "apiserver",
            &[
                bin.to_str().expect("utf-8"),
                "--dir",
                self.dir.to_str().expect("utf-8"),
                "--bind-address",
                API_IP,
                "--port",
                "6443",
            ],
        );
        let ready = wait_until(Duration::from_secs(90), Duration::from_millis(200), || {
            proc.log_text().contains("ready https://")
        });
        assert!(ready, "the API server did not start:\n{}", proc.log_text());
        self.proc = Some(proc);
    }

    /// Stop the server (SIGTERM, bounded), keeping its state.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal("TERM");
            if !p.wait_exit(Duration::from_secs(20)) {
                p.kill();
            }
        }
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// Run kubectl as admin from the control-plane host.
    pub fn kubectl(&self, bed: &Bed, args: &[&str]) -> Output {
        self.kubectl_with(bed, &self.kubeconfig(), args)
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, bed: &Bed, args: &[&str]) -> String {
        let out = self.kubectl(bed, args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` of a YAML text; returns the output (success or not).
    pub fn apply(&self, bed: &Bed, yaml: &str) -> Output {
        let f = bed.write(
            &format!("apply-{}.yaml", std::process::id() ^ (yaml.len() as u32)),
            yaml,
        );
        self.kubectl(bed, &["apply", "-f", f.to_str().expect("utf-8")])
    }

    /// Install the CRD and the agents' namespace, and wait until the CRD is served.
    pub fn install_crd(&self, bed: &Bed) {
        let crd = repo().join("crds/virtualip.yaml");
        self.kubectl_ok(
            bed,
            &["apply", "--server-side", "-f", crd.to_str().expect("utf-8")],
        );
        self.kubectl_ok(
            bed,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd/virtualips.kubevrrp.io",
            ],
        );
        self.kubectl_ok(bed, &["create", "namespace", "kube-vrrp"]);
    }

    /// A JSONPath read of a VirtualIP ("" when absent).
    pub fn vip_field(&self, bed: &Bed, name: &str, path: &str) -> String {
        let out = self.kubectl(
            bed,
            &["get", "vip", name, "-o", &format!("jsonpath={{{path}}}")],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start `kube-vrrp agent` on a node with the admin kubeconfig (or another one).
pub fn start_k8s_agent(bed: &Bed, node: &Host, kubeconfig: &std::path::Path) -> Proc {
    let bin = binary();
    let cache = bed.dir.join(format!("cache-{}", node.name));
    let kc = format!("KUBECONFIG={}", kubeconfig.display());
    bed.spawn(
        node,
        "k8s-agent",
        &[
            "env",
            &kc,
            bin.to_str().expect("utf-8"),
            "agent",
            "--node-name",
            &node.name,
            "--namespace",
            "kube-vrrp",
            "--http-addr",
            "127.0.0.1:9650",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ],
    )
}

/// An API server and one agent per node.
pub struct Cluster {
    /// The bed.
    pub bed: Bed,
    /// The API server host.
    pub api: ApiServer,
    /// The agents, in node order.
    pub agents: Vec<Proc>,
}

/// A bed of `nodes` nodes with the API server, the CRD and an agent per node (admin kubeconfig).
pub fn cluster(nodes: usize) -> Cluster {
    let mut bed = Bed::new(nodes);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let agents = bed
        .nodes
        .iter()
        .map(|n| start_k8s_agent(&bed, n, &api.kubeconfig()))
        .collect();
    Cluster { bed, api, agents }
}

impl Cluster {
    /// Every agent's log.
    pub fn logs(&self) -> String {
        self.agents
            .iter()
            .map(|a| a.log_text())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// Wait until `status.master` of VirtualIP `name` is `node`.
    pub fn wait_status_master(&self, name: &str, node: &str, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(100), || {
            self.api.vip_field(&self.bed, name, ".status.master") == node
        })
    }
}

/// helm (v4) from hack/bin (installed by hack/tools.sh).
pub fn helm_bin() -> PathBuf {
    repo().join("hack/bin/helm")
}

/// The chart, charts/kube-vrrp.
pub fn chart_dir() -> PathBuf {
    repo().join("charts/kube-vrrp")
}

impl ApiServer {
    /// Run helm as admin from the control-plane host, with helm's cache and configuration in the
    /// bed's scratch directory.
    pub fn helm(&self, bed: &Bed, args: &[&str]) -> Output {
        let home = bed.dir.join("helm");
        let mut full = vec![
            "env".to_string(),
            format!("HELM_CACHE_HOME={}", home.join("cache").display()),
            format!("HELM_CONFIG_HOME={}", home.join("config").display()),
            format!("HELM_DATA_HOME={}", home.join("data").display()),
            helm_bin().to_str().expect("utf-8").to_string(),
            "--kubeconfig".into(),
            self.kubeconfig().to_str().expect("utf-8").into(),
        ];
        full.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        bed.exec(&self.host.ns, &refs)
    }

    /// helm that must succeed; returns stdout.
    pub fn helm_ok(&self, bed: &Bed, args: &[&str]) -> String {
        let out = self.helm(bed, args);
        assert!(
            out.status.success(),
            "helm {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the VirtualIP CRD is served (after a `helm install` put it in).
    pub fn wait_crd_established(&self, bed: &Bed) {
        self.kubectl_ok(
            bed,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd/virtualips.kubevrrp.io",
            ],
        );
    }

    /// A kubeconfig that authenticates as a ServiceAccount with a fresh token (`kubectl
    /// create token`), with the same server and CA as the admin kubeconfig.
    pub fn service_account_kubeconfig(&self, bed: &Bed, namespace: &str, name: &str) -> PathBuf {
        let token = self
            .kubectl_ok(
                bed,
                &["create", "token", name, "-n", namespace, "--duration=2h"],
            )
            .trim()
            .to_string();
        let view = |path: &str| {
            self.kubectl_ok(
                bed,
                &[
                    "config",
                    "view",
                    "--raw",
                    "--minify",
                    "-o",
                    &format!("jsonpath={{{path}}}"),
                ],
            )
            .trim()
            .to_string()
        };
        let server = view(".clusters[0].cluster.server");
        let ca = view(".clusters[0].cluster.certificate-authority-data");
        assert!(!token.is_empty() && !server.is_empty() && !ca.is_empty());
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: {name}@test\n  context: {{cluster: test, user: {name}}}\ncurrent-context: {name}@test\n"
        );
        bed.write(&format!("sa-{namespace}-{name}.kubeconfig"), &text)
    }

    /// Run kubectl from the control-plane host with another kubeconfig (e.g. a ServiceAccount's).
    pub fn kubectl_with(&self, bed: &Bed, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
        let mut full = vec![
            kubectl_bin().to_str().expect("utf-8").to_string(),
            "--kubeconfig".into(),
            kubeconfig.to_str().expect("utf-8").into(),
            "--request-timeout=10s".into(),
            format!("--cache-dir={}", self.dir.join("kubectl-cache").display()),
        ];
        full.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        bed.exec(&self.host.ns, &refs)
    }
}

/// Start `kube-vrrp agent` on a node the way the chart's DaemonSet runs it: with `kubeconfig`
/// (a ServiceAccount token, say), `--namespace namespace`, as root with only NET_ADMIN and
/// NET_RAW (the bounding set; no_new_privs as allowPrivilegeEscalation: false sets), and with
/// the agent's API errors logged (debug) so a refused call shows in its log.
pub fn start_k8s_agent_confined(
    bed: &Bed,
    node: &Host,
    kubeconfig: &std::path::Path,
    namespace: &str,
) -> Proc {
    let bin = binary();
    let cache = bed.dir.join(format!("cache-{}", node.name));
    let kc = format!("KUBECONFIG={}", kubeconfig.display());
    bed.spawn(
        node,
        "k8s-agent",
        &[
            "env",
            &kc,
            "RUST_LOG=info,kube_vrrp=debug",
            "setpriv",
            "--bounding-set=-all,+net_admin,+net_raw",
            "--inh-caps=-all",
            "--no-new-privs",
            bin.to_str().expect("utf-8"),
            "agent",
            "--node-name",
            &node.name,
            "--namespace",
            namespace,
            "--http-addr",
            "127.0.0.1:9650",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ],
    )
}
