//! The Code42 tenant as one of the simulator's vendors: its paths, its error bodies and the
//! shapes of the faults that concern its report.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::ValueEnum;
use http::Method;

use super::{Code42Options, Code42Tenant, ValueStyle, fault_body};
use crate::simulator::DateStyle;
use crate::simulator::{
    GeneratedTenant, Reply, Request, SimulatedVendor, Simulator, SimulatorOptions, Tokens,
};

const REPORT_PATHS: [&str; 2] = ["/api/DeviceBackupReport", "/api/v1/DeviceBackupReport"];

fn is_report(path: &str) -> bool {
    path.contains("DeviceBackupReport")
}

impl SimulatedVendor for Code42Tenant {
    fn answer(&self, request: &Request, tokens: &Tokens, now: i64) -> Option<Reply> {
        Some(match (&request.method, request.path.as_str()) {
            (&Method::POST, "/api/v3/oauth/token") => self.oauth_token(request, tokens, now),
            (&Method::GET, "/api/v3/auth/jwt") => self.user_token(request, tokens, now),
            (&Method::GET, path) if REPORT_PATHS.contains(&path) => {
                self.device_backup_report(request, tokens, now)
            }
            _ => return None,
        })
    }

    fn fault_body(&self, path: &str, status: u16) -> Option<Reply> {
        (path.starts_with("/api/v3/") || is_report(path)).then(|| fault_body(status))
    }

    /// Full pages of new rows with every column, as many as `pgSize` asks (up to the
    /// API's cap), and always another page.
    fn endless_page(&self, request: &Request) -> Option<Reply> {
        static PAGE: AtomicU64 = AtomicU64::new(0);
        if !is_report(&request.path) {
            return None;
        }
        let page = PAGE.fetch_add(1, Ordering::Relaxed);
        let size = request
            .query_value("pgSize")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000u64)
            .clamp(1, 1000);
        let rows: Vec<String> = (0..size)
            .map(|i| {
                let id = 954_143_368_874_689_941 + page * size + i;
                format!(
                    r#"{{"archiveGuid":"{g}","orgUid":"915323705751579872","orgName":"Endless Engineering","orgExtRef":null,"userUid":"{u}","username":"user{id}@endless.example.com","email":"user{id}@endless.example.com","userExtRef":null,"deviceUid":"{id}","deviceName":"LAPTOP-{id}","deviceOsHostname":"laptop-{id}.corp.example.com","deviceExtRef":null,"destinationUid":"632540230984925185","destinationName":"Code42 Cloud USA West","serverUid":"836476656572622471","serverName":"cif-sea","version":"11.0.1.33","status":"Active","userStatus":"Active","alertStates":"OK","os":"win","osVersion":"10.0.19045","address":"10.1.2.3:4242","remoteAddress":"73.53.78.104","creationDate":"2024-05-14T13:03:20.302Z","selectedBytes":"1658317953","backupCompletePercentage":"99.7","archiveBytes":"1745757673","coldStorage":"false","lastConnectedDate":"2026-01-01T16:55:40.632Z","lastCompletedBackupDate":"2026-01-01T15:17:52.084Z","lastActivity":"2026-01-01T15:17:52.084Z","mostRecentUserProfileCreationResult":null,"mostRecentUserProfileBackupResult":null}}"#,
                    g = id + 1,
                    u = id + 2,
                )
            })
            .collect();
        Some(Reply::json(
            200,
            format!(r#"{{"metadata":{{}},"data":[{}]}}"#, rows.join(",")),
        ))
    }

    fn unreadable_rows(&self, request: &Request) -> Option<Reply> {
        is_report(&request.path).then(|| {
            Reply::json(
                200,
                r#"{"metadata":{},"data":[[["x"]],[["y"]],[1]]}"#.into(),
            )
        })
    }

    fn demo_source(&self, url: &str) -> String {
        let quoted = |s: &str| serde_json::to_string(s).expect("a string");
        let options = self.options();
        format!(
            "  - name: demo-crashplan\n    vendor: code42\n    url: {url}\n    client_id: {}\n    client_secret: {}\n    refresh_interval: 1m\n    timeout: 30s\n    query: {{ active: \"true\" }}\n",
            quoted(&options.client_id),
            quoted(&options.client_secret),
        )
    }

    fn describe(&self) -> String {
        let options = self.options();
        format!(
            "Code42: {} devices, API client {:?}",
            options.devices, options.client_id
        )
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `simulate`'s Code42 flags.
#[derive(clap::Args, Debug)]
pub struct Code42Args {
    /// Number of Code42 devices (about 1.3 archives each).
    #[arg(long, default_value_t = 200)]
    devices: usize,

    /// How Code42 values are written: strings (cloud) or native JSON numbers and booleans.
    #[arg(long = "code42-values", value_enum, default_value = "strings")]
    values: ValuesArg,

    /// How Code42 dates are written.
    #[arg(long = "code42-dates", value_enum, default_value = "utc")]
    dates: DatesArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ValuesArg {
    Strings,
    Native,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DatesArg {
    /// 2020-10-12T20:17:52.084Z
    Utc,
    /// 2020-10-12T14:17:52.084-06:00
    Offset,
    /// Oct 12, 2020 08:17:52 PM (the 2015 on-premises format)
    OnPremises,
    /// Oct 12, 2020, 8:17:52 PM with U+202F before PM (a server on JDK 20 or later)
    JavaMedium,
}

impl GeneratedTenant for Code42Tenant {
    type Options = Code42Options;
    type Args = Code42Args;

    fn generate(options: Code42Options, start_ms: i64) -> Self {
        Code42Tenant::generate(options, start_ms)
    }

    fn options(args: &Code42Args, seed: u64) -> Code42Options {
        Code42Options {
            devices: args.devices,
            seed,
            values: match args.values {
                ValuesArg::Strings => ValueStyle::Strings,
                ValuesArg::Native => ValueStyle::Native,
            },
            dates: match args.dates {
                DatesArg::Utc => DateStyle::Utc,
                DatesArg::Offset => DateStyle::Offset,
                DatesArg::OnPremises => DateStyle::OnPremises,
                DatesArg::JavaMedium => DateStyle::JavaMedium,
            },
            ..Code42Options::default()
        }
    }

    fn demo_options() -> Code42Options {
        Code42Options {
            devices: 120,
            ..Code42Options::default()
        }
    }
}

impl Simulator {
    /// The simulated Code42 tenant.
    pub fn code42(&self) -> &Code42Tenant {
        self.vendor()
    }
}

impl SimulatorOptions {
    /// The options of the simulated Code42 tenant.
    pub fn code42(&mut self) -> &mut Code42Options {
        self.vendor_mut()
    }
}
