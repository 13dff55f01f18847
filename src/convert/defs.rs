//! The top level of a keepalived configuration: `global_defs`, the tracker definitions that
//! instances refer to (`vrrp_script`, `vrrp_track_process`, `track_file`), the `vrrp_instance`
//! blocks (returned for [`super::instance`]), and one warning per block without an equivalent.

use std::collections::BTreeMap;
use std::time::Duration;

use super::keywords::{TOP_UNSUPPORTED, reason, unknown, unknown_in};
use super::parse::{Loc, Stmt, error_at};
use super::values::{arg, block, extra, flag, int, secs, split_command, value, weight_value};
use super::{ConvertError, Diagnostics};

/// global_defs settings that matter to instances.
#[derive(Debug, Default)]
pub(crate) struct Globals {
    /// vrrp_version.
    pub version: Option<u8>,
    /// Where vrrp_strict was set.
    pub strict: Option<Loc>,
    /// vrrp_garp_master_delay.
    pub garp_delay: Option<Duration>,
    /// vrrp_garp_master_repeat.
    pub garp_repeat: Option<u32>,
    /// vrrp_garp_master_refresh.
    pub garp_refresh: Option<Duration>,
    /// vrrp_startup_delay.
    pub startup_delay: Option<Duration>,
    /// v3_checksum_as_v2 (the default of every instance).
    pub v3_checksum_as_v2: Option<bool>,
}

/// A vrrp_script.
#[derive(Debug)]
pub(crate) struct ScriptDef {
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
    pub weight: i32,
}

/// A vrrp_track_process.
#[derive(Debug)]
pub(crate) struct ProcessDef {
    pub process: String,
    pub quorum: u32,
    pub weight: i32,
}

/// A track_file (vrrp_track_file).
#[derive(Debug)]
pub(crate) struct FileDef {
    pub path: String,
    pub weight: i32,
}

/// Everything defined outside the instances.
#[derive(Debug, Default)]
pub(crate) struct Defs {
    pub globals: Globals,
    pub scripts: BTreeMap<String, ScriptDef>,
    pub processes: BTreeMap<String, ProcessDef>,
    pub files: BTreeMap<String, FileDef>,
    /// interface_up_down_delays: (down, up) per interface.
    pub link_delays: BTreeMap<String, (Duration, Duration)>,
    /// vrrp_sync_group: the group (as a DNS label) of each member vrrp_instance.
    pub sync_groups: BTreeMap<String, String>,
}

/// Read the top level: the definitions, and the `vrrp_instance` statements in order.
pub(crate) fn top_level<'a>(
    stmts: &'a [Stmt],
    diag: &mut Diagnostics,
) -> Result<(Defs, Vec<&'a Stmt>), ConvertError> {
    let mut defs = Defs::default();
    let mut instances = Vec::new();
    for s in stmts {
        let key = s.key.text.as_str();
        match key {
            "global_defs" => global_defs(s, &mut defs.globals, diag)?,
            "vrrp_instance" => instances.push(s),
            "interface_up_down_delays" => link_delays(s, &mut defs.link_delays, diag)?,
            "vrrp_sync_group" => sync_group(s, &mut defs.sync_groups, diag)?,
            "vrrp_script" | "vrrp_track_process" | "track_file" | "vrrp_track_file" => {
                let name = arg(s, 0)?;
                extra(s, 1, diag);
                let body = block(s)?;
                let dup = match key {
                    "vrrp_script" => defs.scripts.contains_key(&name.text),
                    "vrrp_track_process" => defs.processes.contains_key(&name.text),
                    _ => defs.files.contains_key(&name.text),
                };
                if dup {
                    diag.warn(
                        &name.loc,
                        key,
                        format!(
                            "{:?} is defined twice; the first definition is used",
                            name.text
                        ),
                    );
                    continue;
                }
                let what = format!("{key} {}", name.text);
                match key {
                    "vrrp_script" => {
                        if let Some(d) = script(s, body, &what, diag)? {
                            defs.scripts.insert(name.text.clone(), d);
                        }
                    }
                    "vrrp_track_process" => {
                        if let Some(d) = process(s, body, &what, diag)? {
                            defs.processes.insert(name.text.clone(), d);
                        }
                    }
                    _ => {
                        if let Some(d) = file(s, body, &what, diag)? {
                            defs.files.insert(name.text.clone(), d);
                        }
                    }
                }
            }
            _ => match reason(TOP_UNSUPPORTED, key) {
                Some(why) => diag.warn(&s.key.loc, key, format!("{why}; ignored")),
                None => unknown(s, "the top level", diag),
            },
        }
    }
    Ok((defs, instances))
}

