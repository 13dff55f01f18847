//! `kube-vrrp status`: read a running agent's `/status` and print it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::agent::InstanceStatus;

/// Fetch `/status` from an agent (plain HTTP/1.0, bounded by a 3 s timeout).
pub fn fetch(addr: SocketAddr) -> Result<Vec<InstanceStatus>, String> {
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        format!("cannot reach the agent at {addr}: {e} (is it running? see --http-addr)")
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!(
                "the agent at {addr} did not answer within {} s",
                timeout.as_secs()
            )
        }
        _ => format!("reading from the agent at {addr}: {e}"),
    };
    write!(stream, "GET /status HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(io)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!(
            "agent answered: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    serde_json::from_str(body).map_err(|e| format!("unexpected /status body: {e}"))
}

/// A table cell: control characters escaped (a newline in a name must not forge a row).
fn cell(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// A table, one instance per line.
pub fn table(instances: &[InstanceStatus]) -> String {
    let mut rows = vec![
        [
            "NAME",
            "VRID",
            "INTERFACE",
            "STATE",
            "PRIORITY",
            "MASTER",
            "SINCE",
            "SENT",
            "RECEIVED",
            "DISCARDED",
        ]
        .map(String::from),
    ];
    for i in instances {
        let state = match &i.error {
            Some(e) => format!("{} ({e})", i.state),
            None => i.state.clone(),
        };
        rows.push([
            cell(&i.name),
            i.vrid.to_string(),
            cell(&i.interface),
            cell(&state),
            i.priority.to_string(),
            cell(i.master.as_deref().unwrap_or("-")),
            cell(&i.since),
            i.counters.adverts_sent.to_string(),
            i.counters.adverts_received.to_string(),
            i.counters.discards.values().sum::<u64>().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..10)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
