//! The README's examples run as printed: the keepalived migration example (Before converts to
//! exactly the After shown) and `cargo run -- simulate`. No root needed.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kube_vrrp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-vrrp"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The section of README.md that starts at `heading`, up to the next `## ` heading.
fn section(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let rest = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"))
        .1;
    rest.split("\n## ").next().unwrap_or_default().to_string()
}

/// The first fenced block after `marker` in `text` (any info string).
fn block_after(text: &str, marker: &str) -> String {
    let rest = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?}"))
        .1;
    let body = rest
        .split_once("```")
        .and_then(|(_, b)| b.split_once('\n'))
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no block after {marker:?}"));
    body.split_once("\n```")
        .unwrap_or_else(|| panic!("unterminated block after {marker:?}"))
        .0
        .to_string()
        + "\n"
}

#[test]
fn the_migration_example_converts_to_exactly_what_readme_shows() {
    let text = section("## Migrating from keepalived");
    let before = block_after(
        &text,
        "Before (`lb1`; `lb2` is the same with `priority 200`)",
    );
    let after = block_after(&text, "After:");
    assert!(before.contains("priority 210"), "{before}");
    let dir = std::env::temp_dir().join(format!("kvreadme{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lb1")).expect("dir");
    std::fs::create_dir_all(dir.join("lb2")).expect("dir");
    let lb1 = dir.join("lb1/keepalived.conf");
    let lb2 = dir.join("lb2/keepalived.conf");
    std::fs::write(&lb1, &before).expect("write");
    std::fs::write(&lb2, before.replace("priority 210", "priority 200")).expect("write");
    // The README's command, run where lb1/ and lb2/ are.
    let out = Command::new(env!("CARGO_BIN_EXE_kube-vrrp"))
        .current_dir(&dir)
        .args([
            "convert",
            "--node",
            "lb1=lb1/keepalived.conf",
            "--node",
            "lb2=lb2/keepalived.conf",
        ])
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed, after,
        "README's After differs from what convert prints"
    );
}

#[test]
fn simulate_as_the_readme_shows_it_elects_and_fails_over() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(readme.contains("`cargo run -- simulate`"));
    let out = kube_vrrp(&["simulate"]);
    let story = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{story}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{story}");
    let line = |prefix: &str| {
        story
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line:\n{story}"))
            .to_string()
    };
    assert!(line("simulated LAN:").contains("VIP 198.51.100.100"));
    assert!(
        line("election:").contains("node1 is master (1 master(s)"),
        "{story}"
    );
    let failover = line("failover:");
    assert!(
        failover.starts_with("failover: node2 took over"),
        "the next-highest priority takes over: {story}"
    );
}
