//! Golden `/metrics` files: a fixed simulated estate at a fixed clock must always produce
//! exactly the committed output, in both exposition formats. Regenerate deliberately with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff.

mod common;

use backup_exporter::Clock;
use backup_exporter::simulator::SimulatorOptions;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::druva::DruvaOptions;
use common::{Harness, NOW_MS, code42_yaml, druva_yaml};

/// Replaces values that legitimately vary between runs (build revision, measured durations).
fn mask(body: &str) -> String {
    body.lines()
        .map(|line| {
            if line.starts_with("backup_exporter_build_info{") {
                let start = line.find("revision=\"").unwrap() + 10;
                let end = start + line[start..].find('"').unwrap();
                format!("{}REVISION{}", &line[..start], &line[end..])
            } else if line.starts_with("backup_source_refresh_duration_seconds{") {
                let cut = line.rfind(' ').unwrap();
                format!("{} DURATION", &line[..cut])
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn compare(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a);
        panic!(
            "{name} differs from the golden file (first differing line {first:?}).\nexpected: {:?}\nactual:   {:?}\nRun UPDATE_GOLDEN=1 cargo test --test golden and review the diff.",
            first.and_then(|i| expected.lines().nth(i)),
            first.and_then(|i| actual.lines().nth(i)),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_vendors_at_a_fixed_clock() {
    let options = SimulatorOptions::default()
        .with(Code42Options {
            devices: 12,
            seed: 7,
            ..Code42Options::default()
        })
        .with(DruvaOptions {
            users: 4,
            sites: 12,
            teams: 3,
            groups: 3,
            seed: 7,
            ..DruvaOptions::default()
        });
    let harness = Harness::start(options, Clock::manual(NOW_MS), |url, secret| {
        code42_yaml(url, secret, "") + druva_yaml(url, secret, "").trim_start_matches("sources:\n")
    })
    .await;
    let client = common::http_client();
    let text = client
        .get(harness.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    compare("metrics.prom", &mask(&text));
    let open_metrics = client
        .get(harness.url("/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    compare("metrics.openmetrics", &mask(&open_metrics));
    harness.stop().await;
}
