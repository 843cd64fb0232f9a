//! backup-exporter: a Prometheus exporter for SaaS backup products.
//!
//! Data flows one way: the engine refreshes each configured source in the background, the
//! vendor's module under `sources/` turns report rows into an immutable state whose series
//! the exposition encodes into a snapshot, and a scrape served by the web layer writes the
//! current snapshots. Scrapes never call a vendor API. `config` reads the file, `health` is
//! the model of the status page, and the [`simulator`] is an independent implementation of
//! the vendor APIs for the demo and the tests. `docs/design.md` draws the whole picture.
//!
//! Modules are private: the re-exports below are the surface the binary, the tests and the
//! benchmark use, and everything else is `pub(crate)`.

#![warn(unreachable_pub)]
// A helper that only some vendors use is dead code in a build without them; the build with
// every vendor (build.rs sets `every_vendor`) is the one held to no dead code.
#![cfg_attr(not(every_vendor), allow(dead_code, unused_imports))]

mod cli;
mod config;
mod engine;
mod exposition;
/// The fuzz targets' entry points (`fuzz/`); not an API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod runtime;
mod secret;
mod server;
#[cfg(feature = "simulator")]
pub mod simulator;
mod sources;
mod web;

// The public surface, and why each item is in it. Nothing of a vendor is: the tests read
// vendors through the simulator and the exporter's own output.

/// The built-in demo (simulated tenants and a configuration reading them), for the tests
/// that run it in process.
#[cfg(feature = "simulator")]
pub use cli::start_demo;
/// The binary's entry point, and why a command failed (its exit status).
pub use cli::{Failure, main};
/// A configuration, parsed and validated (opaque), and its warnings: tests start engines
/// on configurations of their own.
pub use config::ConfigWarning;
/// The reload counters the web layer shows, for tests that serve an engine themselves.
pub use engine::reload::ReloadMetrics;
pub use engine::{Config, parse_config};
/// The refresh engine and what it says of each source: tests run it in process and wait on
/// a source's status instead of the clock.
pub use engine::{Engine, RefreshStatus, SourceHandle};
/// The exposition encoder, for the property test of label escaping and the benchmark.
pub use exposition::{ExpositionBuilder, FamilyDef, Format, Value, produce};
/// The clock every component reads: tests move a manual one instead of sleeping.
pub use runtime::clock::Clock;
/// Why a refresh failed, as a type the tests match.
pub use sources::RefreshError;
/// TLS for the HTTP clients, which tests install once before they build one.
pub use sources::http::install_crypto_provider;
/// The web layer, for tests that serve an engine in process.
pub use web::{App, serve};
