//! Many tenants in one exporter: each source's `labels` are on every series of that
//! source (its `backup_source_*` series included), and one tenant's failure leaves the
//! others refreshed and served.

mod common;

use backup_exporter::Clock;
use backup_exporter::simulator::SimulatorOptions;
use common::{Harness, NOW_MS};

/// Three tenants against one simulator: acme (Code42), globex (Druva), and initech (Code42
/// with a secret the vendor refuses).
fn yaml(url: &str, secret: &std::path::Path) -> String {
    let wrong = secret.with_file_name("wrong-secret");
    std::fs::write(&wrong, "not-the-secret").unwrap();
    format!(
        "sources:
  - name: acme-crashplan
    vendor: code42
    url: {url}
    client_id: demo-client
    client_secret_file: {code42}
    refresh_interval: 1h
    labels: {{ tenant: acme, region: us }}
  - name: globex-m365
    vendor: druva
    url: {url}
    client_id: druva-demo-client
    client_secret_file: {druva}
    refresh_interval: 1h
    labels: {{ tenant: globex, region: eu }}
  - name: initech-crashplan
    vendor: code42
    url: {url}
    client_id: demo-client
    client_secret_file: {wrong}
    refresh_interval: 1h
    labels: {{ tenant: initech, region: us }}
",
        code42 = secret.display(),
        druva = secret.with_file_name("druva-secret").display(),
        wrong = wrong.display(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_series_carries_its_tenant_and_failures_stay_with_their_tenant() {
    let harness = Harness::start(SimulatorOptions::default(), Clock::manual(NOW_MS), yaml).await;
    let metrics = harness.metrics().await;
    let tenants = [
        ("acme-crashplan", "acme", "us"),
        ("globex-m365", "globex", "eu"),
        ("initech-crashplan", "initech", "us"),
    ];
    for (source, tenant, region) in tenants {
        let series: Vec<_> = metrics
            .0
            .iter()
            .filter(|s| s.labels.get("source").map(String::as_str) == Some(source))
            .collect();
        assert!(
            series.iter().any(|s| s.name.starts_with("backup_source_")),
            "{source} has its backup_source_* series"
        );
        for s in &series {
            assert_eq!(
                (s.labels["tenant"].as_str(), s.labels["region"].as_str()),
                (tenant, region),
                "{} of {source}",
                s.name
            );
        }
    }
    let up = |source: &str| metrics.get("backup_source_up", &[("source", source)]);
    assert_eq!(up("acme-crashplan"), Some(1.0));
    assert_eq!(up("globex-m365"), Some(1.0));
    assert_eq!(up("initech-crashplan"), Some(0.0));

    // The working tenants are served in full; the refused one has no data, not anyone else's.
    let devices = |source: &str| {
        metrics
            .find("backup_device_info", &[("source", source)])
            .len()
    };
    // No `query`, so inactive devices too.
    let all = harness
        .sim
        .simulator
        .code42()
        .truth(NOW_MS)
        .iter()
        .map(|a| a.device_uid.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(devices("acme-crashplan"), all);
    assert_eq!(devices("initech-crashplan"), 0);
    assert!(
        !metrics
            .find("backup_resource_info", &[("source", "globex-m365")])
            .is_empty()
    );
    harness.stop().await;
}
