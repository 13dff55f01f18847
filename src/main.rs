//! The `kube-vrrp` command line. Parsing and dispatch only; the work lives in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kube_vrrp::duration;
use kube_vrrp::sim::demo::{self, DemoOptions};
use kube_vrrp::vrrp::Version;

#[derive(Parser)]
#[command(
    name = "kube-vrrp",
    version,
    about = "Kubernetes-native virtual IPs over standard VRRP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate an election and a failover on a virtual clock (no network, no root needed).
    Simulate {
        /// Number of routers.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=200))]
        nodes: u16,
        /// Advertisement interval (v3: 10ms..40.95s in 10 ms steps; v2: whole seconds).
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        advert_interval: Duration,
        /// VRRP version: 2 or 3.
        #[arg(long = "vrrp-version", default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
        vrrp_version: u8,
        /// When the master fails.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        fail_at: Duration,
        /// Packet loss in percent.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
        loss: u32,
        /// The master shuts down gracefully (priority 0) instead of dying.
        #[arg(long)]
        graceful: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    duration::parse(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate {
            nodes,
            advert_interval,
            vrrp_version,
            fail_at,
            loss,
            graceful,
        } => {
            let version = if vrrp_version == 2 {
                Version::V2
            } else {
                Version::V3
            };
            if let Err(msg) = check_interval(version, advert_interval) {
                eprintln!("error: --advert-interval: {msg}");
                return ExitCode::from(2);
            }
            let opts = DemoOptions {
                nodes: usize::from(nodes),
                advert_interval,
                version,
                kill_at: fail_at,
                loss_percent: loss,
                graceful,
            };
            print!("{}", demo::run(&opts));
            ExitCode::SUCCESS
        }
    }
}

fn check_interval(version: Version, d: Duration) -> Result<(), String> {
    kube_vrrp::vrrp::timers::check_interval(version, d)
}
