//! One source's refresh task: restore what an earlier run saved, then refresh, publish,
//! save and sleep until stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::backoff::{backoff, jittered_interval};
use super::persist::{SavedStatus, Store};
use super::{Snapshot, SourceHandle, SourceSpec};
use crate::exposition::{
    Detail, ExposeContext, Exposition, ExpositionBuilder, Identities, IdentityHasher,
};
use crate::health::HealthSummary;
use crate::runtime::clock::{Clock, format_rfc3339};
use crate::sources::{Previous, RefreshError, Refreshed, Vendor, VendorState};

/// What a source's task needs besides its client.
pub(super) struct Task {
    pub(crate) handle: Arc<SourceHandle>,
    pub(crate) clock: Clock,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) store: Option<Arc<Store>>,
}

impl Task {
    pub(crate) async fn run<V: Vendor>(mut self, client: V) {
        let mut state: Option<Arc<V::State>> = match &self.store {
            Some(store) => self.restore::<V>(store).await,
            None => None,
        };
        if !V::READS_PREVIOUS {
            state = None;
        }
        loop {
            let started = Instant::now();
            let counts_before = self.handle.requests.counts();
            let spec = &self.handle.spec;
            // Lent, not shared, so the refresh can update it in place; it comes back here
            // unless the refresh took it.
            let previous = Previous::new(state.take());
            let outcome = match tokio::time::timeout(spec.timeout, client.refresh(&previous)).await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(RefreshError::Timeout(spec.timeout)),
            };
            state = previous.into_inner().await;
            let (delay, saved) = match outcome {
                Ok(mut refreshed) => {
                    // The primary stream failed but another stream changed the state (Druva's
                    // events): serve it, and count the refresh as failed.
                    let failure = refreshed.streams.first_mut().and_then(|s| s.error.take());
                    let new = self.succeeded(refreshed, started, failure.is_none()).await;
                    state = Some(new.clone());
                    let delay = match failure {
                        Some(error) => self.failed(error),
                        None => jittered_interval(spec.refresh_interval),
                    };
                    (delay, Some(new))
                }
                Err(error) => {
                    let now = self.clock.now_ms();
                    self.handle.update(|s| {
                        s.streams
                            .entry(V::PRIMARY_STREAM)
                            .or_default()
                            .record(false, now);
                    });
                    (self.failed(error), None)
                }
            };
            let finished = self.clock.now_ms();
            let cost = self.handle.requests.counts().cost_since(&counts_before);
            self.handle.update(|s| {
                s.last_cost = cost;
                s.attempted = true;
                s.attempts += 1;
                s.last_duration = Some(started.elapsed());
                s.next_refresh_ms = Some(finished + delay.as_millis() as i64);
            });
            if let Some(store) = &self.store {
                self.save(store, saved.clone(), finished).await;
            }
            if saved.is_some() {
                if !V::READS_PREVIOUS {
                    state = None;
                }
                drop(saved);
                // The previous snapshot and the state just encoded are freed by now.
                crate::runtime::background::run(crate::runtime::memory::release_free_memory).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.handle.wake.notified() => {}
                _ = self.stop.changed() => return,
            }
        }
    }

    /// Publishes a refresh's snapshot; returns its state. `complete`: every stream the
    /// source's data comes from was read (otherwise [`Task::failed`] follows).
    async fn succeeded<S: VendorState>(
        &self,
        refreshed: Refreshed<S>,
        started: Instant,
        complete: bool,
    ) -> Arc<S> {
        let Refreshed {
            state,
            skipped,
            streams,
        } = refreshed;
        let state = Arc::new(state);
        let now = self.clock.now_ms();
        let replaced = self.handle.snapshot();
        let (exposition, health) =
            build_exposition(&self.handle.spec, state.clone(), now, replaced).await;
        let series = exposition.series_count();
        self.handle.publish(Snapshot { exposition, health });
        let name = &self.handle.spec.name;
        for stream in streams.iter().skip(1) {
            if let Some(error) = &stream.error {
                warn!(
                    source = %name,
                    stream = stream.name,
                    error = %error,
                    kind = error.kind(),
                    "stream failed; the rest of the source refreshed, this stream keeps its last data"
                );
            }
        }
        if complete {
            info!(
                source = %name,
                duration = ?started.elapsed(),
                series,
                rows_skipped = skipped.total(),
                "refresh succeeded"
            );
        }
        self.handle.update(|s| {
            for (i, stream) in streams.iter().enumerate() {
                let ok = if i == 0 {
                    complete
                } else {
                    stream.error.is_none()
                };
                s.streams.entry(stream.name).or_default().record(ok, now);
            }
            if complete {
                s.up = true;
                s.last_success_ms = Some(now);
                s.consecutive_failures = 0;
                s.last_error = None;
            }
            s.rows_skipped.merge(&skipped);
        });
        state
    }

    /// Records a failed refresh; returns how long to wait before the next.
    fn failed(&self, error: RefreshError) -> Duration {
        let spec = &self.handle.spec;
        let mut failures = 0;
        self.handle.update(|s| {
            s.up = false;
            s.failures_total += 1;
            s.consecutive_failures += 1;
            failures = s.consecutive_failures;
            s.last_error = Some(error.clone());
        });
        let delay = backoff(failures, spec.refresh_interval, error.retry_after());
        warn!(
            source = %spec.name,
            error = %error,
            kind = error.kind(),
            consecutive_failures = failures,
            retry_in = ?delay,
            "refresh failed; serving the last good data"
        );
        delay
    }

    /// Serves what an earlier run saved, if anything; returns the state to continue from.
    async fn restore<V: Vendor>(&self, store: &Arc<Store>) -> Option<Arc<V::State>> {
        let handle = &self.handle;
        let (store, spec) = (store.clone(), handle.spec.clone());
        let loaded = crate::runtime::background::run(move || store.load::<V::State>(&spec)).await?;
        handle.requests.restore(&loaded.status.requests);
        let saved = loaded.status;
        let state = loaded.state.map(Arc::new);
        if let Some(state) = &state {
            let at = saved.last_success_ms.unwrap_or_default();
            let (exposition, health) =
                build_exposition(&handle.spec, state.clone(), at, None).await;
            handle.publish(Snapshot { exposition, health });
        }
        info!(
            source = %handle.spec.name,
            data = state.is_some(),
            last_success = ?saved.last_success_ms.map(format_rfc3339),
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

    /// Saves the state (after a success) or only the counters (after a failure).
    async fn save<S: serde::Serialize + Send + Sync + 'static>(
        &self,
        store: &Arc<Store>,
        state: Option<Arc<S>>,
        now_ms: i64,
    ) {
        let handle = &self.handle;
        let status = handle.status();
        let status = SavedStatus {
            up: status.up,
            last_success_ms: status.last_success_ms,
            failures_total: status.failures_total,
            rows_skipped: status.rows_skipped,
            requests: handle.requests.counts(),
        };
        let (store, spec) = (store.clone(), handle.spec.clone());
        let result = crate::runtime::background::run(move || match state {
            Some(state) => store.save_state(&spec, &status, &*state, now_ms),
            None => store.save_status(&spec, &status, now_ms),
        })
        .await;
        if let Err(error) = result {
            warn!(source = %handle.spec.name, %error, "cannot save state to --storage.path");
        }
    }
}

/// Encodes a state's series and health summary on a refresh thread: for large estates
/// this is real work. What did not change since `replaced` is shared with it.
async fn build_exposition(
    spec: &SourceSpec,
    state: Arc<dyn VendorState>,
    now_ms: i64,
    replaced: Option<Arc<Snapshot>>,
) -> (Exposition, HealthSummary) {
    let spec = spec.clone();
    crate::runtime::background::run(move || {
        let replaced = replaced.as_ref().map(|s| &s.exposition);
        encode(&spec, &*state, now_ms, replaced)
    })
    .await
}

fn encode(
    spec: &SourceSpec,
    state: &dyn VendorState,
    now_ms: i64,
    replaced: Option<&Exposition>,
) -> (Exposition, HealthSummary) {
    crate::runtime::background::debug_assert_low_priority("encoding a snapshot");
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
    if let Some(replaced) = replaced {
        builder = builder.replacing(replaced);
    }
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
    let health = state.summarize(&ctx);
    debug!(source = %spec.name, series = exposition.series_count(), duration = ?started.elapsed(), "snapshot encoded");
    (exposition, health)
}
