//! The agent: a supervisor of instance drivers, one listener per interface, status.

pub mod announcer;
pub mod dataplane;
pub mod deadline;
pub mod driver;
pub mod listener;
pub mod notify;
pub mod status;
pub mod supervisor;
pub mod sync;

pub use status::{InstanceStatus, StatusStore};
pub use supervisor::{Desired, Supervisor};
