//! Trackers below a second: a file tracker read every 100 ms and a script run every 200 ms keep
//! pace with 100 ms adverts. Two kube-vrrp nodes in network namespaces; node1 tracks. Needs
//! root (CI runs as root).

mod common;
#[path = "netns_trackers/helpers.rs"]
#[allow(dead_code)] // shared with netns_trackers.rs, which uses the rest
mod helpers;

use std::time::Instant;

use common::agents::*;
use common::bed::*;
use helpers::*;

#[test]
fn file_tracker_at_100ms_and_script_at_200ms_move_the_vips() {
    let bed = Bed::new(2);
    let path = bed.dir.join("vrrp_track_file");
    bed.write("vrrp_track_file", "0\n");
    let rc = bed.write("rc", "0");
    let cmd = sh_script(&rc);
    let web = format!(
        "{{name: app, weight: 0, file: {{path: {}, interval: 100ms}}}}",
        path.display()
    );
    let db = format!(
        "{{name: check, weight: 0, script: {{command: {cmd}, interval: 200ms, timeout: 150ms}}}}"
    );
    let agents = start_pair(&bed, &web, &db);
    let n1 = &bed.nodes[0];
    let t = tracker(&bed, n1, "web", "app");
    assert_eq!(
        (t["up"].as_bool(), t["lastResult"].as_str()),
        (Some(true), Some("value 0")),
        "{t}"
    );

    // The file says 1: weight 0 and a non-zero value is a Fault; web moves.
    let written = Instant::now();
    bed.write("vrrp_track_file", "1\n");
    assert!(
        wait_holder(&bed, VIP4, "node2", 8 * SEC),
        "{}",
        logs(&agents)
    );
    let file_move = written.elapsed();
    assert_eq!(state_of(&bed, n1, "web"), "Fault");

    // The script fails: db (weight 0) faults and moves.
    let failed = Instant::now();
    bed.write("rc", "1");
    assert!(
        wait_holder(&bed, VIP_DB, "node2", 8 * SEC),
        "{}",
        logs(&agents)
    );
    let script_move = failed.elapsed();
    assert_eq!(state_of(&bed, n1, "db"), "Fault");
    let checks = tracker(&bed, n1, "db", "check")["checks"]
        .as_u64()
        .unwrap_or(0);
    eprintln!(
        "measured: file written -> web on node2 {file_move:?} (read every 100ms, 100ms adverts); \
         script failing -> db on node2 {script_move:?} (run every 200ms); {checks} script checks so far"
    );
}
