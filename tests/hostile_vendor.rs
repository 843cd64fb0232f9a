//! A vendor endpoint that is broken or hostile: absurd token lifetimes, reports that never
//! end, pages of rows that are not rows. Each fails at most one refresh, the last good data
//! stays served, and the source keeps refreshing.

mod common;

use backup_exporter::simulator::{Fault, FaultRule, SimulatorOptions};
use backup_exporter::{Clock, RefreshError};
use common::{Harness, NOW_MS, code42_yaml, druva_yaml};

const HOUR: i64 = 3_600_000;

async fn both(code42: &str, druva: &str) -> Harness {
    let (code42, druva) = (code42.to_string(), druva.to_string());
    Harness::start(
        SimulatorOptions::default(),
        Clock::manual(NOW_MS),
        move |url, secret| {
            code42_yaml(url, secret, &code42)
                + druva_yaml(url, secret, &format!("{druva}    events: none\n"))
                    .trim_start_matches("sources:\n")
        },
    )
    .await
}

/// `"expires_in": 9223372036854775807` (Code42) or 1e19 (Druva) once panicked the refresh
/// task, freezing the source while it still showed up.
#[tokio::test(flavor = "multi_thread")]
async fn absurd_token_lifetimes_leave_both_sources_refreshing() {
    let harness = both("", "").await;
    for lifetime in [i64::MAX as u64, 10_000_000_000_000_000_000] {
        harness.sim.simulator.tokens.revoke_all();
        harness.sim.simulator.tokens.set_lifetime(Some(lifetime));
        for round in 0..3 {
            harness.clock.advance_ms(HOUR);
            for source in ["crashplan-us", "druva-m365"] {
                let before = harness.source(source).status().attempts;
                let status = harness.refresh(source).await;
                assert!(
                    status.up,
                    "{source}, lifetime {lifetime}, round {round}: {:?}",
                    status.last_error
                );
                assert!(status.attempts > before);
                assert_eq!(status.failures_total, 0);
            }
        }
    }
    harness.stop().await;
}

