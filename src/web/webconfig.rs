//! `--web.config.file`: the web configuration format every Prometheus component accepts
//! (exporter-toolkit): TLS with optional client certificates, basic auth with bcrypt
//! hashes, and extra response headers. The file and the files it names are read again
//! when their content changes and has settled; a change that does not load (an empty file
//! included) keeps the previous configuration: it fails closed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use serde::Deserialize;
use tracing::{error, info, warn};

use super::basic_auth::{BasicAuth, Verdict};
use crate::server::Client;

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
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// TLS as it applies to new connections.
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    /// When set, a client certificate must be valid for one of these names.
    pub(crate) allowed_sans: Vec<String>,
    /// Every client must present a certificate (`RequireAnyClientCert`,
    /// `RequireAndVerifyClientCert`).
    client_certificate_required: bool,
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

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// PEM from a file or inline text.
fn pem(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    what: &str,
    files: &mut Vec<PathBuf>,
) -> Result<Option<Vec<u8>>, String> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(format!("set only one of {what}_file and {what}")),
        (Some(path), None) => {
            files.push(path.clone());
            read(path, what).map(Some)
        }
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn version(name: &str, field: &str) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match name {
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS12" => Ok(&rustls::version::TLS12),
        // Raising a floor is safe; TLS 1.0 and 1.1 are not offered by this server.
        "TLS10" | "TLS11" if field == "min_version" => {
            warn!(
                "tls_server_config.min_version {name}: TLS 1.0 and 1.1 are not supported; TLS 1.2 is the minimum"
            );
            Ok(&rustls::version::TLS12)
        }
        _ => Err(format!(
            "tls_server_config.{field}: {name:?} is not one of TLS12, TLS13"
        )),
    }
}

/// Accepts any client certificate (client_auth_type RequestClientCert and
/// RequireAnyClientCert): the certificate's signature is still checked, its chain is not.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn tls(raw: &RawTls, http2: bool, files: &mut Vec<PathBuf>) -> Result<Tls, String> {
    let cert = pem(&raw.cert_file, &raw.cert, "cert", files)?
        .ok_or("tls_server_config: cert_file is required")?;
    let key = pem(&raw.key_file, &raw.key, "key", files)?
        .ok_or("tls_server_config: key_file is required")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config: cert: {e}"))?;
    if chain.is_empty() {
        return Err("tls_server_config: cert: no certificate found".into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("tls_server_config: key: {e}"))?;
    let provider = Arc::new(crypto_provider(raw)?);
    let versions = protocol_versions(raw)?;
    let client_ca = pem(&raw.client_ca_file, &raw.client_ca, "client_ca", files)?;
    let verifier = client_verifier(raw, client_ca.as_deref(), &provider)?;
    let _ = raw.prefer_server_cipher_suites; // The server's order is always preferred.
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls_server_config: cert and key: {e}"))?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Tls {
        config: Arc::new(config),
        allowed_sans: raw.client_allowed_sans.clone(),
        client_certificate_required: matches!(
            raw.client_auth_type.as_deref(),
            Some("RequireAnyClientCert" | "RequireAndVerifyClientCert")
        ),
    })
}

/// ring's provider, narrowed to the configured cipher suites and curves.
fn crypto_provider(raw: &RawTls) -> Result<CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !raw.cipher_suites.is_empty() {
        // TLS 1.3 suites are not configurable in exporter-toolkit either.
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for name in &raw.cipher_suites {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| s.suite().as_str() == Some(name.as_str()))
                .ok_or_else(|| {
                    format!("tls_server_config.cipher_suites: {name:?} is not supported")
                })?;
            suites.push(*suite);
        }
        provider.cipher_suites = suites;
    }
    if !raw.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &raw.curve_preferences {
            let wanted = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                _ => {
                    return Err(format!(
                        "tls_server_config.curve_preferences: {name:?} is not supported (X25519, CurveP256, CurveP384)"
                    ));
                }
            };
            groups.extend(
                provider
                    .kx_groups
                    .iter()
                    .filter(|g| g.name() == wanted)
                    .copied(),
            );
        }
        provider.kx_groups = groups;
    }
    Ok(provider)
}

