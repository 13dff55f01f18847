//! `kube-vrrp convert` on hostile or careless keepalived files (issue 20): what it writes must
//! load in `run`, warnings are never lost, and a huge name is never echoed whole.

use std::path::{Path, PathBuf};

use kube_vrrp::config;
use kube_vrrp::convert::{ConvertOptions, HostFile, Output, convert};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kvconv{}{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn convert_file(path: &Path) -> Result<Output, String> {
    convert(
        &[HostFile {
            node: None,
            path: path.to_path_buf(),
        }],
        &ConvertOptions::default(),
    )
    .map_err(|e| e.to_string())
}

fn instance(name: &str, vrid: u8, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{extra} virtual_ipaddress {{\n  198.51.100.{vrid}\n }}\n}}\n"
    )
}

#[test]
fn a_huge_garp_repeat_is_lowered_to_what_run_accepts() {
    let d = scratch("a");
    let path = d.join("k.conf");
    std::fs::write(&path, instance("A", 5, " garp_master_repeat 1000000\n")).expect("write");
    let out = convert_file(&path).expect("converts");
    let warnings: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("lowered to 100")),
        "{warnings:?}"
    );
    let file = config::parse(Path::new("out.yaml"), &out.yaml).expect("loads in run");
    let announce = file.virtual_ips[0].spec.announce.clone().expect("announce");
    assert_eq!(announce.repeat, 100);
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn two_instances_with_one_vrid_on_one_interface_are_warned() {
    let d = scratch("b");
    let path = d.join("k.conf");
    let text = instance("A", 5, "") + &instance("B", 5, "").replace("198.51.100.5", "198.51.100.6");
    std::fs::write(&path, text).expect("write");
    let out = convert_file(&path).expect("converts");
    let warnings: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("vrrp_instance B uses vrid 5") && w.contains("only the first")),
        "{warnings:?}"
    );
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn warnings_are_kept_when_nothing_converts() {
    // An include that is a symlink to a device is skipped with a warning; with nothing else
    // to convert, the error still says so.
    let d = scratch("c");
    std::os::unix::fs::symlink("/dev/zero", d.join("z.conf")).expect("symlink");
    let path = d.join("k.conf");
    std::fs::write(&path, "include z.conf\n").expect("write");
    let e = convert_file(&path).expect_err("nothing to convert");
    assert!(
        e.contains("no vrrp_instance") && e.contains("is not a regular non-executable file"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn a_huge_name_is_not_echoed_whole() {
    let d = scratch("d");
    let path = d.join("k.conf");
    let name = "N".repeat(1_000_000);
    // No virtual_router_id: an error that names the instance.
    let text = format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_ipaddress {{\n  198.51.100.9\n }}\n}}\n"
    );
    std::fs::write(&path, text).expect("write");
    let e = convert_file(&path).expect_err("no vrid");
    assert!(e.len() < 1_000, "{} bytes", e.len());
    assert!(
        e.contains("NNNN...") && e.contains("virtual_router_id"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).expect("cleanup");
}
