//! The VirtualIP resource (`kubevrrp.io/v1alpha1`) as users write it: the same field names in a
//! standalone file and in Kubernetes (design.md §3). Defaults are keepalived's.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group/version of VirtualIP.
pub const API_VERSION: &str = "kubevrrp.io/v1alpha1";
/// Kind of the resource.
pub const KIND: &str = "VirtualIP";

mod added;
mod selector;
pub use added::{LinkDebounce, NotifyHooks, V3Checksum};
pub use selector::{LabelSelector, LabelSelectorRequirement};

/// `spec` of a VirtualIP: one virtual router (keepalived's `vrrp_instance`). Validation rules
/// below are enforced by the API server (OpenAPI + CEL) and checked again by the agent.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[kube(
    group = "kubevrrp.io",
    version = "v1alpha1",
    kind = "VirtualIP",
    plural = "virtualips",
    shortname = "vip",
    shortname = "vips",
    status = "VirtualIpStatus",
    doc = "A virtual IP address held by one node at a time, elected with VRRP.",
    printcolumn(name = "VRID", type_ = "integer", json_path = ".spec.vrid"),
    printcolumn(name = "Addresses", type_ = "string", json_path = ".spec.addresses"),
    printcolumn(name = "Master", type_ = "string", json_path = ".status.master"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Version", type_ = "integer", json_path = ".spec.version", priority = 1),
    printcolumn(name = "Interval", type_ = "string", json_path = ".spec.advertInterval", priority = 1),
    printcolumn(name = "Master-Priority", type_ = "integer", json_path = ".status.masterPriority", priority = 1),
    validation = Rule::new("!has(self.spec.authentication) || self.spec.version == 2").message("spec.authentication: only VRRPv2 has authentication (RFC 5798 removed it); set spec.version: 2 or remove it"),
)]
#[x_kube(validation = Rule::new("self.addresses.all(a, a.contains(':')) || self.addresses.all(a, !a.contains(':'))").message("spec.addresses: all addresses must be of one family (IPv4 or IPv6)"))]
#[x_kube(validation = Rule::new("self.version == 3 || self.addresses.all(a, !a.contains(':'))").message("spec.addresses: VRRPv2 carries IPv4 only; use version: 3 for IPv6"))]
#[x_kube(validation = Rule::new("self.version == 2 ? (duration(self.advertInterval) >= duration('1s') && duration(self.advertInterval) <= duration('255s') && duration(self.advertInterval).getMilliseconds() % 1000 == 0) : (duration(self.advertInterval) >= duration('10ms') && duration(self.advertInterval) <= duration('40950ms') && duration(self.advertInterval).getMilliseconds() % 10 == 0)").message("spec.advertInterval: VRRPv3 takes 10ms..40.95s in steps of 10ms; VRRPv2 takes whole seconds 1s..255s"))]
#[x_kube(validation = Rule::new("!has(self.virtualMac) || !self.virtualMac || self.addresses.all(a, !a.contains(':'))").message("spec.virtualMac: IPv4 only (a virtual MAC for IPv6 is not supported yet)"))]
#[x_kube(validation = Rule::new("!has(self.notify)").message("spec.notify: notify hooks run only in standalone mode (kube-vrrp run --config, the static pod); in Kubernetes the agent runs in a locked-down pod and the VirtualIP's Events report every transition"))]
#[x_kube(validation = Rule::new("!has(self.v3Checksum) || self.v3Checksum == 'Standard' || (self.version == 3 && self.addresses.all(a, !a.contains(':')))").message("spec.v3Checksum: WithoutPseudoHeader applies to VRRPv3 over IPv4 only"))]
#[x_kube(validation = Rule::new("!has(self.maxAdvertInterval) || (duration(self.maxAdvertInterval) >= duration(self.advertInterval) && duration(self.maxAdvertInterval) <= duration('255s'))").message("spec.maxAdvertInterval: must be at least spec.advertInterval and at most 255s"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualIpSpec {
    /// virtual_router_id, 1..=255; immutable.
    #[schemars(range(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.vrid is immutable: create a new VirtualIP instead"))]
    pub vrid: u8,
    /// virtual_ipaddress: addresses with an optional prefix length (default /32 or /128), all
    /// of one family.
    #[schemars(length(min = 1, max = 64), inner(length(max = 64)))]
    #[x_kube(validation = Rule::new("self.all(a, isIP(a) || isCIDR(a))").message("spec.addresses: each entry must be an IP address, optionally with a prefix length (198.51.100.10/32)"))]
    #[x_kube(validation = Rule::new("self.all(a, !a.endsWith('/0'))").message("spec.addresses: a /0 prefix would claim every address; give the address alone or its subnet's prefix length"))]
    pub addresses: Vec<String>,
    /// Interface to run on; default: the interface whose subnet holds the first address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// VRRP version: 3 (default) or 2.
    #[serde(default = "default_version")]
    #[schemars(range(min = 2, max = 3))]
    pub version: u8,
    /// Advertisement interval: v3 10ms..40.95s in 10 ms steps; v2 whole seconds 1..255.
    #[serde(default = "default_interval")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub advert_interval: String,
    /// Base priority 1..=254, or 255 for the address owner.
    #[serde(default = "default_priority")]
    #[schemars(range(min = 1, max = 255))]
    pub priority: u8,
    /// Per-node priority overrides; the first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub priorities: Vec<PriorityOverride>,
    /// Which nodes take part (default: every node an agent runs on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// false = keepalived's `nopreempt`.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// keepalived's `preempt_delay`.
    #[serde(default = "default_zero", skip_serializing_if = "is_zero")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    pub preempt_delay: String,
    /// v2 PASS authentication; the password (1 to 8 bytes) lives in a Secret. PASS travels in
    /// clear text in every advert: it keeps misconfigured routers out, not attackers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Unicast peers instead of multicast; adverts are accepted only from these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 64)))]
    #[x_kube(validation = Rule::new("self.all(p, isIP(p))").message("spec.unicastPeers: each entry must be an IP address"))]
    pub unicast_peers: Vec<String>,
    /// Optional bound on the advertisement interval this node accepts from other routers: an
    /// advert announcing a longer one is discarded and counted (`interval_above_bound`), so a
    /// single spoofed advert with a 40.95 s interval cannot keep the VIP off every node for
    /// minutes. At least `advertInterval`; unset (default): any interval, as the RFC says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub max_advert_interval: Option<String>,
    /// Gratuitous ARP / unsolicited NA settings (keepalived's garp_master_*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Announce>,
    /// Health trackers adjusting priority (keepalived's track_* and vrrp_script).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub trackers: Vec<Tracker>,
    /// keepalived's `vrrp_startup_delay`: after the agent starts, wait this long before
    /// joining (0s..1h; a VirtualIP added later joins at once).
    #[serde(default = "default_zero", skip_serializing_if = "is_zero")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    #[x_kube(validation = Rule::new("self == '0' || duration(self) <= duration('1h')").message("spec.startupDelay: must be 0s..1h"))]
    pub startup_delay: String,
    /// keepalived's `interface_up_down_delays`: delays before acting on the interface going
    /// down or coming back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_debounce: Option<LinkDebounce>,
    /// The checksum of the VRRPv3 IPv4 adverts sent: `Standard` (default) or
    /// `WithoutPseudoHeader` (keepalived's `v3_checksum_as_v2`). Both are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3_checksum: Option<V3Checksum>,
    /// keepalived's notify scripts, standalone mode only (refused in Kubernetes, where the
    /// VirtualIP's Events report transitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyHooks>,
    /// keepalived's `vrrp_sync_group`: VirtualIPs with the same group fail over together on
    /// each node (a node is master of all of them or of none). A DNS label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub sync_group: Option<String>,
    /// keepalived's `use_vmac`: the master holds the VIP on a macvlan `vrrp.{vrid}` with the
    /// RFC 5798 virtual MAC 00-00-5E-00-01-{vrid}, so clients keep one MAC across failovers.
    /// IPv4 only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub virtual_mac: bool,
}

