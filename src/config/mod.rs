//! The YAML configuration file: a list of sources, each naming its vendor, with the keys
//! every source has (name, url, intervals, labels, TLS, series limits) and its vendor's own
//! keys. This module reads and checks the common keys; each vendor reads and checks its own
//! (`sources/<vendor>/config.rs`) through the [`Vendors`] the engine's registry implements,
//! so nothing here knows a vendor.
//!
//! Every error names the file, the field (as a path such as `sources[1].refresh_interval`)
//! and what is wrong, because `--config.check` is how users find their mistakes.

mod block;
mod values;

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::de::{DeserializeSeed, Deserializer};

pub(crate) use block::field_names;
pub(crate) use values::FieldError;
pub(crate) use values::{HumanDuration, SecretKeys, err, non_empty, parse_base_url};

use crate::exposition::Detail;
use crate::secret::SecretRef;

/// A validated configuration of sources of the vendors `V`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config<V> {
    pub(crate) sources: Vec<SourceSpec<V>>,
}

/// One configured upstream tenant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourceSpec<V> {
    /// The `source` label of every series of this source.
    pub name: String,
    pub(crate) url: Url,
    pub(crate) refresh_interval: Duration,
    /// Limit for one whole refresh.
    pub(crate) timeout: Duration,
    /// Extra labels added to every series of this source, sorted by name.
    pub labels: Vec<(String, String)>,
    /// How the vendor's certificate is checked and how large a response may be.
    pub(crate) http: HttpSpec,
    /// Which series the source exposes.
    pub(crate) series: SeriesSpec,
    /// The vendor and its own settings.
    pub(crate) vendor: V,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesSpec {
    pub(crate) detail: Detail,
    /// In `alerting` mode, items older than this keep their series.
    pub(crate) alerting_age: Duration,
    /// At most this many series for the source; the stalest items are kept.
    pub(crate) max_series: Option<usize>,
    /// Key of the hash that replaces user names, e-mails and device names in labels.
    pub(crate) hash_key: Option<SecretRef>,
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
pub(crate) const DEFAULT_ALERTING_AGE: Duration = Duration::from_secs(3 * 86_400);

/// Connection settings towards the vendor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpSpec {
    /// Extra trusted CA certificates (PEM), beside the system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// Accept any certificate: explicit, and logged as a warning.
    pub(crate) insecure_skip_verify: bool,
    /// A response body larger than this fails the refresh.
    pub(crate) max_response_bytes: u64,
    /// One refresh reads at most this many report pages...
    pub(crate) max_pages: u32,
    /// ...rows...
    pub(crate) max_rows: u64,
    /// ...and bytes of report pages: past any, the refresh fails and the last good data
    /// stays.
    pub(crate) max_read_bytes: u64,
    /// Requests to the vendor in flight at once, at most.
    pub(crate) max_in_flight: usize,
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            ca_file: None,
            insecure_skip_verify: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            max_rows: DEFAULT_MAX_ROWS,
            max_read_bytes: DEFAULT_MAX_READ_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// A vendor answers a report page in 0.3–2 s: four at once read a large estate about four
/// times faster than one, and stay far from any rate limit.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// What one refresh may read. 100,000 Code42 devices are 134 pages, 130,000 rows and
/// 128 MiB; a full Druva read of 50,000 users 550 pages, 275,000 rows and 125 MiB. A vendor
/// that serves pages without end is stopped by the first limit it passes, before the rows
/// it sent take more than about 170 MB (a row held while the refresh reads takes about
/// 400 bytes): `docs/security.md` has the figures.
pub(crate) const DEFAULT_MAX_PAGES: u32 = 2_000;
pub(crate) const DEFAULT_MAX_ROWS: u64 = 400_000;
pub(crate) const DEFAULT_MAX_READ_BYTES: u64 = 256 * 1024 * 1024;

/// A Code42 page of 1,000 rows is about 1.3 MB; a Druva page of 500 rows less.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
pub(crate) const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Label names of the exporter's own series; a source's `labels` may not reuse them, nor
/// any label a vendor's series set ([`VendorKeys::labels`]).
const OWN_LABELS: &[&str] = &[
    "source", "vendor", "endpoint", "code", "reason", "version", "revision", "job", "instance",
];

/// What the configuration needs to know of one vendor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VendorKeys {
    /// The value of `vendor:`.
    pub name: &'static str,
    /// The keys of its block ([`field_names`] of its `Deserialize` type).
    pub(crate) fields: &'static [&'static str],
    /// Its API's address when `url` is left out; `None` makes `url` required.
    pub(crate) default_url: Option<&'static str>,
    /// Label names its series set.
    pub labels: &'static [&'static str],
}

