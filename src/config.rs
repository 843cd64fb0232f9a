//! The YAML configuration file: parsing, validation and the validated [`Config`].
//!
//! Every error names the file, the field (as a path such as `sources[1].refresh_interval`)
//! and what is wrong, because `--config.check` is how users find their mistakes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::secret::SecretRef;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sources: Vec<SourceSpec>,
}

/// One configured upstream tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    /// The `source` label of every series of this source.
    pub name: String,
    pub url: Url,
    pub refresh_interval: Duration,
    /// Limit for one whole refresh.
    pub timeout: Duration,
    /// Extra labels added to every series of this source, sorted by name.
    pub labels: Vec<(String, String)>,
    /// How the vendor's certificate is checked and how large a response may be.
    pub http: HttpSpec,
    /// Which series the source exposes.
    pub series: SeriesSpec,
    pub vendor: VendorSpec,
}

/// Per-device (Code42) or per-resource (Druva) series: all of them, only those that are
/// alerting or about to, or none. Aggregates (org, workload, alert counts) are always
/// complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    All,
    Alerting,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    pub detail: Detail,
    /// In `alerting` mode, items older than this keep their series.
    pub alerting_age: Duration,
    /// At most this many series for the source; the stalest items are kept.
    pub max_series: Option<usize>,
    /// Key of the hash that replaces user names, e-mails and device names in labels.
    pub hash_key: Option<SecretRef>,
}

impl Default for SeriesSpec {
    fn default() -> Self {
        SeriesSpec {
            detail: Detail::All,
            alerting_age: DEFAULT_ALERTING_AGE,
            max_series: None,
            hash_key: None,
        }
    }
}

/// The warning threshold of the backup-age alerts.
pub const DEFAULT_ALERTING_AGE: Duration = Duration::from_secs(3 * 86_400);

/// Connection settings towards the vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// Extra trusted CA certificates (PEM), beside the system's.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: explicit, and logged as a warning.
    pub insecure_skip_verify: bool,
    /// A response body larger than this fails the refresh.
    pub max_response_bytes: u64,
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            ca_file: None,
            insecure_skip_verify: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// A Code42 page of 1,000 rows is about 1.3 MB; a Druva page of 500 rows less.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum VendorSpec {
    Code42(Code42Spec),
    Druva(DruvaSpec),
}

impl VendorSpec {
    pub fn name(&self) -> &'static str {
        match self {
            VendorSpec::Code42(_) => "code42",
            VendorSpec::Druva(_) => "druva",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Code42Spec {
    pub auth: Code42Auth,
    /// Path of the DeviceBackupReport resource.
    pub report_path: String,
    /// Extra query parameters, in the order given.
    pub query: Vec<(String, String)>,
    pub page_size: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Code42Auth {
    /// API client: OAuth client credentials.
    ApiClient {
        client_id: String,
        secret: SecretRef,
    },
    /// Legacy user token from `/api/v3/auth/jwt`.
    User {
        username: String,
        password: SecretRef,
    },
}

/// A Druva inSync tenant (Microsoft 365 reports and events).
#[derive(Debug, Clone, PartialEq)]
pub struct DruvaSpec {
    pub client_id: String,
    pub secret: SecretRef,
    /// Report IDs to read, in reading order.
    pub reports: Vec<&'static str>,
    pub page_size: u32,
    /// How often the current-state reports are read completely instead of incrementally,
    /// so deleted resources disappear.
    pub full_read_interval: Duration,
    pub events: DruvaEvents,
}

impl DruvaSpec {
    /// `v2`, `legacy` or `none`.
    pub fn events_kind(&self) -> &'static str {
        match self.events {
            DruvaEvents::None => "none",
            DruvaEvents::V2 => "v2",
            DruvaEvents::Legacy { .. } => "legacy",
        }
    }
}

/// Which inSync Events API feeds `backup_events_total`.
#[derive(Debug, Clone, PartialEq)]
pub enum DruvaEvents {
    None,
    /// `GET /insync/eventmanagement/v2/events` with the OAuth token.
    V2,
    /// The deprecated `/api/events/v1` with HTTP Basic (admin e-mail, API token).
    Legacy {
        url: Url,
        admin_email: String,
        token: SecretRef,
    },
}

pub const DEFAULT_DRUVA_URL: &str = "https://apis.druva.com";
pub const DEFAULT_DRUVA_LEGACY_EVENTS_URL: &str = "https://insyncapi-cloud.druva.com";
/// The reports API's maximum page size.
pub const DRUVA_MAX_PAGE_SIZE: u32 = 500;
pub const DEFAULT_FULL_READ_INTERVAL: Duration = Duration::from_secs(6 * 3600);

pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_CODE42_REPORT_PATH: &str = "/api/v1/DeviceBackupReport";
/// The documented maximum page size of DeviceBackupReport.
pub const CODE42_MAX_PAGE_SIZE: u32 = 1000;

/// Label names the exporter itself puts on series; a source's `labels` may not reuse them.
pub const RESERVED_LABELS: &[&str] = &[
    "source",
    "vendor",
    "org",
    "device_uid",
    "device_name",
    "destination",
    "user",
    "os",
    "os_version",
    "app_version",
    "alert",
    "severity",
    "endpoint",
    "code",
    "reason",
    "version",
    "revision",
    "workload",
    "state",
    "license",
    "id",
    "name",
    "operation",
    "status",
    "event_type",
    "event_state",
    "job",
    "instance",
];

/// A configuration problem, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// Path of the offending field, e.g. `sources[0].url`; empty for whole-file problems.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Something legal but worth telling the operator, such as an inline secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub field: String,
    pub message: String,
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        field: String::new(),
        message: format!("cannot read file: {e}"),
    })?;
    parse(&file, &text)
}

