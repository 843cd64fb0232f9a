//! The API: OAuth and legacy user tokens, and `DeviceBackupReport` with its paging,
//! filters, sorting quirk and CSV export; Code42's error body.

use std::sync::Arc;

use super::{Archive, ArchiveTruth, Code42Tenant, DESTINATIONS, MAX_PAGE_SIZE, ORGS, OSES};
use crate::simulator::wire::{DateStyle, Obj, format_date, json_str};
use crate::simulator::{Reply, Request, Tokens};

impl Code42Tenant {
    /// `POST /api/v3/oauth/token?grant_type=client_credentials` with HTTP Basic.
    pub fn oauth_token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if request.query_value("grant_type") != Some("client_credentials") {
            return Reply::json(400, r#"{"error":"unsupported_grant_type"}"#.into());
        }
        if request.basic_auth()
            != Some((
                self.options.client_id.clone(),
                self.options.client_secret.clone(),
            ))
        {
            return code42_error(401, "HTTP 401 Could not authenticate user");
        }
        let (token, lifetime) = tokens.issue(now, 900);
        Reply::json(
            200,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{lifetime}}}"#
            ),
        )
    }

    /// `GET /api/v3/auth/jwt?useBody=true` with HTTP Basic user credentials.
    pub fn user_token(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if request.query_value("useBody") != Some("true") {
            return code42_error(400, "useBody=true is required");
        }
        if request.basic_auth()
            != Some((self.options.username.clone(), self.options.password.clone()))
        {
            return code42_error(401, "HTTP 401 Could not authenticate user");
        }
        let (token, _) = tokens.issue(now, 1800);
        Reply::json(200, format!(r#"{{"data":{{"v3_user_token":"{token}"}}}}"#))
    }

    /// `GET /api/DeviceBackupReport` and `/api/v1/DeviceBackupReport`.
    pub fn device_backup_report(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return code42_error(401, "HTTP 401 Unauthorized");
        }
        let number = |name: &str, default: usize| match request.query_value(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("Invalid value for {name}: {v}")),
        };
        let (page, size) = match (number("pgNum", 1), number("pgSize", MAX_PAGE_SIZE)) {
            (Ok(page), Ok(size)) => (page.max(1), size.clamp(1, MAX_PAGE_SIZE)),
            (Err(e), _) | (_, Err(e)) => return code42_error(400, &e),
        };
        let selection = self.select(request, now);
        let selected = || selection.iter().map(|&i| &self.archives[i]);
        if request.query_value("export") == Some("csv") {
            // All records, paging ignored even if pgSize is given.
            let rows: Vec<ArchiveTruth> = selected().map(|a| self.archive_at(a, now)).collect();
            return Reply {
                status: 200,
                content_type: "text/csv",
                headers: Vec::new(),
                body: self.csv(&rows).into_bytes(),
            };
        }
        let page_rows: Vec<ArchiveTruth> = match request.query_value("srtKey") {
            // "When sorting using the srtKey query parameter, paging is limited to the first page."
            Some(_) if page > 1 => Vec::new(),
            Some(key) => {
                let mut rows: Vec<ArchiveTruth> =
                    selected().map(|a| self.archive_at(a, now)).collect();
                sort_rows(
                    &mut rows,
                    key,
                    request.query_value("srtDir") == Some("desc"),
                );
                rows.truncate(size);
                rows
            }
            None => selected()
                .chain(selected().take(self.options.repeated_rows))
                .skip((page - 1) * size)
                .take(size)
                .map(|a| self.archive_at(a, now))
                .collect(),
        };
        let mut body = String::with_capacity(page_rows.len() * 1300 + 256);
        body.push_str(r#"{"metadata":{"timestamp":"#);
        json_str(&mut body, &format_date(now, DateStyle::Utc));
        body.push_str(r#","params":"#);
        let mut params = Obj::new(&mut body);
        for (k, v) in &request.query {
            params.str(k, v);
        }
        params.end();
        body.push_str(r#"},"data":["#);
        for (i, row) in page_rows.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            self.write_row(&mut body, row);
        }
        body.push_str("]}");
        Reply::json(200, body)
    }

    /// Indexes of the archives the request's filters select. Only `alerted` depends on the
    /// time, so other filters are remembered between the pages of one read.
    fn select(&self, request: &Request, now: i64) -> Arc<Vec<usize>> {
        let filters: Vec<String> = request
            .query
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    "pgNum" | "pgSize" | "srtKey" | "srtDir" | "export"
                )
            })
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let key = filters.join("&");
        let cacheable = !filters.iter().any(|f| f.starts_with("alerted="));
        let mut last = self.last_selection.lock().unwrap();
        if cacheable
            && let Some((last_key, selection)) = last.as_ref()
            && *last_key == key
        {
            return selection.clone();
        }
        let selection: Arc<Vec<usize>> = Arc::new(
            (0..self.archives.len())
                .filter(|&i| self.matches(&self.archives[i], request, now))
                .collect(),
        );
        if cacheable {
            *last = Some((key, selection.clone()));
        }
        selection
    }

    /// The report's flexible filters: partial, case-insensitive matches.
    fn matches(&self, archive: &Archive, request: &Request, now: i64) -> bool {
        let device = &self.devices[archive.device];
        let contains =
            |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        request.query.iter().all(|(key, value)| match key.as_str() {
            "active" => match value.as_str() {
                "true" => device.active,
                "false" => !device.active,
                _ => true,
            },
            "os" => contains(OSES[device.os].0, value),
            "org" => contains(ORGS[device.org], value),
            "user" => contains(&format!("user{:05}@example.com", device.user), value),
            "device" => contains(&device.name, value),
            "destination" => contains(DESTINATIONS[archive.destination], value),
            "deviceUid" => device.uid == *value,
            "alerted" => match value.as_str() {
                "true" => !self.alert_states(archive, now).is_empty(),
                "false" => self.alert_states(archive, now).is_empty(),
                _ => true,
            },
            _ => true,
        })
    }
}

fn sort_rows(rows: &mut [ArchiveTruth], key: &str, descending: bool) {
    match key {
        "lastConnectedDate" => rows.sort_by_key(|r| r.last_connected_ms),
        "archiveBytes" => rows.sort_by_key(|r| r.archive_bytes),
        "selectedBytes" => rows.sort_by_key(|r| r.selected_bytes),
        "lastCompletedBackupDate" => rows.sort_by_key(|r| r.last_completed_ms),
        _ => {}
    }
    if descending {
        rows.reverse();
    }
}

/// A Code42 error body: `[{"name":"SYSTEM","description":"..."}]`.
fn code42_error(status: u16, description: &str) -> Reply {
    let mut body = String::from("[");
    Obj::new(&mut body)
        .str("name", "SYSTEM")
        .str("description", description)
        .end();
    body.push(']');
    Reply::json(status, body)
}

/// The error body for an injected HTTP status.
pub(super) fn fault_body(status: u16) -> Reply {
    code42_error(status, &format!("HTTP {status} simulated failure"))
}
