//! Least privilege, proven: the real agents run with the chart's ServiceAccount token and only
//! the chart's capabilities; `kubectl auth can-i` as that ServiceAccount; and each capability
//! shown to be needed.

use std::path::Path;
use std::time::Duration;

use crate::common::agents::*;
use crate::common::bed::*;
use crate::common::k8s::*;
use crate::support::*;

/// Node objects (no kubelet here): node2 carries a label a VirtualIP's priorities select.
fn nodes_yaml(bed: &Bed) -> String {
    bed.nodes
        .iter()
        .map(|n| {
            let labels = if n.name == "node2" {
                "\n  labels: {kubevrrp.io/test-tier: gold}"
            } else {
                ""
            };
            format!(
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: {}{labels}\n",
                n.name
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn agents_with_the_chart_service_account_and_capabilities_run_the_e2e_scenario() {
    let mut bed = Bed::new(3);
    let api = ApiServer::start(&mut bed);
    install(&api, &bed, &[]);
    let out = api.apply(&bed, &nodes_yaml(&bed));
    assert!(out.status.success(), "{}", text(&out));
    // The agents authenticate with the chart's ServiceAccount, not as admin.
    let kubeconfig = api.service_account_kubeconfig(&bed, NS, "kube-vrrp");
    let who = api.kubectl_with(
        &bed,
        &kubeconfig,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&who.stdout),
        "system:serviceaccount:kube-vrrp:kube-vrrp",
        "{}",
        text(&who)
    );
    let agents: Vec<Proc> = bed
        .nodes
        .iter()
        .map(|n| start_k8s_agent_confined(&bed, n, &kubeconfig, NS))
        .collect();
    let logs = || {
        agents
            .iter()
            .map(|a| a.log_text())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let master = |name: &str| api.vip_field(&bed, name, ".status.master");

    // A VirtualIP whose priorities select nodes by label: node2 (200) wins only if its agent
    // reads its own Node (nodes list/watch); without, node3 (150) wins.
    let web = format!(
        "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: web}}\nspec:\n  vrid: 51\n  advertInterval: 100ms\n  addresses: [{VIP4}/32]\n  priority: 100\n  priorities:\n    - {{nodeSelector: {{matchLabels: {{kubevrrp.io/test-tier: gold}}}}, priority: 200}}\n    - {{nodeName: node3, priority: 150}}\n"
    );
    let out = api.apply(&bed, &web);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        wait_holder(&bed, VIP4, "node2", Duration::from_secs(15)),
        "holders {:?}\n{}",
        bed.holders(VIP4),
        logs()
    );
    // Status (virtualips/status patch) names the master.
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(100),
            || master("web") == "node2"
        ),
        "status.master={:?}\n{}",
        master("web"),
        logs()
    );

    // VRRPv2 + PASS: the password is a Secret in the release namespace (secrets get).
    let auth_vip = "198.51.100.101";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: vrrp-auth, namespace: kube-vrrp}\nstringData: {password: \"s3cret\"}\n";
    let out = api.apply(&bed, secret);
    assert!(out.status.success(), "{}", text(&out));
    let auth = vip_doc(
        "auth",
        52,
        2,
        "1s",
        &format!("{auth_vip}/32"),
        &[("node1", 150), ("node2", 100), ("node3", 50)],
        "  authentication: {type: PASS, secretRef: {name: vrrp-auth, key: password}}\n",
    );
    let out = api.apply(&bed, &auth);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        wait_holder(&bed, auth_vip, "node1", Duration::from_secs(15)),
        "holders {:?}\n{}",
        bed.holders(auth_vip),
        logs()
    );
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(100),
            || master("auth") == "node1"
        ),
        "status.master={:?}\n{}",
        master("auth"),
        logs()
    );
    // A Secret of another namespace is not the agents' to read: that VirtualIP cannot run.
    let other = "apiVersion: v1\nkind: Secret\nmetadata: {name: elsewhere, namespace: default}\nstringData: {password: \"s3cret\"}\n";
    assert!(api.apply(&bed, other).status.success());
    let stray = vip_doc(
        "stray",
        53,
        2,
        "1s",
        "198.51.100.102/32",
        &[("node1", 150)],
        "  authentication: {type: PASS, secretRef: {name: elsewhere, key: password}}\n",
    );
    assert!(api.apply(&bed, &stray).status.success());
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            api.vip_field(
                &bed,
                "stray",
                ".status.conditions[?(@.type==\"Invalid\")].status",
            )
            .contains("True")
        }),
        "{}",
        api.kubectl_ok(&bed, &["get", "vip", "stray", "-o", "yaml"])
    );
    assert!(bed.holders("198.51.100.102").is_empty());

    // Failover: the new master is reported (status patch from another node).
    bed.set_link(&bed.nodes[1], false);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            master("web") == "node3" && bed.holders(VIP4) == vec!["node3".to_string()]
        }),
        "status.master={:?} holders={:?}\n{}",
        master("web"),
        bed.holders(VIP4),
        logs()
    );
    // Transitions were recorded as Events (events.k8s.io create/patch in "default").
    let events = api.kubectl_ok(
        &bed,
        &[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "involvedObject.name=web",
        ],
    );
    assert!(events.contains("MasterDown"), "{events}\n{}", logs());
    // Nothing the agents asked for was refused.
    let all = logs();
    for refused in ["forbidden", "Forbidden", " 403"] {
        assert!(!all.contains(refused), "an API call was refused:\n{all}");
    }
    // The configuration cache was written (root, no CAP_DAC_OVERRIDE).
    for n in &bed.nodes {
        let cache = bed.dir.join(format!("cache-{}/cluster-view.json", n.name));
        assert!(cache.exists(), "{} missing\n{all}", cache.display());
    }
}

