//! The agent: a supervisor of instance drivers, one listener per interface, status.

pub mod dataplane;
pub mod deadline;
pub mod driver;
pub mod listener;
pub mod notify;
pub mod supervisor;
pub mod sync;

/// The status types live on the ground floor ([`crate::status`]); re-exported for old paths.
pub use crate::status::{self, InstanceStatus, StatusStore};
pub use supervisor::{Desired, Supervisor};
