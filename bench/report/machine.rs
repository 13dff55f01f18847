//! The machine and versions table: what the figures were measured on.

use std::fmt::Write as _;
use std::process::Command;

use crate::driver::Results;

fn cmd(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).to_string();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or_default().trim().to_string()
        })
        .unwrap_or_default()
}

fn file_field(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// The machine table.
pub(super) fn machine(r: &Results) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb: f64 = file_field("/proc/meminfo", "MemTotal")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = file_field("/proc/cpuinfo", "model name");
    let bin = crate::bed::binary();
    let kube = cmd(&[bin.to_str().unwrap_or("kube-vrrp"), "--version"]);
    let git = cmd(&["git", "-C", repo, "rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["-C", repo, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0);
    let keepalived = cmd(&["keepalived", "--version"]);
    let k8s = std::fs::read_to_string(format!("{repo}/hack/apiserver/go.mod"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.trim_start().starts_with("k8s.io/kubernetes v"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let ping = cmd(&["ping", "-V"]);
    let date = cmd(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut s = String::new();
    let _ = writeln!(s, "| | |\n|---|---|");
    let build = std::env::var("BENCH_BUILD_SECONDS")
        .map(|b| format!(", after a {b} s release build"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "| date | {date} (the measurements took {:.1} min{build}) |",
        r.took.as_secs_f64() / 60.0
    );
    let _ = writeln!(s, "| CPU | {nproc} × {cpu} |");
    let _ = writeln!(s, "| memory | {:.1} GiB |", mem_kb / 1024.0 / 1024.0);
    let _ = writeln!(s, "| kernel | Linux {kernel} |");
    let _ = writeln!(
        s,
        "| load average (1/5/15 min) | {} at the start, {} at the end (the machine is shared: other builds and tests ran meanwhile) |",
        r.load_start, r.load_end
    );
    let per: Vec<String> = r.load.iter().map(|(n, l)| format!("{n}: {l}")).collect();
    let _ = writeln!(s, "| load when each part started | {} |", per.join("; "));
    let _ = writeln!(
        s,
        "| kube-vrrp | {kube}, release build, git {git}{} |",
        if dirty > 0 {
            format!(" + {dirty} uncommitted changed files")
        } else {
            String::new()
        }
    );
    let _ = writeln!(s, "| keepalived | {keepalived} (Debian package) |");
    let _ = writeln!(
        s,
        "| API server | kube-apiserver {k8s} + embedded etcd (hack/apiserver) |"
    );
    let _ = writeln!(s, "| client | {ping} |");
    s
}
