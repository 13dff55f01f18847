//! The Helm chart (charts/kube-vrrp), the rendered manifests (deploy/kube-vrrp.yaml) and the
//! agent's least-privilege RBAC and capabilities, on a real kube-apiserver (hack/apiserver) run as
//! a control-plane host of the bed. Run as root: `cargo test --test helm -- --test-threads=1`.

mod common;
#[path = "helm/rbac.rs"]
mod rbac;
#[path = "helm/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::agents::*;
use common::bed::*;
use common::k8s::*;
use support::*;

// ---------------------------------------------------------------------------------------------
// Without an API server.

#[test]
fn chart_lints_strict_and_its_schema_refuses_typos() {
    let chart = chart_dir();
    let chart = chart.to_str().expect("utf-8");
    let out = helm_local(&["lint", "--strict", chart]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("0 chart(s) failed"), "{}", text(&out));
    // Every documented knob can be set...
    let out = helm_local(&[
        "lint",
        "--strict",
        chart,
        "--set",
        "podTrackers.enabled=true,processTrackers.enabled=true,logFormat=json",
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true",
        "--set",
        "fileTrackers.hostPaths[0].path=/var/run/app,rbac.secretNames[0]=vrrp-auth",
        "--set",
        "http.port=9651,updateStrategy.rollingUpdate.maxUnavailable=10%",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // ... and a typo at any level, or a bad value, is an error that names it.
    let cases: &[(&str, &str)] = &[
        ("imagee.tag=1", "imagee"),
        ("image.tagg=1", "tagg"),
        ("resources.limit.memory=1Gi", "limit"),
        ("tolerations[0].efect=NoSchedule", "efect"),
        ("metrics.podMonitor.intervall=10s", "intervall"),
        ("podTrackers.enable=true", "enable"),
        ("affinity.nodeAfinity.x=1", "nodeAfinity"),
        ("logFormat=xml", "logFormat"),
        ("http.port=70000", "port"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("cache.hostPath=relative/dir", "hostPath"),
    ];
    let mut failures = Vec::new();
    for (value, named) in cases {
        let out = helm_local(&["template", RELEASE, chart, "--set", value]);
        let msg = text(&out);
        if out.status.success() || !msg.contains("schema") || !msg.contains(named) {
            failures.push(format!(
                "--set {value}: success={} {msg}",
                out.status.success()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn chart_renders_least_privilege_rbac_and_the_agent_pod() {
    let objects = render(&[]);
    let mut expected = default_objects();
    expected.insert((
        "CustomResourceDefinition".into(),
        String::new(),
        "virtualips.kubevrrp.io".into(),
    ));
    expected.insert((
        "CustomResourceDefinition".into(),
        String::new(),
        "virtualippools.kubevrrp.io".into(),
    ));
    assert_eq!(ids(&objects), expected);
    check_daemonset(find(&objects, "DaemonSet", "kube-vrrp"));

    // RBAC: exactly what the agent uses.
    assert_eq!(
        grants(find(&objects, "ClusterRole", "kube-vrrp")),
        set(CLUSTER_GRANTS)
    );
    assert_eq!(
        grants(find(&objects, "Role", "kube-vrrp-secrets")),
        set(&["/secrets:get"])
    );
    assert_eq!(
        grants(find(&objects, "Role", "kube-vrrp-events")),
        set(&["events.k8s.io/events:create", "events.k8s.io/events:patch"])
    );
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        for o in objects.iter().filter(|o| o["kind"] == binding) {
            assert_eq!(
                o["subjects"],
                serde_json::json!([{"kind": "ServiceAccount", "name": "kube-vrrp", "namespace": NS}]),
                "{o:#}"
            );
        }
    }

    // Pods only with pod trackers; Secrets by name when listed.
    let objects = render(&[
        "podTrackers.enabled=true",
        "rbac.secretNames={vrrp-auth,other}",
    ]);
    let mut with_pods = set(CLUSTER_GRANTS);
    with_pods.extend(set(&["/pods:list", "/pods:watch"]));
    assert_eq!(
        grants(find(&objects, "ClusterRole", "kube-vrrp")),
        with_pods
    );
    assert_eq!(
        grants(find(&objects, "Role", "kube-vrrp-secrets")),
        set(&["/secrets:get[vrrp-auth,other]"])
    );

    // Process and file trackers: hostPID and read-only host directories, only when asked.
    let objects = render(&[
        "processTrackers.enabled=true",
        "fileTrackers.hostPaths[0].path=/var/run/app",
        "fileTrackers.hostPaths[1].path=/etc/checks",
        "fileTrackers.hostPaths[1].readOnly=false",
    ]);
    let pod = &find(&objects, "DaemonSet", "kube-vrrp")["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true);
    let mounts = &pod["containers"][0]["volumeMounts"];
    assert_eq!(mounts[1]["mountPath"], "/var/run/app");
    assert_eq!(mounts[1]["readOnly"], true);
    assert_eq!(mounts[2]["readOnly"], false);
    assert_eq!(pod["volumes"][1]["hostPath"]["path"], "/var/run/app");

    // Monitoring objects: off by default, on request.
    let objects = render(&[
        "metrics.serviceMonitor.enabled=true",
        "metrics.podMonitor.enabled=true",
        "metrics.podMonitor.labels.release=prom",
    ]);
    let monitor = find(&objects, "PodMonitor", "kube-vrrp");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prom");
    assert_eq!(monitor["spec"]["podMetricsEndpoints"][0]["port"], "http");
    let sm = find(&objects, "ServiceMonitor", "kube-vrrp");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    let svc = find(&objects, "Service", "kube-vrrp-metrics");
    assert_eq!(svc["spec"]["clusterIP"], "None");
    // The ServiceMonitor selects the Service, the Service selects the agent pods.
    let ds = find(&objects, "DaemonSet", "kube-vrrp");
    for (k, v) in sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("labels")
    {
        assert_eq!(&svc["metadata"]["labels"][k], v, "{k}");
    }
    for (k, v) in svc["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&ds["spec"]["template"]["metadata"]["labels"][k], v, "{k}");
    }

    // Upgrade-relevant values reach the pod.
    let objects = render(&[
        "logFormat=json",
        "extraArgs={--foo=bar}",
        "http.bindAddress=::",
    ]);
    let args = &find(&objects, "DaemonSet", "kube-vrrp")["spec"]["template"]["spec"]["containers"]
        [0]["args"];
    for a in ["--log-format=json", "--foo=bar", "--http-addr=[::]:9650"] {
        assert!(
            args.as_array().is_some_and(|v| v.iter().any(|x| x == a)),
            "{a} not in {args}"
        );
    }
}

/// `controller.enabled`: the Deployment with its own ServiceAccount and least-privilege RBAC,
/// no capabilities, non-root; the agents gain only Pod reads (Local traffic policy).
#[test]
fn the_controller_renders_with_its_own_least_privilege_rbac() {
    let objects = render(&["controller.enabled=true"]);
    let mut expected = default_objects();
    for (kind, ns, name) in [
        ("ServiceAccount", NS, "kube-vrrp-controller"),
        ("ClusterRole", "", "kube-vrrp-controller"),
        ("ClusterRoleBinding", "", "kube-vrrp-controller"),
        ("Role", NS, "kube-vrrp-controller-lease"),
        ("RoleBinding", NS, "kube-vrrp-controller-lease"),
        ("Deployment", NS, "kube-vrrp-controller"),
        ("CustomResourceDefinition", "", "virtualips.kubevrrp.io"),
        ("CustomResourceDefinition", "", "virtualippools.kubevrrp.io"),
    ] {
        expected.insert((kind.into(), ns.into(), name.into()));
    }
    assert_eq!(ids(&objects), expected);
    assert_eq!(
        grants(find(&objects, "ClusterRole", "kube-vrrp-controller")),
        set(&[
            "/services:list",
            "/services:watch",
            "/services/status:patch",
            "/namespaces:list",
            "/namespaces:watch",
            "kubevrrp.io/virtualips:list",
            "kubevrrp.io/virtualips:watch",
            "kubevrrp.io/virtualips:create",
            "kubevrrp.io/virtualips:update",
            "kubevrrp.io/virtualips:delete",
            "kubevrrp.io/virtualippools:list",
            "kubevrrp.io/virtualippools:watch",
            "kubevrrp.io/virtualippools/status:patch",
            "events.k8s.io/events:create",
            "events.k8s.io/events:patch",
        ])
    );
    let mut agent = set(CLUSTER_GRANTS);
    agent.extend(set(&["/pods:list", "/pods:watch"]));
    assert_eq!(grants(find(&objects, "ClusterRole", "kube-vrrp")), agent);
    let d = find(&objects, "Deployment", "kube-vrrp-controller");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(pod["serviceAccountName"], "kube-vrrp-controller");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], "controller");
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert!(c["securityContext"]["capabilities"]["add"].is_null());
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
}

#[test]
fn deploy_manifest_and_the_chart_crd_match_their_sources() {
    // The chart ships the CRDs `kube-vrrp crd` generates (crds/), byte for byte.
    for file in ["crds/virtualip.yaml", "crds/virtualippool.yaml"] {
        let crd = std::fs::read(repo().join(file)).expect(file);
        let copy = std::fs::read(chart_dir().join(file)).unwrap_or_default();
        assert!(
            crd == copy,
            "charts/kube-vrrp/{file} differs from {file}: run hack/render.sh"
        );
    }
    // deploy/kube-vrrp.yaml is what hack/render.sh renders from the chart today.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kube-vrrp-render-{}.yaml", std::process::id()));
    let out = Command::new(repo().join("hack/render.sh"))
        .args(["-o", tmp.to_str().expect("utf-8")])
        .output()
        .expect("hack/render.sh");
    assert!(out.status.success(), "{}", text(&out));
    let fresh = std::fs::read_to_string(&tmp).unwrap_or_default();
    let _ = std::fs::remove_file(&tmp);
    let checked_in =
        std::fs::read_to_string(repo().join("deploy/kube-vrrp.yaml")).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "deploy/kube-vrrp.yaml is stale: run hack/render.sh"
    );
    // A Namespace first (privileged Pod Security level), then the CRD, then the chart's objects.
    let docs = documents(&fresh);
    assert_eq!(id(&docs[0]), ("Namespace".into(), String::new(), NS.into()));
    assert_eq!(
        docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    assert_eq!(docs[1]["kind"], "CustomResourceDefinition");
    let mut expected = default_objects();
    expected.insert(("Namespace".into(), String::new(), NS.into()));
    expected.insert((
        "CustomResourceDefinition".into(),
        String::new(),
        "virtualips.kubevrrp.io".into(),
    ));
    expected.insert((
        "CustomResourceDefinition".into(),
        String::new(),
        "virtualippools.kubevrrp.io".into(),
    ));
    assert_eq!(ids(&docs), expected);
}

// ---------------------------------------------------------------------------------------------
// On a real API server (root: the bed uses network namespaces).

#[test]
fn helm_install_upgrade_and_uninstall_on_a_real_api_server() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    let notes = install(&api, &bed, &["image.tag=test"]);
    assert!(
        notes.contains("kubectl get vip") && notes.contains("kind: VirtualIP"),
        "NOTES tell how to create a first VirtualIP and watch it:\n{notes}"
    );
    let list = api.helm_ok(&bed, &["list", "-n", NS, "-o", "json"]);
    assert!(list.contains("\"status\":\"deployed\""), "{list}");

    // Exactly the expected objects, as the API server stores them.
    let objects = release_objects(&api, &bed);
    assert_eq!(ids(&objects), default_objects());
    let ds = daemonset(&api, &bed);
    check_daemonset(&ds);
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/kube-vrrp/kube-vrrp:test"
    );
    assert_eq!(
        grants(find(&objects, "ClusterRole", "kube-vrrp")),
        set(CLUSTER_GRANTS)
    );
    // The CRD came with the chart: VirtualIPs are served (once it is established).
    api.kubectl_ok(
        &bed,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/virtualips.kubevrrp.io",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(500), || api
            .kubectl(&bed, &["get", "vip"])
            .status
            .success()),
        "VirtualIPs are not served after the chart installed the CRD"
    );

    // Upgrade with changed values: the DaemonSet changes.
    let generation = ds["metadata"]["generation"].as_i64().expect("generation");
    upgrade(
        &api,
        &bed,
        &[
            "image.tag=test",
            "logFormat=json",
            "resources.limits.memory=256Mi",
        ],
    );
    let ds = daemonset(&api, &bed);
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    assert!(
        c["args"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "--log-format=json")),
        "{}",
        c["args"]
    );
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert!(ds["metadata"]["generation"].as_i64().expect("generation") > generation);
    let history = api.helm_ok(&bed, &["history", RELEASE, "-n", NS, "-o", "json"]);
    assert!(history.contains("\"revision\":2"), "{history}");
    check_daemonset(&ds);

    // Uninstall removes every object of the release; Helm keeps CRDs (and so VirtualIPs).
    api.helm_ok(&bed, &["uninstall", RELEASE, "-n", NS]);
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
            release_objects(&api, &bed).is_empty()
        }),
        "{:?}",
        ids(&release_objects(&api, &bed))
    );
    let list = api.helm_ok(&bed, &["list", "-n", NS, "-q"]);
    assert!(list.trim().is_empty(), "{list}");
    api.kubectl_ok(&bed, &["get", "crd", "virtualips.kubevrrp.io"]);
}

