//! Virtual MAC (keepalived's `use_vmac`, RFC 5798 §7.3): a macvlan on the VirtualIP's
//! interface with the virtual router MAC 00-00-5E-00-01-{VRID}. It exists while the instance
//! runs and is up only while the instance is master: the VIP lives on it, announcements and
//! adverts leave from it, so clients keep one MAC for the VIP across failovers. IPv4 only.
//!
//! The parent interface answers ARP only for its own addresses and asks with its own address
//! as the sender (`arp_ignore=1`, `arp_announce=2`, as keepalived sets them), or clients would
//! learn the parent's MAC for the VIP too. A macvlan is marked with the
//! alias [`ALIAS`]; the agent deletes marked ones an earlier run left (`kill -9`).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use futures::TryStreamExt;
use netlink_packet_route::link::{LinkAttribute, MacVlanMode};
use rtnetlink::{LinkMacVlan, LinkUnspec};

use super::netlink::{Link, Netlink, NetlinkError};
use super::socket::VrrpSocket;

/// IFLA_IFALIAS of the macvlans kube-vrrp creates.
pub const ALIAS: &str = "kube-vrrp vmac";

/// RFC 5798 §7.3: the IPv4 virtual router MAC of `vrid`.
pub fn mac(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// The macvlan's name, as keepalived names it (`vrrp.{VRID}`).
pub fn name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

fn err(what: String) -> impl FnOnce(rtnetlink::Error) -> NetlinkError {
    move |e| NetlinkError::new(what, io::Error::other(e))
}

impl Netlink {
    /// The virtual MAC interface of `vrid` on `parent`, created down (or taken over when one
    /// of ours with that name and MAC exists), with the parent set to answer ARP for its own
    /// addresses only.
    pub async fn create_vmac(&self, parent: &Link, vrid: u8) -> Result<Link, NetlinkError> {
        let name = name(vrid);
        let mac = mac(vrid);
        if let Some(l) = self.link_by_name(&name).await? {
            if l.mac != mac {
                return Err(NetlinkError::new(
                    format!("create {name}"),
                    io::Error::other("an interface of that name with another MAC exists"),
                ));
            }
            return Ok(l);
        }
        let msg = LinkMacVlan::new(&name, parent.index, MacVlanMode::Private)
            .address(mac.to_vec())
            .down()
            .build();
        self.handle()
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(err(format!("create macvlan {name} on {}", parent.name)))?;
        // The parent must not answer ARP for the VIP (it lives on the macvlan); no IPv6 on the
        // macvlan (a link-local address would be sent from the shared MAC).
        sysctl(&format!("ipv4/conf/{}/arp_ignore", parent.name), "1")?;
        // ... nor name the VIP as the sender of its own ARP requests (the replies to clients
        // leave from the parent, with the VIP as their source address).
        sysctl(&format!("ipv4/conf/{}/arp_announce", parent.name), "2")?;
        let _ = sysctl(&format!("ipv6/conf/{name}/disable_ipv6"), "1");
        let link = self.link_by_name(&name).await?.ok_or_else(|| {
            NetlinkError::new(
                format!("create {name}"),
                io::Error::other("not found after creation"),
            )
        })?;
        // The mark (the kernel takes an alias on a change, not at creation).
        let mark = LinkUnspec::new_with_index(link.index)
            .append_extra_attribute(LinkAttribute::IfAlias(ALIAS.to_string()))
            .build();
        self.handle()
            .link()
            .set(mark)
            .execute()
            .await
            .map_err(err(format!("mark {name}")))?;
        Ok(link)
    }

    /// Set a link up or down.
    pub async fn set_up(&self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let b = LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.handle()
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(err(format!("set link {index} up={up}")))
    }

    /// Delete a link.
    pub async fn delete_link(&self, index: u32) -> Result<(), NetlinkError> {
        self.handle()
            .link()
            .del(index)
            .execute()
            .await
            .map_err(err(format!("delete link {index}")))
    }

    /// Delete the virtual MAC interfaces an earlier run left (marked with [`ALIAS`]).
    pub async fn delete_leftover_vmacs(&self) -> Result<Vec<String>, NetlinkError> {
        let mut ours = Vec::new();
        let mut stream = self.handle().link().get().execute();
        while let Some(msg) = stream.try_next().await.map_err(err("list links".into()))? {
            let marked = msg
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::IfAlias(s) if s == ALIAS));
            if marked {
                ours.push(Link::from_message(&msg));
            }
        }
        let mut names = Vec::new();
        for l in ours {
            self.delete_link(l.index).await?;
            names.push(l.name);
        }
        Ok(names)
    }
}

/// Set a network sysctl, unless it already has the value (a pod cannot write /proc/sys: the
/// node's own configuration may set it beforehand).
fn sysctl(path: &str, value: &str) -> Result<(), NetlinkError> {
    let full = format!("/proc/sys/net/{path}");
    if std::fs::read_to_string(&full).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&full, value).map_err(|e| {
        NetlinkError::new(
            format!("write {full} (set it to {value} on the node when /proc/sys is read-only)"),
            e,
        )
    })
}

/// An instance's virtual MAC interface, ready: the link, its frame sender and its VRRP
/// sockets. Adverts must be received on it too while it is up: the macvlan driver hands a
/// multicast frame whose source is the macvlan's own MAC (another node's master with the same
/// virtual MAC) to that macvlan only, not to the parent.
#[derive(Debug)]
pub struct Vmac {
    /// The macvlan.
    pub link: Link,
    /// Announcements from it.
    pub frames: super::announce::FrameSender,
    /// Adverts from and to it.
    pub socket: Arc<VrrpSocket>,
}

impl Vmac {
    /// Create (or take over) the macvlan of `vrid` on `parent` and open its sockets.
    pub async fn open(
        netlink: &Netlink,
        parent: &Link,
        vrid: u8,
        primary: IpAddr,
    ) -> Result<Vmac, NetlinkError> {
        let link = netlink.create_vmac(parent, vrid).await?;
        let ctx = |what: &str| {
            let what = format!("{what} on {}", link.name);
            move |e| NetlinkError::new(what, e)
        };
        let frames =
            super::announce::FrameSender::open(link.index).map_err(ctx("packet socket"))?;
        let socket =
            VrrpSocket::open(&link.name, link.index, primary).map_err(ctx("VRRP socket"))?;
        Ok(Vmac {
            link,
            frames,
            socket: Arc::new(socket),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc_5798_mac_and_keepalived_name() {
        assert_eq!(super::mac(51), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(super::name(51), "vrrp.51");
    }
}
