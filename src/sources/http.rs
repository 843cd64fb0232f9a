//! HTTP requests to a vendor API: one client per source, every request counted by endpoint
//! and status code, bodies read with a size limit, failures described without secrets.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Url};
use serde::{Deserialize, Serialize};

use tracing::{info, warn};

use super::RefreshError;
use super::limiter::Limiter;
use crate::config::HttpSpec;
use crate::secret::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Counters of upstream requests, read by `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct RequestStats {
    /// (endpoint, status code or "error") → requests.
    requests: Mutex<BTreeMap<(String, String), u64>>,
    response_bytes: AtomicU64,
}

/// The counters' values, as persisted across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RequestCounts {
    /// (endpoint, code, requests).
    pub(crate) requests: Vec<(String, String, u64)>,
    pub(crate) response_bytes: u64,
}

/// What one refresh cost upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RefreshCost {
    pub(crate) requests: u64,
    pub(crate) response_bytes: u64,
    /// Successful data responses (report and event pages; not token requests).
    pub(crate) pages: u64,
}

impl RequestCounts {
    /// The requests made since `before` was taken.
    pub(crate) fn cost_since(&self, before: &RequestCounts) -> RefreshCost {
        let total = |counts: &RequestCounts, pages_only: bool| -> u64 {
            counts
                .requests
                .iter()
                .filter(|(endpoint, code, _)| {
                    !pages_only || (endpoint != "token" && code.starts_with('2'))
                })
                .map(|(_, _, n)| n)
                .sum()
        };
        RefreshCost {
            requests: total(self, false) - total(before, false),
            response_bytes: self.response_bytes - before.response_bytes,
            pages: total(self, true) - total(before, true),
        }
    }
}

impl RequestStats {
    fn count(&self, endpoint: &str, code: String) {
        *self
            .requests
            .lock()
            .expect("stats lock")
            .entry((endpoint.to_string(), code))
            .or_default() += 1;
    }

    pub(crate) fn counts(&self) -> RequestCounts {
        RequestCounts {
            requests: self
                .requests
                .lock()
                .expect("stats lock")
                .iter()
                .map(|((endpoint, code), n)| (endpoint.clone(), code.clone(), *n))
                .collect(),
            response_bytes: self.response_bytes.load(Ordering::Relaxed),
        }
    }

    /// Continues from persisted values.
    pub(crate) fn restore(&self, counts: &RequestCounts) {
        let mut requests = self.requests.lock().expect("stats lock");
        for (endpoint, code, n) in &counts.requests {
            *requests
                .entry((endpoint.clone(), code.clone()))
                .or_default() += n;
        }
        self.response_bytes
            .fetch_add(counts.response_bytes, Ordering::Relaxed);
    }
}

/// A response read completely.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// How the vendor that sent it writes its errors.
    pub(crate) errors: ErrorReading,
}

/// How a vendor writes its error responses (`Vendor::error_message`,
/// `Vendor::error_retryable`): each vendor's client builds its upstream with its own.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorReading {
    pub(crate) message: fn(&[u8]) -> Option<String>,
    pub(crate) retryable: fn(&[u8]) -> bool,
}

impl ErrorReading {
    /// The reading of vendor `V`.
    pub(crate) fn of<V: super::Vendor>() -> ErrorReading {
        ErrorReading {
            message: V::error_message,
            retryable: V::error_retryable,
        }
    }
}

impl Response {
    /// The body asks to be retried, in the vendor's terms.
    pub(crate) fn is_retryable(&self) -> bool {
        (self.errors.retryable)(&self.body)
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` as a delay: seconds or an HTTP date.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let value = self
            .headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let delta = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
        Some(Duration::from_millis(delta.max(0) as u64))
    }
}

/// The innermost cause of a reqwest error, which carries the useful part
/// ("connection refused", "unexpected EOF").
pub(crate) fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// TLS needs a process-wide crypto provider; the first client installs ring's.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Which trusted roots the HTTP clients use.
#[derive(Clone, Copy)]
enum Roots {
    /// The system's CA bundle (plus `tls.ca_file`).
    System,
    /// The Mozilla roots compiled in (webpki-root-certs), when the system has none.
    Compiled,
}

