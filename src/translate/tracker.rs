//! Tracker specs, parsed once into [`TrackerConfig`]s: one [`TrackerKind`] per kind with every
//! duration, path and selector typed, so the probers in [`crate::track`] never read a spec
//! string. Adding a kind: a field on [`crate::spec::Tracker`], then the compiler asks for the
//! arm here and in the tracker set.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use kube::core::Selector;

use super::fields::{Fields, check_interval, check_rise_fall};
use super::http::{self, HttpConfig};
use super::{SpecError, check_selector};
use crate::spec::{
    FileTracker, InterfaceTracker, PodsTracker, ProcessTracker, ScriptTracker, Tracker,
};

pub use super::fields::MIN_INTERVAL;

/// How often a file tracker reads its file unless told (keepalived's 1 s).
pub const DEFAULT_FILE_INTERVAL: Duration = Duration::from_secs(1);

/// keepalived accepts weights in -254..254 (scripts -253..253).
const WEIGHT_RANGE: std::ops::RangeInclusive<i32> = -254..=254;

/// A health tracker, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Name shown in status and metrics.
    pub name: String,
    /// Priority weight, -254..254.
    pub weight: i32,
    /// What it checks.
    pub kind: TrackerKind,
}

/// What a tracker checks, one variant per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerKind {
    /// Run a command (keepalived's vrrp_script).
    Script(ScriptConfig),
    /// Count running processes (vrrp_track_process).
    Process(ProcessConfig),
    /// Read an integer from a file (vrrp_track_file).
    File(FileConfig),
    /// Follow an interface's link (track_interface).
    Interface(InterfaceConfig),
    /// Ready pods on this node (Kubernetes only).
    Pods(PodsConfig),
    /// GET a URL.
    Http(HttpConfig),
}

impl TrackerKind {
    /// The kind as status shows it ("script", "process", ...).
    pub fn label(&self) -> &'static str {
        match self {
            TrackerKind::Script(_) => "script",
            TrackerKind::Process(_) => "process",
            TrackerKind::File(_) => "file",
            TrackerKind::Interface(_) => "interface",
            TrackerKind::Pods(_) => "pods",
            TrackerKind::Http(_) => "http",
        }
    }

    /// Successes needed to go up and failures needed to go down (1 and 1 for the kinds that
    /// have no such setting).
    pub fn rise_fall(&self) -> (u32, u32) {
        match self {
            TrackerKind::Script(s) => (s.rise, s.fall),
            TrackerKind::Http(h) => (h.rise, h.fall),
            TrackerKind::Process(_)
            | TrackerKind::File(_)
            | TrackerKind::Interface(_)
            | TrackerKind::Pods(_) => (1, 1),
        }
    }
}

/// A script tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptConfig {
    /// The argv (no shell unless named).
    pub argv: Vec<String>,
    /// Time between runs.
    pub interval: Duration,
    /// A run still going after this long is killed and fails.
    pub timeout: Duration,
    /// Successes needed to go up.
    pub rise: u32,
    /// Failures needed to go down.
    pub fall: u32,
}

/// A process tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Process name (comm or argv[0]).
    pub name: String,
    /// Up while at least this many run.
    pub min_count: u32,
}

/// A file tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileConfig {
    /// The file (absolute).
    pub path: PathBuf,
    /// How often it is read.
    pub interval: Duration,
}

/// An interface tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Interface name.
    pub name: String,
}

/// A pods tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodsConfig {
    /// Namespace of the pods.
    pub namespace: String,
    /// Which pods.
    pub selector: Selector,
}

