//! What the status page shows of a source's data: devices or resources by health, and the
//! stalest of them. Built once per refresh beside the exposition; the counts are read at
//! the time of the page, because an item's health changes as its backup ages.
//!
//! Health follows the default thresholds of the alerting rules (`alerts/config.libsonnet`;
//! a test keeps them equal): warning or critical once a backup, a destination's last
//! activity or a device's last connection is older than a threshold. An item that never
//! backed up is at most a warning, as in the rules. Overrides made in a user's own mixin
//! do not reach this page.

const DAY_MS: i64 = 24 * 3600 * 1000;

/// (warning, critical) ages in ms, the rules' defaults.
pub const BACKUP_AGE_MS: (i64, i64) = (3 * DAY_MS, 5 * DAY_MS);
pub const NO_NEW_DATA_MS: (i64, i64) = (3 * DAY_MS, 7 * DAY_MS);
pub const CONNECTION_MS: (i64, i64) = (3 * DAY_MS, 5 * DAY_MS);
pub const RESOURCE_AGE_MS: (i64, i64) = (3 * DAY_MS, 5 * DAY_MS);
/// A Druva resource's thresholds are at least this many of its backup intervals.
pub const RESOURCE_INTERVAL_FACTOR: i64 = 2;

/// How many of the stalest items each source keeps, and the page shows.
pub const STALEST: usize = 20;

/// Devices or resources by health at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub healthy: usize,
    pub warning: usize,
    pub critical: usize,
}

/// An item among the stalest of its source.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleItem {
    /// The device's name or the resource's name (hashed when identities are hashed).
    pub name: String,
    /// The device's org or the resource's workload.
    pub group: String,
    /// When its last backup completed, or, if it never completed one, when it was created.
    pub since_ms: i64,
    pub never_completed: bool,
}

/// A source's status summary.
#[derive(Debug, Clone, Default)]
pub struct StatusSummary {
    /// "device" or "resource".
    pub kind: &'static str,
    /// When each item turns warning and critical (Unix ms; `i64::MAX` for never), sorted.
    warning_at: Vec<i64>,
    critical_at: Vec<i64>,
    /// At most [`STALEST`], stalest first.
    pub stalest: Vec<StaleItem>,
}

impl StatusSummary {
    pub fn counts(&self, now_ms: i64) -> HealthCounts {
        // Items whose crossing time has passed; the rules compare with `>`.
        let passed = |times: &[i64]| times.partition_point(|&t| t < now_ms);
        let critical = passed(&self.critical_at);
        let warning = passed(&self.warning_at) - critical;
        HealthCounts {
            healthy: self.warning_at.len() - warning - critical,
            warning,
            critical,
        }
    }

    pub fn items(&self) -> usize {
        self.warning_at.len()
    }
}

/// Collects the items of one source.
pub struct SummaryBuilder {
    summary: StatusSummary,
}

/// When one item turns warning and critical, built from its ages' reference times.
#[derive(Debug, Clone, Copy)]
pub struct Crossing {
    warning_at: i64,
    critical_at: i64,
}

impl Default for Crossing {
    fn default() -> Self {
        Crossing {
            warning_at: i64::MAX,
            critical_at: i64::MAX,
        }
    }
}

impl Crossing {
    /// An age measured from `since_ms` with these thresholds; `warning_only` for items
    /// that never completed a backup.
    pub fn age(
        mut self,
        since_ms: i64,
        (warning, critical): (i64, i64),
        warning_only: bool,
    ) -> Self {
        self.warning_at = self.warning_at.min(since_ms.saturating_add(warning));
        if !warning_only {
            self.critical_at = self.critical_at.min(since_ms.saturating_add(critical));
        }
        self
    }

    /// At least a warning from the start (a failed last backup).
    pub fn warning_now(mut self) -> Self {
        self.warning_at = i64::MIN;
        self
    }
}

