//! Cardinality controls and upstream cost against the simulator: `device_metrics` and
//! `resource_metrics` keep exactly the items a user would page on while every aggregate
//! stays complete, `max_series` cuts the least stale items first and says so, and
//! `hash_identities` replaces personal data by the documented keyed hash.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use backup_exporter::Clock;
use backup_exporter::simulator::SimulatorOptions;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::druva::DruvaOptions;
use common::{Harness, Metrics, NOW_MS, Sample, code42_yaml, druva_yaml};

const CODE42: &str = "crashplan-us";
const DRUVA: &str = "druva-m365";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const HASH_KEY: &str = "team-hash-key-2026";

fn options() -> SimulatorOptions {
    SimulatorOptions::default()
        .with(Code42Options {
            devices: 200,
            ..Code42Options::default()
        })
        .with(DruvaOptions {
            users: 120,
            ..DruvaOptions::default()
        })
}

async fn code42(extra: &str) -> Harness {
    let extra = extra.to_string();
    Harness::start(options(), Clock::manual(NOW_MS), move |url, secret| {
        code42_yaml(url, secret, &extra)
    })
    .await
}

async fn druva(extra: &str) -> Harness {
    let extra = extra.to_string();
    Harness::start(options(), Clock::manual(NOW_MS), move |url, secret| {
        druva_yaml(url, secret, &extra)
    })
    .await
}

/// Writes the hash key beside the harness's secrets and returns the config lines using it.
fn hash_config(harness_dir: &std::path::Path) -> String {
    let file = harness_dir.join("hash-key");
    std::fs::write(&file, format!("{HASH_KEY}\n")).unwrap();
    format!(
        "    hash_identities: true\n    hash_key_file: {}\n",
        file.display()
    )
}

/// The documented hash: the first 16 hex digits of HMAC-SHA256(key, value).
fn documented_hash(value: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HASH_KEY.as_bytes());
    let tag = ring::hmac::sign(&key, value.as_bytes());
    tag.as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..16]
        .to_string()
}

/// Samples about the estate as a whole: everything but the exporter's own series and the
/// per-device and per-resource ones.
fn aggregates(metrics: &Metrics) -> Vec<&Sample> {
    let mut samples: Vec<_> = metrics
        .0
        .iter()
        .filter(|s| {
            !s.name.starts_with("backup_exporter_")
                && !s.name.starts_with("backup_source_")
                && !s.labels.contains_key("device_uid")
                && !s.labels.contains_key("id")
        })
        .collect();
    samples.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    samples
}

fn label_values(metrics: &Metrics, name: &str, label: &str) -> BTreeSet<String> {
    metrics
        .find(name, &[])
        .iter()
        .map(|s| s.labels[label].clone())
        .collect()
}

fn source_value(metrics: &Metrics, name: &str, source: &str) -> f64 {
    metrics
        .get(name, &[("source", source)])
        .unwrap_or_else(|| panic!("{name}{{source={source}}} is missing"))
}

/// A device as the tenant reports it, its live archives (not in cold storage) together.
#[derive(Default)]
struct DeviceTruth {
    live: bool,
    /// The freshest completed backup over its live archives.
    freshest_ms: Option<i64>,
    created_ms: i64,
    /// The oldest last activity over its live archives.
    oldest_activity_ms: Option<i64>,
    connected_ms: i64,
    /// Some live archive is in a Code42 alert state.
    alerting: bool,
}

impl DeviceTruth {
    /// The oldest of its backup (freshest destination), activity and connection ages.
    fn worst_age_ms(&self, now: i64) -> i64 {
        let since = [
            Some(self.freshest_ms.unwrap_or(self.created_ms)),
            self.oldest_activity_ms,
            Some(self.connected_ms),
        ];
        now - since.into_iter().flatten().min().unwrap()
    }
}

