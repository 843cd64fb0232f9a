//! The reporting API: the OAuth token, report pages with their filters, page-size cap and
//! five-minute page tokens, and the error envelope.

use std::collections::HashMap;

use base64::Engine as _;

use super::reports::{Filter, date_ms, report_has_last_updated};
use super::{DAY, DruvaTenant, MAX_PAGE_SIZE, PAGE_TOKEN_LIFETIME, PageCursor};
use crate::simulator::wire::{DateStyle, Obj, format_date, json_str};
use crate::simulator::{Reply, Request, Tokens};

impl DruvaTenant {
    /// `POST /token`: form body `grant_type=client_credentials&scope=read`, HTTP Basic.
    pub fn token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        let form: HashMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Reply::json(400, r#"{"error":"unsupported_grant_type"}"#.into());
        }
        if request.basic_auth()
            != Some((
                self.options.client_id.clone(),
                self.options.client_secret.clone(),
            ))
        {
            return Reply::json(400, r#"{"error":"invalid_grant"}"#.into());
        }
        let (token, lifetime) = tokens.issue(now, 1800);
        Reply::json(
            200,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{lifetime}}}"#
            ),
        )
    }

    /// `POST /platform/reporting/v1/reports/{reportID}`.
    pub fn report(&self, report: &str, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return unauthorized();
        }
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return envelope(400, "InvalidRequestBody", "request body is not JSON", false);
        };
        let page_token = body.get("pageToken").and_then(|v| v.as_str()).unwrap_or("");
        if !page_token.is_empty() {
            if body.get("filters").is_some() {
                return envelope(
                    400,
                    "InvalidRequest",
                    "provide either filters or pageToken, not both",
                    false,
                );
            }
            return self.next_page(page_token, now);
        }
        let filters = body
            .get("filters")
            .cloned()
            .unwrap_or(serde_json::json!({}));
        self.first_page(report, filters, now)
    }

    /// The first page of `report` with the request's `filters`.
    fn first_page(&self, report: &str, filters: serde_json::Value, now: i64) -> Reply {
        let Some(has_updated_time) = report_has_last_updated(report) else {
            return envelope(
                404,
                "ReportNotFound",
                &format!("report {report} not found"),
                false,
            );
        };
        let page_size = filters
            .get("pageSize")
            .and_then(|v| v.as_u64())
            .unwrap_or(100)
            .clamp(1, MAX_PAGE_SIZE as u64) as usize;
        let filter_by: Vec<Filter> = match filters
            .get("filterBy")
            .map(|f| serde_json::from_value(f.clone()))
        {
            None => Vec::new(),
            Some(Ok(f)) => f,
            Some(Err(e)) => return envelope(400, "InvalidFilter", &e.to_string(), false),
        };
        // Reports without lastUpdatedTime reject a filter on it (as the MSP variants do).
        if !has_updated_time && filter_by.iter().any(|f| f.field_name == "lastUpdatedTime") {
            return envelope(
                400,
                "InvalidFilter",
                &format!("lastUpdatedTime is not a field of {report}"),
                false,
            );
        }
        // "If you do not specify a date filter, the lastUpdatedTime filter is set to 1 day."
        let default_window =
            has_updated_time && !filter_by.iter().any(|f| f.field_name == "lastUpdatedTime");
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows(report, now)
            .into_iter()
            .filter(|row| {
                let recent = !default_window
                    || row
                        .get("lastUpdatedTime")
                        .and_then(|v| v.as_str())
                        .is_some_and(|t| date_ms(t) >= now - DAY);
                recent && filter_by.iter().all(|f| f.matches(row))
            })
            .collect();
        let rows: Vec<String> = rows
            .into_iter()
            .map(|r| serde_json::Value::Object(r).to_string())
            .collect();
        let mut echo = filters.clone();
        if default_window && let Some(obj) = echo.as_object_mut() {
            let mut by = filter_by.iter().map(Filter::to_json).collect::<Vec<_>>();
            by.push(serde_json::json!({"fieldName": "lastUpdatedTime", "value": format_date(now - DAY, DateStyle::UtcSeconds), "operator": "gte"}));
            obj.insert("filterBy".into(), by.into());
        }
        self.page(
            PageCursor {
                rows,
                offset: 0,
                page_size,
                filters: echo.to_string(),
                issued_ms: now,
            },
            now,
        )
    }

    /// Forgets every page token handed out (as if five minutes had passed).
    pub fn expire_page_tokens(&self) {
        self.page_tokens.lock().expect("page tokens").clear();
    }

    fn next_page(&self, token: &str, now: i64) -> Reply {
        let cursor = self.page_tokens.lock().expect("page tokens").remove(token);
        match cursor {
            Some(cursor) if now - cursor.issued_ms <= PAGE_TOKEN_LIFETIME => self.page(
                PageCursor {
                    issued_ms: now,
                    ..cursor
                },
                now,
            ),
            // The code string of this error is not documented; this one is a guess.
            _ => envelope(
                400,
                "InvalidPageToken",
                "the page token is invalid or has expired",
                false,
            ),
        }
    }

    fn page(&self, mut cursor: PageCursor, now: i64) -> Reply {
        let end = (cursor.offset + cursor.page_size).min(cursor.rows.len());
        let mut body = String::from(r#"{"data":["#);
        body.push_str(&cursor.rows[cursor.offset..end].join(","));
        body.push_str(r#"],"filters":"#);
        body.push_str(&cursor.filters);
        body.push_str(r#","lastSyncTimestamp":"#);
        json_str(&mut body, &format_date(now, DateStyle::UtcSeconds));
        body.push_str(r#","nextPageToken":"#);
        if end < cursor.rows.len() {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{:016x}:{end}", fastrand::u64(..)));
            json_str(&mut body, &token);
            cursor.offset = end;
            self.page_tokens
                .lock()
                .expect("page tokens")
                .insert(token, cursor);
        } else {
            body.push_str("\"\"");
        }
        body.push('}');
        Reply::json(200, body)
    }
}

/// Druva's error envelope.
/// Druva's 401 for a request without a valid bearer token.
pub(super) fn unauthorized() -> Reply {
    envelope(
        401,
        "InsyncEndpoints-1001",
        "did not include an authentication token or an expired authentication token was supplied",
        false,
    )
}

pub(super) fn envelope(status: u16, code: &str, message: &str, retryable: bool) -> Reply {
    let mut body = String::new();
    Obj::new(&mut body)
        .str("code", code)
        .str("message", message)
        .raw("retryable", if retryable { "true" } else { "false" })
        .raw("data", "{}")
        .end();
    Reply::json(status, body)
}
