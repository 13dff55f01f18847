//! Spec types of the keepalived features added for migrating users: link debounce (and, with
//! their own fields on [`super::VirtualIpSpec`], the start-up delay).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// keepalived's `interface_up_down_delays`: how long the interface's link must stay down
/// (or up) before the instance acts on it. A link that returns within the delay changes
/// nothing, so a blip does not make a master give up its VIP.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkDebounce {
    /// Delay before a link down puts the instance in Fault: 0s (default) to 255s.
    #[serde(default = "super::default_zero")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    #[x_kube(validation = Rule::new("self == '0' || duration(self) <= duration('255s')").message("spec.linkDebounce.down: must be 0s..255s"))]
    pub down: String,
    /// Delay before a link back up takes the instance out of Fault: 0s (default) to 255s.
    #[serde(default = "super::default_zero")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$")
    )]
    #[x_kube(validation = Rule::new("self == '0' || duration(self) <= duration('255s')").message("spec.linkDebounce.up: must be 0s..255s"))]
    pub up: String,
}

/// How this node computes the checksum of the VRRPv3 IPv4 adverts it sends. Received adverts
/// are accepted in either form (those without the pseudo-header are counted in
/// `kube_vrrp_checksum_without_pseudo_header_total`).
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum V3Checksum {
    /// With the IP pseudo-header, as RFC 5798 and RFC 9568 specify.
    #[default]
    Standard,
    /// Over the VRRP message alone, for peers that only accept that form (keepalived's
    /// `v3_checksum_as_v2`, some older RFC 5798 implementations). VRRPv3 over IPv4 only.
    WithoutPseudoHeader,
}

/// keepalived's notify scripts: commands run on this instance's transitions, in standalone
/// mode only (`kube-vrrp run`, the static pod). In Kubernetes the API server refuses them
/// and the agent reports the VirtualIP `Invalid` (NotifyHooksRefused): the agent runs in a
/// locked-down pod with nothing to run, and the VirtualIP's Events report every transition.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyHooks {
    /// Run on becoming master (`notify_master`); an argv, no shell unless named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub master: Option<Vec<String>>,
    /// Run on becoming backup (`notify_backup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub backup: Option<Vec<String>>,
    /// Run on entering Fault (`notify_fault`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub fault: Option<Vec<String>>,
    /// Run when the instance stops (`notify_stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub stop: Option<Vec<String>>,
    /// Run on every transition after the specific hook (`notify`), with keepalived's four
    /// arguments appended: `INSTANCE`, the VirtualIP's name, the new state (`MASTER`,
    /// `BACKUP`, `FAULT`, `STOP`) and the priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub any: Option<Vec<String>>,
    /// A hook still running after this long is killed (its process group) and counted as
    /// failed: 10ms..10m, default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub timeout: Option<String>,
}
