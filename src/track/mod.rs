//! Health trackers (keepalived's vrrp_script, track_process, track_file, track_interface).
//! This module holds the checks of tracker specs; probers live beside it.

use crate::duration;
use crate::spec::Tracker;

/// Check tracker specs; `report(field, message)` is called for each problem.
pub fn validate_specs(trackers: &[Tracker], report: &mut dyn FnMut(String, String)) {
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in trackers.iter().enumerate() {
        let at = |f: &str| format!("spec.trackers[{i}]{f}");
        if t.name.is_empty() {
            report(at(".name"), "must not be empty".into());
        } else if !names.insert(t.name.as_str()) {
            report(at(".name"), format!("{:?} is used twice", t.name));
        }
        let kinds = [
            t.script.is_some(),
            t.process.is_some(),
            t.file.is_some(),
            t.interface.is_some(),
            t.pods.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            report(
                at(""),
                "set exactly one of script, process, file, interface, pods".into(),
            );
        }
        if let Some(s) = &t.script {
            if s.command.is_empty() || s.command[0].is_empty() {
                report(
                    at(".script.command"),
                    "must name a program (an argv list)".into(),
                );
            }
            for (field, value) in [
                ("interval", Some(&s.interval)),
                ("timeout", s.timeout.as_ref()),
            ] {
                if let Some(v) = value {
                    match duration::parse(v) {
                        Err(e) => report(at(&format!(".script.{field}")), e.to_string()),
                        Ok(d) if d.is_zero() => report(
                            at(&format!(".script.{field}")),
                            "must be more than 0s".into(),
                        ),
                        Ok(_) => {}
                    }
                }
            }
            if s.rise == 0 {
                report(at(".script.rise"), "must be at least 1".into());
            }
            if s.fall == 0 {
                report(at(".script.fall"), "must be at least 1".into());
            }
        }
        if let Some(p) = &t.process {
            if p.name.is_empty() {
                report(at(".process.name"), "must not be empty".into());
            }
            if p.min_count == 0 {
                report(at(".process.minCount"), "must be at least 1".into());
            }
        }
        if let Some(f) = &t.file
            && !f.path.starts_with('/')
        {
            report(
                at(".file.path"),
                format!("{:?} must be an absolute path", f.path),
            );
        }
        if let Some(n) = &t.interface
            && (n.name.is_empty() || n.name.len() > 15)
        {
            report(
                at(".interface.name"),
                "must be an interface name (1-15 characters)".into(),
            );
        }
        if let Some(p) = &t.pods
            && p.namespace.is_empty()
        {
            report(at(".pods.namespace"), "must not be empty".into());
        }
    }
}
