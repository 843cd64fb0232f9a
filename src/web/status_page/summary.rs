//! What the status page says, gathered from the sources at one moment, without HTML: each
//! source's state, the devices and resources by health, and the stalest of them.

use std::sync::Arc;

use crate::engine::SourceHandle;
use crate::health::{HealthCounts, STALEST, StaleItem};

/// How a source is doing, as a word class and a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceState {
    Up,
    Restored,
    Waiting,
    FailingWithData,
    FailingWithoutData,
}

impl SourceState {
    /// The CSS class: ok, wait or bad.
    pub(crate) fn class(self) -> &'static str {
        match self {
            SourceState::Up | SourceState::Restored => "ok",
            SourceState::Waiting => "wait",
            SourceState::FailingWithData | SourceState::FailingWithoutData => "bad",
        }
    }

    pub(crate) fn phrase(self) -> &'static str {
        match self {
            SourceState::Up => "up",
            SourceState::Restored => "serving restored data",
            SourceState::Waiting => "waiting for the first refresh",
            SourceState::FailingWithData => "failing; serving the last good data",
            SourceState::FailingWithoutData => "failing; no data yet",
        }
    }
}

/// A row of the sources table.
#[derive(Debug, Clone)]
pub(crate) struct SourceRow {
    pub(crate) name: String,
    pub(crate) vendor: &'static str,
    pub(crate) state: SourceState,
    pub(crate) last_success_ms: Option<i64>,
    /// `None` while a refresh is due or under way.
    pub(crate) next_refresh_ms: Option<i64>,
    pub(crate) series: usize,
    pub(crate) last_error: Option<String>,
}

/// A row of the health table: one source's items by health.
#[derive(Debug, Clone)]
pub(crate) struct HealthRow {
    pub(crate) source: String,
    /// "device" or "resource".
    pub(crate) kind: &'static str,
    pub(crate) items: usize,
    pub(crate) counts: HealthCounts,
}

/// The status page's content.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub(crate) now_ms: i64,
    pub(crate) sources: Vec<SourceRow>,
    pub(crate) health: Vec<HealthRow>,
    /// Items by health across sources, per kind, for kinds that have items.
    pub(crate) totals: Vec<(&'static str, HealthCounts)>,
    /// How each kind's health is decided (one sentence per vendor).
    pub(crate) rules: Vec<String>,
    /// The stalest items across sources, stalest first, with their source's name.
    pub(crate) stalest: Vec<(String, StaleItem)>,
}

pub(crate) fn summarize(sources: &[Arc<SourceHandle>], now_ms: i64) -> Summary {
    let mut summary = Summary {
        now_ms,
        ..Summary::default()
    };
    for source in sources {
        let status = source.status();
        let snapshot = source.snapshot();
        let state = match (status.attempted, status.up, snapshot.is_some()) {
            (_, true, _) => SourceState::Up,
            (false, _, true) => SourceState::Restored,
            (false, _, false) => SourceState::Waiting,
            (true, false, true) => SourceState::FailingWithData,
            (true, false, false) => SourceState::FailingWithoutData,
        };
        summary.sources.push(SourceRow {
            name: source.spec.name.clone(),
            vendor: source.spec.vendor.name(),
            state,
            last_success_ms: status.last_success_ms,
            next_refresh_ms: status.next_refresh_ms.filter(|t| *t > now_ms),
            series: snapshot.as_ref().map_or(0, |s| s.exposition.series_count()),
            last_error: status.last_error.map(|e| e.to_string()),
        });
        let Some(snapshot) = snapshot else { continue };
        let health = &snapshot.health;
        let counts = health.counts(now_ms);
        match summary.totals.iter_mut().find(|(k, _)| *k == health.kind) {
            Some((_, total)) => {
                total.healthy += counts.healthy;
                total.warning += counts.warning;
                total.critical += counts.critical;
                total.unprotected += counts.unprotected;
            }
            None => summary.totals.push((health.kind, counts)),
        }
        if !summary.rules.contains(&health.rule) {
            summary.rules.push(health.rule.clone());
        }
        summary.health.push(HealthRow {
            source: source.spec.name.clone(),
            kind: health.kind,
            items: health.items(),
            counts,
        });
        summary.stalest.extend(
            health
                .stalest
                .iter()
                .map(|item| (source.spec.name.clone(), item.clone())),
        );
    }
    summary
        .totals
        .retain(|(_, t)| *t != HealthCounts::default());
    summary.totals.sort_by_key(|(kind, _)| *kind);
    // Oldest first: a device that never completed a backup ranks by its age since creation.
    summary.stalest.sort_by_key(|(_, item)| item.since_ms);
    summary.stalest.truncate(STALEST);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Snapshot;
    use crate::exposition::ExpositionBuilder;
    use crate::health::{Crossing, SummaryBuilder, Thresholds};

    const DAY: i64 = 86_400_000;

    fn source(name: &str) -> Arc<SourceHandle> {
        let spec = crate::engine::test_source(name, "http://127.0.0.1:1", "");
        Arc::new(SourceHandle::new(spec, 0))
    }

    /// Publishes items whose backups completed `ages` days before `now`.
    fn publish(source: &SourceHandle, kind: &'static str, ages: &[i64], now: i64) {
        let mut builder = SummaryBuilder::new(kind, format!("{kind} rule."), ages.len());
        for (i, age) in ages.iter().enumerate() {
            let since = now - age * DAY;
            builder.count(Crossing::default().age(since, Thresholds::days(3, 5), false));
            builder.offer(since, || StaleItem {
                name: format!("{kind}-{i}"),
                group: "g".into(),
                since_ms: since,
                never_completed: false,
            });
        }
        source.publish(Snapshot {
            exposition: ExpositionBuilder::new(&source.spec.name, &[]).finish(),
            health: builder.finish(),
        });
    }

    #[test]
    fn counts_totals_rules_and_the_stalest_across_sources() {
        let now = 100 * DAY;
        let resources = source("m365");
        let devices = source("laptops");
        let waiting = source("new");
        publish(&resources, "resource", &[1, 4], now);
        publish(&devices, "device", &[0, 6, 2], now);
        let summary = summarize(&[resources, devices, waiting], now);
        let states: Vec<_> = summary.sources.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                SourceState::Restored,
                SourceState::Restored,
                SourceState::Waiting
            ]
        );
        assert_eq!(
            summary.totals,
            [
                (
                    "device",
                    HealthCounts {
                        healthy: 2,
                        warning: 0,
                        critical: 1,
                        unprotected: 0
                    }
                ),
                (
                    "resource",
                    HealthCounts {
                        healthy: 1,
                        warning: 1,
                        critical: 0,
                        unprotected: 0
                    }
                ),
            ]
        );
        assert_eq!(summary.rules, ["resource rule.", "device rule."]);
        let stalest: Vec<_> = summary
            .stalest
            .iter()
            .map(|(s, i)| (s.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(
            stalest,
            [
                ("laptops", "device-1"),
                ("m365", "resource-1"),
                ("laptops", "device-2"),
                ("m365", "resource-0"),
                ("laptops", "device-0"),
            ]
        );
    }
}
