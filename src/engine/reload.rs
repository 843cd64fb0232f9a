//! Configuration reloads (SIGHUP, and `POST /-/reload` with `--web.enable-lifecycle`): an
//! invalid file keeps the running configuration and sets
//! `backup_exporter_config_last_reload_successful` to 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::gauge::Gauge;
use tracing::{error, info, warn};

use super::{Engine, load_config};
use crate::runtime::clock::Clock;

/// Outcome of configuration reloads (SIGHUP, `POST /-/reload`), for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ReloadMetrics {
    pub(crate) successful: Gauge,
    pub(crate) last_success_seconds: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    /// The configuration the exporter started with counts as the last successful load.
    pub fn loaded_at(clock: &Clock) -> ReloadMetrics {
        let metrics = ReloadMetrics::default();
        metrics.successful.set(1);
        metrics
            .last_success_seconds
            .set(clock.now_ms() as f64 / 1000.0);
        metrics
    }
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReloadError {
    #[error("the demo has no configuration file to reload")]
    NoFile,
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Start(#[from] super::StartError),
}

pub(crate) struct Reloader {
    /// `None` in the demo, which has no file.
    path: Option<PathBuf>,
    engine: Arc<Engine>,
    metrics: ReloadMetrics,
    clock: Clock,
    /// One reload at a time.
    lock: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub(crate) fn new(
        path: Option<PathBuf>,
        engine: Arc<Engine>,
        metrics: ReloadMetrics,
        clock: Clock,
    ) -> Reloader {
        Reloader {
            path,
            engine,
            metrics,
            clock,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.lock.lock().await;
        let Some(path) = &self.path else {
            return Err(ReloadError::NoFile);
        };
        let result = match load_config(path) {
            Ok((config, warnings)) => {
                for w in warnings {
                    warn!(field = %w.field, "{}", w.message);
                }
                self.engine.apply(&config).await.map_err(ReloadError::from)
            }
            Err(e) => Err(ReloadError::from(e)),
        };
        match &result {
            Ok(()) => {
                self.metrics.successful.set(1);
                self.metrics
                    .last_success_seconds
                    .set(self.clock.now_ms() as f64 / 1000.0);
                info!(file = %path.display(), "configuration reloaded");
            }
            Err(e) => {
                self.metrics.successful.set(0);
                error!(error = %e, "configuration reload failed; the running configuration stays in use");
            }
        }
        result
    }
}
