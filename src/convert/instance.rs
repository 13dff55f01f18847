//! One `vrrp_instance` block of one host, converted to a VirtualIP spec (with the host's own
//! priority) and the PASS password, if any. Merging hosts and naming happen in
//! [`super::merge`].

use std::collections::BTreeSet;
use std::time::Duration;

use super::defs::{Defs, MAX_GARP, garp_repeat};
use super::entries::{address, ip, reference, tracker};
use super::keywords::{INSTANCE_UNSUPPORTED, reason, unknown_in};
use super::parse::{Loc, Stmt, Word, error_at};
use super::values::{arg, block, flag, int, no_block, secs, switch, value, weight};
use super::{ConvertError, Diagnostics};
use crate::duration;
use crate::spec::{
    Announce, Authentication, InterfaceTracker, LinkDebounce, NotifyHooks, SecretKeyRef, Tracker,
    VirtualIpSpec,
};
use crate::translate::parse_prefixed;

/// One host's instance, converted.
#[derive(Clone, Debug)]
pub(crate) struct Converted {
    /// The vrrp_instance name.
    pub name: String,
    /// Where the vrrp_instance keyword is.
    pub loc: Loc,
    /// The spec, with this host's priority; `authentication.secretRef.name` is set later.
    pub spec: VirtualIpSpec,
    /// The PASS password.
    pub password: Option<String>,
    /// Whether the addresses are IPv4.
    pub ipv4: bool,
}

#[derive(Default)]
struct Body {
    vrid: Option<u8>,
    priority: Option<u8>,
    interface: Option<String>,
    advert: Option<(Duration, Loc)>,
    nopreempt: bool,
    preempt_delay: Option<Duration>,
    version: Option<u8>,
    strict: Option<bool>,
    auth: Option<Loc>,
    auth_type: Option<Word>,
    auth_pass: Option<Word>,
    addresses: Vec<(Word, Option<Word>)>,
    peers: Vec<String>,
    src: Option<String>,
    trackers: Vec<Tracker>,
    garp_delay: Option<Duration>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    v3_checksum_as_v2: Option<(bool, Loc)>,
    notify: Option<NotifyHooks>,
    use_vmac: Option<Loc>,
}

/// Convert a `vrrp_instance` statement; `None` when there is nothing to convert (no addresses).
pub(crate) fn convert(
    s: &Stmt,
    defs: &Defs,
    diag: &mut Diagnostics,
) -> Result<Option<Converted>, ConvertError> {
    let name = arg(s, 0)?.text.clone();
    let what = format!("vrrp_instance {}", super::shown(&name));
    let mut b = Body::default();
    for k in block(s)? {
        keyword(k, &what, defs, &mut b, diag)?;
    }
    finish(s, name, b, defs, diag)
}

