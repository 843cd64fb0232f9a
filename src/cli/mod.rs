//! Command-line interface: serving (the default, [`serve`]), `--config.check`,
//! `check-source` and `healthcheck` ([`check`]), `--demo` and `simulate` ([`simulate`]).

mod check;
mod serve;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing::error;

use crate::runtime::logging;
pub(crate) use simulate::SimulateArgs;
#[cfg(feature = "simulator")]
pub use simulate::start_demo;

/// The command line. Its description names the products of the vendors this build has.
#[derive(Parser, Debug)]
#[command(
    name = "backup-exporter",
    version,
    about = about(),
    long_about = format!("{}\n\nEach configured source is refreshed in the background every refresh_interval; a scrape\nof /metrics encodes the last good data and never calls a vendor API.", about()),
    after_long_help = "Examples:
  backup-exporter --demo                       run against built-in simulated tenants
  backup-exporter --config.check               validate backup-exporter.yml and exit
  backup-exporter check-source us-laptops      try one source's credentials and first page
  backup-exporter --config.file /etc/backup-exporter/backup-exporter.yml
  backup-exporter simulate --devices 10000     serve the simulated vendor APIs alone

Endpoints: / (status page), /metrics, /-/healthy, /-/ready, /-/reload (POST, with
--web.enable-lifecycle). SIGHUP re-reads the configuration.
Documentation: README.md and docs/cli.md."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) serve: ServeArgs,

    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub(crate) log_level: logging::Level,

    /// Log line format.
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    pub(crate) log_format: logging::Format,
}

/// What the exporter is, with the products of this build's vendors.
fn about() -> String {
    format!(
        "Prometheus exporter for SaaS backup products: {}.",
        crate::engine::described()
    )
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Path to the configuration file (YAML).
    #[arg(long = "config.file", default_value = "backup-exporter.yml")]
    pub(crate) config_file: PathBuf,

    /// Validate the configuration file, print the result and exit (0 valid, 1 invalid).
    #[arg(long = "config.check")]
    pub(crate) config_check: bool,

    /// Address to listen on; repeat to listen on several. ":9877" means all interfaces.
    #[arg(long = "web.listen-address", default_value = ":9877")]
    pub(crate) listen_addresses: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub(crate) telemetry_path: String,

    /// Maximum number of concurrent scrapes; 0 means no limit.
    #[arg(long = "web.max-requests", default_value_t = 40)]
    pub(crate) max_requests: usize,

    /// Maximum number of open connections; more are closed at once. Default: 4096, or
    /// fewer to stay 128 below the open-files limit (raised to its hard limit at start).
    #[arg(long = "web.max-connections")]
    pub(crate) max_connections: Option<usize>,

    /// Maximum number of open connections from one client (an IP address, or an IPv6 /64);
    /// 0 means only --web.max-connections applies. At either limit, the client's (or any
    /// client's) oldest connection that has not sent a request yet is closed to make room.
    #[arg(long = "web.max-connections-per-client", default_value_t = crate::server::connection::DEFAULT_MAX_PER_CLIENT)]
    pub(crate) max_connections_per_client: usize,

    /// A new connection must send its first request within this (HTTP/1 and HTTP/2, the TLS
    /// handshake included), and an HTTP/1 request its headers.
    #[arg(long = "web.read-header-timeout", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) read_header_timeout: std::time::Duration,

    /// A connection that has sent a request and then sends and receives nothing for this
    /// long is closed.
    #[arg(long = "web.idle-timeout", default_value = "2m", value_parser = humantime::parse_duration)]
    pub(crate) idle_timeout: std::time::Duration,

    /// Web configuration (TLS, basic auth, headers) in the format of Prometheus's
    /// exporter-toolkit; re-read when it or the files it names change.
    #[arg(long = "web.config.file")]
    pub(crate) web_config_file: Option<PathBuf>,

    /// Enable POST /-/reload (re-reads the configuration, as SIGHUP does).
    #[arg(long = "web.enable-lifecycle")]
    pub(crate) enable_lifecycle: bool,

    /// Directory where each source's last good data, counters and event cursor are kept,
    /// so a restart serves them at once and continues the counters.
    #[arg(long = "storage.path")]
    pub(crate) storage_path: Option<PathBuf>,

    /// Run against a built-in simulated tenant: no configuration file, no credentials.
    #[arg(long)]
    pub(crate) demo: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Check that one configured source works: authenticate and read one page.
    ///
    /// Authenticates with the source's credentials and reads the first page of each report
    /// the source reads (and of its events, where the vendor has them), then prints what it found, or the
    /// problem and what to check, in plain words. Run it first against a new tenant.
    ///
    /// Exit status: 0 when it authenticated and read a page, 1 when the vendor's API
    /// failed, 2 when the configuration is invalid or has no source of that name.
    CheckSource(CheckSourceArgs),
    /// Exit 0 when a running exporter answers /-/healthy, 1 otherwise.
    ///
    /// For container HEALTHCHECKs: the runtime image has no curl. An answer of 401 counts
    /// as healthy (basic auth is on, and the server is serving); with https, the
    /// certificate is not verified, as the probe is meant for the exporter's own address.
    Healthcheck(HealthcheckArgs),
    /// Serve the built-in simulator of the vendors' APIs (for tests and trials).
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CheckSourceArgs {
    /// The source's `name` in the configuration file.
    pub(crate) name: String,

    /// Path to the configuration file (YAML); also accepted before `check-source`.
    #[arg(long = "config.file")]
    pub(crate) config_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct HealthcheckArgs {
    /// The exporter's health endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9877/-/healthy")]
    pub(crate) url: String,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_level, cli.log_format);
    if cli.serve.config_check && cli.command.is_none() {
        return check::config(&cli.serve.config_file);
    }
    crate::runtime::memory::tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match cli.command {
        Some(Command::CheckSource(args)) => {
            let path = args.config_file.unwrap_or(cli.serve.config_file);
            return runtime.block_on(check::source(&path, &args.name));
        }
        Some(Command::Healthcheck(args)) => runtime.block_on(check::healthcheck(&args.url)),
        Some(Command::Simulate(args)) => runtime.block_on(simulate::run(args)),
        None => runtime.block_on(serve::run(cli.serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        #[cfg(not(feature = "simulator"))]
        Err(Failure::NoSimulator) => {
            eprintln!("{}", simulate::NO_SIMULATOR);
            ExitCode::from(2)
        }
        Err(Failure::Error(error)) => {
            error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// `--demo` or `simulate` in a build without the simulator (exit status 2).
    #[cfg(not(feature = "simulator"))]
    NoSimulator,
    /// Logged; exit status 1.
    Error(Box<dyn std::error::Error + Send + Sync>),
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Error(Box::new(error))
    }
}
