//! The health of what a source backs up: devices or resources by health level, and the
//! stalest of them, for the status page. Built once per refresh beside the exposition; the
//! counts are read at the time of the page, because an item's health changes as its backup
//! ages.
//!
//! Each vendor decides an item's health with the default thresholds of the alerting rules
//! (`alerts/config.libsonnet`; each vendor's tests keep them equal): warning or critical
//! once an age passes a threshold. An item that never backed up is at most a warning, as in
//! the rules. Overrides made in a user's own mixin do not reach the status page.

pub(crate) const DAY_MS: i64 = 24 * 3600 * 1000;

/// When an age turns a warning and when critical, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thresholds {
    pub(crate) warning_ms: i64,
    pub(crate) critical_ms: i64,
}

impl Thresholds {
    pub(crate) const fn days(warning: i64, critical: i64) -> Thresholds {
        Thresholds {
            warning_ms: warning * DAY_MS,
            critical_ms: critical * DAY_MS,
        }
    }

    /// The line of `alerts/config.libsonnet` that sets these defaults under `key`, so a test
    /// can keep the two equal.
    #[cfg(test)]
    pub(crate) fn libsonnet(self, key: &str) -> String {
        format!(
            "{key}: {{ warning: {} * day, critical: {} * day }}",
            self.warning_ms / DAY_MS,
            self.critical_ms / DAY_MS
        )
    }
}

/// How many of the stalest items each source keeps, and the page shows.
pub(crate) const STALEST: usize = 20;

/// Devices or resources by health at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HealthCounts {
    pub(crate) healthy: usize,
    pub(crate) warning: usize,
    pub(crate) critical: usize,
    /// Items that cannot back up by choice (archives in cold storage, backup disabled,
    /// archived, never scheduled): neither healthy nor unhealthy.
    pub(crate) unprotected: usize,
}

/// An item among the stalest of its source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StaleItem {
    /// The device's name or the resource's name (hashed when identities are hashed).
    pub(crate) name: String,
    /// The device's org or the resource's workload.
    pub(crate) group: String,
    /// When its last backup completed, or, if it never completed one, when it was created.
    pub(crate) since_ms: i64,
    pub(crate) never_completed: bool,
}

/// A source's health summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthSummary {
    /// "device" or "resource".
    pub(crate) kind: &'static str,
    /// How the vendor decides health, in a sentence for the status page.
    pub(crate) rule: String,
    /// When each item turns warning and critical (Unix ms; `i64::MAX` for never), sorted.
    warning_at: Vec<i64>,
    critical_at: Vec<i64>,
    /// Items that cannot back up by choice.
    unprotected: usize,
    /// At most [`STALEST`], stalest first.
    pub(crate) stalest: Vec<StaleItem>,
}

impl HealthSummary {
    pub(crate) fn counts(&self, now_ms: i64) -> HealthCounts {
        // Items whose crossing time has passed; the rules compare with `>`.
        let passed = |times: &[i64]| times.partition_point(|&t| t < now_ms);
        let critical = passed(&self.critical_at);
        let warning = passed(&self.warning_at) - critical;
        HealthCounts {
            healthy: self.warning_at.len() - warning - critical,
            warning,
            critical,
            unprotected: self.unprotected,
        }
    }

    /// Every item, protected or not.
    pub(crate) fn items(&self) -> usize {
        self.warning_at.len() + self.unprotected
    }
}

/// Collects the items of one source.
pub(crate) struct SummaryBuilder {
    summary: HealthSummary,
}

/// When one item turns warning and critical, built from its ages' reference times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crossing {
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
    pub(crate) fn age(mut self, since_ms: i64, thresholds: Thresholds, warning_only: bool) -> Self {
        self.warning_at = self
            .warning_at
            .min(since_ms.saturating_add(thresholds.warning_ms));
        if !warning_only {
            self.critical_at = self
                .critical_at
                .min(since_ms.saturating_add(thresholds.critical_ms));
        }
        self
    }

    /// At least a warning from the start (a failed last backup).
    pub(crate) fn warning_now(mut self) -> Self {
        self.warning_at = i64::MIN;
        self
    }
}

impl SummaryBuilder {
    pub(crate) fn new(kind: &'static str, rule: String, items: usize) -> Self {
        SummaryBuilder {
            summary: HealthSummary {
                kind,
                rule,
                warning_at: Vec::with_capacity(items),
                critical_at: Vec::with_capacity(items),
                unprotected: 0,
                stalest: Vec::new(),
            },
        }
    }

    /// Counts an item's health.
    pub(crate) fn count(&mut self, crossing: Crossing) {
        self.summary.warning_at.push(crossing.warning_at);
        self.summary.critical_at.push(crossing.critical_at);
    }

    /// Counts an item that cannot back up by choice.
    pub(crate) fn count_unprotected(&mut self) {
        self.summary.unprotected += 1;
    }

    /// Offers an item whose age runs from `since_ms` to the stalest list; `describe` is
    /// called only when it gets in, so most items cost no string copies.
    pub(crate) fn offer(&mut self, since_ms: i64, describe: impl FnOnce() -> StaleItem) {
        let stalest = &mut self.summary.stalest;
        // Sorted oldest first; equal ages keep the order they were offered in.
        let at = stalest.partition_point(|s| s.since_ms <= since_ms);
        if at < STALEST {
            stalest.insert(at, describe());
            stalest.truncate(STALEST);
        }
    }

    pub(crate) fn finish(mut self) -> HealthSummary {
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
        const BACKUP_AGE: Thresholds = Thresholds::days(3, 5);
        let mut builder = SummaryBuilder::new("device", String::new(), 3);
        let fresh = Crossing::default().age(10 * DAY_MS, BACKUP_AGE, false);
        let never = Crossing::default().age(0, BACKUP_AGE, true);
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
                critical: 0,
                unprotected: 0
            }
        );
        assert_eq!(
            at(4),
            HealthCounts {
                healthy: 1,
                warning: 2,
                critical: 0,
                unprotected: 0
            }
        );
        assert_eq!(
            at(14),
            HealthCounts {
                healthy: 0,
                warning: 3,
                critical: 0,
                unprotected: 0
            }
        );
        assert_eq!(
            at(16),
            HealthCounts {
                healthy: 0,
                warning: 2,
                critical: 1,
                unprotected: 0
            }
        );
        assert_eq!(summary.stalest[0].name, "never");
    }

    #[test]
    fn keeps_the_twenty_stalest_in_order() {
        let mut builder = SummaryBuilder::new("resource", String::new(), 100);
        for i in (0..100).rev() {
            let since = i * 1000;
            builder.offer(since, || item(&i.to_string(), since));
        }
        let summary = builder.finish();
        let names: Vec<_> = summary.stalest.iter().map(|s| s.name.as_str()).collect();
        let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(names, expected);
    }
}
