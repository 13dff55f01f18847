//! Kubernetes: the CustomResourceDefinition, the agent (watch, translate, status), events.

pub mod crd;
