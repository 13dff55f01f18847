//! The command line's errors, run as a user would: the real binary, its exit code and its message.
//! No root needed: every case fails before the daemon touches the network.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kube_vrrp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-vrrp"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kvcli{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

const GOOD: &str = "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {name: good}\nspec: {vrid: 51, addresses: [198.51.100.100/32]}\n";

#[test]
fn a_bad_document_exits_2_naming_file_document_and_field() {
    let bad = "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {name: bad}\nspec: {vrid: 300, addresses: [198.51.100.101/32]}\n";
    let path = temp_file("bad.yaml", &format!("{GOOD}---\n{bad}"));
    let out = kube_vrrp(&[
        "run",
        "--config",
        path.to_str().unwrap(),
        "--node-name",
        "n1",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}: document 2 (VirtualIP bad): spec.vrid",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_missing_file_exits_2_naming_it() {
    let out = kube_vrrp(&["run", "--config", "/nonexistent/kube-vrrp/vips.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/kube-vrrp/vips.yaml"), "{err}");
}

#[test]
fn invalid_yaml_exits_2() {
    let path = temp_file("broken.yaml", "spec: [unclosed\n");
    let out = kube_vrrp(&["run", "--config", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn a_bad_flag_exits_non_zero_and_says_what_to_fix() {
    let out = kube_vrrp(&["run", "--confg", "x.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--confg"), "{err}");
    let out = kube_vrrp(&["simulate", "--advert-interval", "5ms"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--advert-interval"), "{err}");
}

#[test]
fn status_without_a_daemon_fails_with_the_address() {
    // A loopback port that was free a moment ago: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let out = kube_vrrp(&["status", "--http-addr", &addr]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("cannot reach the agent at {addr}")),
        "{err}"
    );
}