/// TLS 1.2 and 1.3, within `min_version` and `max_version`.
fn protocol_versions(
    raw: &RawTls,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let min = version(raw.min_version.as_deref().unwrap_or("TLS12"), "min_version")?;
    let max = version(raw.max_version.as_deref().unwrap_or("TLS13"), "max_version")?;
    let versions: Vec<_> = [&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| {
            !(v.version == rustls::ProtocolVersion::TLSv1_2
                && min.version == rustls::ProtocolVersion::TLSv1_3)
        })
        .filter(|v| {
            !(v.version == rustls::ProtocolVersion::TLSv1_3
                && max.version == rustls::ProtocolVersion::TLSv1_2)
        })
        .collect();
    if versions.is_empty() {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    Ok(versions)
}

/// How client certificates are asked for and checked (`client_auth_type`).
fn client_verifier(
    raw: &RawTls,
    client_ca: Option<&[u8]>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = || -> Result<Arc<RootCertStore>, String> {
        let pem =
            client_ca.ok_or("tls_server_config: this client_auth_type needs client_ca_file")?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|e| format!("tls_server_config: client_ca: {e}"))?)
                .map_err(|e| format!("tls_server_config: client_ca: {e}"))?;
        }
        Ok(Arc::new(roots))
    };
    let verified = |allow_unauthenticated: bool| {
        let builder = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
        let builder = if allow_unauthenticated {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| format!("tls_server_config: {e}"))
    };
    match raw.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => Ok(WebPkiClientVerifier::no_client_auth()),
        "RequestClientCert" => Ok(Arc::new(AnyClientCert {
            provider: provider.clone(),
            mandatory: false,
        })),
        "RequireAnyClientCert" => Ok(Arc::new(AnyClientCert {
            provider: provider.clone(),
            mandatory: true,
        })),
        "VerifyClientCertIfGiven" => verified(true),
        "RequireAndVerifyClientCert" => verified(false),
        other => Err(format!(
            "tls_server_config.client_auth_type: {other:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        )),
    }
}

/// A web configuration that cannot be used, with the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WebConfigError(String);

impl From<String> for WebConfigError {
    fn from(message: String) -> Self {
        WebConfigError(message)
    }
}

impl WebConfig {
    /// Reads and validates a web configuration file.
    pub(crate) fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // A file that sets nothing would turn TLS and basic auth off: an empty one, one
        // caught mid-rewrite, or a template that rendered only comments, `---` or `{}`.
        let nothing = || {
            format!(
                "{}: the file sets nothing (it is empty, or holds only comments, `---`, `{{}}` or `null`), which would turn TLS and basic auth off; to serve plain HTTP without authentication, start without --web.config.file",
                path.display()
            )
        };
        if text.trim().is_empty() {
            return Err(nothing().into());
        }
        let raw: Option<RawWebConfig> =
            yaml_serde::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let raw = raw.filter(|raw| !raw.is_empty()).ok_or_else(nothing)?;
        let mut files = vec![path.to_path_buf()];
        let http = raw.http_server_config.unwrap_or_default();
        let tls = match &raw.tls_server_config {
            Some(t) => Some(
                tls(t, http.http2.unwrap_or(true), &mut files)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            ),
            None => None,
        };
        let mut users = BTreeMap::new();
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            hash.parse::<bcrypt::HashParts>().map_err(|_| {
                format!("{}: basic_auth_users.{user}: not a bcrypt hash (create one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)", path.display())
            })?;
            users.insert(user, hash);
        }
        let mut headers = Vec::new();
        for (name, value) in http.headers {
            if !ALLOWED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name))
            {
                return Err(format!(
                    "{}: http_server_config.headers: {name:?} cannot be set (allowed: {})",
                    path.display(),
                    ALLOWED_HEADERS.join(", ")
                )
                .into());
            }
            let header = (
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| format!("{}: {name}: {e}", path.display()))?,
                HeaderValue::from_str(&value)
                    .map_err(|e| format!("{}: {name}: {e}", path.display()))?,
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
            auth: BasicAuth::new(cost).map_err(|e| format!("bcrypt: {e}"))?,
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
                let dropped = current.protections().dropped_by(config.protections());
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
