//! Which keepalived keywords have no kube-vrrp equivalent, and why: each gets one warning
//! (docs/convert.md lists every keyword). A keyword found in no table is unknown: inside a block
//! that converts (vrrp_instance, authentication, vrrp_script, vrrp_track_process,
//! vrrp_track_file) it is an error, since it is most likely a misspelt option whose loss would
//! change the election; at the top level, a warning.

use super::Diagnostics;
use super::parse::Stmt;

/// Top-level blocks without an equivalent, and why.
pub(crate) const TOP_UNSUPPORTED: &[(&[&str], &str)] = &[
    (
        &["virtual_server", "virtual_server_group"],
        "LVS load balancing has no equivalent (use a Kubernetes Service)",
    ),
    (&["bfd_instance"], "BFD has no equivalent"),
    (
        &[
            "static_ipaddress",
            "static_routes",
            "static_rules",
            "track_group",
        ],
        "static addresses, routes and rules belong to the node's network configuration",
    ),
    (
        &["linkbeat_interfaces", "garp_group"],
        "no equivalent: kube-vrrp follows the kernel's link state and sends announcements unthrottled",
    ),
    (
        &[
            "net_namespace",
            "net_namespace_ipvs",
            "namespace_with_ipsets",
            "instance",
            "use_pid_dir",
            "linkbeat_use_polling",
            "child_wait_time",
        ],
        "a keepalived process setting without equivalent",
    ),
];

/// Why a keyword of a table has no equivalent.
pub(crate) fn reason(table: &[(&[&str], &'static str)], key: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(keys, _)| keys.contains(&key))
        .map(|(_, why)| *why)
}

/// The error for an unknown keyword inside a block that converts.
pub(crate) fn unknown_in(s: &Stmt, context: &str) -> super::ConvertError {
    super::parse::error_at(
        &s.key.loc,
        format!(
            "unknown keyword {:?} in {context}: keepalived 2.2.7 has no such keyword there; \
             correct its spelling or remove the line",
            s.key.text
        ),
    )
}

/// Warn about an unknown keyword at the top level.
pub(crate) fn unknown(s: &Stmt, context: &str, diag: &mut Diagnostics) {
    diag.warn(
        &s.key.loc,
        &s.key.text,
        format!(
            "unknown keyword in {context} (column {}); ignored",
            s.key.loc.col
        ),
    );
}

/// vrrp_instance keywords without an equivalent, and why.
pub(crate) const INSTANCE_UNSUPPORTED: &[(&[&str], &str)] = &[
    (
        &[
            "notify_deleted",
            "notify_master_rx_lower_pri",
            "notify_priority_changes",
        ],
        "no equivalent: only notify, notify_master, notify_backup, notify_fault and notify_stop map to spec.notify",
    ),
    (&["smtp_alert"], "email alerts have no equivalent"),
    (
        &["use_vmac_addr", "vmac_xmit_base", "use_ipvlan"],
        "no equivalent: only use_vmac maps to spec.virtualMac (adverts always leave from the virtual MAC interface; no ipvlan)",
    ),
    (&["vrf"], "VRFs are not supported"),
    (
        &["dont_track_primary"],
        "no equivalent: the instance's interface going down always means Fault",
    ),
    (&["track_bfd"], "BFD has no equivalent"),
    (
        &["mcast_src_ip"],
        "no equivalent: adverts come from the interface's primary address",
    ),
    (
        &["mcast_dst_ip"],
        "no equivalent: kube-vrrp uses the standard groups 224.0.0.18 and ff02::12",
    ),
    (
        &[
            "track_src_ip",
            "unicast_fault_no_peer",
            "unicast_ttl",
            "old_unicast_checksum",
        ],
        "no equivalent",
    ),
    (
        &[
            "garp_lower_prio_delay",
            "garp_lower_prio_repeat",
            "garp_master_refresh_repeat",
            "garp_extra_if",
            "garp_extra_if_vmac",
        ],
        "no equivalent: only garp_master_delay, garp_master_repeat and garp_master_refresh map to spec.announce",
    ),
    (
        &[
            "down_timer_adverts",
            "lower_prio_no_advert",
            "higher_prio_send_advert",
        ],
        "no equivalent: kube-vrrp follows the RFC timers and advert rules",
    ),
    (
        &["virtual_ipaddress_excluded"],
        "excluded addresses are not supported: list them in virtual_ipaddress or manage them elsewhere",
    ),
    (
        &["promote_secondaries", "virtual_routes", "virtual_rules"],
        "routes, rules and interface flags belong to the node's network configuration",
    ),
    (
        &["no_accept"],
        "no equivalent: kube-vrrp always accepts traffic to the VIP (accept mode)",
    ),
    (
        &["debug", "kernel_rx_buf_size", "linkbeat_use_polling"],
        "a keepalived process setting without equivalent",
    ),
];
