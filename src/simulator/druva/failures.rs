//! Why a failing resource's backup fails, as the reports write it.

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
            0 => (
                "errorDetailsNew",
                "100010016,100000001",
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
