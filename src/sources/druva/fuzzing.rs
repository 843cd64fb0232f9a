//! Druva's fuzz targets: a page of each report, and both Events APIs (a v2 page, and a
//! legacy response: its `Set-Cookie` and `nextpage` headers and its body). Its state file
//! is the registry's `druva_state`.

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::api::decode_report_page;
use super::events::{count_rows, next_page_url, progress_cookie};
use super::reports::REPORTS;
use super::state::{DruvaState, EventLog};
use super::{config, families};
use crate::sources::SkipCounts;
use crate::sources::fuzzing::{FuzzTarget, NOW_MS, enter, expose};

pub(super) const TARGETS: &[FuzzTarget] = &[
    FuzzTarget {
        name: "druva_report_page",
        run: report_page,
    },
    FuzzTarget {
        name: "druva_events_v2",
        run: events_v2,
    },
    FuzzTarget {
        name: "druva_events_legacy",
        run: events_legacy,
    },
];

/// The first byte picks the report (every one in the catalogue), the rest is its page:
/// decoded as a refresh decodes it, merged into a state as a full read, then exposed.
fn report_page(data: &[u8]) {
    enter();
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let report = &REPORTS[usize::from(pick) % REPORTS.len()];
    if let Ok(page) = decode_report_page(report, body) {
        let mut state = DruvaState::default();
        state.apply(report, page.rows, true);
        expose(&state, families::FAMILIES, NOW_MS);
    }
}

/// A page of `/insync/eventmanagement/v2/events`, counted into a fresh event log.
fn events_v2(data: &[u8]) {
    enter();
    count_events(data, false);
}

/// A response of `/api/events/v1`: header lines (`Name: value`) up to an empty line, then
/// the body. The cursor is read from `Set-Cookie`; a `nextpage` is followed only on the
/// configured origin or an https host of Druva's own domain.
fn events_legacy(data: &[u8]) {
    enter();
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) {
            headers.append(name, value);
        }
    }
    if let Some(cookie) = progress_cookie(&headers) {
        assert!(!cookie.contains(';'), "the cookie is its value alone");
    }
    let start = Url::parse(config::DEFAULT_LEGACY_EVENTS_URL)
        .and_then(|url| url.join("/api/events/v1"))
        .expect("the default URL");
    if let Some(next) = headers.get("nextpage").and_then(|v| v.to_str().ok())
        && let Ok(url) = next_page_url(&start, next)
    {
        let host = url.host_str().unwrap_or_default();
        assert_eq!(url.scheme(), "https", "{url}");
        assert!(host == "druva.com" || host.ends_with(".druva.com"), "{url}");
    }
    count_events(body, true);
}

fn count_events(body: &[u8], legacy: bool) {
    let mut log = EventLog::default();
    let mut skipped = SkipCounts::default();
    if count_rows(body, legacy, false, &mut log, &mut skipped).is_ok() {
        let state = DruvaState {
            events: Some(log),
            ..DruvaState::default()
        };
        expose(&state, families::FAMILIES, NOW_MS);
    }
}
