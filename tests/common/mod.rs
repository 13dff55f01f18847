//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod agents;
pub mod bed;
pub mod cluster;
pub mod inject;
pub mod k8s;
pub mod pcap;
