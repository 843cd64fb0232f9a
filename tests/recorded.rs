//! Recorded payloads replayed through the exporter. Each file under
//! `tests/fixtures/recorded/<vendor>/` is a response body as the vendor published or sent
//! it (where each comes from is in `tests/fixtures/recorded/README.md`). A stub answers the
//! vendor's endpoints with it, the real engine reads it as it reads a tenant, and every value
//! a person reads off the page must come out of `/metrics` exactly as the `.expected` file
//! beside it says. Nothing may be skipped unless the `.expected` file says so: a skipped row
//! or value is a reading the exporter lost.

mod common;

use std::path::{Path, PathBuf};

use backup_exporter::Clock;
use common::{Metrics, Served};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recorded");
/// 2025-01-07T09:21:35Z, the instant the seed's Druva samples filter up to.
const NOW_MS: i64 = 1_736_241_695_000;

/// A recorded body and what it must become.
struct Recording {
    vendor: &'static str,
    body: PathBuf,
    expected: PathBuf,
}

fn recordings(vendor: &'static str) -> Vec<Recording> {
    let dir = Path::new(FIXTURES).join(vendor);
    let mut found: Vec<Recording> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|body| Recording {
            vendor,
            expected: body.with_extension("expected"),
            body,
        })
        .collect();
    found.sort_by(|a, b| a.body.cmp(&b.body));
    assert!(!found.is_empty(), "no recordings in {}", dir.display());
    found
}

impl Recording {
    fn name(&self) -> String {
        self.body
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// A stub of the vendor answering with the recording, and the configuration reading it.
    async fn stub(&self) -> (MockServer, String) {
        let server = MockServer::start().await;
        let body = std::fs::read(&self.body).unwrap();
        let json = |body: &[u8]| {
            ResponseTemplate::new(200).set_body_raw(body.to_vec(), "application/json")
        };
        let name = self.name();
        let yaml = match self.vendor {
            "code42" => {
                Mock::given(method("POST"))
                    .and(path("/api/v3/oauth/token"))
                    .respond_with(json(
                        br#"{"access_token":"recorded","token_type":"bearer","expires_in":900}"#,
                    ))
                    .mount(&server)
                    .await;
                // The first page is the recording; the report ends with an empty page.
                Mock::given(method("GET"))
                    .and(path("/api/v1/DeviceBackupReport"))
                    .and(query_param("pgNum", "1"))
                    .respond_with(json(&body))
                    .with_priority(1)
                    .mount(&server)
                    .await;
                Mock::given(method("GET"))
                    .and(path("/api/v1/DeviceBackupReport"))
                    .respond_with(json(br#"{"metadata":{},"data":[]}"#))
                    .with_priority(2)
                    .mount(&server)
                    .await;
                format!(
                    "sources:\n  - name: recorded\n    vendor: code42\n    url: {}\n    client_id: id\n    client_secret: secret\n    device_metrics: all\n",
                    server.uri()
                )
            }
            _ => {
                Mock::given(method("POST"))
                    .and(path("/token"))
                    .respond_with(json(
                        br#"{"access_token":"recorded","token_type":"bearer","expires_in":1800}"#,
                    ))
                    .mount(&server)
                    .await;
                let (report, events) = match name.strip_prefix("events-v1") {
                    // The legacy Events API's reply; a report is read beside it, empty.
                    Some(_) => ("m365StorageConsumption".to_string(), "legacy"),
                    None => (name.clone(), "none"),
                };
                let empty =
                    br#"{"data":[],"lastSyncTimestamp":"2025-01-07T09:21:35Z","nextPageToken":""}"#;
                let report_body = if events == "none" {
                    body.clone()
                } else {
                    empty.to_vec()
                };
                Mock::given(method("POST"))
                    .and(path_regex(format!(
                        "^/platform/reporting/v1/reports/{report}$"
                    )))
                    .respond_with(json(&report_body))
                    .mount(&server)
                    .await;
                Mock::given(method("GET"))
                    .and(path("/api/events/v1"))
                    .respond_with(json(&body))
                    .mount(&server)
                    .await;
                let legacy = format!(
                    "    legacy_events:\n      url: {}\n      admin_email: admin@example.com\n      api_token: token\n",
                    server.uri()
                );
                format!(
                    "sources:\n  - name: recorded\n    vendor: druva\n    url: {}\n    client_id: id\n    client_secret: secret\n    reports: [{report}]\n    resource_metrics: all\n    events: {events}\n{}",
                    server.uri(),
                    if events == "legacy" {
                        legacy
                    } else {
                        String::new()
                    }
                )
            }
        };
        (server, yaml)
    }

    /// Replays the recording and checks every expected value; returns what went wrong.
    async fn replay(&self) -> Vec<String> {
        let (_server, yaml) = self.stub().await;
        let (config, _) = backup_exporter::parse_config("recorded.yml", &yaml).unwrap();
        let clock = Clock::manual(NOW_MS);
        let served = Served::start(&config, &clock).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !served.engine.is_ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "{}: not ready",
                self.name()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text = common::get(format!("http://{}/metrics", served.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let metrics = Metrics::parse(&text);
        let expected_text = std::fs::read_to_string(&self.expected)
            .unwrap_or_else(|e| panic!("{}: {e}", self.expected.display()));
        let expected = Metrics::parse(&expected_text);
        let mut problems = Vec::new();
        let source = [("source", "recorded")];
        if metrics.get("backup_source_up", &source) != Some(1.0) {
            let status = served.engine.sources()[0].status();
            problems.push(format!("the source is not up: {:?}", status.last_error));
        }
        for sample in &expected.0 {
            let mut labels: Vec<(&str, &str)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.push(("source", "recorded"));
            let found = metrics.get(&sample.name, &labels);
            if found != Some(sample.value) {
                problems.push(format!(
                    "{}{:?}: expected {}, got {found:?}",
                    sample.name, sample.labels, sample.value
                ));
            }
        }
        // Nothing skipped but what the expected file names.
        for family in [
            "backup_source_rows_skipped_total",
            "backup_source_values_skipped_total",
        ] {
            let skipped: f64 = metrics.find(family, &source).iter().map(|s| s.value).sum();
            let allowed: f64 = expected.find(family, &[]).iter().map(|s| s.value).sum();
            if skipped != allowed {
                let lines: Vec<String> = metrics
                    .find(family, &source)
                    .iter()
                    .filter(|s| s.value > 0.0)
                    .map(|s| format!("{:?} {}", s.labels, s.value))
                    .collect();
                problems.push(format!(
                    "{family}: {skipped} skipped ({lines:?}), {allowed} expected"
                ));
            }
        }
        let _ = served.stop.send(true);
        served.engine.stop().await;
        problems
            .into_iter()
            .map(|p| format!("{}: {p}", self.name()))
            .collect()
    }
}

async fn replay_all(vendor: &'static str) {
    backup_exporter::install_crypto_provider();
    let mut problems = Vec::new();
    for recording in recordings(vendor) {
        problems.extend(recording.replay().await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_druva_payload_reads_as_a_person_reads_it() {
    replay_all("druva").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_code42_payload_reads_as_a_person_reads_it() {
    replay_all("code42").await;
}
