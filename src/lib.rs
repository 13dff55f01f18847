//! kube-vrrp: a Kubernetes-native virtual-IP controller speaking standard VRRP.
//!
//! The protocol core ([`vrrp`]) is pure; everything that touches the world lives at the edges.

pub mod address;
pub mod config;
pub mod convert;
pub mod daemon;
pub mod dataplane;
pub mod duration;
pub mod file_read;
pub mod file_watch;
pub mod http;
pub mod k8s;
pub mod lb;
pub mod manifest;
pub mod metrics;
pub mod net;
pub mod rfc3339;
pub mod run;
pub mod sim;
pub mod spec;
pub mod status;
pub mod status_client;
pub mod track;
pub mod translate;
pub mod vrrp;
pub mod yaml_messages;
