//! Command-line interface: serving (the default), `--config.check`, `--demo`,
//! `check-source`, `simulate`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::clock::Clock;
use crate::config::{self, Config};
use crate::engine::Engine;
use crate::logging;
use crate::persist::Store;
use crate::reload::Reloader;
use crate::self_metrics::ReloadMetrics;
use crate::server::webconfig::WebConfigWatch;
use crate::server::{self, App, parse_listen_address};
use crate::simulator::{
    self, Code42Options, DateStyle, DruvaOptions, RunningSimulator, Simulator, SimulatorOptions,
    ValueStyle,
};

/// Prometheus exporter for SaaS backup products: Code42/CrashPlan device backups and
/// Druva inSync Microsoft 365 backups.
///
/// Each configured source is refreshed in the background every refresh_interval; a scrape
/// of /metrics encodes the last good data and never calls a vendor API.
#[derive(Parser, Debug)]
#[command(
    name = "backup-exporter",
    version,
    about,
    long_about,
    after_long_help = "Examples:
  backup-exporter --demo                       run against built-in simulated tenants
  backup-exporter --config.check               validate backup-exporter.yml and exit
  backup-exporter check-source crashplan-us    try one source's credentials and first page
  backup-exporter --config.file /etc/backup-exporter/backup-exporter.yml
  backup-exporter simulate --devices 10000     serve the simulated vendor APIs alone

Endpoints: / (status page), /metrics, /-/healthy, /-/ready, /-/reload (POST, with
--web.enable-lifecycle). SIGHUP re-reads the configuration.
Documentation: README.md and docs/cli.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,

    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub log_level: logging::Level,

    /// Log line format.
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    pub log_format: logging::Format,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Path to the configuration file (YAML).
    #[arg(long = "config.file", default_value = "backup-exporter.yml")]
    pub config_file: PathBuf,

    /// Validate the configuration file, print the result and exit (0 valid, 1 invalid).
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// Address to listen on; repeat to listen on several. ":9877" means all interfaces.
    #[arg(long = "web.listen-address", default_value = ":9877")]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,

    /// Maximum number of concurrent scrapes; 0 means no limit.
    #[arg(long = "web.max-requests", default_value_t = 40)]
    pub max_requests: usize,

    /// Web configuration (TLS, basic auth, headers) in the format of Prometheus's
    /// exporter-toolkit; re-read when it or the files it names change.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Enable POST /-/reload (re-reads the configuration, as SIGHUP does).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Directory where each source's last good data, counters and event cursor are kept,
    /// so a restart serves them at once and continues the counters.
    #[arg(long = "storage.path")]
    pub storage_path: Option<PathBuf>,

    /// Run against a built-in simulated tenant: no configuration file, no credentials.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that one configured source works: authenticate and read one page.
    ///
    /// Authenticates with the source's credentials and reads the first page of each report
    /// the source reads (and of the events, for Druva), then prints what it found, or the
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
    /// Serve the built-in simulator of the Code42 and Druva APIs (for tests and trials).
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
pub struct CheckSourceArgs {
    /// The source's `name` in the configuration file.
    pub name: String,

    /// Path to the configuration file (YAML); also accepted before `check-source`.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// The exporter's health endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9877/-/healthy")]
    pub url: String,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Number of Code42 devices (about 1.3 archives each).
    #[arg(long, default_value_t = 200)]
    pub devices: usize,

    /// Number of Druva Microsoft 365 users (two workloads each).
    #[arg(long = "druva-users", default_value_t = 300)]
    pub druva_users: usize,

    /// Seed of the generated estate; the same seed gives the same estate.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// How Code42 values are written: strings (cloud) or native JSON numbers and booleans.
    #[arg(long = "code42-values", value_enum, default_value = "strings")]
    pub code42_values: ValuesArg,

