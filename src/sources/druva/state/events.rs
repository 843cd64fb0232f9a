//! Counters of the inSync Events API, by bounded labels, and where the stream continues.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::label_value;

/// At most this many distinct (event_type, event_state) pairs per source; more are counted
/// under `other` so a vendor change cannot explode the series count.
pub(crate) const MAX_EVENT_LABEL_PAIRS: usize = 500;

/// Counters from the inSync Events API and where the stream continues.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EventLog {
    /// The v2 tracker or the legacy progress cookie.
    pub(crate) cursor: Option<String>,
    /// Events by type, state and severity.
    #[serde(with = "event_entries")]
    pub(crate) counts: BTreeMap<EventKey, u64>,
    /// Newest event counted, and fingerprints of the events counted at that instant: when
    /// the cursor is lost and the stream is read again from the oldest retained event,
    /// everything up to here is skipped.
    pub(crate) newest_ms: Option<i64>,
    pub(crate) newest_fingerprints: BTreeSet<u64>,
}

impl EventLog {
    /// Counts an event. While `replaying` (the cursor was lost and the stream is read again
    /// from its oldest retained event), events up to the newest one counted before are
    /// recognised and skipped.
    pub(crate) fn count(
        &mut self,
        timestamp_ms: i64,
        fingerprint: u64,
        event: EventKind<'_>,
        replaying: bool,
    ) {
        let seen = match self.newest_ms {
            Some(newest) if timestamp_ms < newest => true,
            Some(newest) if timestamp_ms == newest => {
                self.newest_fingerprints.contains(&fingerprint)
            }
            _ => false,
        };
        if replaying && seen {
            return;
        }
        match self.newest_ms {
            Some(newest) if timestamp_ms < newest => {}
            Some(newest) if timestamp_ms == newest => {
                self.newest_fingerprints.insert(fingerprint);
            }
            _ => {
                self.newest_ms = Some(timestamp_ms);
                self.newest_fingerprints = BTreeSet::from([fingerprint]);
            }
        }
        let mut key = EventKey {
            event_type: label_value(event.event_type),
            event_state: label_value(event.event_state),
            severity: severity_label(event.severity),
        };
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_EVENT_LABEL_PAIRS {
            key = EventKey {
                event_type: "other".into(),
                event_state: "other".into(),
                severity: "other".into(),
            };
        }
        super::add(self.counts.entry(key), 1);
    }

    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What an event is, as read from its row.
pub(crate) struct EventKind<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) event_state: &'a str,
    /// `Severity` (v1) or `severity` (v2): a syslog number, or a word; empty when absent.
    pub(crate) severity: &'a str,
}

/// The labels an event is counted under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct EventKey {
    pub(crate) event_type: String,
    pub(crate) event_state: String,
    pub(crate) severity: String,
}

/// An event's severity as a bounded label value: syslog's numbers (0–7, what inSync
/// sends) as their names, those names and Druva's alert words as they are, `unknown` when
/// absent, `other` for anything else.
pub(super) fn severity_label(text: &str) -> String {
    const SYSLOG: [&str; 8] = [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "notice",
        "info",
        "debug",
    ];
    const WORDS: [&str; 3] = ["high", "notification", "informational"];
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return "unknown".into();
    }
    if let Ok(n) = text.parse::<usize>() {
        return SYSLOG.get(n).map_or("other", |s| s).into();
    }
    if SYSLOG.contains(&text.as_str()) || WORDS.contains(&text.as_str()) {
        text
    } else {
        "other".into()
    }
}

/// Event counters as saved: a list of (key, count), where the key is [type, state,
/// severity], or [type, state] in files saved before the severity was counted.
mod event_entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::EventKey;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Current((String, String, String)),
        BeforeSeverity((String, String)),
    }

    pub(crate) fn serialize<S: Serializer>(
        map: &BTreeMap<EventKey, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            map.iter()
                .map(|(k, n)| ((&k.event_type, &k.event_state, &k.severity), n)),
        )
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<EventKey, u64>, D::Error> {
        let mut map = BTreeMap::new();
        for (key, count) in Vec::<(Saved, u64)>::deserialize(d)? {
            let (event_type, event_state, severity) = match key {
                Saved::Current(k) => k,
                Saved::BeforeSeverity((t, s)) => (t, s, "unknown".into()),
            };
            super::super::add(
                map.entry(EventKey {
                    event_type,
                    event_state,
                    severity,
                }),
                count,
            );
        }
        Ok(map)
    }
}
