//! The inSync Events API: the tenant's event log, the v2 API (bearer token, tracker) and
//! the deprecated v1 (HTTP Basic, `progress` cookie, `nextpage` header).

use base64::Engine as _;

use super::{
    DAY, DruvaTenant, EVENT_CURSOR_LIFETIME, EVENT_HISTORY, EVENT_SPACING, EVENTS_PER_PAGE,
    EventTruth, envelope, mix, unauthorized,
};
use crate::simulator::wire::{DateStyle, Obj, format_date, json_str};
use crate::simulator::{Reply, Request, Tokens};

/// Event types and states, with the syslog severity inSync gives them.
const EVENT_KINDS: &[(&str, &str, u8)] = &[
    ("Backup", "Success", 6),
    ("Backup", "Success", 6),
    ("Backup", "Success", 6),
    ("Backup", "Backed up with Errors", 4),
    ("Backup", "Failed", 3),
    ("Backup", "Backup Paused", 5),
    ("Restore", "Success", 6),
    ("Restore", "Failed", 3),
    ("Alerts", "Alert Notification", 4),
    ("API Login", "Success", 6),
    ("Admin Audit Trail", "Admin Event", 5),
];

impl DruvaTenant {
    /// Every event logged by `now`, oldest first.
    pub fn events(&self, now: i64) -> Vec<EventTruth> {
        let first = self.start_ms - EVENT_HISTORY;
        let count = if now < first {
            0
        } else {
            (now - first) / EVENT_SPACING + 1
        };
        (0..count as u64).map(|i| self.event(i)).collect()
    }

    fn event(&self, index: u64) -> EventTruth {
        let h = mix(self.options.seed ^ 0xe7e, index);
        let (event_type, event_state, severity) =
            EVENT_KINDS[(h % EVENT_KINDS.len() as u64) as usize];
        EventTruth {
            index,
            // Second precision, as the API writes it.
            timestamp_ms: (self.start_ms - EVENT_HISTORY + index as i64 * EVENT_SPACING) / 1000
                * 1000,
            event_type,
            event_state,
            severity,
            user_id: 1 + h % 50,
        }
    }

    /// `GET /insync/eventmanagement/v2/events[?tracker=…]`.
    pub fn events_v2(&self, request: &Request, tokens: &Tokens, now: i64) -> Reply {
        if !tokens.is_valid(request.bearer(), now) {
            return unauthorized();
        }
        let from = match request.query_value("tracker") {
            None => self.first_retained(now),
            Some(tracker) => match decode_cursor(tracker) {
                None => return envelope(400, "InsyncEvents-400", "Invalid tracker", false),
                Some((_, issued)) if now - issued > EVENT_CURSOR_LIFETIME => {
                    return envelope(
                        403,
                        "AccessDenied",
                        "User is not authorized to access this resource with an explicit deny",
                        false,
                    );
                }
                Some((index, _)) => index.max(self.first_retained(now)),
            },
        };
        let all = self.events(now);
        let (page, next) = page_from(&all, from);
        let mut body = String::from(r#"{"tracker":"#);
        json_str(&mut body, &encode_cursor(next, now));
        body.push_str(&format!(
            r#","nextPageExists":{},"events":["#,
            (next as usize) < all.len()
        ));
        for (i, event) in page.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            write_v2_event(&mut body, event);
        }
        body.push_str("]}");
        Reply::json(200, body)
    }

