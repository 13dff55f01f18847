//! Health trackers (keepalived's vrrp_script, track_process, track_file, track_interface).
//!
//! - [`hysteresis`]: the pure core: rise/fall counting, weights, combination.
//! - [`script`], [`http`], [`process`], [`file`], [`interface`]: one prober per kind, each a tokio task
//!   reporting [`Observation`]s.
//! - [`set`]: the trackers of one instance: starts the probers, feeds their results through
//!   the core and tells the instance's driver whenever the combined result changes.
//!
//! The probers take [`crate::translate::TrackerConfig`]s: tracker specs are checked and parsed
//! once, by the translation.

pub mod file;
pub mod http;
pub mod hysteresis;
pub mod interface;
pub mod pods;
pub mod process;
pub mod script;
pub mod set;

pub use hysteresis::{Contribution, Health, Reading, TrackerCore};
pub use set::{TrackError, TrackerEnv, TrackerSet};

/// The result of one check, as a prober reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// What the check found.
    pub reading: Reading,
    /// Shown as the tracker's last result: "exit 1", "3 processes", "value 7", "link down".
    pub detail: String,
    /// The check could not be carried out at all (script not found, /proc unreadable): the
    /// tracker counts as down and reports `detail` as its error.
    pub broken: bool,
}

impl Observation {
    /// A check that ran.
    pub fn new(reading: Reading, detail: String) -> Observation {
        Observation {
            reading,
            detail,
            broken: false,
        }
    }

    /// A check that could not run: a failure, with the reason.
    pub fn broken(detail: String) -> Observation {
        Observation {
            reading: Reading::Fail,
            detail,
            broken: true,
        }
    }
}
