//! LoadBalancer Services on a real kube-apiserver (hack/apiserver): two `kube-vrrp controller`
//! replicas with the chart's controller RBAC (a ServiceAccount token, so every call it makes is
//! one the chart grants), a VirtualIPPool, and `kube-vrrp agent`s on two nodes that run the
//! Service VIPs. 100 Services at once with the leader killed in the middle, a takeover by the
//! other replica, conflicting requests, sharing, release. Needs root (network namespaces).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::agents::*;
use common::bed::*;
use common::k8s::*;

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const POOL: &str = "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIPPool\nmetadata: {name: public}\nspec:\n  addresses: [198.51.100.128/25]\n  vrids: 1-200\n  template: {advertInterval: 1s}\n";

fn service(name: &str, extra_meta: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n{extra_meta}spec:\n  type: LoadBalancer\n  loadBalancerClass: kubevrrp.io/vrrp\n  selector: {{app: {name}}}\n  ports: [{{port: 80}}]\n{extra_spec}"
    )
}

/// Start one controller replica (`identity`) in the control-plane namespace with `kubeconfig`.
fn start_controller(
    bed: &Bed,
    api: &ApiServer,
    kubeconfig: &std::path::Path,
    identity: &str,
) -> Proc {
    let bin = binary();
    bed.spawn(
        &api.host,
        &format!("controller-{identity}"),
        &[
            "env",
            &format!("KUBECONFIG={}", kubeconfig.display()),
            "POD_NAMESPACE=kube-vrrp",
            bin.to_str().expect("utf-8"),
            "controller",
            "--identity",
            identity,
            "--lease-duration",
            "4s",
            "--renew-deadline",
            "3s",
            "--retry-period",
            "1s",
        ],
    )
}

/// namespace/name -> ingress addresses, of every Service in `shop`.
fn ingresses(bed: &Bed, api: &ApiServer) -> BTreeMap<String, String> {
    let out = api.kubectl_ok(
        bed,
        &[
            "get",
            "svc",
            "-n",
            "shop",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.loadBalancer.ingress[*].ip}{\"\\n\"}{end}",
        ],
    );
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, a)| (n.to_string(), a.to_string()))
        .collect()
}

/// The Service VIPs: name -> (vrid, address, services annotation).
fn service_vips(bed: &Bed, api: &ApiServer) -> BTreeMap<String, (String, String, String)> {
    let out = api.kubectl_ok(
        bed,
        &[
            "get",
            "vip",
            "-l",
            "app.kubernetes.io/managed-by=kube-vrrp-controller",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.vrid} {.spec.addresses[0]} {.metadata.annotations.kubevrrp\\.io/services}{\"\\n\"}{end}",
        ],
    );
    out.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4).then(|| (w[0].to_string(), (w[1].into(), w[2].into(), w[3].into())))
        })
        .collect()
}

fn events(bed: &Bed, api: &ApiServer, name: &str) -> String {
    api.kubectl_ok(
        bed,
        &[
            "get",
            "events",
            "-n",
            "shop",
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ],
    )
}

