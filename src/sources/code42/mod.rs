//! Code42 / CrashPlan: the `DeviceBackupReport` resource, one row per archive (device ×
//! destination), read page by page into an estate of devices and archives.

mod client;
mod config;
mod estate;
pub(crate) mod families;
#[cfg(test)]
mod fidelity;
#[cfg(any(test, feature = "fuzzing"))]
mod fuzzing;
mod packed;
#[cfg(test)]
mod proptests;
mod row;

use std::sync::Arc;

use reqwest::Url;

pub(crate) use config::Code42Auth;
pub(crate) use config::{Code42Config, Code42Spec};
pub(crate) use estate::Code42Estate;
pub(crate) use estate::EstateBuilder;
use row::ArchiveRow;

use crate::config::{ConfigWarning, FieldError};
use crate::exposition::{Detail, Family};
use crate::sources::budget::{ReadBudget, unreadable_page};
use crate::sources::http::ErrorReading;
use crate::sources::record::{PageError, Row, decode_page};
use crate::sources::{
    ClientContext, HelpParts, RefreshError, Refreshed, SkipCounts, SkipReason, Vendor,
};

const ENDPOINT: &str = "device_backup_report";

/// A Code42 tenant, and how much one refresh may read.
pub(crate) struct Code42(Arc<client::Client>, crate::config::HttpSpec);

/// Pages requested ahead, in page order; any still running when a refresh ends (its last
/// page read, or an error) are cancelled.
#[derive(Default)]
struct PagesAhead(
    std::collections::VecDeque<
        tokio::task::JoinHandle<Result<crate::sources::http::Response, RefreshError>>,
    >,
);

