//! backup-exporter: a Prometheus exporter for SaaS backup products.
//!
//! Data flows one way: a background [`engine`] refreshes each configured source, the
//! vendor module (e.g. [`code42`]) turns report rows into an immutable snapshot, and a
//! scrape ([`exposition`]) encodes the current snapshots. Scrapes never call a vendor API.

pub mod clock;
pub mod code42;
pub mod config;
pub mod exposition;
pub mod intern;
pub mod record;
pub mod secret;
pub mod source;
pub mod timestamp;
pub mod upstream;
