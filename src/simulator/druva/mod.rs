//! A simulated Druva tenant: the OAuth token endpoint, every Microsoft 365 report of the
//! reference with its page-size cap, five-minute page tokens, 24-hour default window and
//! misspelled fields, the error envelope, and the inSync Events API v2 and legacy v1.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use fastrand::Rng;

mod reports;
mod vendor;

use super::wire::{DateStyle, Obj, format_date, json_str};
use super::{Reply, Request, Tokens};
use reports::{Filter, date_ms, report_has_last_updated};

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

/// What an activity report's jobs are about; each one runs jobs at its own pace, so a
/// report's job rate grows with the number of them in the tenant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Subject {
    User,
    Site,
    Team,
    Group,
    PublicFolder,
}

/// (report, workload, backup?, what the jobs are about, jobs per day for each of them, the
/// longest gap between two jobs, first jobId). Backups follow the schedules of the discovery
/// reports (`backupFrequency` 4 hours to 7 days: about two a day on average; a team backs
/// up its metadata and its conversations as two jobs); restores are rare, and users start
/// their own. However small the tenant, each report has a job at least every gap.
const ACTIVITY: &[(&str, &str, bool, Subject, f64, i64, u64)] = &[
    (
        "m365GroupsBackupActivity",
        "Groups",
        true,
        Subject::Group,
        2.0,
        50 * MINUTE,
        1_600,
    ),
    (
        "m365GroupsRestoreActivity",
        "Groups",
        false,
        Subject::Group,
        0.05,
        7 * HOUR,
        2_700,
    ),
    (
        "m365UserRestoreActivity",
        "",
        false,
        Subject::User,
        0.05,
        3 * HOUR,
        48,
    ),
    (
        "m365PublicFolderBackupActivity",
        "Public Folders",
        true,
        Subject::PublicFolder,
        12.0,
        2 * HOUR,
        131_100,
    ),
    (
        "m365PublicFolderRestoreActivity",
        "Public Folders",
        false,
        Subject::PublicFolder,
        0.2,
        11 * HOUR,
        131_200,
    ),
    (
        "m365SharePointBackupActivity",
        "SharePoint",
        true,
        Subject::Site,
        2.0,
        35 * MINUTE,
        79_800,
    ),
    (
        "m365SharePointRestoreActivity",
        "SharePoint",
        false,
        Subject::Site,
        0.05,
        5 * HOUR,
        79_500,
    ),
    (
        "m365TeamsBackupActivity",
        "Teams",
        true,
        Subject::Team,
        4.0,
        40 * MINUTE,
        51_200,
    ),
    (
        "m365TeamsRestoreActivity",
        "Teams",
        false,
        Subject::Team,
        0.05,
        9 * HOUR,
        52_700,
    ),
];

/// Event types and states, with the syslog severity inSync gives them.
const EVENT_KINDS: &[(&str, &str, u8)] = &[
    ("Backup", "Success", 6),
    ("Backup", "Success", 6),
    ("Backup", "Success", 6),
    ("Backup", "Backed up with Errors", 4),
    ("Backup", "Failed", 3),
    ("Backup", "Backup Paused", 5),
    ("Restore", "Success", 6),
    ("Restore", "Failed", 3),
    ("Alerts", "Alert Notification", 4),
    ("API Login", "Success", 6),
    ("Admin Audit Trail", "Admin Event", 5),
];