/// The vendors a configuration may name, and those the registry knows that this build left
/// out (so naming one is a clear error, not an unknown word).
pub(crate) struct Catalogue {
    pub(crate) vendors: Vec<VendorKeys>,
    pub(crate) left_out: Vec<&'static str>,
}

/// The vendors a configuration may name; the engine's registry implements it.
pub(crate) trait Vendors: Sized {
    /// One vendor's block, as read.
    type Block;

    /// Every vendor, in the order errors list them.
    fn catalogue() -> &'static Catalogue;

    /// Reads the block of vendor `index` of the catalogue from `block`, a map of the
    /// entry's keys that belong to that vendor.
    fn read<'de, D: Deserializer<'de>>(index: usize, block: D) -> Result<Self::Block, D::Error>;

    /// Checks a block: the vendor's settings, and the detail of series it asks for, if any.
    fn validate(
        block: Self::Block,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(Self, Option<Detail>), FieldError>;
}

/// A configuration problem, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub(crate) file: String,
    /// Path of the offending field, e.g. `sources[0].url`; empty for whole-file problems.
    pub field: String,
    pub(crate) message: String,
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
    pub(crate) message: String,
}

/// Reads and validates a configuration file.
pub(crate) fn load<V: Vendors>(
    path: &Path,
) -> Result<(Config<V>, Vec<ConfigWarning>), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        field: String::new(),
        message: format!("cannot read file: {e}"),
    })?;
    parse(&file, &text)
}

/// Parses and validates configuration text; `file` is used in messages only.
pub(crate) fn parse<V: Vendors>(
    file: &str,
    text: &str,
) -> Result<(Config<V>, Vec<ConfigWarning>), ConfigError> {
    // yaml_serde's messages already carry the field path and the line, e.g.
    // "sources[0].timeout: a duration needs a unit ... at line 8 column 14".
    let whole_file = |e: yaml_serde::Error| ConfigError {
        file: file.to_string(),
        field: String::new(),
        message: e.to_string(),
    };
    let catalogue = V::catalogue();
    let vendors: Vec<Option<usize>> = block::vendors_of(text)
        .map_err(whole_file)?
        .into_iter()
        .map(|name| {
            catalogue
                .vendors
                .iter()
                .position(|v| Some(v.name) == name.as_deref())
        })
        .collect();
    let raw = block::ConfigSeed::<V> {
        vendors: &vendors,
        catalogue,
        marker: PhantomData,
    }
    .deserialize(yaml_serde::Deserializer::from_str(text))
    .map_err(whole_file)?;
    let mut warnings = Vec::new();
    let config = validate(raw, catalogue, &mut warnings).map_err(|e| ConfigError {
        file: file.to_string(),
        field: e.field,
        message: e.message,
    })?;
    Ok((config, warnings))
}

