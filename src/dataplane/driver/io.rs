//! The host operations of a driver, behind one narrow trait: the real host ([`NetHost`]: raw
//! sockets, packet sockets, rtnetlink) and, in the unit tests, a fake that records them.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::address::Prefixed;
use crate::net::announce::{FrameSender, frame_for};
use crate::net::netlink::{Link, Netlink, NetlinkError};
use crate::net::socket::VrrpSocket;
use crate::net::vmac::Vmac;

/// Which interface a packet leaves from: the instance's interface, or its virtual MAC
/// interface (`spec.virtualMac`) while it holds the VIPs there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The interface.
    Interface,
    /// The virtual MAC interface.
    VirtualMac,
}

/// What a driver does to the host.
pub trait HostIo: Send + Sync + 'static {
    /// Send an advert's bytes to `dst` (the group address or a unicast peer).
    fn send_advert(
        &self,
        via: Via,
        bytes: &[u8],
        dst: IpAddr,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// Send one announcement of `vip` (gratuitous ARP or unsolicited neighbour advert).
    fn announce(&self, via: Via, vip: IpAddr) -> io::Result<()>;
    /// Install `vip` on `link`, or refresh its lifetime.
    fn install_vip(
        &self,
        link: &Link,
        vip: Prefixed,
        lifetime: Duration,
    ) -> Result<(), NetlinkError>;
    /// Remove `vip` from the link with this index.
    fn remove_vip(&self, index: u32, vip: Prefixed) -> Result<(), NetlinkError>;
    /// Bring the virtual MAC interface up or down (nothing to do without one).
    fn set_vmac_up(&self, up: bool) -> impl Future<Output = Result<(), NetlinkError>> + Send;
    /// Every link, read directly (after missed link events).
    fn links(&self) -> impl Future<Output = Result<Vec<Link>, NetlinkError>> + Send;
}

/// The real host: the interface's VRRP sockets and packet socket, rtnetlink, and the virtual
/// MAC interface if any.
#[derive(Clone, Debug)]
pub struct NetHost {
    /// Address changes and link reads.
    pub netlink: Netlink,
    /// The interface's VRRP sockets.
    pub socket: Arc<VrrpSocket>,
    /// Announcements on the interface.
    pub frames: Arc<FrameSender>,
    /// The interface's MAC address (the announcements' sender).
    pub mac: Vec<u8>,
    /// The virtual MAC interface, if any.
    pub vmac: Option<Arc<Vmac>>,
}

impl HostIo for NetHost {
    async fn send_advert(&self, via: Via, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        match (&self.vmac, via) {
            (Some(v), Via::VirtualMac) => v.socket.send(bytes, dst).await,
            _ => self.socket.send(bytes, dst).await,
        }
    }

    fn announce(&self, via: Via, vip: IpAddr) -> io::Result<()> {
        match (&self.vmac, via) {
            (Some(v), Via::VirtualMac) => v.frames.send(&frame_for(&v.link.mac, vip)),
            _ => self.frames.send(&frame_for(&self.mac, vip)),
        }
    }

    fn install_vip(
        &self,
        link: &Link,
        vip: Prefixed,
        lifetime: Duration,
    ) -> Result<(), NetlinkError> {
        self.netlink.install(link, vip, lifetime)
    }

    fn remove_vip(&self, index: u32, vip: Prefixed) -> Result<(), NetlinkError> {
        self.netlink.remove(index, vip)
    }

    async fn set_vmac_up(&self, up: bool) -> Result<(), NetlinkError> {
        match &self.vmac {
            Some(v) => self.netlink.set_up(v.link.index, up).await,
            None => Ok(()),
        }
    }

    async fn links(&self) -> Result<Vec<Link>, NetlinkError> {
        self.netlink.links().await
    }
}