/// Every active device of the simulated tenant.
fn devices(harness: &Harness) -> BTreeMap<String, DeviceTruth> {
    let now = harness.clock.now_ms();
    let mut devices: BTreeMap<String, DeviceTruth> = BTreeMap::new();
    for row in harness.sim.simulator.code42().truth(now) {
        if !row.active {
            continue;
        }
        let device = devices.entry(row.device_uid.clone()).or_default();
        device.created_ms = row.creation_ms;
        device.connected_ms = row.last_connected_ms;
        if row.cold_storage {
            continue;
        }
        device.live = true;
        device.freshest_ms = device.freshest_ms.max(row.last_completed_ms);
        if let Some(activity) = row.last_activity_ms {
            device.oldest_activity_ms = Some(
                device
                    .oldest_activity_ms
                    .map_or(activity, |a| a.min(activity)),
            );
        }
        device.alerting |= !row.alert_states.is_empty();
    }
    devices
}

#[tokio::test(flavor = "multi_thread")]
async fn code42_alerting_keeps_only_archives_that_need_attention() {
    let full = code42("").await;
    // An alerting_age half an hour beyond the stalest healthy archive: that archive is kept
    // because it will cross the age before the next refresh (1h away).
    let now = full.clock.now_ms();
    let stalest_healthy = full
        .sim
        .simulator
        .code42()
        .truth(now)
        .iter()
        .filter(|row| row.active && row.alert_states.is_empty())
        .filter_map(|row| row.last_completed_ms.map(|completed| now - completed))
        .max()
        .unwrap();
    let alerting_age = stalest_healthy + HOUR / 2;
    let harness = code42(&format!(
        "    device_metrics: alerting\n    alerting_age: {}ms\n",
        alerting_age
    ))
    .await;
    let (all, alerting) = (full.metrics().await, harness.metrics().await);

    // Kept: every archive of each device that can back up and has a live archive in an
    // alert state, never completed a backup, or is within one refresh interval of the
    // alerting age (its freshest backup, oldest activity or connection).
    let truth: Vec<_> = harness
        .sim
        .simulator
        .code42()
        .truth(now)
        .into_iter()
        .filter(|row| row.active)
        .collect();
    let devices = devices(&harness);
    let kept_device = |uid: &str| {
        let d = &devices[uid];
        d.live
            && (d.alerting || d.freshest_ms.is_none() || d.worst_age_ms(now) + HOUR >= alerting_age)
    };
    let kept: BTreeSet<(String, String)> = truth
        .iter()
        .filter(|row| kept_device(&row.device_uid))
        .map(|row| (row.device_uid.clone(), row.destination.clone()))
        .collect();
    let exposed: BTreeSet<(String, String)> = alerting
        .find("backup_device_cold_storage", &[])
        .iter()
        .map(|s| {
            (
                s.labels["device_uid"].clone(),
                s.labels["destination"].clone(),
            )
        })
        .collect();
    assert_eq!(exposed, kept);
    assert!(
        !kept.is_empty() && kept.len() < truth.len() / 2,
        "the simulated estate is mostly healthy: {} of {} archives kept",
        kept.len(),
        truth.len()
    );
    let kept_devices: BTreeSet<String> = kept.iter().map(|(d, _)| d.clone()).collect();
    assert_eq!(
        label_values(&alerting, "backup_device_info", "device_uid"),
        kept_devices
    );
    // A kept archive has exactly the series it has with `all`.
    for sample in all.0.iter().filter(|s| {
        s.labels.get("destination").is_some_and(|destination| {
            kept.contains(&(s.labels["device_uid"].clone(), destination.clone()))
        })
    }) {
        let labels: Vec<_> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            alerting.get(&sample.name, &labels),
            Some(sample.value),
            "{sample:?}"
        );
    }
    // Org totals, alert counts and the exporter's view of the estate are complete.
    assert_eq!(aggregates(&alerting), aggregates(&all));
    assert!(
        source_value(&alerting, "backup_source_series", CODE42)
            < source_value(&all, "backup_source_series", CODE42) / 2.0
    );
    full.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code42_none_keeps_only_the_totals() {
    let full = code42("").await;
    let harness = code42("    device_metrics: none\n").await;
    let (all, none) = (full.metrics().await, harness.metrics().await);
    assert!(none.0.iter().all(|s| !s.labels.contains_key("device_uid")));
    assert_eq!(aggregates(&none), aggregates(&all));
    assert!(none.count("backup_org_devices") > 0);
    assert_eq!(
        source_value(&none, "backup_source_series", CODE42) as usize,
        aggregates(&none).len()
    );
    full.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_series_cuts_the_least_stale_devices_and_counts_what_it_cut() {
    let full = code42("").await;
    let all = full.metrics().await;
    let all_series = source_value(&all, "backup_source_series", CODE42) as usize;
    let cap = aggregates(&all).len() + 300;
    let harness = code42(&format!("    max_series: {cap}\n")).await;
    let capped = harness.metrics().await;

    let series = source_value(&capped, "backup_source_series", CODE42) as usize;
    let dropped = source_value(&capped, "backup_source_series_dropped", CODE42) as usize;
    assert!(series <= cap && series > cap - 30, "{series} of {cap}");
    assert_eq!(series + dropped, all_series);
    assert_eq!(
        source_value(&all, "backup_source_series_dropped", CODE42),
        0.0
    );
    assert_eq!(aggregates(&capped), aggregates(&all));

    // Every device shown is at least as stale as every device left out.
    let now = harness.clock.now_ms();
    let ages: BTreeMap<String, i64> = devices(&harness)
        .into_iter()
        .map(|(uid, d)| (uid, d.worst_age_ms(now)))
        .collect();
    let shown = label_values(&capped, "backup_device_info", "device_uid");
    assert!(!shown.is_empty() && shown.len() < ages.len());
    let freshest_shown = shown.iter().map(|d| ages[d]).min().unwrap();
    let stalest_left_out = ages
        .iter()
        .filter(|(d, _)| !shown.contains(*d))
        .map(|(_, age)| *age)
        .max()
        .unwrap();
    assert!(freshest_shown >= stalest_left_out);
    full.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hash_identities_replaces_device_and_user_names_by_the_documented_hash() {
    let dir = tempfile::tempdir().unwrap();
    let harness = code42(&hash_config(dir.path())).await;
    let text = harness.scrape().await;
    let metrics = Metrics::parse(&text);
    let truth = harness.sim.simulator.code42().truth(harness.clock.now_ms());
    for row in truth.iter().filter(|r| r.active) {
        let info = metrics.find("backup_device_info", &[("device_uid", &row.device_uid)]);
        assert_eq!(info.len(), 1);
        assert_eq!(
            info[0].labels["device_name"],
            documented_hash(&row.device_name)
        );
        assert_eq!(info[0].labels["user"], documented_hash(&row.username));
        assert_eq!(info[0].labels["org"], row.org, "orgs are not personal");
        for personal in [&row.device_name, &row.username] {
            assert!(
                !text.contains(&format!("\"{personal}\"")),
                "{personal} is in /metrics"
            );
        }
    }
    // The status page names the stalest devices as the labels do.
    let page = common::get(harness.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hashed = truth
        .iter()
        .filter(|r| page.contains(&format!("<td>{}</td>", documented_hash(&r.device_name))))
        .count();
    assert!(hashed >= 20, "{page}");
    for row in &truth {
        let escaped = row
            .device_name
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(
            !page.contains(&escaped),
            "{} is on the status page",
            row.device_name
        );
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_hash_key_withholds_names_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let harness = code42(&hash_config(dir.path())).await;
    std::fs::remove_file(dir.path().join("hash-key")).unwrap();
    assert!(harness.refresh("crashplan-us").await.up);
    let metrics = harness.metrics().await;
    assert_eq!(metrics.count("backup_device_info"), 0);
    assert!(metrics.count("backup_org_devices") > 0, "totals stay");
    let page = common::get(harness.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches("<td>(withheld: hash_key unreadable)</td>")
            .count(),
        20,
        "{page}"
    );
    for row in harness.sim.simulator.code42().truth(harness.clock.now_ms()) {
        let hashed = documented_hash(&row.device_name);
        assert!(!page.contains(&format!("<td>{}</td>", row.device_name)));
        assert!(!page.contains(&format!("<td>{hashed}</td>")));
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn druva_alerting_and_hashing_apply_to_resources() {
    let full = druva("").await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "    resource_metrics: alerting\n    alerting_age: 3d\n{}",
        hash_config(dir.path())
    );
    let harness = druva(&extra).await;
    let (all, alerting) = (full.metrics().await, harness.metrics().await);
    let now = harness.clock.now_ms();

    // Users are named by their e-mail and display name; sites, teams and groups are not people.
    let personal = |workload: &str| !matches!(workload, "SharePoint" | "Teams" | "Groups");
    let mut expected = BTreeSet::new();
    let resources = harness.sim.simulator.druva().resources(now);
    // Only protected resources are kept: what an administrator disabled, an archived team
    // or a resource never scheduled cannot alert.
    let protected = |r: &&backup_exporter::simulator::druva::ResourceTruth| {
        r.enabled && !r.archived && !r.unscheduled
    };
    for r in resources
        .iter()
        .filter(|r| !r.deleted && !r.purged)
        .filter(protected)
    {
        let age = now - r.last_success_ms.unwrap_or(r.added_ms);
        // The alerting age (3 days), or the warning threshold if sooner: two backup
        // intervals, at least a day.
        let warning = DAY.max(r.interval_seconds.unwrap_or(0) as i64 * 2000);
        let floor = (3 * DAY).min(warning);
        let status = r.status.to_ascii_lowercase();
        let failed = status.contains("fail") || status.contains("cancel");
        if failed || r.last_success_ms.is_none() || age + HOUR >= floor {
            let (id, name) = if personal(&r.workload) {
                (documented_hash(&r.id), documented_hash(&r.name))
            } else {
                (r.id.clone(), r.name.clone())
            };
            expected.insert((r.workload.clone(), id, name));
        }
    }
    let exposed: BTreeSet<_> = alerting
        .find("backup_resource_info", &[])
        .iter()
        .map(|s| {
            (
                s.labels["workload"].clone(),
                s.labels["id"].clone(),
                s.labels["name"].clone(),
            )
        })
        .collect();
    assert_eq!(exposed, expected);
    assert!(expected.iter().any(|(w, _, _)| personal(w)));
    assert!(expected.iter().any(|(w, _, _)| !personal(w)));
    assert!(expected.len() < all.count("backup_resource_info") / 2);
    assert_eq!(aggregates(&alerting), aggregates(&all));
    full.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_cost_matches_what_the_vendor_served() {
    let harness = code42("").await;
    let sim = &harness.sim.simulator;
    let metrics = harness.metrics().await;
    // The first refresh: one token request, then pages of 1000 rows until an empty one.
    let rows = sim
        .code42()
        .truth(harness.clock.now_ms())
        .iter()
        .filter(|r| r.active)
        .count();
    let pages = rows.div_ceil(1000) + 1;
    let cost = |m: &Metrics, name| source_value(m, name, CODE42) as u64;
    assert_eq!(
        cost(&metrics, "backup_source_last_refresh_pages"),
        pages as u64
    );
    assert_eq!(
        cost(&metrics, "backup_source_last_refresh_requests"),
        sim.requests()
    );
    assert_eq!(sim.requests(), pages as u64 + 1);
    assert_eq!(
        cost(&metrics, "backup_source_last_refresh_response_bytes"),
        sim.response_bytes()
    );

    // The second reuses its token: pages only, and only this refresh's bytes.
    let (requests_before, bytes_before) = (sim.requests(), sim.response_bytes());
    assert!(harness.refresh(CODE42).await.up);
    let metrics = harness.metrics().await;
    assert_eq!(
        cost(&metrics, "backup_source_last_refresh_requests"),
        sim.requests() - requests_before
    );
    assert_eq!(sim.requests() - requests_before, pages as u64);
    assert_eq!(
        cost(&metrics, "backup_source_last_refresh_response_bytes"),
        sim.response_bytes() - bytes_before
    );
    assert_eq!(
        cost(&metrics, "backup_source_response_bytes_total"),
        sim.response_bytes()
    );
    harness.stop().await;

    let harness = druva("").await;
    let sim = &harness.sim.simulator;
    let metrics = harness.metrics().await;
    assert_eq!(
        source_value(&metrics, "backup_source_last_refresh_requests", DRUVA) as u64,
        sim.requests()
    );
    assert_eq!(
        source_value(&metrics, "backup_source_last_refresh_response_bytes", DRUVA) as u64,
        sim.response_bytes()
    );
    assert!(source_value(&metrics, "backup_source_last_refresh_pages", DRUVA) >= 20.0);
    harness.stop().await;
}