    /// How Code42 dates are written.
    #[arg(long = "code42-dates", value_enum, default_value = "utc")]
    pub code42_dates: DatesArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ValuesArg {
    Strings,
    Native,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DatesArg {
    /// 2020-10-12T20:17:52.084Z
    Utc,
    /// 2020-10-12T14:17:52.084-06:00
    Offset,
    /// Oct 12, 2020 08:17:52 PM (the 2015 on-premises format)
    OnPremises,
}

impl SimulateArgs {
    fn options(&self) -> SimulatorOptions {
        SimulatorOptions {
            code42: Code42Options {
                devices: self.devices,
                seed: self.seed,
                values: match self.code42_values {
                    ValuesArg::Strings => ValueStyle::Strings,
                    ValuesArg::Native => ValueStyle::Native,
                },
                dates: match self.code42_dates {
                    DatesArg::Utc => DateStyle::Utc,
                    DatesArg::Offset => DateStyle::Offset,
                    DatesArg::OnPremises => DateStyle::OnPremises,
                },
                ..Code42Options::default()
            },
            druva: DruvaOptions {
                users: self.druva_users,
                seed: self.seed,
                ..DruvaOptions::default()
            },
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_level, cli.log_format);
    if cli.serve.config_check && cli.command.is_none() {
        return check_config(&cli.serve.config_file);
    }
    crate::memory::limit_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match cli.command {
        Some(Command::CheckSource(args)) => {
            let path = args.config_file.unwrap_or(cli.serve.config_file);
            return runtime.block_on(check_source(&path, &args.name));
        }
        Some(Command::Healthcheck(args)) => runtime.block_on(healthcheck(&args.url)),
        Some(Command::Simulate(args)) => runtime.block_on(simulate(args)),
        None => runtime.block_on(serve(cli.serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok((config, warnings)) => {
            for w in &warnings {
                eprintln!("{}: {}: warning: {}", path.display(), w.field, w.message);
            }
            println!(
                "{}: configuration is valid ({} source{})",
                path.display(),
                config.sources.len(),
                if config.sources.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn check_source(path: &std::path::Path, name: &str) -> ExitCode {
    let config = match config::load(path) {
        Ok((config, _)) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(spec) = config.sources.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "{}: no source named {name:?}; the sources are: {}",
            path.display(),
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    println!(
        "checking source {name:?} ({}, {})",
        spec.vendor.name(),
        spec.url
    );
    match crate::engine::check_source(spec, Clock::System).await {
        Ok(lines) => {
            for line in lines {
                println!("ok: {line}");
            }
            println!("source {name:?} works: the exporter can authenticate and read it");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("problem: {message}");
            if let Some(hint) = hint(&message) {
                println!("what to check: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(url: &str) -> Result<(), String> {
    crate::upstream::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .tls_danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| format!("healthcheck: {e}"))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("healthcheck: {url}: {}", crate::upstream::root_cause(&e)))?;
    match response.status().as_u16() {
        200 | 401 => Ok(()),
        status => Err(format!("healthcheck: {url}: HTTP {status}")),
    }
}

/// What a user can do about a failed check, from the words of the error.
fn hint(message: &str) -> Option<&'static str> {
    let hints: [(&str, &str); 7] = [
        (
            "HTTP 401",
            "the vendor refused the credentials: check client_id (or username) and the secret the configuration points at, and that the API client is enabled",
        ),
        (
            "HTTP 403",
            "the credentials work but may not read this: give the API client a role that can read reports (Code42: Customer Cloud Admin; Druva: read access to reporting)",
        ),
        (
            "HTTP 404",
            "nothing at that address: check url (the console's API address for your region) and, for Code42, report_path",
        ),
        (
            "HTTP 429",
            "the vendor is rate limiting: wait a minute and try again, and consider a longer refresh_interval",
        ),
        (
            "HTTP 5",
            "the vendor's service failed: try again later; the exporter retries with backoff",
        ),
        (
            "request failed",
            "no connection: check url, DNS, proxies (HTTPS_PROXY) and firewalls, and for a private CA, the source's tls.ca_file",
        ),
        (
            "timed out",
            "no answer in time: check the network path to the vendor, or raise the source's timeout",
        ),
    ];
    hints
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map(|(_, hint)| *hint)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

async fn bind_all(addresses: &[String]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for text in addresses {
        let addr: SocketAddr = parse_listen_address(text)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {text}: {e}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The demo: a simulated tenant on a loopback port and a configuration pointing at it.
pub async fn start_demo(clock: Clock) -> Result<(Config, RunningSimulator), String> {
    let options = SimulatorOptions {
        code42: Code42Options {
            devices: 120,
            ..Code42Options::default()
        },
        druva: DruvaOptions::default(),
    };
    let simulator = Simulator::new(options, clock);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo: cannot start the simulator: {e}"))?;
    let running = simulator::start(simulator, listener).map_err(|e| e.to_string())?;
    let config = config::demo(
        &running.url(),
        &running.simulator.code42.options().client_secret,
        &running.simulator.druva.options().client_secret,
    );
    Ok((config, running))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    if !args.telemetry_path.starts_with('/')
        || matches!(
            args.telemetry_path.as_str(),
            "/" | "/-/healthy" | "/-/ready" | "/-/reload"
        )
    {
        return Err(format!(
            "--web.telemetry-path {:?} must be a path of its own, such as /metrics",
            args.telemetry_path
        ));
    }
    let web = match &args.web_config_file {
        Some(path) => Some(Arc::new(WebConfigWatch::load(path)?)),
        None => None,
    };
    let clock = Clock::System;
    let (config, demo) = if args.demo {
        let (config, running) = start_demo(clock.clone()).await?;
        info!(simulator = %running.url(), "demo: serving simulated Code42 and Druva tenants");
        (config, Some(running))
    } else {
        let (config, warnings) = config::load(&args.config_file).map_err(|e| e.to_string())?;
        for w in warnings {
            warn!(field = %w.field, "{}", w.message);
        }
        (config, None)
    };
    let store = match &args.storage_path {
        Some(dir) => Some(Arc::new(Store::open(dir)?)),
        None => None,
    };
    let listeners = bind_all(&args.listen_addresses).await?;
    let engine = Arc::new(Engine::start(&config, clock.clone(), store)?);
    let reload_metrics = ReloadMetrics::loaded_at(&clock);
    let config_file = (!args.demo).then(|| args.config_file.clone());
    let reloader = Arc::new(Reloader::new(
        config_file,
        engine.clone(),
        reload_metrics.clone(),
        clock.clone(),
    ));
    let mut app = App::new(
        engine.source_list(),
        args.telemetry_path.clone(),
        clock,
        args.max_requests,
        &reload_metrics,
    );
    if args.enable_lifecycle {
        app.lifecycle = Some(reloader.clone());
    }
    app.web = web;
    let app = Arc::new(app);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        info!(%address, telemetry_path = %args.telemetry_path, sources = config.sources.len(), "listening");
        let mut stop = stop_rx.clone();
        servers.push(tokio::spawn(server::serve(
            listener,
            app.clone(),
            async move {
                let _ = stop.changed().await;
            },
        )));
    }
    let hangups = tokio::spawn(reload_on_sighup(reloader));
    shutdown_signal().await;
    info!("shutting down");
    hangups.abort();
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    engine.stop().await;
    if let Some(demo) = demo {
        demo.stop().await;
    }
    Ok(())
}

/// Re-reads the configuration on every SIGHUP.
async fn reload_on_sighup(reloader: Arc<Reloader>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            info!("SIGHUP: reloading the configuration");
            let _ = reloader.reload().await;
        }
    }
    #[cfg(not(unix))]
    drop(reloader);
}

async fn simulate(args: SimulateArgs) -> Result<(), String> {
    let simulator = Simulator::new(args.options(), Clock::System);
    let listener = TcpListener::bind(parse_listen_address(&args.listen)?)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let running = simulator::start(simulator, listener).map_err(|e| e.to_string())?;
    let code42 = running.simulator.code42.options().clone();
    let druva = running.simulator.druva.options().clone();
    info!(
        url = %running.url(),
        code42_devices = code42.devices,
        code42_client_id = %code42.client_id,
        druva_users = druva.users,
        druva_client_id = %druva.client_id,
        "simulator serving; credentials are the built-in demo ones (see docs/simulator.md)"
    );
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}
