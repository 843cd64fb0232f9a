//! End to end: two exporter instances (an HA pair, or a rolling update) reading the
//! simulated vendors, a real Prometheus scraping both with the shipped rules (item alerts
//! notifying at once: `alerts/tests/e2e.rules.yml`), and a real Alertmanager with the
//! example configuration, all on loopback. Checked through their HTTP APIs against the
//! simulator's own truth (its items' ages and states, computed without the exporter): every
//! Code42 device gets exactly the alerts its freshest live destination calls for, nothing
//! that cannot back up alerts, each alert arrives once despite two instances, the device
//! that is not connected is the one alert Alertmanager lets through, every dashboard query
//! runs, and every panel, evaluated as Grafana evaluates it (a range query and its reducer,
//! or an instant query), shows no numbers with the exporters stopped — a red Exporter tile,
//! "absent" once the target leaves service discovery — while the data alerts keep firing.
//! Requires Debian's `prometheus` and `prometheus-alertmanager` (mandatory when CI is set).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::druva::DruvaOptions;
use backup_exporter::simulator::{self, Simulator, SimulatorOptions};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DAY: f64 = 86400.0;
/// Items this close to a threshold may cross it while the test runs; they are not judged.
const MARGIN: f64 = 300.0;
/// The data alerts: one per device, destination or resource.
const DATA_ALERTS: &[&str] = &[
    "BackupDeviceBackupAge",
    "BackupDeviceNeverCompleted",
    "BackupDeviceNotCompleting",
    "BackupDestinationNoNewData",
    "BackupDeviceNotConnected",
    "BackupResourceBackupAge",
    "BackupResourceNeverBackedUp",
];

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

/// An alert as (alertname, severity, identity): the source and the device (with its
/// destination), resource, licence or vendor severity it is about.
type Alert = (String, String, String);

fn identity(labels: &Value) -> String {
    let label = |k: &str| labels[k].as_str().unwrap_or("").to_string();
    let mut parts = vec![label("source")];
    for key in [
        "device_uid",
        "destination",
        "workload",
        "id",
        "license",
        "vendor_severity",
    ] {
        if labels.get(key).is_some() {
            parts.push(label(key));
        }
    }
    parts.join("|")
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
        values.into_iter().find(|v| plain(v))
    }

    /// The value Grafana takes for a `query_result(expr)` variable with `regex`: each
    /// result written as `name{label="value", ...} value timestamp`, the regex's `value`
    /// group of the first plain one.
    async fn query_result_value(&self, expr: &str, regex: &str) -> Option<String> {
        let regex = regex::Regex::new(regex.trim_matches('/')).unwrap();
        let mut values: Vec<String> = self
            .query(expr)
            .await
            .iter()
            .filter_map(|series| {
                let metric = series["metric"].as_object()?;
                let labels: Vec<String> = metric
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or("")))
                    .collect();
                let text = format!("{{{}}} {}", labels.join(", "), series["value"][1]);
                let captures = regex.captures(&text)?;
                Some(captures.name("value")?.as_str().to_string())
            })
            .collect();
        values.sort();
        values.into_iter().find(|v| plain(v))
    }

    async fn alerts(&self) -> Vec<Value> {
        let body = get_json(&self.client, &format!("{}/api/v1/alerts", self.url))
            .await
            .unwrap();
        body["data"]["alerts"].as_array().unwrap().clone()
    }

    async fn firing(&self) -> BTreeSet<Alert> {
        self.alerts()
            .await
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                let l = &a["labels"];
                let label = |k: &str| l[k].as_str().unwrap_or("").to_string();
                (label("alertname"), label("severity"), identity(l))
            })
            .collect()
    }
}

/// A dashboard's variables and the values they took: (name, value).
type Variables = Vec<(String, String)>;

/// A dashboard's text with its variables and Grafana's interval macros filled in.
fn substitute(text: &str, values: &[(String, String)]) -> String {
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
}

