//! Hostile payloads generated here, independently of the fuzz corpus: deeply nested JSON,
//! strings of megabytes, numbers at the limits of i64 and f64, invalid UTF-8, lone
//! surrogates and truncated gzip, each sent as a Code42 report page in place of a good one.
//! None may crash the exporter or lose the source's last good data: the refresh fails (the
//! good snapshot stays served) or reads what it can (the device on the page stays), and the
//! next good page is read as before.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use backup_exporter::Clock;
use common::{Metrics, Served};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const NOW_MS: i64 = 1_765_000_000_000;

/// The first report page, as the test sets it: a body and whether it is sent gzipped.
#[derive(Clone, Default)]
struct Page(Arc<Mutex<(Vec<u8>, bool)>>);

impl Respond for Page {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let (body, gzip) = self.0.lock().unwrap().clone();
        let response = ResponseTemplate::new(200);
        if gzip {
            response
                .insert_header("content-encoding", "gzip")
                .set_body_raw(body, "application/json")
        } else {
            response.set_body_raw(body, "application/json")
        }
    }
}

/// A page of two good rows, device 1 and device 2.
fn good_page() -> Vec<u8> {
    let row = |uid: &str| {
        serde_json::json!({
            "deviceUid": uid, "deviceName": format!("laptop-{uid}"), "destinationName": "cloud",
            "orgName": "Eng", "lastCompletedBackupDate": "2025-12-06T05:46:40.000Z",
            "lastConnectedDate": "2025-12-06T05:46:40.000Z", "creationDate": "2024-01-01T00:00:00.000Z",
        })
    };
    serde_json::json!({"metadata": {}, "data": [row("1"), row("2")]})
        .to_string()
        .into_bytes()
}

/// Device 1's row with `field` set to the raw JSON `value`.
fn page_with(field: &str, value: &[u8]) -> Vec<u8> {
    let mut page = format!(
        r#"{{"data":[{{"deviceUid":"1","destinationName":"cloud","orgName":"Eng","lastCompletedBackupDate":"2025-12-06T05:46:40.000Z","{field}":"#
    )
    .into_bytes();
    page.extend_from_slice(value);
    page.extend_from_slice(b"}]}");
    page
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// Every hostile page, named.
fn hostile_pages() -> Vec<(&'static str, Vec<u8>, bool)> {
    let nested = |depth: usize| {
        let mut value = "[".repeat(depth).into_bytes();
        value.extend("]".repeat(depth).bytes());
        value
    };
    let huge = |bytes: usize| format!("\"{}\"", "x".repeat(bytes)).into_bytes();
    let truncated = {
        let whole = gzip(&good_page());
        whole[..whole.len() / 2].to_vec()
    };
    vec![
        (
            "nesting of 100,000 levels in an unknown field",
            page_with("extra", &nested(100_000)),
            false,
        ),
        (
            "nesting of 100 levels in a known field",
            page_with("orgName", &nested(100)),
            false,
        ),
        (
            "a device name of 8 MB",
            page_with("deviceName", &huge(8 << 20)),
            false,
        ),
        (
            "an org name of 100 KB",
            page_with("orgName", &huge(100 << 10)),
            false,
        ),
        (
            "i64::MAX as a date",
            page_with("lastConnectedDate", b"9223372036854775807"),
            false,
        ),
        (
            "i64::MIN as a date",
            page_with("lastConnectedDate", b"-9223372036854775808"),
            false,
        ),
        (
            "u64::MAX as a date",
            page_with("lastConnectedDate", b"18446744073709551615"),
            false,
        ),
        (
            "f64::MAX as a date",
            page_with("lastConnectedDate", b"1.7976931348623157e308"),
            false,
        ),
        (
            "1e400 as a percentage",
            page_with("backupCompletePercentage", b"1e400"),
            false,
        ),
        (
            "f64::MIN_POSITIVE as a percentage",
            page_with("backupCompletePercentage", b"2.2250738585072014e-308"),
            false,
        ),
        (
            "a date in year 262143",
            page_with("lastConnectedDate", b"\"+262143-12-31T23:59:59Z\""),
            false,
        ),
        (
            "invalid UTF-8 in a name",
            page_with("deviceName", b"\"\xff\xfe\xfd\""),
            false,
        ),
        (
            "a lone surrogate in a name",
            page_with("deviceName", br#""\ud800""#),
            false,
        ),
        (
            "a NUL and control characters in a name",
            page_with("deviceName", br#""a\u0000b\u001bc\n""#),
            false,
        ),
        ("a truncated gzip body", truncated, true),
        (
            "a gzip bomb's header with nothing after it",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
            true,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_pages_never_crash_the_exporter_nor_lose_the_last_good_data() {
    backup_exporter::install_crypto_provider();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"t","token_type":"bearer","expires_in":900}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let page = Page::default();
    *page.0.lock().unwrap() = (good_page(), false);
    Mock::given(method("GET"))
        .and(path("/api/v1/DeviceBackupReport"))
        .and(query_param("pgNum", "1"))
        .respond_with(page.clone())
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/DeviceBackupReport"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"data":[]}"#, "application/json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let yaml = format!(
        "sources:\n  - name: hostile\n    vendor: code42\n    url: {}\n    client_id: id\n    client_secret: secret\n    device_metrics: all\n",
        server.uri()
    );
    let (config, _) = backup_exporter::parse_config("hostile.yml", &yaml).unwrap();
    let clock = Clock::manual(NOW_MS);
    let served = Served::start(&config, &clock).await;
    let source = served.engine.sources()[0].clone();
    let refresh = async || {
        let before = source.status().attempts;
        source.refresh_now();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while source.status().attempts == before {
            assert!(
                std::time::Instant::now() < deadline,
                "no refresh within 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        source.status()
    };
    let metrics = async || {
        let text = common::get(format!("http://{}/metrics", served.addr))
            .await
            .expect("the exporter answers")
            .text()
            .await
            .unwrap();
        Metrics::parse(&text)
    };
    let devices = |m: &Metrics| {
        let mut uids: Vec<String> = m
            .find("backup_device_info", &[("source", "hostile")])
            .iter()
            .map(|s| s.labels["device_uid"].clone())
            .collect();
        uids.sort();
        uids
    };
    while !served.engine.is_ready() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(source.status().up);
    assert_eq!(devices(&metrics().await), ["1", "2"]);

    for (what, body, gzipped) in hostile_pages() {
        *page.0.lock().unwrap() = (body, gzipped);
        let status = refresh().await;
        let after = metrics().await;
        if status.up {
            // Read what it could: device 1 is on the page.
            assert!(
                devices(&after).contains(&"1".to_string()),
                "{what}: {:?}",
                devices(&after)
            );
        } else {
            // Failed: the last good data stays served.
            assert_eq!(
                devices(&after),
                ["1", "2"],
                "{what}: {:?}",
                status.last_error
            );
            assert!(status.last_error.is_some(), "{what}");
        }
        // Whatever the page held, every label value on /metrics is bounded.
        assert!(
            after
                .0
                .iter()
                .all(|s| s.labels.values().all(|v| v.len() <= 64 << 10)),
            "{what}: a label value over 64 KiB"
        );
        // And the next good page is read as before.
        *page.0.lock().unwrap() = (good_page(), false);
        assert!(refresh().await.up, "{what}: recovers");
        assert_eq!(devices(&metrics().await), ["1", "2"], "{what}");
    }
    let _ = served.stop.send(true);
    served.engine.stop().await;
}
