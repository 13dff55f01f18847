//! The standalone file: multi-document YAML holding VirtualIP documents and the Secret documents
//! their `secretRef`s resolve against, the same documents `kubectl apply` takes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::file_read::{self, ReadError, Stamp};
use crate::spec::{API_VERSION, KIND, VirtualIpSpec};
use crate::translate;

/// Why a file was refused; the message names the file, the document and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: ReadError,
    },
    /// No VirtualIP at all: applying it would release every address at once, which is what an
    /// accidental truncation (`: > vips.yaml`) looks like. To run nothing, stop the daemon.
    #[error(
        "{path}: no VirtualIP documents (empty, or only comments or Secrets); refused, because applying it would release every VIP; to release them all, stop kube-vrrp"
    )]
    Empty {
        /// File.
        path: PathBuf,
    },
    /// Not YAML.
    #[error("{path}: invalid YAML: {message}")]
    Yaml {
        /// File.
        path: PathBuf,
        /// Parser message with location.
        message: String,
    },
    /// A document is wrong.
    #[error("{path}: document {index} ({what}): {message}")]
    Document {
        /// File.
        path: PathBuf,
        /// 1-based index of the document.
        index: usize,
        /// Kind and name, as far as known.
        what: String,
        /// Field and problem.
        message: String,
    },
}

/// The loaded file: the input of translation (see [`crate::translate::Documents`]).
pub use crate::translate::{Documents as ConfigFile, VirtualIpDoc};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: String,
}

/// Load and check a file (see [`crate::file_read`] for what is refused before parsing).
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    read(path).and_then(|(text, _)| parse(path, &text))
}

/// Read a file with the checks of [`crate::file_read`], without parsing it.
pub fn read(path: &Path) -> Result<(String, Stamp), ConfigError> {
    file_read::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parse and check file contents; `path` is used in messages.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| ConfigError::Yaml {
        path: path.to_path_buf(),
        message: e.render_with_formatter(&crate::yaml_messages::Messages),
    })?;
    let mut file = ConfigFile::default();
    let mut names = BTreeMap::new();
    // The document number of each VirtualIP, for messages after the loop.
    let mut doc_index = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let index = i + 1;
        let fail = |what: &str, message: String| ConfigError::Document {
            path: path.to_path_buf(),
            index,
            what: what.to_string(),
            message,
        };
        if doc.is_null() {
            continue; // an empty document, e.g. a trailing `---`
        }
        if !doc.is_object() {
            let what = if doc.is_array() { "a list" } else { "a value" };
            return Err(fail(
                what,
                "must be a mapping: a VirtualIP or a Secret (apiVersion, kind, metadata, ...)"
                    .into(),
            ));
        }
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = if name.is_empty() {
            short(&kind)
        } else {
            format!("{} {}", short(&kind), short(&name))
        };
        let meta: Metadata = decode(
            doc.get("metadata").cloned().unwrap_or(Value::Null),
            "metadata",
        )
        .map_err(|m| fail(&what, m))?;
        match kind.as_str() {
            KIND => {
                let api = doc
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if api != API_VERSION {
                    return Err(fail(
                        &what,
                        format!("apiVersion: must be {API_VERSION}, got {api:?}"),
                    ));
                }
                let spec: VirtualIpSpec =
                    decode(doc.get("spec").cloned().unwrap_or(Value::Null), "spec")
                        .map_err(|m| fail(&what, m))?;
                if let Some(e) = translate::validate(&spec).into_iter().next() {
                    return Err(fail(&what, e.to_string()));
                }
                if let Some(previous) = names.insert(meta.name.clone(), index) {
                    return Err(fail(
                        &what,
                        format!(
                            "metadata.name: {:?} already used by document {previous}",
                            meta.name
                        ),
                    ));
                }
                if let Err(m) = check_name(&meta.name) {
                    return Err(fail(&what, format!("metadata.name: {m}")));
                }
                doc_index.push(index);
                file.virtual_ips.push(VirtualIpDoc {
                    name: meta.name,
                    spec,
                });
            }
            "Secret" => {
                let mut values = BTreeMap::new();
                if let Some(data) = doc.get("data") {
                    let data: BTreeMap<String, String> =
                        decode(data.clone(), "data").map_err(|m| fail(&what, m))?;
                    for (k, v) in data {
                        let bytes = base64_decode(&v)
                            .ok_or_else(|| fail(&what, format!("data.{k}: not base64")))?;
                        let s = String::from_utf8(bytes)
                            .map_err(|_| fail(&what, format!("data.{k}: not UTF-8 text")))?;
                        values.insert(k, s);
                    }
                }
                if let Some(data) = doc.get("stringData") {
                    let data: BTreeMap<String, String> =
                        decode(data.clone(), "stringData").map_err(|m| fail(&what, m))?;
                    values.extend(data);
                }
                file.secrets.insert(meta.name, values);
            }
            "" => {
                return Err(fail(
                    &what,
                    "kind: missing (expected VirtualIP or Secret)".into(),
                ));
            }
            other => {
                return Err(fail(
                    &what,
                    format!("kind: {other:?} is not supported here (expected VirtualIP or Secret)"),
                ));
            }
        }
    }
    // Every secretRef must resolve, so a typo fails at load time, not at the first advert.
    for (v, index) in file.virtual_ips.iter().zip(doc_index) {
        if let Some(auth) = &v.spec.authentication {
            let checked = file
                .password(&auth.secret_ref)
                .and_then(|p| check_password(&p));
            if let Err(e) = checked {
                return Err(ConfigError::Document {
                    path: path.to_path_buf(),
                    index,
                    what: format!("VirtualIP {}", v.name),
                    message: format!("spec.authentication.secretRef: {e}"),
                });
            }
        }
    }
    if file.virtual_ips.is_empty() {
        return Err(ConfigError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// A name or kind from the file as it may appear in a message: control characters escaped, cut
/// after 64 characters.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(64).flat_map(char::escape_debug).collect();
    if s.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

/// A PASS password travels in an 8-byte field (RFC 3768 §5.3.11): refuse what would be cut or
/// empty rather than send something else than was written.
fn check_password(p: &str) -> Result<(), String> {
    match p.len() {
        0 => Err("the password is empty; PASS needs 1 to 8 bytes".into()),
        1..=8 => Ok(()),
        n => Err(format!(
            "the password has {n} bytes; PASS carries at most 8 (keepalived would cut it to its first 8)"
        )),
    }
}

/// metadata.name as Kubernetes checks it (a DNS-1123 subdomain: at most 253 characters of
/// lower-case letters, digits, '-' and '.', starting and ending with a letter or digit), so a
/// name is the same valid name in a file and in a cluster, and safe in a table or a log line.
pub fn check_name(name: &str) -> Result<(), String> {
    let shown = short(name);
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 253 {
        return Err(format!("\"{shown}\" is longer than 253 characters"));
    }
    let body_ok = name.chars().all(|c| ok_char(c) || c == '-' || c == '.');
    let ends_ok = name.starts_with(ok_char) && name.ends_with(ok_char);
    if !body_ok || !ends_ok {
        return Err(format!(
            "\"{shown}\" is not a valid name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (as Kubernetes requires)"
        ));
    }
    Ok(())
}

/// Decode a JSON value into `T`, naming the failing field under `prefix`.
fn decode<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            prefix.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        format!("{field}: {}", e.inner())
    })
}

