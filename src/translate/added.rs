//! Checks and parsing of the fields added for keepalived's start-up delay, link debounce,
//! notify hooks, sync groups, virtual MAC and v3 checksum form (kept apart from the core fields
//! of translate/parse.rs).

use std::time::Duration;

use super::tracker::MIN_INTERVAL;
use super::{SpecError, err};
use crate::duration;
use crate::spec::{NotifyHooks, V3Checksum, VirtualIpSpec};
use crate::vrrp::LinkDebounce;
use crate::vrrp::packet::ChecksumForm;

/// Longest `startupDelay`.
pub const MAX_STARTUP_DELAY: Duration = Duration::from_secs(3600);
/// Longest `linkDebounce.down` / `.up` (keepalived's own limit).
pub const MAX_LINK_DELAY: Duration = Duration::from_secs(255);

/// Default `notify.timeout`.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `notify.timeout`.
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(600);

/// The notify hooks of an instance (`spec.notify`), validated: argvs and their timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// On becoming master.
    pub master: Option<Vec<String>>,
    /// On becoming backup.
    pub backup: Option<Vec<String>>,
    /// On entering Fault.
    pub fault: Option<Vec<String>>,
    /// On stopping.
    pub stop: Option<Vec<String>>,
    /// On every transition, with TYPE NAME STATE PRIORITY appended.
    pub any: Option<Vec<String>>,
    /// Kill a hook still running after this long.
    pub timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            master: None,
            backup: None,
            fault: None,
            stop: None,
            any: None,
            timeout: DEFAULT_NOTIFY_TIMEOUT,
        }
    }
}

impl NotifyConfig {
    /// Whether no hook is configured.
    pub fn is_empty(&self) -> bool {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
        ]
        .iter()
        .all(|h| h.is_none())
    }
}

/// The added fields of a spec, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Added {
    /// `spec.startupDelay`.
    pub startup_delay: Duration,
    /// `spec.linkDebounce`.
    pub link_debounce: LinkDebounce,
    /// `spec.v3Checksum`.
    pub checksum: ChecksumForm,
    /// `spec.notify`.
    pub notify: NotifyConfig,
    /// `spec.syncGroup`.
    pub sync_group: Option<String>,
    /// `spec.virtualMac`.
    pub virtual_mac: bool,
}

/// Check and parse the added fields; every problem names its field.
pub(super) fn parse(spec: &VirtualIpSpec, errors: &mut Vec<SpecError>) -> Option<Added> {
    if spec.virtual_mac && spec.addresses.iter().any(|a| a.contains(':')) {
        errors.push(err(
            "spec.virtualMac",
            "IPv4 only (a virtual MAC for IPv6 is not supported yet)",
        ));
    }
    if let Some(g) = &spec.sync_group {
        let label = !g.is_empty()
            && g.len() <= 63
            && g.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !g.starts_with('-')
            && !g.ends_with('-');
        if !label {
            errors.push(err(
                "spec.syncGroup",
                format!(
                    "{g:?} must be a DNS label: lower-case letters, digits and '-', at most 63"
                ),
            ));
        }
    }
    let notify = spec
        .notify
        .as_ref()
        .map_or(Some(NotifyConfig::default()), |n| notify(n, errors));
    let startup_delay = bounded(
        "spec.startupDelay",
        &spec.startup_delay,
        MAX_STARTUP_DELAY,
        "1h",
        errors,
    );
    let ipv6 = spec.addresses.iter().any(|a| a.contains(':'));
    if spec.v3_checksum == Some(V3Checksum::WithoutPseudoHeader) && (spec.version != 3 || ipv6) {
        errors.push(err(
            "spec.v3Checksum",
            "WithoutPseudoHeader applies to VRRPv3 over IPv4 only (VRRPv2 has no pseudo-header; IPv6 always uses it)",
        ));
    }
    let link_debounce = match &spec.link_debounce {
        None => Some(LinkDebounce::default()),
        Some(l) => {
            let down = bounded(
                "spec.linkDebounce.down",
                &l.down,
                MAX_LINK_DELAY,
                "255s",
                errors,
            );
            let up = bounded(
                "spec.linkDebounce.up",
                &l.up,
                MAX_LINK_DELAY,
                "255s",
                errors,
            );
            down.zip(up).map(|(down, up)| LinkDebounce { down, up })
        }
    };
    let checksum = match spec.v3_checksum.unwrap_or_default() {
        V3Checksum::Standard => ChecksumForm::Standard,
        V3Checksum::WithoutPseudoHeader => ChecksumForm::WithoutPseudoHeader,
    };
    Some(Added {
        startup_delay: startup_delay?,
        link_debounce: link_debounce?,
        checksum,
        notify: notify?,
        sync_group: spec.sync_group.clone(),
        virtual_mac: spec.virtual_mac,
    })
}

/// `spec.notify`: each hook an argv naming a program, the timeout 10ms..10m.
fn notify(n: &NotifyHooks, errors: &mut Vec<SpecError>) -> Option<NotifyConfig> {
    for (field, argv) in [
        ("master", &n.master),
        ("backup", &n.backup),
        ("fault", &n.fault),
        ("stop", &n.stop),
        ("any", &n.any),
    ] {
        let Some(argv) = argv else { continue };
        let field = format!("spec.notify.{field}");
        match argv.first() {
            None => errors.push(err(field, "must name a program (an argv list)")),
            Some(p) if p.is_empty() || (p.contains('/') && !p.starts_with('/')) => {
                errors.push(err(
                    field,
                    format!("{p:?}: use an absolute path or a bare name found in PATH"),
                ))
            }
            Some(_) => {}
        }
    }
    let timeout = match &n.timeout {
        None => Some(DEFAULT_NOTIFY_TIMEOUT),
        Some(t) => match duration::parse(t) {
            Err(e) => {
                errors.push(err("spec.notify.timeout", e.to_string()));
                None
            }
            Ok(d) if d < MIN_INTERVAL || d > MAX_NOTIFY_TIMEOUT => {
                errors.push(err(
                    "spec.notify.timeout",
                    format!("must be 10ms..10m, got {t}"),
                ));
                None
            }
            Ok(d) => Some(d),
        },
    };
    Some(NotifyConfig {
        master: n.master.clone(),
        backup: n.backup.clone(),
        fault: n.fault.clone(),
        stop: n.stop.clone(),
        any: n.any.clone(),
        timeout: timeout?,
    })
}

/// A duration of at most `max` (shown as `shown` in the message).
fn bounded(
    field: &str,
    value: &str,
    max: Duration,
    shown: &str,
    errors: &mut Vec<SpecError>,
) -> Option<Duration> {
    match duration::parse(value) {
        Err(e) => {
            errors.push(err(field, e.to_string()));
            None
        }
        Ok(d) if d > max => {
            errors.push(err(field, format!("must be 0s..{shown}, got {value}")));
            None
        }
        Ok(d) => Some(d),
    }
}
