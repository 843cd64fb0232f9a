//! The HTTP layer: content negotiation, gzip, health and readiness, 404/405, HEAD.
#![cfg(feature = "code42")]

mod common;

use std::io::Read;

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::{Fault, FaultRule, SimulatorOptions};
use common::{Harness, NOW_MS, code42_yaml};

fn options() -> SimulatorOptions {
    SimulatorOptions::default().with(Code42Options {
        devices: 40,
        ..Code42Options::default()
    })
}

async fn start() -> Harness {
    Harness::start(options(), Clock::manual(NOW_MS), |url, secret| {
        code42_yaml(url, secret, "")
    })
    .await
}

/// A client that does not decompress, so the test sees the bytes on the wire.
fn raw_client() -> reqwest::Client {
    common::http_client_builder().no_gzip().build().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_content_types_follow_the_accept_header() {
    let harness = start().await;
    let client = raw_client();
    let plain = client.get(harness.url("/metrics")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let plain = plain.text().await.unwrap();
    assert!(!plain.contains("# EOF"));

    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = client
        .get(harness.url("/metrics"))
        .header("Accept", prometheus)
        .send()
        .await
        .unwrap();
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let om = om.text().await.unwrap();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE backup_source_refresh_failures counter\n"));
    assert!(om.contains("# TYPE backup_device info\n"));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_when_accepted_and_identical_to_plain() {
    let harness = start().await;
    let client = raw_client();
    let plain = client
        .get(harness.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .get(harness.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(
        compressed.len() < plain.len() / 3,
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    let mut decompressed = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut decompressed)
        .unwrap();
    // The clock is fixed, so even the ages are the same.
    assert_eq!(decompressed, plain);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_landing_page_and_errors() {
    let harness = start().await;
    let client = raw_client();
    let get = |path: &str| client.get(harness.url(path)).send();

    let healthy = get("/-/healthy").await.unwrap();
    assert_eq!(healthy.status(), 200);
    assert_eq!(get("/-/ready").await.unwrap().status(), 200);

    let landing = get("/").await.unwrap();
    assert_eq!(landing.status(), 200);
    assert_eq!(
        landing.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let landing = landing.text().await.unwrap();
    assert!(landing.contains("<a href=\"/metrics\">"));
    assert!(landing.contains("crashplan-us"));
    assert!(landing.contains(">up<"));

    assert_eq!(get("/nope").await.unwrap().status(), 404);
    assert_eq!(get("/metrics/extra").await.unwrap().status(), 404);
    let post = client.post(harness.url("/metrics")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    assert_eq!(
        client
            .delete(harness.url("/-/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );

    let head = client.head(harness.url("/metrics")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_ready_until_the_first_refresh_attempt_finishes() {
    // The first token request hangs for a while: the exporter is healthy but not ready.
    let simulator_delay = FaultRule::new(Fault::Delay { millis: 1500 })
        .on("oauth")
        .times(1);
    let harness = Harness::start_unready(
        options(),
        Clock::manual(NOW_MS),
        vec![simulator_delay],
        |url, secret| code42_yaml(url, secret, ""),
    )
    .await;
    let client = raw_client();
    let ready = client.get(harness.url("/-/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("crashplan-us"));
    assert_eq!(
        client
            .get(harness.url("/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Before any data, /metrics still answers with the exporter's own metrics.
    let metrics = client
        .get(harness.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("backup_source_up{source=\"crashplan-us\",vendor=\"code42\"} 0"));
    harness.wait_until(|h| h.engine.is_ready()).await;
    assert_eq!(
        client
            .get(harness.url("/-/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    harness.stop().await;
}
