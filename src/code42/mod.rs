//! Code42 / CrashPlan: the `DeviceBackupReport` resource, one row per archive.

mod estate;
mod row;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde::de::Deserializer;

pub use estate::{Archive, Code42Estate, Device, EstateBuilder};
pub use row::{AlertStates, ArchiveRow};

use crate::cardinality::ExposeContext;
use crate::config::{Code42Auth, Code42Spec, SourceSpec};
use crate::exposition::ExpositionBuilder;
use crate::record::{Row, decode_page};
use crate::secret::Secret;
use crate::source::{RefreshError, Refreshed, SkipReason, Source, VendorState};
use crate::status::StatusSummary;
use crate::token::TokenCache;
use crate::upstream::{RequestStats, Response, Upstream, excerpt};

/// Lifetime of a legacy user token, which the API does not report.
const USER_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// More pages than this means the server ignores `pgNum`; stop instead of looping.
const MAX_PAGES: u32 = 100_000;

impl VendorState for Code42Estate {
    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        Code42Estate::expose(self, out, ctx);
    }

    fn summarize(&self, ctx: &ExposeContext) -> StatusSummary {
        Code42Estate::summarize(self, ctx)
    }
}

/// A Code42 tenant.
pub struct Code42Source {
    spec: Code42Spec,
    upstream: Upstream,
    token: TokenCache,
}

impl Code42Source {
    pub fn new(
        source: &SourceSpec,
        spec: &Code42Spec,
        stats: Arc<RequestStats>,
    ) -> Result<Self, String> {
        Ok(Code42Source {
            spec: spec.clone(),
            upstream: Upstream::new(source.url.clone(), &source.http, stats)?,
            token: TokenCache::default(),
        })
    }

    async fn fetch_token(&self) -> Result<(Secret, Duration), RefreshError> {
        let http = self.upstream.http();
        match &self.spec.auth {
            Code42Auth::ApiClient { client_id, secret } => {
                let secret = secret.load().map_err(RefreshError::new)?;
                let mut url = self.upstream.url("/api/v3/oauth/token");
                url.query_pairs_mut()
                    .append_pair("grant_type", "client_credentials");
                let request = http
                    .post(url)
                    .basic_auth(client_id, Some(secret.expose()))
                    .header(ACCEPT, "application/json");
                let response = self.upstream.execute("token", request).await?;
                if !response.is_success() {
                    return Err(http_error("token", &response, &[&secret]));
                }
                let body: TokenResponse = serde_json::from_slice(&response.body)
                    .map_err(|e| RefreshError::new(format!("token: unexpected response: {e}")))?;
                let lifetime = body
                    .expires_in
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(15 * 60));
                Ok((Secret::new(body.access_token), lifetime))
            }
            Code42Auth::User { username, password } => {
                let password = password.load().map_err(RefreshError::new)?;
                let mut url = self.upstream.url("/api/v3/auth/jwt");
                url.query_pairs_mut().append_pair("useBody", "true");
                let request = http
                    .get(url)
                    .basic_auth(username, Some(password.expose()))
                    .header(ACCEPT, "application/json");
                let response = self.upstream.execute("token", request).await?;
                if !response.is_success() {
                    return Err(http_error("token", &response, &[&password]));
                }
                let body: UserTokenResponse = serde_json::from_slice(&response.body)
                    .map_err(|e| RefreshError::new(format!("token: unexpected response: {e}")))?;
                Ok((Secret::new(body.data.v3_user_token), USER_TOKEN_LIFETIME))
            }
        }
    }

    /// GET with the bearer token; a 401 means the token was revoked or expired early, so it
    /// is fetched again and the request retried once.
    async fn authorized_get(
        &self,
        endpoint: &'static str,
        url: Url,
    ) -> Result<Response, RefreshError> {
        let send = |token: Secret| {
            let request = self
                .upstream
                .http()
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json");
            self.upstream.execute(endpoint, request)
        };
        let (response, token, renewed) =
            self.token.send(|| self.fetch_token(), &[401], send).await?;
        if response.status == 401 && renewed {
            return Err(RefreshError::new(format!(
                "{endpoint}: HTTP 401 again with a newly issued token: {}",
                excerpt(&vendor_message(&response), &[&token])
            )));
        }
        if !response.is_success() {
            return Err(http_error(endpoint, &response, &[&token]));
        }
        Ok(response)
    }

    async fn get_page(&self, page: u32) -> Result<Response, RefreshError> {
        self.authorized_get("device_backup_report", self.page_url(page))
            .await
    }

    fn page_url(&self, page: u32) -> Url {
        let mut url = self.upstream.url(&self.spec.report_path);
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in &self.spec.query {
                query.append_pair(key, value);
            }
            query.append_pair("pgNum", &page.to_string());
            query.append_pair("pgSize", &self.spec.page_size.to_string());
        }
        url
    }
}

