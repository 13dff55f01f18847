//! The batch reader on a local datagram pair (no network): bursts are read whole, a packet at
//! a time when it must, and a packet that comes after the queue was emptied still wakes it.

use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::time::timeout;

use super::*;
use crate::vrrp::packet::Discard;

/// An IPv4 VRRP packet from 198.51.100.`n` whose one payload byte is `n`.
fn packet(n: u8) -> Vec<u8> {
    let mut p = vec![
        0x45, 0xc0, 0, 21, 0, 0, 0, 0, 255, 112, 0, 0, 198, 51, 100, n, 224, 0, 0, 18,
    ];
    p.push(n);
    p
}

/// A reader on one end of a datagram pair (the other end returned to write to).
fn pair() -> (VrrpSocket, Socket) {
    let (reader, writer) = Socket::pair(Domain::UNIX, Type::DGRAM, None).expect("pair");
    reader.set_nonblocking(true).expect("nonblocking");
    let (send, _) = Socket::pair(Domain::UNIX, Type::DGRAM, None).expect("pair");
    let socket = VrrpSocket {
        recv: register(reader).expect("register"),
        send,
        v6: false,
    };
    (socket, writer)
}

/// One read: the payload bytes of the packets it returned.
async fn read(socket: &VrrpSocket, batch: &mut RecvBatch) -> Vec<u8> {
    timeout(Duration::from_secs(5), socket.recv_batch(batch))
        .await
        .expect("packets are there")
        .expect("read");
    batch
        .packets()
        .map(|p| {
            let p = p.expect("a good packet");
            assert_eq!((p.ttl, p.dst), (255, IpAddr::from([224, 0, 0, 18])));
            assert_eq!(p.src, IpAddr::from([198, 51, 100, p.payload[0]]));
            p.payload[0]
        })
        .collect()
}

#[tokio::test]
async fn a_burst_is_read_in_full_batches_and_a_later_packet_still_wakes_the_reader() {
    let (socket, writer) = pair();
    let mut batch = socket.batch();
    for n in 0..40 {
        writer.send(&packet(n)).expect("send");
    }
    let reads = [
        read(&socket, &mut batch).await,
        read(&socket, &mut batch).await,
        read(&socket, &mut batch).await,
    ];
    assert_eq!(
        reads.each_ref().map(|r| r.len()),
        [BATCH, BATCH, 40 - 2 * BATCH]
    );
    assert_eq!(reads.concat(), (0..40).collect::<Vec<u8>>());

    // The last read emptied the queue and cleared the readiness without a read that finds
    // EAGAIN: the reader now waits, and the next packet wakes it.
    let waiting = timeout(Duration::from_millis(50), socket.recv_batch(&mut batch)).await;
    assert!(waiting.is_err(), "nothing to read, yet: {waiting:?}");
    writer.send(&packet(40)).expect("send");
    assert_eq!(read(&socket, &mut batch).await, [40]);
}

#[tokio::test]
async fn a_packet_that_fails_the_ip_checks_comes_out_as_its_discard() {
    let (socket, writer) = pair();
    let mut batch = socket.batch();
    let mut not_vrrp = packet(7);
    not_vrrp[9] = 17;
    for p in [packet(1), not_vrrp, packet(2)[..12].to_vec()] {
        writer.send(&p).expect("send");
    }
    timeout(Duration::from_secs(5), socket.recv_batch(&mut batch))
        .await
        .expect("packets are there")
        .expect("read");
    let fates: Vec<_> = batch.packets().map(|p| p.map(|r| r.payload[0])).collect();
    assert_eq!(
        fates,
        [Ok(1), Err(Discard::BadIpHeader), Err(Discard::Truncated)]
    );
}
