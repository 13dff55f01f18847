//! Inputs the RFCs or Kubernetes forbid, and what `run` and `status` say about them (issue 20,
//! "Smaller"). The file checks need no network; the daemon checks run in a bed (root).

mod common;

use std::path::Path;
use std::time::Duration;

use common::agents::*;
use common::bed::*;
use kube_vrrp::config::parse;
use kube_vrrp::dataplane::InstanceStatus;

fn vip(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {{name: {name}}}\nspec:\n  vrid: 51\n  addresses: [198.51.100.100/32]\n{extra_spec}"
    )
}

fn refused(text: &str) -> String {
    match parse(Path::new("vips.yaml"), text) {
        Ok(f) => panic!("accepted: {f:?}\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn pass_passwords_must_fit_the_wire() {
    let doc = |pw: &str| {
        format!(
            "{}---\n{}",
            vip(
                "web",
                "  version: 2\n  authentication: {type: PASS, secretRef: {name: s, key: password}}\n"
            ),
            secret_doc("s", pw)
        )
    };
    let e = refused(&doc("0123456789abcdefghi"));
    assert!(e.contains("19 bytes; PASS carries at most 8"), "{e}");
    let e = refused(&doc(""));
    assert!(e.contains("the password is empty"), "{e}");
    assert!(parse(Path::new("v.yaml"), &doc("12345678")).is_ok());
}

#[test]
fn addresses_and_peers_no_router_can_have_are_refused() {
    for (address, needle) in [
        ("198.51.100.100/0", "a /0 prefix"),
        ("0.0.0.0/32", "not a unicast address"),
        ("224.0.0.18/32", "not a unicast address"),
        ("255.255.255.255/32", "not a unicast address"),
        ("127.0.0.1/32", "not a unicast address"),
        ("::/128", "not a unicast address"),
    ] {
        let text = vip("web", "").replace("198.51.100.100/32", address);
        let e = refused(&text);
        assert!(
            e.contains("spec.addresses[0]") && e.contains(needle),
            "{address}: {e}"
        );
    }
    for peer in ["224.0.0.18", "255.255.255.255", "0.0.0.0", "127.0.0.1"] {
        let e = refused(&vip(
            "web",
            &format!("  unicastPeers: [198.51.100.12, {peer}]\n"),
        ));
        assert!(
            e.contains("spec.unicastPeers[1]") && e.contains("cannot be a router"),
            "{peer}: {e}"
        );
    }
}

#[test]
fn names_are_checked_as_kubernetes_does_and_never_echoed_whole() {
    let e = refused(&vip("\"\"", ""));
    assert!(e.contains("metadata.name: must not be empty"), "{e}");
    let e = refused(&vip("Web_1", ""));
    assert!(e.contains("not a valid name"), "{e}");
    let e = refused(&vip("\"a\\nb\"", ""));
    assert!(e.contains("not a valid name") && !e.contains("a\nb"), "{e}");
    let huge = "a".repeat(100_000);
    let e = refused(&vip(&huge, ""));
    assert!(
        e.contains("longer than 253") && e.len() < 1_000,
        "{} bytes",
        e.len()
    );
}

#[test]
fn messages_count_documents_not_virtual_ips() {
    // A Secret first, then a good VirtualIP, then one whose key is missing: document 3.
    let text = format!(
        "{}---\n{}---\n{}",
        secret_doc("s", "1111"),
        vip("ok1", "").replace("vrid: 51", "vrid: 50"),
        vip(
            "web",
            "  version: 2\n  authentication: {type: PASS, secretRef: {name: s, key: nope}}\n"
        )
    );
    let e = refused(&text);
    assert!(e.contains("document 3 (VirtualIP web)"), "{e}");
}

#[test]
fn the_status_table_escapes_what_it_prints() {
    let forged = InstanceStatus {
        name: "web\nevil  51  eth0  Master".into(),
        state: kube_vrrp::dataplane::status::ReportedState::Backup,
        ..Default::default()
    };
    let table = kube_vrrp::status_client::table(&[forged]);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains("web\\nevil"), "{table}");
}

#[test]
fn status_names_a_timeout_as_one() {
    let bed = Bed::new(1);
    // A server that accepts and never answers.
    let _mute = bed.spawn(
        &bed.nodes[0],
        "mute",
        &[
            "python3",
            "-c",
            "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',9650));s.listen(5);c=s.accept();time.sleep(30)",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let bin = binary();
    let out = bed.exec(
        &bed.nodes[0].ns,
        &[
            bin.to_str().expect("utf-8"),
            "status",
            "--http-addr",
            "127.0.0.1:9650",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer within 3 s"), "{err}");
}

#[test]
fn readiness_and_exit_status_tell_the_truth() {
    // One VirtualIP runs; one cannot (no interface has a subnet holding its address).
    let bed = Bed::new(1);
    let text = format!(
        "{}---\n{}",
        vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 100)],
            ""
        ),
        vip_doc(
            "stray",
            52,
            3,
            "100ms",
            "203.0.113.50/32",
            &[("node1", 100)],
            ""
        )
    );
    let cfg = bed.write("vips.yaml", &text);
    let mut agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(wait_ready(&bed, &bed.nodes[0]), "{}", agent.log_text());
    let ready = http_get(&bed, &bed.nodes[0], "/readyz");
    assert!(
        ready.contains("503") && ready.contains("cannot run stray"),
        "{ready}"
    );
    agent.signal("TERM");
    assert!(agent.wait_exit(Duration::from_secs(10)));
    let code = agent.child.try_wait().ok().flatten().and_then(|s| s.code());
    assert_eq!(code, Some(1), "{}", agent.log_text());
    assert!(
        agent
            .log_text()
            .contains("these VirtualIPs could not run: stray"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn priority_255_on_a_node_that_does_not_own_the_address_is_warned() {
    let bed = Bed::new(1);
    let cfg = bed.write(
        "vips.yaml",
        &vip_doc(
            "web",
            51,
            3,
            "100ms",
            &format!("{VIP4}/32"),
            &[("node1", 255)],
            "",
        ),
    );
    let agent = start_agent(&bed, &bed.nodes[0], &cfg);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || agent
            .log_text()
            .contains("priority 255 is for the address owner")),
        "{}",
        agent.log_text()
    );
}

#[test]
fn a_document_that_is_not_a_mapping_is_named_so() {
    let e = refused("- a\n- b\n");
    assert!(e.contains("document 1 (a list): must be a mapping"), "{e}");
    let e = refused(&format!("{}---\nhello\n", vip("web", "")));
    assert!(e.contains("document 2 (a value): must be a mapping"), "{e}");
}

#[test]
fn a_vip_that_is_the_nodes_own_address_is_named_so() {
    use kube_vrrp::translate::{InterfaceFacts, NodeFacts, parse_prefixed, translate};
    let file = parse(Path::new("v.yaml"), &vip("web", "")).expect("loads");
    let node = NodeFacts {
        name: "node1".into(),
        labels: Default::default(),
        interfaces: vec![InterfaceFacts {
            name: "eth0".into(),
            addresses: vec![parse_prefixed("198.51.100.100/24").expect("address")],
        }],
    };
    let errors = translate("web", &file.virtual_ips[0].spec, &node, &|_| {
        Ok(String::new())
    })
    .expect_err("refused");
    let e = errors[0].to_string();
    assert!(
        e.contains("198.51.100.100 is an address of node node1 on eth0"),
        "{e}"
    );
}
