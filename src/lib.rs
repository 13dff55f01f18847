//! kube-vrrp: a Kubernetes-native virtual-IP controller speaking standard VRRP.
//!
//! The protocol core ([`vrrp`]) is pure; everything that touches the world lives at the edges.

pub mod duration;
pub mod sim;
pub mod vrrp;