/// Why a failing resource's backup fails: the field that says it, its text as written,
/// and the reasons (code, meaning) a faithful client reads from it, sorted by code.
fn failure_text(
    r: &Resource,
) -> (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
) {
    let n = r.id.bytes().map(u64::from).sum::<u64>();
    match r.kind {
        Kind::Site => match n % 3 {
            0 => (
                "errorDetailsNew",
                "100010016,100000001",
                &[
                    ("100000001", "Internal error"),
                    ("100010016", "Site Not Found"),
                ],
            ),
            1 => (
                "errorDetailsNew",
                "10000000A",
                &[("10000000a", "Task Aborted")],
            ),
            _ => (
                "errorDetailsNew",
                "10001001f",
                &[("10001001f", "SharePoint Site Busy")],
            ),
        },
        Kind::Team => (
            "statusDetails",
            "EUSERNOTFOUND",
            &[("EUSERNOTFOUND", "EUSERNOTFOUND")],
        ),
        // Free text, as some rows carry: not a code.
        Kind::Group => (
            "statusDetails",
            "Backup failed: the group mailbox is on litigation hold",
            &[("other", "other")],
        ),
        Kind::User => ("statusDetails", "EINTERNAL", &[("EINTERNAL", "EINTERNAL")]),
    }
}

fn failure(r: &Resource) -> &'static [(&'static str, &'static str)] {
    failure_text(r).2
}

