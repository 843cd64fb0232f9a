//! A simulated Code42 tenant: OAuth and legacy tokens, and `DeviceBackupReport` with its
//! paging, filters, sorting quirk and CSV export, over a generated estate whose healthy
//! devices keep completing backups as time passes.

use std::sync::{Arc, Mutex};

use fastrand::Rng;

mod vendor;

use super::wire::{DateStyle, Obj, csv_field, date_precision, format_date};
use super::{Reply, Request, Tokens};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Code42's alert defaults: warning after 3 days, critical after 5 (minutesUntilWarning
/// 4320, minutesUntilSevere 7200).
const WARNING_AFTER: i64 = 3 * DAY;
const CRITICAL_AFTER: i64 = 5 * DAY;
/// The documented default and maximum page size.
pub const MAX_PAGE_SIZE: usize = 1000;

/// How the tenant writes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueStyle {
    /// Everything as JSON strings, `alertStates` as one comma-separated string (cloud).
    Strings,
    /// Numbers and booleans as JSON natives, `alertStates` as an array.
    Native,
}

#[derive(Debug, Clone)]
pub struct Code42Options {
    pub devices: usize,
    pub seed: u64,
    pub values: ValueStyle,
    pub dates: DateStyle,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    /// The report lists the first this many archives again after the last one, as it does
    /// for users with several backup sets (with a page size of this many, the last page
    /// holds nothing but rows already read).
    pub repeated_rows: usize,
    /// The first this many archives carry a `lastActivity` no parser knows ("Invalid
    /// Date", as a JavaScript tool in between writes it).
    pub unreadable_dates: usize,
    /// The first this many archives that completed a backup send its date as "Invalid
    /// Date": a faithful client knows a backup completed, not when.
    pub unreadable_completion: usize,
    /// The first this many archives send a `coldStorage` that says nothing: `null` and
    /// `"unknown"` in turn.
    pub unknown_cold_storage: usize,
    /// The devices of this org (an index into its list of orgs) arrive with a null
    /// `orgName`: the org is known by its `orgUid` alone.
    pub unnamed_org: Option<usize>,
}

impl Default for Code42Options {
    fn default() -> Self {
        Code42Options {
            devices: 200,
            seed: 42,
            values: ValueStyle::Strings,
            dates: DateStyle::Utc,
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            username: "admin@example.com".into(),
            password: "demo-password".into(),
            repeated_rows: 0,
            unreadable_dates: 0,
            unreadable_completion: 0,
            unknown_cold_storage: 0,
            unnamed_org: None,
        }
    }
}

const ORGS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "R&D \"Labs\"",
    "Zürich\\Support",
    "東京オフィス",
];
const DESTINATIONS: &[&str] = &[
    "Code42 Cloud USA West",
    "PROe Cloud, US - West",
    "Local NAS \"backup\"",
];
const SERVERS: &[&str] = &["cif-sea", "cif-iad", "nas-01"];
const OSES: &[(&str, &[&str])] = &[
    ("win", &["10.0", "11.0", "6.1"]),
    ("mac", &["14.5", "13.6.1", "10.15.7"]),
    ("linux", &["6.1", "5.15"]),
];
const APP_VERSIONS: &[&str] = &["11.4.1.7", "11.3.0.42", "10.4.2.8", "7.0.3.55"];

/// When an archive last completed a backup.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    /// Completes every `period`; `phase` spreads devices apart.
    Healthy {
        period: i64,
        phase: i64,
    },
    /// Stopped completing at this instant.
    StaleSince(i64),
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Connection {
    /// Connects every few minutes.
    Online {
        phase: i64,
    },
    Since(i64),
}

struct Device {
    uid: String,
    name: String,
    hostname: String,
    org: usize,
    user: usize,
    os: usize,
    os_version: &'static str,
    app_version: &'static str,
    active: bool,
    creation_ms: i64,
    connection: Connection,
}