/// Parses and validates configuration text; `file` is used in messages only.
pub fn parse(file: &str, text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    // yaml_serde's messages already carry the field path and the line, e.g.
    // "sources[0].timeout: a duration needs a unit ... at line 8 column 14".
    let raw: RawConfig = yaml_serde::from_str(text).map_err(|e| ConfigError {
        file: file.to_string(),
        field: String::new(),
        message: e.to_string(),
    })?;
    let mut warnings = Vec::new();
    let config = raw
        .validate(&mut warnings)
        .map_err(|(field, message)| ConfigError {
            file: file.to_string(),
            field,
            message,
        })?;
    Ok((config, warnings))
}

/// The configuration `--demo` runs with: the simulated tenants at `url`.
pub fn demo(url: &str, code42_secret: &str, druva_secret: &str) -> Config {
    let url = Url::parse(url).expect("simulator URL");
    Config {
        sources: vec![
            SourceSpec {
                name: "demo-crashplan".into(),
                url: url.clone(),
                refresh_interval: Duration::from_secs(60),
                timeout: Duration::from_secs(30),
                labels: Vec::new(),
                http: HttpSpec::default(),
                series: SeriesSpec::default(),
                vendor: VendorSpec::Code42(Code42Spec {
                    auth: Code42Auth::ApiClient {
                        client_id: "demo-client".into(),
                        secret: SecretRef::Inline(crate::secret::Secret::new(code42_secret)),
                    },
                    report_path: DEFAULT_CODE42_REPORT_PATH.into(),
                    query: vec![("active".into(), "true".into())],
                    page_size: CODE42_MAX_PAGE_SIZE,
                }),
            },
            SourceSpec {
                name: "demo-druva".into(),
                url,
                refresh_interval: Duration::from_secs(60),
                timeout: Duration::from_secs(30),
                labels: Vec::new(),
                http: HttpSpec::default(),
                series: SeriesSpec::default(),
                vendor: VendorSpec::Druva(DruvaSpec {
                    client_id: "druva-demo-client".into(),
                    secret: SecretRef::Inline(crate::secret::Secret::new(druva_secret)),
                    reports: crate::druva::DEFAULT_REPORTS.to_vec(),
                    page_size: DRUVA_MAX_PAGE_SIZE,
                    full_read_interval: DEFAULT_FULL_READ_INTERVAL,
                    events: DruvaEvents::V2,
                }),
            },
        ],
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum RawVendor {
    Code42,
    Druva,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum RawEvents {
    V2,
    Legacy,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLegacyEvents {
    url: Option<String>,
    admin_email: String,
    api_token: Option<String>,
    api_token_file: Option<PathBuf>,
    api_token_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    vendor: RawVendor,
    url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    refresh_interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    timeout: Option<Duration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    tls: Option<RawTls>,
    #[serde(default, deserialize_with = "byte_size")]
    max_response_bytes: Option<u64>,
    device_metrics: Option<Detail>,
    resource_metrics: Option<Detail>,
    #[serde(default, deserialize_with = "duration")]
    alerting_age: Option<Duration>,
    max_series: Option<usize>,
    #[serde(default)]
    hash_identities: bool,
    hash_key: Option<String>,
    hash_key_file: Option<PathBuf>,
    hash_key_env: Option<String>,
    page_size: Option<u32>,
    // Code42 only.
    report_path: Option<String>,
    query: Option<BTreeMap<String, QueryValue>>,
    // Druva only.
    reports: Option<Vec<String>>,
    #[serde(default, deserialize_with = "duration")]
    full_read_interval: Option<Duration>,
    events: Option<RawEvents>,
    legacy_events: Option<RawLegacyEvents>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// A size in bytes: a number, or a number with a unit (`64MiB`, `500KB`, `1GiB`).
fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size such as 67108864 or \"64MiB\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let text = v.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let factor: u64 = match unit.trim() {
                "" | "B" => 1,
                "KB" => 1_000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                other => {
                    return Err(E::custom(format!(
                        "invalid size {v:?}: unknown unit {other:?} (B, KB, MB, GB, KiB, MiB, GiB)"
                    )));
                }
            };
            number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(factor))
                .map(Some)
                .ok_or_else(|| E::custom(format!("invalid size {v:?}")))
        }
    }
    deserializer.deserialize_any(V)
}

