//! How an estate is generated: devices of every class of health, their archives and
//! destinations, all from the options' seed.

use fastrand::Rng;

use super::{
    APP_VERSIONS, Archive, Code42Options, Code42Tenant, Connection, DAY, DESTINATIONS, Device,
    HOUR, Health, MINUTE, ORGS, OSES,
};

impl Code42Tenant {
    /// Generates an estate. The first devices cover every case (3, 5, 7 and 30+ days
    /// stale, never completed, disconnected, deactivated) so even a small tenant has them;
    /// the rest are drawn at random.
    pub fn generate(options: Code42Options, start_ms: i64) -> Code42Tenant {
        let mut rng = Rng::with_seed(options.seed);
        let mut devices = Vec::with_capacity(options.devices);
        let mut archives = Vec::with_capacity(options.devices * 13 / 10);
        for i in 0..options.devices {
            let class = if i < 10 { i } else { pick_class(&mut rng) };
            let os = rng.usize(..OSES.len());
            let (health, connection, active) = class_health(&mut rng, class, start_ms);
            let creation_ms = match health {
                Health::Never => days_ago(&mut rng, start_ms, 1.0, 20.0),
                _ => days_ago(&mut rng, start_ms, 200.0, 2000.0),
            };
            devices.push(Device {
                uid: (954_143_368_874_689_941u64 + i as u64 * 7_919).to_string(),
                name: device_name(i, os),
                hostname: format!("host-{i:05}"),
                org: if i < ORGS.len() {
                    i
                } else {
                    rng.usize(..ORGS.len())
                },
                user: i * 5 / 6,
                os,
                os_version: OSES[os].1[rng.usize(..OSES[os].1.len())],
                app_version: APP_VERSIONS[rng.usize(..APP_VERSIONS.len())],
                active,
                creation_ms,
                connection,
            });
            let destinations = if i % 10 < 3 { 2 } else { 1 };
            for d in 0..destinations {
                // A second destination is usually fine even when the first is not.
                let health = if d == 1 && rng.f64() < 0.6 && active {
                    healthy(&mut rng)
                } else {
                    health
                };
                let selected = 200_000_000 + rng.u64(..80_000_000_000);
                archives.push(Archive {
                    index: archives.len(),
                    guid: (854_143_426_849_296_547u64 + archives.len() as u64 * 104_729)
                        .to_string(),
                    device: i,
                    destination: (i + d) % DESTINATIONS.len(),
                    health,
                    selected_bytes: selected,
                    archive_bytes: selected / 100 * rng.u64(60..130),
                    cold_storage: class == 4 && d == 0 || class == 8,
                });
            }
        }
        Code42Tenant {
            options,
            devices,
            archives,
            last_selection: std::sync::Mutex::new(None),
        }
    }
}

/// An instant between `min_days` and `max_days` before `start_ms`.
fn days_ago(rng: &mut Rng, start_ms: i64, min_days: f64, max_days: f64) -> i64 {
    start_ms - ((min_days + rng.f64() * (max_days - min_days)) * DAY as f64) as i64
}

/// A device's health, connection and whether it is active, by its class: 1–3 stale 3, 5
/// and 7 days, 4 stale and offline for a month, 5 never completed, 6–7 disconnected, 8
/// deactivated, anything else healthy.
fn class_health(rng: &mut Rng, class: usize, start_ms: i64) -> (Health, Connection, bool) {
    match class {
        1 => (
            Health::StaleSince(days_ago(rng, start_ms, 3.1, 3.9)),
            online(rng),
            true,
        ),
        2 => (
            Health::StaleSince(days_ago(rng, start_ms, 5.1, 6.5)),
            online(rng),
            true,
        ),
        3 => (
            Health::StaleSince(days_ago(rng, start_ms, 7.2, 12.0)),
            online(rng),
            true,
        ),
        4 => {
            let t = days_ago(rng, start_ms, 31.0, 90.0);
            (Health::StaleSince(t), Connection::Since(t + HOUR), true)
        }
        5 => (Health::Never, online(rng), true),
        6 => {
            let t = days_ago(rng, start_ms, 3.1, 4.5);
            (Health::StaleSince(t - 2 * HOUR), Connection::Since(t), true)
        }
        7 => {
            let t = days_ago(rng, start_ms, 6.0, 10.0);
            (Health::StaleSince(t - 2 * HOUR), Connection::Since(t), true)
        }
        8 => {
            let t = days_ago(rng, start_ms, 40.0, 200.0);
            (Health::StaleSince(t), Connection::Since(t), false)
        }
        _ => (healthy(rng), online(rng), true),
    }
}

fn pick_class(rng: &mut Rng) -> usize {
    match rng.f64() {
        r if r < 0.72 => 9,
        r if r < 0.77 => 1,
        r if r < 0.81 => 2,
        r if r < 0.84 => 3,
        r if r < 0.87 => 4,
        r if r < 0.91 => 5,
        r if r < 0.94 => 6,
        r if r < 0.97 => 7,
        _ => 8,
    }
}

fn healthy(rng: &mut Rng) -> Health {
    Health::Healthy {
        period: [15 * MINUTE, HOUR, 4 * HOUR, 12 * HOUR][rng.usize(..4)],
        phase: rng.i64(0..DAY),
    }
}

fn online(rng: &mut Rng) -> Connection {
    Connection::Online {
        phase: rng.i64(0..HOUR),
    }
}

/// Names that exercise label escaping: quotes, backslashes, non-ASCII.
fn device_name(i: usize, os: usize) -> String {
    match i {
        1 => "Zoë's \"Work\" MacBook".into(),
        2 => "BUILD\\AGENT-02".into(),
        3 => "東京-デスクトップ".into(),
        _ => match OSES[os].0 {
            "win" => format!("LAPTOP-{i:05}"),
            "mac" => format!("user{i:05}-mbp"),
            _ => format!("ws-{i:05}"),
        },
    }
}