async fn assert_fails_and_keeps_the_data(
    harness: &Harness,
    source: &str,
    fault: FaultRule,
    expected: impl Fn(&RefreshError) -> bool,
) {
    let series = |m: &common::Metrics| {
        m.0.iter()
            .filter(|s| s.labels.get("source").is_some_and(|v| v == source))
            .filter(|s| !s.name.starts_with("backup_source_") && !s.name.ends_with("_seconds"))
            .count()
    };
    let before = harness.metrics().await;
    let requests = harness.sim.simulator.requests();
    harness.sim.simulator.faults.add(fault);
    let status = harness.refresh(source).await;
    assert!(!status.up, "{source}");
    let error = status.last_error.unwrap();
    assert!(expected(&error), "{source}: {error}");
    // A vendor that never ends a report is left within the source's page limit. Druva's
    // other reports are read side by side meanwhile, so its refresh sends more requests.
    let sent = harness.sim.simulator.requests() - requests;
    let most = if source.starts_with("druva") { 60 } else { 30 };
    assert!(sent < most, "{source}: stopped early ({sent} requests)");
    assert_eq!(
        series(&harness.metrics().await),
        series(&before),
        "{source}"
    );
    harness.sim.simulator.faults.clear();
    assert!(harness.refresh(source).await.up, "{source} recovers");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_without_end_fails_the_refresh_at_its_limit() {
    // Limits above what the simulated tenants need (260 rows; 40 pages, 3,000 rows).
    let harness = both(
        "    max_rows: 2600\n",
        "    max_pages: 60\n    max_rows: 9000\n",
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "crashplan-us",
        FaultRule::new(Fault::EndlessPages).on("DeviceBackupReport"),
        |e| {
            matches!(e, RefreshError::Paging { detail, .. } if detail.contains("more than 2600 rows in one refresh (the source's max_rows)"))
        },
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "druva-m365",
        FaultRule::new(Fault::EndlessPages).on("m365UserWorkload"),
        |e| {
            matches!(e, RefreshError::Paging { detail, .. } if detail.contains("more than 9000 rows"))
        },
    )
    .await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_rows_that_are_not_rows_is_an_error_not_more_data() {
    let harness = both("", "").await;
    let unreadable = |e: &RefreshError| matches!(e, RefreshError::Decode { detail, .. } if detail.contains("not one the exporter can read"));
    assert_fails_and_keeps_the_data(
        &harness,
        "crashplan-us",
        FaultRule::new(Fault::UnreadableRows).on("DeviceBackupReport"),
        unreadable,
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "druva-m365",
        FaultRule::new(Fault::UnreadableRows).on("m365TeamsDiscovery"),
        unreadable,
    )
    .await;
    harness.stop().await;
}

/// Peak resident memory of a process, from /proc, in bytes.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The real binary, with its default limits, against reports that never end (full pages of
/// new rows as the vendor writes them): each refresh fails at a limit, with a message that
/// names it, before the process holds 200 MB; the next attempt backs off further.
#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_that_pages_forever_is_stopped_within_200_mb() {
    use backup_exporter::simulator::{self, Simulator};
    let simulator = Simulator::new(SimulatorOptions::default(), Clock::System);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = simulator::start(simulator, listener).unwrap();
    for (vendor, path) in [
        ("code42", "DeviceBackupReport"),
        ("druva", "m365UserWorkload"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "demo-secret").unwrap();
        std::fs::write(secret.with_file_name("druva-secret"), "druva-demo-secret").unwrap();
        let yaml = match vendor {
            "code42" => code42_yaml(&sim.url(), &secret, ""),
            _ => druva_yaml(&sim.url(), &secret, "    events: none\n"),
        }
        .replace("refresh_interval: 1h", "refresh_interval: 1m")
        .replace("timeout: 20s", "timeout: 5m");
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yaml).unwrap();
        sim.simulator.faults.clear();
        sim.simulator
            .faults
            .add(FaultRule::new(Fault::EndlessPages).on(path));
        let log = dir.path().join("exporter.log");
        let mut exporter = std::process::Command::new(env!("CARGO_BIN_EXE_backup-exporter"))
            .args(["--config.file", config.to_str().unwrap()])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
        let failures = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let failures: Vec<String> = text
                .lines()
                .filter(|l| l.contains("refresh failed"))
                .map(str::to_string)
                .collect();
            if failures.len() >= 2 {
                break failures;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{vendor}: no two failed refreshes in 240 s:\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let peak = peak_rss(exporter.id());
        let _ = exporter.kill();
        let _ = exporter.wait();
        eprintln!(
            "{vendor}: peak RSS {} MB; {}",
            peak / 1_000_000,
            failures[0]
        );
        assert!(
            failures[0].contains("in one refresh (the source")
                && failures[0].contains("the vendor seems to serve pages without end"),
            "{vendor}: {}",
            failures[0]
        );
        assert!(peak <= 200_000_000, "{vendor}: peak RSS {peak} bytes");
        // Backoff as after any failure, from a tenth of the 1-minute interval (at most 5 s):
        // 2.5–5 s, then 5–10 s.
        // `retry_in=3.874434765s` (or `…ms`), as a Duration's Debug form.
        let retry = |line: &str| {
            let at = line.find("retry_in=").unwrap() + "retry_in=".len();
            let text: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            match text.strip_suffix("ms") {
                Some(ms) => std::time::Duration::from_secs_f64(ms.parse::<f64>().unwrap() / 1e3),
                None => {
                    std::time::Duration::from_secs_f64(text.trim_end_matches('s').parse().unwrap())
                }
            }
        };
        let (first, second) = (retry(&failures[0]), retry(&failures[1]));
        assert!(
            first >= std::time::Duration::from_millis(2500)
                && second >= std::time::Duration::from_secs(5),
            "{vendor}: retries after {first:?}, then {second:?}"
        );
    }
    sim.stop().await;
}
