//! Health trackers against real scripts, processes, files and interfaces: two kube-vrrp nodes
//! in network namespaces (100 ms adverts) and a client pinging the VIP. node1 tracks; node2
//! does not. Needs root (CI runs as root).

mod common;
#[path = "netns_trackers/helpers.rs"]
mod helpers;

use std::collections::BTreeSet;
use std::path::Path;

use common::agents::*;
use common::bed::*;
use helpers::*;

#[test]
fn script_tracker_moves_vip_and_back_only_with_preempt() {
    let bed = Bed::new(2);
    let rc = bed.write("rc", "0");
    let cmd = sh_script(&rc);
    let web = format!(
        "{{name: check, weight: -60, script: {{command: {cmd}, interval: 100ms, timeout: 2s}}}}"
    );
    let db = format!(
        "{{name: check, weight: 0, script: {{command: {cmd}, interval: 100ms, timeout: 2s}}}}"
    );
    let agents = start_pair(&bed, &web, &db);
    fail_and_recover(
        &bed,
        &agents,
        "check",
        || {
            bed.write("rc", "1");
        },
        || {
            bed.write("rc", "0");
        },
    );
    let t = tracker(&bed, &bed.nodes[0], "web", "check");
    assert_eq!(
        (t["kind"].as_str(), t["weight"].as_i64()),
        (Some("script"), Some(-60)),
        "{t}"
    );
    assert_eq!(t["lastResult"], "exit 0");
}

#[test]
fn process_tracker_follows_a_real_process() {
    let bed = Bed::new(2);
    // A distinctive name per bed: /proc is shared by every namespace of this machine.
    let name = format!("kvtrack-app-{}", bed.prefix);
    let app = bed.dir.join(&name);
    std::fs::copy("/bin/sleep", &app).expect("copy /bin/sleep");
    let app = app.to_str().expect("utf-8").to_string();
    let mut proc = bed.spawn(&bed.nodes[0], "app", &[&app, "1000"]);
    let web = format!("{{name: app, weight: 20, process: {{name: {name}}}}}");
    let db = format!("{{name: app, weight: 0, process: {{name: {name}}}}}");
    // web: node1 90 + 20 while the process runs (110 > 100).
    let agents = start_nodes(
        &bed,
        &pair_docs(90, Some(&web), Some(&db)),
        &pair_docs(90, None, None),
        &[VIP4, VIP_DB],
        &["web", "db"],
    );
    assert_eq!(
        tracker(&bed, &bed.nodes[0], "web", "app")["lastResult"],
        "1 process"
    );
    assert_eq!(instance(&bed, &bed.nodes[0], "web")["priority"], 110);
    let mut restarted = Vec::new();
    fail_and_recover(
        &bed,
        &agents,
        "app",
        || proc.kill(),
        || {
            restarted.push(bed.spawn(&bed.nodes[0], "app2", &[&app, "1000"]));
        },
    );
    let t = tracker(&bed, &bed.nodes[0], "web", "app");
    assert_eq!(
        (t["applied"].as_i64(), t["lastResult"].as_str()),
        (Some(20), Some("1 process")),
        "{t}"
    );
}

#[test]
fn file_tracker_multiplies_value_by_weight() {
    let bed = Bed::new(2);
    let path = bed.dir.join("vrrp_track_file");
    let file = format!("{{path: {}}}", path.display());
    let web = format!("{{name: app, weight: 1, file: {file}}}");
    let db = format!("{{name: app, weight: 0, file: {file}}}");
    let agents = start_pair(&bed, &web, &db);
    let n1 = &bed.nodes[0];
    // Missing file: 0.
    assert!(
        tracker(&bed, n1, "web", "app")["lastResult"]
            .as_str()
            .unwrap_or_default()
            .contains("missing")
    );
    // -60 x 1: web 90 < 100 moves; db (weight 0) faults on any non-zero value.
    fail_and_recover(
        &bed,
        &agents,
        "app",
        || {
            bed.write("vrrp_track_file", "-60\n");
        },
        || {
            bed.write("vrrp_track_file", "0\n");
        },
    );
    bed.write("vrrp_track_file", "7\n");
    assert!(wait_until(
        5 * SEC,
        50 * MS,
        || instance(&bed, n1, "web")["priority"] == 157
    ));
    // Not an integer: a failed check with its reason; weight 1 down adds nothing.
    bed.write("vrrp_track_file", "abc\n");
    assert!(wait_until(5 * SEC, 50 * MS, || tracker(
        &bed, n1, "web", "app"
    )["up"]
        == false));
    let t = tracker(&bed, n1, "web", "app");
    assert_eq!(t["lastResult"], "not an integer: \"abc\"", "{t}");
    assert_eq!(instance(&bed, n1, "web")["priority"], 150);
    assert!(logs(&agents).contains("not an integer"));
}

