//! Checks and translation of the fields added for keepalived's start-up delay and link
//! debounce (kept apart from the core fields of [`super::validate`]).

use std::time::Duration;

use super::{SpecError, err};
use crate::duration;
use crate::spec::{V3Checksum, VirtualIpSpec};
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

/// Check the added fields; every problem names its field.
pub(super) fn validate(spec: &VirtualIpSpec, errors: &mut Vec<SpecError>) {
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
    if let Some(n) = &spec.notify {
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
        if let Some(t) = &n.timeout {
            match duration::parse(t) {
                Err(e) => errors.push(err("spec.notify.timeout", e.to_string())),
                Ok(d) if d < crate::track::MIN_INTERVAL || d > MAX_NOTIFY_TIMEOUT => errors.push(
                    err("spec.notify.timeout", format!("must be 10ms..10m, got {t}")),
                ),
                Ok(_) => {}
            }
        }
    }
    bounded(
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
    if let Some(l) = &spec.link_debounce {
        for (field, value) in [("down", &l.down), ("up", &l.up)] {
            let field = format!("spec.linkDebounce.{field}");
            bounded(&field, value, MAX_LINK_DELAY, "255s", errors);
        }
    }
}

fn bounded(field: &str, value: &str, max: Duration, shown: &str, errors: &mut Vec<SpecError>) {
    match duration::parse(value) {
        Err(e) => errors.push(err(field, e.to_string())),
        Ok(d) if d > max => errors.push(err(field, format!("must be 0s..{shown}, got {value}"))),
        Ok(_) => {}
    }
}

/// The start-up delay of a validated spec.
pub(super) fn startup_delay(spec: &VirtualIpSpec) -> Duration {
    duration::parse(&spec.startup_delay).unwrap_or_default()
}

/// The checksum form of the adverts sent.
pub(super) fn checksum(spec: &VirtualIpSpec) -> ChecksumForm {
    match spec.v3_checksum.unwrap_or_default() {
        V3Checksum::Standard => ChecksumForm::Standard,
        V3Checksum::WithoutPseudoHeader => ChecksumForm::WithoutPseudoHeader,
    }
}

/// The notify hooks of a validated spec.
pub(super) fn notify(spec: &VirtualIpSpec) -> NotifyConfig {
    let Some(n) = &spec.notify else {
        return NotifyConfig::default();
    };
    NotifyConfig {
        master: n.master.clone(),
        backup: n.backup.clone(),
        fault: n.fault.clone(),
        stop: n.stop.clone(),
        any: n.any.clone(),
        timeout: n
            .timeout
            .as_deref()
            .and_then(|t| duration::parse(t).ok())
            .unwrap_or(DEFAULT_NOTIFY_TIMEOUT),
    }
}

/// The link debounce of a validated spec.
pub(super) fn link_debounce(spec: &VirtualIpSpec) -> LinkDebounce {
    spec.link_debounce
        .as_ref()
        .map_or_else(LinkDebounce::default, |l| LinkDebounce {
            down: duration::parse(&l.down).unwrap_or_default(),
            up: duration::parse(&l.up).unwrap_or_default(),
        })
}
