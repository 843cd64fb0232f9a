//! How many series a source exposes: per-device and per-resource detail (`all`, only the
//! `alerting` ones, or `none`), a cap on the source's series, and identities (user names,
//! e-mails, device names) replaced by a keyed hash for teams that may not ship personal
//! data to Prometheus.

use std::time::Duration;

use ring::hmac;

use crate::secret::Secret;

/// Per-device (Code42) or per-resource (Druva) series: all of them, only those that are
/// alerting or about to, or none. Aggregates (org, workload, alert counts) are always
/// complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Detail {
    All,
    Alerting,
    None,
}

/// Replaces personal identities in labels by a stable keyed hash: the same value and key
/// always give the same label, and without the key the value cannot be guessed back.
#[derive(Clone)]
pub(crate) struct IdentityHasher(hmac::Key);

impl IdentityHasher {
    pub(crate) fn new(key: &Secret) -> IdentityHasher {
        IdentityHasher(hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes()))
    }

    /// 16 hex digits (64 bits) of HMAC-SHA256; empty stays empty.
    pub(crate) fn hash(&self, value: &str) -> String {
        if value.is_empty() {
            return String::new();
        }
        let tag = hmac::sign(&self.0, value.as_bytes());
        tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// How personal names (users, e-mails, device names) appear in labels and on the status
/// page.
#[derive(Clone)]
pub(crate) enum Identities {
    /// As the vendor reports them.
    Plain,
    /// Replaced by the keyed hash.
    Hashed(IdentityHasher),
    /// Hashing is configured but its key cannot be read: never show what should have been
    /// hashed.
    Withheld,
}

/// What a vendor state needs to know to expose its series.
#[derive(Clone)]
pub(crate) struct ExposeContext {
    /// Unix ms of the refresh.
    pub(crate) now_ms: i64,
    pub(crate) detail: Detail,
    /// In `alerting` mode, an item older than this is kept...
    pub(crate) alerting_age_ms: i64,
    /// ...or about to be: ages grow by up to one refresh interval before the next refresh.
    pub(crate) margin_ms: i64,
    pub(crate) identities: Identities,
}

impl ExposeContext {
    pub(crate) fn new(
        now_ms: i64,
        detail: Detail,
        alerting_age: Duration,
        refresh_interval: Duration,
        identities: Identities,
    ) -> Self {
        ExposeContext {
            now_ms,
            detail,
            alerting_age_ms: alerting_age.as_millis() as i64,
            margin_ms: refresh_interval.as_millis() as i64,
            identities,
        }
    }

    /// A context that exposes everything as it is.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn all(now_ms: i64) -> Self {
        ExposeContext {
            now_ms,
            detail: Detail::All,
            alerting_age_ms: 0,
            margin_ms: 0,
            identities: Identities::Plain,
        }
    }

    /// `value` as `identities` says to show it.
    pub(crate) fn identity<'a>(&self, value: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.identities {
            Identities::Plain => std::borrow::Cow::Borrowed(value),
            Identities::Hashed(hasher) => std::borrow::Cow::Owned(hasher.hash(value)),
            Identities::Withheld => std::borrow::Cow::Borrowed("(withheld: hash_key unreadable)"),
        }
    }

    /// Whether an item keeps its series: always with `all`, never with `none`; with
    /// `alerting` when it is in trouble, or when its age (ms) passes — or will pass before
    /// the next refresh — `alerting_age`, or sooner the item's own `warning_ms` (the shipped
    /// rules' warning threshold for it, when the exporter knows one), so an alert always
    /// has its series.
    pub(crate) fn keeps(
        &self,
        age_ms: Option<i64>,
        in_trouble: bool,
        warning_ms: Option<i64>,
    ) -> bool {
        match self.detail {
            Detail::All => true,
            Detail::None => false,
            Detail::Alerting => {
                let from = warning_ms.map_or(self.alerting_age_ms, |w| w.min(self.alerting_age_ms));
                in_trouble || age_ms.is_some_and(|age| age + self.margin_ms >= from)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_keyed_and_short() {
        let a = IdentityHasher::new(&Secret::new("key-one"));
        let b = IdentityHasher::new(&Secret::new("key-two"));
        assert_eq!(a.hash("ann@example.com"), a.hash("ann@example.com"));
        assert_ne!(a.hash("ann@example.com"), b.hash("ann@example.com"));
        assert_ne!(a.hash("ann@example.com"), a.hash("bob@example.com"));
        assert_eq!(a.hash("ann@example.com").len(), 16);
        assert_eq!(a.hash(""), "");
    }

    #[test]
    fn alerting_keeps_trouble_and_age_with_a_refresh_of_margin() {
        let day = 86_400_000;
        let ctx = ExposeContext::new(
            0,
            Detail::Alerting,
            Duration::from_secs(3 * 86_400),
            Duration::from_secs(900),
            Identities::Plain,
        );
        assert!(!ctx.keeps(Some(day), false, None));
        assert!(ctx.keeps(Some(day), true, None));
        assert!(
            ctx.keeps(Some(3 * day - 600_000), false, None),
            "crosses 3 days before the next refresh"
        );
        assert!(
            ctx.keeps(Some(day + 1), false, Some(day)),
            "a twice-daily schedule warns after a day, before alerting_age"
        );
        assert!(
            ctx.keeps(Some(4 * day), false, Some(14 * day)),
            "past alerting_age, whatever the schedule"
        );
        assert!(!ctx.keeps(None, false, None));
        assert!(ExposeContext::all(0).keeps(None, false, None));
    }
}
