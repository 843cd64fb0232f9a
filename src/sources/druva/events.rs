//! inSync events: the Events API v2 (tracker) and the deprecated v1 (progress cookie).
//!
//! The first read has no cursor, so it starts at the oldest retained event and the counters
//! include the retained history. Each read continues from the cursor of the last successful
//! refresh, so no event is counted twice or skipped. If the vendor refuses the cursor (it
//! lives 48 hours), the retained events are read again and those counted before are
//! recognised by time and fingerprint.

use reqwest::Url;
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use tracing::warn;

use super::api::{DruvaApi, scalar_text};
use super::state::{EventKind, EventLog};
use crate::secret::SecretRef;
use crate::sources::http::{Upstream, basic_credentials, excerpt, status_error};
use crate::sources::record::{PageError, PageInfo, Record, Row, RowSeed, decode_page, decode_rows};
use crate::sources::{RefreshError, SkipCounts, SkipReason};

/// A page holds at most 500 events; a refresh reads at most this many pages and continues
/// from its cursor next time.
pub(crate) const MAX_PAGES: u32 = 2_000;

const V2_FIELDS: &[&str] = &[
    "eventDetails",
    "eventID",
    "eventState",
    "eventType",
    "inSyncDataSourceID",
    "inSyncUserID",
    "severity",
    "timeStamp",
    "timestamp",
];

const LEGACY_FIELDS: &[&str] = &[
    "EventDetails",
    "EventID",
    "EventState",
    "EventType",
    "Severity",
    "Timestamp",
    "inSyncDataSourceID",
    "inSyncUserID",
];

const ENDPOINT: &str = "events";

/// A page that cannot be read.
fn decode_error(error: &PageError) -> RefreshError {
    RefreshError::Decode {
        endpoint: ENDPOINT,
        detail: error.to_string(),
    }
}

/// A 403 from an Events API usually means the tenant has no licence for it: say so.
fn unlicensed_hint(error: RefreshError, hint: &str) -> RefreshError {
    match error {
        RefreshError::Status {
            endpoint,
            status: 403,
            message,
            retry_after,
        } => RefreshError::Status {
            endpoint,
            status: 403,
            message: message + hint,
            retry_after,
        },
        other => other,
    }
}

