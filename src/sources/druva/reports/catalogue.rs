//! The Microsoft 365 reports the exporter reads: how each is read (current state, totals or
//! jobs), the fields its rows carry, and the default list.

use serde::{Deserialize, Serialize};

use crate::sources::record::RowSeed;

/// How a report is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Rows describe the current state of resources or alerts and carry `lastUpdatedTime`:
    /// read completely (the API otherwise returns only the last 24 hours), then
    /// incrementally, merged by key.
    CurrentState,
    /// Totals without `lastUpdatedTime`: never filtered by it, replaced on every read.
    Totals,
    /// Backup and restore jobs: counted once each, when final.
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Operation {
    Backup,
    Restore,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Backup => "backup",
            Operation::Restore => "restore",
        }
    }
}

/// One report of the catalogue.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) id: &'static str,
    pub(crate) kind: Kind,
    /// The workload label of the report's rows, when the report is about one workload.
    pub(crate) workload: Option<&'static str>,
    pub(crate) operation: Option<Operation>,
    fields: &'static [&'static str],
}

impl Report {
    /// Its rows are per user (or per user workload): at scale, the longest reports.
    pub(crate) fn per_user(&self) -> bool {
        matches!(
            self.id,
            "m365UserWorkload"
                | "m365UserLastBackupStatus"
                | "m365UserProvisioning"
                | "m365PreservedUsersDatasources"
        )
    }

    pub(crate) fn seed(&self) -> RowSeed {
        RowSeed {
            fields: self.fields,
        }
    }
}

const RESOURCE_FIELDS: &[&str] = &[
    "addedOn",
    "appStatus",
    "backupFrequency",
    "errorDetailsNew",
    "errorDetailsOld",
    "groupDbId",
    "groupName",
    "isDeleted",
    "isdeleted",
    "lastAttemptedBackup",
    "lastBackupAttempted",
    "lastBackupStatus",
    "lastSuccessfulBackup",
    "lastSuccessfulbackup",
    "lastUpdatedTime",
    "siteDbId",
    "siteName",
    "statusDetails",
    "teamDbId",
    "teamName",
    "teamState",
    "totalBackupData",
    "userEmail",
    "userName",
    "workloadType",
];

const ACTIVITY_FIELDS: &[&str] = &[
    "backupStatus",
    "endTime",
    "errorDetailsNew",
    "errorDetailsOld",
    "filesMissed",
    "filesmissed",
    "itemsMissed",
    "jobId",
    "lastUpdatedTime",
    "restoreSize",
    "restoreStatus",
    "snapshotSize",
    "starTtime",
    "startTime",
    "statusDetails",
    "workloadType",
];

const fn report(
    id: &'static str,
    kind: Kind,
    workload: Option<&'static str>,
    operation: Option<Operation>,
    fields: &'static [&'static str],
) -> Report {
    Report {
        id,
        kind,
        workload,
        operation,
        fields,
    }
}

/// Every supported report, in reading order.
pub(crate) static REPORTS: &[Report] = &[
    report(
        "m365StorageConsumption",
        Kind::Totals,
        None,
        None,
        &[
            "disabled",
            "disabledBackupData",
            "enabled",
            "enabledBackupData",
            "resourceCount",
            "totalBackupData",
            "workloadName",
        ],
    ),
    report(
        "m365LicenseUsage",
        Kind::Totals,
        None,
        None,
        &[
            "activeLicenseUsed",
            "endDate",
            "period",
            "preservedLicenseUsed",
            "startDate",
            "totalActiveLicense",
            "totalPreservedLicense",
        ],
    ),
    report(
        "m365UserCountAndStatus",
        Kind::Totals,
        None,
        None,
        &[
            "endDate",
            "period",
            "startDate",
            "totalPreservedUsers",
            "totalUsers",
        ],
    ),
    report(
        "m365Alerts",
        Kind::CurrentState,
        None,
        None,
        &[
            "alertId",
            "isActive",
            "isDeleted",
            "isdeleted",
            "lastUpdatedTime",
            "severity",
        ],
    ),
    report(
        "m365UserWorkload",
        Kind::CurrentState,
        None,
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365UserLastBackupStatus",
        Kind::CurrentState,
        None,
        None,
        &[
            "endTime",
            "errorDetailsNew",
            "errorDetailsOld",
            "itemsBackedUp",
            "itemsMissed",
            "lastBackupData",
            "lastBackupStatus",
            "lastUpdatedTime",
            "startTime",
            "statusDetails",
            "userEmail",
            "userName",
            "workloadType",
        ],
    ),
    report(
        "m365UserProvisioning",
        Kind::CurrentState,
        None,
        None,
        &[
            "activeLicenseAllocated",
            "lastUpdatedTime",
            "m365LicenseState",
            "managedBy",
            "preservedLicenseAllocated",
            "smbLicenseAllocated",
            "userEmail",
            "userStatus",
        ],
    ),
    report(
        "m365PreservedUsersDatasources",
        Kind::CurrentState,
        None,
        None,
        &[
            "autoDeleteOn",
            "lastUpdatedTime",
            "totalBackupData",
            "userEmail",
            "userName",
        ],
    ),
    report(
        "m365SharePointSiteDiscovery",
        Kind::CurrentState,
        Some("SharePoint"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365TeamsDiscovery",
        Kind::CurrentState,
        Some("Teams"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365GroupsDiscovery",
        Kind::CurrentState,
        Some("Groups"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365GroupsBackupActivity",
        Kind::Activity,
        Some("Groups"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365GroupsRestoreActivity",
        Kind::Activity,
        Some("Groups"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365UserRestoreActivity",
        Kind::Activity,
        None,
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365PublicFolderBackupActivity",
        Kind::Activity,
        Some("Public Folders"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365PublicFolderRestoreActivity",
        Kind::Activity,
        Some("Public Folders"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365SharePointBackupActivity",
        Kind::Activity,
        Some("SharePoint"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365SharePointRestoreActivity",
        Kind::Activity,
        Some("SharePoint"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365TeamsBackupActivity",
        Kind::Activity,
        Some("Teams"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365TeamsRestoreActivity",
        Kind::Activity,
        Some("Teams"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
];

/// The IDs of every supported report, in catalogue order: the default of `reports`.
pub(crate) fn all_ids() -> Vec<&'static str> {
    REPORTS.iter().map(|report| report.id).collect()
}

pub(crate) fn find(id: &str) -> Option<&'static Report> {
    REPORTS.iter().find(|r| r.id == id)
}