struct Archive {
    /// Its place in the report.
    index: usize,
    guid: String,
    device: usize,
    destination: usize,
    health: Health,
    selected_bytes: u64,
    archive_bytes: u64,
    cold_storage: bool,
}

/// What the tenant reports for one archive at some instant: the ground truth tests compare
/// the exporter's output with.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveTruth {
    pub archive_guid: String,
    pub device_uid: String,
    pub device_name: String,
    pub hostname: String,
    /// The org's name, sent as `orgName` unless `org_named` is false.
    pub org: String,
    pub org_uid: String,
    pub org_named: bool,
    pub username: String,
    pub os: String,
    pub os_version: String,
    pub app_version: String,
    pub destination: String,
    pub active: bool,
    pub creation_ms: i64,
    pub last_connected_ms: i64,
    pub last_completed_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    pub complete_percent: f64,
    pub selected_bytes: u64,
    pub archive_bytes: u64,
    pub cold_storage: bool,
    pub alert_states: Vec<&'static str>,
    /// `lastActivity` is sent unreadable: a faithful client reports no last activity.
    pub unreadable_activity: bool,
    /// `lastCompletedBackupDate` is sent unreadable (the backup did complete, at
    /// `last_completed_ms`): a faithful client neither reports it nor calls the archive
    /// never completed.
    pub completion_unreadable: bool,
    /// `coldStorage` is sent as this value that says nothing (`null` or `"unknown"`;
    /// `cold_storage` is the truth): a faithful client reports no cold storage sample and
    /// keeps alerting on the archive.
    pub cold_storage_unknown: Option<&'static str>,
}

pub struct Code42Tenant {
    options: Code42Options,
    devices: Vec<Device>,
    archives: Vec<Archive>,
    /// The archives the last filter selected, by the filter: without it every page of a
    /// 100,000-device report would filter the whole estate again.
    last_selection: Mutex<Option<(String, Arc<Vec<usize>>)>>,
}

impl Code42Tenant {
    /// Generates an estate. The first devices cover every case (3, 5, 7 and 30+ days
    /// stale, never completed, disconnected, deactivated) so even a small tenant has them;
    /// the rest are drawn at random.
    pub fn generate(options: Code42Options, start_ms: i64) -> Code42Tenant {
        let mut rng = Rng::with_seed(options.seed);
        let mut devices = Vec::with_capacity(options.devices);
        let mut archives = Vec::with_capacity(options.devices * 13 / 10);
        for i in 0..options.devices {
            let class = if i < 10 { i } else { pick_class(&mut rng) };
            let os = rng.usize(..OSES.len());
            let ago = |rng: &mut Rng, min_days: f64, max_days: f64| {
                start_ms - ((min_days + rng.f64() * (max_days - min_days)) * DAY as f64) as i64
            };
            let (health, connection, active) = match class {
                1 => (
                    Health::StaleSince(ago(&mut rng, 3.1, 3.9)),
                    online(&mut rng),
                    true,
                ),
                2 => (
                    Health::StaleSince(ago(&mut rng, 5.1, 6.5)),
                    online(&mut rng),
                    true,
                ),
                3 => (
                    Health::StaleSince(ago(&mut rng, 7.2, 12.0)),
                    online(&mut rng),
                    true,
                ),
                4 => {
                    let t = ago(&mut rng, 31.0, 90.0);
                    (Health::StaleSince(t), Connection::Since(t + HOUR), true)
                }
                5 => (Health::Never, online(&mut rng), true),
                6 => {
                    let t = ago(&mut rng, 3.1, 4.5);
                    (Health::StaleSince(t - 2 * HOUR), Connection::Since(t), true)
                }
                7 => {
                    let t = ago(&mut rng, 6.0, 10.0);
                    (Health::StaleSince(t - 2 * HOUR), Connection::Since(t), true)
                }
                8 => {
                    let t = ago(&mut rng, 40.0, 200.0);
                    (Health::StaleSince(t), Connection::Since(t), false)
                }
                _ => (healthy(&mut rng), online(&mut rng), true),
            };
            let creation_ms = match health {
                Health::Never => ago(&mut rng, 1.0, 20.0),
                _ => ago(&mut rng, 200.0, 2000.0),
            };
            devices.push(Device {
                uid: (954_143_368_874_689_941u64 + i as u64 * 7_919).to_string(),
                name: device_name(i, os),
                hostname: format!("host-{i:05}"),
                org: if i < ORGS.len() {
                    i
                } else {
                    rng.usize(..ORGS.len())
                },
                user: i * 5 / 6,
                os,
                os_version: OSES[os].1[rng.usize(..OSES[os].1.len())],
                app_version: APP_VERSIONS[rng.usize(..APP_VERSIONS.len())],
                active,
                creation_ms,
                connection,
            });
            let destinations = if i % 10 < 3 { 2 } else { 1 };
            for d in 0..destinations {
                // A second destination is usually fine even when the first is not.
                let health = if d == 1 && rng.f64() < 0.6 && active {
                    healthy(&mut rng)
                } else {
                    health
                };
                let selected = 200_000_000 + rng.u64(..80_000_000_000);
                archives.push(Archive {
                    index: archives.len(),
                    guid: (854_143_426_849_296_547u64 + archives.len() as u64 * 104_729)
                        .to_string(),
                    device: i,
                    destination: (i + d) % DESTINATIONS.len(),
                    health,
                    selected_bytes: selected,
                    archive_bytes: selected / 100 * rng.u64(60..130),
                    cold_storage: class == 4 && d == 0 || class == 8,
                });
            }
        }
        Code42Tenant {
            options,
            devices,
            archives,
            last_selection: Mutex::new(None),
        }
    }

