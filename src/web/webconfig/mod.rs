//! `--web.config.file`: the web configuration format every Prometheus component accepts
//! (exporter-toolkit): TLS with optional client certificates, basic auth with bcrypt
//! hashes, and extra response headers. The file and the files it names are read again
//! when their content changes and has settled; a change that does not load (an empty file
//! included) keeps the previous configuration: it fails closed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod tls;

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use tracing::{error, info, warn};

use super::basic_auth::{BasicAuth, Verdict};
use crate::server::Client;
use tls::{RawTls, Tls, TlsError, tls};

/// Response headers the toolkit lets users set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

impl RawWebConfig {
    /// Sets nothing at all: `{}`, or sections without a setting (`http_server_config: {}`).
    fn is_empty(&self) -> bool {
        self.tls_server_config.is_none()
            && self
                .basic_auth_users
                .as_ref()
                .is_none_or(BTreeMap::is_empty)
            && self
                .http_server_config
                .as_ref()
                .is_none_or(|http| http.http2.is_none() && http.headers.is_empty())
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The protections a web configuration puts in force: what a reload may change but never
/// take away. Turning one off is a decision for a restart, not for whatever a config tool
/// happens to write into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Protections {
    tls: bool,
    client_certificates: bool,
    basic_auth: bool,
}

impl Protections {
    /// The protections of `self` that `next` would turn off, in words.
    fn dropped_by(self, next: Protections) -> Vec<&'static str> {
        [
            (self.tls && !next.tls, "TLS"),
            (
                self.client_certificates && !next.client_certificates,
                "required client certificates",
            ),
            (self.basic_auth && !next.basic_auth, "basic auth"),
        ]
        .into_iter()
        .filter_map(|(dropped, what)| dropped.then_some(what))
        .collect()
    }
}

/// A loaded web configuration.
#[derive(Default)]
pub(crate) struct WebConfig {
    pub(crate) tls: Option<Tls>,
    /// user → bcrypt hash.
    users: BTreeMap<String, String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Files whose change means reloading.
    files: Vec<PathBuf>,
}

/// A web configuration that cannot be used, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the file sets nothing (it is empty, or holds only comments, `---`, `{{}}` or `null`), which would turn TLS and basic auth off; to serve plain HTTP without authentication, start without --web.config.file", path.display())]
    SetsNothing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Yaml {
        path: PathBuf,
        source: yaml_serde::Error,
    },
    #[error("{}: {source}", path.display())]
    Tls { path: PathBuf, source: TlsError },
    #[error("{}: basic_auth_users.{user}: not a bcrypt hash (create one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)", path.display())]
    NotBcrypt { path: PathBuf, user: String },
    #[error("{}: http_server_config.headers: {name:?} cannot be set (allowed: {})", path.display(), ALLOWED_HEADERS.join(", "))]
    HeaderNotAllowed { path: PathBuf, name: String },
    #[error("{}: {name}: {source}", path.display())]
    HeaderName {
        path: PathBuf,
        name: String,
        source: http::header::InvalidHeaderName,
    },
    #[error("{}: {name}: {source}", path.display())]
    HeaderValue {
        path: PathBuf,
        name: String,
        source: http::header::InvalidHeaderValue,
    },
    #[error("bcrypt: {0}")]
    Bcrypt(bcrypt::BcryptError),
}

impl WebConfig {
    /// Reads and validates a web configuration file.
    pub(crate) fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let at = || path.to_path_buf();
        let text = std::fs::read_to_string(path)
            .map_err(|source| WebConfigError::Read { path: at(), source })?;
        WebConfig::parse(&text, path)
    }

    /// Validates the text of the web configuration file at `path` (certificate and key
    /// files it names are read relative to the working directory, as Prometheus does).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let at = || path.to_path_buf();
        // A file that sets nothing would turn TLS and basic auth off: an empty one, one
        // caught mid-rewrite, or a template that rendered only comments, `---` or `{}`.
        let nothing = || WebConfigError::SetsNothing { path: at() };
        if text.trim().is_empty() {
            return Err(nothing());
        }
        let raw: Option<RawWebConfig> = yaml_serde::from_str(text)
            .map_err(|source| WebConfigError::Yaml { path: at(), source })?;
        let raw = raw.filter(|raw| !raw.is_empty()).ok_or_else(nothing)?;
        let mut files = vec![path.to_path_buf()];
        let http = raw.http_server_config.unwrap_or_default();
        let tls = match &raw.tls_server_config {
            Some(t) => Some(
                tls(t, http.http2.unwrap_or(true), &mut files)
                    .map_err(|source| WebConfigError::Tls { path: at(), source })?,
            ),
            None => None,
        };
        let mut users = BTreeMap::new();
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(WebConfigError::NotBcrypt { path: at(), user });
            }
            users.insert(user, hash);
        }
        let mut headers = Vec::new();
        for (name, value) in http.headers {
            if !ALLOWED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name))
            {
                return Err(WebConfigError::HeaderNotAllowed { path: at(), name });
            }
            let header = (
                HeaderName::from_bytes(name.as_bytes()).map_err(|source| {
                    WebConfigError::HeaderName {
                        path: at(),
                        name: name.clone(),
                        source,
                    }
                })?,
                HeaderValue::from_str(&value).map_err(|source| WebConfigError::HeaderValue {
                    path: at(),
                    name: name.clone(),
                    source,
                })?,
            );
            headers.push(header);
        }
        Ok(WebConfig {
            tls,
            users,
            headers,
            files,
        })
    }

    pub(crate) fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// The protections in force under `self` that `next` would turn off, in words: a
    /// reload to `next` is refused unless there are none.
    pub(crate) fn dropped_by(&self, next: &WebConfig) -> Vec<&'static str> {
        self.protections().dropped_by(next.protections())
    }

    fn protections(&self) -> Protections {
        Protections {
            tls: self.tls.is_some(),
            client_certificates: self
                .tls
                .as_ref()
                .is_some_and(|tls| tls.client_certificate_required),
            basic_auth: self.requires_auth(),
        }
    }
}