impl Source for Code42Source {
    type State = Code42Estate;
    /// Every refresh reads the whole report.
    const READS_PREVIOUS: bool = false;

    /// Reads every page (until a page with an empty `data`, as Code42's own tools do: a
    /// short page does not mean the end, because the server may cap `pgSize`).
    async fn refresh(
        &self,
        _previous: Option<Arc<Code42Estate>>,
    ) -> Result<Refreshed<Code42Estate>, RefreshError> {
        let mut builder = EstateBuilder::default();
        let mut prefetched = None;
        let mut last_page_full = false;
        for page in 1..=MAX_PAGES {
            let response = match prefetched.take() {
                Some(response) => response?,
                None => self.get_page(page).await?,
            };
            // The page is parsed on a refresh thread. After a full page, the next one is
            // requested meanwhile, so the vendor prepares it while this one is parsed;
            // after a short page (usually the last) nothing is requested ahead.
            let before = (builder.rows(), builder.skipped.get(SkipReason::Duplicate));
            let parse = crate::background::run(move || {
                let rows = parse_page(&response.body, &mut builder);
                (builder, rows)
            });
            let parsed = if last_page_full {
                let (parsed, next) = tokio::join!(parse, self.get_page(page + 1));
                prefetched = Some(next);
                parsed
            } else {
                parse.await
            };
            let (returned, rows) = parsed;
            builder = returned;
            let rows = rows.map_err(|e| {
                RefreshError::new(format!("device_backup_report: page {page}: {e}"))
            })?;
            if rows == 0 {
                let (estate, skipped) = builder.finish();
                return Ok(Refreshed {
                    state: estate,
                    skipped,
                });
            }
            let duplicates = builder.skipped.get(SkipReason::Duplicate) - before.1;
            if page > 1 && builder.rows() == before.0 && duplicates as usize == rows {
                return Err(RefreshError::new(format!(
                    "device_backup_report: page {page} repeats rows already read; the server seems to ignore pgNum"
                )));
            }
            last_page_full = rows >= self.spec.page_size as usize;
        }
        Err(RefreshError::new(format!(
            "device_backup_report: more than {MAX_PAGES} pages"
        )))
    }