/// A user workload's last backup, started at `start`.
fn last_backup(r: &Resource, start: i64, failing: bool) -> LastBackupTruth {
    let n = mix(r.bytes, start as u64);
    LastBackupTruth {
        items_backed_up: if failing { n % 20 } else { 50 + n % 500 },
        items_missed: if failing {
            1 + (n >> 16) % 9
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
    /// Generates a tenant. Resources are mostly healthy; the first ones of each kind cover
    /// stale (2, 4, 10, 15 days), failing and never-backed-up cases; some are deleted.
    pub fn generate(options: DruvaOptions, start_ms: i64) -> DruvaTenant {
        let mut rng = Rng::with_seed(options.seed ^ 0xd12a);
        let mut resources = Vec::new();
        let health = |rng: &mut Rng, i: usize| {
            let ago = |d: f64| start_ms - (d * DAY as f64) as i64;
            match if i < 8 { i } else { rng.usize(0..40) } {
                1 => Health::StaleSince(ago(2.2 + rng.f64() * 0.5)),
                2 => Health::StaleSince(ago(4.0 + rng.f64())),
                3 => Health::StaleSince(ago(10.0 + rng.f64())),
                4 => Health::StaleSince(ago(14.0 + rng.f64() * 0.9)),
                5 => Health::FailingSince(ago(3.0 + rng.f64() * 2.0)),
                6 => Health::Never,
                _ => Health::Healthy {
                    period: [HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR][rng.usize(..4)],
                    phase: rng.i64(0..DAY),
                },
            }
        };
        for i in 0..options.users {
            let email = format!("user{i:04}@m365.example.com");
            let name = if i == 1 {
                "Zoë \"Z\" O'Brien".to_string()
            } else {
                format!("User {i:04}")
            };
            for (w, workload) in ["Exchange Online", "OneDrive"].iter().enumerate() {
                let enabled = rng.f64() < 0.95;
                let h = match health(&mut rng, if w == 0 { i } else { i + 3 }) {
                    // A user whose backup was disabled stopped backing up then.
                    _ if !enabled => Health::StaleSince(start_ms - rng.i64(5 * DAY..30 * DAY)),
                    h => h,
                };
                resources.push(Resource {
                    kind: Kind::User,
                    workload,
                    id: email.clone(),
                    name: name.clone(),
                    email: email.clone(),
                    added_ms: start_ms - rng.i64(20 * DAY..400 * DAY),
                    health: h,
                    frequency: 0,
                    bytes: rng.u64(1_000_000..20_000_000_000),
                    enabled,
                    archived: false,
                    deleted_at: None,
                    purged_at: None,
                });
            }
        }
        let frequencies = [720, 1440, 4320, 10080, 480, 2880, 240];
        for (kind, count, base_id) in [
            (Kind::Site, options.sites, 131_400u64),
            (Kind::Team, options.teams, 12_800),
            (Kind::Group, options.groups, 85_200),
        ] {
            for i in 0..count {
                let id = base_id + i as u64 * 3;
                let name = match (kind, i) {
                    (Kind::Team, 1) => "¡¢£¤¥µ¶ÝÞß¿-उत्तम-!$pc2".to_string(),
                    (Kind::Site, 2) => "007 - pvt-channel-new \\ \"quoted\"".to_string(),
                    (Kind::Site, _) => format!("site-{id}"),
                    (Kind::Team, _) => format!("team-{id}"),
                    _ => format!("group-{id}"),
                };
                // Every seventh team is archived, and has not backed up since.
                let archived = kind == Kind::Team && i % 7 == 6;
                // The first ones, which cover the stale cases, stay enabled.
                let enabled = i < 8 || rng.f64() < 0.9;
                let h = if archived || !enabled {
                    Health::StaleSince(start_ms - rng.i64(5 * DAY..30 * DAY))
                } else {
                    health(&mut rng, i)
                };
                // The stale cases have known schedules, so each crosses a known threshold:
                // 2 days behind a 12-hour schedule, 4 behind a 2-day one, 10 behind a
                // daily one, 14 behind a weekly one, failing on a daily one.
                let frequency = match (i, h) {
                    (_, Health::Never) => [0, 1440][i % 2],
                    (1, _) => 720,
                    (2, _) => 2880,
                    (3 | 5, _) => 1440,
                    (4, _) => 10080,
                    _ => frequencies[rng.usize(..frequencies.len())],
                };
                // A couple of resources of each kind are deleted, one of them a few minutes
                // into the tenant's life so incremental reads see it happen.
                let deleted_at = match i {
                    9 => Some(start_ms - 3 * HOUR),
                    10 => Some(start_ms + 10 * MINUTE),
                    _ => None,
                };
                let purged_at = (i == 11).then_some(start_ms + 30 * MINUTE);
                resources.push(Resource {
                    kind,
                    workload: "",
                    id: id.to_string(),
                    email: format!("{name}@m365.example.com"),
                    name,
                    added_ms: start_ms - rng.i64(20 * DAY..400 * DAY),
                    health: h,
                    frequency,
                    bytes: rng.u64(100_000..50_000_000_000),
                    enabled,
                    archived,
                    deleted_at,
                    purged_at,
                });
            }
        }
        let severities = ["Warning", "Critical", "High"];
        let details = [
            "Backup Failed",
            "SharePoint Site Busy",
            "Quota limit reached",
            "Authorization Failed",
            "Throttling Issue",
        ];
        let alerts = (0..40)
            .map(|i| {
                let first_ms = start_ms - rng.i64(HOUR..20 * DAY);
                Alert {
                    id: 4_500 + i,
                    severity: severities[(i % 3) as usize],
                    details: details[rng.usize(..details.len())],
                    first_ms,
                    resolved_at: (i % 4 == 3).then(|| first_ms + rng.i64(HOUR..DAY)),
                    deleted: i % 10 == 9,
                }
            })
            .collect();
        DruvaTenant {
            options,
            start_ms,
            resources,
            alerts,
            page_tokens: Mutex::new(HashMap::new()),
        }
    }

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
            Health::FailingSince(t) => {
                let attempt = now - (now + r.bytes as i64).rem_euclid(6 * HOUR);
                (Some(t), Some(attempt), "Backup Failed")
            }
            Health::Never => (None, None, "Never Backed Up"),
        };
        let deleted = r.deleted_at.is_some_and(|d| d <= now);
        let failing = status == "Backup Failed";
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
            failure: if failing {
                failure(r)
                    .iter()
                    .map(|(code, reason)| (code.to_string(), reason.to_string()))
                    .collect()
            } else {
                Vec::new()
            },
            last_backup: (r.kind == Kind::User)
                .then(|| last_attempt.map(|start| last_backup(r, start, failing)))
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

    /// The resource of each subject index, in order (a user once, though the discovery
    /// reports have a row per workload); none for public folders, which they do not list.
    fn subject_resources(&self, subject: Subject) -> Vec<&Resource> {
        let kind = match subject {
            Subject::User => Kind::User,
            Subject::Site => Kind::Site,
            Subject::Team => Kind::Team,
            Subject::Group => Kind::Group,
            Subject::PublicFolder => return Vec::new(),
        };
        let mut resources: Vec<&Resource> =
            self.resources.iter().filter(|r| r.kind == kind).collect();
        resources.dedup_by(|a, b| a.id == b.id);
        resources
    }

    /// How many sites, teams, groups, public folders or users the tenant has.
    fn subjects(&self, subject: Subject) -> usize {
        let o = &self.options;
        match subject {
            Subject::User => o.users,
            Subject::Site => o.sites,
            Subject::Team => o.teams,
            Subject::Group => o.groups,
            Subject::PublicFolder => 2 + o.users / 500,
        }
    }

    /// Every job started by `now`.
    pub fn jobs(&self, now: i64) -> Vec<JobTruth> {
        let mut jobs = Vec::new();
        let from = self.start_ms - JOB_HISTORY;
        for (r, (report, workload, backup, subject, per_day, longest_gap, first_id)) in
            ACTIVITY.iter().enumerate()
        {
            let subjects = self.subjects(*subject).max(1);
            let spacing =
                ((DAY as f64 / (subjects as f64 * per_day)) as i64).clamp(1000, *longest_gap);
            let offset = (mix(self.options.seed, r as u64) % spacing as u64) as i64;
            let mut k = 0u64;
            loop {
                let start = from + offset + k as i64 * spacing;
                if start > now {
                    break;
                }
                let h = mix(self.options.seed ^ 0x10b, (r as u64) << 32 | k);
                let duration = MINUTE * (5 + (h % 45) as i64);
                let end = start + duration;
                let finished = end <= now;
                let status = match (finished, backup, h % 25) {
                    (false, _, _) => "In Progress",
                    (true, true, 0..=19) => "Backed Up Successfully",
                    (true, true, 20..=21) => "Backed Up With Errors",
                    (true, true, 22..=23) => "Backup Failed",
                    (true, true, _) => "Backup Cancelled",
                    (true, false, 0..=20) => "Restore Successful",
                    (true, false, 21..=22) => "Restored With Errors",
                    (true, false, _) => "Restore Failed",
                };
                jobs.push(JobTruth {
                    report,
                    id: first_id + k,
                    subject: (h >> 16) % subjects as u64,
                    workload: if workload.is_empty() {
                        ["Exchange Online", "OneDrive"][(k % 2) as usize]
                    } else {
                        workload
                    },
                    backup: *backup,
                    start_ms: start,
                    end_ms: finished.then_some(end),
                    status,
                    bytes: if finished {
                        10_000 + h % 5_000_000_000
                    } else {
                        0
                    },
                    files_missed: match status {
                        "Backed Up With Errors" | "Restored With Errors" => 1 + (h >> 8) % 40,
                        "Backup Failed" | "Restore Failed" => (h >> 8) % 5,
                        _ => 0,
                    },
                    last_updated_ms: if finished { end + 1000 } else { start },
                });
                k += 1;
            }
        }
        jobs
    }

    /// Every event logged by `now`, oldest first.
    pub fn events(&self, now: i64) -> Vec<EventTruth> {
        let first = self.start_ms - EVENT_HISTORY;
        let count = if now < first {
            0
        } else {
            (now - first) / EVENT_SPACING + 1
        };
        (0..count as u64).map(|i| self.event(i)).collect()
    }

    fn event(&self, index: u64) -> EventTruth {
        let h = mix(self.options.seed ^ 0xe7e, index);
        let (event_type, event_state, severity) =
            EVENT_KINDS[(h % EVENT_KINDS.len() as u64) as usize];
        EventTruth {
            index,
            // Second precision, as the API writes it.
            timestamp_ms: (self.start_ms - EVENT_HISTORY + index as i64 * EVENT_SPACING) / 1000
                * 1000,
            event_type,
            event_state,
            severity,
            user_id: 1 + h % 50,
        }
    }

    /// `POST /token`: form body `grant_type=client_credentials&scope=read`, HTTP Basic.
    pub fn token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        let form: HashMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Reply::json(400, r#"{"error":"unsupported_grant_type"}"#.into());
        }
        if request.basic_auth()
            != Some((
                self.options.client_id.clone(),
                self.options.client_secret.clone(),
            ))
        {
            return Reply::json(400, r#"{"error":"invalid_grant"}"#.into());
        }
        let (token, lifetime) = tokens.issue(now, 1800);
        Reply::json(
            200,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{lifetime}}}"#
            ),
        )
    }

    /// `POST /platform/reporting/v1/reports/{reportID}`.
    pub fn report(&self, report: &str, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return envelope(
                401,
                "InsyncEndpoints-1001",
                "did not include an authentication token or an expired authentication token was supplied",
                false,
            );
        }
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return envelope(400, "InvalidRequestBody", "request body is not JSON", false);
        };
        let page_token = body.get("pageToken").and_then(|v| v.as_str()).unwrap_or("");
        if !page_token.is_empty() {
            if body.get("filters").is_some() {
                return envelope(
                    400,
                    "InvalidRequest",
                    "provide either filters or pageToken, not both",
                    false,
                );
            }
            return self.next_page(page_token, now);
        }
        let Some(has_updated_time) = report_has_last_updated(report) else {
            return envelope(
                404,
                "ReportNotFound",
                &format!("report {report} not found"),
                false,
            );
        };
        let filters = body
            .get("filters")
            .cloned()
            .unwrap_or(serde_json::json!({}));
        let page_size = filters
            .get("pageSize")
            .and_then(|v| v.as_u64())
            .unwrap_or(100)
            .clamp(1, MAX_PAGE_SIZE as u64) as usize;
        let filter_by: Vec<Filter> = match filters
            .get("filterBy")
            .map(|f| serde_json::from_value(f.clone()))
        {
            None => Vec::new(),
            Some(Ok(f)) => f,
            Some(Err(e)) => return envelope(400, "InvalidFilter", &e.to_string(), false),
        };
        // Reports without lastUpdatedTime reject a filter on it (as the MSP variants do).
        if !has_updated_time && filter_by.iter().any(|f| f.field_name == "lastUpdatedTime") {
            return envelope(
                400,
                "InvalidFilter",
                &format!("lastUpdatedTime is not a field of {report}"),
                false,
            );
        }
        // "If you do not specify a date filter, the lastUpdatedTime filter is set to 1 day."
        let default_window =
            has_updated_time && !filter_by.iter().any(|f| f.field_name == "lastUpdatedTime");
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows(report, now)
            .into_iter()
            .filter(|row| {
                let recent = !default_window
                    || row
                        .get("lastUpdatedTime")
                        .and_then(|v| v.as_str())
                        .is_some_and(|t| date_ms(t) >= now - DAY);
                recent && filter_by.iter().all(|f| f.matches(row))
            })
            .collect();
        let rows: Vec<String> = rows
            .into_iter()
            .map(|r| serde_json::Value::Object(r).to_string())
            .collect();
        let mut echo = filters.clone();
        if default_window && let Some(obj) = echo.as_object_mut() {
            let mut by = filter_by.iter().map(Filter::to_json).collect::<Vec<_>>();
            by.push(serde_json::json!({"fieldName": "lastUpdatedTime", "value": format_date(now - DAY, DateStyle::UtcSeconds), "operator": "gte"}));
            obj.insert("filterBy".into(), by.into());
        }
        self.page(
            PageCursor {
                rows,
                offset: 0,
                page_size,
                filters: echo.to_string(),
                issued_ms: now,
            },
            now,
        )
    }

    /// Forgets every page token handed out (as if five minutes had passed).
    pub fn expire_page_tokens(&self) {
        self.page_tokens.lock().expect("page tokens").clear();
    }

    fn next_page(&self, token: &str, now: i64) -> Reply {
        let cursor = self.page_tokens.lock().expect("page tokens").remove(token);
        match cursor {
            Some(cursor) if now - cursor.issued_ms <= PAGE_TOKEN_LIFETIME => self.page(
                PageCursor {
                    issued_ms: now,
                    ..cursor
                },
                now,
            ),
            // The code string of this error is not documented; this one is a guess.
            _ => envelope(
                400,
                "InvalidPageToken",
                "the page token is invalid or has expired",
                false,
            ),
        }
    }

    fn page(&self, mut cursor: PageCursor, now: i64) -> Reply {
        let end = (cursor.offset + cursor.page_size).min(cursor.rows.len());
        let mut body = String::from(r#"{"data":["#);
        body.push_str(&cursor.rows[cursor.offset..end].join(","));
        body.push_str(r#"],"filters":"#);
        body.push_str(&cursor.filters);
        body.push_str(r#","lastSyncTimestamp":"#);
        json_str(&mut body, &format_date(now, DateStyle::UtcSeconds));
        body.push_str(r#","nextPageToken":"#);
        if end < cursor.rows.len() {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{:016x}:{end}", fastrand::u64(..)));
            json_str(&mut body, &token);
            cursor.offset = end;
            self.page_tokens
                .lock()
                .expect("page tokens")
                .insert(token, cursor);
        } else {
            body.push_str("\"\"");
        }
        body.push('}');
        Reply::json(200, body)
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

    /// `GET /insync/eventmanagement/v2/events[?tracker=…]`.
    pub fn events_v2(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return envelope(
                401,
                "InsyncEndpoints-1001",
                "did not include an authentication token or an expired authentication token was supplied",
                false,
            );
        }
        let from = match request.query_value("tracker") {
            None => self.first_retained(now),
            Some(tracker) => match decode_cursor(tracker) {
                None => return envelope(400, "InsyncEvents-400", "Invalid tracker", false),
                Some((_, issued)) if now - issued > EVENT_CURSOR_LIFETIME => {
                    return envelope(
                        403,
                        "AccessDenied",
                        "User is not authorized to access this resource with an explicit deny",
                        false,
                    );
                }
                Some((index, _)) => index.max(self.first_retained(now)),
            },
        };
        let all = self.events(now);
        let page: Vec<&EventTruth> = all
            .iter()
            .skip(from as usize)
            .take(EVENTS_PER_PAGE)
            .collect();
        let next = from + page.len() as u64;
        let mut body = String::from(r#"{"tracker":"#);
        json_str(&mut body, &encode_cursor(next, now));
        body.push_str(&format!(
            r#","nextPageExists":{},"events":["#,
            (next as usize) < all.len()
        ));
        for (i, event) in page.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let mut obj = Obj::new(&mut body);
            obj.int("eventID", 100 + event.index as i64)
                .opt_str(
                    "initiator",
                    (event.event_type == "Admin Audit Trail").then_some("ernie.carter@example.com"),
                )
                .int("inSyncDataSourceID", 80 + event.user_id as i64)
                .str("inSyncDataSourceName", "OneDrive")
                .str("clientVersion", "7.2.0r(e67f3e32)")
                .str("clientOS", "Office 365 OneDrive")
                .int("inSyncUserID", event.user_id as i64)
                .str("inSyncUserName", &format!("User {:04}", event.user_id))
                .str(
                    "inSyncUserEmail",
                    &format!("user{:04}@m365.example.com", event.user_id),
                )
                .int("profileID", 1)
                .str("profileName", "Default")
                .str("eventType", event.event_type)
                .str("eventState", event.event_state)
                .str(
                    "eventDetails",
                    "Total Backup Size:0, Files Backed up:0, Files Missed:0, eventsGroupId:2",
                )
                .str(
                    "timestamp",
                    &format_date(event.timestamp_ms, DateStyle::UtcSeconds),
                )
                .int("severity", i64::from(event.severity))
                .str("ip", "192.168.0.10")
                .int("facility", 23)
                .end();
        }
        body.push_str("]}");
        Reply::json(200, body)
    }

    /// The deprecated `GET /api/events/v1`: HTTP Basic, `progress` cookie, `nextpage` header.
    pub fn events_legacy(&self, request: &Request, now: i64, base_url: &str) -> Reply {
        if request.basic_auth()
            != Some((
                self.options.admin_email.clone(),
                self.options.api_token.clone(),
            ))
        {
            return Reply::json(401, r#"{"error":"unauthorized"}"#.into());
        }
        let cookie = request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("progress=").map(str::to_string));
        let from = match cookie {
            None => self.first_retained(now),
            Some(value) => match decode_cursor(&value) {
                None => return Reply::json(400, r#"{"error":"Cookie Invalid"}"#.into()),
                Some((_, issued)) if now - issued > EVENT_CURSOR_LIFETIME => {
                    return Reply::json(400, r#"{"error":"Cookie expired"}"#.into());
                }
                Some((index, _)) => index.max(self.first_retained(now)),
            },
        };
        let all = self.events(now);
        let page: Vec<&EventTruth> = all
            .iter()
            .skip(from as usize)
            .take(EVENTS_PER_PAGE)
            .collect();
        let next = from + page.len() as u64;
        let mut body = String::from("[");
        for (i, event) in page.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let mut obj = Obj::new(&mut body);
            obj.int("EventID", 100 + event.index as i64)
                .str("Initiator", "cloud.admin@example.com")
                .str("inSyncDataSourceName", "Admin’s Mac mini")
                .str("ClientVersion", "5.9.5r54841")
                .int("Facility", 23)
                .str("EventType", event.event_type)
                .str("ClientOS", "Mac OS X")
                .int("inSyncUserID", event.user_id as i64)
                .int("inSyncDataSourceID", 80 + event.user_id as i64)
                .str("EventState", event.event_state)
                .str("EventDetails", "Device backup event")
                .str("IP", "192.168.0.0")
                .int("ProfileID", 1)
                .str("ProfileName", "Default")
                // MM/DD/YY HH:MM with the trailing space of the documentation's sample.
                .str(
                    "Timestamp",
                    &(chrono::DateTime::from_timestamp_millis(event.timestamp_ms)
                        .expect("time")
                        .format("%m/%d/%y %H:%M ")
                        .to_string()),
                )
                .str("inSyncUserName", &format!("User {:04}", event.user_id))
                .int("Severity", i64::from(event.severity))
                .end();
        }
        body.push(']');
        if self.options.legacy_bare_shapes {
            // As Druva's page shows the reply: one event is its object, none is nothing.
            body = match page.len() {
                0 => String::new(),
                1 => body[1..body.len() - 1].to_string(),
                _ => body,
            };
        }
        let mut reply = Reply::json(200, body);
        reply.headers.push((
            http::header::SET_COOKIE,
            format!("progress={}; Path=/", encode_cursor(next, now)),
        ));
        if (next as usize) < all.len() {
            reply.headers.push((
                http::HeaderName::from_static("nextpage"),
                format!("{base_url}/api/events/v1?page={next}"),
            ));
        }
        reply
    }

    /// Index of the oldest retained event (30 days).
    fn first_retained(&self, now: i64) -> u64 {
        let first = self.start_ms - EVENT_HISTORY;
        ((now - 30 * DAY - first).max(0) / EVENT_SPACING) as u64
    }
}

fn encode_cursor(index: u64, issued_ms: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{index}:{issued_ms}"))
}

fn decode_cursor(text: &str) -> Option<(u64, i64)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (index, issued) = text.split_once(':')?;
    Some((index.parse().ok()?, issued.parse().ok()?))
}

/// Druva's error envelope.
pub fn envelope(status: u16, code: &str, message: &str, retryable: bool) -> Reply {
    let mut body = String::new();
    Obj::new(&mut body)
        .str("code", code)
        .str("message", message)
        .raw("retryable", if retryable { "true" } else { "false" })
        .raw("data", "{}")
        .end();
    Reply::json(status, body)
}
