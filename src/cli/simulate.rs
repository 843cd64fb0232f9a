//! The built-in simulator of the vendors' APIs: `simulate` serves it alone, `--demo` runs
//! the exporter against it. Each vendor's simulator brings its own flags and its demo
//! source (`src/engine/vendors.rs` lists them). A build without the `simulator` feature
//! says so and exits 2.

use clap::Args;

use super::Failure;

/// What `--demo` and `simulate` say in a build without the simulator.
#[cfg(not(feature = "simulator"))]
pub(crate) const NO_SIMULATOR: &str = "this build has no simulator (built without the \"simulator\" feature): --demo and simulate are not available";

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,

    /// How long every answer waits, as a real API's does (a report page takes 0.3–2 s).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub(crate) latency: std::time::Duration,

    /// Seed of the generated estate; the same seed gives the same estate.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,

    /// Each vendor's own flags.
    #[cfg(feature = "simulator")]
    #[command(flatten)]
    pub(crate) vendors: crate::engine::SimulatedVendorArgs,
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

    use super::{Failure, SimulateArgs};
    use crate::engine::{Config, demo_options, parse_config};
    use crate::runtime::clock::Clock;
    use crate::server::bind;

    /// The demo's simulator cannot start.
    #[derive(Debug, thiserror::Error)]
    #[error("demo: cannot start the simulator: {0}")]
    struct DemoError(std::io::Error);
    use crate::simulator::{self, RunningSimulator, Simulator, SimulatorOptions};

    impl SimulateArgs {
        fn options(&self) -> SimulatorOptions {
            let mut options = self.vendors.options(self.seed);
            options.latency = self.latency;
            options
        }
    }

    /// Every vendor simulated, in a few words each.
    fn described(running: &RunningSimulator) -> String {
        running
            .simulator
            .vendors()
            .map(|v| v.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The demo: simulated tenants on a loopback port and a configuration pointing at them.
    pub async fn start_demo(clock: Clock) -> Result<(Config, RunningSimulator), Failure> {
        let simulator = Simulator::new(demo_options(), clock);
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(DemoError)?;
        let running = simulator::start(simulator, listener).map_err(DemoError)?;
        let url = running.url();
        let yaml = std::iter::once("sources:\n".to_string())
            .chain(running.simulator.vendors().map(|v| v.demo_source(&url)))
            .collect::<String>();
        // The demo's secrets are the simulator's own, so inline is right here.
        let (config, _inline_secret_warnings) = parse_config("demo", &yaml)?;
        info!(simulator = %url, vendors = %described(&running), "demo: serving simulated tenants");
        Ok((config, running))
    }

    pub(crate) async fn run(args: SimulateArgs) -> Result<(), Failure> {
        let simulator = Simulator::new(args.options(), Clock::System);
        let running = simulator::start(simulator, bind(&args.listen).await?)?;
        info!(
            url = %running.url(),
            vendors = %described(&running),
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
        pub(crate) async fn stop(self) {}
    }

    pub(crate) async fn start_demo(_: Clock) -> Result<(Config, Demo), Failure> {
        Err(Failure::NoSimulator)
    }

    pub(crate) async fn run(_: SimulateArgs) -> Result<(), Failure> {
        Err(Failure::NoSimulator)
    }
}