fn validate<V: Vendors>(
    raw: Vec<block::RawSource<V::Block>>,
    catalogue: &Catalogue,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Config<V>, FieldError> {
    if raw.is_empty() {
        return err("sources", "at least one source is required");
    }
    let mut reserved: Vec<&str> = OWN_LABELS.to_vec();
    reserved.extend(
        catalogue
            .vendors
            .iter()
            .flat_map(|v| v.labels.iter().copied()),
    );
    let mut names = BTreeSet::new();
    let mut sources = Vec::with_capacity(raw.len());
    for (index, source) in raw.into_iter().enumerate() {
        let at = format!("sources[{index}]");
        let name = source.common.name.clone().unwrap_or_default();
        if !names.insert(name.clone()) {
            return err(
                format!("{at}.name"),
                format!("duplicate source name {name:?}"),
            );
        }
        sources.push(validate_source(
            source, &at, catalogue, &reserved, warnings,
        )?);
    }
    Ok(Config { sources })
}

fn validate_source<V: Vendors>(
    raw: block::RawSource<V::Block>,
    at: &str,
    catalogue: &Catalogue,
    reserved: &[&str],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<SourceSpec<V>, FieldError> {
    let common = &raw.common;
    let name = common.name.clone().unwrap_or_default();
    values::validate_source_name(&name).or_else(|e| err(format!("{at}.name"), e.to_string()))?;
    let refresh_interval = common
        .refresh_interval
        .map_or(DEFAULT_REFRESH_INTERVAL, |d| d.0);
    if refresh_interval < Duration::from_secs(1) {
        return err(format!("{at}.refresh_interval"), "must be at least 1s");
    }
    let timeout = common.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() {
        return err(format!("{at}.timeout"), "must be greater than zero");
    }
    let labels = values::validate_labels(&common.labels, reserved)
        .or_else(|(l, m)| err(format!("{at}.labels.{l}"), m))?;
    let http = http(common, at, warnings)?;
    let hash_key = hash_key(common, at, warnings)?;
    let vendor_name = common.vendor.as_deref().unwrap_or_default();
    if let Some(key) = &raw.misplaced {
        return err(
            format!("{at}.{key}"),
            format!("is not a setting of vendor {vendor_name}"),
        );
    }
    let default_url = catalogue
        .vendors
        .iter()
        .find(|v| v.name == vendor_name)
        .and_then(|v| v.default_url);
    let url = match (&common.url, default_url) {
        (Some(url), _) => url.as_str(),
        (None, Some(default)) => default,
        (None, None) => {
            return err(
                format!("{at}.url"),
                format!("is required for vendor {vendor_name}"),
            );
        }
    };
    let url = parse_base_url(url).or_else(|e| err(format!("{at}.url"), e.to_string()))?;
    if common.max_series == Some(0) {
        return err(
            format!("{at}.max_series"),
            "must be at least 1 (leave it out for no limit)",
        );
    }
    let (alerting_age, max_series) = (common.alerting_age, common.max_series);
    let (vendor, detail) = V::validate(raw.block, at, warnings)?;
    Ok(SourceSpec {
        name,
        url,
        refresh_interval,
        timeout,
        labels,
        http,
        series: SeriesSpec {
            detail: detail.unwrap_or(Detail::All),
            alerting_age: alerting_age.map_or(DEFAULT_ALERTING_AGE, |d| d.0),
            max_series,
            hash_key,
        },
        vendor,
    })
}

fn hash_key(
    common: &block::Common,
    at: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SecretRef>, FieldError> {
    let key = SecretKeys {
        inline: common.hash_key.clone(),
        file: common.hash_key_file.clone(),
        env: common.hash_key_env.clone(),
    }
    .resolve(at, "hash_key", warnings)?;
    match (common.hash_identities, key) {
        (true, None) => err(
            format!("{at}.hash_identities"),
            "needs a key: set hash_key_file or hash_key_env (the same key gives the same labels)",
        ),
        (false, Some(_)) => err(
            format!("{at}.hash_key"),
            "is only used with hash_identities: true",
        ),
        (_, key) => Ok(key),
    }
}

fn http(
    common: &block::Common,
    at: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<HttpSpec, FieldError> {
    let max_response_bytes = common
        .max_response_bytes
        .map_or(DEFAULT_MAX_RESPONSE_BYTES, |b| b.0);
    if max_response_bytes < 1024 {
        return err(format!("{at}.max_response_bytes"), "must be at least 1KiB");
    }
    let tls = common.tls.as_ref();
    let ca_file = tls.and_then(|t| t.ca_file.clone());
    if let Some(path) = &ca_file {
        let pem = std::fs::read(path).map_err(|e| FieldError {
            field: format!("{at}.tls.ca_file"),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        if reqwest::Certificate::from_pem_bundle(&pem).map_or(true, |certs| certs.is_empty()) {
            return err(
                format!("{at}.tls.ca_file"),
                format!("{} holds no PEM certificate", path.display()),
            );
        }
    }
    let insecure_skip_verify = tls.is_some_and(|t| t.insecure_skip_verify);
    if insecure_skip_verify {
        warnings.push(ConfigWarning {
            field: format!("{at}.tls.insecure_skip_verify"),
            message: "the vendor's TLS certificate is not verified; anyone on the path can read the credentials".into(),
        });
    }
    let max_pages = common.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    let max_rows = common.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_pages == 0 {
        return err(format!("{at}.max_pages"), "must be at least 1");
    }
    if max_rows == 0 {
        return err(format!("{at}.max_rows"), "must be at least 1");
    }
    // At least one page of the largest size a response may have.
    let max_read_bytes = match common.max_read_bytes {
        Some(bytes) if bytes.0 < max_response_bytes => {
            return err(
                format!("{at}.max_read_bytes"),
                "must be at least max_response_bytes (one page may be that large)",
            );
        }
        Some(bytes) => bytes.0,
        None => DEFAULT_MAX_READ_BYTES.max(max_response_bytes),
    };
    let max_in_flight = common.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if !(1..=64).contains(&max_in_flight) {
        return err(format!("{at}.max_in_flight"), "must be between 1 and 64");
    }
    Ok(HttpSpec {
        ca_file,
        insecure_skip_verify,
        max_response_bytes,
        max_pages,
        max_rows,
        max_read_bytes,
        max_in_flight,
    })
}
