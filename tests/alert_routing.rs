//! Who gets woken up: every alert the promtool tests expect (`alerts/tests/*_test.yml`,
//! the week-long fleet scenarios included) goes through the shipped
//! `alerts/alertmanager.example.yml`. Each routes by its `urgency` label alone (`amtool
//! config routes test`), and each fleet scenario's alerts, sent together to a real
//! Alertmanager, page exactly what the scenario calls for once inhibition has run: nobody
//! for a quiet fleet, a failing replica or a replica down; the stalled orgs for a stop of
//! backups; the workloads for failing jobs. Requires Debian's `prometheus-alertmanager`
//! (mandatory when CI is set).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/alerts/alertmanager.example.yml"
);

type Labels = BTreeMap<String, String>;

/// An alert a promtool test expects: its labels (alertname included) and annotations.
#[derive(Debug, Clone)]
struct Expected {
    labels: Labels,
    annotations: Labels,
}

/// Every test group of a promtool test file: its name and, by evaluation time, the alerts
/// it expects firing then.
fn expected_alerts(file: &Path) -> Vec<(String, BTreeMap<String, Vec<Expected>>)> {
    let text = std::fs::read_to_string(file).unwrap();
    let tests: Value = yaml_serde::from_str(&text).unwrap();
    let strings = |v: &Value| -> Labels {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), String::from)))
                    .collect()
            })
            .unwrap_or_default()
    };
    tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|test| {
            let mut by_time: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let alertname = case["alertname"].as_str().unwrap().to_string();
                let at = by_time
                    .entry(case["eval_time"].as_str().unwrap().to_string())
                    .or_default();
                for alert in case["exp_alerts"].as_array().into_iter().flatten() {
                    let mut labels = strings(&alert["exp_labels"]);
                    labels.insert("alertname".into(), alertname.clone());
                    at.push(Expected {
                        labels,
                        annotations: strings(&alert["exp_annotations"]),
                    });
                }
            }
            (test["name"].as_str().unwrap().to_string(), by_time)
        })
        .collect()
}

fn test_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{ROOT}/alerts/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_test.yml"))
        .collect();
    files.sort();
    files
}

