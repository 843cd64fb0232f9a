//! The real binary: killed and restarted with `--storage.path`, it serves its data at once
//! and its counters and event stream continue; configuration reloads by SIGHUP and
//! `POST /-/reload` keep the running configuration when the new one is invalid.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backup_exporter::Clock;
use backup_exporter::simulator::{self, Fault, FaultRule, Simulator, SimulatorOptions};
use common::{Metrics, NOW_MS};
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

struct Exporter {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Exporter {
    fn start(args: &[&str], log: &Path) -> Exporter {
        let file = std::fs::File::create(log).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.level",
                "debug",
            ])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let port = common::exporter_port(log);
        Exporter {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = common::get(self.url(path)).await.ok()?;
        Some((response.status().as_u16(), response.text().await.ok()?))
    }

    async fn post(&self, path: &str) -> (u16, String) {
        let response = common::http_client()
            .post(self.url(path))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// `POST /-/reload` as soon as the one-a-second limit allows it.
    async fn reload_when_allowed(&self) -> (u16, String) {
        let mut answer = None;
        self.wait_for("the reload limit to allow another", async |e| {
            let (status, body) = e.post("/-/reload").await;
            answer = Some((status, body));
            status != 429
        })
        .await;
        answer.expect("answered")
    }

    async fn wait_for(&self, what: &str, mut check: impl AsyncFnMut(&Exporter) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check(self).await {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics").await.unwrap().1)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        assert!(
            Command::new("kill")
                .args([signal, &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(url: &str, dir: &Path) -> String {
    std::fs::write(dir.join("code42-secret"), "demo-secret\n").unwrap();
    std::fs::write(dir.join("druva-secret"), "druva-demo-secret\n").unwrap();
    format!(
        "sources:\n  - name: crashplan\n    vendor: code42\n    url: {url}\n    client_id: demo-client\n    client_secret_file: {}\n    refresh_interval: 1h\n\
         \x20 - name: m365\n    vendor: druva\n    url: {url}\n    client_id: druva-demo-client\n    client_secret_file: {}\n    refresh_interval: 1h\n",
        dir.join("code42-secret").display(),
        dir.join("druva-secret").display(),
    )
}

/// A simulator, and the arguments of an exporter reading both its vendors with
/// `--storage.path` `dir/state`.
async fn with_storage(clock: &Clock, dir: &Path) -> (simulator::RunningSimulator, Vec<String>) {
    let sim = simulator::start(
        Simulator::new(SimulatorOptions::default(), clock.clone()),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let file = dir.join("config.yml");
    std::fs::write(&file, config(&sim.url(), dir)).unwrap();
    let args = vec![
        "--config.file".to_string(),
        file.display().to_string(),
        "--storage.path".to_string(),
        dir.join("state").display().to_string(),
    ];
    (sim, args)
}

fn sum(metrics: &Metrics, name: &str) -> f64 {
    metrics.find(name, &[]).iter().map(|s| s.value).sum()
}

/// Device and resource values (not ages, which move with the clock).
fn data(metrics: &Metrics) -> BTreeMap<String, f64> {
    metrics
        .0
        .iter()
        .filter(|s| {
            (s.name.starts_with("backup_device_") || s.name.starts_with("backup_resource_"))
                && !s.name.ends_with("_age_seconds")
        })
        .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_and_restarted_it_serves_its_data_at_once_and_counts_continue() {
    backup_exporter::install_crypto_provider();
    let clock = Clock::manual(NOW_MS);
    let dir = tempfile::tempdir().unwrap();
    let (sim, args) = with_storage(&clock, dir.path()).await;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let storage = dir.path().join("state");

    let first = Exporter::start(&args, &dir.path().join("first.log"));
    first
        .wait_for("both first refreshes", async |e| {
            e.metrics()
                .await
                .find("backup_source_up", &[])
                .iter()
                .filter(|s| s.value == 1.0)
                .count()
                == 2
        })
        .await;
    let before = first.metrics().await;
    let events = sum(&before, "backup_events_total");
    assert!(events > 1000.0);
    first.kill();

    // While it is down, time passes at the vendor: new events and jobs.
    clock.advance_ms(2 * 3_600_000);
    // The restarted exporter's first refreshes hang at the vendor for a while.
    sim.simulator.faults.add(
        FaultRule::new(Fault::Delay { millis: 3000 })
            .on("token")
            .times(2),
    );
    let second = Exporter::start(&args, &dir.path().join("second.log"));
    second
        .wait_for("readiness from restored data", async |e| {
            e.get("/-/ready").await.is_some_and(|r| r.0 == 200)
        })
        .await;
    let restored = second.metrics().await;
    assert!(
        second.logs().contains("restored from --storage.path"),
        "{}",
        second.logs()
    );
    for source in ["crashplan", "m365"] {
        let labels = [("source", source)];
        assert_eq!(
            restored.get("backup_source_up", &labels),
            Some(1.0),
            "up as persisted"
        );
        assert_eq!(
            restored.get("backup_source_last_success_timestamp_seconds", &labels),
            before.get("backup_source_last_success_timestamp_seconds", &labels),
            "the original last success"
        );
    }
    assert_eq!(
        data(&restored),
        data(&before),
        "the same device and resource data, at once"
    );
    assert_eq!(
        sum(&restored, "backup_events_total"),
        events,
        "event counters continue from their persisted values"
    );
    assert_eq!(
        sum(&restored, "backup_jobs_total"),
        sum(&before, "backup_jobs_total")
    );
    assert!(
        sum(&restored, "backup_source_api_requests_total")
            >= sum(&before, "backup_source_api_requests_total")
    );

    // After its first refresh: every event once, none lost, none twice.
    second
        .wait_for("the first refresh after the restart", async |e| {
            sum(&e.metrics().await, "backup_events_total") > events
        })
        .await;
    let after = second.metrics().await;
    let truth = sim.simulator.druva().events(clock.now_ms()).len() as f64;
    assert_eq!(sum(&after, "backup_events_total"), truth);
    drop(second);

    // A corrupt state file is reported and ignored.
    std::fs::write(
        storage.join("m365.state.json"),
        b"{\"format\": 1, \"garbage",
    )
    .unwrap();
    let third = Exporter::start(&args, &dir.path().join("third.log"));
    third
        .wait_for("a fresh start", async |e| {
            e.metrics()
                .await
                .find("backup_source_up", &[])
                .iter()
                .filter(|s| s.value == 1.0)
                .count()
                == 2
        })
        .await;
    assert!(
        third
            .logs()
            .contains("saved state is corrupt or of another version; ignoring it"),
        "{}",
        third.logs()
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_by_sighup_and_lifecycle_endpoint() {
    backup_exporter::install_crypto_provider();
    let sim = simulator::start(
        Simulator::new(SimulatorOptions::default(), Clock::manual(NOW_MS)),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    let both = config(&sim.url(), dir.path());
    let code42_only = both[..both.find("  - name: m365").unwrap()].to_string();
    std::fs::write(&file, &code42_only).unwrap();
    let exporter = Exporter::start(
        &[
            "--config.file",
            file.to_str().unwrap(),
            "--web.enable-lifecycle",
        ],
        &dir.path().join("log"),
    );
    exporter
        .wait_for("ready", async |e| {
            e.get("/-/ready").await.is_some_and(|r| r.0 == 200)
        })
        .await;
    let requests = |m: &Metrics| sum(m, "backup_source_api_requests_total");
    let first = exporter.metrics().await;

    // A second source appears; the unchanged first one keeps running with its data.
    std::fs::write(
        &file,
        both.replace(
            "refresh_interval: 1h\n",
            "refresh_interval: 1h\n    labels: { tenant: acme }\n",
        )
        .replacen("    labels: { tenant: acme }\n", "", 1),
    )
    .unwrap();
    assert_eq!(
        exporter.post("/-/reload").await,
        (200, "configuration reloaded\n".into())
    );
    exporter
        .wait_for("the new source", async |e| {
            e.get("/-/ready").await.is_some_and(|r| r.0 == 200)
        })
        .await;
    let second = exporter.metrics().await;
    assert_eq!(
        second.get(
            "backup_source_up",
            &[("source", "m365"), ("tenant", "acme")]
        ),
        Some(1.0)
    );
    assert_eq!(
        second.get(
            "backup_source_api_requests_total",
            &[("source", "crashplan"), ("endpoint", "token")]
        ),
        first.get(
            "backup_source_api_requests_total",
            &[("source", "crashplan"), ("endpoint", "token")]
        ),
        "the unchanged source was not restarted"
    );
    assert!(requests(&second) > requests(&first));

    // An invalid file keeps the running configuration. Reloads are limited to one a
    // second: one asked for at once is refused, and the next allowed one goes through.
    std::fs::write(&file, "sources:\n  - name: broken\n    vendor: veeam\n").unwrap();
    assert_eq!(
        exporter.post("/-/reload").await,
        (429, "reloads are limited to one a second\n".into())
    );
    let (status, body) = exporter.reload_when_allowed().await;
    assert_eq!(status, 500);
    assert!(body.contains("unknown variant `veeam`"), "{body}");
    let third = exporter.metrics().await;
    assert_eq!(
        third.get("backup_exporter_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(third.find("backup_source_up", &[]).len(), 2);

    // SIGHUP reads it again.
    std::fs::write(&file, &code42_only).unwrap();
    exporter.signal("-HUP");
    exporter
        .wait_for("the reload by SIGHUP", async |e| {
            let m = e.metrics().await;
            m.get("backup_exporter_config_last_reload_successful", &[]) == Some(1.0)
                && m.find("backup_source_up", &[]).len() == 1
        })
        .await;
    assert_eq!(exporter.get("/-/reload").await.unwrap().0, 405);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lifecycle_endpoint_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(&["--demo"], &dir.path().join("log"));
    exporter
        .wait_for("ready", async |e| {
            e.get("/-/ready").await.is_some_and(|r| r.0 == 200)
        })
        .await;
    let (status, body) = exporter.post("/-/reload").await;
    assert_eq!(status, 403, "{body}");
}

/// Makes a hostile state file from a good one.
type Corruption<'a> = Box<dyn Fn(&str) -> Vec<u8> + 'a>;

/// State files made hostile here, independently of the fuzz corpus: nesting of 100,000
/// levels, invalid UTF-8, every number at the limits of i64 or beyond f64, an empty file.
/// Each start refuses the file whole and says so (a wrong type anywhere, such as a number
/// too large for its field, refuses all of it), never crashes, and refreshes afresh.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_state_files_never_crash_a_start() {
    backup_exporter::install_crypto_provider();
    let clock = Clock::manual(NOW_MS);
    let dir = tempfile::tempdir().unwrap();
    let (sim, args) = with_storage(&clock, dir.path()).await;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let storage = dir.path().join("state");
    let both_up = async |e: &Exporter| {
        e.get("/metrics").await.is_some_and(|(status, text)| {
            status == 200
                && Metrics::parse(&text)
                    .find("backup_source_up", &[])
                    .iter()
                    .filter(|s| s.value == 1.0)
                    .count()
                    == 2
        })
    };
    let first = Exporter::start(&args, &dir.path().join("first.log"));
    first.wait_for("both first refreshes", both_up).await;
    first.kill();
    let saved: Vec<(String, String)> = ["crashplan", "m365"]
        .iter()
        .map(|s| {
            let path = storage.join(format!("{s}.state.json"));
            (
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    let numbers = regex::Regex::new(r":-?[0-9][0-9.eE+-]*").unwrap();
    // The file's own version stays readable, so the state inside is what is tried.
    let keep_format = |text: String, number: &str| {
        text.replace(&format!("\"format\":{number}"), "\"format\":1")
            .into_bytes()
    };
    let variants: Vec<(&str, Corruption)> = vec![
        (
            "nesting of 100,000 levels",
            Box::new(|_| {
                format!(
                    "{{\"format\":1,\"state\":{}{}}}",
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                )
                .into_bytes()
            }),
        ),
        (
            "invalid UTF-8 in a string",
            Box::new(|text| {
                let at = text.find("\":\"").unwrap() + 3;
                [&text.as_bytes()[..at], b"\xff\xfe", &text.as_bytes()[at..]].concat()
            }),
        ),
        (
            "every number i64::MAX",
            Box::new(|text| {
                keep_format(
                    numbers
                        .replace_all(text, ":9223372036854775807")
                        .into_owned(),
                    "9223372036854775807",
                )
            }),
        ),
        (
            "every number i64::MIN",
            Box::new(|text| {
                keep_format(
                    numbers
                        .replace_all(text, ":-9223372036854775808")
                        .into_owned(),
                    "-9223372036854775808",
                )
            }),
        ),
        (
            "every number beyond f64",
            Box::new(|text| keep_format(numbers.replace_all(text, ":1e400").into_owned(), "1e400")),
        ),
        ("an empty file", Box::new(|_| Vec::new())),
    ];
    for (i, (what, make)) in variants.iter().enumerate() {
        for (path, text) in &saved {
            std::fs::write(path, make(text)).unwrap();
        }
        let mut exporter = Exporter::start(&args, &dir.path().join(format!("{i}.log")));
        exporter
            .wait_for(what, async |e| {
                e.get("/metrics").await.is_some_and(|(s, _)| s == 200)
            })
            .await;
        assert!(
            exporter.child.try_wait().unwrap().is_none(),
            "{what}: {}",
            exporter.logs()
        );
        // Both sources are up, refreshed afresh.
        exporter.wait_for(what, both_up).await;
        assert!(
            !exporter.logs().contains("panicked"),
            "{what}: {}",
            exporter.logs()
        );
        // Each is refused whole, with the reason: no half-loaded state.
        assert!(
            exporter
                .logs()
                .contains("saved state is corrupt or of another version; ignoring it"),
            "{what}: {}",
            exporter.logs()
        );
        exporter.kill();
    }
    sim.stop().await;
}
