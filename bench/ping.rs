//! The client's view: `ping -D -i 0.009` from the client namespace (about one echo request every
//! 10 ms here), stopped with SIGINT, parsed per sequence number.

use std::time::Duration;

use crate::bed::{Bed, Proc};

/// A running ping.
pub struct Ping {
    proc: Proc,
}

/// One reply.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// icmp_seq.
    pub seq: u64,
    /// When the reply arrived (epoch seconds, from `ping -D`).
    pub t: f64,
    /// Round-trip time, seconds.
    pub rtt: f64,
}

/// What the client saw.
#[derive(Debug, Clone, Default)]
pub struct PingLog {
    /// Replies in arrival order.
    pub replies: Vec<Reply>,
    /// Requests sent, from ping's summary (None while it runs).
    pub transmitted: Option<u64>,
    /// When we stopped it (epoch seconds; 0 while it runs).
    pub t_stop: f64,
}

impl Ping {
    /// Start pinging `addr` from the bed's client every ~10 ms, at most `max` x 100 requests
    /// (about `max` seconds). Bounded by a count, not `-w`: with a deadline, ping exits at its
    /// first error (e.g. "Destination Host Unreachable" before a VIP exists).
    pub fn start(bed: &Bed, addr: &str, max: u32) -> Ping {
        let interval = 0.009;
        let proc = bed.spawn(
            &bed.client,
            &format!("ping-{}", crate::watch::now()),
            &[
                "ping",
                "-n",
                "-D",
                "-i",
                &interval.to_string(),
                "-W",
                "1",
                "-c",
                &(max * 100).to_string(),
                addr,
            ],
        );
        Ping { proc }
    }

    /// The log so far (for waiting on the first reply).
    pub fn peek(&self) -> PingLog {
        parse(&self.proc.log_text())
    }

    /// Stop (SIGINT, bounded) and parse.
    pub fn stop(mut self) -> PingLog {
        let t_stop = crate::watch::now();
        self.proc.signal("INT");
        if !self.proc.wait_exit(Duration::from_secs(3)) {
            self.proc.kill();
        }
        let mut log = parse(&self.proc.log_text());
        log.t_stop = t_stop;
        log
    }
}

/// Parse `ping -D` reply lines.
pub fn parse(text: &str) -> PingLog {
    let mut replies = Vec::new();
    for line in text.lines() {
        if !line.starts_with('[') || !line.contains("bytes from") {
            continue;
        }
        let t = line[1..]
            .split(']')
            .next()
            .and_then(|v| v.parse::<f64>().ok());
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let (Some(t), Some(seq), Some(rtt)) = (t, field("icmp_seq="), field("time=")) {
            replies.push(Reply {
                seq: seq as u64,
                t,
                rtt: rtt / 1000.0,
            });
        }
    }
    let transmitted = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    PingLog {
        replies,
        transmitted,
        t_stop: 0.0,
    }
}

/// One echo request as the plot shows it.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// When it was sent (epoch seconds; interpolated for lost ones).
    pub t: f64,
    /// Whether it was answered.
    pub answered: bool,
}

impl PingLog {
    /// Whether replies came back after the last fault: false when the longest gap runs to the
    /// end of the observation (the client was cut off until we stopped).
    pub fn resumed(&self) -> bool {
        self.tail() < 0.15
    }

    /// Time from the last reply to the stop, seconds.
    fn tail(&self) -> f64 {
        match self.replies.last() {
            Some(r) if self.t_stop > 0.0 => (self.t_stop - r.t).max(0.0),
            _ => 0.0,
        }
    }

    /// Longest time without replies, seconds: between two replies, or from the last reply to
    /// the stop when replies never came back.
    pub fn max_gap(&self) -> f64 {
        let inner = self
            .replies
            .windows(2)
            .map(|w| w[1].t - w[0].t)
            .fold(0.0, f64::max);
        if self.resumed() {
            inner
        } else {
            inner.max(self.tail())
        }
    }

    /// Requests never answered: ping's transmitted minus received when it printed its summary
    /// (requests still in flight at the stop count too; we stop well after the last fault), else
    /// the holes between the first and the last reply.
    pub fn lost(&self) -> u64 {
        let mut seqs: Vec<u64> = self.replies.iter().map(|r| r.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let holes = match (seqs.first(), seqs.last()) {
            (Some(a), Some(b)) => (b - a + 1) - seqs.len() as u64,
            _ => 0,
        };
        match self.transmitted {
            Some(t) => t.saturating_sub(seqs.len() as u64).max(holes),
            None => holes,
        }
    }

    /// Every request from the first reply on, with its send time (interpolated for lost ones,
    /// extrapolated at the average spacing after the last reply).
    pub fn timeline(&self) -> Vec<Sent> {
        let mut by_seq: Vec<(u64, f64)> =
            self.replies.iter().map(|r| (r.seq, r.t - r.rtt)).collect();
        by_seq.sort_by_key(|r| r.0);
        by_seq.dedup_by_key(|r| r.0);
        let mut out = Vec::new();
        for w in by_seq.windows(2) {
            let (s0, t0) = w[0];
            let (s1, t1) = w[1];
            out.push(Sent {
                t: t0,
                answered: true,
            });
            for s in s0 + 1..s1 {
                let f = (s - s0) as f64 / (s1 - s0) as f64;
                out.push(Sent {
                    t: t0 + f * (t1 - t0),
                    answered: false,
                });
            }
        }
        if let (Some(&(s_first, t_first)), Some(&(s_last, t_last))) =
            (by_seq.first(), by_seq.last())
        {
            out.push(Sent {
                t: t_last,
                answered: true,
            });
            let spacing = if s_last > s_first {
                (t_last - t_first) / (s_last - s_first) as f64
            } else {
                0.01
            };
            let sent = self.transmitted.unwrap_or(s_last);
            for s in s_last + 1..=sent {
                let t = t_last + (s - s_last) as f64 * spacing;
                if self.t_stop > 0.0 && t > self.t_stop {
                    break;
                }
                out.push(Sent { t, answered: false });
            }
        }
        out
    }
}
