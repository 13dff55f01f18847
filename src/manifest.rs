//! `kube-vrrp manifest static-pod`: the control-plane VIP as a kubelet static pod. The pod runs
//! `kube-vrrp run` on a VirtualIP file from the host, so it needs no API server (it fronts the
//! API servers before any answers) and no kubeconfig. The VirtualIP is built and checked with
//! the same types and validation as every other VirtualIP; the Pod with k8s-openapi's types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, HTTPGetAction, HostPathVolumeSource, Pod, PodSecurityContext, PodSpec,
    Probe, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::address::parse_prefixed;
use crate::spec::{HttpTracker, Tracker, VirtualIP, VirtualIpSpec};

/// The default image: the chart's repository at this build's version.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/kube-vrrp/kube-vrrp:", env!("CARGO_PKG_VERSION"));

/// Where the pod reads the VirtualIP file (a hostPath).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/kube-vrrp/control-plane.yaml";

/// The pod's HTTP endpoint (loopback of the host network): its probes and `kube-vrrp status`.
const HTTP_PORT: i32 = 9650;

/// What `manifest static-pod` is asked for (its flags).
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = EXAMPLE)]
pub struct StaticPodArgs {
    /// The control-plane address, with an optional prefix length (default /32 or /128).
    #[arg(long, value_name = "VIP[/PREFIX]")]
    pub address: String,
    /// The virtual router ID, 1..255, unique on the segment.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=255))]
    pub vrid: u8,
    /// Interface (default: the one whose subnet holds the address).
    #[arg(long)]
    pub interface: Option<String>,
    /// This node's priority, 1..254 (the same on every node elects the highest address).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub priority: u8,
    /// Advertisement interval (VRRPv3: 10ms..40.95s in 10 ms steps).
    #[arg(long, default_value = "1s")]
    pub advert_interval: String,
    /// A URL whose failure makes this node give up the VIP (an http tracker), e.g.
    /// https://127.0.0.1:6443/readyz; repeat for several.
    #[arg(long = "health-url", value_name = "URL")]
    pub health_urls: Vec<String>,
    /// Priority taken off while a health URL fails (more than the priority spread between
    /// nodes, less than the priority: a lone node keeps the VIP, see --help).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=253))]
    pub health_weight: u8,
    /// Time between health checks.
    #[arg(long, default_value = "1s")]
    pub health_interval: String,
    /// Consecutive failures before the node gives up the VIP.
    #[arg(long, default_value_t = 3)]
    pub health_fall: u32,
    /// Consecutive successes before it counts as healthy again.
    #[arg(long, default_value_t = 2)]
    pub health_rise: u32,
    /// CA the health URL's certificate is checked against (kubeadm's cluster CA).
    #[arg(long, default_value = "/etc/kubernetes/pki/ca.crt")]
    pub health_ca_file: String,
    /// Name the certificate must carry (kubeadm's API server certificate names `kubernetes`,
    /// not 127.0.0.1).
    #[arg(long, default_value = "kubernetes")]
    pub health_server_name: String,
    /// Do not verify the health URL's certificate (instead of --health-ca-file).
    #[arg(long)]
    pub health_insecure_skip_verify: bool,
    /// The container image.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// The VirtualIP file's path on the host (mounted read-only into the pod).
    #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
    pub config_path: PathBuf,
    /// Write the VirtualIP file to --config-path (creating its directory), then print the Pod.
    #[arg(long, conflicts_with = "print_config")]
    pub write_config: bool,
    /// Print the VirtualIP file instead of the Pod.
    #[arg(long)]
    pub print_config: bool,
}

const EXAMPLE: &str = "\
Example (kubeadm, on each control-plane node before `kubeadm init` / `kubeadm join`):
  kube-vrrp manifest static-pod --address 198.51.100.10 --vrid 10 \\
      --health-url https://127.0.0.1:6443/readyz --write-config \\
      > /etc/kubernetes/manifests/kube-vrrp.yaml
  kubeadm init --control-plane-endpoint 198.51.100.10:6443 --upload-certs

The kubelet starts the pod before any API server exists; the first node takes the VIP at once
(a failing health URL lowers its priority, it does not keep it from being master) and the API
server answers through it as soon as it is up. On a node whose API server stops answering
/readyz, the priority drops by --health-weight and a healthy node takes over.";

/// Why the flags do not make a working VirtualIP.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A flag's value is wrong; the message names the flag.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, as typed.
        flag: &'static str,
        /// What to fix.
        message: String,
    },
    /// The VirtualIP the flags describe is invalid.
    #[error("the flags make an invalid VirtualIP: {0}")]
    Spec(String),
    /// YAML output failed.
    #[error("YAML: {0}")]
    Yaml(String),
}

/// The two documents: the Pod (for the kubelet's manifest directory) and the VirtualIP file.
#[derive(Clone, Debug)]
pub struct StaticPod {
    /// The Pod manifest.
    pub pod: String,
    /// The VirtualIP file the pod runs.
    pub config: String,
}