/// Standard base64 (Kubernetes Secret `data`): padding optional, whitespace (a wrapped value)
/// ignored.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<ConfigFile, ConfigError> {
        parse(Path::new("vips.yaml"), text)
    }

    #[test]
    fn loads_virtualips_and_secrets() {
        let f = p(r#"
apiVersion: kubevrrp.io/v1alpha1
kind: VirtualIP
metadata: {name: web}
spec:
  vrid: 51
  version: 2
  addresses: [198.51.100.100/32]
  authentication: {type: PASS, secretRef: {name: vrrp-auth, key: password}}
---
apiVersion: v1
kind: Secret
metadata: {name: vrrp-auth}
data: {password: MTExMQ==}
"#)
        .unwrap();
        assert_eq!(f.virtual_ips.len(), 1);
        assert_eq!(f.virtual_ips[0].spec.advert_interval, "1s");
        assert_eq!(f.virtual_ips[0].spec.priority, 100);
        let auth = f.virtual_ips[0].spec.authentication.as_ref().unwrap();
        assert_eq!(f.password(&auth.secret_ref).unwrap(), "1111");
    }

    #[test]
    fn secret_data_is_standard_base64_with_optional_padding() {
        assert_eq!(base64_decode("MTExMQ==").as_deref(), Some(&b"1111"[..]));
        assert_eq!(base64_decode("MTExMQ").as_deref(), Some(&b"1111"[..]));
        assert_eq!(
            base64_decode(" MTEx\nMQ==\n").as_deref(),
            Some(&b"1111"[..])
        );
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(base64_decode("MTExMQ-_"), None);
        assert_eq!(base64_decode("*"), None);
    }

    #[test]
    fn errors_name_file_document_and_field() {
        let e = p("kind: VirtualIP\napiVersion: kubevrrp.io/v1alpha1\nmetadata: {name: a}\nspec: {vrid: 1, addresses: [198.51.100.1], advertInterval: 15ms}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("vips.yaml: document 1 (VirtualIP a): spec.advertInterval"),
            "{e}"
        );
        let e = p("kind: VirtualIP\napiVersion: kubevrrp.io/v1alpha1\nmetadata: {name: a}\nspec: {vrid: 1, addresses: [198.51.100.1], prio: 3}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("vips.yaml: document 1 (VirtualIP a): spec") && e.contains("`prio`"),
            "{e}"
        );
        let e = p("kind: VirtualIP\napiVersion: kubevrrp.io/v1alpha1\nmetadata: {name: a}\nspec: {vrid: 300, addresses: [198.51.100.1]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.vrid"), "{e}");
        let e = p("kind: Deployment\nmetadata: {name: x}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Deployment"), "{e}");
        let e = p("a: [").unwrap_err().to_string();
        assert!(e.contains("invalid YAML"), "{e}");
        let e = p("kind: VirtualIP\napiVersion: kubevrrp.io/v1alpha1\nmetadata: {name: a}\nspec: {vrid: 1, version: 2, addresses: [198.51.100.1], authentication: {type: PASS, secretRef: {name: s, key: k}}}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Secret \"s\""), "{e}");
    }
}