fn global_defs(s: &Stmt, g: &mut Globals, diag: &mut Diagnostics) -> Result<(), ConvertError> {
    for d in block(s)? {
        let key = d.key.text.as_str();
        match key {
            "vrrp_version" => g.version = Some(int(value(d, diag)?, key, 2, 3)?),
            "vrrp_strict" => {
                flag(d, diag)?;
                g.strict = Some(d.key.loc.clone());
                diag.warn(
                    &d.key.loc,
                    key,
                    "no equivalent: kube-vrrp applies the RFC checks always, accepts traffic to the VIP (keepalived's strict mode blocks it) and, like keepalived in strict mode, does not convert authentication",
                );
            }
            // kube-vrrp accepts an advert whose address list differs from its own and counts the
            // mismatch, and accepts adverts only from the unicast peers: these change nothing.
            "vrrp_skip_check_adv_addr" | "vrrp_check_unicast_src" => {}
            "vrrp_garp_master_delay" => {
                g.garp_delay = Some(secs(value(d, diag)?, key, Duration::ZERO, MAX_GARP)?)
            }
            "vrrp_garp_master_repeat" => {
                g.garp_repeat = Some(garp_repeat(value(d, diag)?, key, diag)?)
            }
            "v3_checksum_as_v2" => g.v3_checksum_as_v2 = Some(super::values::switch(d, diag)?),
            "vrrp_startup_delay" => {
                let max = crate::translate::MAX_STARTUP_DELAY;
                g.startup_delay = Some(secs(value(d, diag)?, key, Duration::ZERO, max)?)
            }
            "vrrp_garp_master_refresh" => {
                g.garp_refresh = Some(secs(value(d, diag)?, key, Duration::ZERO, MAX_GARP)?)
            }
            "router_id" => diag.warn(
                &d.key.loc,
                key,
                "no equivalent: keepalived names the host in alerts with it; kube-vrrp reports the node name; ignored",
            ),
            _ if key.starts_with("smtp_") || key.starts_with("notification_email") => diag.warn(
                &d.key.loc,
                key,
                "email alerts have no equivalent (watch `kubectl get vip` or the /status endpoint); ignored",
            ),
            "enable_script_security" | "script_user" => diag.warn(
                &d.key.loc,
                key,
                "no equivalent: tracker scripts run as the agent's user; ignored",
            ),
            _ => diag.warn(
                &d.key.loc,
                key,
                "global_defs option without a kube-vrrp equivalent; ignored",
            ),
        }
    }
    Ok(())
}

/// `interface_up_down_delays { IF DOWN [UP] ... }`: seconds (microsecond resolution, up to
/// 255); UP defaults to DOWN, as in keepalived.
fn link_delays(
    s: &Stmt,
    out: &mut BTreeMap<String, (Duration, Duration)>,
    diag: &mut Diagnostics,
) -> Result<(), ConvertError> {
    let max = crate::translate::MAX_LINK_DELAY;
    for d in block(s)? {
        super::values::no_block(d)?;
        let down = secs(arg(d, 0)?, "interface_up_down_delays", Duration::ZERO, max)?;
        let up = match d.args.get(1) {
            Some(w) => secs(w, "interface_up_down_delays", Duration::ZERO, max)?,
            None => down,
        };
        extra(d, 2, diag);
        out.insert(d.key.text.clone(), (down, up));
    }
    Ok(())
}

/// `vrrp_sync_group NAME { group { INSTANCE ... } ... }`: each member gets `syncGroup`, NAME
/// made a DNS label. The group's own notify and tracking options are warned (set them on the
/// instances); an instance in two groups keeps the first (keepalived refuses the second).
fn sync_group(
    s: &Stmt,
    out: &mut BTreeMap<String, String>,
    diag: &mut Diagnostics,
) -> Result<(), ConvertError> {
    let name = arg(s, 0)?;
    extra(s, 1, diag);
    let label = if name.text.chars().any(|c| c.is_ascii_alphanumeric()) {
        super::dns_name(&name.text, 0)
    } else {
        "sync-group".to_string()
    };
    for d in block(s)? {
        let key = d.key.text.as_str();
        match key {
            "group" => {
                for m in block(d)? {
                    super::values::no_block(m)?;
                    if let Some(first) = out.get(&m.key.text) {
                        diag.warn(
                            &m.key.loc,
                            "vrrp_sync_group",
                            format!(
                                "{} is already in sync group {first}; keepalived refuses a second group",
                                super::shown(&m.key.text)
                            ),
                        );
                        continue;
                    }
                    out.insert(m.key.text.clone(), label.clone());
                }
            }
            _ => diag.warn(
                &d.key.loc,
                key,
                "a sync group option without equivalent (set notify hooks and trackers on each VirtualIP); ignored",
            ),
        }
    }
    Ok(())
}

/// Largest GARP delay or refresh accepted.
pub(crate) const MAX_GARP: Duration = Duration::from_secs(86_400);
/// Largest GARP repeat count read (keepalived's own limit is higher; more is an error).
pub(crate) const MAX_REPEAT: i64 = 1_000_000;

/// A garp_master_repeat: read up to [`MAX_REPEAT`], lowered with a warning to what
/// `spec.announce.repeat` allows.
pub(crate) fn garp_repeat(
    w: &super::parse::Word,
    key: &str,
    diag: &mut Diagnostics,
) -> Result<u32, ConvertError> {
    let n: u32 = int(w, key, 1, MAX_REPEAT)?;
    let max = crate::translate::MAX_ANNOUNCE_REPEAT;
    if n > max {
        diag.warn(
            &w.loc,
            key,
            format!("kube-vrrp sends at most {max} announcements per burst; lowered to {max}"),
        );
        return Ok(max);
    }
    Ok(n)
}