/// A query parameter value; YAML users write `active: true` as often as `active: "true"`.
struct QueryValue(String);

impl<'de> Deserialize<'de> for QueryValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = QueryValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Deserializes a humantime duration such as `15m` or `1h30m`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"60s\", \"15m\" or \"1h30m\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            humantime::parse_duration(v)
                .map(Some)
                .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "a duration needs a unit: write \"{v}s\" or \"{v}m\""
            )))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_u64(v.unsigned_abs())
        }
    }
    deserializer.deserialize_any(V)
}

type FieldError = (String, String);

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, FieldError> {
    Err((field.into(), message.into()))
}

impl RawConfig {
    fn validate(self, warnings: &mut Vec<ConfigWarning>) -> Result<Config, FieldError> {
        if self.sources.is_empty() {
            return err("sources", "at least one source is required");
        }
        let mut names = BTreeSet::new();
        let mut sources = Vec::with_capacity(self.sources.len());
        for (index, raw) in self.sources.into_iter().enumerate() {
            let at = format!("sources[{index}]");
            if !names.insert(raw.name.clone()) {
                return err(
                    format!("{at}.name"),
                    format!("duplicate source name {:?}", raw.name),
                );
            }
            sources.push(raw.validate(&at, warnings)?);
        }
        Ok(Config { sources })
    }
}

impl RawSource {
    fn validate(
        self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<SourceSpec, FieldError> {
        validate_source_name(&self.name).or_else(|m| err(format!("{at}.name"), m))?;
        let refresh_interval = self.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL);
        if refresh_interval < Duration::from_secs(1) {
            return err(format!("{at}.refresh_interval"), "must be at least 1s");
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return err(format!("{at}.timeout"), "must be greater than zero");
        }
        let labels =
            validate_labels(&self.labels).or_else(|(l, m)| err(format!("{at}.labels.{l}"), m))?;
        let http = self.http(at, warnings)?;
        let series = self.series(at, warnings)?;
        let (url, vendor) = match self.vendor {
            RawVendor::Code42 => {
                self.reject_fields(
                    at,
                    "code42",
                    &[
                        ("reports", self.reports.is_some()),
                        ("full_read_interval", self.full_read_interval.is_some()),
                        ("events", self.events.is_some()),
                        ("legacy_events", self.legacy_events.is_some()),
                        ("resource_metrics", self.resource_metrics.is_some()),
                    ],
                )?;
                let url = match &self.url {
                    Some(url) => parse_base_url(url).or_else(|m| err(format!("{at}.url"), m))?,
                    None => return err(format!("{at}.url"), "is required for vendor code42"),
                };
                (url, VendorSpec::Code42(self.code42(at, warnings)?))
            }
            RawVendor::Druva => {
                self.reject_fields(
                    at,
                    "druva",
                    &[
                        ("username", self.username.is_some()),
                        ("password", self.password.is_some()),
                        ("password_file", self.password_file.is_some()),
                        ("password_env", self.password_env.is_some()),
                        ("report_path", self.report_path.is_some()),
                        ("query", self.query.is_some()),
                        ("device_metrics", self.device_metrics.is_some()),
                    ],
                )?;
                let url = parse_base_url(self.url.as_deref().unwrap_or(DEFAULT_DRUVA_URL))
                    .or_else(|m| err(format!("{at}.url"), m))?;
                (url, VendorSpec::Druva(self.druva(at, warnings)?))
            }
        };
        Ok(SourceSpec {
            name: self.name,
            url,
            refresh_interval,
            timeout,
            labels,
            http,
            series,
            vendor,
        })
    }

