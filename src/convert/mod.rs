//! `kube-vrrp convert`: keepalived configuration files in, VirtualIP documents out, with one
//! warning per option that has no equivalent (docs/convert.md lists every keyword).
//!
//! One file converts one host: each `vrrp_instance` becomes a VirtualIP with that host's
//! priority. Files given with node names (`--node NAME=FILE`) are hosts of one cluster: the
//! instances of one virtual router (same VRID and address family) merge into one VirtualIP whose
//! `priorities` list gives each node its priority. PASS passwords go into Secret documents that
//! the VirtualIPs reference. The output loads with [`crate::config::parse`].
//!
//! Stages: [`parse`] (grammar, includes), [`defs`] (top level and tracker definitions),
//! [`instance`] (one vrrp_instance), [`merge`] (hosts), then naming and YAML here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::spec::{API_VERSION, KIND, VirtualIpSpec};

mod added;
mod defs;
mod entries;
mod glob;
mod instance;
mod keywords;
mod merge;
mod parse;
mod values;

use parse::Loc;

/// How to convert.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// Turn every warning into an error.
    pub strict: bool,
    /// Name of the Secret holding PASS passwords; default: one Secret per VirtualIP, named
    /// `<virtualip-name>-auth`.
    pub secret_name: Option<String>,
}

/// One keepalived configuration file, the configuration of one host.
#[derive(Clone, Debug)]
pub struct HostFile {
    /// The host's node name (`--node NAME=FILE`); None for a single file converted alone.
    pub node: Option<String>,
    /// The file.
    pub path: PathBuf,
}

/// An option that was not converted as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// File the option is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The keepalived keyword.
    pub option: String,
    /// What happened to it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}: {}",
            self.file.display(),
            self.line,
            self.option,
            self.message
        )
    }
}

/// The converted configuration.
#[derive(Clone, Debug)]
pub struct Output {
    /// Multi-document YAML: the VirtualIP documents, then the Secret documents.
    pub yaml: String,
    /// Warnings, in the order of the files.
    pub warnings: Vec<Warning>,
}

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The files and node names do not fit together.
    #[error("{0}")]
    Usage(String),
    /// A file given on the command line could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A syntax error or a bad value.
    #[error("{}:{line}:{column}: error: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// No vrrp_instance with addresses in the files.
    #[error("no vrrp_instance with a virtual_ipaddress to convert in {files}{}", if warnings.is_empty() { String::new() } else { format!("; warnings:\n{}", lines(warnings)) })]
    NoInstances {
        /// The files, comma-separated.
        files: String,
        /// What was skipped on the way (an include that is not a regular file, ...).
        warnings: Vec<Warning>,
    },
    /// `strict` is set and there were warnings.
    #[error("{} warning(s), and --strict makes them errors:\n{}", warnings.len(), lines(warnings))]
    Strict {
        /// The warnings.
        warnings: Vec<Warning>,
    },
    /// The YAML could not be written.
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

fn lines(warnings: &[Warning]) -> String {
    let all: Vec<String> = warnings.iter().map(Warning::to_string).collect();
    all.join("\n")
}

/// Warnings collected on the way.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    pub warnings: Vec<Warning>,
}

impl Diagnostics {
    pub(crate) fn warn(&mut self, at: &Loc, option: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: at.file.to_path_buf(),
            line: at.line,
            option: option.to_string(),
            message: message.into(),
        });
    }
}

/// Convert keepalived configuration files: one file without node name, or one file per host,
/// each with its node name.
pub fn convert(files: &[HostFile], opts: &ConvertOptions) -> Result<Output, ConvertError> {
    check_files(files)?;
    let mut diag = Diagnostics::default();
    let mut hosts = Vec::new();
    for f in files {
        let stmts = parse::parse_file(&f.path, &mut diag)?;
        let (defs, statements) = defs::top_level(&stmts, &mut diag)?;
        let mut instances = Vec::new();
        for s in statements {
            if let Some(c) = instance::convert(s, &defs, &mut diag)? {
                instances.push(c);
            }
        }
        hosts.push(merge::Host {
            node: f.node.clone(),
            instances,
        });
    }
    if hosts.iter().all(|h| h.instances.is_empty()) {
        let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        return Err(ConvertError::NoInstances {
            files: names.join(", "),
            warnings: diag.warnings,
        });
    }
    let vips = merge::merge(hosts, &mut diag);
    let yaml = write(vips, opts)?;
    if opts.strict && !diag.warnings.is_empty() {
        return Err(ConvertError::Strict {
            warnings: diag.warnings,
        });
    }
    Ok(Output {
        yaml,
        warnings: diag.warnings,
    })
}