/// The roots to use, decided (and said) once per process: the system's CA bundle when it
/// has certificates, else the compiled-in ones.
fn roots() -> Roots {
    static ROOTS: std::sync::OnceLock<Roots> = std::sync::OnceLock::new();
    *ROOTS.get_or_init(|| {
        let system = rustls_native_certs::load_native_certs();
        if system.certs.is_empty() {
            let reason = system.errors.first().map(ToString::to_string);
            warn!(
                reason = reason.as_deref().unwrap_or("the bundle holds no certificate"),
                roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len(),
                "no system CA bundle could be loaded; vendor certificates are verified against the Mozilla roots compiled in (and tls.ca_file)"
            );
            Roots::Compiled
        } else {
            info!(
                certificates = system.certs.len(),
                "vendor certificates are verified against the system's CA bundle (and tls.ca_file)"
            );
            Roots::System
        }
    })
}

/// A 429 whose `Retry-After` is at most this is waited out within the refresh (the whole
/// source pauses) and the request sent again; a longer one fails the refresh, and the next
/// refresh waits for it.
const RETRY_WITHIN: Duration = Duration::from_secs(30);
/// At most this many 429s for one request within a refresh.
const RATE_LIMIT_RETRIES: u32 = 5;

/// A vendor API reached through one base URL.
pub(crate) struct Upstream {
    http: reqwest::Client,
    base: Url,
    stats: std::sync::Arc<RequestStats>,
    max_body: usize,
    /// Shared by every request of the source (`max_in_flight`).
    limiter: std::sync::Arc<Limiter>,
    errors: ErrorReading,
}

impl Upstream {
    /// The upstream of a vendor at `base`, whose error responses read as `errors` say.
    pub(crate) fn new(
        base: Url,
        settings: &HttpSpec,
        stats: std::sync::Arc<RequestStats>,
        limiter: std::sync::Arc<Limiter>,
        errors: ErrorReading,
    ) -> Result<Upstream, RefreshError> {
        install_crypto_provider();
        let extra = match &settings.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    RefreshError::Client(format!("cannot read {}: {e}", path.display()))
                })?;
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    RefreshError::Client(format!("{}: {}", path.display(), root_cause(&e)))
                })?
            }
            None => Vec::new(),
        };
        if settings.insecure_skip_verify {
            warn!(url = %base, "TLS verification of the vendor is off (tls.insecure_skip_verify)");
        }
        let builder = |roots: Roots| {
            let mut builder = reqwest::Client::builder()
                .user_agent(concat!("backup-exporter/", env!("CARGO_PKG_VERSION")))
                // Follow nothing: the exporter only fetches URLs built from its configuration.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .danger_accept_invalid_certs(settings.insecure_skip_verify);
            builder = match roots {
                Roots::System => builder.tls_certs_merge(extra.clone()),
                Roots::Compiled => builder.tls_certs_only(
                    webpki_root_certs::TLS_SERVER_ROOT_CERTS
                        .iter()
                        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
                        .chain(extra.iter().cloned()),
                ),
            };
            builder.build()
        };
        // Without a usable system CA bundle (a minimal image, SSL_CERT_FILE pointing at an
        // empty file), the Mozilla roots compiled in take its place; `tls.ca_file` adds to
        // either, and plain http:// needs none.
        let http = builder(roots()).map_err(|e| {
            RefreshError::Client(format!("cannot build HTTP client: {}", root_cause(&e)))
        })?;
        Ok(Upstream {
            http,
            base,
            stats,
            max_body: settings.max_response_bytes as usize,
            limiter,
            errors,
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The configured base URL with `path` appended to its path.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// Sends a request and reads its whole body, counting it under `endpoint`.
    pub(crate) async fn execute(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, RefreshError> {
        let answer = self.execute_with(endpoint, request, &()).await?;
        Ok(answer.expect("a request without a credential is always sent"))
    }

    /// As [`Upstream::execute`] for a request carrying `credential`: once it has a slot it
    /// is sent only if the credential is still usable (otherwise the slot is given back and
    /// the answer is `None`), and the credential hears each answer's status before the slot
    /// is given back.
    pub(crate) async fn execute_with(
        &self,
        endpoint: &'static str,
        mut request: RequestBuilder,
        credential: &impl Credential,
    ) -> Result<Option<Response>, RefreshError> {
        let mut attempt = 0;
        loop {
            let again = request.try_clone();
            let response = {
                let _slot = self.limiter.slot().await;
                if !credential.usable() {
                    return Ok(None);
                }
                let response = self.send(endpoint, request).await?;
                credential.answered(response.status);
                response
            };
            if response.status != 429 {
                self.limiter.calm();
                return Ok(Some(response));
            }
            let retry_after = response.retry_after();
            let retry = again.filter(|_| {
                attempt < RATE_LIMIT_RETRIES && retry_after.is_none_or(|d| d <= RETRY_WITHIN)
            });
            // Waited out here only when it is sent again; otherwise the refresh fails and
            // the next one waits for the Retry-After.
            self.limiter
                .slow_down(retry.is_some().then_some(retry_after));
            let Some(next) = retry else {
                return Ok(Some(response));
            };
            warn!(
                endpoint,
                ?retry_after,
                "rate limited (429); the source slows down and sends it again"
            );
            request = next;
            attempt += 1;
        }
    }

    /// Sends one request and reads its whole body, within the size limit.
    async fn send(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, RefreshError> {
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                self.stats.count(endpoint, "error".into());
                return Err(if error.is_timeout() {
                    RefreshError::RequestTimeout { endpoint }
                } else {
                    RefreshError::Transport {
                        endpoint,
                        detail: root_cause(&error),
                    }
                });
            }
        };
        let status = response.status().as_u16();
        self.stats.count(endpoint, status.to_string());
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(RefreshError::TooLarge {
                endpoint,
                limit: self.max_body,
            });
        }
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(16 * 1024) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    self.stats
                        .response_bytes
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if body.len() + chunk.len() > self.max_body {
                        return Err(RefreshError::TooLarge {
                            endpoint,
                            limit: self.max_body,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) if error.is_timeout() => {
                    return Err(RefreshError::RequestTimeout { endpoint });
                }
                Err(error) => {
                    return Err(RefreshError::Body {
                        endpoint,
                        detail: root_cause(&error),
                    });
                }
            }
        }
        Ok(Response {
            status,
            headers: response.headers().clone(),
            body: Bytes::from(body),
            errors: self.errors,
        })
    }
}

