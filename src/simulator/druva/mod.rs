//! A simulated Druva tenant: the OAuth token endpoint, every Microsoft 365 report of the
//! reference with its page-size cap, five-minute page tokens, 24-hour default window and
//! misspelled fields, the error envelope, and the inSync Events API v2 and legacy v1.

use std::collections::HashMap;
use std::sync::Mutex;

mod activity;
mod api;
mod events;
mod failures;
mod generate;
mod reports;
mod vendor;

use activity::ACTIVITY;
use api::{envelope, unauthorized};
use failures::{failure, failure_text};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
pub const MAX_PAGE_SIZE: usize = 500;
const PAGE_TOKEN_LIFETIME: i64 = 5 * MINUTE;
const EVENT_CURSOR_LIFETIME: i64 = 48 * HOUR;
const EVENTS_PER_PAGE: usize = 500;
/// Events start this long before the tenant's start, one every `EVENT_SPACING`.
const EVENT_HISTORY: i64 = 7 * DAY;
const EVENT_SPACING: i64 = 4 * MINUTE;
/// Jobs start this long before the tenant's start.
const JOB_HISTORY: i64 = 3 * DAY;

#[derive(Debug, Clone)]
pub struct DruvaOptions {
    pub users: usize,
    pub sites: usize,
    pub teams: usize,
    pub groups: usize,
    pub seed: u64,
    pub client_id: String,
    pub client_secret: String,
    pub admin_email: String,
    pub api_token: String,
    /// The legacy Events API answers a page of one event with that event's object, and an
    /// empty page with an empty body, as Druva's documentation shows it, instead of arrays.
    pub legacy_bare_shapes: bool,
}

impl Default for DruvaOptions {
    fn default() -> Self {
        DruvaOptions {
            users: 300,
            sites: 120,
            teams: 60,
            groups: 80,
            seed: 42,
            client_id: "druva-demo-client".into(),
            client_secret: "druva-demo-secret".into(),
            admin_email: "insync-admin@example.com".into(),
            api_token: "insync-demo-token".into(),
            legacy_bare_shapes: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    Healthy {
        period: i64,
        phase: i64,
    },
    /// Backups stopped at this instant (nothing attempted since).
    StaleSince(i64),
    /// Attempts keep failing; the last success was at this instant.
    FailingSince(i64),
    /// Backs up on schedule, but every backup misses some items ("Backed Up With Errors").
    WithErrors {
        period: i64,
        phase: i64,
    },
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Site,
    Team,
    Group,
}

#[derive(Debug, Clone)]
struct Resource {
    kind: Kind,
    /// Workload of a user row ("Exchange Online", "OneDrive").
    workload: &'static str,
    id: String,
    name: String,
    email: String,
    added_ms: i64,
    health: Health,
    /// `backupFrequency` in minutes (0: never).
    frequency: i64,
    bytes: u64,
    /// `appStatus` Enabled; a disabled resource stopped backing up.
    enabled: bool,
    /// A team whose `teamState` is Archived (and stopped backing up).
    archived: bool,
    /// Marked `isDeleted: 1` from this instant on.
    deleted_at: Option<i64>,
    /// Gone from every report from this instant on, without a deletion row: only a full
    /// read notices.
    purged_at: Option<i64>,
}

#[derive(Debug, Clone)]
struct Alert {
    id: u64,
    severity: &'static str,
    details: &'static str,
    first_ms: i64,
    /// Resolved at this instant (inactive from then on).
    resolved_at: Option<i64>,
    deleted: bool,
}

/// A resource as the tenant reports it at some instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTruth {
    pub workload: String,
    pub id: String,
    pub name: String,
    pub added_ms: i64,
    pub last_success_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    pub last_updated_ms: i64,
    pub interval_seconds: Option<u64>,
    pub bytes: u64,
    pub status: &'static str,
    /// `appStatus` Enabled.
    pub enabled: bool,
    /// `teamState` Archived.
    pub archived: bool,
    /// `backupFrequency` 0 (sites, teams and groups only).
    pub unscheduled: bool,
    pub deleted: bool,
    pub purged: bool,
    /// While the last backup fails: the reason codes the row gives, as a faithful client
    /// reports them (hex codes in lower case; free text as `other`), with their meaning.
    pub failure: Vec<(String, String)>,
    /// The last backup, for user workloads (m365UserLastBackupStatus).
    pub last_backup: Option<LastBackupTruth>,
}

/// A user workload's last backup.
#[derive(Debug, Clone, PartialEq)]
pub struct LastBackupTruth {
    pub items_backed_up: u64,
    pub items_missed: u64,
    pub bytes: u64,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A user as m365UserProvisioning and m365PreservedUsersDatasources report them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserTruth {
    pub email: String,
    pub name: String,
    pub preserved: bool,
    /// `userStatus`, `m365LicenseState` and `managedBy` as written.
    pub status: &'static str,
    pub license_state: &'static str,
    pub managed_by: &'static str,
    pub bytes: u64,
    /// Preserved users: when Druva deletes their data, if it will.
    pub auto_delete_ms: Option<i64>,
}

/// A job of an activity report.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTruth {
    pub report: &'static str,
    pub id: u64,
    /// Which user, site, team, group or public folder it is about (its index).
    pub subject: u64,
    pub workload: &'static str,
    pub backup: bool,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub status: &'static str,
    pub bytes: u64,
    /// Files (or items) the job missed.
    pub files_missed: u64,
    pub last_updated_ms: i64,
    /// `statusDetails` as written (SharePoint's reports have it: `-` when all went well),
    /// and the reasons (code, meaning) a faithful client reads from it.
    pub status_details: Option<&'static str>,
    pub reasons: &'static [(&'static str, &'static str)],
}

/// An inSync event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTruth {
    pub index: u64,
    pub timestamp_ms: i64,
    pub event_type: &'static str,
    pub event_state: &'static str,
    /// Syslog severity: 3 error, 4 warning, 5 notice, 6 info.
    pub severity: u8,
    pub user_id: u64,
}

