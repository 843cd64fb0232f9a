//! The Druva API: OAuth client credentials and `POST /platform/reporting/v1/reports/{id}`
//! with `nextPageToken` paging.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tracing::warn;

use super::reports::{Parsed, Report};
use crate::secret::{Secret, SecretRef};
use crate::sources::budget::{ReadBudget, unreadable_page};
use crate::sources::http::{Response, Upstream, status_error};
use crate::sources::record::{PageError, Row, Scalar, decode_page};
use crate::sources::token::{Sent, Token, TokenCache, client_credentials};
use crate::sources::{RefreshError, SkipCounts, SkipReason};

/// "Access tokens are valid for 30 minutes" (public cloud).
const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Attempts of a request the API marks `retryable`.
const RETRYABLE_ATTEMPTS: u32 = 3;

/// One complete read of a report.
#[derive(Debug, Default)]
pub(crate) struct ReportRead {
    /// The rows of each page: kept as they came, since one list of every row would be
    /// copied whole each time it grew (a read can hold hundreds of thousands).
    pub(crate) pages_of_rows: Vec<Vec<Parsed>>,
    pub(crate) skipped: SkipCounts,
    /// The earliest `lastSyncTimestamp` of the read's pages: where the next incremental
    /// read starts.
    pub(crate) last_sync_ms: Option<i64>,
    pub(crate) pages: u32,
    /// The read stopped at its page limit while the API had more pages.
    pub(crate) more: bool,
}

/// A final answer and the token it was sent with, to keep it out of error messages.
pub(crate) struct Answer {
    pub(crate) response: Response,
    token: Secret,
}

impl Answer {
    /// The failed exchange described without the token.
    pub(crate) fn error(&self, endpoint: &'static str) -> RefreshError {
        status_error(endpoint, &self.response, &[&self.token])
    }
}

pub(crate) struct DruvaApi {
    pub(crate) upstream: Upstream,
    client_id: String,
    secret: SecretRef,
    token: TokenCache,
    page_size: u32,
}

/// Far enough in the past to ask for every row ("lastUpdatedTime GTE" this): the API
/// returns only the last 24 hours without a date filter.
pub(crate) const FAR_PAST_MS: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z

