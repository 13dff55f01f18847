//! Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisement (IPv6) frames, and a send-only
//! packet socket to put them on the wire.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr;
use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{MutableNeighborAdvertPacket, NdpOptionTypes, NeighborAdvertFlags};
use pnet_packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;

const ETH_LEN: usize = 14;
const ARP_LEN: usize = 28;
const IPV6_LEN: usize = 40;
/// NA header (24) + target link-layer address option (8).
const NA_LEN: usize = 32;

fn mac(bytes: &[u8]) -> MacAddr {
    let mut m = [0u8; 6];
    let n = bytes.len().min(6);
    m[..n].copy_from_slice(&bytes[..n]);
    MacAddr::new(m[0], m[1], m[2], m[3], m[4], m[5])
}

/// A gratuitous ARP request as keepalived sends it: broadcast, sender = target = the VIP,
/// target hardware address all ones.
pub fn gratuitous_arp(src_mac: &[u8], vip: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; ETH_LEN + ARP_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).expect("sized above");
    eth.set_destination(MacAddr::broadcast());
    eth.set_source(mac(src_mac));
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp = MutableArpPacket::new(eth.payload_mut()).expect("sized above");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(mac(src_mac));
    arp.set_sender_proto_addr(vip);
    arp.set_target_hw_addr(MacAddr::broadcast());
    arp.set_target_proto_addr(vip);
    frame
}

/// An unsolicited Neighbour Advertisement to all nodes (RFC 4861 §7.2.6; RFC 5798 §6.4.2):
/// Router and Override set, Solicited clear, target = the VIP with its link-layer address.
pub fn unsolicited_na(src_mac: &[u8], vip: Ipv6Addr) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut frame = vec![0u8; ETH_LEN + IPV6_LEN + NA_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).expect("sized above");
    eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
    eth.set_source(mac(src_mac));
    eth.set_ethertype(EtherTypes::Ipv6);
    let mut ip = MutableIpv6Packet::new(eth.payload_mut()).expect("sized above");
    ip.set_version(6);
    ip.set_payload_length(NA_LEN as u16);
    ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
    ip.set_hop_limit(255);
    ip.set_source(vip);
    ip.set_destination(all_nodes);
    let mut na = MutableNeighborAdvertPacket::new(ip.payload_mut()).expect("sized above");
    na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
    na.set_flags(NeighborAdvertFlags::Router | NeighborAdvertFlags::Override);
    na.set_target_addr(vip);
    let opt = &mut na.packet_mut()[24..32];
    opt[0] = NdpOptionTypes::TargetLLAddr.0;
    opt[1] = 1; // length in units of 8 octets
    opt[2..8].copy_from_slice(&src_mac[..src_mac.len().min(6)]);
    let sum = icmpv6::checksum(
        &Icmpv6Packet::new(na.packet_mut()).expect("sized above"),
        &vip,
        &all_nodes,
    );
    na.set_checksum(sum);
    frame
}

/// The announcement frame for one VIP.
pub fn frame_for(src_mac: &[u8], vip: IpAddr) -> Vec<u8> {
    match vip {
        IpAddr::V4(a) => gratuitous_arp(src_mac, a),
        IpAddr::V6(a) => unsolicited_na(src_mac, a),
    }
}

/// A send-only AF_PACKET socket on one interface (protocol 0: it receives nothing).
#[derive(Debug)]
pub struct FrameSender {
    fd: std::os::fd::OwnedFd,
    ifindex: u32,
}

impl FrameSender {
    /// Open on interface `ifindex`.
    pub fn open(ifindex: u32) -> io::Result<FrameSender> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket(2) call; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor we own.
        Ok(FrameSender {
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            ifindex,
        })
    }

    /// Send one complete Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        if frame.len() < ETH_LEN {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "short frame"));
        }
        // SAFETY: zeroed C struct, then filled.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        addr.sll_ifindex = self.ifindex as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: valid fd, buffer and address of the stated sizes.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn na_has_router_override_and_valid_checksum() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let frame = unsolicited_na(&[2, 0, 0, 0, 0, 0x11], vip);
        assert_eq!(frame.len(), 86);
        let icmp = &frame[ETH_LEN + IPV6_LEN..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0xa0, "R and O set, S clear");
        assert_eq!(&icmp[8..24], &vip.octets());
        // Verify the checksum independently: the one's-complement sum over the pseudo-header
        // and the message must be 0xffff.
        let mut sum: u32 = 0;
        let all: Ipv6Addr = "ff02::1".parse().unwrap();
        let mut words = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        };
        words(&vip.octets());
        words(&all.octets());
        words(&[0, 0, 0, NA_LEN as u8, 0, 0, 0, 58]);
        words(icmp);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }
}