    async fn check(&self) -> Result<Vec<String>, RefreshError> {
        let (_, lifetime) = self.fetch_token().await?;
        let who = match &self.spec.auth {
            Code42Auth::ApiClient { client_id, .. } => format!("API client {client_id:?}"),
            Code42Auth::User { username, .. } => format!("user {username:?}"),
        };
        let mut lines = vec![format!(
            "authenticated as {who}; the token is valid for {}",
            humantime::format_duration(lifetime)
        )];
        let response = self.get_page(1).await?;
        let mut builder = EstateBuilder::default();
        let rows = parse_page(&response.body, &mut builder)
            .map_err(|e| RefreshError::new(format!("device_backup_report: page 1: {e}")))?;
        let (estate, skipped) = builder.finish();
        let mut orgs: Vec<&str> = estate.devices.iter().map(|d| &*d.org).collect();
        orgs.sort_unstable();
        orgs.dedup();
        lines.push(format!(
            "read page 1 of {} ({} bytes): {rows} rows, {} archives of {} devices in {} org{}; rows skipped: {}",
            self.spec.report_path,
            response.body.len(),
            estate.archives.len(),
            estate.devices.len(),
            orgs.len(),
            if orgs.len() == 1 { "" } else { "s" },
            skipped.describe(),
        ));
        lines.push(if rows == 0 {
            "the report is empty: check the source's query (such as active: \"true\" or an org) and what the API client may see".into()
        } else if rows >= self.spec.page_size as usize {
            format!("the page is full (page_size {}): more pages follow, read on every refresh", self.spec.page_size)
        } else {
            "that is the whole report".into()
        });
        Ok(lines)
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
struct UserTokenResponse {
    data: UserTokenData,
}

#[derive(serde::Deserialize)]
struct UserTokenData {
    v3_user_token: String,
}

/// `expires_in` as a number or a numeric string.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = crate::record::Scalar::deserialize(deserializer)?;
    value
        .as_u64()
        .map_err(|_| serde::de::Error::custom("expires_in is not a number of seconds"))
}

/// Describes a failed HTTP exchange with the vendor's own message, secrets removed.
fn http_error(endpoint: &str, response: &Response, secrets: &[&Secret]) -> RefreshError {
    let message = excerpt(&vendor_message(response), secrets);
    RefreshError {
        message: format!("{endpoint}: HTTP {}: {message}", response.status),
        retry_after: if response.status == 429 {
            response.retry_after()
        } else {
            None
        },
    }
}

/// The text of a Code42 error (`[{"name":"SYSTEM","description":"..."}]`), or the start
/// of the body when it is something else.
fn vendor_message(response: &Response) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        name: Option<String>,
        description: Option<String>,
    }
    if let Ok(items) = serde_json::from_slice::<Vec<ErrorItem>>(&response.body) {
        let text: Vec<String> = items
            .into_iter()
            .map(|i| match (i.name, i.description) {
                (Some(n), Some(d)) => format!("{n}: {d}"),
                (n, d) => n.or(d).unwrap_or_default(),
            })
            .collect();
        if !text.is_empty() {
            return text.join("; ");
        }
    }
    excerpt(&String::from_utf8_lossy(&response.body), &[])
}

/// Reads one page (`{"metadata": …, "data": [rows]}`) into `builder`, returning the number
/// of rows the page held (skipped ones included).
pub fn parse_page(body: &[u8], builder: &mut EstateBuilder) -> Result<usize, String> {
    let info = decode_page(body, "data", row::SEED, &[], |row| match row {
        Row::Record(record) => match ArchiveRow::parse(&record) {
            Ok(row) => builder.add(row),
            Err(reason) => builder.skipped.add(reason),
        },
        Row::NotAnObject => builder.skipped.add(SkipReason::NotAnObject),
    })?;
    Ok(info.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_with_and_without_rows() {
        let mut builder = EstateBuilder::default();
        let page = br#"{"metadata":{"timestamp":"2020-10-13T12:51:28.410Z","params":{}},"data":[
            {"deviceUid":"1","destinationName":"cloud","orgName":"Eng"},
            {"deviceUid":"","destinationName":"cloud"},
            "junk"]}"#;
        assert_eq!(parse_page(page, &mut builder), Ok(3));
        assert_eq!(builder.rows(), 1);
        assert_eq!(builder.skipped.get(SkipReason::MissingField), 1);
        assert_eq!(builder.skipped.get(SkipReason::NotAnObject), 1);
        assert_eq!(parse_page(br#"{"data":[]}"#, &mut builder), Ok(0));
        assert_eq!(parse_page(br#"{"data":null}"#, &mut builder), Ok(0));
    }

    #[test]
    fn broken_pages_are_errors_not_empty_pages() {
        let mut builder = EstateBuilder::default();
        for body in [
            &br#"{"data":[{"deviceUid":"1","destinationName":"c"}"#[..],
            b"<html><body>Service Unavailable</body></html>",
            br#"{"metadata":{}}"#,
            br#"[{"name":"SYSTEM","description":"Unable to find org"}]"#,
            br#"{"data":[]} trailing"#,
        ] {
            assert!(
                parse_page(body, &mut builder).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