/// Parse every tracker; problems go to `errors`, and a tracker with any is left out.
pub(super) fn parse(trackers: &[Tracker], errors: &mut Vec<SpecError>) -> Vec<TrackerConfig> {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, t) in trackers.iter().enumerate() {
        let mut f = Fields {
            prefix: format!("spec.trackers[{i}]"),
            errors,
        };
        let before = f.count();
        // Every field named: a new kind does not compile until it is handled below.
        let Tracker {
            name,
            weight,
            script,
            process,
            file,
            interface,
            pods,
            http,
        } = t;
        if name.is_empty() {
            f.report(".name", "must not be empty");
        } else if !names.insert(name.as_str()) {
            f.report(".name", format!("{name:?} is used twice"));
        }
        if !WEIGHT_RANGE.contains(weight) {
            f.report(".weight", format!("must be -254..254, got {weight}"));
        }
        let set = [
            script.is_some(),
            process.is_some(),
            file.is_some(),
            interface.is_some(),
            pods.is_some(),
            http.is_some(),
        ];
        if set.iter().filter(|k| **k).count() != 1 {
            f.report(
                "",
                "set exactly one of script, process, file, interface, pods, http",
            );
        }
        let mut kinds = Vec::new();
        if let Some(h) = http {
            kinds.push(http::parse(h, &mut f.under(".http.")).map(TrackerKind::Http));
        }
        if let Some(s) = script {
            kinds.push(parse_script(s, &mut f.under(".script.")).map(TrackerKind::Script));
        }
        if let Some(p) = process {
            kinds.push(parse_process(p, &mut f.under(".process.")).map(TrackerKind::Process));
        }
        if let Some(x) = file {
            kinds.push(parse_file(x, &mut f.under(".file.")).map(TrackerKind::File));
        }
        if let Some(n) = interface {
            kinds.push(parse_interface(n, &mut f.under(".interface.")).map(TrackerKind::Interface));
        }
        if let Some(p) = pods {
            kinds.push(parse_pods(p, &mut f.under(".pods.")).map(TrackerKind::Pods));
        }
        if f.count() == before
            && let [Some(kind)] = kinds.as_slice()
        {
            out.push(TrackerConfig {
                name: name.clone(),
                weight: *weight,
                kind: kind.clone(),
            });
        }
    }
    out
}

/// Parse one tracker on its own (its fields named as `spec.trackers[0]`).
pub fn parse_one(t: &Tracker) -> Result<TrackerConfig, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut parsed = parse(std::slice::from_ref(t), &mut errors);
    match parsed.pop() {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err(errors),
    }
}

fn parse_script(s: &ScriptTracker, f: &mut Fields<'_>) -> Option<ScriptConfig> {
    if s.command.first().is_none_or(|p| p.is_empty()) {
        f.report("command", "must name a program (an argv list)");
    }
    let interval = check_interval(f, "interval", &s.interval);
    let timeout = match &s.timeout {
        Some(t) => check_interval(f, "timeout", t),
        None => interval,
    };
    check_rise_fall(f, s.rise, s.fall);
    Some(ScriptConfig {
        argv: s.command.clone(),
        interval: interval?,
        timeout: timeout?,
        rise: s.rise,
        fall: s.fall,
    })
}

fn parse_process(p: &ProcessTracker, f: &mut Fields<'_>) -> Option<ProcessConfig> {
    if p.name.is_empty() {
        f.report("name", "must not be empty");
    }
    if p.min_count == 0 {
        f.report("minCount", "must be at least 1");
    }
    Some(ProcessConfig {
        name: p.name.clone(),
        min_count: p.min_count,
    })
}

fn parse_file(x: &FileTracker, f: &mut Fields<'_>) -> Option<FileConfig> {
    if !x.path.starts_with('/') {
        f.report("path", format!("{:?} must be an absolute path", x.path));
    }
    let interval = match &x.interval {
        Some(i) => check_interval(f, "interval", i)?,
        None => DEFAULT_FILE_INTERVAL,
    };
    Some(FileConfig {
        path: PathBuf::from(&x.path),
        interval,
    })
}

fn parse_interface(n: &InterfaceTracker, f: &mut Fields<'_>) -> Option<InterfaceConfig> {
    if n.name.is_empty() || n.name.len() > 15 {
        f.report("name", "must be an interface name (1-15 characters)");
        return None;
    }
    Some(InterfaceConfig {
        name: n.name.clone(),
    })
}

fn parse_pods(p: &PodsTracker, f: &mut Fields<'_>) -> Option<PodsConfig> {
    if p.namespace.is_empty() {
        f.report("namespace", "must not be empty");
    }
    let field = format!("{}selector", f.prefix);
    check_selector(&p.selector, &field, f.errors);
    Some(PodsConfig {
        namespace: p.namespace.clone(),
        selector: p.selector.to_selector().ok()?,
    })
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