    pub fn options(&self) -> &Code42Options {
        &self.options
    }

    /// Every archive as the tenant would report it at `now_ms`, in report order.
    pub fn truth(&self, now_ms: i64) -> Vec<ArchiveTruth> {
        self.archives
            .iter()
            .map(|a| self.archive_at(a, now_ms))
            .collect()
    }

    /// (last connected, last completed, last activity, complete %) at `now`.
    fn times(&self, archive: &Archive, now: i64) -> (i64, Option<i64>, Option<i64>, f64) {
        let device = &self.devices[archive.device];
        let last_connected = match device.connection {
            Connection::Online { phase } => now - (now + phase).rem_euclid(10 * MINUTE),
            Connection::Since(t) => t,
        };
        let (last_completed, last_activity, percent) = match archive.health {
            Health::Healthy { period, phase } => {
                let completed = now - (now + phase).rem_euclid(period);
                (
                    Some(completed),
                    Some(completed.max(last_connected - 2 * MINUTE)),
                    100.0,
                )
            }
            // Online but unable to finish (locked files, huge selection): activity goes on.
            Health::StaleSince(t) => (Some(t), Some(last_connected.max(t)), 87.3),
            Health::Never => (None, Some(device.creation_ms + 2 * HOUR), 42.5),
        };
        (last_connected, last_completed, last_activity, percent)
    }