    /// The deprecated `GET /api/events/v1`: HTTP Basic, `progress` cookie, `nextpage` header.
    pub fn events_legacy(&self, request: &Request, now: i64, base_url: &str) -> Reply {
        if request.basic_auth()
            != Some((
                self.options.admin_email.clone(),
                self.options.api_token.clone(),
            ))
        {
            return Reply::json(401, r#"{"error":"unauthorized"}"#.into());
        }
        let cookie = request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("progress=").map(str::to_string));
        let from = match cookie {
            None => self.first_retained(now),
            Some(value) => match decode_cursor(&value) {
                None => return Reply::json(400, r#"{"error":"Cookie Invalid"}"#.into()),
                Some((_, issued)) if now - issued > EVENT_CURSOR_LIFETIME => {
                    return Reply::json(400, r#"{"error":"Cookie expired"}"#.into());
                }
                Some((index, _)) => index.max(self.first_retained(now)),
            },
        };
        let all = self.events(now);
        let (page, next) = page_from(&all, from);
        let mut body = String::from("[");
        for (i, event) in page.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            write_legacy_event(&mut body, event);
        }
        body.push(']');
        if self.options.legacy_bare_shapes {
            // As Druva's page shows the reply: one event is its object, none is nothing.
            body = match page.len() {
                0 => String::new(),
                1 => body[1..body.len() - 1].to_string(),
                _ => body,
            };
        }
        let mut reply = Reply::json(200, body);
        reply.headers.push((
            http::header::SET_COOKIE,
            format!("progress={}; Path=/", encode_cursor(next, now)),
        ));
        if (next as usize) < all.len() {
            reply.headers.push((
                http::HeaderName::from_static("nextpage"),
                format!("{base_url}/api/events/v1?page={next}"),
            ));
        }
        reply
    }

    /// Index of the oldest retained event (30 days).
    fn first_retained(&self, now: i64) -> u64 {
        let first = self.start_ms - EVENT_HISTORY;
        ((now - 30 * DAY - first).max(0) / EVENT_SPACING) as u64
    }
}

/// An event as the v2 API writes it.
fn write_v2_event(body: &mut String, event: &EventTruth) {
    let mut obj = Obj::new(body);
    obj.int("eventID", 100 + event.index as i64)
        .opt_str(
            "initiator",
            (event.event_type == "Admin Audit Trail").then_some("ernie.carter@example.com"),
        )
        .int("inSyncDataSourceID", 80 + event.user_id as i64)
        .str("inSyncDataSourceName", "OneDrive")
        .str("clientVersion", "7.2.0r(e67f3e32)")
        .str("clientOS", "Office 365 OneDrive")
        .int("inSyncUserID", event.user_id as i64)
        .str("inSyncUserName", &format!("User {:04}", event.user_id))
        .str(
            "inSyncUserEmail",
            &format!("user{:04}@m365.example.com", event.user_id),
        )
        .int("profileID", 1)
        .str("profileName", "Default")
        .str("eventType", event.event_type)
        .str("eventState", event.event_state)
        .str(
            "eventDetails",
            "Total Backup Size:0, Files Backed up:0, Files Missed:0, eventsGroupId:2",
        )
        .str(
            "timestamp",
            &format_date(event.timestamp_ms, DateStyle::UtcSeconds),
        )
        .int("severity", i64::from(event.severity))
        .str("ip", "192.168.0.10")
        .int("facility", 23)
        .end();
}

/// An event as the legacy API writes it: capitalised keys, a `MM/DD/YY HH:MM ` time.
fn write_legacy_event(body: &mut String, event: &EventTruth) {
    let mut obj = Obj::new(body);
    obj.int("EventID", 100 + event.index as i64)
        .str("Initiator", "cloud.admin@example.com")
        .str("inSyncDataSourceName", "Admin’s Mac mini")
        .str("ClientVersion", "5.9.5r54841")
        .int("Facility", 23)
        .str("EventType", event.event_type)
        .str("ClientOS", "Mac OS X")
        .int("inSyncUserID", event.user_id as i64)
        .int("inSyncDataSourceID", 80 + event.user_id as i64)
        .str("EventState", event.event_state)
        .str("EventDetails", "Device backup event")
        .str("IP", "192.168.0.0")
        .int("ProfileID", 1)
        .str("ProfileName", "Default")
        // MM/DD/YY HH:MM with the trailing space of the documentation's sample.
        .str(
            "Timestamp",
            &(chrono::DateTime::from_timestamp_millis(event.timestamp_ms)
                .expect("time")
                .format("%m/%d/%y %H:%M ")
                .to_string()),
        )
        .str("inSyncUserName", &format!("User {:04}", event.user_id))
        .int("Severity", i64::from(event.severity))
        .end();
}

fn encode_cursor(index: u64, issued_ms: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{index}:{issued_ms}"))
}

fn decode_cursor(text: &str) -> Option<(u64, i64)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (index, issued) = text.split_once(':')?;
    Some((index.parse().ok()?, issued.parse().ok()?))
}

/// The page of events from index `from` on, and the index after it.
fn page_from(all: &[EventTruth], from: u64) -> (Vec<&EventTruth>, u64) {
    let page: Vec<&EventTruth> = all
        .iter()
        .skip(from as usize)
        .take(EVENTS_PER_PAGE)
        .collect();
    let next = from + page.len() as u64;
    (page, next)
}
