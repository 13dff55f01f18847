//! Hostile configuration for `kube-vrrp run` (issue 20, findings 1-3): whatever the file holds
//! or however it is written, a running master keeps its timing and its VIPs. Needs root.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::agents::*;
use common::bed::*;

const PRIOS: &[(&str, u8)] = &[("node1", 200), ("node2", 100)];

/// How often a node logged a transition to Master.
fn masters(p: &Proc) -> usize {
    p.log_text().matches("to=Master").count()
}

/// `kube-vrrp run` in a node, under an address-space limit (a regression must not take the test
/// machine's memory).
fn start_limited(bed: &Bed, node: &Host, config: &Path, tag: &str) -> Proc {
    let bin = binary();
    bed.spawn(
        node,
        tag,
        &[
            "prlimit",
            "--as=2000000000",
            "--",
            bin.to_str().expect("utf-8"),
            "run",
            "--config",
            config.to_str().expect("utf-8"),
            "--node-name",
            &node.name,
            "--http-addr",
            "127.0.0.1:9650",
        ],
    )
}

/// Two nodes running `docs`, node1 the master; returns the agents.
fn pair(bed: &Bed, docs: &str) -> (std::path::PathBuf, Vec<Proc>) {
    let dir = bed.dir.join("etc");
    std::fs::create_dir_all(&dir).expect("config dir");
    let cfg = dir.join("vips.yaml");
    std::fs::write(&cfg, docs).expect("config");
    // node2 reads a copy: only node1's file is attacked.
    let cfg2 = bed.write("node2.yaml", docs);
    let a1 = start_limited(bed, &bed.nodes[0], &cfg, "agent");
    let a2 = start_limited(bed, &bed.nodes[1], &cfg2, "agent");
    assert!(
        wait_holder(bed, VIP4, "node1", Duration::from_secs(15)),
        "{:?}\n{}\n{}",
        bed.holders(VIP4),
        a1.log_text(),
        a2.log_text()
    );
    (cfg, vec![a1, a2])
}

/// Replace a file the way an editor does (write a new one, rename it over).
fn replace(path: &Path, text: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn wait_log(p: &Proc, needle: &str, timeout: Duration) -> bool {
    wait_until(timeout, Duration::from_millis(50), || {
        p.log_text().contains(needle)
    })
}

#[test]
fn an_unbounded_announce_repeat_is_refused() {
    // Finding 1: `repeat: 4000000000` made a new master send ARPs in line forever.
    let bed = Bed::new(1);
    let doc = vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        PRIOS,
        "  announce: {repeat: 4000000000}\n",
    );
    let cfg = bed.write("vips.yaml", &doc);
    let mut p = start_limited(&bed, &bed.nodes[0], &cfg, "agent");
    assert!(
        p.wait_exit(Duration::from_secs(10)),
        "still running: {}",
        p.log_text()
    );
    let code = p.child.try_wait().ok().flatten().and_then(|s| s.code());
    assert_eq!(code, Some(2), "{}", p.log_text());
    assert!(
        p.log_text()
            .contains("spec.announce.repeat: must be 1..100"),
        "{}",
        p.log_text()
    );
}