    /// Code42's alert states for an archive at `now`, from the default thresholds.
    fn alert_states(&self, archive: &Archive, now: i64) -> Vec<&'static str> {
        let (last_connected, last_completed, _, _) = self.times(archive, now);
        let backup_age = now - last_completed.unwrap_or(self.devices[archive.device].creation_ms);
        let connection_age = now - last_connected;
        let mut states = Vec::new();
        if backup_age >= CRITICAL_AFTER {
            states.push("CriticalBackupAlert");
        } else if backup_age >= WARNING_AFTER {
            states.push("WarningBackupAlert");
        }
        if connection_age >= CRITICAL_AFTER {
            states.push("CriticalConnectionAlert");
        } else if connection_age >= WARNING_AFTER {
            states.push("WarningConnectionAlert");
        }
        states
    }

    fn archive_at(&self, archive: &Archive, now: i64) -> ArchiveTruth {
        let device = &self.devices[archive.device];
        let dates = self.options.dates;
        let (last_connected, last_completed, last_activity, percent) = self.times(archive, now);
        let alert_states = self.alert_states(archive, now);
        let growth = ((now - device.creation_ms).max(0) / DAY) as u64 * 1_048_576;
        let unreadable_activity = archive.index < self.options.unreadable_dates;
        let completion_unreadable =
            last_completed.is_some() && archive.index < self.options.unreadable_completion;
        ArchiveTruth {
            archive_guid: archive.guid.clone(),
            device_uid: device.uid.clone(),
            device_name: device.name.clone(),
            hostname: device.hostname.clone(),
            org: ORGS[device.org].to_string(),
            org_uid: format!("9153237057515{:05}", device.org),
            org_named: self.options.unnamed_org != Some(device.org),
            username: format!("user{:05}@example.com", device.user),
            os: OSES[device.os].0.to_string(),
            os_version: device.os_version.to_string(),
            app_version: device.app_version.to_string(),
            destination: DESTINATIONS[archive.destination].to_string(),
            active: device.active,
            creation_ms: date_precision(device.creation_ms, dates),
            last_connected_ms: date_precision(last_connected, dates),
            last_completed_ms: last_completed.map(|t| date_precision(t, dates)),
            last_activity_ms: last_activity
                .map(|t| date_precision(t, dates))
                .filter(|_| !unreadable_activity),
            complete_percent: percent,
            selected_bytes: archive.selected_bytes,
            archive_bytes: archive.archive_bytes + growth,
            cold_storage: archive.cold_storage,
            alert_states,
            unreadable_activity,
            completion_unreadable,
            cold_storage_unknown: (archive.index < self.options.unknown_cold_storage)
                .then_some(["null", "unknown"][archive.index % 2]),
        }
    }

    /// `POST /api/v3/oauth/token?grant_type=client_credentials` with HTTP Basic.
    pub fn oauth_token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if request.query_value("grant_type") != Some("client_credentials") {
            return Reply::json(400, r#"{"error":"unsupported_grant_type"}"#.into());
        }
        if request.basic_auth()
            != Some((
                self.options.client_id.clone(),
                self.options.client_secret.clone(),
            ))
        {
            return code42_error(401, "HTTP 401 Could not authenticate user");
        }
        let (token, lifetime) = tokens.issue(now, 900);
        Reply::json(
            200,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{lifetime}}}"#
            ),
        )
    }

    /// `GET /api/v3/auth/jwt?useBody=true` with HTTP Basic user credentials.
    pub fn user_token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if request.query_value("useBody") != Some("true") {
            return code42_error(400, "useBody=true is required");
        }
        if request.basic_auth()
            != Some((self.options.username.clone(), self.options.password.clone()))
        {
            return code42_error(401, "HTTP 401 Could not authenticate user");
        }
        let (token, _) = tokens.issue(now, 1800);
        Reply::json(200, format!(r#"{{"data":{{"v3_user_token":"{token}"}}}}"#))
    }

    /// `GET /api/DeviceBackupReport` and `/api/v1/DeviceBackupReport`.
    pub fn device_backup_report(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return code42_error(401, "HTTP 401 Unauthorized");
        }
        let number = |name: &str, default: usize| match request.query_value(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("Invalid value for {name}: {v}")),
        };
        let (page, size) = match (number("pgNum", 1), number("pgSize", MAX_PAGE_SIZE)) {
            (Ok(page), Ok(size)) => (page.max(1), size.clamp(1, MAX_PAGE_SIZE)),
            (Err(e), _) | (_, Err(e)) => return code42_error(400, &e),
        };
        let selection = self.select(request, now);
        let selected = || selection.iter().map(|&i| &self.archives[i]);
        if request.query_value("export") == Some("csv") {
            // All records, paging ignored even if pgSize is given.
            let rows: Vec<ArchiveTruth> = selected().map(|a| self.archive_at(a, now)).collect();
            return Reply {
                status: 200,
                content_type: "text/csv",
                headers: Vec::new(),
                body: self.csv(&rows).into_bytes(),
            };
        }
        let page_rows: Vec<ArchiveTruth> = match request.query_value("srtKey") {
            // "When sorting using the srtKey query parameter, paging is limited to the first page."
            Some(_) if page > 1 => Vec::new(),
            Some(key) => {
                let mut rows: Vec<ArchiveTruth> =
                    selected().map(|a| self.archive_at(a, now)).collect();
                sort_rows(
                    &mut rows,
                    key,
                    request.query_value("srtDir") == Some("desc"),
                );
                rows.truncate(size);
                rows
            }
            None => selected()
                .chain(selected().take(self.options.repeated_rows))
                .skip((page - 1) * size)
                .take(size)
                .map(|a| self.archive_at(a, now))
                .collect(),
        };
        let mut body = String::with_capacity(page_rows.len() * 1300 + 256);
        body.push_str(r#"{"metadata":{"timestamp":"#);
        super::wire::json_str(&mut body, &format_date(now, DateStyle::Utc));
        body.push_str(r#","params":"#);
        let mut params = Obj::new(&mut body);
        for (k, v) in &request.query {
            params.str(k, v);
        }
        params.end();
        body.push_str(r#"},"data":["#);
        for (i, row) in page_rows.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            self.write_row(&mut body, row);
        }
        body.push_str("]}");
        Reply::json(200, body)
    }

    /// Indexes of the archives the request's filters select. Only `alerted` depends on the
    /// time, so other filters are remembered between the pages of one read.
    fn select(&self, request: &Request, now: i64) -> Arc<Vec<usize>> {
        let filters: Vec<String> = request
            .query
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    "pgNum" | "pgSize" | "srtKey" | "srtDir" | "export"
                )
            })
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let key = filters.join("&");
        let cacheable = !filters.iter().any(|f| f.starts_with("alerted="));
        let mut last = self.last_selection.lock().unwrap();
        if cacheable
            && let Some((last_key, selection)) = last.as_ref()
            && *last_key == key
        {
            return selection.clone();
        }
        let selection: Arc<Vec<usize>> = Arc::new(
            (0..self.archives.len())
                .filter(|&i| self.matches(&self.archives[i], request, now))
                .collect(),
        );
        if cacheable {
            *last = Some((key, selection.clone()));
        }
        selection
    }

    /// The report's flexible filters: partial, case-insensitive matches.
    fn matches(&self, archive: &Archive, request: &Request, now: i64) -> bool {
        let device = &self.devices[archive.device];
        let contains =
            |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        request.query.iter().all(|(key, value)| match key.as_str() {
            "active" => match value.as_str() {
                "true" => device.active,
                "false" => !device.active,
                _ => true,
            },
            "os" => contains(OSES[device.os].0, value),
            "org" => contains(ORGS[device.org], value),
            "user" => contains(&format!("user{:05}@example.com", device.user), value),
            "device" => contains(&device.name, value),
            "destination" => contains(DESTINATIONS[archive.destination], value),
            "deviceUid" => device.uid == *value,
            "alerted" => match value.as_str() {
                "true" => !self.alert_states(archive, now).is_empty(),
                "false" => self.alert_states(archive, now).is_empty(),
                _ => true,
            },
            _ => true,
        })
    }

    fn write_row(&self, out: &mut String, row: &ArchiveTruth) {
        let dates = self.options.dates;
        let native = self.options.values == ValueStyle::Native;
        let date = |ms: i64| format_date(ms, dates);
        let mut obj = Obj::new(out);
        obj.str("archiveGuid", &row.archive_guid)
            .str("orgUid", &row.org_uid)
            .opt_str("orgName", row.org_named.then_some(row.org.as_str()))
            .null("orgExtRef")
            .str("userUid", &format!("93896027386{}", &row.device_uid[11..]))
            .str("username", &row.username)
            .str("email", &row.username)
            .null("userExtRef")
            .str("deviceUid", &row.device_uid)
            .str("deviceName", &row.device_name)
            .str("deviceOsHostname", &row.hostname)
            .null("deviceExtRef")
            .str(
                "destinationUid",
                &format!("63254023098492518{}", destination_index(&row.destination)),
            )
            .str("destinationName", &row.destination)
            .str("serverUid", "836476656572622471")
            .str("serverName", SERVERS[destination_index(&row.destination)])
            .str("version", &row.app_version)
            .str("status", if row.active { "Active" } else { "Deactivated" })
            .str(
                "userStatus",
                if row.active { "Active" } else { "Deactivated" },
            );
        if native {
            let states: Vec<String> = if row.alert_states.is_empty() {
                vec!["\"OK\"".into()]
            } else {
                row.alert_states
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect()
            };
            obj.raw("alertStates", &format!("[{}]", states.join(",")));
        } else if row.alert_states.is_empty() {
            obj.str("alertStates", "OK");
        } else {
            obj.str("alertStates", &row.alert_states.join(", "));
        }
        obj.str("os", &row.os)
            .str("osVersion", &row.os_version)
            .str("address", "192.168.1.10:4242")
            .str("remoteAddress", "73.53.78.104")
            .str("creationDate", &date(row.creation_ms));
        let number = |obj: &mut Obj, key: &str, text: String| {
            if native {
                obj.raw(key, &text);
            } else {
                obj.str(key, &text);
            }
        };
        number(&mut obj, "selectedBytes", row.selected_bytes.to_string());
        number(
            &mut obj,
            "backupCompletePercentage",
            format!("{:.1}", row.complete_percent),
        );
        number(&mut obj, "archiveBytes", row.archive_bytes.to_string());
        match row.cold_storage_unknown {
            None => number(&mut obj, "coldStorage", row.cold_storage.to_string()),
            Some("null") => {
                obj.null("coldStorage");
            }
            Some(text) => {
                obj.str("coldStorage", text);
            }
        }
        let completed = if row.completion_unreadable {
            Some("Invalid Date".to_string())
        } else {
            row.last_completed_ms.map(date)
        };
        obj.str("lastConnectedDate", &date(row.last_connected_ms))
            .opt_str("lastCompletedBackupDate", completed.as_deref())
            .opt_str(
                "lastActivity",
                if row.unreadable_activity {
                    Some("Invalid Date".to_string())
                } else {
                    row.last_activity_ms.map(date)
                }
                .as_deref(),
            )
            .null("mostRecentUserProfileCreationResult")
            .null("mostRecentUserProfileBackupResult")
            .end();
    }

    fn csv(&self, rows: &[ArchiveTruth]) -> String {
        let mut out = String::from(
            "archiveGuid,orgUid,orgName,orgExtRef,userUid,username,email,userExtRef,deviceUid,deviceName,deviceOsHostname,deviceExtRef,destinationUid,destinationName,serverUid,serverName,version,status,userStatus,alertStates,os,osVersion,address,remoteAddress,creationDate,selectedBytes,backupCompletePercentage,archiveBytes,coldStorage,lastConnectedDate,lastCompletedBackupDate,lastActivity,mostRecentUserProfileCreationResult,mostRecentUserProfileBackupResult\n",
        );
        let date = |ms: Option<i64>| {
            ms.map_or("null".to_string(), |ms| format_date(ms, self.options.dates))
        };
        for row in rows {
            let states = if row.alert_states.is_empty() {
                "OK".to_string()
            } else {
                row.alert_states.join(" ")
            };
            let status = if row.active { "Active" } else { "Deactivated" };
            let fields = [
                row.archive_guid.clone(),
                row.org_uid.clone(),
                if row.org_named {
                    row.org.clone()
                } else {
                    "null".into()
                },
                "null".into(),
                format!("93896027386{}", &row.device_uid[11..]),
                row.username.clone(),
                row.username.clone(),
                "null".into(),
                row.device_uid.clone(),
                row.device_name.clone(),
                row.hostname.clone(),
                "null".into(),
                format!("63254023098492518{}", destination_index(&row.destination)),
                row.destination.clone(),
                "836476656572622471".into(),
                SERVERS[destination_index(&row.destination)].into(),
                row.app_version.clone(),
                status.into(),
                status.into(),
                states,
                row.os.clone(),
                row.os_version.clone(),
                "192.168.1.10:4242".into(),
                "73.53.78.104".into(),
                date(Some(row.creation_ms)),
                row.selected_bytes.to_string(),
                format!("{:.1}", row.complete_percent),
                row.archive_bytes.to_string(),
                row.cold_storage_unknown
                    .map_or(row.cold_storage.to_string(), str::to_string),
                date(Some(row.last_connected_ms)),
                if row.completion_unreadable {
                    "Invalid Date".into()
                } else {
                    date(row.last_completed_ms)
                },
                date(row.last_activity_ms),
                "null".into(),
                "null".into(),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_field(&mut out, field);
            }
            out.push('\n');
        }
        out
    }
}