#[test]
fn rendered_manifests_pass_the_api_servers_validation() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    let manifest = repo().join("deploy/kube-vrrp.yaml");
    let manifest = manifest.to_str().expect("utf-8");
    let docs = documents(&std::fs::read_to_string(manifest).expect("deploy/kube-vrrp.yaml"));
    // A dry run creates nothing, not even the Namespace the other objects go to: create it.
    api.kubectl_ok(&bed, &["create", "namespace", NS]);
    let dry_run = |file: &str| {
        api.kubectl(
            &bed,
            &["apply", "--server-side", "--dry-run=server", "-f", file],
        )
    };
    let out = dry_run(manifest);
    assert!(out.status.success(), "{}", text(&out));
    let accepted = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count();
    assert_eq!(accepted, docs.len(), "{}", text(&out));
    assert!(
        api.kubectl_ok(&bed, &["get", "daemonsets", "-n", NS, "-o", "name"])
            .trim()
            .is_empty()
    );

    // The validation is real: an unknown field or a bad value in the pod spec is refused.
    let original = std::fs::read_to_string(manifest).expect("manifest");
    for (from, to, complaint) in [
        ("hostNetwork: true", "hostNetwrok: true", "hostNetwrok"),
        (
            "dnsPolicy: ClusterFirstWithHostNet",
            "dnsPolicy: ClusterFirstWithHostNetwork",
            "dnsPolicy",
        ),
    ] {
        assert!(original.contains(from));
        let broken = bed.write("broken.yaml", &original.replacen(from, to, 1));
        let out = dry_run(broken.to_str().expect("utf-8"));
        assert!(
            !out.status.success() && text(&out).contains(complaint),
            "{from} -> {to} was accepted: {}",
            text(&out)
        );
    }

    // Applied for real, as a user without Helm would: the API serves VirtualIPs.
    api.kubectl_ok(&bed, &["apply", "--server-side", "-f", manifest]);
    api.wait_crd_established(&bed);
    check_daemonset(&daemonset(&api, &bed));
    let vip = vip_doc(
        "web",
        51,
        3,
        "1s",
        "198.51.100.100/32",
        &[("node1", 150)],
        "",
    );
    let out = api.apply(&bed, &vip);
    assert!(out.status.success(), "{}", text(&out));
    let table = api.kubectl_ok(&bed, &["get", "vip"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows.first().map(|r| &r[..]),
        Some(&["NAME", "VRID", "ADDRESSES", "MASTER", "READY", "AGE"][..]),
        "{table}"
    );
    let row = rows.get(1).unwrap_or_else(|| panic!("no row: {table}"));
    assert_eq!(
        row[..3],
        ["web", "51", "[\"198.51.100.100/32\"]"],
        "{table}"
    );
}

