//! Keywords of a vrrp_instance converted for the migration features (issue 18): notify hooks,
//! `use_vmac`, `v3_checksum_as_v2`.

use super::parse::{Loc, Stmt, error_at};
use super::values::{arg, no_block, split_command};
use super::{ConvertError, Diagnostics};
use crate::spec::{NotifyHooks, V3Checksum};

/// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify SCRIPT [user
/// [group]]`: the hook's argv, split as a vrrp_script's; the user and group are warned.
pub(super) fn notify(
    k: &Stmt,
    key: &str,
    notify: &mut Option<NotifyHooks>,
    diag: &mut Diagnostics,
) -> Result<(), ConvertError> {
    no_block(k)?;
    let first = arg(k, 0)?;
    let argv =
        split_command(&first.text).map_err(|e| error_at(&first.loc, format!("{key}: {e}")))?;
    if let Some(user) = k.args.get(1) {
        diag.warn(
            &user.loc,
            key,
            "username/groupname have no equivalent: hooks run as the agent's user; ignored",
        );
    }
    let n = notify.get_or_insert_with(NotifyHooks::default);
    let slot = match key {
        "notify_master" => &mut n.master,
        "notify_backup" => &mut n.backup,
        "notify_fault" => &mut n.fault,
        "notify_stop" => &mut n.stop,
        _ => &mut n.any,
    };
    *slot = Some(argv);
    Ok(())
}

/// `use_vmac`: IPv4 instances only (kube-vrrp has no IPv6 virtual MAC yet).
pub(super) fn virtual_mac(use_vmac: Option<&Loc>, ipv4: bool, diag: &mut Diagnostics) -> bool {
    match use_vmac {
        Some(at) if !ipv4 => {
            diag.warn(
                at,
                "use_vmac",
                "a virtual MAC for IPv6 is not supported yet; not converted",
            );
            false
        }
        Some(_) => true,
        None => false,
    }
}

/// `v3_checksum_as_v2` (the instance's, else global_defs'): the checksum form of VRRPv3 IPv4
/// adverts. keepalived applies it to nothing else; set on such an instance it is warned.
pub(super) fn checksum_form(
    instance: Option<&(bool, Loc)>,
    version: u8,
    ipv4: bool,
    global: Option<bool>,
    diag: &mut Diagnostics,
) -> Option<V3Checksum> {
    let on = instance.map(|(on, _)| *on).or(global)?;
    if version != 3 || !ipv4 {
        if let Some((true, at)) = instance {
            diag.warn(
                at,
                "v3_checksum_as_v2",
                "applies to VRRPv3 over IPv4 only; ignored",
            );
        }
        return None;
    }
    on.then_some(V3Checksum::WithoutPseudoHeader)
}
