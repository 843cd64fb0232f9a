//! The refresh engine: one task per source, refreshing in the background.
//!
//! Each task refreshes, publishes the new snapshot atomically on success, and sleeps: the
//! interval with jitter after a success, an exponential backoff with jitter after a failure
//! (capped at the interval, stretched to the vendor's `Retry-After`). One task per source
//! means one refresh per source at a time. Scrapes only ever read published snapshots.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::cardinality::{ExposeContext, Identities, IdentityHasher};
use crate::clock::Clock;
use crate::code42::Code42Source;
use crate::config::{Config, Detail, SourceSpec, VendorSpec};
use crate::druva::DruvaSource;
use crate::exposition::{Exposition, ExpositionBuilder};
use crate::persist::{SavedStatus, Store};
use crate::source::{Refreshed, SkipCounts, Source, VendorState};
use crate::status::StatusSummary;
use crate::upstream::{RefreshCost, RequestStats};

/// What a scrape reads of one source: the series of the last successful refresh.
pub struct Snapshot {
    pub exposition: Exposition,
    /// For the status page.
    pub status: StatusSummary,
    /// Unix milliseconds when the refresh that produced it finished.
    pub refreshed_at_ms: i64,
}

/// How a source's refreshes are going.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// The last refresh succeeded.
    pub up: bool,
    /// At least one refresh has finished (successfully or not).
    pub attempted: bool,
    /// Data saved by an earlier run is served (`--storage.path`).
    pub restored: bool,
    /// Refreshes finished so far, successful or not.
    pub attempts: u64,
    pub last_success_ms: Option<i64>,
    pub last_duration: Option<Duration>,
    pub failures_total: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub next_refresh_ms: Option<i64>,
    /// Rows skipped as malformed, summed over successful refreshes.
    pub rows_skipped: SkipCounts,
    /// Requests, bytes and pages of the last refresh.
    pub last_cost: RefreshCost,
}

impl Status {
    /// Serves data restored from disk, or has finished a refresh attempt.
    pub fn is_ready(&self) -> bool {
        self.attempted || self.restored
    }

    fn saved(&self, requests: &RequestStats) -> SavedStatus {
        SavedStatus {
            up: self.up,
            last_success_ms: self.last_success_ms,
            failures_total: self.failures_total,
            rows_skipped: self.rows_skipped.clone(),
            requests: requests.counts(),
        }
    }
}

/// A configured source as the rest of the exporter sees it.
pub struct SourceHandle {
    pub spec: SourceSpec,
    pub requests: Arc<RequestStats>,
    snapshot: ArcSwapOption<Snapshot>,
    status: Mutex<Status>,
    wake: tokio::sync::Notify,
}