// ---------------------------------------------------------------------------------------------
// The README, as written.

/// The first ```sh block after `heading` in README.md.
fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"))
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no sh block under {heading:?}"))
        .0;
    block.to_string()
}

#[test]
fn readme_install_section_works_as_written() {
    let script = readme_block("## Installing in Kubernetes");
    assert!(
        script.contains("helm install") && script.contains("kubectl get vip"),
        "{script}"
    );
    let mut bed = Bed::new(3);
    let api = ApiServer::start(&mut bed);
    // The nodes register themselves in a real cluster (no kubelet here).
    let nodes = bed
        .nodes
        .iter()
        .map(|n| {
            format!(
                "apiVersion: v1\nkind: Node\nmetadata: {{name: {}}}\n",
                n.name
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let out = api.apply(&bed, &nodes);
    assert!(out.status.success(), "{}", text(&out));

    // The commands as a user types them: bash from the repository root, kubectl and helm on
    // PATH, the admin's KUBECONFIG, on the control-plane host.
    let home = bed.dir.join("readme-home");
    let bin = repo().join("hack/bin");
    let path = format!(
        "PATH={}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubeconfig = format!("KUBECONFIG={}", api.kubeconfig().display());
    let home_var = format!("HOME={}", home.display());
    let body = format!("set -euo pipefail\ncd {}\n{script}\n", repo().display());
    let run = |body: &str| {
        bed.exec(
            &api.host.ns,
            &["env", &path, &kubeconfig, &home_var, "bash", "-c", body],
        )
    };
    let out = run(&body);
    assert!(
        out.status.success(),
        "the README's commands failed:\n{}",
        text(&out)
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let header = shown
        .lines()
        .find(|l| l.starts_with("NAME") && l.contains("VRID"))
        .unwrap_or_else(|| panic!("no table from kubectl get vip:\n{shown}"));
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "VRID", "ADDRESSES", "MASTER", "READY", "AGE"],
        "{shown}"
    );

    // The DaemonSet's agents (here: processes on the nodes, with the chart's ServiceAccount)
    // elect a master, and `kubectl get vip` shows it, as the README's sample output does.
    let sa = api.service_account_kubeconfig(&bed, NS, "kube-vrrp");
    let agents: Vec<Proc> = bed
        .nodes
        .iter()
        .map(|n| start_k8s_agent_confined(&bed, n, &sa, NS))
        .collect();
    let names: Vec<&str> = bed.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut last = String::new();
    let shows_master = wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        last = String::from_utf8_lossy(&run("kubectl get vip").stdout).into_owned();
        last.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() == 6
                && cols[0] == "web"
                && cols[1] == "51"
                && cols[2] == "[\"198.51.100.100/32\"]"
                && names.contains(&cols[3])
                && cols[4] == "True"
        })
    });
    let logs = agents
        .iter()
        .map(|a| a.log_text())
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert!(shows_master, "kubectl get vip:\n{last}\n{logs}");
}
