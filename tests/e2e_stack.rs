//! End to end: the demo exporter, a real Prometheus scraping it with the shipped rules, and
//! a real Alertmanager with the example configuration, all on loopback. Checks through their
//! HTTP APIs that every dashboard expression returns data, that exactly the demo's stale
//! devices and resources raise warning and critical alerts, and that Alertmanager holds
//! them with their severities (warnings of critical ones inhibited). Requires Debian's
//! `prometheus` and `prometheus-alertmanager` (mandatory when CI is set).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::Metrics;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DAY: f64 = 86400.0;
/// Archives this close to a threshold may cross it while the test runs; they are not judged.
const MARGIN: f64 = 300.0;

/// Kills the processes it owns when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(command: impl AsRef<std::ffi::OsStr>, args: &[String], log: &Path) -> Child {
    let command = command.as_ref();
    let log = std::fs::File::create(log).unwrap();
    Command::new(command)
        .args(args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    serde_json::from_str(&response.text().await.ok()?).ok()
}

async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Prometheus {
    client: reqwest::Client,
    url: String,
}

impl Prometheus {
    async fn query(&self, expr: &str) -> Vec<Value> {
        let url = format!(
            "{}/api/v1/query?query={}",
            self.url,
            form_urlencoded::byte_serialize(expr.as_bytes()).collect::<String>()
        );
        let body = get_json(&self.client, &url)
            .await
            .unwrap_or_else(|| panic!("query failed: {expr}"));
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A value of `label` among the series of `selector`, preferring plain text.
    async fn label_value(&self, selector: &str, label: &str) -> Option<String> {
        let url = format!(
            "{}/api/v1/series?match[]={}",
            self.url,
            form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
        );
        let body = get_json(&self.client, &url).await?;
        let mut values: Vec<String> = body["data"]
            .as_array()?
            .iter()
            .filter_map(|s| s[label].as_str().map(String::from))
            .collect();
        values.sort();
        values.into_iter().find(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._@-".contains(c))
        })
    }

    /// Firing alerts as (alertname, severity, identity) triples.
    async fn firing(&self) -> BTreeSet<(String, String, String)> {
        let body = get_json(&self.client, &format!("{}/api/v1/alerts", self.url))
            .await
            .unwrap();
        body["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                let l = &a["labels"];
                let label = |k: &str| l[k].as_str().unwrap_or("").to_string();
                let identity = if l.get("device_uid").is_some() {
                    format!(
                        "{}|{}|{}",
                        label("source"),
                        label("device_uid"),
                        label("destination")
                    )
                } else if l.get("id").is_some() {
                    format!("{}|{}|{}", label("source"), label("workload"), label("id"))
                } else {
                    format!("{}|{}", label("source"), label("license"))
                };
                (label("alertname"), label("severity"), identity)
            })
            .collect()
    }
}

