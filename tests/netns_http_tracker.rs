//! The http tracker against real HTTP servers in the node's network namespace: two kube-vrrp
//! nodes (100 ms adverts) and a client pinging the VIP, as in netns_trackers. node1 tracks a
//! small Python server whose answer a file decides ("200", "503", or "hang": accept and never
//! answer). Needs root (CI runs as root).

mod common;
#[path = "netns_trackers/helpers.rs"]
#[allow(dead_code)] // shared with netns_trackers, which uses all of it
mod helpers;

use std::path::Path;

use common::agents::*;
use common::bed::*;
use helpers::*;

/// A threaded HTTP server on 127.0.0.1:`port` answering every GET with the status code the
/// file `answer` holds; "hang" makes it accept and never answer.
const SERVER: &str = r#"
import http.server, sys, time
port, answer = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        text = open(answer).read().strip()
        if text == "hang":
            time.sleep(600)
            return
        self.send_response(int(text))
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// Start the server in node1's namespace and wait until it answers.
fn start_server(bed: &Bed, answer: &Path, port: u16) -> Proc {
    let script = bed.write("server.py", SERVER);
    let proc = bed.spawn(
        &bed.nodes[0],
        &format!("http-{port}"),
        &[
            "python3",
            script.to_str().expect("utf-8"),
            &port.to_string(),
            answer.to_str().expect("utf-8"),
        ],
    );
    let url = format!("http://127.0.0.1:{port}/");
    let up = wait_until(10 * SEC, 50 * MS, || {
        let out = bed.exec(
            &bed.nodes[0].ns,
            &["curl", "-s", "-o", "/dev/null", "--max-time", "1", &url],
        );
        out.status.success()
    });
    assert!(up, "the test server did not start: {}", proc.log_text());
    proc
}

#[test]
fn http_tracker_moves_vip_and_back_only_with_preempt() {
    let bed = Bed::new(2);
    let answer = bed.write("answer", "200");
    let _server = start_server(&bed, &answer, 8080);
    let http = "{url: \"http://127.0.0.1:8080/healthz\", interval: 100ms, timeout: 1s}";
    let web = format!("{{name: backend, weight: -60, http: {http}}}");
    let db = format!("{{name: backend, weight: 0, http: {http}}}");
    let agents = start_pair(&bed, &web, &db);
    fail_and_recover(
        &bed,
        &agents,
        "backend",
        || {
            bed.write("answer", "503");
        },
        || {
            bed.write("answer", "200");
        },
    );
    let t = tracker(&bed, &bed.nodes[0], "web", "backend");
    assert_eq!(
        (t["kind"].as_str(), t["lastResult"].as_str()),
        (Some("http"), Some("status 200")),
        "{t}"
    );
    assert!(
        logs(&agents).contains("status 503"),
        "the failing status code is logged"
    );
}

/// A server that accepts and never answers costs only its own tracker (a timeout, counted):
/// the engine keeps advertising (node2 stays Backup) and another tracker's change is applied
/// long before the hung check's 20 s timeout would end.
#[test]
fn a_hung_server_blocks_neither_the_engine_nor_other_trackers() {
    let bed = Bed::new(2);
    let answer = bed.write("answer", "hang");
    let _server = start_server_when_hung(&bed, &answer);
    let file = bed.dir.join("weight");
    let hung = "{name: slow, weight: -10, http: {url: \"http://127.0.0.1:8081/\", interval: 200ms, timeout: 20s}}";
    let app = format!(
        "{{name: app, weight: 1, file: {{path: {}}}}}",
        file.display()
    );
    let doc = web_doc(
        &[("node1", 150), ("node2", 100)],
        &trackers_yaml(&[hung, &app]),
    );
    let agents = start_nodes(
        &bed,
        &doc,
        &web_doc(&[("node1", 150), ("node2", 100)], ""),
        &[VIP4],
        &["web"],
    );
    let n1 = &bed.nodes[0];
    // A few seconds into the hung check: node1 still master, node2 still Backup.
    std::thread::sleep(3 * SEC);
    assert_eq!(bed.holders(VIP4), ["node1"], "{}", logs(&agents));
    assert_eq!(state_of(&bed, &bed.nodes[1], "web"), "Backup");
    assert_eq!(
        tracker(&bed, n1, "web", "slow")["checks"],
        0,
        "no result yet"
    );
    // The file tracker is read and applied meanwhile: -60 moves the VIP.
    bed.write("weight", "-60\n");
    assert!(
        wait_holder(&bed, VIP4, "node2", 8 * SEC),
        "the file tracker's change waited for the hung http check\n{}",
        logs(&agents)
    );
    bed.write("weight", "0\n");
    assert!(
        wait_holder(&bed, VIP4, "node1", 8 * SEC),
        "{}",
        logs(&agents)
    );
    // The hung check ends as a timeout, counted as a failure (weight -10: 140 > 100 stays).
    assert!(
        wait_until(30 * SEC, 200 * MS, || {
            tracker(&bed, n1, "web", "slow")["failures"]
                .as_u64()
                .is_some_and(|f| f >= 1)
        }),
        "{}",
        logs(&agents)
    );
    let t = tracker(&bed, n1, "web", "slow");
    assert_eq!(t["lastResult"], "timeout after 20s", "{t}");
    assert_eq!(instance(&bed, n1, "web")["priority"], 140);
    assert_eq!(bed.holders(VIP4), ["node1"]);
}

/// The hung server: it never answers, so wait for its port to accept instead.
fn start_server_when_hung(bed: &Bed, answer: &Path) -> Proc {
    let script = bed.write("server.py", SERVER);
    let proc = bed.spawn(
        &bed.nodes[0],
        "http-hung",
        &[
            "python3",
            script.to_str().expect("utf-8"),
            "8081",
            answer.to_str().expect("utf-8"),
        ],
    );
    let listening = wait_until(10 * SEC, 50 * MS, || {
        let out = bed.exec(&bed.nodes[0].ns, &["ss", "-Hltn", "sport = :8081"]);
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    });
    assert!(
        listening,
        "the test server did not start: {}",
        proc.log_text()
    );
    proc
}