impl Prometheus {
    /// What a stat, bar gauge or table panel's target shows, as Grafana computes it: an
    /// instant query's values, or a range query over the dashboard's range reduced by the
    /// panel's reducer (`lastNotNull`), one value per series.
    async fn as_grafana_shows(&self, panel: &Value, target: &Value, expr: &str) -> Vec<f64> {
        if target["instant"] == true {
            return self
                .query(expr)
                .await
                .iter()
                .filter_map(|r| r["value"][1].as_str()?.parse().ok())
                .collect();
        }
        let reducer = panel["options"]["reduceOptions"]["calcs"][0]
            .as_str()
            .unwrap_or("lastNotNull");
        assert_eq!(reducer, "lastNotNull", "{}", panel["title"]);
        let end = Clock::System.now_ms() as f64 / 1000.0;
        let url = format!(
            // The last hour at a 15-second step: this Prometheus holds minutes of data, and
            // a week's range at Grafana's step (10 minutes for 1,000 points) would miss them.
            "{}/api/v1/query_range?query={}&start={}&end={end}&step=15",
            self.url,
            form_urlencoded::byte_serialize(expr.as_bytes()).collect::<String>(),
            end - 3600.0,
        );
        let body = get_json(&self.client, &url).await.unwrap();
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|series| {
                let values = series["values"].as_array()?;
                values
                    .iter()
                    .rev()
                    .find_map(|v| v[1].as_str()?.parse().ok())
            })
            .collect()
    }
}

fn plain(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " ._@-".contains(c))
}

/// What the simulator's truth calls for at `now_ms`, by the shipped rules' default
/// thresholds, worked out here from the vendor semantics (not from the exporter).
struct Expected {
    alerts: BTreeSet<Alert>,
    /// Items within MARGIN of a threshold: their alerts may or may not fire.
    undecided: BTreeSet<Alert>,
    /// Identities that must never alert: they cannot back up.
    silent: BTreeSet<String>,
    /// Scenarios the estate must contain for the test to mean something.
    two_destinations_one_stale: usize,
    daily_resources_8_days_behind: BTreeSet<String>,
}

impl Expected {
    fn judge(&mut self, name: &str, id: String, age: f64, warning: f64, critical: Option<f64>) {
        let near =
            (age - warning).abs() < MARGIN || critical.is_some_and(|c| (age - c).abs() < MARGIN);
        let into = if near {
            &mut self.undecided
        } else {
            &mut self.alerts
        };
        if near || age > warning {
            into.insert((name.into(), "warning".into(), id.clone()));
        }
        if critical.is_some_and(|c| near || age > c) {
            into.insert((name.into(), "critical".into(), id));
        }
    }
}

