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
    pub name: String,
    pub vendor: &'static str,
    pub state: SourceState,
    pub last_success_ms: Option<i64>,
    /// `None` while a refresh is due or under way.
    pub next_refresh_ms: Option<i64>,
    pub series: usize,
    pub last_error: Option<String>,
}

/// A row of the health table: one source's items by health.
#[derive(Debug, Clone)]
pub(crate) struct HealthRow {
    pub source: String,
    /// "device" or "resource".
    pub kind: &'static str,
    pub items: usize,
    pub counts: HealthCounts,
}

/// The status page's content.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub now_ms: i64,
    pub sources: Vec<SourceRow>,
    pub health: Vec<HealthRow>,
    /// Items by health across sources, per kind, for kinds that have items.
    pub totals: Vec<(&'static str, HealthCounts)>,
    /// How each kind's health is decided (one sentence per vendor).
    pub rules: Vec<String>,
    /// The stalest items across sources, stalest first, with their source's name.
    pub stalest: Vec<(String, StaleItem)>,
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

    fn source(name: &str, vendor: &str) -> Arc<SourceHandle> {
        let yaml = format!(
            "sources:\n  - name: {name}\n    vendor: {vendor}\n    url: http://127.0.0.1:1\n    client_id: a\n    client_secret_env: PATH\n"
        );
        let (config, _) = crate::engine::parse_config("t.yml", &yaml).unwrap();
        Arc::new(SourceHandle::new(config.sources[0].clone(), 0))
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
            refreshed_at_ms: now,
        });
    }

    #[test]
    fn counts_totals_rules_and_the_stalest_across_sources() {
        let now = 100 * DAY;
        let druva = source("m365", "druva");
        let code42 = source("laptops", "code42");
        let waiting = source("new", "code42");
        publish(&druva, "resource", &[1, 4], now);
        publish(&code42, "device", &[0, 6, 2], now);
        let summary = summarize(&[druva, code42, waiting], now);
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