pub(crate) fn format_filter_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("valid time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl DruvaApi {
    pub(super) fn new(
        upstream: Upstream,
        client_id: String,
        secret: SecretRef,
        page_size: u32,
    ) -> Self {
        DruvaApi {
            upstream,
            client_id,
            secret,
            token: TokenCache::default(),
            page_size,
        }
    }

    pub(crate) async fn fetch_token(&self) -> Result<Token, RefreshError> {
        let secret = self.secret.load()?;
        let request = self
            .upstream
            .http()
            .post(self.upstream.url("/token"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=read");
        client_credentials(
            &self.upstream,
            request,
            &self.client_id,
            &secret,
            TOKEN_LIFETIME,
        )
        .await
    }

    /// Sends a request with the bearer token. Druva answers an expired token with 401 or
    /// 403 depending on the API, so both renew the token once and the request is sent
    /// again. Requests the API marks `retryable` are retried with exponential backoff.
    /// The final answer is returned whatever its status.
    pub(crate) async fn send(
        &self,
        endpoint: &'static str,
        build: impl Fn(&Secret) -> reqwest::RequestBuilder,
    ) -> Result<Answer, RefreshError> {
        let mut attempt = 0;
        loop {
            let Sent {
                response, token, ..
            } = self
                .token
                .send(
                    || self.fetch_token(),
                    &[401, 403],
                    |bearer| {
                        let request = build(&bearer.token);
                        async move { self.upstream.execute_with(endpoint, request, &bearer).await }
                    },
                )
                .await?;
            if !response.is_success() && response.is_retryable() && attempt + 1 < RETRYABLE_ATTEMPTS
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
    pub(crate) async fn read_report(
        &self,
        report: &'static Report,
        since_ms: Option<i64>,
        first_page_only: bool,
        budget: &ReadBudget,
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
                let page = parse_page(report, response.body.clone())
                    .await
                    .map_err(|e| RefreshError::Decode {
                        endpoint: report.id,
                        detail: format!("page {}: {e}", read.pages),
                    })?;
                budget.page(report.id, page.read, response.body.len())?;
                if page.read > 0 && page.rows.is_empty() {
                    return Err(unreadable_page(report.id, read.pages, page.read));
                }
                read.pages_of_rows.push(page.rows);
                read.skipped.merge(&page.skipped);
                if let Some(sync) = page.last_sync_ms {
                    read.last_sync_ms = Some(read.last_sync_ms.map_or(sync, |s| s.min(sync)));
                }
                let next = page.next_page_token;
                if next.is_empty() {
                    return Ok(read);
                }
                if first_page_only {
                    read.more = true;
                    return Ok(read);
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

/// One page of a report, decoded.
pub(super) struct Page {
    /// Rows the page held, readable or not.
    read: usize,
    pub(super) rows: Vec<Parsed>,
    skipped: SkipCounts,
    last_sync_ms: Option<i64>,
    /// Empty on the last page.
    next_page_token: String,
}

/// Decodes a page on a refresh thread (it is CPU work, below the scrapes' priority).
async fn parse_page(report: &'static Report, body: bytes::Bytes) -> Result<Page, PageError> {
    crate::runtime::background::run(move || decode_report_page(report, &body)).await
}

/// Decodes one page of `report`: its rows, those skipped, and what follows it.
pub(super) fn decode_report_page(report: &Report, body: &[u8]) -> Result<Page, PageError> {
    let mut rows = Vec::new();
    let mut skipped = SkipCounts::default();
    let info = decode_page(
        body,
        "data",
        report.seed(),
        &["lastSyncTimestamp", "nextPageToken"],
        |row| match row {
            Row::Record(record) => {
                // Values dropped from a row count only if the row is kept.
                let mut dropped = SkipCounts::default();
                match report.parse(&record, &mut dropped) {
                    Ok(parsed) => {
                        rows.push(parsed);
                        skipped.merge(&dropped);
                    }
                    Err(reason) => skipped.add(reason),
                }
            }
            Row::NotAnObject => skipped.add(SkipReason::NotAnObject),
        },
    )?;
    Ok(Page {
        read: info.rows,
        rows,
        skipped,
        last_sync_ms: info
            .text("lastSyncTimestamp")
            .and_then(crate::sources::dates::parse_date_ms),
        next_page_token: info.text("nextPageToken").unwrap_or("").to_string(),
    })
}

/// A JSON value read as text, for fields the vendor sends as strings or numbers.
pub(crate) fn scalar_text(value: &Scalar) -> String {
    value
        .as_text()
        .ok()
        .flatten()
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

/// Druva's error envelope: `{"code": "...", "message": "...", "retryable": false, "data": {}}`.
#[derive(serde::Deserialize)]
struct ErrorEnvelope {
    code: Option<serde_json::Value>,
    message: Option<String>,
    #[serde(default)]
    retryable: bool,
}

/// An error response's words: the envelope's code and message.
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).ok()?;
    let message = envelope.message?;
    Some(match envelope.code {
        Some(code) => format!(
            "{} {message}",
            code.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| code.to_string())
        ),
        None => message,
    })
}

/// Whether an error response asks to be retried (the envelope's `retryable`).
pub(super) fn error_retryable(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorEnvelope>(body).is_ok_and(|e| e.retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_envelope_is_read() {
        let body = br#"{"code":"InsyncEndpoints-1006","message":"Internal server error","retryable":true,"data":{}}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("InsyncEndpoints-1006 Internal server error")
        );
        assert!(error_retryable(body));
        let numeric = br#"{"code":4001,"message":"Invalid pageToken","retryable":false}"#;
        assert_eq!(
            error_message(numeric).as_deref(),
            Some("4001 Invalid pageToken")
        );
        assert!(!error_retryable(numeric));
        assert_eq!(error_message(b"<html>503</html>"), None);
        assert!(!error_retryable(b"[]"));
    }
}
