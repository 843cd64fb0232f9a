//! The activity reports' jobs: what each report's jobs are about, how often they run, and
//! every job started by an instant.

use super::failures::job_failure;
use super::{DAY, DruvaTenant, HOUR, JOB_HISTORY, JobTruth, Kind, MINUTE, Resource, mix};

/// What an activity report's jobs are about; each one runs jobs at its own pace, so a
/// report's job rate grows with the number of them in the tenant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Subject {
    User,
    Site,
    Team,
    Group,
    PublicFolder,
}

/// (report, workload, backup?, what the jobs are about, jobs per day for each of them, the
/// longest gap between two jobs, first jobId). Backups follow the schedules of the discovery
/// reports (`backupFrequency` 4 hours to 7 days: about two a day on average; a team backs
/// up its metadata and its conversations as two jobs); restores are rare, and users start
/// their own. However small the tenant, each report has a job at least every gap.
pub(super) const ACTIVITY: &[(&str, &str, bool, Subject, f64, i64, u64)] = &[
    (
        "m365GroupsBackupActivity",
        "Groups",
        true,
        Subject::Group,
        2.0,
        50 * MINUTE,
        1_600,
    ),
    (
        "m365GroupsRestoreActivity",
        "Groups",
        false,
        Subject::Group,
        0.05,
        7 * HOUR,
        2_700,
    ),
    (
        "m365UserRestoreActivity",
        "",
        false,
        Subject::User,
        0.05,
        3 * HOUR,
        48,
    ),
    (
        "m365PublicFolderBackupActivity",
        "Public Folders",
        true,
        Subject::PublicFolder,
        12.0,
        2 * HOUR,
        131_100,
    ),
    (
        "m365PublicFolderRestoreActivity",
        "Public Folders",
        false,
        Subject::PublicFolder,
        0.2,
        11 * HOUR,
        131_200,
    ),
    (
        "m365SharePointBackupActivity",
        "SharePoint",
        true,
        Subject::Site,
        2.0,
        35 * MINUTE,
        79_800,
    ),
    (
        "m365SharePointRestoreActivity",
        "SharePoint",
        false,
        Subject::Site,
        0.05,
        5 * HOUR,
        79_500,
    ),
    (
        "m365TeamsBackupActivity",
        "Teams",
        true,
        Subject::Team,
        4.0,
        40 * MINUTE,
        51_200,
    ),
    (
        "m365TeamsRestoreActivity",
        "Teams",
        false,
        Subject::Team,
        0.05,
        9 * HOUR,
        52_700,
    ),
];

impl DruvaTenant {
    /// The resource of each subject index, in order (a user once, though the discovery
    /// reports have a row per workload); none for public folders, which they do not list.
    pub(super) fn subject_resources(&self, subject: Subject) -> Vec<&Resource> {
        let kind = match subject {
            Subject::User => Kind::User,
            Subject::Site => Kind::Site,
            Subject::Team => Kind::Team,
            Subject::Group => Kind::Group,
            Subject::PublicFolder => return Vec::new(),
        };
        let mut resources: Vec<&Resource> =
            self.resources.iter().filter(|r| r.kind == kind).collect();
        resources.dedup_by(|a, b| a.id == b.id);
        resources
    }

    /// How many sites, teams, groups, public folders or users the tenant has.
    pub(super) fn subjects(&self, subject: Subject) -> usize {
        let o = &self.options;
        match subject {
            Subject::User => o.users,
            Subject::Site => o.sites,
            Subject::Team => o.teams,
            Subject::Group => o.groups,
            Subject::PublicFolder => 2 + o.users / 500,
        }
    }

    /// Every job started by `now`.
    pub fn jobs(&self, now: i64) -> Vec<JobTruth> {
        let mut jobs = Vec::new();
        let from = self.start_ms - JOB_HISTORY;
        for (r, (report, workload, backup, subject, per_day, longest_gap, first_id)) in
            ACTIVITY.iter().enumerate()
        {
            let subjects = self.subjects(*subject).max(1);
            let spacing =
                ((DAY as f64 / (subjects as f64 * per_day)) as i64).clamp(1000, *longest_gap);
            let offset = (mix(self.options.seed, r as u64) % spacing as u64) as i64;
            let mut k = 0u64;
            loop {
                let start = from + offset + k as i64 * spacing;
                if start > now {
                    break;
                }
                let h = mix(self.options.seed ^ 0x10b, (r as u64) << 32 | k);
                let duration = MINUTE * (5 + (h % 45) as i64);
                let end = start + duration;
                let finished = end <= now;
                let status = match (finished, backup, h % 25) {
                    (false, _, _) => "In Progress",
                    (true, true, 0..=19) => "Backed Up Successfully",
                    (true, true, 20..=21) => "Backed Up With Errors",
                    (true, true, 22..=23) => "Backup Failed",
                    (true, true, _) => "Backup Cancelled",
                    (true, false, 0..=20) => "Restore Successful",
                    (true, false, 21..=22) => "Restored With Errors",
                    (true, false, _) => "Restore Failed",
                };
                jobs.push(JobTruth {
                    report,
                    id: first_id + k,
                    subject: (h >> 16) % subjects as u64,
                    workload: if workload.is_empty() {
                        ["Exchange Online", "OneDrive"][(k % 2) as usize]
                    } else {
                        workload
                    },
                    backup: *backup,
                    start_ms: start,
                    end_ms: finished.then_some(end),
                    status,
                    bytes: if finished {
                        10_000 + h % 5_000_000_000
                    } else {
                        0
                    },
                    files_missed: match status {
                        "Backed Up With Errors" | "Restored With Errors" => 1 + (h >> 8) % 40,
                        "Backup Failed" | "Restore Failed" => (h >> 8) % 5,
                        _ => 0,
                    },
                    last_updated_ms: if finished { end + 1000 } else { start },
                    status_details: report
                        .starts_with("m365SharePoint")
                        .then(|| job_failure(status, h).0),
                    reasons: if report.starts_with("m365SharePoint") {
                        job_failure(status, h).1
                    } else {
                        &[]
                    },
                });
                k += 1;
            }
        }
        jobs
    }
}