/// A changed file is read only once its content has stayed the same this long, so a file
/// rewritten in place (truncated, then written) is never taken half-written.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(250);

/// What each file holds, in a few bytes: its length and CRC-32 (`None`: unreadable).
type Stamp = Vec<Option<(usize, u32)>>;

/// What the files held when the configuration was loaded, and a change still settling.
struct Stamps {
    applied: Stamp,
    pending: Option<(Stamp, std::time::Instant)>,
}

/// The current web configuration, reloaded when its files change.
pub(crate) struct WebConfigWatch {
    current: ArcSwap<WebConfig>,
    stamps: Mutex<Stamps>,
    /// `backup_exporter_web_config_last_reload_successful`.
    pub(crate) reload_successful: prometheus_client::metrics::gauge::Gauge,
    auth: BasicAuth,
}

/// What the files hold, in a few bytes each: their length and CRC-32. A change is seen
/// by its content, not by a modification time that a rewrite within the same second keeps.
fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            std::fs::read(f)
                .ok()
                .map(|bytes| (bytes.len(), crc32fast::hash(&bytes)))
        })
        .collect()
}

impl WebConfigWatch {
    pub(crate) fn load(path: &Path) -> Result<WebConfigWatch, WebConfigError> {
        let config = WebConfig::load(path)?;
        info!(
            file = %path.display(),
            tls = config.tls.is_some(),
            basic_auth = config.requires_auth(),
            "web configuration loaded"
        );
        if !config.protections().tls && !config.protections().basic_auth {
            warn!(file = %path.display(), "the web configuration turns neither TLS nor basic auth on: anyone who reaches the port can read /metrics");
        }
        let reload_successful = prometheus_client::metrics::gauge::Gauge::default();
        reload_successful.set(1);
        // The cost of the configured hashes (10 when there are none).
        let cost = config
            .users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|h| h.get_cost())
            .max()
            .unwrap_or(10);
        Ok(WebConfigWatch {
            stamps: Mutex::new(Stamps {
                applied: stamp(&config.files),
                pending: None,
            }),
            current: ArcSwap::from_pointee(config),
            reload_successful,
            auth: BasicAuth::new(cost).map_err(WebConfigError::Bcrypt)?,
        })
    }

    /// The configuration, re-read first if one of its files changed and has settled.
    pub(crate) fn get(&self) -> Arc<WebConfig> {
        let current = self.current.load_full();
        let now = stamp(&current.files);
        let mut stamps = self.stamps.lock().expect("stamp lock");
        if now == stamps.applied {
            stamps.pending = None;
            return current;
        }
        match &stamps.pending {
            Some((pending, since)) if *pending == now && since.elapsed() >= SETTLE => {}
            Some((pending, _)) if *pending == now => return current,
            _ => {
                stamps.pending = Some((now, std::time::Instant::now()));
                return current;
            }
        }
        stamps.pending = None;
        stamps.applied = now;
        let path = &current.files[0];
        match WebConfig::load(path) {
            Err(e) => {
                self.reload_successful.set(0);
                error!(error = %e, "web configuration changed but does not load; keeping the previous one");
            }
            Ok(config) => {
                let dropped = current.dropped_by(&config);
                if dropped.is_empty() {
                    info!(file = %path.display(), "web configuration changed; reloaded");
                    stamps.applied = stamp(&config.files);
                    self.reload_successful.set(1);
                    self.current.store(Arc::new(config));
                } else {
                    self.reload_successful.set(0);
                    error!(
                        file = %path.display(),
                        would_turn_off = dropped.join(", "),
                        "web configuration changed but would turn protection off; refused, keeping the previous one (a reload may change users, passwords, certificates and headers but never turn TLS, required client certificates or basic auth off: to do that on purpose, restart the exporter with the new file)"
                    );
                }
            }
        }
        self.current.load_full()
    }

    /// Checks an `Authorization` header sent by `client` against `basic_auth_users`.
    pub(crate) async fn authorize(
        &self,
        config: &WebConfig,
        header: Option<&str>,
        client: Client,
    ) -> Verdict {
        if !config.requires_auth() {
            return Verdict::Allowed;
        }
        self.auth.check(&config.users, header, client).await
    }
}
