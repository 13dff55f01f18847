//! Reporting a tracker's field problems under its path, and the checks every probing tracker
//! shares (its interval, rise and fall).

use std::time::Duration;

use super::{SpecError, err};
use crate::duration;

/// Shortest script interval or timeout and file read interval: trackers can keep pace with
/// 100 ms adverts (keepalived 2.3 takes fractional seconds too), but a nanosecond interval
/// would be a fork storm.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Problems of one tracker's fields, each reported under the tracker's path.
pub(super) struct Fields<'a> {
    pub(super) prefix: String,
    pub(super) errors: &'a mut Vec<SpecError>,
}

impl Fields<'_> {
    /// Report `message` about `field` (relative to the prefix).
    pub(super) fn report(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .push(err(format!("{}{field}", self.prefix), message));
    }

    /// Problems reported so far (by anyone).
    pub(super) fn count(&self) -> usize {
        self.errors.len()
    }

    /// The fields under `sub` (e.g. `.script.`).
    pub(super) fn under(&mut self, sub: &str) -> Fields<'_> {
        Fields {
            prefix: format!("{}{sub}", self.prefix),
            errors: self.errors,
        }
    }
}

/// A tracker duration: it must parse and be at least [`MIN_INTERVAL`].
pub(super) fn check_interval(f: &mut Fields<'_>, field: &str, value: &str) -> Option<Duration> {
    match duration::parse(value) {
        Err(e) => {
            f.report(field, e.to_string());
            None
        }
        Ok(d) if d < MIN_INTERVAL => {
            f.report(
                field,
                format!("must be at least 10ms (e.g. 200ms, 1s), got {value}"),
            );
            None
        }
        Ok(d) => Some(d),
    }
}

/// `rise` and `fall` are at least 1.
pub(super) fn check_rise_fall(f: &mut Fields<'_>, rise: u32, fall: u32) {
    if rise == 0 {
        f.report("rise", "must be at least 1");
    }
    if fall == 0 {
        f.report("fall", "must be at least 1");
    }
}
