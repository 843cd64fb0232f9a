//! The Druva API: OAuth client credentials and `POST /platform/reporting/v1/reports/{id}`
//! with `nextPageToken` paging.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use tracing::warn;

use super::reports::{Parsed, Report};
use crate::record::{Row, Scalar, decode_page};
use crate::secret::{Secret, SecretRef};
use crate::source::{RefreshError, SkipCounts, SkipReason};
use crate::token::TokenCache;
use crate::upstream::{Response, Upstream, excerpt};

/// A report that keeps handing out page tokens is not ending; stop instead of looping.
const MAX_PAGES: u32 = 20_000;
/// Attempts of a request the API marks `retryable`.
const RETRYABLE_ATTEMPTS: u32 = 3;

/// One complete read of a report.
#[derive(Debug, Default)]
pub struct ReportRead {
    pub rows: Vec<Parsed>,
    pub skipped: SkipCounts,
    /// The earliest `lastSyncTimestamp` of the read's pages: where the next incremental
    /// read starts.
    pub last_sync_ms: Option<i64>,
    pub pages: u32,
    /// The read stopped at its page limit while the API had more pages.
    pub more: bool,
}

/// A final answer and the token it was sent with, to keep it out of error messages.
pub struct Answer {
    pub response: Response,
    token: Secret,
}

impl Answer {
    /// The failed exchange described without the token.
    pub fn error(&self, endpoint: &str) -> RefreshError {
        http_error(endpoint, &self.response, &[&self.token])
    }
}

pub struct DruvaApi {
    pub upstream: Upstream,
    client_id: String,
    secret: SecretRef,
    token: TokenCache,
    page_size: u32,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<serde_json::Value>,
}

/// Druva's error envelope `{code, message, retryable, data}`.
#[derive(Deserialize, Default)]
struct ErrorEnvelope {
    code: Option<serde_json::Value>,
    message: Option<String>,
    #[serde(default)]
    retryable: bool,
}

fn envelope(response: &Response) -> ErrorEnvelope {
    serde_json::from_slice(&response.body).unwrap_or_default()
}

/// Describes a failed exchange: status, the envelope's code and message (or the start of
/// the body), secrets removed.
pub fn http_error(endpoint: &str, response: &Response, secrets: &[&Secret]) -> RefreshError {
    let envelope = envelope(response);
    let text = match (&envelope.code, &envelope.message) {
        (Some(code), Some(message)) => format!(
            "{} {message}",
            code.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| code.to_string())
        ),
        (None, Some(message)) => message.clone(),
        _ => String::from_utf8_lossy(&response.body).into_owned(),
    };
    RefreshError {
        message: format!(
            "{endpoint}: HTTP {}: {}",
            response.status,
            excerpt(&text, secrets)
        ),
        retry_after: (response.status == 429)
            .then(|| response.retry_after())
            .flatten(),
    }
}

/// Far enough in the past to ask for every row ("lastUpdatedTime GTE" this): the API
/// returns only the last 24 hours without a date filter.
pub const FAR_PAST_MS: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z

