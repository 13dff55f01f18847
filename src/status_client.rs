//! `kube-vrrp status`: read a running agent's `/status` and print it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::status::InstanceStatus;

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
            None => i.state.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Counters, ReportedState};

    fn instance(name: &str, vrid: u8, state: ReportedState, error: Option<&str>) -> InstanceStatus {
        InstanceStatus {
            name: name.into(),
            vrid,
            interface: "eth0".into(),
            state,
            priority: 150,
            master: Some("198.51.100.11".into()),
            since: "2026-12-06T05:00:00Z".into(),
            error: error.map(String::from),
            counters: Counters {
                adverts_sent: 12,
                adverts_received: 3,
                discards: [
                    ("bad_checksum".to_string(), 2),
                    ("ttl_not_255".to_string(), 5),
                ]
                .into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn table_has_a_header_and_one_aligned_row_per_instance() {
        let mut backup = instance("database", 7, ReportedState::Backup, None);
        backup.master = None;
        let text = table(&[instance("web", 51, ReportedState::Master, None), backup]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[0]),
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
                "DISCARDED"
            ]
        );
        assert_eq!(
            cells(lines[1]),
            [
                "web",
                "51",
                "eth0",
                "Master",
                "150",
                "198.51.100.11",
                "2026-12-06T05:00:00Z",
                "12",
                "3",
                "7"
            ]
        );
        assert_eq!(
            cells(lines[2])[..6],
            ["database", "7", "eth0", "Backup", "150", "-"]
        );
        // Columns line up: every column starts where its header starts.
        for header in ["VRID", "STATE", "MASTER", "DISCARDED"] {
            let at = lines[0].find(header).expect("header");
            for row in &lines[1..] {
                assert!(
                    row[..at].ends_with("  ") && !row[at..].starts_with(' '),
                    "{header} misaligned:\n{text}"
                );
            }
        }
    }

    #[test]
    fn an_instance_in_error_says_why_in_its_state() {
        let text = table(&[instance(
            "web",
            51,
            ReportedState::Error,
            Some("vrid 51 on eth0 is already used"),
        )]);
        let row = text.lines().nth(1).expect("row");
        assert!(
            row.contains("Error (vrid 51 on eth0 is already used)"),
            "{text}"
        );
    }
}