fn keyword(
    k: &Stmt,
    what: &str,
    defs: &Defs,
    b: &mut Body,
    diag: &mut Diagnostics,
) -> Result<(), ConvertError> {
    let key = k.key.text.as_str();
    match key {
        // Only keepalived's start-up differs; kube-vrrp always starts as backup.
        "state" => {
            let w = value(k, diag)?;
            if !["MASTER", "BACKUP"].contains(&w.text.to_ascii_uppercase().as_str()) {
                diag.warn(&w.loc, key, format!("unknown state {:?}; ignored", w.text));
            }
        }
        "interface" => b.interface = Some(value(k, diag)?.text.clone()),
        "virtual_router_id" => b.vrid = Some(int(value(k, diag)?, key, 1, 255)?),
        "priority" => b.priority = Some(int(value(k, diag)?, key, 1, 255)?),
        "advert_int" => {
            let w = value(k, diag)?;
            let range = (Duration::from_millis(10), Duration::from_secs(255));
            b.advert = Some((secs(w, key, range.0, range.1)?, w.loc.clone()));
        }
        "nopreempt" => {
            flag(k, diag)?;
            b.nopreempt = true;
        }
        "preempt" => {
            flag(k, diag)?;
            b.nopreempt = false;
        }
        "preempt_delay" => {
            let max = Duration::from_secs(1000);
            b.preempt_delay = Some(secs(value(k, diag)?, key, Duration::ZERO, max)?);
        }
        "version" => b.version = Some(int(value(k, diag)?, key, 2, 3)?),
        "strict_mode" => {
            no_block(k)?;
            let on = match k.args.first().map(|w| w.text.to_ascii_lowercase()) {
                None => true,
                Some(v) if ["on", "true", "yes"].contains(&v.as_str()) => true,
                Some(v) if ["off", "false", "no"].contains(&v.as_str()) => false,
                Some(v) => {
                    return Err(error_at(
                        &k.key.loc,
                        format!("strict_mode: {v:?} is not on or off"),
                    ));
                }
            };
            b.strict = Some(on);
            if on {
                diag.warn(&k.key.loc, key, "no equivalent: kube-vrrp applies the RFC checks always and accepts traffic to the VIP; authentication is not converted, as keepalived ignores it in strict mode");
            }
        }
        "authentication" => {
            b.auth = Some(k.key.loc.clone());
            for a in block(k)? {
                match a.key.text.as_str() {
                    "auth_type" => b.auth_type = Some(value(a, diag)?.clone()),
                    "auth_pass" => b.auth_pass = Some(value(a, diag)?.clone()),
                    _ => return Err(unknown_in(a, "authentication")),
                }
            }
        }
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
            super::added::notify(k, key, &mut b.notify, diag)?
        }
        "use_vmac" => {
            no_block(k)?;
            if let Some(w) = k.args.first() {
                diag.warn(
                    &w.loc,
                    key,
                    "the interface name and MAC are fixed: vrrp.{VRID} with 00-00-5E-00-01-{VRID}; ignored",
                );
            }
            b.use_vmac = Some(k.key.loc.clone());
        }
        "v3_checksum_as_v2" => {
            b.v3_checksum_as_v2 = Some((switch(k, diag)?, k.key.loc.clone()));
        }
        "virtual_ipaddress" => {
            for a in block(k)? {
                b.addresses.push(address(a, diag)?);
            }
        }
        "unicast_src_ip" => {
            let w = value(k, diag)?;
            ip(w)?;
            b.src = Some(w.text.clone());
        }
        "unicast_peer" => {
            for p in block(k)? {
                no_block(p)?;
                ip(&p.key)?;
                b.peers.push(p.key.text.clone());
                if let Some(w) = p.args.first() {
                    diag.warn(&w.loc, key, "min_ttl/max_ttl have no equivalent; ignored");
                }
            }
        }
        "track_interface" => {
            for t in block(k)? {
                no_block(t)?;
                let w = weight(t, 0, -253, 253, diag)?.unwrap_or(0);
                let interface = Some(InterfaceTracker {
                    name: t.key.text.clone(),
                });
                b.trackers
                    .push(tracker(&t.key.text, w, |tr| tr.interface = interface));
            }
        }
        "track_script" | "track_process" | "track_file" => {
            for t in block(k)? {
                no_block(t)?;
                if let Some(tr) = reference(key, t, defs, diag)? {
                    b.trackers.push(tr);
                }
            }
        }
        // Whole seconds in an instance (keepalived 2.2.7 refuses "2.5" there).
        "garp_master_delay" => b.garp_delay = Some(whole_secs(value(k, diag)?, key)?),
        "garp_master_refresh" => b.garp_refresh = Some(whole_secs(value(k, diag)?, key)?),
        "garp_master_repeat" => b.garp_repeat = Some(garp_repeat(value(k, diag)?, key, diag)?),
        // Accepted as is: the address family decides the version (native_ipv6), kube-vrrp
        // checks unicast sources and accepts traffic to the VIP always (check_unicast_src,
        // accept), and counts but accepts adverts with other addresses (skip_check_adv_addr).
        "native_ipv6" | "check_unicast_src" | "accept" | "skip_check_adv_addr" => {}
        _ => match reason(INSTANCE_UNSUPPORTED, key) {
            Some(why) => diag.warn(&k.key.loc, key, format!("{why}; ignored")),
            None => return Err(unknown_in(k, what)),
        },
    }
    Ok(())
}

