//! The image CI builds without a container engine (hack/image.sh) is the Dockerfile's image: the
//! same entrypoint, command, user, port and labels, and the same static binary. The archive is
//! built by hack/test.sh before the tests (hack/image.sh); a missing archive is a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The final stage of the Dockerfile: instruction -> arguments (LABEL and ARG merged).
fn final_stage() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    // Join continuation lines, drop comments.
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(t);
            lines.push(std::mem::take(&mut current));
        }
    }
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let mut fields = BTreeMap::new();
    let mut labels = BTreeMap::new();
    let mut args = BTreeMap::new();
    for l in &lines[start + 1..] {
        let (instr, rest) = l.split_once(' ').unwrap_or((l, ""));
        match instr {
            "ARG" => {
                if let Some((k, v)) = rest.split_once('=') {
                    args.insert(k.to_string(), v.to_string());
                }
            }
            "LABEL" => {
                // key="value" pairs
                let mut rest = rest.trim();
                while let Some((k, after)) = rest.split_once("=\"") {
                    let (v, tail) = after.split_once('"').expect("closing quote");
                    let mut v = v.to_string();
                    for (name, value) in &args {
                        v = v.replace(&format!("${{{name}}}"), value);
                    }
                    labels.insert(k.trim().to_string(), v);
                    rest = tail.trim();
                }
            }
            other => {
                fields.insert(other.to_string(), rest.trim().to_string());
            }
        }
    }
    (fields, labels)
}

/// A file of the OCI archive, by path inside it.
fn archive_file(archive: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("tar")
        .args(["-xOf", archive.to_str().expect("utf-8"), path])
        .output()
        .expect("tar");
    assert!(out.status.success(), "{path} in {}", archive.display());
    out.stdout
}

fn blob(archive: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    serde_json::from_slice(&archive_file(archive, &format!("blobs/sha256/{hex}"))).expect("json")
}

#[test]
fn the_local_image_is_the_dockerfiles_image() {
    let version = env!("CARGO_PKG_VERSION");
    let archive = repo().join(format!("hack/image/out/kube-vrrp-{version}.oci.tar"));
    assert!(
        archive.exists(),
        "{} is missing: run hack/image.sh (hack/test.sh does)",
        archive.display()
    );
    let index: Value =
        serde_json::from_slice(&archive_file(&archive, "index.json")).expect("index.json");
    let manifest = blob(
        &archive,
        index["manifests"][0]["digest"].as_str().expect("digest"),
    );
    let config = blob(
        &archive,
        manifest["config"]["digest"].as_str().expect("digest"),
    );
    let image = &config["config"];
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        format!("localhost/kube-vrrp:{version}")
    );

    let (docker, labels) = final_stage();
    let json_list = |s: &str| serde_json::from_str::<Value>(s).expect("JSON form");
    assert_eq!(
        image["Entrypoint"],
        json_list(&docker["ENTRYPOINT"]),
        "ENTRYPOINT"
    );
    assert_eq!(image["Cmd"], json_list(&docker["CMD"]), "CMD");
    assert_eq!(image["User"], docker["USER"].as_str(), "USER");
    let port = format!("{}/tcp", docker["EXPOSE"]);
    assert!(
        image["ExposedPorts"].get(&port).is_some(),
        "EXPOSE {port}: {image}"
    );
    for key in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.description",
        "org.opencontainers.image.version",
    ] {
        assert_eq!(image["Labels"][key], labels[key].as_str(), "LABEL {key}");
    }
    assert_eq!(labels["org.opencontainers.image.version"], version);
    // One layer: the binary at the entrypoint's path, and nothing else but its directories.
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("layer")
        .strip_prefix("sha256:")
        .expect("sha256")
        .to_string();
    let listing = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "tar -xOf {} blobs/sha256/{layer} | tar -tzvf -",
            archive.display()
        ))
        .output()
        .expect("tar");
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(
        listing.contains("-rwx") && listing.ends_with("kube-vrrp\n"),
        "{listing}"
    );
}
