//! LoadBalancer Services (`kube-vrrp controller`): VirtualIPPools hand out addresses and VRIDs;
//! each Service address becomes a VirtualIP that the agents run unchanged.
//!
//! - [`pool`]: the VirtualIPPool resource, address ranges and VRID lists.
//! - [`service`]: what a Service asks for.
//! - [`plan`]: the allocator, pure: API state in, desired state out.
//! - [`lease`]: Lease leader election between controller replicas.
//! - [`controller`]: watches, applies the plan's difference, events and statuses.

pub mod apply;
pub mod controller;
pub mod lease;
pub mod plan;
pub mod pool;
pub mod service;
