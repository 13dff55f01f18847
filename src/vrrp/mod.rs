//! The VRRP protocol core: pure code, no sockets, clocks, threads or tokio.
//!
//! Time is passed in by the caller as a [`std::time::Duration`] since an arbitrary epoch, so the
//! same engine runs on the wall clock (the daemon) and on a virtual clock (the simulator).

pub mod action;
pub mod fsm;
pub mod garp;
pub mod link;
pub mod packet;
pub mod priority;
pub mod sync;
pub mod timers;

pub use fsm::{Action, Instance, InstanceConfig, State, TransitionReason};
pub use garp::AnnounceTiming;
pub use link::LinkDebounce;
pub use packet::{Advert, Auth, Discard, Version};