    fn series(
        &self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<SeriesSpec, FieldError> {
        let hash_key = secret_ref(
            at,
            "hash_key",
            &self.hash_key,
            &self.hash_key_file,
            &self.hash_key_env,
            warnings,
        )?;
        let hash_key = match (self.hash_identities, hash_key) {
            (true, None) => {
                return err(
                    format!("{at}.hash_identities"),
                    "needs a key: set hash_key_file or hash_key_env (the same key gives the same labels)",
                );
            }
            (false, Some(_)) => {
                return err(
                    format!("{at}.hash_key"),
                    "is only used with hash_identities: true",
                );
            }
            (_, key) => key,
        };
        if self.max_series == Some(0) {
            return err(
                format!("{at}.max_series"),
                "must be at least 1 (leave it out for no limit)",
            );
        }
        Ok(SeriesSpec {
            detail: self
                .device_metrics
                .or(self.resource_metrics)
                .unwrap_or(Detail::All),
            alerting_age: self.alerting_age.unwrap_or(DEFAULT_ALERTING_AGE),
            max_series: self.max_series,
            hash_key,
        })
    }

    fn http(&self, at: &str, warnings: &mut Vec<ConfigWarning>) -> Result<HttpSpec, FieldError> {
        let max_response_bytes = self
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        if max_response_bytes < 1024 {
            return err(format!("{at}.max_response_bytes"), "must be at least 1KiB");
        }
        let tls = self.tls.as_ref();
        let ca_file = tls.and_then(|t| t.ca_file.clone());
        if let Some(path) = &ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                (
                    format!("{at}.tls.ca_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    (
                        format!("{at}.tls.ca_file"),
                        format!("{} holds no PEM certificate", path.display()),
                    )
                })?;
        }
        let insecure_skip_verify = tls.is_some_and(|t| t.insecure_skip_verify);
        if insecure_skip_verify {
            warnings.push(ConfigWarning {
                field: format!("{at}.tls.insecure_skip_verify"),
                message: "the vendor's TLS certificate is not verified; anyone on the path can read the credentials".into(),
            });
        }
        Ok(HttpSpec {
            ca_file,
            insecure_skip_verify,
            max_response_bytes,
        })
    }

    /// Fields that belong to the other vendor are errors, not silently ignored.
    fn reject_fields(
        &self,
        at: &str,
        vendor: &str,
        fields: &[(&str, bool)],
    ) -> Result<(), FieldError> {
        match fields.iter().find(|(_, set)| *set) {
            Some((field, _)) => err(
                format!("{at}.{field}"),
                format!("is not a setting of vendor {vendor}"),
            ),
            None => Ok(()),
        }
    }

    fn druva(&self, at: &str, warnings: &mut Vec<ConfigWarning>) -> Result<DruvaSpec, FieldError> {
        let secret = secret_ref(
            at,
            "client_secret",
            &self.client_secret,
            &self.client_secret_file,
            &self.client_secret_env,
            warnings,
        )?;
        let (client_id, secret) = match (&self.client_id, secret) {
            (Some(id), Some(secret)) => (non_empty(at, "client_id", id)?, secret),
            (Some(_), None) => {
                return err(
                    format!("{at}.client_id"),
                    "needs a secret: set client_secret_file, client_secret_env or client_secret",
                );
            }
            (None, _) => {
                return err(
                    format!("{at}.client_id"),
                    "is required: create an API credential in the Druva console (Settings → API credentials)",
                );
            }
        };
        let reports = match &self.reports {
            None => crate::druva::DEFAULT_REPORTS.to_vec(),
            Some(names) => {
                let mut reports = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let Some(id) = crate::druva::report_id(name) else {
                        return err(
                            format!("{at}.reports[{i}]"),
                            format!(
                                "unknown report {name:?}; supported: {}",
                                crate::druva::DEFAULT_REPORTS.join(", ")
                            ),
                        );
                    };
                    if reports.contains(&id) {
                        return err(
                            format!("{at}.reports[{i}]"),
                            format!("{name} is listed twice"),
                        );
                    }
                    reports.push(id);
                }
                reports
            }
        };
        let page_size = self.page_size.unwrap_or(DRUVA_MAX_PAGE_SIZE);
        if !(1..=DRUVA_MAX_PAGE_SIZE).contains(&page_size) {
            return err(
                format!("{at}.page_size"),
                format!("must be between 1 and {DRUVA_MAX_PAGE_SIZE} (the API's maximum)"),
            );
        }
        let full_read_interval = self
            .full_read_interval
            .unwrap_or(DEFAULT_FULL_READ_INTERVAL);
        if full_read_interval.is_zero() {
            return err(
                format!("{at}.full_read_interval"),
                "must be greater than zero",
            );
        }
        let events = match (self.events.unwrap_or(RawEvents::V2), &self.legacy_events) {
            (RawEvents::Legacy, None) => {
                return err(
                    format!("{at}.legacy_events"),
                    "is required with events: legacy (admin_email and api_token_file)",
                );
            }
            (RawEvents::Legacy, Some(legacy)) => {
                let at_legacy = format!("{at}.legacy_events");
                let url = parse_base_url(
                    legacy
                        .url
                        .as_deref()
                        .unwrap_or(DEFAULT_DRUVA_LEGACY_EVENTS_URL),
                )
                .or_else(|m| err(format!("{at_legacy}.url"), m))?;
                let token = secret_ref(
                    &at_legacy,
                    "api_token",
                    &legacy.api_token,
                    &legacy.api_token_file,
                    &legacy.api_token_env,
                    warnings,
                )?
                .ok_or_else(|| {
                    (
                        format!("{at_legacy}.api_token_file"),
                        "is required: the inSync API token (Settings → inSync APIs)".to_string(),
                    )
                })?;
                DruvaEvents::Legacy {
                    url,
                    admin_email: non_empty(&at_legacy, "admin_email", &legacy.admin_email)?,
                    token,
                }
            }
            (_, Some(_)) => {
                return err(
                    format!("{at}.legacy_events"),
                    "is only used with events: legacy",
                );
            }
            (RawEvents::V2, None) => DruvaEvents::V2,
            (RawEvents::None, None) => DruvaEvents::None,
        };
        Ok(DruvaSpec {
            client_id,
            secret,
            reports,
            page_size,
            full_read_interval,
            events,
        })
    }

    fn code42(
        &self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Code42Spec, FieldError> {
        let client = secret_ref(
            at,
            "client_secret",
            &self.client_secret,
            &self.client_secret_file,
            &self.client_secret_env,
            warnings,
        )?;
        let password = secret_ref(
            at,
            "password",
            &self.password,
            &self.password_file,
            &self.password_env,
            warnings,
        )?;
        let auth = match (&self.client_id, client, &self.username, password) {
            (Some(id), Some(secret), None, None) => Code42Auth::ApiClient {
                client_id: non_empty(at, "client_id", id)?,
                secret,
            },
            (None, None, Some(user), Some(password)) => Code42Auth::User {
                username: non_empty(at, "username", user)?,
                password,
            },
            (Some(_), None, None, None) => {
                return err(
                    format!("{at}.client_id"),
                    "needs a secret: set client_secret_file, client_secret_env or client_secret",
                );
            }
            (None, None, Some(_), None) => {
                return err(
                    format!("{at}.username"),
                    "needs a password: set password_file, password_env or password",
                );
            }
            (None, Some(_), None, None) => {
                return err(
                    format!("{at}.client_id"),
                    "is required with a client secret",
                );
            }
            (None, None, None, Some(_)) => {
                return err(format!("{at}.username"), "is required with a password");
            }
            (None, None, None, None) => {
                return err(
                    at,
                    "no credentials: set client_id with client_secret_file (API client), \
                     or username with password_file (legacy user token)",
                );
            }
            _ => {
                return err(
                    at,
                    "set either client_id with a client secret (API client) or username with \
                     a password (legacy user token), not both",
                );
            }
        };
        let report_path = self
            .report_path
            .clone()
            .unwrap_or_else(|| DEFAULT_CODE42_REPORT_PATH.to_string());
        if !report_path.starts_with('/') || report_path.contains(['?', '#']) {
            return err(
                format!("{at}.report_path"),
                format!(
                    "{report_path:?} must be an absolute path without query, e.g. {DEFAULT_CODE42_REPORT_PATH}"
                ),
            );
        }
        let mut query = Vec::new();
        for (key, QueryValue(value)) in self.query.iter().flatten() {
            let field = format!("{at}.query.{key}");
            match key.as_str() {
                "pgNum" | "pgSize" => {
                    return err(
                        field,
                        "is set by the exporter while paging; use page_size to change the page size",
                    );
                }
                "srtKey" | "srtDir" => {
                    return err(
                        field,
                        "sorting limits DeviceBackupReport to its first page, so the report would be incomplete",
                    );
                }
                "export" => {
                    return err(
                        field,
                        "the exporter reads JSON; CSV export is not supported",
                    );
                }
                "" => return err(field, "empty parameter name"),
                _ => query.push((key.clone(), value.clone())),
            }
        }
        let page_size = self.page_size.unwrap_or(CODE42_MAX_PAGE_SIZE);
        if !(1..=CODE42_MAX_PAGE_SIZE).contains(&page_size) {
            return err(
                format!("{at}.page_size"),
                format!("must be between 1 and {CODE42_MAX_PAGE_SIZE} (the API's maximum)"),
            );
        }
        Ok(Code42Spec {
            auth,
            report_path,
            query,
            page_size,
        })
    }
}

