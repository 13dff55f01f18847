//! The network edge: raw VRRP sockets, rtnetlink addresses and link events, announcements.

pub mod announce;
pub mod link;
pub mod netlink;
pub mod socket;
