//! The `kube-vrrp` command line. Parsing and dispatch only; the work lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use kube_vrrp::sim::demo::{self, DemoOptions};
use kube_vrrp::vrrp::Version;
use kube_vrrp::{config, duration, run, status_client};

#[derive(Parser)]
#[command(
    name = "kube-vrrp",
    version,
    about = "Kubernetes-native virtual IPs over standard VRRP"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run as the Kubernetes agent of one node (in-cluster config or KUBECONFIG).
    Agent {
        /// This node's name (the DaemonSet sets NODE_NAME from the downward API).
        #[arg(long, env = "NODE_NAME")]
        node_name: String,
        /// Namespace whose Secrets `secretRef` names (the DaemonSet sets POD_NAMESPACE).
        #[arg(long, env = "POD_NAMESPACE", default_value = "kube-vrrp")]
        namespace: String,
        /// Address for /metrics, /healthz, /readyz and /status.
        #[arg(long, default_value = "0.0.0.0:9650")]
        http_addr: SocketAddr,
        /// Where the last known configuration is cached for restarts during API outages.
        #[arg(long, default_value = "/var/lib/kube-vrrp")]
        cache_dir: PathBuf,
        /// Hand over every VIP (priority 0) and stay out while this node has the label
        /// node.kubernetes.io/exclude-from-external-load-balancers (node maintenance).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        honor_exclude_label: bool,
    },
    /// Run standalone from a file of VirtualIP (and Secret) documents.
    Run {
        /// The file; reloaded on change and on SIGHUP.
        #[arg(long)]
        config: PathBuf,
        /// This node's name, as `priorities[].nodeName` refers to it (default: the hostname).
        #[arg(long, env = "NODE_NAME")]
        node_name: Option<String>,
        /// Address for /metrics, /healthz, /readyz and /status (default: loopback only; give
        /// 0.0.0.0:9650 to let Prometheus on another host scrape it).
        #[arg(long, default_value = "127.0.0.1:9650")]
        http_addr: SocketAddr,
    },
    /// Print VirtualIP documents equivalent to keepalived configuration files.
    Convert {
        /// A single host's keepalived.conf.
        file: Option<PathBuf>,
        /// Merge several hosts: NAME=FILE, once per host (per-node priorities).
        #[arg(long = "node", value_name = "NAME=FILE")]
        nodes: Vec<String>,
        /// Treat every warning as an error.
        #[arg(long)]
        strict: bool,
        /// Name of the Secret holding PASS passwords (default: <virtualip>-auth).
        #[arg(long)]
        secret_name: Option<String>,
    },
    /// Print the VirtualIP CustomResourceDefinition (YAML).
    Crd {
        /// Print the VirtualIPPool CRD instead.
        #[arg(long)]
        pool: bool,
    },
    /// Allocate addresses to LoadBalancer Services from VirtualIPPools (a Deployment; one
    /// replica leads by a Lease).
    Controller {
        /// Namespace of the leader Lease (the Deployment sets POD_NAMESPACE).
        #[arg(long, env = "POD_NAMESPACE", default_value = "kube-vrrp")]
        namespace: String,
        /// This replica's name in the Lease (the Deployment sets POD_NAME; default: hostname).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Also serve LoadBalancer Services without spec.loadBalancerClass (only when no other
        /// load-balancer implementation runs in the cluster).
        #[arg(long)]
        take_services_without_class: bool,
        /// Leader Lease duration.
        #[arg(long, default_value = "15s", value_parser = parse_duration)]
        lease_duration: Duration,
        /// How long the leader tries to renew before it gives up.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        renew_deadline: Duration,
        /// Time between Lease attempts.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        retry_period: Duration,
    },
    /// Print manifests for other ways to run kube-vrrp.
    #[command(subcommand)]
    Manifest(ManifestKind),
    /// Print a running agent's instances.
    Status {
        /// The agent's HTTP address.
        #[arg(long, default_value = "127.0.0.1:9650")]
        http_addr: SocketAddr,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
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

#[derive(Subcommand)]
enum ManifestKind {
    /// A kubelet static pod holding the control-plane VIP (`kube-vrrp run`, no API server
    /// needed), and its VirtualIP file.
    StaticPod(kube_vrrp::manifest::StaticPodArgs),
}

/// `manifest static-pod`: print the Pod (or the VirtualIP file); write the file if asked.
fn static_pod(args: &kube_vrrp::manifest::StaticPodArgs) -> ExitCode {
    let docs = match kube_vrrp::manifest::static_pod(args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        print!("{}", docs.config);
        return ExitCode::SUCCESS;
    }
    if args.write_config {
        let path = &args.config_path;
        let tmp = path.with_extension("yaml.tmp");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, &docs.config))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            eprintln!("error: --write-config: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    print!("{}", docs.pod);
    ExitCode::SUCCESS
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    duration::parse(s).map_err(|e| e.to_string())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn convert(
    file: Option<PathBuf>,
    nodes: Vec<String>,
    strict: bool,
    secret_name: Option<String>,
) -> ExitCode {
    use kube_vrrp::convert::{self, ConvertOptions, HostFile};
    let mut files: Vec<HostFile> = file
        .into_iter()
        .map(|path| HostFile { node: None, path })
        .collect();
    for n in nodes {
        let Some((node, path)) = n.split_once('=') else {
            eprintln!("error: --node {n:?}: expected NAME=FILE");
            return ExitCode::from(2);
        };
        files.push(HostFile {
            node: Some(node.to_string()),
            path: PathBuf::from(path),
        });
    }
    match convert::convert(
        &files,
        &ConvertOptions {
            strict,
            secret_name,
        },
    ) {
        Ok(out) => {
            for w in &out.warnings {
                eprintln!("{w}");
            }
            print!("{}", out.yaml);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// How long an idle blocking-pool thread is kept (tokio's default: 10 s).
const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(3600);

/// The daemons' runtime: one thread runs the engine and everything else (one instance task per
/// VIP is plenty); blocking work (reading the configuration file, scripts) runs on tokio's pool,
/// whose idle thread is kept for an hour instead of 10 s: the 30 s look at the configuration
/// file otherwise created and tore down a thread every time (clone3, a stack mapped and
/// unmapped), about 5% of an idle backup's CPU. A parked thread sleeps on a futex: no wake-ups.
fn daemon_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()
}

/// Run a daemon on the single-threaded runtime.
fn block_on(fut: impl std::future::Future<Output = Result<(), run::RunError>>) -> ExitCode {
    let runtime = match daemon_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config: path,
            node_name,
            http_addr,
        } => {
            init_logging(cli.log_format);
            let loaded = config::read(&path)
                .and_then(|(text, stamp)| config::parse(&path, &text).map(|f| (f, stamp)));
            let (file, stamp) = match loaded {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = run::RunOptions {
                config: path,
                node_name: node_name.unwrap_or_else(hostname),
                http_addr,
            };
            let runtime = match daemon_runtime() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run::run(opts, file, stamp)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Agent {
            node_name,
            namespace,
            http_addr,
            cache_dir,
            honor_exclude_label,
        } => {
            init_logging(cli.log_format);
            let opts = kube_vrrp::k8s::agent::AgentOptions {
                node_name,
                namespace,
                http_addr,
                cache_dir,
                honor_exclude_label,
            };
            block_on(kube_vrrp::k8s::agent::run(opts))
        }
        Command::Crd { pool } => {
            if pool {
                print!("{}", kube_vrrp::k8s::crd::pool_yaml());
            } else {
                print!("{}", kube_vrrp::k8s::crd::yaml());
            }
            ExitCode::SUCCESS
        }
        Command::Controller {
            namespace,
            identity,
            take_services_without_class,
            lease_duration,
            renew_deadline,
            retry_period,
        } => {
            init_logging(cli.log_format);
            if !(retry_period < renew_deadline && renew_deadline < lease_duration) {
                eprintln!(
                    "error: need --retry-period < --renew-deadline < --lease-duration (as client-go)"
                );
                return ExitCode::from(2);
            }
            let identity = identity
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| format!("kube-vrrp-controller-{}", std::process::id()));
            let opts = kube_vrrp::lb::controller::ControllerOptions {
                namespace,
                identity,
                take_unclassed: take_services_without_class,
                timings: kube_vrrp::lb::lease::Timings {
                    lease_duration,
                    renew_deadline,
                    retry_period,
                },
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => match rt.block_on(kube_vrrp::lb::controller::run(opts)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        tracing::error!(error = %e, "controller stopped");
                        ExitCode::FAILURE
                    }
                },
                Err(e) => {
                    eprintln!("error: tokio runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Manifest(ManifestKind::StaticPod(args)) => static_pod(&args),
        Command::Convert {
            file,
            nodes,
            strict,
            secret_name,
        } => convert(file, nodes, strict, secret_name),
        Command::Status { http_addr, output } => match status_client::fetch(http_addr) {
            Ok(instances) => {
                match output {
                    Output::Table => print!("{}", status_client::table(&instances)),
                    Output::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&instances).unwrap_or_default()
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
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
            if let Err(msg) = kube_vrrp::vrrp::timers::check_interval(version, advert_interval) {
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
