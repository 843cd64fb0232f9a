//! Why a failing resource's backup fails, and why a SharePoint job did, as the reports
//! write it.

use super::{Kind, Resource};

/// Why a failing resource's backup fails: the field that says it, its text as written,
/// and the reasons (code, meaning) a faithful client reads from it, sorted by code.
pub(super) fn failure_text(
    r: &Resource,
) -> (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
) {
    let n = r.id.bytes().map(u64::from).sum::<u64>();
    match r.kind {
        Kind::Site => match n % 3 {
            // Quoted, as seed 003's description writes its example.
            0 => (
                "errorDetailsNew",
                "\"\"100010016,100000001\"\"",
                &[
                    ("100000001", "Internal error"),
                    ("100010016", "Site Not Found"),
                ],
            ),
            1 => (
                "errorDetailsNew",
                "10000000A",
                &[("10000000a", "Task Aborted")],
            ),
            _ => (
                "errorDetailsNew",
                "10001001f",
                &[("10001001f", "SharePoint Site Busy")],
            ),
        },
        Kind::Team => (
            "statusDetails",
            "EUSERNOTFOUND",
            &[("EUSERNOTFOUND", "EUSERNOTFOUND")],
        ),
        // Free text, as some rows carry: not a code.
        Kind::Group => (
            "statusDetails",
            "Backup failed: the group mailbox is on litigation hold",
            &[("other", "other")],
        ),
        Kind::User => ("statusDetails", "EINTERNAL", &[("EINTERNAL", "EINTERNAL")]),
    }
}

pub(super) fn failure(r: &Resource) -> &'static [(&'static str, &'static str)] {
    failure_text(r).2
}

/// A SharePoint job's `statusDetails` for its `status` (`-` when it went well), and the
/// reasons a faithful client reads from it: a site busy or locked for a failed or cancelled
/// backup, a file not found for one with errors, list items for a restore. One code:
/// `statusDetails` is not a list.
pub(super) fn job_failure(
    status: &str,
    h: u64,
) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match status {
        "Backup Failed" | "Backup Cancelled" if h % 2 == 0 => {
            ("10001001f", &[("10001001f", "SharePoint Site Busy")])
        }
        "Backup Failed" | "Backup Cancelled" => {
            ("100010024", &[("100010024", "SharePoint Site Locked")])
        }
        "Backed Up With Errors" => ("100010013", &[("100010013", "File Not Found")]),
        "Restore Failed" | "Restored With Errors" => {
            ("10001001c", &[("10001001c", "List Item Restore Failed")])
        }
        _ => ("-", &[]),
    }
}