fn default_version() -> u8 {
    3
}
fn default_interval() -> String {
    "1s".to_string()
}
fn default_priority() -> u8 {
    100
}
fn default_true() -> bool {
    true
}
pub(crate) fn default_zero() -> String {
    "0s".to_string()
}
fn is_zero(s: &String) -> bool {
    s == "0s" || s == "0"
}

/// A per-node priority: by node name or by node labels.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("has(self.nodeName) != has(self.nodeSelector)").message("spec.priorities: set exactly one of nodeName and nodeSelector"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriorityOverride {
    /// Exact node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Nodes whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// Priority 1..=255 on the matching nodes.
    #[schemars(range(min = 1, max = 255))]
    pub priority: u8,
}

/// v2 authentication.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authentication {
    /// Only `PASS` (RFC 3768 simple text password).
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == 'PASS'").message("spec.authentication.type: only PASS is supported"))]
    pub kind: String,
    /// Where the password is.
    pub secret_ref: SecretKeyRef,
}

/// A key in a Secret (in the agent's namespace, or a `Secret` document of the standalone file).
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}

/// Gratuitous ARP / unsolicited NA on becoming master (keepalived: garp_master_repeat 5,
/// garp_master_delay 5, garp_master_refresh 0).
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Announce {
    /// Announcements sent at once, and again after `delay`: 1..100.
    #[serde(default = "default_repeat")]
    #[schemars(range(min = 1, max = 100))]
    pub repeat: u32,
    /// When the second burst goes out, up to 24h; `0s` disables it.
    #[serde(default = "default_delay")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    #[x_kube(validation = Rule::new("self == '0' || duration(self) <= duration('24h')").message("spec.announce.delay: must be 0s (off) up to 24h"))]
    pub delay: String,
    /// Keep announcing every `refresh` while master: 1s..24h; `0s` (default) disables it.
    #[serde(default = "default_zero")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    #[x_kube(validation = Rule::new("self == '0' || duration(self) == duration('0s') || (duration(self) >= duration('1s') && duration(self) <= duration('24h'))").message("spec.announce.refresh: must be 0s (off) or 1s..24h"))]
    pub refresh: String,
}

