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

/// Check the added fields; every problem names its field.
pub(super) fn validate(spec: &VirtualIpSpec, errors: &mut Vec<SpecError>) {
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

/// The link debounce of a validated spec.
pub(super) fn link_debounce(spec: &VirtualIpSpec) -> LinkDebounce {
    spec.link_debounce
        .as_ref()
        .map_or_else(LinkDebounce::default, |l| LinkDebounce {
            down: duration::parse(&l.down).unwrap_or_default(),
            up: duration::parse(&l.up).unwrap_or_default(),
        })
}
