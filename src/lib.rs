//! backup-exporter: a Prometheus exporter for SaaS backup products.
//!
//! Data flows one way: a background [`engine`] refreshes each configured source, the
//! vendor module (e.g. [`code42`]) turns report rows into an immutable snapshot, and a
//! scrape ([`exposition`]) encodes the current snapshots. Scrapes never call a vendor API.
//! The [`simulator`] is an independent implementation of the vendor APIs for the demo and
//! the tests.

pub mod background;
pub mod cardinality;
pub mod cli;
pub mod clock;
pub mod code42;
pub mod config;
pub mod druva;
pub mod engine;
pub mod exposition;
pub mod intern;
pub mod logging;
pub mod memory;
pub mod persist;
pub mod record;
pub mod reload;
pub mod secret;
pub mod self_metrics;
pub mod server;
pub mod simulator;
pub mod source;
pub mod status;
pub mod timestamp;
pub mod token;
pub mod upstream;
