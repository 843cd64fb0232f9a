//! backup-exporter: a Prometheus exporter for SaaS backup products.
//!
//! Data flows one way: the [`engine`] refreshes each configured source in the background,
//! the vendor's module under [`sources`] turns report rows into an immutable state whose
//! series [`exposition`] encodes into a snapshot, and a scrape served by [`web`] writes the
//! current snapshots. Scrapes never call a vendor API. [`config`] reads the file, [`health`]
//! is the model of the status page, and the [`simulator`] is an independent implementation
//! of the vendor APIs for the demo and the tests. `docs/design.md` draws the whole picture.
//!
//! Items are `pub(crate)` unless the tests or the benchmark need them.

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod engine;
pub mod exposition;
pub(crate) mod health;
pub mod runtime;
pub(crate) mod secret;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod sources;
pub mod web;