fn expected(sim: &Simulator, now_ms: i64) -> Expected {
    let mut out = Expected {
        alerts: BTreeSet::new(),
        undecided: BTreeSet::new(),
        silent: BTreeSet::new(),
        two_destinations_one_stale: 0,
        daily_resources_8_days_behind: BTreeSet::new(),
    };
    let age = |ms: i64| (now_ms - ms) as f64 / 1000.0;

    // Code42: a device across its live (not cold-storage) archives.
    let mut devices: BTreeMap<String, Vec<simulator::code42::ArchiveTruth>> = BTreeMap::new();
    for archive in sim.code42().truth(now_ms).into_iter().filter(|a| a.active) {
        devices
            .entry(archive.device_uid.clone())
            .or_default()
            .push(archive);
    }
    for (uid, archives) in devices {
        let device = format!("demo-crashplan|{uid}");
        for cold in archives.iter().filter(|a| a.cold_storage) {
            out.silent.insert(format!("{device}|{}", cold.destination));
        }
        let live: Vec<_> = archives.iter().filter(|a| !a.cold_storage).collect();
        if live.is_empty() {
            out.silent.insert(device);
            continue;
        }
        // The freshest new data at any live destination: the console's one bar per device.
        let activity = live
            .iter()
            .filter_map(|a| a.last_activity_ms.map(age))
            .reduce(f64::min);
        match live.iter().filter_map(|a| a.last_completed_ms).max() {
            // Sending data but completing nothing (seed 002's locked files): its own ticket.
            Some(freshest) if activity.is_some_and(|a| a <= 3.0 * DAY) => {
                let near_activity = activity.is_some_and(|a| (a - 3.0 * DAY).abs() < MARGIN);
                if near_activity {
                    out.undecided.insert((
                        "BackupDeviceBackupAge".into(),
                        "warning".into(),
                        device.clone(),
                    ));
                    out.undecided.insert((
                        "BackupDeviceBackupAge".into(),
                        "critical".into(),
                        device.clone(),
                    ));
                }
                out.judge(
                    "BackupDeviceNotCompleting",
                    device.clone(),
                    age(freshest),
                    3.0 * DAY,
                    None,
                );
            }
            Some(freshest) => out.judge(
                "BackupDeviceBackupAge",
                device.clone(),
                age(freshest),
                3.0 * DAY,
                Some(5.0 * DAY),
            ),
            None => {
                let created = live.iter().map(|a| a.creation_ms).max().unwrap();
                out.judge(
                    "BackupDeviceNeverCompleted",
                    device.clone(),
                    age(created),
                    3.0 * DAY,
                    None,
                );
            }
        }
        let completed: Vec<f64> = live
            .iter()
            .filter_map(|a| a.last_completed_ms.map(age))
            .collect();
        if completed.iter().any(|a| *a > 5.0 * DAY) && completed.iter().any(|a| *a < 2.0 * DAY) {
            out.two_destinations_one_stale += 1;
        }
        if let Some(activity) = activity {
            out.judge(
                "BackupDestinationNoNewData",
                device.clone(),
                activity,
                3.0 * DAY,
                None,
            );
        }
        out.judge(
            "BackupDeviceNotConnected",
            device,
            age(live[0].last_connected_ms),
            3.0 * DAY,
            Some(5.0 * DAY),
        );
    }

    // Druva: protected resources at 2 and 3 backup intervals, at least 1 and 2 days.
    for r in sim.druva().resources(now_ms) {
        let id = format!("demo-druva|{}|{}", r.workload, r.id);
        if r.deleted || r.purged || !r.enabled || r.archived || r.unscheduled {
            out.silent.insert(id);
            continue;
        }
        let interval = r.interval_seconds.unwrap_or(0) as f64;
        let (warning, critical) = ((2.0 * interval).max(DAY), (3.0 * interval).max(2.0 * DAY));
        match r.last_success_ms {
            Some(success) => {
                if interval == DAY && age(success) > 8.0 * DAY {
                    out.daily_resources_8_days_behind.insert(id.clone());
                }
                out.judge(
                    "BackupResourceBackupAge",
                    id,
                    age(success),
                    warning,
                    Some(critical),
                );
            }
            None => out.judge(
                "BackupResourceNeverBackedUp",
                id,
                age(r.added_ms),
                warning,
                None,
            ),
        }
    }
    out
}

