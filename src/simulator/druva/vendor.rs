//! The Druva tenant as one of the simulator's vendors: its paths, its error bodies and the
//! shapes of the faults that concern its reports.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Method;

use super::{DruvaOptions, DruvaTenant, envelope};
use crate::simulator::{
    GeneratedTenant, Reply, Request, SimulatedVendor, Simulator, SimulatorOptions, Tokens,
};

const REPORTS: &str = "/platform/reporting/v1/reports/";
const EVENTS_V2: &str = "/insync/eventmanagement/v2/events";
const EVENTS_LEGACY: &str = "/api/events/v1";

fn is_report(path: &str) -> bool {
    path.starts_with(REPORTS)
}

impl SimulatedVendor for DruvaTenant {
    fn answer(&self, request: &Request, tokens: &Tokens, now: i64) -> Option<Reply> {
        Some(match (&request.method, request.path.as_str()) {
            (&Method::POST, "/token") => self.token(request, tokens, now),
            (&Method::POST, path) if is_report(path) => {
                self.report(&path[REPORTS.len()..], request, tokens, now)
            }
            (&Method::GET, EVENTS_V2) => self.events_v2(request, tokens, now),
            (&Method::GET, EVENTS_LEGACY) => {
                let host = request
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                self.events_legacy(request, now, &format!("http://{host}"))
            }
            _ => return None,
        })
    }

    fn fault_body(&self, path: &str, status: u16) -> Option<Reply> {
        match path {
            EVENTS_LEGACY => Some(match status {
                429 => Reply::text(
                    429,
                    "Too many API requests received by inSync Server in a given amount of time. Try requesting API after some time.",
                ),
                _ => Reply::text(status, &format!("HTTP {status} simulated failure")),
            }),
            "/token" | EVENTS_V2 => Some(self.error_envelope(status)),
            path if is_report(path) => Some(self.error_envelope(status)),
            _ => None,
        }
    }

    /// Full pages of new rows as the reports write them, as many as `pageSize` asks (up to
    /// the API's cap), and always another page token.
    fn endless_page(&self, request: &Request) -> Option<Reply> {
        static PAGE: AtomicU64 = AtomicU64::new(0);
        if !is_report(&request.path) {
            return None;
        }
        let page = PAGE.fetch_add(1, Ordering::Relaxed);
        // Follow-up pages carry only the token; they keep the first page's size, as the
        // API does (the fault does not track tokens: it takes the largest).
        let size = serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|b| b["filters"]["pageSize"].as_u64())
            .unwrap_or(500)
            .clamp(1, 500);
        let rows: Vec<String> = (0..size)
            .map(|i| {
                let id = 954_143_368_874_689_941 + page * size + i;
                format!(
                    r#"{{"addedOn":"2024-01-01T00:00:00Z","appStatus":"Enabled","lastAttemptedBackup":"2026-01-01T00:00:00Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulbackup":"2026-01-01T00:00:00Z","lastUpdatedTime":"2026-01-01T00:00:00Z","preferredDataLocation":"-","profileId":55,"profileName":"Default","statusDetails":null,"storageId":1000021,"storageName":"user{id}@endless.example.com_us-east-1","totalBackupData":1745757673,"userEmail":"user{id}@endless.example.com","userName":"User {id}","userPrincipalName":"user{id}@endless.example.com","workloadType":"OneDrive","siteDbId":{id},"teamDbId":{id},"groupDbId":{id},"alertId":{id},"jobId":{id},"workloadName":"OneDrive","severity":"High","backupStatus":"Backed Up Successfully","period":"month","startDate":"2026-01-01T00:00:00Z"}}"#
                )
            })
            .collect();
        Some(Reply::json(
            200,
            format!(
                r#"{{"data":[{}],"nextPageToken":"page-{}","lastSyncTimestamp":"2026-01-01T00:00:00Z"}}"#,
                rows.join(","),
                page + 1
            ),
        ))
    }

    fn unreadable_rows(&self, request: &Request) -> Option<Reply> {
        is_report(&request.path).then(|| {
            Reply::json(
                200,
                r#"{"data":[[["x"]],[["y"]]],"nextPageToken":"more","lastSyncTimestamp":"2026-01-01T00:00:00Z"}"#.into(),
            )
        })
    }

    fn expire_page_tokens(&self) {
        DruvaTenant::expire_page_tokens(self);
    }

    fn demo_source(&self, url: &str) -> String {
        let quoted = |s: &str| serde_json::to_string(s).expect("a string");
        let options = self.options();
        format!(
            "  - name: demo-druva\n    vendor: druva\n    url: {url}\n    client_id: {}\n    client_secret: {}\n    refresh_interval: 1m\n    timeout: 30s\n",
            quoted(&options.client_id),
            quoted(&options.client_secret),
        )
    }

    fn describe(&self) -> String {
        let options = self.options();
        format!(
            "Druva: {} users, API credential {:?}",
            options.users, options.client_id
        )
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DruvaTenant {
    /// The error envelope for an injected `status` (`retryable` for 5xx and 429).
    fn error_envelope(&self, status: u16) -> Reply {
        envelope(
            status,
            &format!("Simulated-{status}"),
            "simulated failure",
            status >= 500 || status == 429,
        )
    }
}

/// `simulate`'s Druva flags.
#[derive(clap::Args, Debug)]
pub struct DruvaArgs {
    /// Number of Druva Microsoft 365 users (two workloads each); sites, teams and groups
    /// grow in proportion beyond the defaults (one site per 25 users, a team per 50, a
    /// group per 40).
    #[arg(long = "druva-users", default_value_t = 300)]
    users: usize,
}

impl GeneratedTenant for DruvaTenant {
    type Options = DruvaOptions;
    type Args = DruvaArgs;

    fn generate(options: DruvaOptions, start_ms: i64) -> Self {
        DruvaTenant::generate(options, start_ms)
    }

    fn options(args: &DruvaArgs, seed: u64) -> DruvaOptions {
        let defaults = DruvaOptions::default();
        DruvaOptions {
            users: args.users,
            sites: defaults.sites.max(args.users / 25),
            teams: defaults.teams.max(args.users / 50),
            groups: defaults.groups.max(args.users / 40),
            seed,
            ..defaults
        }
    }
}

impl Simulator {
    /// The simulated Druva tenant.
    pub fn druva(&self) -> &DruvaTenant {
        self.vendor()
    }
}

impl SimulatorOptions {
    /// The options of the simulated Druva tenant.
    pub fn druva(&mut self) -> &mut DruvaOptions {
        self.vendor_mut()
    }
}