/// The receiver `labels` route to, by amtool.
fn receiver(amtool: &Path, labels: &Labels) -> String {
    let output = Command::new(amtool)
        .args([
            "config",
            "routes",
            "test",
            &format!("--config.file={CONFIG}"),
        ])
        .args(labels.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn every_expected_alert_routes_by_its_urgency() {
    let Some(amtool) = common::required_tool(&["amtool"], "prometheus-alertmanager") else {
        return;
    };
    let mut routed: BTreeMap<Labels, String> = BTreeMap::new();
    let mut pages = 0;
    for file in test_files() {
        for (test, by_time) in expected_alerts(&file) {
            for alert in by_time.values().flatten() {
                let urgency = alert.labels.get("urgency").unwrap_or_else(|| {
                    panic!(
                        "{}: {test}: an alert without urgency: {alert:?}",
                        file.display()
                    )
                });
                let wanted = match urgency.as_str() {
                    "page" => "pager",
                    "ticket" => "tickets",
                    other => panic!("{test}: urgency {other:?}"),
                };
                // Only the labels an alert carries into Alertmanager route it.
                let labels: Labels = alert.labels.clone();
                let got = routed
                    .entry(labels.clone())
                    .or_insert_with(|| receiver(&amtool, &labels));
                assert_eq!(got, wanted, "{}: {test}: {labels:?}", file.display());
                pages += usize::from(wanted == "pager");
            }
        }
    }
    assert!(routed.len() > 50, "{} label sets", routed.len());
    assert!(pages > 0 && pages < routed.len());
}

/// A real Alertmanager with the shipped configuration, on a port of its own.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    fn start(binary: &Path) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args([
                format!("--config.file={CONFIG}"),
                format!("--storage.path={}", dir.path().display()),
                "--web.listen-address=127.0.0.1:0".into(),
                "--cluster.listen-address=".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let port = common::listening_port(child.id());
        Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}/api/v2"),
            _dir: dir,
        }
    }

    /// Sends `alerts` as firing, then returns what Alertmanager holds once inhibition has
    /// settled: each alert's labels, receivers and state.
    async fn route(&self, alerts: &[Expected]) -> Vec<(Labels, Vec<String>, String)> {
        let client = common::http_client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client
            .get(format!("{}/status", self.url))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "Alertmanager did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body: Vec<Value> = alerts
            .iter()
            .map(|a| {
                json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "2099-01-01T00:00:00Z",
                })
            })
            .collect();
        let response = client
            .post(format!("{}/alerts", self.url))
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
        // Inhibition runs as alerts arrive: read until two reads agree.
        let mut previous = None;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let text = client
                .get(format!("{}/alerts", self.url))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let held: Vec<Value> = serde_json::from_str(&text).unwrap();
            let held: Vec<(Labels, Vec<String>, String)> = held
                .iter()
                .map(|a| {
                    let labels = a["labels"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    let receivers = a["receivers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["name"].as_str().unwrap().to_string())
                        .collect();
                    (
                        labels,
                        receivers,
                        a["status"]["state"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            if held.len() == alerts.len() && previous.as_ref() == Some(&held) {
                return held;
            }
            assert!(Instant::now() < deadline, "Alertmanager holds {held:?}");
            previous = Some(held);
        }
    }
}

/// What a notification names: the alert and the org, workload or instance it is about.
fn subject(labels: &Labels) -> String {
    let mut parts = vec![labels["alertname"].clone()];
    for key in ["org", "workload", "instance", "device_name"] {
        if let Some(value) = labels.get(key) {
            parts.push(value.clone());
        }
    }
    parts.join(" ")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fleet_scenario_pages_exactly_what_it_calls_for() {
    let Some(binary) = common::required_tool(
        &["prometheus-alertmanager", "alertmanager"],
        "prometheus-alertmanager",
    ) else {
        return;
    };
    // The pages each scenario calls for, by the start of its name.
    let calls_for: &[(&str, &[&str])] = &[
        ("a quiet fleet", &[]),
        (
            "the vendor stops",
            &[
                "BackupCompletionsStalled Eng",
                "BackupCompletionsStalled Sales",
            ],
        ),
        (
            "one org's backups stop",
            &["BackupCompletionsStalled Sales"],
        ),
        ("a failing replica", &[]),
        ("one replica down", &[]),
        (
            "Druva backup jobs",
            &[
                "BackupJobFailureBudgetBurn Exchange Online",
                "BackupJobFailureBudgetBurn OneDrive",
            ],
        ),
    ];
    let scenarios = expected_alerts(&Path::new(ROOT).join("alerts/tests/fleet_test.yml"));
    assert_eq!(scenarios.len(), calls_for.len());
    for (name, by_time) in scenarios {
        let pages: BTreeSet<String> = calls_for
            .iter()
            .find(|(start, _)| name.starts_with(start))
            .unwrap_or_else(|| panic!("no expectation for {name}"))
            .1
            .iter()
            .map(|s| s.to_string())
            .collect();
        // The moment of the scenario with the most alerts expected firing at once.
        let (at, firing) = by_time
            .iter()
            .max_by_key(|(_, alerts)| alerts.len())
            .unwrap();
        assert!(!firing.is_empty(), "{name}");
        let alertmanager = Alertmanager::start(&binary);
        let held = alertmanager.route(firing).await;
        let paged: BTreeSet<String> = held
            .iter()
            .filter(|(_, receivers, state)| {
                state == "active" && receivers.contains(&"pager".into())
            })
            .map(|(labels, _, _)| subject(labels))
            .collect();
        assert_eq!(paged, pages, "{name} at {at}");
        let ticketed: Vec<_> = held
            .iter()
            .filter(|(_, receivers, state)| state == "active" && receivers == &["tickets"])
            .collect();
        let suppressed: Vec<_> = held
            .iter()
            .filter(|(_, _, state)| state == "suppressed")
            .collect();
        eprintln!(
            "{name} at {at}: {} alerts, {} pages, {} tickets, {} inhibited",
            held.len(),
            paged.len(),
            ticketed.len(),
            suppressed.len()
        );
        if name.starts_with("a quiet fleet") || name.starts_with("one replica down") {
            // The laptops off for days: their own not-connected tickets, one each; their
            // backup and no-new-data alerts are inhibited by it.
            let off: BTreeSet<&str> = held
                .iter()
                .filter(|(l, _, state)| {
                    l["alertname"] == "BackupDeviceNotConnected" && state == "active"
                })
                .map(|(l, _, _)| l["device_uid"].as_str())
                .collect();
            assert!(off.len() >= 2, "{name}: {held:?}");
            for (labels, _, state) in &held {
                let about_off = labels
                    .get("device_uid")
                    .is_some_and(|d| off.contains(d.as_str()));
                match labels["alertname"].as_str() {
                    "BackupDeviceBackupAge" | "BackupDestinationNoNewData" if about_off => {
                        assert_eq!(state, "suppressed", "{name}: {labels:?}")
                    }
                    // Nothing is silenced by the replica that is down.
                    _ if labels["alertname"] != "BackupDeviceNotConnected" => {
                        assert_eq!(state, "active", "{name}: {labels:?}")
                    }
                    _ => {}
                }
            }
            assert!(!ticketed.is_empty());
        }
    }
}