fn non_empty(at: &str, field: &str, value: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        err(format!("{at}.{field}"), "must not be empty")
    } else {
        Ok(value.to_string())
    }
}

/// Resolves the `<base>`, `<base>_file`, `<base>_env` triple to one [`SecretRef`] and checks
/// that it can be read now, so a typo shows up in `--config.check` and not at 3 a.m.
fn secret_ref(
    at: &str,
    base: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
    env: &Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SecretRef>, FieldError> {
    let set = [inline.is_some(), file.is_some(), env.is_some()];
    if set.iter().filter(|s| **s).count() > 1 {
        return err(
            format!("{at}.{base}"),
            format!("set only one of {base}_file, {base}_env and {base}"),
        );
    }
    let (field, secret) = if let Some(path) = file {
        (format!("{at}.{base}_file"), SecretRef::File(path.clone()))
    } else if let Some(name) = env {
        (format!("{at}.{base}_env"), SecretRef::Env(name.clone()))
    } else if let Some(value) = inline {
        warnings.push(ConfigWarning {
            field: format!("{at}.{base}"),
            message: format!(
                "secret given inline in the config file; prefer {base}_file or {base}_env"
            ),
        });
        (
            format!("{at}.{base}"),
            SecretRef::Inline(crate::secret::Secret::new(value.as_str())),
        )
    } else {
        return Ok(None);
    };
    secret.load().map_err(|m| (field, m))?;
    Ok(Some(secret))
}

fn validate_source_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "{name:?} may contain only letters, digits, '-', '_' and '.' (at most 64)"
        ));
    }
    Ok(())
}