/// A credential a request carries, checked at the source's limiter. A request that waited
/// for a slot is sent only if its credential is still usable, and a refusal is noted before
/// the slot is given back, so no request waiting behind it goes out with a credential the
/// vendor has just refused.
pub(crate) trait Credential {
    fn usable(&self) -> bool;
    fn answered(&self, status: u16);
}

/// No credential to check: token requests themselves, and Basic authentication.
impl Credential for () {
    fn usable(&self) -> bool {
        true
    }
    fn answered(&self, _status: u16) {}
}

/// A short, single-line excerpt of a vendor's error text with `secrets` removed, for logs.
/// Besides the secrets themselves, any credential the text repeats is removed: the value
/// after `Basic` or `Bearer` (an `Authorization` header echoed back, whatever it encodes)
/// and after a key such as `access_token` or `password`.
pub(crate) fn excerpt(text: &str, secrets: &[&Secret]) -> String {
    // Redact before cutting, so a secret split by the cut cannot survive in part.
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets {
        let value = secret.expose();
        if !value.is_empty() {
            line = line.replace(value, "<redacted>");
        }
    }
    redact_credentials(&line).trim().chars().take(200).collect()
}

/// Words after which a credential follows (compared in lower case).
const CREDENTIAL_MARKERS: &[&str] = &[
    "basic",
    "bearer",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_token",
    "password",
    "token",
];

