//! The built-in simulator of the vendors' APIs: `simulate` serves it alone, `--demo` runs
//! the exporter against it. A build without the `simulator` feature says so and exits 2.

use clap::{Args, ValueEnum};

use super::Failure;

/// What `--demo` and `simulate` say in a build without the simulator.
#[cfg(not(feature = "simulator"))]
pub(crate) const NO_SIMULATOR: &str = "this build has no simulator (built without the \"simulator\" feature): --demo and simulate are not available";

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Number of Code42 devices (about 1.3 archives each).
    #[arg(long, default_value_t = 200)]
    pub devices: usize,

    /// Number of Druva Microsoft 365 users (two workloads each); sites, teams and groups
    /// grow in proportion beyond the defaults (one site per 25 users, a team per 50, a
    /// group per 40).
    #[arg(long = "druva-users", default_value_t = 300)]
    pub druva_users: usize,

    /// How long every answer waits, as a real API's does (a report page takes 0.3–2 s).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: std::time::Duration,

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
pub(crate) enum ValuesArg {
    Strings,
    Native,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum DatesArg {
    /// 2020-10-12T20:17:52.084Z
    Utc,
    /// 2020-10-12T14:17:52.084-06:00
    Offset,
    /// Oct 12, 2020 08:17:52 PM (the 2015 on-premises format)
    OnPremises,
    /// Oct 12, 2020, 8:17:52 PM with U+202F before PM (a server on JDK 20 or later)
    JavaMedium,
}

#[cfg(feature = "simulator")]
pub(crate) use with_simulator::run;
#[cfg(feature = "simulator")]
pub use with_simulator::start_demo;
#[cfg(not(feature = "simulator"))]
pub(crate) use without_simulator::{run, start_demo};

#[cfg(feature = "simulator")]
mod with_simulator {
    use tokio::net::TcpListener;
    use tracing::info;

    use super::{DatesArg, Failure, SimulateArgs, ValuesArg};
    use crate::engine::{Config, parse_config};
    use crate::runtime::clock::Clock;
    use crate::simulator::{
        self, Code42Options, DateStyle, DruvaOptions, RunningSimulator, Simulator,
        SimulatorOptions, ValueStyle,
    };
    use crate::web::parse_listen_address;

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
                        DatesArg::JavaMedium => DateStyle::JavaMedium,
                    },
                    ..Code42Options::default()
                },
                druva: {
                    let defaults = DruvaOptions::default();
                    DruvaOptions {
                        users: self.druva_users,
                        sites: defaults.sites.max(self.druva_users / 25),
                        teams: defaults.teams.max(self.druva_users / 50),
                        groups: defaults.groups.max(self.druva_users / 40),
                        seed: self.seed,
                        ..defaults
                    }
                },
                latency: self.latency,
            }
        }
    }

    /// The demo: simulated tenants on a loopback port and a configuration pointing at them.
    pub async fn start_demo(clock: Clock) -> Result<(Config, RunningSimulator), Failure> {
        let options = SimulatorOptions {
            code42: Code42Options {
                devices: 120,
                ..Code42Options::default()
            },
            druva: DruvaOptions::default(),
            latency: std::time::Duration::ZERO,
        };
        let simulator = Simulator::new(options, clock);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("demo: cannot start the simulator: {e}"))?;
        let running = simulator::start(simulator, listener).map_err(|e| e.to_string())?;
        let quoted = |s: &str| serde_json::to_string(s).expect("a string");
        let code42 = running.simulator.code42.options();
        let druva = running.simulator.druva.options();
        let yaml = format!(
            "sources:
  - name: demo-crashplan
    vendor: code42
    url: {url}
    client_id: {code42_id}
    client_secret: {code42_secret}
    refresh_interval: 1m
    timeout: 30s
    query: {{ active: \"true\" }}
  - name: demo-druva
    vendor: druva
    url: {url}
    client_id: {druva_id}
    client_secret: {druva_secret}
    refresh_interval: 1m
    timeout: 30s
",
            url = running.url(),
            code42_id = quoted(&code42.client_id),
            code42_secret = quoted(&code42.client_secret),
            druva_id = quoted(&druva.client_id),
            druva_secret = quoted(&druva.client_secret),
        );
        // The demo's secrets are the simulator's own, so inline is right here.
        let (config, _inline_secret_warnings) =
            parse_config("demo", &yaml).map_err(|e| e.to_string())?;
        Ok((config, running))
    }

    pub(crate) async fn run(args: SimulateArgs) -> Result<(), Failure> {
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
        crate::cli::serve::shutdown_signal().await;
        running.stop().await;
        Ok(())
    }
}

#[cfg(not(feature = "simulator"))]
mod without_simulator {
    use super::{Failure, SimulateArgs};
    use crate::engine::Config;
    use crate::runtime::clock::Clock;

    /// Nothing: this build has no simulator.
    pub(crate) enum Demo {}

    impl Demo {
        pub(crate) fn url(&self) -> String {
            match *self {}
        }

        pub(crate) async fn stop(self) {}
    }

    pub(crate) async fn start_demo(_: Clock) -> Result<(Config, Demo), Failure> {
        Err(Failure::NoSimulator)
    }

    pub(crate) async fn run(_: SimulateArgs) -> Result<(), Failure> {
        Err(Failure::NoSimulator)
    }
}