/// `kubectl auth can-i` as the ServiceAccount (its own token): true for "yes".
fn can_i(api: &ApiServer, bed: &Bed, kubeconfig: &Path, query: &str) -> bool {
    let mut args = vec!["auth", "can-i"];
    args.extend(query.split_whitespace());
    let out = api.kubectl_with(bed, kubeconfig, &args);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        answer == "yes" || answer == "no",
        "can-i {query}: {}",
        text(&out)
    );
    answer == "yes"
}

fn check_can_i(api: &ApiServer, bed: &Bed, kubeconfig: &Path, cases: &[(&str, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(q, want)| can_i(api, bed, kubeconfig, q) != *want)
        .map(|(q, want)| format!("can-i {q}: expected {}", if *want { "yes" } else { "no" }))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_service_account_cannot_read_secrets_widely_change_specs_or_delete() {
    let mut bed = Bed::new(0);
    let api = ApiServer::start(&mut bed);
    install(&api, &bed, &[]);
    let sa = api.service_account_kubeconfig(&bed, NS, "kube-vrrp");
    let cases: &[(&str, bool)] = &[
        // What the agent uses (so a "no" below is not a broken token).
        ("list virtualips.kubevrrp.io", true),
        ("watch virtualips.kubevrrp.io", true),
        ("patch virtualips.kubevrrp.io --subresource=status", true),
        ("list nodes", true),
        ("watch nodes", true),
        ("get secrets -n kube-vrrp", true),
        ("create events.events.k8s.io -n default", true),
        ("patch events.events.k8s.io -n default", true),
        // Secrets: get by name in its own namespace only.
        ("list secrets -A", false),
        ("list secrets -n kube-vrrp", false),
        ("watch secrets -n kube-vrrp", false),
        ("get secrets -n default", false),
        ("get secrets -n kube-system", false),
        ("create secrets -n kube-vrrp", false),
        ("update secrets -n kube-vrrp", false),
        // A VirtualIP's spec: no writes at all; status only by patch.
        ("patch virtualips.kubevrrp.io", false),
        ("update virtualips.kubevrrp.io", false),
        ("create virtualips.kubevrrp.io", false),
        ("update virtualips.kubevrrp.io --subresource=status", false),
        // Nothing deleted, ever.
        ("delete virtualips.kubevrrp.io", false),
        ("deletecollection virtualips.kubevrrp.io", false),
        ("delete nodes", false),
        ("delete pods -A", false),
        ("delete secrets -n kube-vrrp", false),
        ("delete events.events.k8s.io -n default", false),
        ("delete daemonsets.apps -n kube-vrrp", false),
        (
            "delete customresourcedefinitions.apiextensions.k8s.io",
            false,
        ),
        // Nothing else.
        ("patch nodes", false),
        ("list pods -A", false),
        ("create events.events.k8s.io -n kube-system", false),
        ("create events -n default", false),
        ("list configmaps -n kube-vrrp", false),
        ("create leases.coordination.k8s.io -n kube-vrrp", false),
        ("* *", false),
    ];
    check_can_i(&api, &bed, &sa, cases);

    // Pod trackers add pods read, and only that.
    upgrade(&api, &bed, &["podTrackers.enabled=true"]);
    check_can_i(
        &api,
        &bed,
        &sa,
        &[
            ("list pods -A", true),
            ("watch pods -A", true),
            ("get pods -n default", false),
            ("delete pods -A", false),
            ("create pods -n kube-vrrp", false),
            ("list secrets -n kube-vrrp", false),
        ],
    );
    // rbac.secretNames narrows secrets get to those names.
    upgrade(&api, &bed, &["rbac.secretNames={vrrp-auth}"]);
    check_can_i(
        &api,
        &bed,
        &sa,
        &[
            ("get secrets/vrrp-auth -n kube-vrrp", true),
            ("get secrets/other -n kube-vrrp", false),
            ("list pods -A", false),
        ],
    );
}

/// Standalone `kube-vrrp run` on node1 as root with only the given capabilities (as the pod's
/// securityContext leaves them), no_new_privs.
fn run_with_caps(bed: &Bed, config: &Path, caps: &str) -> Proc {
    let bin = binary();
    bed.spawn(
        &bed.nodes[0],
        &format!("caps{}", caps.replace([',', '+', '-'], "_")),
        &[
            "setpriv",
            &format!("--bounding-set=-all{caps}"),
            "--inh-caps=-all",
            "--no-new-privs",
            bin.to_str().expect("utf-8"),
            "run",
            "--config",
            config.to_str().expect("utf-8"),
            "--node-name",
            "node1",
            "--http-addr",
            "127.0.0.1:9650",
        ],
    )
}

#[test]
fn net_admin_and_net_raw_are_enough_and_both_are_needed() {
    let bed = Bed::new(1);
    let config = bed.write(
        "vips.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 150)],
            "",
        ),
    );
    // Both: the agent runs and takes the VIP (alone on the link, it becomes master).
    let mut both = run_with_caps(&bed, &config, ",+net_admin,+net_raw");
    assert!(
        wait_holder(&bed, VIP4, "node1", Duration::from_secs(10)),
        "{}",
        both.log_text()
    );
    both.signal("TERM");
    assert!(
        both.wait_exit(Duration::from_secs(10)),
        "{}",
        both.log_text()
    );
    assert!(wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || bed.holders(VIP4).is_empty()
    ));
    // Without NET_RAW: no VRRP socket, no VIP.
    let no_raw = run_with_caps(&bed, &config, ",+net_admin");
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            no_raw.log_text().contains("raw socket")
        }),
        "{}",
        no_raw.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(bed.holders(VIP4).is_empty(), "{}", no_raw.log_text());
    drop(no_raw);
    // Without NET_ADMIN: no address changes over rtnetlink, no VIP.
    let no_admin = run_with_caps(&bed, &config, ",+net_raw");
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            no_admin.log_text().contains("Operation not permitted")
        }),
        "{}",
        no_admin.log_text()
    );
    assert!(bed.holders(VIP4).is_empty(), "{}", no_admin.log_text());
}