/// YAML for both simulated vendors, secrets read from files in `dir`.
fn config(url: &str, options: &SimulatorOptions, dir: &Path) -> String {
    let secret = |name: &str, value: &str| {
        let path = dir.join(name);
        std::fs::write(&path, value).unwrap();
        path.display().to_string()
    };
    let code42 = options.vendor::<Code42Options>();
    let druva = options.vendor::<DruvaOptions>();
    format!(
        "sources:\n\
         \x20 - name: demo-crashplan\n    vendor: code42\n    url: {url}\n    client_id: {}\n    client_secret_file: {}\n    refresh_interval: 1m\n    query: {{ active: \"true\" }}\n\
         \x20 - name: demo-druva\n    vendor: druva\n    url: {url}\n    client_id: {}\n    client_secret_file: {}\n    refresh_interval: 1m\n",
        code42.client_id,
        secret("code42-secret", &code42.client_secret),
        druva.client_id,
        secret("druva-secret", &druva.client_secret),
    )
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
    backup_exporter::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let dir_path: PathBuf = dir.path().to_path_buf();

    // The vendors, in process, so the test can ask them for the truth.
    let options = SimulatorOptions::default().with(Code42Options {
        devices: 120,
        ..Code42Options::default()
    });
    let sim = simulator::start(
        Simulator::new(options.clone(), Clock::System),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let config_file = dir_path.join("backup-exporter.yml");
    std::fs::write(&config_file, config(&sim.url(), &options, &dir_path)).unwrap();

    // Two exporter instances serving the same sources, each on a port of its own choosing.
    let mut exporters = Processes(Vec::new());
    let mut exporter_ports = Vec::new();
    for i in 0..2 {
        let log = dir_path.join(format!("exporter{i}.log"));
        exporters.0.push(spawn(
            env!("CARGO_BIN_EXE_backup-exporter"),
            &[
                format!("--config.file={}", config_file.display()),
                "--web.listen-address=127.0.0.1:0".into(),
            ],
            &log,
        ));
        exporter_ports.push(common::exporter_port(&log));
    }
    let mut processes = Processes(Vec::new());
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
    let alertmanager_port = common::listening_port(processes.0[0].id());
    let prometheus_config = dir_path.join("prometheus.yml");
    let targets: Vec<String> = exporter_ports
        .iter()
        .map(|p| format!("'127.0.0.1:{p}'"))
        .collect();
    std::fs::write(
        &prometheus_config,
        format!(
            "global: {{scrape_interval: 5s, evaluation_interval: 5s}}\n\
             rule_files: [{ROOT}/alerts/tests/e2e.rules.yml]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager_port}']}}]}}]}}\n\
             scrape_configs:\n  - job_name: backup-exporter\n    static_configs: [{{targets: [{}]}}]\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    processes.0.push(spawn(
        &prometheus_bin,
        &[
            format!("--config.file={}", prometheus_config.display()),
            format!("--storage.tsdb.path={}", dir_path.join("tsdb").display()),
            "--web.listen-address=127.0.0.1:0".into(),
        ],
        &dir_path.join("prometheus.log"),
    ));
    let prometheus_port = common::listening_port(processes.0[1].id());

    let client = common::http_client();
    let prometheus = Prometheus {
        client: client.clone(),
        url: format!("http://127.0.0.1:{prometheus_port}"),
    };
    let alertmanager = format!("http://127.0.0.1:{alertmanager_port}");
    let logs = || {
        ["exporter0", "exporter1", "prometheus", "alertmanager"]
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

    // Three scrapes of each instance and rule evaluations: enough samples for increase().
    // Generous: on a busy 2-core machine Prometheus alone takes tens of seconds to start.
    let timeout = Duration::from_secs(180);
    for port in &exporter_ports {
        wait_for("the exporters", timeout, async || {
            let url = format!("http://127.0.0.1:{port}/-/ready");
            (client.get(url).send().await.ok()?.status() == 200).then_some(())
        })
        .await;
    }
    wait_for("three scrapes and rule evaluations", timeout, async || {
        let count = prometheus
            .query("min(count_over_time(up{job=\"backup-exporter\"}[1m]))")
            .await;
        let scrapes = count.first()?["value"][1].as_str()?.parse::<f64>().ok()?;
        let rules = prometheus
            .query("backup:source_devices_by_health:count")
            .await;
        (scrapes >= 3.0 && !rules.is_empty()).then_some(())
    })
    .await;

    // Every dashboard query runs, its variables at All (or, without All, a real value as
    // Grafana would pick it); most return data.
    let mut queries = 0;
    let mut empty = Vec::new();
    // Each dashboard with the values its variables took while the exporters ran.
    let mut dashboards: Vec<(String, Value, Variables)> = Vec::new();
    for entry in std::fs::read_dir(format!("{ROOT}/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut values: Vec<(String, String)> = Vec::new();
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
            let value = match query.strip_prefix("query_result(") {
                Some(expr) => {
                    prometheus
                        .query_result_value(
                            expr.strip_suffix(')').unwrap(),
                            variable["regex"].as_str().unwrap(),
                        )
                        .await
                }
                None => {
                    let inner = query
                        .trim_start_matches("label_values(")
                        .trim_end_matches(')');
                    let (selector, label) = inner.rsplit_once(',').unwrap();
                    prometheus.label_value(selector.trim(), label.trim()).await
                }
            };
            let value = value.unwrap_or_else(|| {
                panic!("{}: variable {name} has no value: {query}", path.display())
            });
            values.push((name, value));
        }
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = substitute(target["expr"].as_str().unwrap(), &values);
                queries += 1;
                if prometheus.query(&expr).await.is_empty() {
                    empty.push(format!(
                        "{} {}: {expr}",
                        path.file_name().unwrap().to_string_lossy(),
                        panel["title"]
                    ));
                }
            }
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        dashboards.push((file, dashboard, values));
    }
    assert!(
        empty.len() * 10 <= queries,
        "{} of {queries} dashboard queries return no data:\n{}\n{}",
        empty.len(),
        empty.join("\n"),
        logs()
    );

    // Exactly the alerts the vendors' truth calls for.
    let now_ms = Clock::System.now_ms();
    let expected = expected(&sim.simulator, now_ms);
    assert!(
        expected.two_destinations_one_stale > 0,
        "the estate has a device whose one destination is stale and the other fresh"
    );
    assert!(
        !expected.daily_resources_8_days_behind.is_empty(),
        "the estate has a daily resource 8 days without a success"
    );
    for severity in ["warning", "critical"] {
        for name in ["BackupDeviceBackupAge", "BackupResourceBackupAge"] {
            assert!(
                expected
                    .alerts
                    .iter()
                    .any(|a| a.0 == name && a.1 == severity),
                "the estate calls for a {severity} {name}"
            );
        }
    }
    let firing = wait_for("the data alerts", timeout, async || {
        let firing: BTreeSet<Alert> = prometheus
            .firing()
            .await
            .into_iter()
            .filter(|a| DATA_ALERTS.contains(&a.0.as_str()))
            .collect();
        expected.alerts.is_subset(&firing).then_some(firing)
    })
    .await;
    let unexpected: Vec<_> = firing
        .difference(&expected.alerts)
        .filter(|a| !expected.undecided.contains(*a))
        .collect();
    assert!(
        unexpected.is_empty(),
        "alerts the vendors' truth does not call for: {unexpected:?}"
    );
    for id in &expected.daily_resources_8_days_behind {
        assert!(firing.contains(&(
            "BackupResourceBackupAge".into(),
            "critical".into(),
            id.clone()
        )));
    }
    // Nothing that cannot back up alerts (cold storage, disabled, archived, unscheduled,
    // deleted), whatever the alert.
    let all = prometheus.alerts().await;
    for alert in &all {
        let id = identity(&alert["labels"]);
        assert!(
            !expected.silent.contains(&id),
            "{id} cannot back up but alerts: {alert}"
        );
        // Two instances, one alert: the data alerts carry no instance.
        if DATA_ALERTS.contains(&alert["labels"]["alertname"].as_str().unwrap()) {
            assert!(alert["labels"].get("instance").is_none(), "{alert}");
        }
    }
    assert!(
        expected.silent.len() > 5,
        "the estate has items that cannot back up"
    );

    // The demo's licence use (just above 90 %) warns; each Druva severity with active
    // alerts is its own warning; no source is stale.
    let firing_all = prometheus.firing().await;
    assert!(firing_all.contains(&(
        "BackupLicenseUsage".into(),
        "warning".into(),
        "demo-druva|active".into()
    )));
    for (severity, count) in sim.simulator.druva().active_alerts(now_ms) {
        assert_eq!(
            firing_all.contains(&(
                "BackupVendorAlertsActive".into(),
                "warning".into(),
                format!("demo-druva|{}", severity.to_lowercase())
            )),
            count > 0,
            "{severity}: {firing_all:?}"
        );
    }
    assert!(
        !firing_all
            .iter()
            .any(|a| a.0.starts_with("BackupExporter") || a.0.starts_with("BackupSource")),
        "{firing_all:?}"
    );

    // Alertmanager holds each alert once; a device's critical inhibits its warning.
    let held = wait_for("Alertmanager to receive the alerts", timeout, async || {
        let alerts = get_json(&client, &format!("{alertmanager}/api/v2/alerts")).await?;
        let alerts = alerts.as_array()?.clone();
        let backup_age = alerts
            .iter()
            .filter(|a| a["labels"]["alertname"] == "BackupDeviceBackupAge")
            .count();
        let expected_backup_age = expected
            .alerts
            .iter()
            .filter(|a| a.0 == "BackupDeviceBackupAge")
            .count();
        (backup_age >= expected_backup_age).then_some(alerts)
    })
    .await;
    let severity_of = |a: &Value| a["labels"]["severity"].as_str().unwrap_or("").to_string();
    let mut seen = BTreeSet::new();
    for alert in &held {
        let key = (
            alert["labels"]["alertname"].as_str().unwrap().to_string(),
            severity_of(alert),
            identity(&alert["labels"]),
        );
        assert!(
            seen.insert(key.clone()),
            "{key:?} reached Alertmanager twice"
        );
        // Every alert about one item is a ticket here: no pagingScopes are configured.
        let receivers: Vec<&str> = alert["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        if DATA_ALERTS.contains(&key.0.as_str()) {
            assert_eq!(receivers, ["tickets"], "{alert}");
        }
    }
    // A device that is not connected gets that one alert: its backup and new-data alerts
    // are inhibited at the not-connected severity or lower; a critical inhibits its own
    // warning; everything else stays active.
    let held_state = |name: &str, severity: &str, id: &str| {
        held.iter()
            .find(|a| {
                a["labels"]["alertname"] == name
                    && severity_of(a) == severity
                    && identity(&a["labels"]) == id
            })
            .map(|a| a["status"]["state"].as_str().unwrap().to_string())
    };
    let mut inhibited_by_connection = 0;
    for alert in &held {
        let name = alert["labels"]["alertname"].as_str().unwrap();
        let severity = severity_of(alert);
        let id = identity(&alert["labels"]);
        let device = id.split('|').take(2).collect::<Vec<_>>().join("|");
        let not_connected =
            |at: &str| held_state("BackupDeviceNotConnected", at, &device).is_some();
        let state = alert["status"]["state"].as_str().unwrap();
        let silenced_by_connection = matches!(
            name,
            "BackupDeviceBackupAge"
                | "BackupDeviceNeverCompleted"
                | "BackupDeviceNotCompleting"
                | "BackupDestinationNoNewData"
        ) && (not_connected("critical")
            || severity == "warning" && not_connected("warning"));
        let silenced_by_critical =
            severity == "warning" && held_state(name, "critical", &id).is_some();
        if silenced_by_connection || silenced_by_critical {
            assert_eq!(state, "suppressed", "{alert}");
            inhibited_by_connection += usize::from(silenced_by_connection);
        } else {
            assert_eq!(state, "active", "{alert}");
        }
    }
    assert!(
        inhibited_by_connection > 0,
        "a device off for days raises one alert"
    );

    // The exporters stop: the wall shows no numbers and a red Exporter tile, and the data
    // alerts keep firing through the gap instead of resolving.
    drop(exporters);
    wait_for(
        "Prometheus to see both exporters down",
        timeout,
        async || {
            let down = prometheus
                .query("count(up{job=\"backup-exporter\"} == 0)")
                .await;
            (down.first()?["value"][1].as_str()? == "2").then_some(())
        },
    )
    .await;
    // Both counts: the two exporters' last scrapes fall in different rule evaluations, so
    // one count can go an evaluation before the other.
    wait_for("the recorded counts to go", timeout, async || {
        prometheus
            .query(
                "backup:source_devices_by_health:count or backup:source_resources_by_health:count",
            )
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    // Every stat, bar gauge and table of every dashboard, as Grafana shows it: nothing but
    // the Exporter tile (both replicas down) and the alerts still firing. The health counts
    // reduced from a range query would still show their numbers of before the outage: the
    // panels must not be built that way.
    let mut health_stats = 0;
    for (file, dashboard, values) in &dashboards {
        for panel in dashboard["panels"].as_array().unwrap() {
            if !matches!(panel["type"].as_str(), Some("stat" | "bargauge" | "table")) {
                continue;
            }
            for target in panel["targets"].as_array().unwrap() {
                let expr = substitute(target["expr"].as_str().unwrap(), values);
                let shown = prometheus.as_grafana_shows(panel, target, &expr).await;
                if panel["title"] == "Exporter" {
                    assert_eq!(
                        shown,
                        [0.0, 0.0],
                        "{file}: the Exporter tile shows two replicas down"
                    );
                } else if !expr.contains("ALERTS{") && !expr.contains("_over_time(") {
                    // Alerts keep firing through the gap, and a week's report (an
                    // aggregation over time) is the past week's; everything else is now.
                    assert!(
                        shown.is_empty(),
                        "{file}: {} shows {shown:?} with the exporters down: {expr}",
                        panel["title"]
                    );
                }
                if panel["type"] == "stat" && expr.contains("by_health:count") {
                    health_stats += 1;
                    let reduced_range = prometheus
                        .as_grafana_shows(panel, &serde_json::json!({}), &expr)
                        .await;
                    assert!(
                        !reduced_range.is_empty(),
                        "{file}: {}: a range query reduced to its last value would still show the counts",
                        panel["title"]
                    );
                }
            }
        }
    }
    assert!(
        health_stats >= 8,
        "devices and resources, four levels each: {health_stats}"
    );

    // The target leaves service discovery: no up series at all, and the Exporter tile says
    // "absent" in red rather than showing nothing, or green from before.
    std::fs::write(
        &prometheus_config,
        format!(
            "global: {{scrape_interval: 5s, evaluation_interval: 5s}}\n\
             rule_files: [{ROOT}/alerts/tests/e2e.rules.yml]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager_port}']}}]}}]}}\n\
             scrape_configs:\n  - job_name: backup-exporter\n    static_configs: []\n"
        ),
    )
    .unwrap();
    // SAFETY: sends SIGHUP to the Prometheus this test started.
    unsafe { libc::kill(processes.0[1].id() as i32, libc::SIGHUP) };
    wait_for("the target to leave", timeout, async || {
        prometheus
            .query("up{job=\"backup-exporter\"}")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let (_, overview, values) = dashboards
        .iter()
        .find(|(file, _, _)| file == "backup-overview.json")
        .unwrap();
    let tile = overview["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Exporter")
        .unwrap();
    let expr = substitute(tile["targets"][0]["expr"].as_str().unwrap(), values);
    let shown = prometheus
        .as_grafana_shows(tile, &tile["targets"][0], &expr)
        .await;
    assert_eq!(shown, [-1.0], "{expr}");
    let mapping = &tile["fieldConfig"]["defaults"]["mappings"][0]["options"]["-1"];
    assert_eq!(
        (mapping["text"].as_str(), mapping["color"].as_str()),
        (Some("absent"), Some("red"))
    );
    let still_firing = prometheus.firing().await;
    for alert in expected
        .alerts
        .iter()
        .filter(|a| a.0 == "BackupDeviceBackupAge")
    {
        assert!(
            still_firing.contains(alert),
            "{alert:?} keeps firing while the exporter is down"
        );
    }
    drop(processes);
    sim.stop().await;
}