fn check_files(files: &[HostFile]) -> Result<(), ConvertError> {
    let usage = |m: &str| Err(ConvertError::Usage(m.to_string()));
    let named: Vec<&str> = files.iter().filter_map(|f| f.node.as_deref()).collect();
    if files.is_empty() {
        return usage("no keepalived configuration file given");
    }
    if !named.is_empty() && named.len() != files.len() {
        return usage("give either one FILE, or --node NAME=FILE for every host");
    }
    if named.is_empty() && files.len() > 1 {
        return usage("several files are several hosts: name each with --node NAME=FILE");
    }
    for (i, n) in named.iter().enumerate() {
        if n.is_empty() {
            return usage("--node NAME=FILE: the node name is empty");
        }
        if named.get(..i).is_some_and(|before| before.contains(n)) {
            return Err(ConvertError::Usage(format!("node {n} is given twice")));
        }
    }
    Ok(())
}

/// A name from the input as messages and comments show it: control characters escaped, cut
/// after 64 characters (a 10 MB name must not become a 10 MB message).
pub(crate) fn shown(name: &str) -> String {
    let mut out: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

/// A DNS-1123 label from a vrrp_instance name: lower case, `-` for anything else, at most 63
/// characters.
pub(crate) fn dns_name(raw: &str, vrid: u8) -> String {
    let mut out = String::new();
    for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.chars().take(63).collect();
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        format!("vrid-{vrid}")
    } else {
        out.to_string()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Doc<'a, T: Serialize> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<&'a VirtualIpSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    string_data: Option<T>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
}

fn to_yaml<T: Serialize>(doc: &T) -> Result<String, ConvertError> {
    serde_saphyr::to_string(doc).map_err(|e| ConvertError::Yaml(e.to_string()))
}

/// Name the VirtualIPs and Secrets, check the specs, and write the documents.
fn write(vips: Vec<merge::Vip>, opts: &ConvertOptions) -> Result<String, ConvertError> {
    let mut docs = Vec::new();
    let mut secrets: Vec<(String, BTreeMap<String, String>, Vec<String>)> = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut secret_at: std::collections::HashMap<String, usize> = Default::default();
    let distinct: Vec<String> = {
        let mut d: Vec<String> = vips.iter().filter_map(|v| v.password.clone()).collect();
        d.sort();
        d.dedup();
        d
    };
    for mut vip in vips {
        let base = dns_name(&vip.instance, vip.spec.vrid);
        let mut name = base.clone();
        let mut n = 1;
        while used.contains(&name) {
            n += 1;
            let suffix = format!("-{n}");
            let keep: String = base.chars().take(63 - suffix.len()).collect();
            name = format!("{}{suffix}", keep.trim_end_matches('-'));
        }
        used.insert(name.clone());
        if let (Some(auth), Some(password)) = (&mut vip.spec.authentication, &vip.password) {
            let (secret, key) = match &opts.secret_name {
                None => (format!("{name}-auth"), "password".to_string()),
                Some(s) if distinct.len() <= 1 => (s.clone(), "password".to_string()),
                Some(s) => (s.clone(), name.clone()),
            };
            auth.secret_ref.name = secret.clone();
            auth.secret_ref.key = key.clone();
            match secret_at.get(&secret).and_then(|&i| secrets.get_mut(i)) {
                Some((_, data, users)) => {
                    data.insert(key, password.clone());
                    users.push(vip.instance.clone());
                }
                None => {
                    secret_at.insert(secret.clone(), secrets.len());
                    secrets.push((
                        secret,
                        BTreeMap::from([(key, password.clone())]),
                        vec![vip.instance.clone()],
                    ))
                }
            }
        }
        if let Some(e) = crate::translate::validate(&vip.spec).into_iter().next()
            && let Some(at) = vip.sources.first()
        {
            return Err(parse::error_at(
                at,
                format!(
                    "vrrp_instance {}: converts to an invalid VirtualIP: {e}",
                    shown(&vip.instance)
                ),
            ));
        }
        let from: Vec<String> = vip
            .sources
            .iter()
            .map(|l| format!("{}:{}", l.file.display(), l.line))
            .collect();
        let doc = Doc::<()> {
            api_version: API_VERSION,
            kind: KIND,
            metadata: Metadata { name: &name },
            spec: Some(&vip.spec),
            string_data: None,
        };
        docs.push(format!(
            "# vrrp_instance {} ({})\n{}",
            shown(&vip.instance),
            from.join(", "),
            to_yaml(&doc)?
        ));
    }
    for (name, data, users) in &secrets {
        let doc = Doc {
            api_version: "v1",
            kind: "Secret",
            metadata: Metadata { name },
            spec: None,
            string_data: Some(data),
        };
        docs.push(format!(
            "# PASS password of vrrp_instance {}\n{}",
            users
                .iter()
                .map(|u| shown(u))
                .collect::<Vec<_>>()
                .join(", "),
            to_yaml(&doc)?
        ));
    }
    Ok(docs.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(dns_name("VI_1", 51), "vi-1");
        assert_eq!(dns_name("__Web.Front__", 1), "web-front");
        assert_eq!(dns_name("___", 7), "vrid-7");
        assert_eq!(dns_name(&"a".repeat(80), 1).len(), 63);
    }

    #[test]
    fn warning_display() {
        let w = Warning {
            file: "k.conf".into(),
            line: 3,
            option: "router_id".into(),
            message: "ignored".into(),
        };
        assert_eq!(w.to_string(), "k.conf:3: warning: router_id: ignored");
    }
}