#[test]
fn a_big_announcement_burst_is_interleaved_with_the_adverts() {
    // Finding 1, pacing: 155 addresses x 100 repeats = 15 500 frames per burst. Sent in line,
    // the master sent no advert for the whole burst (148 ms here, longer than a backup waits
    // at 10 ms adverts). Counted in packet order on the wire, not in time: the most
    // announcements between two consecutive adverts of the master.
    let bed = Bed::new(2);
    let addresses: Vec<String> = (100..=254).map(|i| format!("198.51.100.{i}/32")).collect();
    let doc = vip_doc(
        "web",
        51,
        3,
        "10ms",
        &addresses.join(", "),
        PRIOS,
        "  announce: {repeat: 100, delay: 1s}\n",
    );
    let cfg = bed.write("vips.yaml", &doc);
    let pcap = bed.dir.join("wire.pcap");
    let mac = bed.mac(&bed.nodes[0]);
    // node2 only listens.
    let filter = format!("ether src {mac} and (arp or vrrp)");
    let mut capture = bed.spawn(
        &bed.nodes[1],
        "tcpdump",
        &[
            "tcpdump",
            "-nn",
            "-B",
            "65536",
            "-i",
            "eth0",
            "-w",
            pcap.to_str().expect("utf-8"),
            &filter,
        ],
    );
    std::thread::sleep(Duration::from_secs(1));
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(15)),
        "{}",
        agent.log_text()
    );
    // Past the second burst (1 s after the takeover), with margin.
    std::thread::sleep(Duration::from_secs(3));
    capture.signal("INT");
    assert!(capture.wait_exit(Duration::from_secs(10)));
    let out = sh(&["tcpdump", "-nn", "-r", pcap.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut run, mut worst, mut adverts, mut arps) = (0usize, 0usize, 0usize, 0usize);
    for line in text.lines() {
        if line.contains("VRRP") {
            // Only runs closed by an advert count: the burst before the first advert is
            // the takeover's, sent before the master's first advert on purpose.
            if adverts > 0 {
                worst = worst.max(run);
            }
            adverts += 1;
            run = 0;
        } else if line.contains("ARP") {
            arps += 1;
            run += 1;
        }
    }
    println!("at most {worst} announcements between two adverts ({adverts} adverts, {arps} ARPs)");
    assert!(
        adverts > 100 && arps > 20_000,
        "{adverts} adverts, {arps} ARPs"
    );
    assert!(
        worst < 5_000,
        "{worst} announcements between two adverts ({adverts} adverts, {arps} ARPs)"
    );
    assert!(!agent.log_text().contains("panicked"));
}

#[test]
fn a_fifo_or_a_device_as_configuration_is_refused_at_once() {
    // Finding 2: a FIFO hung start-up forever; a symlink to /dev/zero was read until memory
    // ran out.
    let bed = Bed::new(1);
    let fifo = bed.dir.join("fifo.yaml");
    sh(&["mkfifo", fifo.to_str().expect("utf-8")]);
    let zero = bed.dir.join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    for (path, kind) in [(&fifo, "FIFO"), (&zero, "character device")] {
        let mut p = start_limited(&bed, &bed.nodes[0], path, kind);
        assert!(
            p.wait_exit(Duration::from_secs(10)),
            "{kind}: still running: {}",
            p.log_text()
        );
        let code = p.child.try_wait().ok().flatten().and_then(|s| s.code());
        assert_eq!(code, Some(2), "{}", p.log_text());
        assert!(
            p.log_text()
                .contains(&format!("not a regular file (a {kind})")),
            "{}",
            p.log_text()
        );
    }
}