#[test]
fn interface_tracker_follows_link_events() {
    let bed = Bed::new(2);
    let ns = bed.nodes[0].ns.clone();
    // A veth pair inside node1 (this kernel has no dummy driver): trk0 has carrier while its
    // peer trk1 is up.
    sh(&[
        "ip", "-n", &ns, "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    let set = |dev: &str, state: &str| {
        sh(&["ip", "-n", &ns, "link", "set", dev, state]);
    };
    set("trk1", "up");
    set("trk0", "up");
    let web = "{name: uplink, weight: -60, interface: {name: trk0}}";
    let db = "{name: uplink, weight: 0, interface: {name: trk0}}";
    let agents = start_pair(&bed, web, db);
    let n1 = &bed.nodes[0];
    // Carrier lost (trk0 stays administratively up).
    fail_and_recover(
        &bed,
        &agents,
        "uplink",
        || set("trk1", "down"),
        || set("trk1", "up"),
    );
    assert_eq!(tracker(&bed, n1, "web", "uplink")["lastResult"], "link up");
    // Administratively down.
    set("trk0", "down");
    assert!(
        wait_holder(&bed, VIP4, "node2", 8 * SEC),
        "{}",
        logs(&agents)
    );
    assert_eq!(
        tracker(&bed, n1, "web", "uplink")["lastResult"],
        "link down"
    );
    set("trk0", "up");
    assert!(
        wait_holder(&bed, VIP4, "node1", 8 * SEC),
        "{}",
        logs(&agents)
    );
    // A deleted interface is down too.
    sh(&["ip", "-n", &ns, "link", "del", "trk0"]);
    assert!(
        wait_holder(&bed, VIP4, "node2", 8 * SEC),
        "{}",
        logs(&agents)
    );
    let t = tracker(&bed, n1, "web", "uplink");
    assert_eq!(t["lastResult"], "no such interface", "{t}");
    assert!(
        t["checks"].as_u64().unwrap_or(0) >= 6,
        "one check per link event: {t}"
    );
}

#[test]
fn rise_and_fall_thresholds_count_checks() {
    let bed = Bed::new(2);
    // Each run takes its result from the queue file Q (S or F, first character), or from D
    // once Q is empty: the test scripts an exact sequence of results.
    let (q, d) = (bed.write("Q", ""), bed.write("D", "S"));
    let (q, d) = (q.display(), d.display());
    let script = format!(
        "q=$(cat {q}); if [ -n \"$q\" ]; then c=${{q%\"${{q#?}}\"}}; printf %s \"${{q#?}}\" > {q}; else c=$(cat {d}); fi; [ \"$c\" = S ]"
    );
    let cmd = format!(
        "[/bin/sh, -c, {}]",
        serde_json::to_string(&script).unwrap_or_default()
    );
    let check = format!(
        "{{name: check, weight: 0, script: {{command: {cmd}, interval: 200ms, timeout: 2s, rise: 2, fall: 3}}}}"
    );
    let doc = |t: &str| web_doc(&[("node1", 150), ("node2", 100)], t);
    let agents = start_nodes(
        &bed,
        &doc(&trackers_yaml(&[&check])),
        &doc(""),
        &[VIP4],
        &["web"],
    );
    let n1 = &bed.nodes[0];
    let checks = || tracker_num(&bed, "web", "check", "checks");
    // Write the queue (and the default) just after a run, so no run reads it half-written.
    let play = |queue: &str, default: &str| {
        let c = checks();
        assert!(wait_until(5 * SEC, 5 * MS, || checks() > c));
        bed.write("D", default);
        bed.write("Q.tmp", queue);
        std::fs::rename(bed.dir.join("Q.tmp"), bed.dir.join("Q")).expect("rename");
        assert!(wait_until(10 * SEC, 20 * MS, || std::fs::read_to_string(
            bed.dir.join("Q")
        )
        .is_ok_and(|s| s.is_empty())));
        // Then four more results, enough for any transition they should cause.
        let c = checks();
        assert!(
            wait_until(10 * SEC, 20 * MS, || checks() >= c + 4),
            "{}",
            logs(&agents)
        );
    };
    assert_eq!(
        transitions(&agents),
        1,
        "first result: up\n{}",
        logs(&agents)
    );
    // fall 3: two failures change nothing.
    let f0 = tracker_num(&bed, "web", "check", "failures");
    play("FF", "S");
    assert_eq!(tracker_num(&bed, "web", "check", "failures"), f0 + 2);
    assert_eq!(transitions(&agents), 1, "{}", logs(&agents));
    assert_eq!(state_of(&bed, n1, "web"), "Master");
    // Three do (then two successes from D bring it up again).
    play("FFF", "S");
    assert_eq!(tracker_num(&bed, "web", "check", "failures"), f0 + 5);
    assert_eq!(transitions(&agents), 3, "down and up\n{}", logs(&agents));
    // rise 2: a single success between failures does not bring it up.
    play("FFFSF", "F");
    assert_eq!(transitions(&agents), 4, "only down\n{}", logs(&agents));
    assert_eq!(state_of(&bed, n1, "web"), "Fault");
    assert!(wait_holder(&bed, VIP4, "node2", 5 * SEC));
    // Two do; then D's failures take it down after three more.
    play("SS", "F");
    assert!(wait_until(5 * SEC, 50 * MS, || transitions(&agents) >= 6));
    assert_eq!(transitions(&agents), 6, "up, then down\n{}", logs(&agents));
    bed.write("D", "S");
    assert!(
        wait_holder(&bed, VIP4, "node1", 8 * SEC),
        "{}",
        logs(&agents)
    );
}

#[test]
fn script_timeout_kills_its_process_group() {
    let bed = Bed::new(2);
    let marker = format!("987.{}", std::process::id());
    let script = format!("sleep {marker} & sleep {marker}");
    let check = format!(
        "{{name: slow, weight: -60, script: {{command: [/bin/sh, -c, \"{script}\"], interval: 500ms, timeout: 300ms}}}}"
    );
    let doc = |t: &str| web_doc(&[("node1", 150), ("node2", 100)], t);
    let c1 = bed.write("node1.yaml", &doc(&trackers_yaml(&[&check])));
    let c2 = bed.write("node2.yaml", &doc(""));
    let agents = vec![
        start_agent(&bed, &bed.nodes[0], &c1),
        start_agent(&bed, &bed.nodes[1], &c2),
    ];
    // Every run times out: the tracker is down (150 - 60 < 100) and counts each failure.
    assert!(
        wait_holder(&bed, VIP4, "node2", 10 * SEC),
        "{}",
        logs(&agents)
    );
    assert!(wait_until(10 * SEC, 50 * MS, || tracker_num(
        &bed, "web", "slow", "failures"
    ) >= 3));
    let t = tracker(&bed, &bed.nodes[0], "web", "slow");
    assert_eq!(t["lastResult"], "timeout after 300ms", "{t}");
    assert_eq!(t["checks"], t["failures"], "{t}");
    // Both sleeps of a run (the shell's child and its background one) die with the group:
    // none seen now is alive a second later (runs start every 500 ms and last 300 ms).
    let mut seen = BTreeSet::new();
    assert!(
        wait_until(2 * SEC, 5 * MS, || {
            seen = pids_with(&marker);
            !seen.is_empty()
        }),
        "no script running?"
    );
    std::thread::sleep(SEC);
    let later = pids_with(&marker);
    assert!(
        seen.is_disjoint(&later),
        "survivors: {:?}",
        seen.intersection(&later).collect::<Vec<_>>()
    );
    assert!(later.len() <= 3, "runs pile up: {later:?}");
    // Every script is reaped: no zombie child of the agent lingers.
    let agent = agents[0].pid();
    let z = zombies_of(agent);
    std::thread::sleep(300 * MS);
    assert!(
        z.is_disjoint(&zombies_of(agent)),
        "zombies of the agent: {z:?}"
    );
    // And none at all at some moment between runs (a child that is never reaped stays one).
    assert!(
        wait_until(3 * SEC, 20 * MS, || zombies_of(agent).is_empty()),
        "zombies of the agent: {:?}",
        zombies_of(agent)
    );
}

#[test]
fn weights_combine_and_bad_trackers_are_reported() {
    let bed = Bed::new(2);
    let files = ["plus", "minus", "crit"].map(|f| bed.write(f, "0"));
    let script = |name: &str, weight: i32, file: &Path| {
        format!(
            "{{name: {name}, weight: {weight}, script: {{command: {}, interval: 100ms, timeout: 2s}}}}",
            sh_script(file)
        )
    };
    let web_trackers = trackers_yaml(&[
        &script("plus", 10, &files[0]),
        &script("minus", -20, &files[1]),
        &script("crit", 0, &files[2]),
    ]);
    let web = |t: &str| web_doc(&[("node1", 100), ("node2", 105)], t);
    // Two more VirtualIPs on node1 only: one whose scripts cannot run, one with a pods tracker.
    let broken = vip_doc(
        "broken",
        53,
        3,
        "100ms",
        "198.51.100.102/32",
        &[("node1", 100)],
        &trackers_yaml(&[
            "{name: missing, weight: -10, script: {command: [/nonexistent/kvtrack-check.sh]}}",
            "{name: relative, weight: -5, script: {command: [bin/check.sh]}}",
        ]),
    );
    let pods = vip_doc(
        "pods",
        54,
        3,
        "100ms",
        "198.51.100.103/32",
        &[("node1", 100)],
        &trackers_yaml(&[
            "{name: backend, weight: 20, pods: {namespace: web, selector: {matchLabels: {app: web}}}}",
        ]),
    );
    let node1 = format!("{}---\n{broken}---\n{pods}", web(&web_trackers));
    // node1: 100 + 10 = 110 > 105.
    let agents = start_nodes(&bed, &node1, &web(""), &[VIP4], &["web"]);
    let n1 = &bed.nodes[0];
    let priority_is = |p: u64| {
        wait_until(5 * SEC, 20 * MS, || {
            instance(&bed, n1, "web")["priority"] == p
        }) && metric(&bed, n1, "kube_vrrp_priority{vip=\"web\",vrid=\"51\"}") == Some(p as f64)
    };
    assert!(priority_is(110));
    let set = |i: usize, v: &str| std::fs::write(&files[i], v).expect("write");
    set(0, "1"); // plus down: 100 < 105
    assert!(priority_is(100), "{}", logs(&agents));
    assert!(wait_holder(&bed, VIP4, "node2", 5 * SEC));
    set(0, "0");
    set(1, "1"); // plus up, minus down: 110 - 20 = 90
    assert!(priority_is(90), "{}", logs(&agents));
    set(0, "1"); // both: 80
    assert!(priority_is(80));
    set(0, "0");
    set(1, "0"); // back to 110: node1 preempts
    assert!(
        wait_holder(&bed, VIP4, "node1", 5 * SEC),
        "{}",
        logs(&agents)
    );
    set(2, "1"); // weight 0 down: Fault, whatever the priority
    assert!(wait_until(5 * SEC, 20 * MS, || state_of(&bed, n1, "web") == "Fault"));
    assert!(wait_holder(&bed, VIP4, "node2", 5 * SEC));
    assert_eq!(tracker(&bed, n1, "web", "crit")["fault"], true);
    set(2, "0");
    assert!(
        wait_holder(&bed, VIP4, "node1", 5 * SEC),
        "{}",
        logs(&agents)
    );
    // A script that cannot run counts as down and says why; its instance runs.
    let b = instance(&bed, n1, "broken");
    assert_eq!(b["state"], "Master", "{b}");
    assert_eq!(b["priority"], 85, "100 - 10 - 5: {b}");
    let missing = tracker(&bed, n1, "broken", "missing");
    assert!(
        missing["error"]
            .as_str()
            .unwrap_or_default()
            .contains("/nonexistent/kvtrack-check.sh"),
        "{missing}"
    );
    assert_eq!(
        (missing["up"].as_bool(), missing["applied"].as_i64()),
        (Some(false), Some(-10))
    );
    let relative = tracker(&bed, n1, "broken", "relative");
    assert!(
        relative["error"]
            .as_str()
            .unwrap_or_default()
            .contains("relative path"),
        "{relative}"
    );
    // A pods tracker refuses its instance in standalone mode; the others run.
    let p = instance(&bed, n1, "pods");
    assert_eq!(p["state"], "Error", "{p}");
    assert!(
        p["error"]
            .as_str()
            .unwrap_or_default()
            .contains("standalone"),
        "{p}"
    );
}
