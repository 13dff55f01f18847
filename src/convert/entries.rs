//! The entries of an instance's blocks: virtual_ipaddress addresses and track_* references,
//! resolved against the tracker definitions.

use std::net::IpAddr;

use super::defs::Defs;
use super::parse::{Stmt, Word, error_at};
use super::values::{no_block, weight};
use super::{ConvertError, Diagnostics};
use crate::duration;
use crate::spec::{FileTracker, ProcessTracker, ScriptTracker, Tracker};
use crate::translate::parse_prefixed;

pub(crate) fn ip(w: &Word) -> Result<IpAddr, ConvertError> {
    w.text
        .parse()
        .map_err(|_| error_at(&w.loc, format!("{:?} is not an IP address", w.text)))
}

/// A virtual_ipaddress entry: the address and its `dev`, if any.
pub(crate) fn address(
    a: &Stmt,
    diag: &mut Diagnostics,
) -> Result<(Word, Option<Word>), ConvertError> {
    no_block(a)?;
    parse_prefixed(&a.key.text)
        .map_err(|e| error_at(&a.key.loc, format!("virtual_ipaddress: {e}")))?;
    let mut dev = None;
    let mut words = a.args.iter();
    while let Some(opt) = words.next() {
        let o = opt.text.as_str();
        let takes_value = [
            "dev",
            "scope",
            "label",
            "brd",
            "broadcast",
            "peer",
            "preferred_lft",
            "track_group",
        ];
        let val = if takes_value.contains(&o) {
            Some(
                words
                    .next()
                    .ok_or_else(|| error_at(&opt.loc, format!("{o}: missing value")))?,
            )
        } else {
            None
        };
        match (o, val) {
            ("dev", Some(v)) => dev = Some(v.clone()),
            ("scope", Some(v)) if v.text == "global" => {}
            ("scope", Some(v)) => diag.warn(&opt.loc, o, format!("scope {}: kube-vrrp installs VIPs with global scope", v.text)),
            ("label", _) => diag.warn(&opt.loc, o, "kube-vrrp labels the addresses it installs itself (to find them after a crash); ignored"),
            (_, Some(_)) => diag.warn(&opt.loc, o, "address option without equivalent; ignored"),
            ("home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "no_track" | "use_vmac", None) => {
                diag.warn(&opt.loc, o, "address option without equivalent; ignored")
            }
            _ => diag.warn(&opt.loc, "virtual_ipaddress", format!("unknown address option {o:?}; ignored")),
        }
    }
    Ok((a.key.clone(), dev))
}

pub(crate) fn tracker(name: &str, weight: i32, set: impl FnOnce(&mut Tracker)) -> Tracker {
    let mut t = Tracker {
        name: name.to_string(),
        weight,
        script: None,
        process: None,
        file: None,
        interface: None,
        pods: None,
        http: None,
    };
    set(&mut t);
    t
}

/// A track_script / track_process / track_file entry, resolved against the definitions.
pub(crate) fn reference(
    key: &str,
    t: &Stmt,
    defs: &Defs,
    diag: &mut Diagnostics,
) -> Result<Option<Tracker>, ConvertError> {
    let name = t.key.text.as_str();
    let missing = |diag: &mut Diagnostics, def: &str| {
        diag.warn(
            &t.key.loc,
            key,
            format!("no {def} named {name:?}; ignored (keepalived ignores it too)"),
        );
        None
    };
    Ok(match key {
        "track_script" => match defs.scripts.get(name) {
            None => missing(diag, "vrrp_script"),
            Some(d) => {
                let w = weight(t, 0, -253, 253, diag)?.unwrap_or(d.weight);
                let script = ScriptTracker {
                    command: d.command.clone(),
                    interval: duration::format(d.interval),
                    timeout: d.timeout.map(duration::format),
                    rise: d.rise,
                    fall: d.fall,
                };
                Some(tracker(name, w, |tr| tr.script = Some(script)))
            }
        },
        "track_process" => match defs.processes.get(name) {
            None => missing(diag, "vrrp_track_process"),
            Some(d) => {
                let w = weight(t, 0, -254, 254, diag)?.unwrap_or(d.weight);
                let process = ProcessTracker {
                    name: d.process.clone(),
                    min_count: d.quorum,
                };
                Some(tracker(name, w, |tr| tr.process = Some(process)))
            }
        },
        _ => match defs.files.get(name) {
            None => missing(diag, "track_file"),
            Some(d) => {
                let w = weight(t, 0, -254, 254, diag)?.unwrap_or(d.weight);
                let file = FileTracker {
                    path: d.path.clone(),
                    interval: None,
                };
                Some(tracker(name, w, |tr| tr.file = Some(file)))
            }
        },
    })
}