fn script(
    s: &Stmt,
    body: &[Stmt],
    what: &str,
    diag: &mut Diagnostics,
) -> Result<Option<ScriptDef>, ConvertError> {
    let mut d = ScriptDef {
        command: Vec::new(),
        interval: Duration::from_secs(1),
        timeout: None,
        rise: 1,
        fall: 1,
        weight: 0,
    };
    for k in body {
        let key = k.key.text.as_str();
        match key {
            "script" => {
                super::values::no_block(k)?;
                let first = arg(k, 0)?;
                let line: Vec<&str> = k.args.iter().map(|w| w.text.as_str()).collect();
                d.command = split_command(&line.join(" "))
                    .map_err(|e| error_at(&first.loc, format!("script: {e}")))?;
            }
            // Seconds up to 4294, as keepalived reads them; fractions down to 10 ms as keepalived
            // 2.3 takes them (2.2.7 takes whole seconds only).
            "interval" => d.interval = script_secs(value(k, diag)?, key)?,
            "timeout" => d.timeout = Some(script_secs(value(k, diag)?, key)?),
            "rise" => d.rise = int(value(k, diag)?, key, 1, i64::from(u32::MAX))?,
            "fall" => d.fall = int(value(k, diag)?, key, 1, i64::from(u32::MAX))?,
            "weight" => {
                super::values::no_block(k)?;
                d.weight = weight_value(k, 0, -253, 253, diag)?
            }
            "user" | "init_fail" => diag.warn(
                &k.key.loc,
                key,
                "no equivalent: scripts run as the agent's user and start untested; ignored",
            ),
            _ => return Err(unknown_in(k, what)),
        }
    }
    if d.command.is_empty() || d.command.iter().all(|a| a.is_empty()) {
        diag.warn(
            &s.key.loc,
            "vrrp_script",
            format!("{what} has no script; keepalived removes it, and so does the conversion"),
        );
        return Ok(None);
    }
    Ok(Some(d))
}

fn script_secs(w: &super::parse::Word, key: &str) -> Result<Duration, ConvertError> {
    let min = crate::translate::tracker::MIN_INTERVAL;
    secs(w, key, min, Duration::from_secs(4294))
}

fn process(
    s: &Stmt,
    body: &[Stmt],
    what: &str,
    diag: &mut Diagnostics,
) -> Result<Option<ProcessDef>, ConvertError> {
    let mut d = ProcessDef {
        process: String::new(),
        quorum: 1,
        weight: 0,
    };
    for k in body {
        let key = k.key.text.as_str();
        match key {
            "process" => {
                super::values::no_block(k)?;
                d.process = arg(k, 0)?.text.clone();
                if let Some(p) = k.args.get(1) {
                    diag.warn(
                        &p.loc,
                        key,
                        "process parameters have no equivalent: any process of that name counts",
                    );
                }
            }
            "weight" => {
                super::values::no_block(k)?;
                d.weight = weight_value(k, 0, -254, 254, diag)?
            }
            "quorum" => d.quorum = int(value(k, diag)?, key, 1, i64::from(u32::MAX))?,
            "quorum_max" | "fork_delay" | "terminate_delay" | "delay" | "full_command"
            | "param_match" => diag.warn(
                &k.key.loc,
                key,
                "no equivalent: the tracker counts running processes by name; ignored",
            ),
            _ => return Err(unknown_in(k, what)),
        }
    }
    if d.process.is_empty() {
        diag.warn(
            &s.key.loc,
            "vrrp_track_process",
            format!("{what} names no process; not converted"),
        );
        return Ok(None);
    }
    Ok(Some(d))
}

fn file(
    s: &Stmt,
    body: &[Stmt],
    what: &str,
    diag: &mut Diagnostics,
) -> Result<Option<FileDef>, ConvertError> {
    let mut d = FileDef {
        path: String::new(),
        weight: 1,
    };
    for k in body {
        let key = k.key.text.as_str();
        match key {
            "file" => {
                let w = value(k, diag)?;
                if !w.text.starts_with('/') {
                    return Err(error_at(
                        &w.loc,
                        format!("file: {:?} must be an absolute path", w.text),
                    ));
                }
                d.path = w.text.clone();
            }
            "weight" => {
                super::values::no_block(k)?;
                d.weight = weight_value(k, 0, -254, 254, diag)?
            }
            "init_file" => diag.warn(
                &k.key.loc,
                key,
                "no equivalent: create the file before the agent starts; ignored",
            ),
            _ => return Err(unknown_in(k, what)),
        }
    }
    if d.path.is_empty() {
        diag.warn(
            &s.key.loc,
            "track_file",
            format!("{what} names no file; not converted"),
        );
        return Ok(None);
    }
    Ok(Some(d))
}
