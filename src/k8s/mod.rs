//! Kubernetes: the CustomResourceDefinition, the agent (watch, translate, status), events.

pub mod agent;
pub mod crd;
pub mod status_writer;
pub mod view;