#[test]
fn a_device_a_huge_file_or_a_slow_parse_on_reload_leave_the_master_alone() {
    // Finding 2: the reload read and parsed on the engine's only thread.
    let bed = Bed::new(2);
    let doc = vip_doc("web", 51, 3, "10ms", &format!("{VIP4}/32"), PRIOS, "");
    let (cfg, agents) = pair(&bed, &doc);
    let etc = cfg.parent().expect("dir");
    // /dev/zero renamed over the file.
    let link = etc.join(".zero");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    std::fs::rename(&link, &cfg).expect("rename");
    assert!(
        wait_log(&agents[0], "character device", Duration::from_secs(10)),
        "{}",
        agents[0].log_text()
    );
    // Over the size cap.
    let mut big = doc.clone().into_bytes();
    big.extend(std::iter::repeat_n(b'#', 17 << 20));
    replace(&cfg, &big);
    assert!(
        wait_log(&agents[0], "larger than 16 MiB", Duration::from_secs(10)),
        "{}",
        agents[0].log_text()
    );
    // A valid file of 15 MiB: the same VirtualIP and 1000 Secrets of 15 KiB.
    let mut valid = doc.clone();
    let value = "x".repeat(15 << 10);
    for i in 0..1000 {
        valid += &format!("---\n{}", secret_doc(&format!("s{i}"), &value));
    }
    replace(&cfg, valid.as_bytes());
    assert!(
        wait_log(
            &agents[0],
            "configuration unchanged",
            Duration::from_secs(30)
        ),
        "{}",
        agents[0].log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(masters(&agents[1]), 0, "{}", agents[1].log_text());
    assert_eq!(bed.holders(VIP4), vec!["node1".to_string()]);
}

#[test]
fn an_empty_or_half_written_file_is_not_applied() {
    // Finding 3: `: > vips.yaml` released every VIP; a slow writer was caught half-way.
    let bed = Bed::new(2);
    let two = format!(
        "{}---\n{}",
        vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, ""),
        vip_doc("db", 52, 3, "100ms", "198.51.100.101/32", PRIOS, "")
    );
    let (cfg, agents) = pair(&bed, &two);
    assert!(wait_holder(
        &bed,
        "198.51.100.101",
        "node1",
        Duration::from_secs(10)
    ));
    // Truncated to nothing.
    std::fs::write(&cfg, "").expect("truncate");
    assert!(
        wait_log(
            &agents[0],
            "no VirtualIP documents",
            Duration::from_secs(10)
        ),
        "{}",
        agents[0].log_text()
    );
    // A comment only.
    replace(&cfg, b"# nothing here\n---\n");
    // Half written: the first document, the writer still holding the file open, while another
    // file in the directory changes.
    let mut w = std::fs::File::create(&cfg).expect("open for writing");
    let cut = two.find("---").expect("two documents");
    w.write_all(&two.as_bytes()[..cut]).expect("write");
    w.flush().expect("flush");
    std::fs::write(cfg.with_file_name("unrelated"), "x").expect("touch");
    assert!(
        wait_log(&agents[0], "being written", Duration::from_secs(10)),
        "{}",
        agents[0].log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(masters(&agents[1]), 0, "{}", agents[1].log_text());
    for vip in [VIP4, "198.51.100.101"] {
        assert_eq!(bed.holders(vip), vec!["node1".to_string()], "{vip}");
    }
    // The writer finishes: the whole file is read, and nothing changed.
    w.write_all(&two.as_bytes()[cut..]).expect("write");
    drop(w);
    assert!(
        wait_log(
            &agents[0],
            "configuration unchanged",
            Duration::from_secs(10)
        ),
        "{}",
        agents[0].log_text()
    );
    assert_eq!(masters(&agents[1]), 0, "{}", agents[1].log_text());
    assert!(
        !agents[0].log_text().contains("reloading configuration"),
        "{}",
        agents[0].log_text()
    );
    // A real change is applied, and the log says what it changed.
    replace(
        &cfg,
        vip_doc("web", 51, 3, "100ms", &format!("{VIP4}/32"), PRIOS, "").as_bytes(),
    );
    assert!(
        wait_log(&agents[0], "removed=[\"db\"]", Duration::from_secs(10)),
        "{}",
        agents[0].log_text()
    );
}

#[test]
fn an_empty_file_is_refused_at_start() {
    let bed = Bed::new(1);
    for (tag, text) in [("empty", ""), ("comment", "# none\n---\n")] {
        let cfg = bed.write(&format!("{tag}.yaml"), text);
        let mut p = start_limited(&bed, &bed.nodes[0], &cfg, tag);
        assert!(p.wait_exit(Duration::from_secs(10)), "{}", p.log_text());
        let code = p.child.try_wait().ok().flatten().and_then(|s| s.code());
        assert_eq!(code, Some(2), "{}", p.log_text());
        assert!(
            p.log_text().contains("no VirtualIP documents"),
            "{}",
            p.log_text()
        );
    }
}

#[test]
fn a_fifo_as_a_tracked_file_does_not_block_the_daemon() {
    // The file tracker read on the engine's thread: opening a FIFO waited for a writer forever.
    let bed = Bed::new(1);
    let fifo = bed.dir.join("track.fifo");
    sh(&["mkfifo", fifo.to_str().expect("utf-8")]);
    let doc = vip_doc(
        "web",
        51,
        3,
        "100ms",
        &format!("{VIP4}/32"),
        PRIOS,
        &format!(
            "  trackers:\n    - {{name: app, weight: -10, file: {{path: {}}}}}\n",
            fifo.display()
        ),
    );
    let cfg = bed.write("vips.yaml", &doc);
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(15)),
        "{}",
        agent.log_text()
    );
    let t = tracker(&bed, &bed.nodes[0], "web", "app");
    assert!(
        t.to_string().contains("not a regular file"),
        "{t}\n{}",
        agent.log_text()
    );
}
