//! The refresh engine: one task per source, refreshing in the background, and what scrapes
//! read of each source — its last published snapshot and how its refreshes are going.
//!
//! Each task refreshes, publishes the new snapshot atomically on success, and sleeps: the
//! interval with jitter after a success, an exponential backoff with jitter after a failure
//! (capped at the interval, stretched to the vendor's `Retry-After`). One task per source
//! means one refresh per source at a time. Scrapes only ever read published snapshots.
//! Configuration reloads, persistence across restarts and the registry of vendors live here
//! too.

mod backoff;
pub(crate) mod persist;
pub(crate) mod reload;
mod task;
mod vendors;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

pub use vendors::Config;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use vendors::fuzz_targets;
#[cfg(test)]
pub(crate) use vendors::test_source;
#[cfg(feature = "simulator")]
pub(crate) use vendors::{SimulatedVendorArgs, demo_options};
pub(crate) use vendors::{SourceSpec, described, families, vendor_parts};

use crate::exposition::Exposition;
use crate::health::HealthSummary;
use crate::runtime::clock::Clock;
use crate::sources::http::{RefreshCost, RequestStats};
use crate::sources::limiter::Limiter;
use crate::sources::{ClientContext, RefreshError, SkipCounts};
use persist::Store;
use task::Task;
use vendors::Client;

/// Reads and validates a configuration file of these vendors.
pub(crate) fn load_config(
    path: &std::path::Path,
) -> Result<(Config, Vec<crate::config::ConfigWarning>), crate::config::ConfigError> {
    crate::config::load(path).map(|(config, warnings)| (Config::from(config), warnings))
}

/// Parses configuration text of these vendors; `file` names it in messages.
pub fn parse_config(
    file: &str,
    text: &str,
) -> Result<(Config, Vec<crate::config::ConfigWarning>), crate::config::ConfigError> {
    crate::config::parse(file, text).map(|(config, warnings)| (Config::from(config), warnings))
}

/// What a scrape reads of one source: the series of the last successful refresh.
pub(crate) struct Snapshot {
    pub(crate) exposition: Exposition,
    /// For the status page.
    pub(crate) health: HealthSummary,
}

/// How a source's refreshes are going.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshStatus {
    /// The last refresh succeeded.
    pub up: bool,
    /// At least one refresh has finished (successfully or not).
    pub(crate) attempted: bool,
    /// Data saved by an earlier run is served (`--storage.path`).
    pub(crate) restored: bool,
    /// Refreshes finished so far, successful or not.
    pub attempts: u64,
    pub(crate) last_success_ms: Option<i64>,
    pub(crate) last_duration: Option<Duration>,
    pub failures_total: u64,
    pub(crate) consecutive_failures: u32,
    pub last_error: Option<RefreshError>,
    pub next_refresh_ms: Option<i64>,
    /// Rows skipped as malformed, summed over successful refreshes.
    pub(crate) rows_skipped: SkipCounts,
    /// Requests, bytes and pages of the last refresh.
    pub(crate) last_cost: RefreshCost,
    /// Each stream of the source by name (`report`; `reports`, `events`), as of its last
    /// read.
    pub(crate) streams: std::collections::BTreeMap<&'static str, StreamStatus>,
}

/// How one stream of a source fared.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StreamStatus {
    /// Its last read succeeded.
    pub up: bool,
    pub(crate) last_success_ms: Option<i64>,
    pub failures_total: u64,
}

impl StreamStatus {
    fn record(&mut self, ok: bool, now_ms: i64) {
        self.up = ok;
        if ok {
            self.last_success_ms = Some(now_ms);
        } else {
            self.failures_total += 1;
        }
    }
}

impl RefreshStatus {
    /// Serves data restored from disk, or has finished a refresh attempt.
    pub fn is_ready(&self) -> bool {
        self.attempted || self.restored
    }
}

/// A configured source as the rest of the exporter sees it.
pub struct SourceHandle {
    pub(crate) spec: SourceSpec,
    /// Unix ms when this exporter started serving the source (at its start, or when a
    /// reload added or changed it): how long a source that never succeeded has had no data.
    pub(crate) started_ms: i64,
    pub(crate) requests: Arc<RequestStats>,
    snapshot: ArcSwapOption<Snapshot>,
    status: Mutex<RefreshStatus>,
    wake: tokio::sync::Notify,
}