/// Replaces the value that follows each credential marker with `<redacted>`.
fn redact_credentials(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let is_value = |b: u8| b.is_ascii_alphanumeric() || b"+/=._~-".contains(&b);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        let marker = CREDENTIAL_MARKERS.iter().find(|m| {
            lower[at..].starts_with(**m)
                // A whole word: not the tail of a longer identifier.
                && (at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_'))
                && !bytes.get(at + m.len()).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        });
        let Some(marker) = marker else {
            at += text[at..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut value = at + marker.len();
        while value < text.len() && b" \t:=\"'".contains(&bytes[value]) {
            value += 1;
        }
        let mut end = value;
        while end < text.len() && is_value(bytes[end]) {
            end += 1;
        }
        // Only a value long enough to be a credential ("Basic realm" is not one).
        if end - value >= 8 && !text[value..end].starts_with("<redacted") {
            out.push_str(&text[copied..value]);
            out.push_str("<redacted>");
            copied = end;
        }
        at = end.max(at + marker.len());
    }
    out.push_str(&text[copied..]);
    out
}

/// What a client sends for HTTP Basic authentication as `user`: the base64 a vendor may
/// echo back, to be redacted like the secret itself.
pub(crate) fn basic_credentials(user: &str, secret: &Secret) -> Secret {
    use base64::Engine as _;
    Secret::new(
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", secret.expose())),
    )
}

/// A failed exchange as an error: the status, the vendor's own message from its error
/// envelope (or else the start of the body), secrets removed, and a 429's `Retry-After`.
pub(crate) fn status_error(
    endpoint: &'static str,
    response: &Response,
    secrets: &[&Secret],
) -> RefreshError {
    RefreshError::Status {
        endpoint,
        status: response.status,
        message: vendor_text(response, secrets),
        retry_after: (response.status == 429)
            .then(|| response.retry_after())
            .flatten(),
    }
}

/// The vendor's words in an error response, short, on one line, secrets removed.
pub(crate) fn vendor_text(response: &Response, secrets: &[&Secret]) -> String {
    let words = (response.errors.message)(&response.body)
        .unwrap_or_else(|| String::from_utf8_lossy(&response.body).into_owned());
    excerpt(&words, secrets)
}

#[cfg(test)]
mod tests {

    #[test]
    fn credentials_echoed_in_any_form_are_redacted() {
        let secret = Secret::new("canary-Secret-42");
        let pair = basic_credentials("client-id", &secret);
        let body = format!(
            "denied: Authorization: Basic {} for client-id (client-id:canary-Secret-42); header authorization=Bearer eyJhbGciOi.J9abc-def_ghi; {{\"access_token\":\"sim-000001-deadbeefcafe\",\"refresh_token\": \"r-123456789\"}} password=hunter2hunter2",
            pair.expose()
        );
        let text = excerpt(&body, &[&secret, &pair]);
        for leaked in [
            "canary-Secret-42",
            pair.expose(),
            "eyJhbGciOi",
            "sim-000001",
            "r-123456789",
            "hunter2",
        ] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert!(
            text.starts_with("denied: Authorization: Basic <redacted> for client-id"),
            "{text}"
        );
        // Ordinary words after the markers stay.
        assert_eq!(
            excerpt(
                "Basic realm required; the token was refused; nextPageToken abc",
                &[]
            ),
            "Basic realm required; the token was refused; nextPageToken abc"
        );
    }
    use super::*;

    #[test]
    fn urls_keep_a_base_path_prefix() {
        let stats = std::sync::Arc::new(RequestStats::default());
        let up = |base: &str| {
            Upstream::new(
                Url::parse(base).unwrap(),
                &HttpSpec::default(),
                stats.clone(),
                std::sync::Arc::new(Limiter::new(1)),
                PLAIN,
            )
            .unwrap()
        };
        assert_eq!(
            up("https://proxy.example/vendor/")
                .url("/api/v1/Report")
                .as_str(),
            "https://proxy.example/vendor/api/v1/Report"
        );
        assert_eq!(
            up("https://console.example.com")
                .url("/api/v3/oauth/token")
                .as_str(),
            "https://console.example.com/api/v3/oauth/token"
        );
    }

    /// A vendor whose error bodies say nothing of their own.
    const PLAIN: ErrorReading = ErrorReading {
        message: |_| None,
        retryable: |_| false,
    };

    #[test]
    fn a_body_without_the_vendors_envelope_is_quoted() {
        let html = Response {
            status: 502,
            headers: HeaderMap::new(),
            body: Bytes::from("<html>Bad gateway</html>"),
            errors: PLAIN,
        };
        assert_eq!(
            status_error("token", &html, &[]).to_string(),
            "token: HTTP 502: <html>Bad gateway</html>"
        );
        assert!(!html.is_retryable());
    }

    #[test]
    fn excerpts_are_short_single_line_and_redacted() {
        let secret = Secret::new("s3cr3t");
        let text = format!("bad\ncredentials s3cr3t {}", "x".repeat(500));
        let out = excerpt(&text, &[&secret]);
        assert!(!out.contains('\n'));
        assert!(!out.contains("s3cr3t"));
        assert!(out.len() <= 200);
    }
}
