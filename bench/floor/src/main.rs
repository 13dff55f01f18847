//! idle-floor: the least a VRRP router written in Rust does while nothing happens, for the
//! bench's idle-CPU rows (bench/footprint.rs). A master sends its pre-encoded adverts every
//! interval and refreshes its VIPs' lifetimes every 900 ms (RTM_NEWADDR + acknowledgement, as
//! kube-vrrp does); a backup receives adverts, checks TTL, version and checksum, and moves its
//! Master_Down timer. No election, no state machine, no configuration beyond the flags, no
//! logging, no metrics: what is left is the cost of the kernel calls and of the event loop.
//!
//! Two event loops: `--runtime tokio` (a current-thread tokio runtime, as kube-vrrp runs) and
//! `--runtime epoll` (epoll and a timerfd by hand, as keepalived does), so that the bench can
//! tell the runtime's share from the work's.
//!
//! ```text
//! idle-floor --runtime tokio|epoll --role master|backup --interface eth0 --source 198.51.100.11
//!            --priority 210 --version 3|2 --interval-ms 1000 [--password 1111]
//!            --router 51=198.51.100.100 [--router VRID=VIP ...]
//! ```

mod epoll;
mod timer;
mod tokio_loop;
mod wire;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

/// How often a master refreshes its VIPs' lifetimes (kube-vrrp's `timers::VIP_REFRESH`).
pub const REFRESH: Duration = Duration::from_millis(900);

/// What one node runs.
pub struct Config {
    /// Sends adverts (true) or listens for them.
    pub master: bool,
    /// The interface the VIPs and adverts are on.
    pub interface: String,
    /// The node's own address: adverts' source.
    pub source: Ipv4Addr,
    /// Priority in the adverts; a backup's sets its skew.
    pub priority: u8,
    /// 3, or 2 with PASS authentication.
    pub version: u8,
    /// Advertisement interval.
    pub interval: Duration,
    /// The v2 password, NUL-padded to 8 bytes.
    pub password: [u8; 8],
    /// (VRID, VIP) of every virtual router.
    pub routers: Vec<(u8, Ipv4Addr)>,
}

impl Config {
    /// Master_Down_Interval (RFC 5798 §6.1): 3 × interval + skew.
    pub fn down_interval(&self) -> Duration {
        self.interval * 3 + self.interval * u32::from(255 - self.priority) / 256
    }

    /// How long a VIP lives unless refreshed (kube-vrrp's `timers::vip_lifetime`).
    pub fn lifetime(&self) -> Duration {
        let d = self.interval * 3 + Duration::from_secs(1);
        Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .max(Duration::from_secs(3))
    }

    /// Every router's advert, encoded once.
    pub fn adverts(&self) -> Vec<Vec<u8>> {
        self.routers
            .iter()
            .map(|&(vrid, vip)| {
                wire::advert(
                    self.version,
                    vrid,
                    self.priority,
                    self.interval,
                    vip,
                    self.source,
                    &self.password,
                )
            })
            .collect()
    }
}

fn parse(args: &[String]) -> Result<(bool, Config), String> {
    let mut tokio = None;
    let mut cfg = Config {
        master: false,
        interface: String::new(),
        source: Ipv4Addr::UNSPECIFIED,
        priority: 100,
        version: 3,
        interval: Duration::from_secs(1),
        password: [0; 8],
        routers: Vec::new(),
    };
    let mut role = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let bad = |what: &str| format!("{flag} {value}: {what}");
        match flag.as_str() {
            "--runtime" => {
                tokio = Some(match value {
                    "tokio" => true,
                    "epoll" => false,
                    _ => return Err(bad("tokio or epoll")),
                })
            }
            "--role" => {
                role = Some(match value {
                    "master" => true,
                    "backup" => false,
                    _ => return Err(bad("master or backup")),
                })
            }
            "--interface" => cfg.interface = value.to_string(),
            "--source" => cfg.source = value.parse().map_err(|_| bad("an IPv4 address"))?,
            "--priority" => cfg.priority = value.parse().map_err(|_| bad("1 to 254"))?,
            "--version" => {
                cfg.version = match value {
                    "2" => 2,
                    "3" => 3,
                    _ => return Err(bad("2 or 3")),
                }
            }
            "--interval-ms" => {
                let ms: u64 = value.parse().map_err(|_| bad("milliseconds"))?;
                if ms < 10 {
                    return Err(bad("at least 10"));
                }
                cfg.interval = Duration::from_millis(ms);
            }
            "--password" => {
                let b = value.as_bytes();
                if b.len() > 8 {
                    return Err(bad("at most 8 bytes"));
                }
                cfg.password = [0; 8];
                cfg.password[..b.len()].copy_from_slice(b);
            }
            "--router" => {
                let (vrid, vip) = value.split_once('=').ok_or_else(|| bad("VRID=VIP"))?;
                let vrid: u8 = vrid.parse().map_err(|_| bad("VRID 1 to 255"))?;
                let vip: Ipv4Addr = vip.parse().map_err(|_| bad("VIP an IPv4 address"))?;
                cfg.routers.push((vrid, vip));
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    cfg.master = role.ok_or("--role is required")?;
    let tokio = tokio.ok_or("--runtime is required")?;
    if cfg.interface.is_empty() || cfg.source.is_unspecified() || cfg.routers.is_empty() {
        return Err("--interface, --source and at least one --router are required".into());
    }
    Ok((tokio, cfg))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (tokio, cfg) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("idle-floor: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if tokio {
        tokio_loop::run(&cfg)
    } else {
        epoll::run(&cfg)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idle-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