impl Drop for PagesAhead {
    fn drop(&mut self) {
        self.0.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

impl Vendor for Code42 {
    const NAME: &'static str = "code42";
    const DEFAULT_URL: Option<&'static str> = None;
    const FAMILIES: &'static [Family] = families::FAMILIES;
    const LABELS: &'static [&'static str] = families::LABELS;
    #[cfg(test)]
    const TEST_KEYS: &'static str = "    client_id: a\n    client_secret_env: PATH\n";
    #[cfg(any(test, feature = "fuzzing"))]
    const FUZZ_TARGETS: &'static [crate::sources::fuzzing::FuzzTarget] = fuzzing::TARGETS;
    const PRIMARY_STREAM: &'static str = "report";
    const HELP: HelpParts = HelpParts {
        products: "Code42/CrashPlan device backups",
        alerts_active: "Code42: distinct devices with a warning-level or critical-level alert state.",
        streams: "report (Code42)",
        primary_stream: Self::PRIMARY_STREAM,
    };
    /// Every refresh reads the whole report.
    const READS_PREVIOUS: bool = false;
    type Config = Code42Config;
    type Spec = Code42Spec;
    type State = Code42Estate;

    fn validate(
        config: Code42Config,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(Code42Spec, Option<Detail>), FieldError> {
        config.validate(at, warnings)
    }

    fn origin(spec: &Code42Spec, url: &Url) -> String {
        format!("code42 {url} {} {:?}", spec.report_path, spec.query)
    }

    fn new(spec: &Code42Spec, context: ClientContext<'_>) -> Result<Self, RefreshError> {
        let upstream = crate::sources::http::Upstream::new(
            context.url.clone(),
            context.http,
            context.requests,
            context.limiter,
            ErrorReading::of::<Self>(),
        )?;
        Ok(Code42(
            Arc::new(client::Client::new(spec.clone(), upstream)),
            context.http.clone(),
        ))
    }

    /// Reads every page (until a page with an empty `data`, as Code42's own tools do: a
    /// short page does not mean the end, because the server may cap `pgSize`).
    async fn refresh(
        &self,
        _previous: &crate::sources::Previous<Code42Estate>,
    ) -> Result<Refreshed<Code42Estate>, RefreshError> {
        let mut builder = EstateBuilder::default();
        let mut ahead = PagesAhead::default();
        let mut last_page_full = false;
        let budget = ReadBudget::new(&self.1);
        let (mut page, mut requested) = (0u32, 0u32);
        loop {
            page += 1;
            // After a full page, the next `max_in_flight` pages are requested side by side
            // (by pgNum), so the vendor's latency is paid once per window rather than once
            // per page; they are read in page order, so the result is the same whatever
            // order they arrive in. After a short page (usually the last) only the next.
            let window = if last_page_full {
                self.1.max_in_flight
            } else {
                1
            };
            while ahead.0.len() < window {
                requested += 1;
                let (client, number) = (self.0.clone(), requested);
                ahead
                    .0
                    .push_back(tokio::spawn(async move { client.get_page(number).await }));
            }
            let task = ahead.0.pop_front().expect("a page was requested");
            let response = task.await.map_err(|e| RefreshError::PageTask {
                page: page.into(),
                detail: e.to_string(),
            })??;
            let bytes = response.body.len();
            // The page is parsed on a refresh thread while the pages ahead download.
            let previous_first = builder.start_page();
            let before = (builder.rows(), builder.skipped.get(SkipReason::Duplicate));
            let parsed = crate::runtime::background::run(move || {
                let rows = parse_page(&response.body, &mut builder);
                (builder, rows)
            })
            .await;
            let (returned, rows) = parsed;
            builder = returned;
            let rows = rows.map_err(|e| RefreshError::Decode {
                endpoint: ENDPOINT,
                detail: format!("page {page}: {e}"),
            })?;
            budget.page(ENDPOINT, rows, bytes)?;
            let duplicates = builder.skipped.get(SkipReason::Duplicate) - before.1;
            if rows > 0 && builder.rows() == before.0 && duplicates == 0 {
                return Err(unreadable_page(ENDPOINT, page, rows));
            }
            if rows == 0 {
                let (estate, skipped) = builder.finish();
                return Ok(Refreshed::complete(estate, skipped, Self::PRIMARY_STREAM));
            }
            // The report repeats an archive for each of its user's backup sets, so a page may
            // hold only rows already read: they are skipped as duplicates and paging goes on.
            // A server that ignores pgNum shows itself by starting a page with the same row
            // as the page before.
            if previous_first.is_some() && builder.page_first() == previous_first.as_ref() {
                return Err(RefreshError::Paging {
                    endpoint: ENDPOINT,
                    detail: format!(
                        "page {page} starts with the same row as page {}; the server seems to ignore pgNum",
                        page - 1
                    ),
                });
            }
            last_page_full = rows >= self.0.spec.page_size as usize;
        }
    }

    fn advice(error: &RefreshError) -> Option<&'static str> {
        match error {
            RefreshError::Status { status: 403, .. } => Some(
                "the credentials work but may not read this: give the API client a role that can read reports (Code42: Customer Cloud Admin)",
            ),
            RefreshError::Status { status: 404, .. } => Some(
                "nothing at that address: check url (the console's API address for your region) and report_path",
            ),
            _ => None,
        }
    }

    fn error_message(body: &[u8]) -> Option<String> {
        client::error_message(body)
    }

    async fn check(&self) -> Result<Vec<String>, RefreshError> {
        let lifetime = self.0.fetch_token().await?.lifetime;
        let who = match &self.0.spec.auth {
            Code42Auth::ApiClient { client_id, .. } => format!("API client {client_id:?}"),
            Code42Auth::User { username, .. } => format!("user {username:?}"),
        };
        let mut lines = vec![format!(
            "authenticated as {who}; the token is valid for {}",
            humantime::format_duration(lifetime)
        )];
        let response = self.0.get_page(1).await?;
        let body = response.body.clone();
        let (rows, (estate, skipped)) = crate::runtime::background::run(move || {
            let mut builder = EstateBuilder::default();
            let rows = parse_page(&body, &mut builder);
            (rows, builder.finish())
        })
        .await;
        let rows = rows.map_err(|e| RefreshError::Decode {
            endpoint: ENDPOINT,
            detail: format!("page 1: {e}"),
        })?;
        let mut orgs: Vec<&str> = estate.devices.iter().map(|d| &*d.profile.org).collect();
        orgs.sort_unstable();
        orgs.dedup();
        lines.push(format!(
            "read page 1 of {} ({} bytes): {rows} rows, {} archives of {} devices in {} org{}; rows skipped: {}",
            self.0.spec.report_path,
            response.body.len(),
            estate.archives.len(),
            estate.devices.len(),
            orgs.len(),
            if orgs.len() == 1 { "" } else { "s" },
            skipped.describe(),
        ));
        lines.push(if rows == 0 {
            "the report is empty: check the source's query (such as active: \"true\" or an org) and what the API client may see".into()
        } else if rows >= self.0.spec.page_size as usize {
            format!("the page is full (page_size {}): more pages follow, read on every refresh", self.0.spec.page_size)
        } else {
            "that is the whole report".into()
        });
        Ok(lines)
    }
}

/// Reads one page (`{"metadata": …, "data": [rows]}`) into `builder`, returning the number
/// of rows the page held (skipped ones included).
pub(crate) fn parse_page(body: &[u8], builder: &mut EstateBuilder) -> Result<usize, PageError> {
    let info = decode_page(body, "data", row::SEED, &[], |row| match row {
        Row::Record(record) => {
            // Values dropped from a row count only if the row is kept (not a duplicate).
            let mut dropped = SkipCounts::default();
            match ArchiveRow::parse(&record, &mut dropped) {
                Ok(row) => {
                    if builder.add(row) {
                        builder.skipped.merge(&dropped);
                    }
                }
                Err(reason) => builder.skipped.add(reason),
            }
        }
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
    fn a_name_of_megabytes_is_a_counted_skip_not_a_label() {
        let mut builder = EstateBuilder::default();
        let huge = "n".repeat(2 << 20);
        let page = serde_json::json!({"data": [
            {"deviceUid": huge, "destinationName": "cloud"},
            {"deviceUid": "2", "destinationName": "cloud", "orgName": huge},
        ]});
        assert_eq!(parse_page(page.to_string().as_bytes(), &mut builder), Ok(2));
        assert_eq!(
            builder.rows(),
            1,
            "the device without a readable uid is skipped"
        );
        assert_eq!(builder.skipped.get(SkipReason::InvalidValue), 1);
        let (estate, skipped) = builder.finish();
        assert_eq!(
            skipped.describe(),
            "1 invalid_value; values dropped: 1 orgName",
            "the row with an unreadable org is kept, its org counted as dropped"
        );
        assert!(format!("{estate:?}").len() < 10_000);
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