impl SourceHandle {
    pub fn new(spec: SourceSpec) -> Self {
        SourceHandle {
            spec,
            requests: Arc::new(RequestStats::default()),
            snapshot: ArcSwapOption::empty(),
            status: Mutex::new(Status::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Ends the current wait: the next refresh starts now.
    pub fn refresh_now(&self) {
        self.wake.notify_one();
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    pub fn status(&self) -> Status {
        self.status.lock().expect("status lock").clone()
    }

    fn update(&self, change: impl FnOnce(&mut Status)) {
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
pub type SourceList = Arc<ArcSwap<Vec<Arc<SourceHandle>>>>;

/// A source's refresh task.
struct Running {
    handle: Arc<SourceHandle>,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// A vendor client, created before anything is started so a configuration whose clients
/// cannot be built changes nothing.
enum Client {
    Code42(Box<Code42Source>),
    Druva(Box<DruvaSource>),
}

impl Client {
    fn new(spec: &SourceSpec, requests: Arc<RequestStats>, clock: Clock) -> Result<Client, String> {
        let client = match &spec.vendor {
            VendorSpec::Code42(code42) => {
                Code42Source::new(spec, code42, requests).map(|c| Client::Code42(Box::new(c)))
            }
            VendorSpec::Druva(druva) => {
                DruvaSource::new(spec, druva, requests, clock).map(|d| Client::Druva(Box::new(d)))
            }
        };
        client.map_err(|e| format!("source {}: {e}", spec.name))
    }
}

/// `check-source`: authenticates against one source and reads the first page of what it
/// reads, within the source's `timeout`. What was found, a sentence per line, or what
/// went wrong.
pub async fn check_source(spec: &SourceSpec, clock: Clock) -> Result<Vec<String>, String> {
    let client = Client::new(spec, Arc::new(RequestStats::default()), clock)?;
    let check = async {
        match client {
            Client::Code42(source) => source.check().await,
            Client::Druva(source) => source.check().await,
        }
    };
    match tokio::time::timeout(spec.timeout, check).await {
        Ok(result) => result.map_err(|e| e.message),
        Err(_) => Err(format!(
            "timed out after {} (the source's timeout)",
            humantime::format_duration(spec.timeout)
        )),
    }
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
    ) -> Result<Engine, String> {
        let engine = Engine {
            clock,
            store,
            sources: Arc::new(ArcSwap::from_pointee(Vec::new())),
            running: tokio::sync::Mutex::new(Vec::new()),
        };
        let mut running = Vec::new();
        for spec in &config.sources {
            let handle = Arc::new(SourceHandle::new(spec.clone()));
            let client = engine.client(&handle)?;
            running.push(engine.spawn(handle, client));
        }
        engine
            .sources
            .store(Arc::new(running.iter().map(|r| r.handle.clone()).collect()));
        *engine.running.try_lock().expect("not shared yet") = running;
        Ok(engine)
    }

    fn client(&self, handle: &SourceHandle) -> Result<Client, String> {
        Client::new(&handle.spec, handle.requests.clone(), self.clock.clone())
    }

    fn spawn(&self, handle: Arc<SourceHandle>, client: Client) -> Running {
        let (stop, stopped) = watch::channel(false);
        let (clock, store) = (self.clock.clone(), self.store.clone());
        let task = match client {
            Client::Code42(source) => {
                tokio::spawn(run(*source, handle.clone(), clock, stopped, store))
            }
            Client::Druva(source) => {
                tokio::spawn(run(*source, handle.clone(), clock, stopped, store))
            }
        };
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
    pub async fn apply(&self, config: &Config) -> Result<(), String> {
        let mut running = self.running.lock().await;
        let mut keep = Vec::new();
        let mut start = Vec::new();
        for spec in &config.sources {
            match running.iter().position(|r| r.handle.spec == *spec) {
                Some(i) => keep.push(running.remove(i)),
                None => {
                    let handle = Arc::new(SourceHandle::new(spec.clone()));
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

/// Sleep after the `failures`-th consecutive failure: exponential from a tenth of the
/// interval (at most 5 s), capped at the interval, with "equal jitter" (half fixed, half
/// random), and never shorter than what the vendor asked for (within the interval).
pub fn backoff(failures: u32, interval: Duration, retry_after: Option<Duration>) -> Duration {
    let base = (interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1 << exponent).min(interval);
    let jittered = ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0);
    jittered.max(retry_after.unwrap_or_default().min(interval))
}

/// The interval with ±5 % jitter, so sources started together drift apart.
pub fn jittered_interval(interval: Duration) -> Duration {
    interval.mul_f64(0.95 + fastrand::f64() * 0.1)
}

/// Serves what an earlier run saved, if anything; returns the state to continue from.
async fn restore<S: Source>(handle: &SourceHandle, store: &Arc<Store>) -> Option<Arc<S::State>> {
    let (store, spec) = (store.clone(), handle.spec.clone());
    let loaded = tokio::task::spawn_blocking(move || store.load::<S::State>(&spec))
        .await
        .ok()??;
    handle.requests.restore(&loaded.status.requests);
    let saved = loaded.status;
    let state = loaded.state.map(Arc::new);
    if let Some(state) = &state {
        let (exposition, status) = build_exposition(
            &handle.spec,
            state.clone(),
            saved.last_success_ms.unwrap_or_default(),
        )
        .await;
        handle.publish(Snapshot {
            exposition,
            status,
            refreshed_at_ms: saved.last_success_ms.unwrap_or_default(),
        });
    }
    info!(
        source = %handle.spec.name,
        data = state.is_some(),
        last_success = ?saved.last_success_ms.map(crate::timestamp::format_rfc3339),
        "restored from --storage.path"
    );
    handle.update(|s| {
        s.restored = state.is_some();
        s.up = saved.up;
        s.last_success_ms = saved.last_success_ms;
        s.failures_total = saved.failures_total;
        s.rows_skipped = saved.rows_skipped;
    });
    state
}

async fn run<S: Source>(
    source: S,
    handle: Arc<SourceHandle>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    store: Option<Arc<Store>>,
) {
    let spec = &handle.spec;
    let mut state: Option<Arc<S::State>> = match &store {
        Some(store) => restore::<S>(&handle, store).await,
        None => None,
    };
    if !S::READS_PREVIOUS {
        state = None;
    }
    loop {
        let started = Instant::now();
        let counts_before = handle.requests.counts();
        let outcome = match tokio::time::timeout(spec.timeout, source.refresh(state.clone())).await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(crate::source::RefreshError::new(format!(
                "refresh did not finish within the timeout of {}",
                humantime::format_duration(spec.timeout)
            ))),
        };
        let (delay, succeeded) = match outcome {
            Ok(Refreshed {
                state: new,
                skipped,
            }) => {
                let new = Arc::new(new);
                let now = clock.now_ms();
                let (exposition, status) = build_exposition(spec, new.clone(), now).await;
                let series = exposition.series_count();
                handle.publish(Snapshot {
                    exposition,
                    status,
                    refreshed_at_ms: now,
                });
                state = Some(new);
                let duration = started.elapsed();
                info!(
                    source = %spec.name,
                    duration = ?duration,
                    series,
                    rows_skipped = skipped.total(),
                    "refresh succeeded"
                );
                handle.update(|s| {
                    s.up = true;
                    s.last_success_ms = Some(now);
                    s.consecutive_failures = 0;
                    s.last_error = None;
                    s.rows_skipped.merge(&skipped);
                });
                (jittered_interval(spec.refresh_interval), true)
            }
            Err(error) => {
                let mut failures = 0;
                handle.update(|s| {
                    s.up = false;
                    s.failures_total += 1;
                    s.consecutive_failures += 1;
                    failures = s.consecutive_failures;
                    s.last_error = Some(error.message.clone());
                });
                let delay = backoff(failures, spec.refresh_interval, error.retry_after);
                warn!(
                    source = %spec.name,
                    error = %error,
                    consecutive_failures = failures,
                    retry_in = ?delay,
                    "refresh failed; serving the last good data"
                );
                (delay, false)
            }
        };
        let finished = clock.now_ms();
        let cost = handle.requests.counts().cost_since(&counts_before);
        handle.update(|s| {
            s.last_cost = cost;
            s.attempted = true;
            s.attempts += 1;
            s.last_duration = Some(started.elapsed());
            s.next_refresh_ms = Some(finished + delay.as_millis() as i64);
        });
        if let Some(store) = &store {
            save(
                store,
                &handle,
                if succeeded { state.clone() } else { None },
                finished,
            )
            .await;
        }
        if succeeded {
            if !S::READS_PREVIOUS {
                state = None;
            }
            // The previous snapshot and the state just encoded are freed by now.
            crate::background::run(crate::memory::release_free_memory).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = handle.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Saves the state (after a success) or only the counters (after a failure).
async fn save<S: serde::Serialize + Send + Sync + 'static>(
    store: &Arc<Store>,
    handle: &Arc<SourceHandle>,
    state: Option<Arc<S>>,
    now_ms: i64,
) {
    let status = handle.status().saved(&handle.requests);
    let (store, spec) = (store.clone(), handle.spec.clone());
    let result = tokio::task::spawn_blocking(move || match state {
        Some(state) => store.save_state(&spec, &status, &*state, now_ms),
        None => store.save_status(&spec, &status, now_ms),
    })
    .await
    .expect("saving does not panic");
    if let Err(error) = result {
        warn!(source = %handle.spec.name, %error, "cannot save state to --storage.path");
    }
}

/// Encodes a state's series and status summary off the async threads: for large estates
/// this is real work.
async fn build_exposition(
    spec: &SourceSpec,
    state: Arc<dyn VendorState>,
    now_ms: i64,
) -> (Exposition, StatusSummary) {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || encode(&spec, &*state, now_ms))
        .await
        .expect("encoding a snapshot does not panic")
}

fn encode(spec: &SourceSpec, state: &dyn VendorState, now_ms: i64) -> (Exposition, StatusSummary) {
    let started = Instant::now();
    let series = &spec.series;
    let mut detail = series.detail;
    // The key is read for each refresh, so a rotated key file applies without a restart.
    let identities = match &series.hash_key {
        Some(key) => match key.load() {
            Ok(key) => Identities::Hashed(IdentityHasher::new(&key)),
            Err(error) => {
                // Never expose what should have been hashed: leave the detail out.
                warn!(source = %spec.name, %error, "cannot read hash_key; per-device series are left out");
                detail = Detail::None;
                Identities::Withheld
            }
        },
        None => Identities::Plain,
    };
    let ctx = ExposeContext::new(
        now_ms,
        detail,
        series.alerting_age,
        spec.refresh_interval,
        identities,
    );
    let mut builder = ExpositionBuilder::new(&spec.name, &spec.labels);
    builder.limit(series.max_series);
    state.expose(&mut builder, &ctx);
    let exposition = builder.finish();
    if exposition.dropped_series() > 0 {
        warn!(
            source = %spec.name,
            max_series = series.max_series,
            dropped = exposition.dropped_series(),
            "max_series reached: the series of the least stale devices and resources are left out"
        );
    }
    let status = state.summarize(&ctx);
    debug!(source = %spec.name, series = exposition.series_count(), duration = ?started.elapsed(), "snapshot encoded");
    (exposition, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped_by_the_interval() {
        let interval = Duration::from_secs(900);
        for _ in 0..200 {
            let first = backoff(1, interval, None);
            assert!(
                first >= Duration::from_millis(2500) && first <= Duration::from_secs(5),
                "{first:?}"
            );
            let fourth = backoff(4, interval, None);
            assert!(
                fourth >= Duration::from_secs(20) && fourth <= Duration::from_secs(40),
                "{fourth:?}"
            );
            let many = backoff(30, interval, None);
            assert!(many >= interval / 2 && many <= interval, "{many:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_interval() {
        let interval = Duration::from_secs(60);
        assert!(backoff(1, interval, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        assert!(backoff(1, interval, Some(Duration::from_secs(3600))) <= interval);
    }

    #[test]
    fn interval_jitter_stays_within_five_percent() {
        for _ in 0..200 {
            let d = jittered_interval(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(95) && d <= Duration::from_secs(105),
                "{d:?}"
            );
        }
    }
}
