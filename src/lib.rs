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
mod health;
mod runtime;
mod secret;
mod server;
#[cfg(feature = "simulator")]
pub mod simulator;
mod sources;
mod web;

// The public surface: what the binary, the tests and the benchmark use.
#[cfg(feature = "simulator")]
pub use cli::start_demo;
pub use cli::{Failure, main};
pub use config::ConfigWarning;
pub use engine::reload::ReloadMetrics;
pub use engine::{Config, Engine, RefreshStatus, SourceHandle, parse_config};
pub use exposition::{ExpositionBuilder, FamilyDef, Format, Value, produce};
pub use runtime::clock::Clock;
pub use sources::http::install_crypto_provider;
pub use sources::{RefreshError, SkipCounts, SkipReason};
pub use web::{App, serve};