/// Build both documents from the flags, checking everything a running agent would.
pub fn static_pod(args: &StaticPodArgs) -> Result<StaticPod, ManifestError> {
    let flag = |flag, message: String| ManifestError::Flag { flag, message };
    let address = parse_prefixed(&args.address).map_err(|e| flag("--address", e))?;
    if !args.config_path.is_absolute() {
        return Err(flag("--config-path", "must be an absolute path".into()));
    }
    if args.health_weight >= args.priority {
        return Err(flag(
            "--health-weight",
            format!(
                "{} would take the priority ({}) to 0 or below: a lone node with an API server not yet up could not take the VIP (cold bootstrap); use less than --priority",
                args.health_weight, args.priority
            ),
        ));
    }
    let trackers = args
        .health_urls
        .iter()
        .enumerate()
        .map(|(i, url)| health_tracker(args, i, url))
        .collect();
    let spec = VirtualIpSpec {
        addresses: vec![args.address.clone()],
        interface: args.interface.clone(),
        advert_interval: args.advert_interval.clone(),
        priority: args.priority,
        trackers,
        ..minimal_spec(args.vrid)
    };
    let errors = crate::translate::validate(&spec);
    if let Some(e) = errors.first() {
        return Err(ManifestError::Spec(e.to_string()));
    }
    let name = format!("control-plane-{}", address.addr).replace([':', '.'], "-");
    let vip = VirtualIP::new(&name, spec);
    let config = format!(
        "# The control-plane VIP, run by the kube-vrrp static pod (kube-vrrp manifest static-pod).\n{}",
        serde_saphyr::to_string(&vip).map_err(|e| ManifestError::Yaml(e.to_string()))?
    );
    let pod = format!(
        "# kube-vrrp static pod: the control-plane VIP {}; its VirtualIP file: {}\n{}",
        args.address,
        args.config_path.display(),
        serde_saphyr::to_string(&pod(args)).map_err(|e| ManifestError::Yaml(e.to_string()))?
    );
    Ok(StaticPod { pod, config })
}

/// One --health-url as an http tracker.
fn health_tracker(args: &StaticPodArgs, index: usize, url: &str) -> Tracker {
    let https = url.starts_with("https://");
    let verify = https && !args.health_insecure_skip_verify;
    Tracker {
        name: if index == 0 {
            "apiserver".into()
        } else {
            format!("health-{}", index + 1)
        },
        weight: -i32::from(args.health_weight),
        script: None,
        process: None,
        file: None,
        interface: None,
        pods: None,
        http: Some(HttpTracker {
            url: url.to_string(),
            expected_status: vec![200],
            interval: args.health_interval.clone(),
            timeout: None,
            rise: args.health_rise,
            fall: args.health_fall,
            ca_file: verify.then(|| args.health_ca_file.clone()),
            insecure_skip_verify: https && args.health_insecure_skip_verify,
            server_name: verify.then(|| args.health_server_name.clone()),
            client_cert_file: None,
            client_key_file: None,
        }),
    }
}

/// A spec with the given VRID and every other field at its default (as a file without them
/// would read).
fn minimal_spec(vrid: u8) -> VirtualIpSpec {
    let doc = serde_json::json!({"vrid": vrid, "addresses": ["198.51.100.1"]});
    serde_json::from_value(doc).expect("a spec of defaults deserializes")
}

/// The Pod: host network, NET_ADMIN + NET_RAW only, read-only root, no service account token,
/// the VirtualIP file's directory (and the CA file of the health checks) read-only from the host, probes on the
/// loopback HTTP endpoint.
fn pod(args: &StaticPodArgs) -> Pod {
    let config_dir = args
        .config_path
        .parent()
        .map_or("/".to_string(), |p| p.display().to_string());
    let mut mounts = vec![VolumeMount {
        name: "config".into(),
        mount_path: config_dir.clone(),
        read_only: Some(true),
        ..Default::default()
    }];
    let mut volumes = vec![host_path("config", &config_dir, "Directory")];
    // The health checks' CA: that one file, not its directory (kubeadm keeps keys beside it).
    let verifies = args
        .health_urls
        .iter()
        .any(|u| u.starts_with("https://") && !args.health_insecure_skip_verify);
    if verifies {
        mounts.push(VolumeMount {
            name: "health-ca".into(),
            mount_path: args.health_ca_file.clone(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(host_path("health-ca", &args.health_ca_file, "File"));
    }
    let probe = |path: &str, period| Probe {
        http_get: Some(HTTPGetAction {
            host: Some("127.0.0.1".into()),
            path: Some(path.into()),
            port: IntOrString::Int(HTTP_PORT),
            ..Default::default()
        }),
        period_seconds: Some(period),
        ..Default::default()
    };
    let container = Container {
        name: "kube-vrrp".into(),
        image: Some(args.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec![
            "run".into(),
            format!("--config={}", args.config_path.display()),
            format!("--http-addr=127.0.0.1:{HTTP_PORT}"),
        ]),
        env: Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "NODE_NAME".into(),
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 2)),
        security_context: Some(SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_user: Some(0),
            run_as_group: Some(0),
            run_as_non_root: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: Some(vec!["NET_ADMIN".into(), "NET_RAW".into()]),
            }),
            ..Default::default()
        }),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some("kube-vrrp".into()),
            namespace: Some("kube-system".into()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/name".to_string(),
                    "kube-vrrp".to_string(),
                ),
                (
                    "app.kubernetes.io/component".to_string(),
                    "control-plane-vip".to_string(),
                ),
            ])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            host_network: Some(true),
            priority_class_name: Some("system-node-critical".into()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            containers: vec![container],
            volumes: Some(volumes),
            ..Default::default()
        }),
        status: None,
    }
}

fn host_path(name: &str, path: &str, kind: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: Some(kind.into()),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