fn whole_secs(w: &Word, key: &str) -> Result<Duration, ConvertError> {
    let max = i64::try_from(MAX_GARP.as_secs()).unwrap_or(i64::MAX);
    int::<u64>(w, key, 0, max).map(Duration::from_secs)
}

fn finish(
    s: &Stmt,
    name: String,
    b: Body,
    defs: &Defs,
    diag: &mut Diagnostics,
) -> Result<Option<Converted>, ConvertError> {
    let at = &s.key.loc;
    let g = &defs.globals;
    let vrid = b.vrid.ok_or_else(|| {
        error_at(
            at,
            format!(
                "vrrp_instance {}: virtual_router_id is not set",
                super::shown(&name)
            ),
        )
    })?;
    let Some((first, _)) = b.addresses.first() else {
        diag.warn(
            at,
            "vrrp_instance",
            format!(
                "{} has no virtual_ipaddress; not converted",
                super::shown(&name)
            ),
        );
        return Ok(None);
    };
    let ipv4 = parse_prefixed(&first.text)
        .map(|p| p.addr.is_ipv4())
        .unwrap_or(true);
    for (a, dev) in &b.addresses {
        if parse_prefixed(&a.text).is_ok_and(|p| p.addr.is_ipv4() != ipv4) {
            return Err(error_at(
                &a.loc,
                "virtual_ipaddress: all addresses of an instance must be of one family",
            ));
        }
        if let Some(dev) = dev
            && b.interface.as_deref() != Some(dev.text.as_str())
        {
            diag.warn(
                &dev.loc,
                "dev",
                format!(
                    "{}: kube-vrrp installs every address on the instance's interface, not on {}",
                    a.text, dev.text
                ),
            );
        }
    }
    // keepalived's default is VRRPv2 (global vrrp_version, or version in the instance); IPv6
    // instances always run VRRPv3.
    let version = if ipv4 {
        b.version.or(g.version).unwrap_or(2)
    } else {
        3
    };
    let (mut advert, advert_at) = b
        .advert
        .clone()
        .unwrap_or((Duration::from_secs(1), at.clone()));
    if version == 2 && advert.subsec_nanos() != 0 {
        advert = Duration::from_secs(advert.as_secs_f64().round().max(1.0) as u64);
        diag.warn(
            &advert_at,
            "advert_int",
            format!(
                "VRRPv2 needs whole seconds; rounded to {} as keepalived does",
                duration::format(advert)
            ),
        );
    } else if version == 3 {
        if advert > Duration::from_millis(40_950) {
            return Err(error_at(
                &advert_at,
                "advert_int: VRRPv3 allows at most 40.95 seconds",
            ));
        }
        let cs = (advert.as_nanos() + 5_000_000) / 10_000_000;
        let rounded = Duration::from_millis(u64::try_from(cs).unwrap_or(1).max(1) * 10);
        if rounded != advert {
            advert = rounded;
            diag.warn(
                &advert_at,
                "advert_int",
                format!(
                    "VRRPv3 counts in 10 ms steps; rounded to {} as keepalived does",
                    duration::format(advert)
                ),
            );
        }
    }
    let strict = b.strict.unwrap_or(g.strict.is_some());
    let password = auth(&b, version, strict, diag);
    let mut unicast_peers: Vec<String> = Vec::new();
    for p in b
        .peers
        .iter()
        .chain(b.src.iter().filter(|_| !b.peers.is_empty()))
    {
        if !unicast_peers.contains(p) {
            unicast_peers.push(p.clone());
        }
    }
    let garp = (
        b.garp_delay.or(g.garp_delay),
        b.garp_repeat.or(g.garp_repeat),
        b.garp_refresh.or(g.garp_refresh),
    );
    let announce = (garp != (None, None, None)).then(|| {
        let d = Announce::default();
        Announce {
            repeat: garp.1.unwrap_or(d.repeat),
            delay: garp.0.map_or(d.delay, duration::format),
            refresh: garp.2.map_or(d.refresh, duration::format),
        }
    });
    let v3_checksum = super::added::checksum_form(
        b.v3_checksum_as_v2.as_ref(),
        version,
        ipv4,
        g.v3_checksum_as_v2,
        diag,
    );
    let virtual_mac = super::added::virtual_mac(b.use_vmac.as_ref(), ipv4, diag);
    let mut trackers = b.trackers;
    let mut names = BTreeSet::new();
    for t in &mut trackers {
        let base = t.name.clone();
        let mut n = 1;
        while !names.insert(t.name.clone()) {
            n += 1;
            t.name = format!("{base}-{n}");
        }
    }
    let link_debounce = b
        .interface
        .as_ref()
        .and_then(|i| defs.link_delays.get(i))
        .map(|(down, up)| LinkDebounce {
            down: duration::format(*down),
            up: duration::format(*up),
        });
    let spec = VirtualIpSpec {
        vrid,
        addresses: b.addresses.iter().map(|(a, _)| a.text.clone()).collect(),
        interface: b.interface,
        version,
        advert_interval: duration::format(advert),
        priority: b.priority.unwrap_or(100),
        priorities: Vec::new(),
        node_selector: None,
        preempt: !b.nopreempt,
        preempt_delay: duration::format(b.preempt_delay.unwrap_or_default()),
        authentication: password.as_ref().map(|_| Authentication {
            kind: "PASS".to_string(),
            secret_ref: SecretKeyRef {
                name: String::new(),
                key: "password".to_string(),
            },
        }),
        unicast_peers,
        announce,
        max_advert_interval: None,
        trackers,
        startup_delay: duration::format(g.startup_delay.unwrap_or_default()),
        link_debounce,
        v3_checksum,
        notify: b.notify,
        sync_group: defs.sync_groups.get(&name).cloned(),
        virtual_mac,
    };
    Ok(Some(Converted {
        name,
        loc: at.clone(),
        spec,
        password,
        ipv4,
    }))
}