/// FNV-1a: a stable fingerprint (it is persisted across restarts and versions).
fn fingerprint(parts: &[String]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Counts one event row of either API (`legacy` selects the v1 field names).
fn count(
    record: &Record,
    legacy: bool,
    log: &mut EventLog,
    replaying: bool,
) -> Result<(), SkipReason> {
    let field = |v2: &str, v1: &str| {
        if legacy {
            record.field(v1)
        } else {
            record.field(v2)
        }
    };
    let event_type = scalar_text(field("eventType", "EventType"));
    if event_type.is_empty() {
        return Err(SkipReason::MissingField);
    }
    let event_state = scalar_text(field("eventState", "EventState"));
    let timestamp = if legacy {
        record.field("Timestamp")
    } else {
        record.either(&["timestamp", "timeStamp"])
    };
    let timestamp_ms = timestamp
        .as_timestamp_ms()
        .map_err(|_| SkipReason::InvalidValue)?
        .ok_or(SkipReason::MissingField)?;
    let print = fingerprint(&[
        scalar_text(field("eventID", "EventID")),
        event_type.clone(),
        event_state.clone(),
        timestamp_ms.to_string(),
        scalar_text(field("inSyncUserID", "inSyncUserID")),
        scalar_text(field("inSyncDataSourceID", "inSyncDataSourceID")),
        scalar_text(field("eventDetails", "EventDetails")),
    ]);
    let severity = scalar_text(field("severity", "Severity"));
    let event = EventKind {
        event_type: &event_type,
        event_state: &event_state,
        severity: &severity,
    };
    log.count(timestamp_ms, print, event, replaying);
    Ok(())
}

/// Counts the events of a page into `log` on a refresh thread (decoding is CPU work, below
/// the scrapes' priority); a v2 page (`legacy` false) also says what follows it.
async fn count_page(
    body: bytes::Bytes,
    legacy: bool,
    replaying: bool,
    log: &mut EventLog,
    skipped: &mut SkipCounts,
) -> Result<Option<PageInfo>, RefreshError> {
    let (mut page_log, mut page_skipped) = (std::mem::take(log), std::mem::take(skipped));
    let (result, page_log, page_skipped) = crate::runtime::background::run(move || {
        let result = count_rows(&body, legacy, replaying, &mut page_log, &mut page_skipped);
        (result, page_log, page_skipped)
    })
    .await;
    (*log, *skipped) = (page_log, page_skipped);
    result.map_err(|e| decode_error(&e))
}

/// Counts the events of a page of either API into `log`, and the rows it skips.
pub(super) fn count_rows(
    body: &[u8],
    legacy: bool,
    replaying: bool,
    log: &mut EventLog,
    skipped: &mut SkipCounts,
) -> Result<Option<PageInfo>, PageError> {
    let on_row = |row: Row| match row {
        Row::Record(record) => {
            if let Err(reason) = count(&record, legacy, log, replaying) {
                skipped.add(reason);
            }
        }
        Row::NotAnObject => skipped.add(SkipReason::NotAnObject),
    };
    if legacy {
        let seed = RowSeed {
            fields: LEGACY_FIELDS,
        };
        decode_rows(body, seed, on_row).map(|_| None)
    } else {
        let seed = RowSeed { fields: V2_FIELDS };
        decode_page(body, "events", seed, &["tracker", "nextPageExists"], on_row).map(Some)
    }
}

/// `GET /insync/eventmanagement/v2/events?tracker=…` until `nextPageExists` is false.
pub(crate) async fn read_v2(
    api: &DruvaApi,
    log: &mut EventLog,
    skipped: &mut SkipCounts,
    max_pages: u32,
) -> Result<(), RefreshError> {
    let mut tracker = log.cursor.clone();
    let mut replaying = false;
    for _ in 0..max_pages {
        let mut url = api.upstream.url("/insync/eventmanagement/v2/events");
        if let Some(t) = &tracker {
            url.query_pairs_mut().append_pair("tracker", t);
        }
        let answer = api
            .send(ENDPOINT, |token| {
                api.upstream
                    .http()
                    .get(url.clone())
                    .bearer_auth(token.expose())
                    .header(ACCEPT, "application/json")
            })
            .await?;
        let response = &answer.response;
        // A refused tracker answers 400 "Invalid tracker" or, once expired, 403 "explicit
        // deny" (with a freshly issued token, so it is not the token).
        if matches!(response.status, 400 | 403) && tracker.is_some() && !replaying {
            warn!(
                "events: the tracker was refused (it expires after 48 hours); reading the retained events again, skipping those already counted"
            );
            tracker = None;
            replaying = log.newest_ms.is_some();
            continue;
        }
        if !response.is_success() {
            return Err(unlicensed_hint(
                answer.error(ENDPOINT),
                "; is the Events API licensed for this tenant? Set events: none to skip events",
            ));
        }
        let info = count_page(response.body.clone(), false, replaying, log, skipped)
            .await?
            .unwrap_or_default();
        if let Some(next) = info.text("tracker").filter(|t| !t.is_empty()) {
            tracker = Some(next.to_string());
        }
        let more = info.flag("nextPageExists").unwrap_or(info.rows >= 500);
        if !more {
            break;
        }
    }
    log.cursor = tracker;
    Ok(())
}

/// The deprecated `/api/events/v1`: HTTP Basic, a `progress` cookie, and a `nextpage`
/// header while more than 500 events wait.
pub(crate) async fn read_legacy(
    upstream: &Upstream,
    admin_email: &str,
    token: &SecretRef,
    log: &mut EventLog,
    skipped: &mut SkipCounts,
    max_pages: u32,
) -> Result<(), RefreshError> {
    let token = token.load()?;
    let pair = basic_credentials(admin_email, &token);
    let start = upstream.url("/api/events/v1");
    let mut url = start.clone();
    let mut cookie = log.cursor.clone();
    let mut replaying = false;
    for _ in 0..max_pages {
        let mut request = upstream
            .http()
            .get(url.clone())
            .basic_auth(admin_email, Some(token.expose()))
            .header(ACCEPT, "application/json");
        if let Some(value) = &cookie {
            request = request.header(COOKIE, format!("progress={value}"));
        }
        let response = upstream.execute(ENDPOINT, request).await?;
        // 400 "Cookie expired" / "Cookie Invalid": the documented remedy is a call without it.
        if response.status == 400 && cookie.is_some() && !replaying {
            warn!(
                error = %excerpt(&String::from_utf8_lossy(&response.body), &[&token, &pair]),
                "events: the progress cookie was refused; reading the retained events again, skipping those already counted"
            );
            cookie = None;
            url = start.clone();
            replaying = log.newest_ms.is_some();
            continue;
        }
        if !response.is_success() {
            return Err(unlicensed_hint(
                status_error(ENDPOINT, &response, &[&token, &pair]),
                "; is the Events API licensed for this tenant?",
            ));
        }
        count_page(response.body.clone(), true, replaying, log, skipped).await?;
        if let Some(progress) = progress_cookie(&response.headers) {
            cookie = Some(progress);
        }
        let Some(next) = response
            .headers
            .get("nextpage")
            .and_then(|v| v.to_str().ok())
        else {
            break;
        };
        url = next_page_url(&start, next)?;
    }
    log.cursor = cookie;
    Ok(())
}

/// The legacy API's cursor: the value of the last `progress` cookie a response sets.
pub(super) fn progress_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.trim().strip_prefix("progress="))
        })
        .next_back()
        .map(str::to_string)
}