fn default_repeat() -> u32 {
    5
}
fn default_delay() -> String {
    "5s".to_string()
}

impl Default for Announce {
    fn default() -> Self {
        Announce {
            repeat: default_repeat(),
            delay: default_delay(),
            refresh: default_zero(),
        }
    }
}

/// A health tracker: exactly one kind, and a weight (keepalived semantics: > 0 adds while up,
/// < 0 subtracts while down, 0 puts the instance in Fault while down).
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("(has(self.script) ? 1 : 0) + (has(self.process) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.interface) ? 1 : 0) + (has(self.pods) ? 1 : 0) + (has(self.http) ? 1 : 0) == 1").message("spec.trackers: each tracker sets exactly one of script, process, file, interface, pods, http"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracker {
    /// Name shown in status and metrics.
    pub name: String,
    /// Priority weight, -254..254.
    #[serde(default)]
    #[schemars(range(min = -254, max = 254))]
    pub weight: i32,
    /// Run a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptTracker>,
    /// Watch for a running process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessTracker>,
    /// Read an integer from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileTracker>,
    /// Watch an interface's link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<InterfaceTracker>,
    /// Kubernetes only: a Ready pod matching the selector runs on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsTracker>,
    /// GET a URL (http or https); healthy when the status code is expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTracker>,
}

/// keepalived's vrrp_script.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptTracker {
    /// argv; no shell unless named.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Time between runs, 10ms or more (keepalived default 1s).
    #[serde(default = "default_interval")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub interval: String,
    /// Kill and count a failure after this long, 10ms or more (default: the interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub timeout: Option<String>,
    /// Successes needed to go up.
    #[serde(default = "default_one")]
    pub rise: u32,
    /// Failures needed to go down.
    #[serde(default = "default_one")]
    pub fall: u32,
}

fn default_one() -> u32 {
    1
}

/// An HTTP(S) health check: GET `url`; a run passes when the response's status code is in
/// `expectedStatus`. Connection errors, timeouts and TLS failures (an untrusted certificate, a
/// name that does not match) are failures. keepalived has no such tracker; its users run curl
/// from a vrrp_script.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTracker {
    /// `http://` or `https://` URL, e.g. `https://127.0.0.1:6443/readyz`.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Status codes that count as healthy (default [200]).
    #[serde(default = "default_expected_status")]
    pub expected_status: Vec<u16>,
    /// Time between checks (default 1s; below a second allowed).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// A check not answered within this long fails (default: the interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Successes needed to go up.
    #[serde(default = "default_one")]
    pub rise: u32,
    /// Failures needed to go down.
    #[serde(default = "default_one")]
    pub fall: u32,
    /// https: PEM file of the CA certificates to trust (default: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// https: accept any server certificate. Explicit, never a default; not with caFile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// https: the name the server's certificate must carry, when it differs from the URL's
    /// host (kubeadm's API server certificate names `kubernetes`, not 127.0.0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// https: PEM client certificate (with clientKeyFile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<String>,
    /// https: PEM private key of clientCertFile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<String>,
}

fn default_expected_status() -> Vec<u16> {
    vec![200]
}

/// keepalived's vrrp_track_process.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessTracker {
    /// Process name (comm or argv[0]).
    pub name: String,
    /// Up while at least this many run (default 1).
    #[serde(default = "default_one")]
    pub min_count: u32,
}

/// keepalived's vrrp_track_file.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileTracker {
    /// File holding an integer.
    pub path: String,
    /// How often the file is read: 10ms or more (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub interval: Option<String>,
}

/// keepalived's track_interface.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterfaceTracker {
    /// Interface name.
    pub name: String,
}

/// Pods on this node.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsTracker {
    /// Namespace of the pods.
    pub namespace: String,
    /// Which pods.
    pub selector: LabelSelector,
}

/// `status` of a VirtualIP. Each node owns its entry in `nodes` (server-side apply, one field
/// manager per node); the master sets `master` and the Ready condition.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualIpStatus {
    /// Node holding the addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The master's effective priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_priority: Option<u8>,
    /// Generation of the spec the writer acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One entry per node taking part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["node"]))]
    pub nodes: Vec<NodeStatus>,
    /// Ready, Invalid, Conflict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// One node's view.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Node name (the list-map key).
    pub node: String,
    /// Initialize, Backup, Master, Fault, or Error.
    pub state: String,
    /// Effective priority.
    #[serde(default)]
    pub priority: u8,
    /// When the state began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Error text, when the node cannot run this VirtualIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A standard condition.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Ready, Invalid or Conflict.
    #[serde(rename = "type")]
    pub kind: String,
    /// True, False or Unknown.
    pub status: String,
    /// CamelCase reason.
    #[serde(default)]
    pub reason: String,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}