fn validate_labels(
    labels: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, (String, String)> {
    let mut out = Vec::with_capacity(labels.len());
    for (name, value) in labels {
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !valid {
            return Err((name.clone(), "is not a valid Prometheus label name".into()));
        }
        if name.starts_with("__") {
            return Err((
                name.clone(),
                "label names starting with __ are reserved by Prometheus".into(),
            ));
        }
        if RESERVED_LABELS.contains(&name.as_str()) {
            return Err((
                name.clone(),
                "collides with a label the exporter sets itself".into(),
            ));
        }
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} must use http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} must not contain a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed; use the credential fields".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<Config, String> {
        parse("test.yml", yaml)
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
sources:
  - name: crashplan-us
    vendor: code42
    url: https://console.us1.crashplan.com
    client_id: key-6a1b
    client_secret_env: PATH
    refresh_interval: 15m
    timeout: 60s
    query: { active: "true", org: 42 }
"#;

    #[test]
    fn the_documented_shape_parses() {
        let config = check(GOOD).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.name, "crashplan-us");
        assert_eq!(source.refresh_interval, Duration::from_secs(900));
        assert_eq!(source.timeout, Duration::from_secs(60));
        let VendorSpec::Code42(spec) = &source.vendor else {
            panic!("code42")
        };
        assert_eq!(
            spec.query,
            vec![
                ("active".into(), "true".into()),
                ("org".into(), "42".into())
            ]
        );
        assert_eq!(spec.report_path, "/api/v1/DeviceBackupReport");
        assert_eq!(spec.page_size, 1000);
    }

    #[test]
    fn errors_name_file_field_and_problem() {
        let cases = [
            (
                GOOD.replace("15m", "15x"),
                "test.yml: sources[0].refresh_interval: invalid duration \"15x\"",
            ),
            (
                GOOD.replace("timeout: 60s", "timeout: 60"),
                "sources[0].timeout: a duration needs a unit",
            ),
            (
                GOOD.replace("    timeout: 60s\n", "    timeout: 60s\n    colour: red\n"),
                "unknown field `colour`",
            ),
            (
                GOOD.replace("code42", "veeam"),
                "sources[0].vendor: unknown variant `veeam`",
            ),
            (
                GOOD.replace("    client_id: key-6a1b\n", ""),
                "sources[0].client_id: is required with a client secret",
            ),
            (
                GOOD.replace(
                    "client_secret_env: PATH",
                    "client_secret_env: BACKUP_EXPORTER_SURELY_UNSET",
                ),
                "sources[0].client_secret_env: environment variable BACKUP_EXPORTER_SURELY_UNSET is not set",
            ),
            (
                GOOD.replace(
                    "client_secret_env: PATH",
                    "client_secret_file: /nonexistent/secret",
                ),
                "sources[0].client_secret_file: cannot read secret file /nonexistent/secret",
            ),
            (
                GOOD.replace("https://console.us1.crashplan.com", "ftp://x"),
                "sources[0].url: \"ftp://x\" must use http or https",
            ),
            (
                GOOD.replace("active: \"true\"", "srtKey: archiveBytes"),
                "sources[0].query.srtKey: sorting limits",
            ),
            (
                GOOD.replace("name: crashplan-us", "name: \"bad name\""),
                "sources[0].name:",
            ),
            (
                format!("{GOOD}    labels: {{ org: x }}\n"),
                "sources[0].labels.org: collides",
            ),
            (
                format!("{GOOD}    page_size: 5000\n"),
                "sources[0].page_size: must be between 1 and 1000",
            ),
            (
                "sources: []".to_string(),
                "test.yml: sources: at least one source is required",
            ),
            ("sources: [".to_string(), "test.yml:"),
        ];
        for (yaml, expected) in cases {
            let error = check(&yaml).unwrap_err();
            assert!(
                error.contains(expected),
                "expected {expected:?} in {error:?}"
            );
        }
    }

    #[test]
    fn druva_defaults() {
        let yaml = "sources:\n  - name: druva\n    vendor: druva\n    client_id: id\n    client_secret_env: PATH\n";
        let config = check(yaml).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.url.as_str(), "https://apis.druva.com/");
        let VendorSpec::Druva(spec) = &source.vendor else {
            panic!("druva")
        };
        assert_eq!(spec.reports, crate::druva::DEFAULT_REPORTS);
        assert_eq!(spec.page_size, 500);
        assert_eq!(spec.full_read_interval, Duration::from_secs(6 * 3600));
        assert_eq!(spec.events, DruvaEvents::V2);
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let twice = format!("{GOOD}{}", GOOD.replace("sources:\n", ""));
        let error = check(&twice).unwrap_err();
        assert!(
            error.contains("sources[1].name: duplicate source name \"crashplan-us\""),
            "{error}"
        );
    }

    #[test]
    fn inline_secret_warns_and_legacy_user_auth_parses() {
        let yaml = GOOD.replace(
            "client_id: key-6a1b\n    client_secret_env: PATH",
            "username: admin@example.com\n    password: hunter2",
        );
        let (config, warnings) = parse("t.yml", &yaml).unwrap();
        let VendorSpec::Code42(spec) = &config.sources[0].vendor else {
            panic!("code42")
        };
        assert!(
            matches!(&spec.auth, Code42Auth::User { username, .. } if username == "admin@example.com")
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "sources[0].password");
        assert!(!format!("{config:?}{warnings:?}").contains("hunter2"));
    }
}
