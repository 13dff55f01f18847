//! The node's data plane, shared by `kube-vrrp run` and `kube-vrrp agent`: a supervisor of
//! instance drivers, one listener per interface and family, sync groups, notify hooks.

pub mod command;
pub mod deadline;
pub mod driver;
pub mod listener;
pub mod node;
pub mod notify;
pub mod supervisor;
pub mod sync;

/// The status types live on the ground floor ([`crate::status`]); re-exported for old paths.
pub use crate::status::{self, InstanceStatus, StatusStore};
pub use supervisor::{Desired, Supervisor};
