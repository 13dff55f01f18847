//! Helpers of the chart tests: helm with and without a cluster, rendered objects, RBAC grants,
//! and the agent pod spec the chart promises.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::bed::Bed;
use crate::common::k8s::*;

pub const NS: &str = "kube-vrrp";
pub const RELEASE: &str = "kube-vrrp";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// helm without a cluster (template, lint), with its cache and configuration in a scratch dir.
pub fn helm_local(args: &[&str]) -> Output {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helm");
    Command::new(helm_bin())
        .args(args)
        .current_dir(repo())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run hack/tools.sh)", helm_bin().display()))
}

/// The objects of a multi-document YAML text (empty documents left out).
pub fn documents(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .unwrap_or_else(|e| panic!("unparsable YAML: {e}\n{yaml}"));
    docs.into_iter().filter(|d| d.is_object()).collect()
}

/// `helm template` of the chart as release kube-vrrp in namespace kube-vrrp, with `--set`s.
pub fn render(sets: &[&str]) -> Vec<Value> {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        RELEASE,
        chart.to_str().expect("utf-8"),
        "--namespace",
        NS,
        "--include-crds",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = helm_local(&args);
    assert!(out.status.success(), "helm {args:?}: {}", text(&out));
    documents(&String::from_utf8_lossy(&out.stdout))
}

/// (kind, namespace, name) of an object.
pub fn id(o: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&o["kind"]),
        s(&o["metadata"]["namespace"]),
        s(&o["metadata"]["name"]),
    )
}

pub fn ids(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects.iter().map(id).collect()
}

pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", ids(objects)))
}

/// A Role's or ClusterRole's rules as "group/resource:verb" (and "[names]" when restricted).
pub fn grants(role: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    for rule in role["rules"].as_array().cloned().unwrap_or_default() {
        let names = list(&rule["resourceNames"]);
        let suffix = if names.is_empty() {
            String::new()
        } else {
            format!("[{}]", names.join(","))
        };
        for g in list(&rule["apiGroups"]) {
            for r in list(&rule["resources"]) {
                for v in list(&rule["verbs"]) {
                    out.insert(format!("{g}/{r}:{v}{suffix}"));
                }
            }
        }
    }
    out
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn object_ids(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(k, ns, n)| (k.to_string(), ns.to_string(), n.to_string()))
        .collect()
}

/// What the agent needs, and all the ClusterRole grants by default.
pub const CLUSTER_GRANTS: &[&str] = &[
    "kubevrrp.io/virtualips:list",
    "kubevrrp.io/virtualips:watch",
    "kubevrrp.io/virtualips/status:patch",
    "/nodes:list",
    "/nodes:watch",
];

/// The chart's objects with default values (CRD aside).
pub fn default_objects() -> BTreeSet<(String, String, String)> {
    object_ids(&[
        ("ServiceAccount", NS, "kube-vrrp"),
        ("ClusterRole", "", "kube-vrrp"),
        ("ClusterRoleBinding", "", "kube-vrrp"),
        ("Role", NS, "kube-vrrp-secrets"),
        ("RoleBinding", NS, "kube-vrrp-secrets"),
        ("Role", "default", "kube-vrrp-events"),
        ("RoleBinding", "default", "kube-vrrp-events"),
        ("DaemonSet", NS, "kube-vrrp"),
    ])
}

/// The agent pod spec as the chart promises it (from a rendered or a stored DaemonSet).
pub fn check_daemonset(ds: &Value) {
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true, "{pod:#}");
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["serviceAccountName"], "kube-vrrp");
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    assert!(pod.get("hostPID").is_none_or(|v| v == false));
    let tolerations = pod["tolerations"].as_array().cloned().unwrap_or_default();
    assert!(
        tolerations
            .iter()
            .any(|t| t["key"] == "node-role.kubernetes.io/control-plane"
                && t["operator"] == "Exists"),
        "{tolerations:?}"
    );
    let strategy = &ds["spec"]["updateStrategy"];
    assert_eq!(strategy["type"], "RollingUpdate", "{strategy}");
    assert_eq!(strategy["rollingUpdate"]["maxUnavailable"], 1, "{strategy}");
    let containers = pod["containers"].as_array().cloned().unwrap_or_default();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(
        sc["capabilities"],
        serde_json::json!({"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}),
        "exactly NET_ADMIN and NET_RAW"
    );
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsUser"], 0);
    let env = c["env"].as_array().cloned().unwrap_or_default();
    let from_field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(from_field("NODE_NAME"), "spec.nodeName", "{env:?}");
    assert_eq!(from_field("POD_NAMESPACE"), "metadata.namespace", "{env:?}");
    let args: Vec<&str> = c["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(args.first(), Some(&"agent"), "{args:?}");
    assert!(args.contains(&"--cache-dir=/var/lib/kube-vrrp"), "{args:?}");
    assert!(args.contains(&"--http-addr=0.0.0.0:9650"), "{args:?}");
    let port = &c["ports"][0];
    assert_eq!(
        (port["name"].clone(), port["containerPort"].clone()),
        ("http".into(), 9650.into())
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http");
    assert!(c["resources"]["requests"].is_object() && c["resources"]["limits"].is_object());
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/var/lib/kube-vrrp");
    let vol = &pod["volumes"][0];
    assert_eq!(vol["name"], c["volumeMounts"][0]["name"]);
    assert_eq!(
        vol["hostPath"],
        serde_json::json!({"path": "/var/lib/kube-vrrp", "type": "DirectoryOrCreate"})
    );
}

/// The chart installed as release kube-vrrp in namespace kube-vrrp, CRD from the chart.
pub fn install(api: &ApiServer, bed: &Bed, sets: &[&str]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "install",
        RELEASE,
        chart.to_str().expect("utf-8"),
        "--namespace",
        NS,
        "--create-namespace",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = api.helm_ok(bed, &args);
    api.wait_crd_established(bed);
    out
}

pub fn upgrade(api: &ApiServer, bed: &Bed, sets: &[&str]) {
    let chart = chart_dir();
    let mut args = vec![
        "upgrade",
        RELEASE,
        chart.to_str().expect("utf-8"),
        "--namespace",
        NS,
        "--reset-values",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    api.helm_ok(bed, &args);
}

/// The objects of the release, by its instance label, across the kinds the chart makes.
pub fn release_objects(api: &ApiServer, bed: &Bed) -> Vec<Value> {
    let out = api.kubectl_ok(
        bed,
        &[
            "get",
            "serviceaccounts,daemonsets,services,roles,rolebindings,clusterroles,clusterrolebindings",
            "-A",
            "-l",
            &format!("app.kubernetes.io/instance={RELEASE}"),
            "-o",
            "json",
        ],
    );
    let list: Value = serde_json::from_str(&out).expect("kubectl -o json");
    list["items"].as_array().cloned().unwrap_or_default()
}

pub fn daemonset(api: &ApiServer, bed: &Bed) -> Value {
    let out = api.kubectl_ok(
        bed,
        &["get", "daemonset", "kube-vrrp", "-n", NS, "-o", "json"],
    );
    serde_json::from_str(&out).expect("kubectl -o json")
}
