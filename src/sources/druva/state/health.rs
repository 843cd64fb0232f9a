//! A resource's health for the status page, by the alerting rules' default thresholds.

use super::DruvaState;
use crate::exposition::ExposeContext;
use crate::health::{Crossing, HealthSummary, StaleItem, SummaryBuilder, Thresholds};
use crate::sources::druva::reports::Protection;

/// The default thresholds of the alerting rules (`alerts/config.libsonnet`): a resource
/// without a successful backup for this many of its backup intervals...
pub(super) const INTERVAL_FACTORS: (i64, i64) = (2, 3);
/// ...and at least this long (all a resource without a schedule, a user workload, gets).
pub(super) const RESOURCE_AGE_FLOORS: Thresholds = Thresholds::days(1, 2);

/// When a resource backed up every `interval_seconds` (if known) turns warning and critical.
pub(crate) fn resource_thresholds(interval_seconds: Option<u64>) -> Thresholds {
    let interval_ms = (interval_seconds.unwrap_or(0) as i64).saturating_mul(1000);
    Thresholds {
        warning_ms: RESOURCE_AGE_FLOORS
            .warning_ms
            .max(interval_ms.saturating_mul(INTERVAL_FACTORS.0)),
        critical_ms: RESOURCE_AGE_FLOORS
            .critical_ms
            .max(interval_ms.saturating_mul(INTERVAL_FACTORS.1)),
    }
}

/// How a resource's health is decided, for the status page.
fn health_rule() -> String {
    let days = |ms: i64| ms / crate::health::DAY_MS;
    format!(
        "A resource is a warning when its last successful backup is older than {} of its backup intervals, critical after {}, and never sooner than {} and {} days; a failed last backup is a warning, a resource never backed up is at most a warning, and one whose backup is disabled, archived or never scheduled is not protected, neither healthy nor unhealthy.",
        INTERVAL_FACTORS.0,
        INTERVAL_FACTORS.1,
        days(RESOURCE_AGE_FLOORS.warning_ms),
        days(RESOURCE_AGE_FLOORS.critical_ms),
    )
}

impl DruvaState {
    /// Every resource's health and the stalest resources.
    pub(super) fn summary(&self, ctx: &ExposeContext) -> HealthSummary {
        let items = self.resources.values().map(|rows| rows.len()).sum();
        let mut summary = SummaryBuilder::new("resource", health_rule(), items);
        for (report, rows) in &self.resources {
            let personal = report == "m365UserWorkload";
            for r in rows.values() {
                if r.protection() != Protection::Protected {
                    summary.count_unprotected();
                    continue;
                }
                let thresholds = resource_thresholds(r.interval_seconds);
                let never = r.last_success_ms.is_none();
                let mut crossing = Crossing::default();
                if r.last_failed {
                    crossing = crossing.warning_now();
                }
                let Some(since_ms) = r.last_success_ms.or(r.added_ms) else {
                    summary.count(crossing);
                    continue;
                };
                summary.count(crossing.age(since_ms, thresholds, never));
                summary.offer(since_ms, || StaleItem {
                    name: if personal {
                        ctx.identity(&r.name).into_owned()
                    } else {
                        r.name.clone()
                    },
                    group: r.workload.clone(),
                    since_ms,
                    never_completed: never,
                });
            }
        }
        summary.finish()
    }
}
