//! Fault injection: rules matched against each request, in the order they were added.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// What a faulty response does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status and the vendor's error body.
    Status {
        status: u16,
        /// `Retry-After` seconds (sent with any status; meant for 429).
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait this long before answering normally (read timeouts).
    Delay { millis: u64 },
    /// Answer normally but send the body slowly.
    SlowBody { bytes_per_second: u64 },
    /// Send half of the normal body, then break the connection.
    Truncate,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Answer 200 with an HTML error page, as a proxy in front of the API would.
    ErrorPage,
    /// Close the connection without an answer.
    Drop,
    /// Druva: let every outstanding report page token expire, then answer normally (a
    /// follow-up page gets the vendor's 400).
    ExpirePageTokens,
    /// Answer 401 with an error text that repeats the request's credentials, as careless
    /// servers do: whatever the exporter logs of it must not contain them.
    EchoCredentials,
    /// Answer 400 with every request header in the body, as a debugging proxy does
    /// (`Authorization: Basic <base64>` or `Bearer <token>` included).
    EchoHeaders,
    /// A report that never ends: every page full of new rows, and always another page.
    EndlessPages,
    /// A report page whose rows are not objects (`[[…]]`), with another page promised.
    UnreadableRows,
}

/// A fault and which requests it hits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultRule {
    #[serde(flatten)]
    pub fault: Fault,
    /// Only requests whose path contains this text (all requests when absent).
    #[serde(default)]
    pub path: Option<String>,
    /// Let this many matching requests through first.
    #[serde(default)]
    pub skip: u32,
    /// Hit this many requests, then retire (forever when absent).
    #[serde(default)]
    pub count: Option<u32>,
    /// Hit only one matching request in this many (every request when absent).
    #[serde(default)]
    pub every: Option<u32>,
}

impl FaultRule {
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            path: None,
            skip: 0,
            count: None,
            every: None,
        }
    }

    /// Hits one matching request in `n`.
    pub fn every(mut self, n: u32) -> FaultRule {
        self.every = Some(n.max(1));
        self
    }

    pub fn on(mut self, path: &str) -> FaultRule {
        self.path = Some(path.to_string());
        self
    }

    pub fn after(mut self, skip: u32) -> FaultRule {
        self.skip = skip;
        self
    }

    pub fn times(mut self, count: u32) -> FaultRule {
        self.count = Some(count);
        self
    }
}

/// The active rules, each with the matching requests it has seen (for `every`).
#[derive(Debug, Default)]
pub struct Faults(Mutex<Vec<(FaultRule, u32)>>);

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.0.lock().expect("faults lock").push((rule, 0));
    }

    pub fn clear(&self) {
        self.0.lock().expect("faults lock").clear();
    }

    /// The fault for a request to `path`, if a rule hits it; counts the request against
    /// every matching rule's skip and count.
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut rules = self.0.lock().expect("faults lock");
        let mut hit = None;
        for (rule, seen) in rules.iter_mut() {
            if rule.path.as_deref().is_some_and(|p| !path.contains(p)) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if let Some(every) = rule.every {
                *seen += 1;
                if *seen % every != 0 {
                    continue;
                }
            }
            if hit.is_none() {
                hit = Some(rule.fault.clone());
                if let Some(count) = rule.count.as_mut() {
                    *count -= 1;
                }
            }
        }
        rules.retain(|(r, _)| r.count != Some(0));
        hit
    }
}

impl Fault {
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Fault::Delay { millis } => Some(Duration::from_millis(*millis)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_skip_count_and_match_paths() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::Truncate)
                .on("Report")
                .after(1)
                .times(2),
        );
        assert_eq!(faults.take("/api/v3/oauth/token"), None);
        assert_eq!(faults.take("/api/v1/DeviceBackupReport"), None);
        assert_eq!(
            faults.take("/api/v1/DeviceBackupReport"),
            Some(Fault::Truncate)
        );
        assert_eq!(
            faults.take("/api/v1/DeviceBackupReport"),
            Some(Fault::Truncate)
        );
        assert_eq!(faults.take("/api/v1/DeviceBackupReport"), None);
    }

    #[test]
    fn rules_parse_from_json() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"kind":"status","status":429,"retry_after":30,"path":"Report","count":1}"#,
        )
        .unwrap();
        assert_eq!(
            rule.fault,
            Fault::Status {
                status: 429,
                retry_after: Some(30)
            }
        );
        assert_eq!(rule.count, Some(1));
    }
}
