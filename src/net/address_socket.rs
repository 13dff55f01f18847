//! Synchronous rtnetlink requests for the VIPs: install, refresh and remove.
//!
//! rtnetlink's async handle runs every request through its connection task, so an address
//! changes only once the caller has yielded, and the acknowledgement costs another wake-up.
//! The kernel carries out RTM_NEWADDR / RTM_DELADDR inside `sendto` and queues the ack before
//! the call returns, so a plain socket does both in two system calls, in line: a backup taking
//! over has its address in place before its first advert leaves, and a master's lifetime
//! refresh (every advert) costs no extra wake-up.
//!
//! Acks are read into a buffer the socket keeps (a refresh comes once a second per VIP).
//! Requests are encoded anew each time: keeping 255 VIPs' requests encoded cost more memory
//! (the 255-instance PSS is a benchmark target) than their encoding costs CPU.
#![allow(unsafe_code)] // talks to the kernel through libc (see the `unsafe` blocks)

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// How long to wait for an ack that is not there yet (it always is: the kernel queues it
/// within `sendto`); a bound, so that a surprise cannot stall the runtime.
const ACK_WAIT: Duration = Duration::from_millis(200);

/// A NETLINK_ROUTE socket for address requests, answered in line.
#[derive(Debug)]
pub struct AddressSocket {
    inner: Mutex<Inner>,
    seq: AtomicU32,
}

#[derive(Debug)]
struct Inner {
    socket: Socket,
    /// Where acks are read.
    reply: Vec<u8>,
}

impl AddressSocket {
    /// Open the socket (it joins no multicast group: nothing arrives but our acks).
    pub fn open() -> io::Result<AddressSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Acks without a copy of the request.
        socket.set_cap_ack(true)?;
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: ACK_WAIT.as_micros() as _,
        };
        // SAFETY: a valid socket and a timeval of the stated size.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(AddressSocket {
            inner: Mutex::new(Inner {
                socket,
                reply: Vec::with_capacity(8192),
            }),
            seq: AtomicU32::new(1),
        })
    }

    /// Add the address, or replace it (its lifetime) when it is there.
    pub fn add(&self, msg: AddressMessage) -> io::Result<()> {
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
    }

    /// Delete the address; the kernel's error (e.g. EADDRNOTAVAIL) comes back as an
    /// `io::Error` with that errno.
    pub fn delete(&self, msg: AddressMessage) -> io::Result<()> {
        self.request(RouteNetlinkMessage::DelAddress(msg), 0)
    }

    fn request(&self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let bytes = encode(msg, flags, seq);
        let mut inner = self.lock();
        let Inner { socket, reply } = &mut *inner;
        exchange(socket, reply, &bytes, seq)
    }

    /// One request and its ack at a time: another thread's ack must not be taken for ours.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request as bytes.
fn encode(inner: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
    msg.finalize();
    let mut bytes = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut bytes);
    bytes
}

/// Send `bytes` (sequence number `seq`) and read its ack.
fn exchange(socket: &Socket, reply: &mut Vec<u8>, bytes: &[u8], seq: u32) -> io::Result<()> {
    socket.send(bytes, 0)?;
    // Acks of earlier requests whose wait timed out may come first: skip them (bounded).
    for _ in 0..16 {
        reply.clear();
        socket.recv(reply, 0)?;
        let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(reply)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if reply.header.sequence_number != seq {
            continue;
        }
        return match reply.payload {
            NetlinkPayload::Error(e) if e.code.is_some() => Err(e.to_io()),
            NetlinkPayload::Error(_) => Ok(()),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected netlink reply type {}", other.message_type()),
            )),
        };
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no netlink ack for the request",
    ))
}
