//! Starting kube-vrrp agents and keepalived in a bed, and reading their state.

use std::time::Duration;

use super::bed::{Bed, Host, Proc, binary, wait_until};

/// A VirtualIP document. `priorities` are (node, priority); `extra` is more spec lines, each
/// indented by two spaces.
pub fn vip_doc(
    name: &str,
    vrid: u8,
    version: u8,
    interval: &str,
    address: &str,
    priorities: &[(&str, u8)],
    extra: &str,
) -> String {
    let mut doc = format!(
        "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: {name}}}\nspec:\n  vrid: {vrid}\n  version: {version}\n  advertInterval: {interval}\n  addresses: [{address}]\n  priorities:\n"
    );
    for (node, prio) in priorities {
        doc.push_str(&format!("    - {{nodeName: {node}, priority: {prio}}}\n"));
    }
    doc.push_str(extra);
    doc
}

/// A Secret document holding a PASS password.
pub fn secret_doc(name: &str, password: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{password: \"{password}\"}}\n"
    )
}

/// Start `kube-vrrp run` on a node with the given config file.
pub fn start_agent(bed: &Bed, node: &Host, config: &std::path::Path) -> Proc {
    let bin = binary();
    bed.spawn(
        node,
        "agent",
        &[
            bin.to_str().expect("utf-8 path"),
            "run",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--node-name",
            &node.name,
            "--http-addr",
            "127.0.0.1:9650",
        ],
    )
}

/// The agent's /status as JSON, read with `kube-vrrp status -o json` inside the node.
pub fn status(bed: &Bed, node: &Host) -> serde_json::Value {
    let bin = binary();
    let out = bed.exec(
        &node.ns,
        &[
            bin.to_str().expect("utf-8 path"),
            "status",
            "-o",
            "json",
            "--http-addr",
            "127.0.0.1:9650",
        ],
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// State of the named instance on a node ("Master", "Backup", ...), or "" when unknown.
pub fn state_of(bed: &Bed, node: &Host, vip: &str) -> String {
    instance(bed, node, vip)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The named instance's status object on a node.
pub fn instance(bed: &Bed, node: &Host, vip: &str) -> serde_json::Value {
    status(bed, node)
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == vip).cloned())
        .unwrap_or(serde_json::Value::Null)
}

/// Wait until exactly `node` holds `addr` (bounded).
pub fn wait_holder(bed: &Bed, addr: &str, node: &str, timeout: Duration) -> bool {
    wait_until(timeout, Duration::from_millis(20), || {
        bed.holders(addr) == vec![node.to_string()]
    })
}

/// Wait until the agent's HTTP endpoint answers (bounded).
pub fn wait_ready(bed: &Bed, node: &Host) -> bool {
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        !status(bed, node).is_null()
    })
}

/// A keepalived configuration for one instance (the seed's shape).
pub fn keepalived_conf(
    version: u8,
    vrid: u8,
    priority: u8,
    advert: &str,
    password: Option<&str>,
    vip: &str,
    nopreempt: bool,
) -> String {
    let auth = password
        .map(|p| {
            format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            )
        })
        .unwrap_or_default();
    let nopreempt = if nopreempt { "    nopreempt\n" } else { "" };
    format!(
        "global_defs {{\n    vrrp_version {version}\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int {advert}\n{nopreempt}{auth}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

/// Start keepalived (VRRP only, foreground, logging to stderr only) on a node with its own PID
/// files.
pub fn start_keepalived(bed: &Bed, node: &Host, conf: &str) -> Proc {
    let conf_path = bed.write(&format!("{}-keepalived.conf", node.name), conf);
    let pid = bed.dir.join(format!("{}-keepalived.pid", node.name));
    let vrrp_pid = bed.dir.join(format!("{}-keepalived-vrrp.pid", node.name));
    let mut p = bed.spawn(
        node,
        "keepalived",
        &[
            "keepalived",
            "-n",
            "-l",
            // No syslog: with no syslog daemon in the bed, keepalived falls back to writing
            // every line to /dev/console, a slow serial console here; with hundreds of
            // instances that stalled it for seconds and it never settled.
            "-G",
            "-D",
            "-P",
            "-f",
            conf_path.to_str().expect("utf-8"),
            "-p",
            pid.to_str().expect("utf-8"),
            "-r",
            vrrp_pid.to_str().expect("utf-8"),
        ],
    );
    p.pid_files.push(vrrp_pid);
    p
}

/// The agent's Prometheus metrics, read over HTTP inside the node.
pub fn metrics(bed: &Bed, node: &Host) -> String {
    http_get(bed, node, "/metrics")
}

/// The whole HTTP response (status line, headers, body) to a GET of `path` on a node's agent.
pub fn http_get(bed: &Bed, node: &Host, path: &str) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/9650; printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3; timeout 3 cat <&3"
    );
    let out = bed.exec(&node.ns, &["bash", "-c", &script]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `kube-vrrp status` (the table) inside a node.
pub fn status_table(bed: &Bed, node: &Host) -> String {
    let bin = binary();
    let out = bed.exec(
        &node.ns,
        &[
            bin.to_str().expect("utf-8 path"),
            "status",
            "--http-addr",
            "127.0.0.1:9650",
        ],
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// One sample from an agent's /metrics (a metric name, with its labels if any), if present.
pub fn metric_value(bed: &Bed, node: &Host, sample: &str) -> Option<u64> {
    metrics(bed, node)
        .lines()
        .find(|l| l.starts_with(sample) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// One tracker's status (`trackers[]` of the named instance), or null.
pub fn tracker(bed: &Bed, node: &Host, vip: &str, name: &str) -> serde_json::Value {
    instance(bed, node, vip)["trackers"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name).cloned())
        .unwrap_or(serde_json::Value::Null)
}
