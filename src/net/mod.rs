//! The network edge: raw VRRP sockets, rtnetlink addresses and link events, announcements.

pub mod address_socket;
pub mod announce;
pub mod host_lock;
pub mod link;
pub mod netlink;
pub mod socket;
pub mod vmac;
