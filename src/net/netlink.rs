//! rtnetlink: the node's interfaces and addresses, and the virtual addresses we install.
//!
//! A VIP is installed with address protocol [`ADDR_PROTO`] (IFA_PROTO, shown by `ip addr` as
//! `proto 112`), so ours are told apart from everything else, and with a finite lifetime that
//! the master refreshes on every advert: if the agent dies, the kernel removes the VIP itself
//! (design.md principle 4).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol, CacheInfo,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::Handle;

use super::address_socket::AddressSocket;
use crate::address::{InterfaceFacts, Prefixed};

/// IFA_PROTO value marking addresses kube-vrrp installed: VRRP's IP protocol number.
pub const ADDR_PROTO: u8 = 112;

/// A netlink failure, with what we were doing.
#[derive(Debug, thiserror::Error)]
#[error("netlink: {what}: {source}")]
pub struct NetlinkError {
    what: String,
    #[source]
    source: std::io::Error,
}

impl NetlinkError {
    /// An error while doing `what`.
    pub fn new(what: impl Into<String>, source: std::io::Error) -> NetlinkError {
        NetlinkError {
            what: what.into(),
            source,
        }
    }
}

fn nl<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> NetlinkError {
    let what = what.into();
    move |e| NetlinkError {
        what,
        source: std::io::Error::other(e),
    }
}

fn nl_io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetlinkError {
    let what = what.into();
    move |source| NetlinkError { what, source }
}

/// One interface of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address (empty for links without one).
    pub mac: Vec<u8>,
    /// Administratively up and carrier present (IFF_UP and IFF_RUNNING).
    pub up: bool,
    /// False when the link was deleted.
    pub present: bool,
}

impl Link {
    pub(crate) fn from_message(msg: &LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            mac: Vec::new(),
            up: msg.header.flags.contains(LinkFlags::Up)
                && msg.header.flags.contains(LinkFlags::Running),
            present: true,
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n.clone(),
                LinkAttribute::Address(a) => link.mac = a.clone(),
                _ => {}
            }
        }
        link
    }
}

/// An address as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelAddress {
    /// ifindex it is on.
    pub index: u32,
    /// Address and prefix.
    pub addr: Prefixed,
    /// Whether we installed it (IFA_PROTO = [`ADDR_PROTO`]).
    pub ours: bool,
}

/// A handle on the kernel's routing netlink.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
    /// VIP changes, in line (address_socket.rs).
    vips: Arc<AddressSocket>,
}

impl Netlink {
    /// Open a netlink connection (its I/O runs on a spawned tokio task) and the socket for VIP
    /// changes.
    pub fn connect() -> std::io::Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink {
            handle,
            vips: Arc::new(AddressSocket::open()?),
        })
    }

    /// The rtnetlink handle (link changes in [`super::vmac`]).
    pub(super) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Every link.
    pub async fn links(&self) -> Result<Vec<Link>, NetlinkError> {
        let mut out = Vec::new();
        let mut stream = self.handle.link().get().execute();
        while let Some(msg) = stream.try_next().await.map_err(nl("list links"))? {
            out.push(Link::from_message(&msg));
        }
        Ok(out)
    }

    /// Every address of every link.
    pub async fn addresses(&self) -> Result<Vec<KernelAddress>, NetlinkError> {
        let mut out = Vec::new();
        let mut stream = self.handle.address().get().execute();
        while let Some(msg) = stream.try_next().await.map_err(nl("list addresses"))? {
            let mut addr = None;
            let mut ours = false;
            for attr in &msg.attributes {
                match attr {
                    // IFA_LOCAL is the interface address on point-to-point links; IFA_ADDRESS
                    // otherwise. Prefer LOCAL when both are present.
                    AddressAttribute::Local(a) => addr = Some(*a),
                    AddressAttribute::Address(a) if addr.is_none() => addr = Some(*a),
                    AddressAttribute::Protocol(p) => ours = u8::from(*p) == ADDR_PROTO,
                    _ => {}
                }
            }
            if let Some(a) = addr {
                out.push(KernelAddress {
                    index: msg.header.index,
                    addr: Prefixed {
                        addr: a,
                        prefix: msg.header.prefix_len,
                    },
                    ours,
                });
            }
        }
        Ok(out)
    }

    /// The node's interfaces with their own addresses (ours left out), for translation.
    pub async fn interface_facts(&self) -> Result<Vec<InterfaceFacts>, NetlinkError> {
        let links = self.links().await?;
        let addresses = self.addresses().await?;
        let mut by_index: BTreeMap<u32, Vec<Prefixed>> = BTreeMap::new();
        for a in addresses.into_iter().filter(|a| !a.ours) {
            by_index.entry(a.index).or_default().push(a.addr);
        }
        Ok(links
            .into_iter()
            .map(|l| InterfaceFacts {
                addresses: by_index.remove(&l.index).unwrap_or_default(),
                name: l.name,
            })
            .collect())
    }

    /// Look up a link by name.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>, NetlinkError> {
        Ok(self.links().await?.into_iter().find(|l| l.name == name))
    }

    /// Install or refresh a VIP with the given lifetime (idempotent: NLM_F_REPLACE). Done by
    /// the time it returns, without yielding.
    pub fn install(
        &self,
        link: &Link,
        vip: Prefixed,
        lifetime: Duration,
    ) -> Result<(), NetlinkError> {
        let mut req = self
            .handle
            .address()
            .add(link.index, vip.addr, vip.prefix)
            .replace();
        let msg = req.message_mut();
        let secs = u32::try_from(lifetime.as_secs().max(1)).unwrap_or(u32::MAX);
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_preferred = secs;
        lifetimes.ifa_valid = secs;
        msg.attributes.push(AddressAttribute::CacheInfo(lifetimes));
        msg.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                ADDR_PROTO,
            )));
        if vip.addr.is_ipv6() {
            // A VIP moves between routers: duplicate address detection would only delay it.
            msg.header.flags |= AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        } else {
            // IPv4 labels must start with the interface name and fit in IFNAMSIZ - 1.
            let label = format!("{}:vrrp", link.name);
            if label.len() <= 15 {
                msg.attributes.push(AddressAttribute::Label(label));
            }
        }
        // The error's text is made only on an error (this runs with every master's refresh).
        self.vips
            .add(std::mem::take(msg))
            .map_err(|e| nl_io(format!("install {vip} on {}", link.name))(e))
    }

    /// Remove a VIP; absent already is fine. Done by the time it returns, without yielding.
    pub fn remove(&self, index: u32, vip: Prefixed) -> Result<(), NetlinkError> {
        let mut msg = AddressMessage::default();
        msg.header.family = match vip.addr {
            IpAddr::V4(_) => netlink_packet_route::AddressFamily::Inet,
            IpAddr::V6(_) => netlink_packet_route::AddressFamily::Inet6,
        };
        msg.header.prefix_len = vip.prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Address(vip.addr));
        if vip.addr.is_ipv4() {
            msg.attributes.push(AddressAttribute::Local(vip.addr));
        }
        match self.vips.delete(msg) {
            Ok(()) => Ok(()),
            // EADDRNOTAVAIL: not there, which is what we wanted.
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(nl_io(format!("remove {vip}"))(e)),
        }
    }

    /// Every address we installed (IFA_PROTO = [`ADDR_PROTO`]): at start, those an earlier run
    /// left behind.
    pub async fn ours(&self) -> Result<Vec<KernelAddress>, NetlinkError> {
        Ok(self
            .addresses()
            .await?
            .into_iter()
            .filter(|a| a.ours)
            .collect())
    }
}
