//! A report row as the tenant writes it: JSON (strings or native values, any date style)
//! or CSV.

use super::{ArchiveTruth, Code42Tenant, SERVERS, ValueStyle, destination_index};
use crate::simulator::wire::{Obj, csv_field, format_date};

impl Code42Tenant {
    pub(super) fn write_row(&self, out: &mut String, row: &ArchiveTruth) {
        let dates = self.options.dates;
        let native = self.options.values == ValueStyle::Native;
        let date = |ms: i64| format_date(ms, dates);
        let mut obj = Obj::new(out);
        obj.str("archiveGuid", &row.archive_guid)
            .str("orgUid", &row.org_uid)
            .opt_str("orgName", row.org_named.then_some(row.org.as_str()))
            .null("orgExtRef")
            .str("userUid", &format!("93896027386{}", &row.device_uid[11..]))
            .str("username", &row.username)
            .str("email", &row.username)
            .null("userExtRef")
            .str("deviceUid", &row.device_uid)
            .str("deviceName", &row.device_name)
            .str("deviceOsHostname", &row.hostname)
            .null("deviceExtRef")
            .str(
                "destinationUid",
                &format!("63254023098492518{}", destination_index(&row.destination)),
            )
            .str("destinationName", &row.destination)
            .str("serverUid", "836476656572622471")
            .str("serverName", SERVERS[destination_index(&row.destination)])
            .str("version", &row.app_version)
            .str("status", if row.active { "Active" } else { "Deactivated" })
            .str(
                "userStatus",
                if row.active { "Active" } else { "Deactivated" },
            );
        write_alert_states(&mut obj, row, native);
        obj.str("os", &row.os)
            .str("osVersion", &row.os_version)
            .str("address", "192.168.1.10:4242")
            .str("remoteAddress", "73.53.78.104")
            .str("creationDate", &date(row.creation_ms));
        write_sizes(&mut obj, row, native);
        let completed = if row.completion_unreadable {
            Some("Invalid Date".to_string())
        } else {
            row.last_completed_ms.map(date)
        };
        obj.str("lastConnectedDate", &date(row.last_connected_ms))
            .opt_str("lastCompletedBackupDate", completed.as_deref())
            .opt_str(
                "lastActivity",
                if row.unreadable_activity {
                    Some("Invalid Date".to_string())
                } else {
                    row.last_activity_ms.map(date)
                }
                .as_deref(),
            )
            .null("mostRecentUserProfileCreationResult")
            .null("mostRecentUserProfileBackupResult")
            .end();
    }

    pub(super) fn csv(&self, rows: &[ArchiveTruth]) -> String {
        let mut out = String::from(
            "archiveGuid,orgUid,orgName,orgExtRef,userUid,username,email,userExtRef,deviceUid,deviceName,deviceOsHostname,deviceExtRef,destinationUid,destinationName,serverUid,serverName,version,status,userStatus,alertStates,os,osVersion,address,remoteAddress,creationDate,selectedBytes,backupCompletePercentage,archiveBytes,coldStorage,lastConnectedDate,lastCompletedBackupDate,lastActivity,mostRecentUserProfileCreationResult,mostRecentUserProfileBackupResult\n",
        );
        let date = |ms: Option<i64>| {
            ms.map_or("null".to_string(), |ms| format_date(ms, self.options.dates))
        };
        for row in rows {
            let states = if row.alert_states.is_empty() {
                "OK".to_string()
            } else {
                row.alert_states.join(" ")
            };
            let status = if row.active { "Active" } else { "Deactivated" };
            let fields = [
                row.archive_guid.clone(),
                row.org_uid.clone(),
                if row.org_named {
                    row.org.clone()
                } else {
                    "null".into()
                },
                "null".into(),
                format!("93896027386{}", &row.device_uid[11..]),
                row.username.clone(),
                row.username.clone(),
                "null".into(),
                row.device_uid.clone(),
                row.device_name.clone(),
                row.hostname.clone(),
                "null".into(),
                format!("63254023098492518{}", destination_index(&row.destination)),
                row.destination.clone(),
                "836476656572622471".into(),
                SERVERS[destination_index(&row.destination)].into(),
                row.app_version.clone(),
                status.into(),
                status.into(),
                states,
                row.os.clone(),
                row.os_version.clone(),
                "192.168.1.10:4242".into(),
                "73.53.78.104".into(),
                date(Some(row.creation_ms)),
                row.selected_bytes.to_string(),
                format!("{:.1}", row.complete_percent),
                row.archive_bytes.to_string(),
                row.cold_storage_unknown
                    .map_or(row.cold_storage.to_string(), str::to_string),
                date(Some(row.last_connected_ms)),
                if row.completion_unreadable {
                    "Invalid Date".into()
                } else {
                    date(row.last_completed_ms)
                },
                date(row.last_activity_ms),
                "null".into(),
                "null".into(),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_field(&mut out, field);
            }
            out.push('\n');
        }
        out
    }
}

/// `alertStates`: a JSON array of words with native values, else a comma-separated string;
/// `OK` when there is no alert.
fn write_alert_states(obj: &mut Obj, row: &ArchiveTruth, native: bool) {
    if native {
        let states: Vec<String> = if row.alert_states.is_empty() {
            vec!["\"OK\"".into()]
        } else {
            row.alert_states
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect()
        };
        obj.raw("alertStates", &format!("[{}]", states.join(",")));
    } else if row.alert_states.is_empty() {
        obj.str("alertStates", "OK");
    } else {
        obj.str("alertStates", &row.alert_states.join(", "));
    }
}

/// Sizes, completion and cold storage: numbers written as strings unless native; a cold
/// storage value that says nothing as the tenant sends it.
fn write_sizes(obj: &mut Obj, row: &ArchiveTruth, native: bool) {
    let number = |obj: &mut Obj, key: &str, text: String| {
        if native {
            obj.raw(key, &text);
        } else {
            obj.str(key, &text);
        }
    };
    number(obj, "selectedBytes", row.selected_bytes.to_string());
    number(
        obj,
        "backupCompletePercentage",
        format!("{:.1}", row.complete_percent),
    );
    number(obj, "archiveBytes", row.archive_bytes.to_string());
    match row.cold_storage_unknown {
        None => number(obj, "coldStorage", row.cold_storage.to_string()),
        Some("null") => {
            obj.null("coldStorage");
        }
        Some(text) => {
            obj.str("coldStorage", text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Code42Options, Code42Tenant};

    /// `docs/seed-fidelity.md` says the simulator serves every field of its Code42 table.
    #[test]
    fn every_row_serves_every_field_the_fidelity_page_lists() {
        let doc = include_str!("../../../docs/seed-fidelity.md");
        let start = doc.find("## Code42 DeviceBackupReport").unwrap();
        let table = &doc[start..][..doc[start..].find("\n## ").unwrap()];
        let tenant = Code42Tenant::generate(Code42Options::default(), 0);
        let truth = tenant.truth(0);
        let mut text = String::new();
        tenant.write_row(&mut text, &truth[0]);
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        let fields: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l[3..].split('`').next().unwrap())
            .collect();
        assert_eq!(fields.len(), 34);
        let missing: Vec<&&str> = fields.iter().filter(|f| !row.contains_key(**f)).collect();
        assert!(missing.is_empty(), "not served: {missing:?}");
    }
}