fn destination_index(name: &str) -> usize {
    DESTINATIONS.iter().position(|d| *d == name).unwrap_or(0)
}

fn pick_class(rng: &mut Rng) -> usize {
    match rng.f64() {
        r if r < 0.72 => 9,
        r if r < 0.77 => 1,
        r if r < 0.81 => 2,
        r if r < 0.84 => 3,
        r if r < 0.87 => 4,
        r if r < 0.91 => 5,
        r if r < 0.94 => 6,
        r if r < 0.97 => 7,
        _ => 8,
    }
}

fn healthy(rng: &mut Rng) -> Health {
    Health::Healthy {
        period: [15 * MINUTE, HOUR, 4 * HOUR, 12 * HOUR][rng.usize(..4)],
        phase: rng.i64(0..DAY),
    }
}

fn online(rng: &mut Rng) -> Connection {
    Connection::Online {
        phase: rng.i64(0..HOUR),
    }
}

/// Names that exercise label escaping: quotes, backslashes, non-ASCII.
fn device_name(i: usize, os: usize) -> String {
    match i {
        1 => "Zoë's \"Work\" MacBook".into(),
        2 => "BUILD\\AGENT-02".into(),
        3 => "東京-デスクトップ".into(),
        _ => match OSES[os].0 {
            "win" => format!("LAPTOP-{i:05}"),
            "mac" => format!("user{i:05}-mbp"),
            _ => format!("ws-{i:05}"),
        },
    }
}

fn sort_rows(rows: &mut [ArchiveTruth], key: &str, descending: bool) {
    match key {
        "lastConnectedDate" => rows.sort_by_key(|r| r.last_connected_ms),
        "archiveBytes" => rows.sort_by_key(|r| r.archive_bytes),
        "selectedBytes" => rows.sort_by_key(|r| r.selected_bytes),
        "lastCompletedBackupDate" => rows.sort_by_key(|r| r.last_completed_ms),
        _ => {}
    }
    if descending {
        rows.reverse();
    }
}

/// A Code42 error body: `[{"name":"SYSTEM","description":"..."}]`.
fn code42_error(status: u16, description: &str) -> Reply {
    let mut body = String::from("[");
    Obj::new(&mut body)
        .str("name", "SYSTEM")
        .str("description", description)
        .end();
    body.push(']');
    Reply::json(status, body)
}

/// The error body for an injected HTTP status.
pub fn fault_body(status: u16) -> Reply {
    code42_error(status, &format!("HTTP {status} simulated failure"))
}
