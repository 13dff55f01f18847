//! Link state events from rtnetlink (RTNLGRP_LINK), not polling.

use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use tokio::sync::broadcast;

use super::netlink::Link;

/// Subscribe to link changes. Every RTM_NEWLINK / RTM_DELLINK becomes a [`Link`] on the returned
/// channel (a deleted link is reported down). Receivers that lag should re-read the links.
pub fn watch() -> std::io::Result<broadcast::Sender<Link>> {
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])?;
    tokio::spawn(conn);
    let (tx, _) = broadcast::channel(1024);
    let sender = tx.clone();
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let update = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    let mut link = Link::from_message(&l);
                    link.present = true;
                    link
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    let mut link = Link::from_message(&l);
                    link.up = false;
                    link.present = false;
                    link
                }
                _ => continue,
            };
            // No receivers is fine: nobody is interested yet.
            let _ = sender.send(update);
        }
    });
    Ok(tx)
}