impl SourceHandle {
    pub(crate) fn new(spec: SourceSpec, started_ms: i64) -> Self {
        SourceHandle {
            spec,
            started_ms,
            requests: Arc::new(RequestStats::default()),
            snapshot: ArcSwapOption::empty(),
            status: Mutex::new(RefreshStatus::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The source's `name` (its `source` label).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Ends the current wait: the next refresh starts now.
    pub fn refresh_now(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    pub fn status(&self) -> RefreshStatus {
        self.status.lock().expect("status lock").clone()
    }

    fn update(&self, change: impl FnOnce(&mut RefreshStatus)) {
        change(&mut self.status.lock().expect("status lock"));
    }

    pub(crate) fn publish(&self, snapshot: Snapshot) {
        self.snapshot.store(Some(Arc::new(snapshot)));
    }
}

impl std::fmt::Debug for SourceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceHandle")
            .field("name", &self.spec.name)
            .finish()
    }
}

/// The sources scrapes read: swapped whole when the configuration is reloaded.
pub(crate) type SourceList = Arc<ArcSwap<Vec<Arc<SourceHandle>>>>;

/// A source's refresh task.
struct Running {
    handle: Arc<SourceHandle>,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

fn client(
    spec: &SourceSpec,
    requests: Arc<RequestStats>,
    clock: Clock,
) -> Result<Client, RefreshError> {
    let context = ClientContext {
        url: &spec.url,
        http: &spec.http,
        requests,
        limiter: Arc::new(Limiter::new(spec.http.max_in_flight)),
        clock,
    };
    Client::new(spec, context)
}

/// `check-source`: authenticates against one source and reads the first page of what it
/// reads, within the source's `timeout`. What was found, a sentence per line, or what
/// went wrong.
pub(crate) async fn check_source(
    spec: &SourceSpec,
    clock: Clock,
) -> Result<Vec<String>, RefreshError> {
    let client = client(spec, Arc::new(RequestStats::default()), clock)?;
    match tokio::time::timeout(spec.timeout, client.check()).await {
        Ok(result) => result,
        Err(_) => Err(RefreshError::Timeout(spec.timeout)),
    }
}

/// Runs a source's refresh task, and runs it again whenever it ends other than by `stop` (a
/// panic, which would otherwise freeze the source silently): the source shows `up` 0 and
/// one more failure, the error is logged, and the task restarts after a backoff.
async fn supervise(
    handle: Arc<SourceHandle>,
    mut start: impl FnMut(
        &Arc<SourceHandle>,
        &watch::Receiver<bool>,
    ) -> Result<JoinHandle<()>, RefreshError>,
    mut stop: watch::Receiver<bool>,
) {
    let mut restarts = 0u32;
    loop {
        let reason = match start(&handle, &stop) {
            Ok(task) => match task.await {
                _ if *stop.borrow() => return,
                Ok(()) => "it returned".to_string(),
                Err(error) if error.is_panic() => {
                    let panic = error.into_panic();
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    format!("panicked: {message}")
                }
                Err(_) => return,
            },
            Err(error) => error.to_string(),
        };
        restarts += 1;
        let error = RefreshError::TaskEnded(reason);
        tracing::error!(source = %handle.spec.name, error = %error, restarts, "source refresh task ended");
        handle.update(|s| {
            s.up = false;
            s.attempted = true;
            s.failures_total += 1;
            s.consecutive_failures += 1;
            s.last_error = Some(error.clone());
        });
        let delay = backoff::backoff(restarts, handle.spec.refresh_interval, None);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A source whose client cannot be built (a CA file, TLS settings): nothing is started.
#[derive(Debug, thiserror::Error)]
#[error("source {source_name}: {error}")]
pub struct StartError {
    pub(crate) source_name: String,
    pub(crate) error: RefreshError,
}

/// All sources and their refresh tasks.
pub struct Engine {
    clock: Clock,
    store: Option<Arc<Store>>,
    sources: SourceList,
    running: tokio::sync::Mutex<Vec<Running>>,
}

impl Engine {
    /// Creates every source's client and starts its refresh task; with a `store`, each
    /// source first serves what an earlier run saved.
    pub fn start(
        config: &Config,
        clock: Clock,
        store: Option<Arc<Store>>,
    ) -> Result<Engine, StartError> {
        let engine = Engine {
            clock,
            store,
            sources: Arc::new(ArcSwap::from_pointee(Vec::new())),
            running: tokio::sync::Mutex::new(Vec::new()),
        };
        let mut running = Vec::new();
        for spec in &config.sources {
            let handle = Arc::new(SourceHandle::new(spec.clone(), engine.clock.now_ms()));
            let client = engine.client(&handle)?;
            running.push(engine.spawn(handle, client));
        }
        engine
            .sources
            .store(Arc::new(running.iter().map(|r| r.handle.clone()).collect()));
        *engine.running.try_lock().expect("not shared yet") = running;
        Ok(engine)
    }

    fn client(&self, handle: &SourceHandle) -> Result<Client, StartError> {
        client(&handle.spec, handle.requests.clone(), self.clock.clone()).map_err(|error| {
            StartError {
                source_name: handle.spec.name.clone(),
                error,
            }
        })
    }

    fn spawn(&self, handle: Arc<SourceHandle>, client: Client) -> Running {
        let (stop, stopped) = watch::channel(false);
        let (clock, store) = (self.clock.clone(), self.store.clone());
        let mut client = Some(client);
        let start = move |handle: &Arc<SourceHandle>, stop: &watch::Receiver<bool>| {
            // The first run uses the client built at start; a restart builds a new one.
            let client = match client.take() {
                Some(client) => client,
                None => self::client(&handle.spec, handle.requests.clone(), clock.clone())?,
            };
            Ok(client.spawn(Task {
                handle: handle.clone(),
                clock: clock.clone(),
                stop: stop.clone(),
                store: store.clone(),
            }))
        };
        let task = tokio::spawn(supervise(handle.clone(), start, stopped));
        Running { handle, task, stop }
    }

    /// The sources, as scrapes see them (the list changes on reload).
    pub fn source_list(&self) -> SourceList {
        self.sources.clone()
    }

    pub fn sources(&self) -> Arc<Vec<Arc<SourceHandle>>> {
        self.sources.load_full()
    }

    /// Every source serves restored data or has finished its first refresh attempt.
    pub fn is_ready(&self) -> bool {
        self.sources().iter().all(|s| s.status().is_ready())
    }

    /// Applies a new configuration: sources whose settings are unchanged keep running with
    /// their data; changed, new and removed ones are restarted, started and stopped. Fails,
    /// changing nothing, if a new source's client cannot be created.
    pub(crate) async fn apply(&self, config: &Config) -> Result<(), StartError> {
        let mut running = self.running.lock().await;
        let mut keep = Vec::new();
        let mut start = Vec::new();
        for spec in &config.sources {
            match running.iter().position(|r| r.handle.spec == *spec) {
                Some(i) => keep.push(running.remove(i)),
                None => {
                    let handle = Arc::new(SourceHandle::new(spec.clone(), self.clock.now_ms()));
                    let client = match self.client(&handle) {
                        Ok(client) => client,
                        Err(e) => {
                            running.append(&mut keep);
                            return Err(e);
                        }
                    };
                    start.push((handle, client));
                }
            }
        }
        // What is left runs a removed or changed source: stop it before its successor starts.
        for old in running.drain(..) {
            info!(source = %old.handle.spec.name, "stopping source");
            let _ = old.stop.send(true);
            let _ = old.task.await;
        }
        for (handle, client) in start {
            info!(source = %handle.spec.name, "starting source");
            keep.push(self.spawn(handle, client));
        }
        // In configuration order.
        keep.sort_by_key(|r| {
            config
                .sources
                .iter()
                .position(|s| s.name == r.handle.spec.name)
        });
        self.sources
            .store(Arc::new(keep.iter().map(|r| r.handle.clone()).collect()));
        *running = keep;
        Ok(())
    }

    /// Stops the refresh tasks; a refresh under way is abandoned.
    pub async fn stop(&self) {
        for source in self.running.lock().await.drain(..) {
            let _ = source.stop.send(true);
            let _ = source.task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_counted_logged_and_restarted() {
        let spec = test_source("s", "http://127.0.0.1:1", "    refresh_interval: 1m\n");
        let handle = Arc::new(SourceHandle::new(spec, 0));
        let runs = Arc::new(AtomicU32::new(0));
        let start = {
            let runs = runs.clone();
            move |_: &Arc<SourceHandle>, stop: &watch::Receiver<bool>| {
                let (runs, mut stop) = (runs.clone(), stop.clone());
                Ok(tokio::spawn(async move {
                    // The first two runs panic; the third runs until stopped.
                    if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                        panic!("overflow when adding duration to instant");
                    }
                    let _ = stop.changed().await;
                }))
            }
        };
        let (stop, stopped) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(handle.clone(), start, stopped));
        while runs.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let status = handle.status();
        assert!(!status.up);
        assert_eq!(status.failures_total, 2);
        assert!(matches!(
            &status.last_error,
            Some(RefreshError::TaskEnded(reason)) if reason.contains("overflow when adding duration")
        ));
        stop.send(true).unwrap();
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3, "stopped, not restarted");
    }
}