/// The alerts the shipped rules must raise for the scraped values, at the default thresholds.
fn expected_alerts(metrics: &Metrics) -> (BTreeSet<(String, String, String)>, usize) {
    let mut expected = BTreeSet::new();
    let mut undecided = 0;
    let mut judge =
        |name: &str, identity: String, value: f64, warning: f64, critical: Option<f64>| {
            let near = (value - warning).abs() < MARGIN
                || critical.is_some_and(|c| (value - c).abs() < MARGIN);
            if near {
                undecided += 1;
                return;
            }
            if value > warning {
                expected.insert((name.to_string(), "warning".to_string(), identity.clone()));
            }
            if critical.is_some_and(|c| value > c) {
                expected.insert((name.to_string(), "critical".to_string(), identity));
            }
        };
    let never: BTreeSet<String> = metrics
        .find("backup_device_never_completed", &[])
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}",
                s.labels["source"], s.labels["device_uid"], s.labels["destination"]
            )
        })
        .collect();
    for s in metrics.find("backup_device_backup_age_seconds", &[]) {
        let identity = format!(
            "{}|{}|{}",
            s.labels["source"], s.labels["device_uid"], s.labels["destination"]
        );
        if never.contains(&identity) {
            judge(
                "BackupDeviceNeverCompleted",
                identity,
                s.value,
                3.0 * DAY,
                None,
            );
        } else {
            judge(
                "BackupDeviceBackupAge",
                identity,
                s.value,
                3.0 * DAY,
                Some(5.0 * DAY),
            );
        }
    }
    let intervals: BTreeMap<String, f64> = metrics
        .find("backup_resource_expected_interval_seconds", &[])
        .iter()
        .map(|s| {
            (
                format!(
                    "{}|{}|{}",
                    s.labels["source"], s.labels["workload"], s.labels["id"]
                ),
                s.value,
            )
        })
        .collect();
    let never: BTreeSet<String> = metrics
        .find("backup_resource_never_backed_up", &[])
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}",
                s.labels["source"], s.labels["workload"], s.labels["id"]
            )
        })
        .collect();
    for s in metrics.find("backup_resource_backup_age_seconds", &[]) {
        let identity = format!(
            "{}|{}|{}",
            s.labels["source"], s.labels["workload"], s.labels["id"]
        );
        let twice = 2.0 * intervals.get(&identity).copied().unwrap_or(0.0);
        let (warning, critical) = ((3.0 * DAY).max(twice), (5.0 * DAY).max(twice));
        if never.contains(&identity) {
            judge(
                "BackupResourceNeverBackedUp",
                identity,
                s.value,
                warning,
                None,
            );
        } else {
            judge(
                "BackupResourceBackupAge",
                identity,
                s.value,
                warning,
                Some(critical),
            );
        }
    }
    (expected, undecided)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_and_alertmanager_with_the_shipped_rules() {
    let prometheus_bin = common::required_tool(&["prometheus"], "prometheus");
    let alertmanager_bin = common::required_tool(
        &["prometheus-alertmanager", "alertmanager"],
        "prometheus-alertmanager",
    );
    let (Some(prometheus_bin), Some(alertmanager_bin)) = (prometheus_bin, alertmanager_bin) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir_path: PathBuf = dir.path().to_path_buf();
    let mut processes = Processes(Vec::new());
    // Each listens on a port of its own choosing, read back from the process.
    processes.0.push(spawn(
        env!("CARGO_BIN_EXE_backup-exporter"),
        &[
            "--demo".into(),
            "--web.listen-address".into(),
            "127.0.0.1:0".into(),
        ],
        &dir_path.join("exporter.log"),
    ));
    let exporter_port = common::exporter_port(&dir_path.join("exporter.log"));
    processes.0.push(spawn(
        &alertmanager_bin,
        &[
            format!("--config.file={ROOT}/alerts/alertmanager.example.yml"),
            format!("--storage.path={}", dir_path.join("alertmanager").display()),
            "--web.listen-address=127.0.0.1:0".into(),
            "--cluster.listen-address=".into(),
        ],
        &dir_path.join("alertmanager.log"),
    ));
    let alertmanager_port = common::listening_port(processes.0[1].id());
    let config = dir_path.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 5s, evaluation_interval: 5s}}\n\
             rule_files: [{ROOT}/alerts/backup-exporter.rules.yml]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager_port}']}}]}}]}}\n\
             scrape_configs:\n  - job_name: backup-exporter\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        ),
    )
    .unwrap();
    processes.0.push(spawn(
        &prometheus_bin,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir_path.join("tsdb").display()),
            "--web.listen-address=127.0.0.1:0".into(),
        ],
        &dir_path.join("prometheus.log"),
    ));
    let prometheus_port = common::listening_port(processes.0[2].id());

    backup_exporter::install_crypto_provider();
    let client = reqwest::Client::new();
    let prometheus = Prometheus {
        client: client.clone(),
        url: format!("http://127.0.0.1:{prometheus_port}"),
    };
    let alertmanager = format!("http://127.0.0.1:{alertmanager_port}");
    let exporter = format!("http://127.0.0.1:{exporter_port}");
    let logs = || {
        ["exporter", "prometheus", "alertmanager"]
            .iter()
            .map(|n| {
                format!(
                    "--- {n}.log\n{}",
                    std::fs::read_to_string(dir_path.join(format!("{n}.log"))).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Three scrapes and rule evaluations: enough samples for rate() and increase().
    let timeout = Duration::from_secs(90);
    wait_for("the exporter", timeout, async || {
        (client
            .get(format!("{exporter}/-/ready"))
            .send()
            .await
            .ok()?
            .status()
            == 200)
            .then_some(())
    })
    .await;
    wait_for("three scrapes and rule evaluations", timeout, async || {
        let count = prometheus
            .query("count_over_time(up{job=\"backup-exporter\"}[1m])")
            .await;
        let scrapes = count.first()?["value"][1].as_str()?.parse::<f64>().ok()?;
        let rules = prometheus
            .query("backup:source_devices_by_health:count")
            .await;
        (scrapes >= 3.0 && !rules.is_empty()).then_some(())
    })
    .await;

    // Every dashboard expression, its variables given real values, returns data.
    for entry in std::fs::read_dir(format!("{ROOT}/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut values: Vec<(String, String)> = Vec::new();
        let substitute = |text: &str, values: &[(String, String)]| {
            let mut text = text
                .replace("$__rate_interval", "1m")
                .replace("$__interval", "15s")
                .replace("$__range", "1h");
            for (name, value) in values {
                text = text
                    .replace(&format!("${{{name}}}"), value)
                    .replace(&format!("${name}"), value);
            }
            text
        };
        // Variables that offer "All" take it (the dashboards' default); the others take a
        // real value from Prometheus.
        for variable in dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["type"] == "query")
        {
            let name = variable["name"].as_str().unwrap().to_string();
            if variable["includeAll"] == true {
                values.push((name, variable["allValue"].as_str().unwrap().to_string()));
                continue;
            }
            let query = substitute(variable["query"]["query"].as_str().unwrap(), &values);
            let inner = query
                .trim_start_matches("label_values(")
                .trim_end_matches(')');
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let value = prometheus
                .label_value(selector.trim(), label.trim())
                .await
                .unwrap_or_else(|| {
                    panic!("{}: variable {name} has no value: {query}", path.display())
                });
            values.push((name, value));
        }
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = substitute(target["expr"].as_str().unwrap(), &values);
                let result = prometheus.query(&expr).await;
                assert!(
                    !result.is_empty(),
                    "{} panel {:?} returns no data: {expr}\n{}",
                    path.display(),
                    panel["title"],
                    logs()
                );
            }
        }
    }

    // Exactly the stale devices and resources alert, with their severities.
    let metrics = Metrics::parse(
        &client
            .get(format!("{exporter}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let (expected, undecided) = expected_alerts(&metrics);
    assert!(
        expected.iter().any(|a| a.1 == "warning") && expected.iter().any(|a| a.1 == "critical")
    );
    let data_alerts = [
        "BackupDeviceBackupAge",
        "BackupDeviceNeverCompleted",
        "BackupResourceBackupAge",
        "BackupResourceNeverBackedUp",
    ];
    let firing = wait_for("the data alerts", timeout, async || {
        let firing: BTreeSet<_> = prometheus
            .firing()
            .await
            .into_iter()
            .filter(|a| data_alerts.contains(&a.0.as_str()))
            .collect();
        let missing = expected.difference(&firing).count();
        (missing <= undecided).then_some(firing)
    })
    .await;
    let unexpected: Vec<_> = firing.difference(&expected).collect();
    assert!(
        unexpected.len() <= undecided,
        "alerts the data does not call for: {unexpected:?}"
    );
    let healthy_devices = metrics
        .find("backup_device_backup_age_seconds", &[])
        .iter()
        .filter(|s| s.value < 2.0 * DAY)
        .count();
    assert!(
        healthy_devices > 50,
        "the demo has fresh devices, and none of them alerts"
    );

    // The demo's licence use (just above 90 %) warns; vendor alerts are active.
    let all = prometheus.firing().await;
    assert!(
        all.iter()
            .any(|a| a.0 == "BackupLicenseUsage" && a.1 == "warning"),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|a| a.0 == "BackupVendorAlertsActive" && a.1 == "critical")
    );
    assert!(
        !all.iter()
            .any(|a| a.0 == "BackupExporterDown" || a.0 == "BackupSourceDataStale")
    );

    // Alertmanager holds them with their severities; a critical inhibits its warning.
    let held = wait_for("Alertmanager to receive the alerts", timeout, async || {
        let alerts = get_json(&client, &format!("{alertmanager}/api/v2/alerts")).await?;
        let alerts = alerts.as_array()?.clone();
        (alerts
            .iter()
            .filter(|a| a["labels"]["alertname"] == "BackupDeviceBackupAge")
            .count()
            >= 2)
            .then_some(alerts)
    })
    .await;
    let severity_of = |a: &Value| a["labels"]["severity"].as_str().unwrap_or("").to_string();
    assert!(
        held.iter()
            .all(|a| ["warning", "critical"].contains(&severity_of(a).as_str()))
    );
    let critical: BTreeSet<String> = held
        .iter()
        .filter(|a| {
            a["labels"]["alertname"] == "BackupDeviceBackupAge" && severity_of(a) == "critical"
        })
        .map(|a| {
            format!(
                "{}|{}",
                a["labels"]["device_uid"], a["labels"]["destination"]
            )
        })
        .collect();
    assert!(!critical.is_empty());
    for alert in held.iter().filter(|a| {
        a["labels"]["alertname"] == "BackupDeviceBackupAge" && severity_of(a) == "warning"
    }) {
        let key = format!(
            "{}|{}",
            alert["labels"]["device_uid"], alert["labels"]["destination"]
        );
        let state = alert["status"]["state"].as_str().unwrap();
        if critical.contains(&key) {
            assert_eq!(
                state, "suppressed",
                "the warning of a critical archive is inhibited: {alert}"
            );
        } else {
            assert_eq!(state, "active", "{alert}");
        }
    }
    drop(processes);
}
