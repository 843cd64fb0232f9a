//! How a tenant is generated: each workload's resources, their health and schedules, and
//! the alerts, all from the options' seed.

use fastrand::Rng;

use super::{Alert, DAY, DruvaOptions, DruvaTenant, HOUR, Health, Kind, MINUTE, Resource};

impl DruvaTenant {
    /// Generates a tenant. Resources are mostly healthy; the first ones of each kind cover
    /// stale (2, 4, 10, 15 days), failing and never-backed-up cases; some are deleted.
    pub fn generate(options: DruvaOptions, start_ms: i64) -> DruvaTenant {
        // One generator for all, in this order, so a seed always gives the same tenant.
        let mut rng = Rng::with_seed(options.seed ^ 0xd12a);
        let mut resources = user_workloads(&mut rng, options.users, start_ms);
        for (kind, count, base_id) in [
            (Kind::Site, options.sites, 131_400u64),
            (Kind::Team, options.teams, 12_800),
            (Kind::Group, options.groups, 85_200),
        ] {
            resources.extend(collaboration(&mut rng, kind, count, base_id, start_ms));
        }
        let alerts = alerts(&mut rng, start_ms);
        DruvaTenant {
            options,
            start_ms,
            resources,
            alerts,
            page_tokens: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// A resource's health: the first eight of each kind cover stale (2, 4, 10, 15 days),
/// failing, never-backed-up and with-errors cases; the rest are mostly healthy.
fn health(rng: &mut Rng, i: usize, start_ms: i64) -> Health {
    let ago = |d: f64| start_ms - (d * DAY as f64) as i64;
    match if i < 8 { i } else { rng.usize(0..40) } {
        1 => Health::StaleSince(ago(2.2 + rng.f64() * 0.5)),
        2 => Health::StaleSince(ago(4.0 + rng.f64())),
        3 => Health::StaleSince(ago(10.0 + rng.f64())),
        4 => Health::StaleSince(ago(14.0 + rng.f64() * 0.9)),
        5 => Health::FailingSince(ago(3.0 + rng.f64() * 2.0)),
        6 => Health::Never,
        // Draws what a healthy one draws, so the tenant is the same but for the status.
        7 => Health::WithErrors {
            period: [HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR][rng.usize(..4)],
            phase: rng.i64(0..DAY),
        },
        _ => Health::Healthy {
            period: [HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR][rng.usize(..4)],
            phase: rng.i64(0..DAY),
        },
    }
}

/// Each user's two workloads, Exchange Online and OneDrive.
fn user_workloads(rng: &mut Rng, users: usize, start_ms: i64) -> Vec<Resource> {
    let mut resources = Vec::new();
    for i in 0..users {
        let email = format!("user{i:04}@m365.example.com");
        let name = if i == 1 {
            "Zoë \"Z\" O'Brien".to_string()
        } else {
            format!("User {i:04}")
        };
        for (w, workload) in ["Exchange Online", "OneDrive"].iter().enumerate() {
            let enabled = rng.f64() < 0.95;
            let h = match health(rng, if w == 0 { i } else { i + 3 }, start_ms) {
                // A user whose backup was disabled stopped backing up then.
                _ if !enabled => Health::StaleSince(start_ms - rng.i64(5 * DAY..30 * DAY)),
                h => h,
            };
            resources.push(Resource {
                kind: Kind::User,
                workload,
                id: email.clone(),
                name: name.clone(),
                email: email.clone(),
                added_ms: start_ms - rng.i64(20 * DAY..400 * DAY),
                health: h,
                frequency: 0,
                bytes: rng.u64(1_000_000..20_000_000_000),
                enabled,
                archived: false,
                deleted_at: None,
                purged_at: None,
            });
        }
    }
    resources
}

/// The sites, teams or groups (`kind`) of the tenant, `count` of them with IDs from
/// `base_id`: schedules from four hours to a week, every seventh team archived, a few
/// disabled, deleted or purged.
fn collaboration(
    rng: &mut Rng,
    kind: Kind,
    count: usize,
    base_id: u64,
    start_ms: i64,
) -> Vec<Resource> {
    const FREQUENCIES: [i64; 7] = [720, 1440, 4320, 10080, 480, 2880, 240];
    let mut resources = Vec::new();
    for i in 0..count {
        let id = base_id + i as u64 * 3;
        let name = match (kind, i) {
            (Kind::Team, 1) => "¡¢£¤¥µ¶ÝÞß¿-उत्तम-!$pc2".to_string(),
            (Kind::Site, 2) => "007 - pvt-channel-new \\ \"quoted\"".to_string(),
            (Kind::Site, _) => format!("site-{id}"),
            (Kind::Team, _) => format!("team-{id}"),
            _ => format!("group-{id}"),
        };
        // Every seventh team is archived, and has not backed up since.
        let archived = kind == Kind::Team && i % 7 == 6;
        // The first ones, which cover the stale cases, stay enabled.
        let enabled = i < 8 || rng.f64() < 0.9;
        let h = if archived || !enabled {
            Health::StaleSince(start_ms - rng.i64(5 * DAY..30 * DAY))
        } else {
            health(rng, i, start_ms)
        };
        // The stale cases have known schedules, so each crosses a known threshold:
        // 2 days behind a 12-hour schedule, 4 behind a 2-day one, 10 behind a
        // daily one, 14 behind a weekly one, failing on a daily one.
        let frequency = match (i, h) {
            (_, Health::Never) => [0, 1440][i % 2],
            (1, _) => 720,
            (2, _) => 2880,
            (3 | 5, _) => 1440,
            (4, _) => 10080,
            _ => FREQUENCIES[rng.usize(..FREQUENCIES.len())],
        };
        // A couple of resources of each kind are deleted, one of them a few minutes
        // into the tenant's life so incremental reads see it happen.
        let deleted_at = match i {
            9 => Some(start_ms - 3 * HOUR),
            10 => Some(start_ms + 10 * MINUTE),
            _ => None,
        };
        let purged_at = (i == 11).then_some(start_ms + 30 * MINUTE);
        resources.push(Resource {
            kind,
            workload: "",
            id: id.to_string(),
            email: format!("{name}@m365.example.com"),
            name,
            added_ms: start_ms - rng.i64(20 * DAY..400 * DAY),
            health: h,
            frequency,
            bytes: rng.u64(100_000..50_000_000_000),
            enabled,
            archived,
            deleted_at,
            purged_at,
        });
    }
    resources
}

/// Forty alerts over the last twenty days: some resolved, some deleted.
fn alerts(rng: &mut Rng, start_ms: i64) -> Vec<Alert> {
    let severities = ["Warning", "Critical", "High"];
    let details = [
        "Backup Failed",
        "SharePoint Site Busy",
        "Quota limit reached",
        "Authorization Failed",
        "Throttling Issue",
    ];
    (0..40)
        .map(|i| {
            let first_ms = start_ms - rng.i64(HOUR..20 * DAY);
            Alert {
                id: 4_500 + i,
                severity: severities[(i % 3) as usize],
                details: details[rng.usize(..details.len())],
                first_ms,
                resolved_at: (i % 4 == 3).then(|| first_ms + rng.i64(HOUR..DAY)),
                deleted: i % 10 == 9,
            }
        })
        .collect()
}