struct PageCursor {
    rows: Vec<String>,
    offset: usize,
    page_size: usize,
    filters: String,
    issued_ms: i64,
}

pub struct DruvaTenant {
    options: DruvaOptions,
    start_ms: i64,
    resources: Vec<Resource>,
    alerts: Vec<Alert>,
    page_tokens: Mutex<HashMap<String, PageCursor>>,
}

/// A user workload's last backup, started at `start`; one with errors missed some items.
fn last_backup(r: &Resource, start: i64, failing: bool, with_errors: bool) -> LastBackupTruth {
    let n = mix(r.bytes, start as u64);
    LastBackupTruth {
        items_backed_up: if failing { n % 20 } else { 50 + n % 500 },
        items_missed: if failing {
            1 + (n >> 16) % 9
        } else if with_errors {
            1 + (n >> 16) % 4
        } else {
            (n >> 16) % 2
        },
        bytes: if failing {
            0
        } else {
            1_000 + (n >> 20) % 50_000_000
        },
        start_ms: start,
        end_ms: start + (5 + (n >> 32) as i64 % 40) * MINUTE,
    }
}

/// A deterministic pseudo-random number for `n` (splitmix64).
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl DruvaTenant {
    pub fn options(&self) -> &DruvaOptions {
        &self.options
    }

    fn resource_at(&self, r: &Resource, now: i64) -> ResourceTruth {
        let (last_success, last_attempt, status) = match r.health {
            Health::Healthy { period, phase } => {
                let t = (now - (now + phase).rem_euclid(period)).max(r.added_ms);
                (Some(t), Some(t), "Backed Up Successfully")
            }
            Health::StaleSince(t) => (Some(t), Some(t), "Backed Up Successfully"),
            // A backup with errors completed: it counts as the last success.
            Health::WithErrors { period, phase } => {
                let t = (now - (now + phase).rem_euclid(period)).max(r.added_ms);
                (Some(t), Some(t), "Backed Up With Errors")
            }
            Health::FailingSince(t) => {
                let attempt = now - (now + r.bytes as i64).rem_euclid(6 * HOUR);
                (Some(t), Some(attempt), "Backup Failed")
            }
            Health::Never => (None, None, "Never Backed Up"),
        };
        let deleted = r.deleted_at.is_some_and(|d| d <= now);
        let failing = status == "Backup Failed";
        // A failed backup and one with errors both say why.
        let with_reasons = failing || status == "Backed Up With Errors";
        let last_updated = match r.deleted_at {
            Some(d) if deleted => d,
            _ => last_attempt.unwrap_or(r.added_ms),
        };
        ResourceTruth {
            workload: match r.kind {
                Kind::User => r.workload,
                Kind::Site => "SharePoint",
                Kind::Team => "Teams",
                Kind::Group => "Groups",
            }
            .to_string(),
            id: r.id.clone(),
            name: r.name.clone(),
            added_ms: r.added_ms,
            last_success_ms: last_success,
            last_attempt_ms: last_attempt,
            last_updated_ms: last_updated,
            interval_seconds: (r.frequency > 0).then_some(r.frequency as u64 * 60),
            bytes: r.bytes,
            status,
            enabled: r.enabled,
            archived: r.archived,
            unscheduled: r.kind != Kind::User && r.frequency == 0,
            deleted,
            purged: r.purged_at.is_some_and(|p| p <= now),
            failure: if with_reasons {
                failure(r)
                    .iter()
                    .map(|(code, reason)| (code.to_string(), reason.to_string()))
                    .collect()
            } else {
                Vec::new()
            },
            last_backup: (r.kind == Kind::User)
                .then(|| {
                    last_attempt
                        .map(|start| last_backup(r, start, failing, with_reasons && !failing))
                })
                .flatten(),
        }
    }

    /// Every user (one per Exchange Online resource): every fifteenth preserved, and some of
    /// those due for deletion in 1, 2, 5, 10 or 40 days from the tenant's start.
    pub fn users(&self, now: i64) -> Vec<UserTruth> {
        const MANAGED_BY: [&str; 4] = ["AzureAD", "Manually", "SCIM", "AD"];
        self.resources
            .iter()
            .filter(|r| r.kind == Kind::User && r.workload == "Exchange Online")
            .filter(|r| r.purged_at.is_none_or(|p| p > now))
            .enumerate()
            .map(|(i, r)| {
                let preserved = i % 15 == 0;
                UserTruth {
                    email: r.email.clone(),
                    name: r.name.clone(),
                    preserved,
                    status: if preserved { "Preserved" } else { "Active" },
                    license_state: match (preserved, i % 7) {
                        (true, _) => "Preserved",
                        (false, 0) => "-",
                        _ => "Active",
                    },
                    managed_by: MANAGED_BY[i % MANAGED_BY.len()],
                    bytes: r.bytes,
                    auto_delete_ms: match (preserved, i / 15 % 6) {
                        (false, _) | (true, 5) => None,
                        (true, k) => Some(self.start_ms + [1, 2, 5, 10, 40][k] * DAY),
                    },
                }
            })
            .collect()
    }

    /// The licences m365UserProvisioning says are allocated: active, preserved, smb.
    pub fn provisioned_licenses(&self) -> (u64, u64, u64) {
        (self.active_licenses(), 50, 10)
    }

    /// Every resource the tenant has known, flagged when deleted (reported with
    /// `isDeleted`) or purged (no longer reported at all) at `now`.
    pub fn resources(&self, now: i64) -> Vec<ResourceTruth> {
        self.resources
            .iter()
            .map(|r| self.resource_at(r, now))
            .collect()
    }

    /// Active, undeleted alerts by severity ("Warning", "Critical", "High").
    pub fn active_alerts(&self, now: i64) -> HashMap<&'static str, usize> {
        let mut counts = HashMap::new();
        for a in &self.alerts {
            if !a.deleted && a.first_ms <= now && a.resolved_at.is_none_or(|r| r > now) {
                *counts.entry(a.severity).or_default() += 1;
            }
        }
        counts
    }

    /// Licenses allocated: the users plus a little headroom, so the demo sits above 90 %.
    pub fn active_licenses(&self) -> u64 {
        self.options.users as u64 * 108 / 100
    }

    /// (workload, enabled, enabled bytes, disabled, disabled bytes) at `now`.
    pub fn storage(&self, now: i64) -> Vec<(&'static str, u64, u64, u64, u64)> {
        let mut totals: Vec<(&'static str, u64, u64, u64, u64)> = [
            "Exchange Online",
            "OneDrive",
            "SharePoint",
            "Teams",
            "Groups",
        ]
        .into_iter()
        .map(|w| (w, 0, 0, 0, 0))
        .collect();
        for (r, t) in self.resources.iter().map(|r| (r, self.resource_at(r, now))) {
            if t.deleted || t.purged {
                continue;
            }
            let entry = totals
                .iter_mut()
                .find(|e| e.0 == t.workload)
                .expect("workload");
            if r.enabled {
                entry.1 += 1;
                entry.2 += r.bytes;
            } else {
                entry.3 += 1;
                entry.4 += r.bytes;
            }
        }
        totals.push(("Public Folders", 12, 3_480_000_000, 1, 2_000_000));
        totals
    }

    /// (period, start, end, % of users) rows: six months and eight weeks up to `now`, the
    /// current month with 100 % of the users.
    fn periods(&self, now: i64) -> Vec<(&'static str, i64, i64, u64)> {
        use chrono::{Datelike, TimeZone, Utc};
        let today = Utc.timestamp_millis_opt(now).single().expect("now");
        let mut rows = Vec::new();
        for back in (0..6).rev() {
            let total = today.year() * 12 + today.month0() as i32 - back;
            let start = Utc
                .with_ymd_and_hms(total / 12, (total % 12) as u32 + 1, 1, 0, 0, 0)
                .single()
                .expect("month");
            let next = Utc
                .with_ymd_and_hms((total + 1) / 12, ((total + 1) % 12) as u32 + 1, 1, 0, 0, 0)
                .single()
                .expect("month");
            rows.push((
                "month",
                start.timestamp_millis(),
                next.timestamp_millis() - 1000,
                100 - back as u64 * 5,
            ));
        }
        for back in (0..8).rev() {
            let start = now - now.rem_euclid(7 * DAY) - back * 7 * DAY;
            rows.push(("week", start, start + 7 * DAY - 1000, 100 - back as u64));
        }
        rows
    }
}