impl SummaryBuilder {
    pub fn new(kind: &'static str, items: usize) -> Self {
        SummaryBuilder {
            summary: StatusSummary {
                kind,
                warning_at: Vec::with_capacity(items),
                critical_at: Vec::with_capacity(items),
                stalest: Vec::new(),
            },
        }
    }

    /// Counts an item's health.
    pub fn count(&mut self, crossing: Crossing) {
        self.summary.warning_at.push(crossing.warning_at);
        self.summary.critical_at.push(crossing.critical_at);
    }

    /// Offers an item whose age runs from `since_ms` to the stalest list; `describe` is
    /// called only when it gets in, so most items cost no string copies.
    pub fn offer(&mut self, since_ms: i64, describe: impl FnOnce() -> StaleItem) {
        let stalest = &mut self.summary.stalest;
        // Sorted oldest first; equal ages keep the order they were offered in.
        let at = stalest.partition_point(|s| s.since_ms <= since_ms);
        if at < STALEST {
            stalest.insert(at, describe());
            stalest.truncate(STALEST);
        }
    }

    pub fn finish(mut self) -> StatusSummary {
        self.summary.warning_at.sort_unstable();
        self.summary.critical_at.sort_unstable();
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, since_ms: i64) -> StaleItem {
        StaleItem {
            name: name.into(),
            group: "g".into(),
            since_ms,
            never_completed: false,
        }
    }

    #[test]
    fn counts_change_as_items_age() {
        let mut builder = SummaryBuilder::new("device", 3);
        let fresh = Crossing::default().age(10 * DAY_MS, BACKUP_AGE_MS, false);
        let never = Crossing::default().age(0, BACKUP_AGE_MS, true);
        let failed = Crossing::default().warning_now();
        builder.count(fresh);
        builder.offer(10 * DAY_MS, || item("fresh", 10 * DAY_MS));
        builder.count(never);
        builder.offer(0, || item("never", 0));
        builder.count(failed);
        let summary = builder.finish();
        let at = |days: i64| summary.counts(days * DAY_MS + 1);
        // Day 1: only the failed one; day 4: the never-completed one joins (warning only);
        // day 14: "fresh" is four days old (warning); day 16: six days (critical).
        assert_eq!(
            at(1),
            HealthCounts {
                healthy: 2,
                warning: 1,
                critical: 0
            }
        );
        assert_eq!(
            at(4),
            HealthCounts {
                healthy: 1,
                warning: 2,
                critical: 0
            }
        );
        assert_eq!(
            at(14),
            HealthCounts {
                healthy: 0,
                warning: 3,
                critical: 0
            }
        );
        assert_eq!(
            at(16),
            HealthCounts {
                healthy: 0,
                warning: 2,
                critical: 1
            }
        );
        assert_eq!(summary.stalest[0].name, "never");
    }

    #[test]
    fn keeps_the_twenty_stalest_in_order() {
        let mut builder = SummaryBuilder::new("resource", 100);
        for i in (0..100).rev() {
            let since = i * 1000;
            builder.offer(since, || item(&i.to_string(), since));
        }
        let summary = builder.finish();
        let names: Vec<_> = summary.stalest.iter().map(|s| s.name.as_str()).collect();
        let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn thresholds_are_the_alerting_rules_defaults() {
        let config = include_str!("../alerts/config.libsonnet");
        let days = |ms: i64| ms / DAY_MS;
        for (key, (warning, critical)) in [
            ("backupAge", BACKUP_AGE_MS),
            ("noNewData", NO_NEW_DATA_MS),
            ("connection", CONNECTION_MS),
            ("resourceAge", RESOURCE_AGE_MS),
        ] {
            let line = format!(
                "{key}: {{ warning: {} * day, critical: {} * day }}",
                days(warning),
                days(critical)
            );
            assert!(
                config.contains(&line),
                "alerts/config.libsonnet lacks {line:?}"
            );
        }
        let factor = format!(
            "resourceIntervalFactor: {{ warning: {RESOURCE_INTERVAL_FACTOR}, critical: {RESOURCE_INTERVAL_FACTOR} }}"
        );
        assert!(config.contains(&factor));
    }
}