#[test]
fn services_get_addresses_from_a_pool_through_restarts_takeovers_and_conflicts() {
    let mut bed = Bed::new(2);
    let api = ApiServer::start(&mut bed);
    api.install_crd(&bed);
    let pool_crd =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds/virtualippool.yaml");
    api.kubectl_ok(
        &bed,
        &[
            "apply",
            "--server-side",
            "-f",
            pool_crd.to_str().expect("utf-8"),
        ],
    );
    api.kubectl_ok(
        &bed,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/virtualippools.kubevrrp.io",
        ],
    );
    // The chart's controller RBAC, as rendered.
    let rendered = Command::new(helm_bin())
        .args(["template", "kube-vrrp"])
        .arg(chart_dir())
        .args([
            "--namespace",
            "kube-vrrp",
            "--set",
            "controller.enabled=true",
        ])
        .args(["--show-only", "templates/controller.yaml"])
        .output()
        .expect("helm template");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let rbac: String = String::from_utf8_lossy(&rendered.stdout)
        .split("\n---")
        .filter(|d| !d.contains("kind: Deployment"))
        .collect::<Vec<_>>()
        .join("\n---");
    let out = api.apply(&bed, &rbac);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kubeconfig = api.service_account_kubeconfig(&bed, "kube-vrrp", "kube-vrrp-controller");
    api.kubectl_ok(&bed, &["create", "namespace", "shop"]);
    let out = api.apply(&bed, POOL);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut a = start_controller(&bed, &api, &kubeconfig, "a");
    assert!(
        wait_until(20 * SEC, 100 * MS, || a.log_text().contains("leading")),
        "{}",
        a.log_text()
    );
    let mut b = start_controller(&bed, &api, &kubeconfig, "b");
    let logs = |a: &Proc, b: &Proc| format!("{}\n---\n{}", a.log_text(), b.log_text());

    // 100 Services at once; the leader is killed (-9) once some have addresses and started
    // again at once: every Service ends with one address of its own.
    let docs: Vec<String> = (0..100)
        .map(|i| service(&format!("s{i:03}"), "", ""))
        .collect();
    let t0 = Instant::now();
    let out = api.apply(&bed, &docs.join("---\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let some = wait_until(60 * SEC, 20 * MS, || service_vips(&bed, &api).len() >= 10);
    assert!(some, "{}", logs(&a, &b));
    a.kill();
    let at_kill = (
        service_vips(&bed, &api).len(),
        ingresses(&bed, &api)
            .values()
            .filter(|v| !v.is_empty())
            .count(),
    );
    // A new pod replaces it (a new identity; a restarted container would keep "a" and simply
    // renew its own Lease).
    let mut c = start_controller(&bed, &api, &kubeconfig, "c");
    let all = wait_until(120 * SEC, 200 * MS, || {
        ingresses(&bed, &api)
            .values()
            .filter(|v| !v.is_empty())
            .count()
            == 100
    });
    let took = t0.elapsed();
    assert!(
        all,
        "not every Service got an address: {:?}\n{}",
        ingresses(&bed, &api),
        logs(&c, &b)
    );
    let ing = ingresses(&bed, &api);
    let vips = service_vips(&bed, &api);
    let addresses: BTreeSet<&String> = ing.values().collect();
    assert_eq!(addresses.len(), 100, "an address was given twice: {ing:?}");
    assert_eq!(vips.len(), 100, "{vips:?}");
    let vrids: BTreeSet<&String> = vips.values().map(|v| &v.0).collect();
    assert_eq!(vrids.len(), 100, "a VRID was given twice");
    for (svc, addr) in &ing {
        let (_, a, listed) = &vips[&format!("lb-{addr}")];
        assert_eq!((a, listed.as_str()), (addr, format!("shop/{svc}").as_str()));
    }
    println!(
        "100 Services created at once, leader killed with {} VIPs and {} statuses written: all with distinct addresses after {took:?}",
        at_kill.0, at_kill.1
    );
    let holder = |api: &ApiServer| {
        api.kubectl_ok(
            &bed,
            &[
                "get",
                "lease",
                "-n",
                "kube-vrrp",
                "kube-vrrp-controller",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
        )
    };
    let leader = holder(&api);
    let writes: u64 = [&a, &b, &c]
        .iter()
        .map(|p| {
            p.log_text()
                .lines()
                .filter_map(|l| l.split("writes_total=").nth(1))
                .filter_map(|w| w.split_whitespace().next()?.parse::<u64>().ok())
                .last()
                .unwrap_or(0)
        })
        .sum();
    println!(
        "API writes by the controllers for them (VIP creates, status patches, Events, pool status): {writes}"
    );
    assert!(
        leader == "b" || leader == "c",
        "a replica took over after the kill: {leader}"
    );
    let pool = api.kubectl_ok(
        &bed,
        &[
            "get",
            "vippool",
            "public",
            "-o",
            "jsonpath={.status.assignedIPv4} {.status.availableIPv4}",
        ],
    );
    assert!(
        wait_until(10 * SEC, 200 * MS, || api.kubectl_ok(
            &bed,
            &[
                "get",
                "vippool",
                "public",
                "-o",
                "jsonpath={.status.assignedIPv4}"
            ]
        ) == "100"),
        "{pool}"
    );
    println!("{}", api.kubectl_ok(&bed, &["get", "vippool"]));

    // Conflicts: two Services ask for one address; one asks outside every pool.
    let ask = |name: &str, addr: &str| {
        service(
            name,
            &format!("  annotations: {{kubevrrp.io/loadBalancerIPs: \"{addr}\"}}\n"),
            "",
        )
    };
    let out = api.apply(
        &bed,
        &[
            ask("first", "198.51.100.250"),
            ask("outside", "203.0.113.9"),
        ]
        .join("---\n"),
    );
    assert!(out.status.success());
    assert!(wait_until(30 * SEC, 200 * MS, || ingresses(&bed, &api)
        .get("first")
        .map(String::as_str)
        == Some("198.51.100.250")));
    api.apply(&bed, &ask("second", "198.51.100.250"));
    assert!(
        wait_until(30 * SEC, 200 * MS, || events(&bed, &api, "second")
            .contains(
                "AllocationFailed: 198.51.100.250 is already used by shop/first"
            )),
        "{}",
        events(&bed, &api, "second")
    );
    assert!(wait_until(30 * SEC, 200 * MS, || events(
        &bed, &api, "outside"
    )
    .contains("203.0.113.9 is in no VirtualIPPool")));
    assert_eq!(ingresses(&bed, &api)["second"], "");
    assert!(events(&bed, &api, "first").contains("AddressAllocated: allocated 198.51.100.250"));

    // Sharing: one key, distinct ports, one address and one VirtualIP.
    let shared = |name: &str, port: u16| {
        service(
            name,
            "  annotations: {kubevrrp.io/allow-shared-ip: front}\n",
            "",
        )
        .replace("[{port: 80}]", &format!("[{{port: {port}}}]"))
    };
    api.apply(
        &bed,
        &[shared("http", 80), shared("https", 443)].join("---\n"),
    );
    assert!(
        wait_until(30 * SEC, 200 * MS, || {
            let i = ingresses(&bed, &api);
            i.get("http").is_some_and(|a| !a.is_empty()) && i.get("http") == i.get("https")
        }),
        "{:?}",
        ingresses(&bed, &api)
    );
    let addr = ingresses(&bed, &api)["http"].clone();
    assert_eq!(
        service_vips(&bed, &api)[&format!("lb-{addr}")].2,
        "shop/http,shop/https"
    );

    // The agents run the Service VIPs unchanged: one node holds the shared address, the client
    // reaches it, and `kubectl get vip` shows the master.
    let agents: Vec<Proc> = bed
        .nodes
        .iter()
        .map(|n| start_k8s_agent(&bed, n, &api.kubeconfig()))
        .collect();
    assert!(
        wait_until(30 * SEC, 100 * MS, || bed.holders(&addr).len() == 1),
        "{:?}\n{}",
        bed.holders(&addr),
        agents[0].log_text()
    );
    let ping = Pinger::start(&bed, &addr, 0.05, 10).finish();
    assert!(ping.received > 0, "{ping:?}");
    let vip = format!("lb-{addr}");
    assert!(wait_until(20 * SEC, 200 * MS, || !api
        .vip_field(&bed, &vip, ".status.master")
        .is_empty()));
    println!("{}", api.kubectl_ok(&bed, &["get", "vip", &vip]));
    drop(agents);

    // Release: a deleted Service and one turned into ClusterIP free their addresses.
    let s000 = ingresses(&bed, &api)["s000"].clone();
    api.kubectl_ok(&bed, &["delete", "svc", "-n", "shop", "s000"]);
    api.kubectl_ok(
        &bed,
        &[
            "patch",
            "svc",
            "-n",
            "shop",
            "s001",
            "--type=merge",
            "-p",
            "{\"spec\":{\"type\":\"ClusterIP\",\"loadBalancerClass\":null}}",
        ],
    );
    assert!(
        wait_until(30 * SEC, 200 * MS, || {
            let v = service_vips(&bed, &api);
            !v.contains_key(&format!("lb-{s000}")) && v.len() == 100
        }),
        "{:?}",
        service_vips(&bed, &api).len()
    );
    assert_eq!(ingresses(&bed, &api)["s001"], "");

    // Kill the leader again: the other replica takes over and serves a new Service.
    let (dead, survivor) = if leader == "b" {
        (&mut b, "c")
    } else {
        (&mut c, "b")
    };
    dead.kill();
    api.apply(&bed, &service("after-takeover", "", ""));
    assert!(
        wait_until(30 * SEC, 200 * MS, || ingresses(&bed, &api)
            .get("after-takeover")
            .is_some_and(|a| !a.is_empty())),
        "{}",
        logs(&b, &c)
    );
    assert_eq!(holder(&api), survivor);
}

/// externalTrafficPolicy: Local: the Service VIP goes only to a node with a Ready local
/// endpoint, and follows it when it moves (the old master hands over with priority 0: the
/// client loses nothing).
#[test]
fn a_local_traffic_policy_vip_follows_the_ready_endpoint() {
    let c = cluster(2);
    let (bed, api) = (&c.bed, &c.api);
    let pool_crd =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds/virtualippool.yaml");
    api.kubectl_ok(
        bed,
        &[
            "apply",
            "--server-side",
            "-f",
            pool_crd.to_str().expect("utf-8"),
        ],
    );
    api.kubectl_ok(
        bed,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/virtualippools.kubevrrp.io",
        ],
    );
    api.kubectl_ok(bed, &["create", "namespace", "shop"]);
    assert!(
        api.apply(
            bed,
            &POOL.replace("advertInterval: 1s", "advertInterval: 100ms")
        )
        .status
        .success()
    );
    let _controller = start_controller(bed, api, &api.kubeconfig(), "only");
    let pod = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: web}}}}\nspec:\n  nodeName: {node}\n  containers: [{{name: web, image: example.invalid/web}}]\n"
        )
    };
    let ready = |name: &str, status: &str| {
        let patch = format!(
            "{{\"status\":{{\"conditions\":[{{\"type\":\"Ready\",\"status\":\"{status}\"}}]}}}}"
        );
        api.kubectl_ok(
            bed,
            &[
                "patch",
                "pod",
                name,
                "-n",
                "shop",
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch,
            ],
        );
    };
    assert!(api.apply(bed, &pod("web-a", "node2")).status.success());
    ready("web-a", "True");
    assert!(
        api.apply(bed, &service("web", "", "  externalTrafficPolicy: Local\n"))
            .status
            .success()
    );
    assert!(
        wait_until(30 * SEC, 100 * MS, || ingresses(bed, api)
            .get("web")
            .is_some_and(|a| !a.is_empty())),
        "{}",
        c.logs()
    );
    let addr = ingresses(bed, api)["web"].clone();
    // node1 has no local endpoint: node2 holds the VIP (same priority; node1 is in Fault).
    assert!(wait_holder(bed, &addr, "node2", 15 * SEC), "{}", c.logs());
    assert_eq!(
        state_of(bed, &bed.nodes[0], &format!("lb-{addr}")),
        "Fault",
        "no local endpoint on node1"
    );
    // The endpoint moves to node1: ready there first, then gone from node2.
    let pinger = Pinger::start(bed, &addr, 0.02, 1000);
    std::thread::sleep(SEC);
    assert!(api.apply(bed, &pod("web-b", "node1")).status.success());
    ready("web-b", "True");
    assert!(
        wait_until(10 * SEC, 50 * MS, || state_of(
            bed,
            &bed.nodes[0],
            &format!("lb-{addr}")
        ) == "Backup"),
        "{}",
        c.logs()
    );
    ready("web-a", "False");
    assert!(
        wait_holder(bed, &addr, "node1", 10 * SEC),
        "the VIP did not follow: {}",
        c.logs()
    );
    std::thread::sleep(SEC);
    let report = pinger.stop();
    println!("endpoint moved node2 -> node1: {report:?}");
    assert!(
        report.sent > 50 && report.received == report.sent,
        "{report:?}"
    );
}