/// Druva's own domain: a `nextpage` on another of its hosts is followed from a configured
/// host in it.
const VENDOR_DOMAIN: &str = "druva.com";

/// The next page's URL, if the exporter may fetch it with the credentials: on the
/// configured origin, or over https on another host of Druva's own domain when the
/// configured host is in it. Never another domain, never plain http: either would hand
/// the credentials to someone else.
pub(super) fn next_page_url(base: &Url, next: &str) -> Result<Url, RefreshError> {
    let url = base.join(next).map_err(|e| RefreshError::Paging {
        endpoint: ENDPOINT,
        detail: format!("invalid nextpage header {next:?}: {e}"),
    })?;
    let in_vendor_domain = |u: &Url| {
        u.host_str().is_some_and(|host| {
            host == VENDOR_DOMAIN || host.ends_with(&format!(".{VENDOR_DOMAIN}"))
        })
    };
    let vendor_host = url.scheme() == "https" && in_vendor_domain(&url) && in_vendor_domain(base);
    if url.origin() != base.origin() && !vendor_host {
        return Err(RefreshError::Paging {
            endpoint: ENDPOINT,
            detail: format!(
                "nextpage points at {}, not at the configured {} or another https host of {VENDOR_DOMAIN}; refusing to follow it",
                url.origin().ascii_serialization(),
                base.origin().ascii_serialization()
            ),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextpage_stays_with_the_configured_host_or_druva() {
        let base = Url::parse("https://cloud.druva.com/api/events/v1").unwrap();
        let follow = |next: &str| next_page_url(&base, next).map(|u| u.to_string());
        assert_eq!(
            follow("https://cloud.druva.com/api/events/v1?page=2").unwrap(),
            "https://cloud.druva.com/api/events/v1?page=2"
        );
        assert!(follow("/api/events/v1?page=3").is_ok());
        // Another of the vendor's own hosts, as seed 004's host and the older API's differ.
        assert_eq!(
            follow("https://insyncapi-cloud.druva.com/api/events/v1?page=4").unwrap(),
            "https://insyncapi-cloud.druva.com/api/events/v1?page=4"
        );
        for refused in [
            "https://evil.example/steal",
            "https://druva.com.evil.example/steal",
            "https://evildruva.com/steal",
            "http://cloud.druva.com/api/events/v1",
        ] {
            assert!(follow(refused).is_err(), "{refused}");
        }
        // A configured host outside the vendor's domain (a proxy, a test) keeps its origin.
        let proxy = Url::parse("http://127.0.0.1:8080/api/events/v1").unwrap();
        assert!(next_page_url(&proxy, "http://127.0.0.1:8080/api/events/v1?page=2").is_ok());
        assert!(next_page_url(&proxy, "https://cloud.druva.com/api/events/v1?page=2").is_err());
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(
            fingerprint(&["a".into(), "b".into()]),
            fingerprint(&["a".into(), "b".into()])
        );
        assert_ne!(
            fingerprint(&["ab".into(), "".into()]),
            fingerprint(&["a".into(), "b".into()])
        );
    }
}