/// The PASS password to convert, if the authentication block applies.
fn auth(b: &Body, version: u8, strict: bool, diag: &mut Diagnostics) -> Option<String> {
    let at = b.auth.as_ref()?;
    let not = |diag: &mut Diagnostics, why: &str| {
        diag.warn(at, "authentication", format!("{why}; not converted"));
        None
    };
    match &b.auth_type {
        None => return not(diag, "no auth_type"),
        Some(t) if t.text == "PASS" => {}
        Some(t) if t.text.eq_ignore_ascii_case("pass") => diag.warn(&t.loc, "auth_type", "keepalived 2.2.7 accepts only upper-case PASS and ignores this block; converted as PASS"),
        Some(t) if t.text.eq_ignore_ascii_case("ah") => return not(diag, "IPsec AH authentication is not supported"),
        Some(t) => return not(diag, &format!("unknown auth_type {:?}", t.text)),
    }
    if version == 3 {
        return not(
            diag,
            "VRRPv3 has no authentication (keepalived ignores it too)",
        );
    }
    if strict {
        return not(
            diag,
            "keepalived ignores authentication in strict mode (vrrp_strict), so kube-vrrp adverts must go without it to interoperate",
        );
    }
    let pass = match &b.auth_pass {
        Some(p) if !p.text.is_empty() => p,
        _ => return not(diag, "auth_type PASS without auth_pass"),
    };
    let mut password = String::new();
    for c in pass.text.chars() {
        if password.len() + c.len_utf8() > 8 {
            diag.warn(
                &pass.loc,
                "auth_pass",
                "keepalived uses only the first 8 bytes; truncated",
            );
            break;
        }
        password.push(c);
    }
    Some(password)
}