pub fn format_filter_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("valid time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl DruvaApi {
    pub fn new(upstream: Upstream, client_id: String, secret: SecretRef, page_size: u32) -> Self {
        DruvaApi {
            upstream,
            client_id,
            secret,
            token: TokenCache::default(),
            page_size,
        }
    }

    pub async fn fetch_token(&self) -> Result<(Secret, Duration), RefreshError> {
        let secret = self.secret.load().map_err(RefreshError::new)?;
        let request = self
            .upstream
            .http()
            .post(self.upstream.url("/token"))
            .basic_auth(&self.client_id, Some(secret.expose()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body("grant_type=client_credentials&scope=read");
        let response = self.upstream.execute("token", request).await?;
        if !response.is_success() {
            return Err(http_error("token", &response, &[&secret]));
        }
        let body: TokenResponse = serde_json::from_slice(&response.body)
            .map_err(|e| RefreshError::new(format!("token: unexpected response: {e}")))?;
        let lifetime = body
            .expires_in
            .as_ref()
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
            .unwrap_or(1800);
        Ok((
            Secret::new(body.access_token),
            Duration::from_secs(lifetime),
        ))
    }

    /// Sends a request with the bearer token. Druva answers an expired token with 401 or
    /// 403 depending on the API, so both renew the token once and the request is sent
    /// again. Requests the API marks `retryable` are retried with exponential backoff.
    /// The final answer is returned whatever its status.
    pub async fn send(
        &self,
        endpoint: &'static str,
        build: impl Fn(&Secret) -> reqwest::RequestBuilder,
    ) -> Result<Answer, RefreshError> {
        let mut attempt = 0;
        loop {
            let send = |token: Secret| self.upstream.execute(endpoint, build(&token));
            let (response, token, _) = self
                .token
                .send(|| self.fetch_token(), &[401, 403], send)
                .await?;
            if !response.is_success()
                && envelope(&response).retryable
                && attempt + 1 < RETRYABLE_ATTEMPTS
            {
                let delay =
                    Duration::from_millis(500 << attempt).mul_f64(0.5 + fastrand::f64() / 2.0);
                warn!(endpoint, status = response.status, retry_in = ?delay, "retryable error from Druva; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return Ok(Answer { response, token });
        }
    }

    /// Reads a report completely: the first page with `filters`, then only the
    /// `nextPageToken` until it is empty. A 400 on a follow-up page means the token (valid
    /// five minutes) was refused: the report is read again from the start, once. With
    /// `first_page_only`, the read stops after the first page (`check-source`).
    pub async fn read_report(
        &self,
        report: &'static Report,
        since_ms: Option<i64>,
        first_page_only: bool,
    ) -> Result<ReportRead, RefreshError> {
        let filter_by: Vec<serde_json::Value> = since_ms
            .map(|ms| {
                serde_json::json!({"fieldName": "lastUpdatedTime", "operator": "GTE", "value": format_filter_time(ms)})
            })
            .into_iter()
            .collect();
        let first = serde_json::json!({
            "filters": {"pageSize": self.page_size, "filterBy": filter_by},
            "pageToken": "",
        })
        .to_string();
        let url = self
            .upstream
            .url(&format!("/platform/reporting/v1/reports/{}", report.id));
        let mut restarted = false;
        'read: loop {
            let mut read = ReportRead::default();
            let mut body = first.clone();
            loop {
                let answer = self.post_json(report.id, &url, &body).await?;
                let response = &answer.response;
                if read.pages > 0 && response.status == 400 && !restarted {
                    warn!(
                        report = report.id,
                        error = %answer.error(report.id),
                        "page token refused (they expire after five minutes); reading the report again"
                    );
                    restarted = true;
                    continue 'read;
                }
                if !response.is_success() {
                    return Err(answer.error(report.id));
                }
                read.pages += 1;
                let info = decode_page(
                    &response.body,
                    "data",
                    report.seed(),
                    &["lastSyncTimestamp", "nextPageToken"],
                    |row| match row {
                        Row::Record(record) => match report.parse(&record) {
                            Ok(parsed) => read.rows.push(parsed),
                            Err(reason) => read.skipped.add(reason),
                        },
                        Row::NotAnObject => read.skipped.add(SkipReason::NotAnObject),
                    },
                )
                .map_err(|e| {
                    RefreshError::new(format!("{}: page {}: {e}", report.id, read.pages))
                })?;
                if let Some(sync) = info.kept[0]
                    .as_ref()
                    .and_then(|v| v.as_str())
                    .and_then(crate::timestamp::parse_date_ms)
                {
                    read.last_sync_ms = Some(read.last_sync_ms.map_or(sync, |s| s.min(sync)));
                }
                let next = info.kept[1].as_ref().and_then(|v| v.as_str()).unwrap_or("");
                if next.is_empty() {
                    return Ok(read);
                }
                if first_page_only {
                    read.more = true;
                    return Ok(read);
                }
                if read.pages >= MAX_PAGES {
                    return Err(RefreshError::new(format!(
                        "{}: more than {MAX_PAGES} pages",
                        report.id
                    )));
                }
                body = serde_json::json!({ "pageToken": next }).to_string();
            }
        }
    }

    async fn post_json(
        &self,
        endpoint: &'static str,
        url: &Url,
        body: &str,
    ) -> Result<Answer, RefreshError> {
        self.send(endpoint, |token| {
            self.upstream
                .http()
                .post(url.clone())
                .bearer_auth(token.expose())
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.to_string())
        })
        .await
    }
}

/// A JSON value read as text, for fields the vendor sends as strings or numbers.
pub fn scalar_text(value: &Scalar) -> String {
    value
        .as_text()
        .ok()
        .flatten()
        .map(|t| t.into_owned())
        .unwrap_or_default()
}
