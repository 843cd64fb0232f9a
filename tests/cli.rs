//! The binary: `--config.check` on every test configuration, `--version`, `--help`, and
//! `--demo` serving every documented metric, stopped gracefully by SIGTERM.

mod common;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BACKUP_EXPORTER_TEST_UNSET")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn config_check_accepts_the_documented_configuration() {
    let (code, stdout, stderr) =
        run(&["--config.check", "--config.file", "tests/testdata/good.yml"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "tests/testdata/good.yml: configuration is valid (4 sources)\n"
    );
}

/// Each `invalid-*.yml` names the message it must produce in its first line.
#[test]
fn config_check_rejects_each_invalid_file_with_a_precise_message() {
    let dir = format!("{}/tests/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("invalid-") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("first line names the message");
        let relative = format!("tests/testdata/{name}");
        let (code, stdout, stderr) = run(&["--config.check", "--config.file", &relative]);
        assert_eq!(code, 1, "{name}: {stdout}");
        assert!(
            stderr.starts_with(&format!("{relative}: ")),
            "{name}: the message names the file: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr:?}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} invalid files");
}

#[test]
fn config_check_reports_a_missing_file() {
    let (code, _, stderr) = run(&[
        "--config.check",
        "--config.file",
        "/nonexistent/backup-exporter.yml",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("/nonexistent/backup-exporter.yml: cannot read file"),
        "{stderr}"
    );
}

#[test]
fn inline_secrets_are_accepted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inline.yml");
    std::fs::write(
        &path,
        "sources:\n  - name: a\n    vendor: code42\n    url: https://x.example\n    client_id: id\n    client_secret: inline-canary\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["--config.check", "--config.file", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("sources[0].client_secret: warning: secret given inline"),
        "{stderr}"
    );
    assert!(!stdout.contains("inline-canary") && !stderr.contains("inline-canary"));
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!("backup-exporter {}\n", env!("CARGO_PKG_VERSION"))
    );
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config.file",
        "--config.check",
        "--web.listen-address",
        "--web.telemetry-path",
        "--log.level",
        "--log.format",
        "--demo",
        "check-source",
        "healthcheck",
        "simulate",
    ] {
        assert!(stdout.contains(flag), "--help lacks {flag}");
    }
    let (code, stdout, _) = run(&["check-source", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit status: 0 when it authenticated and read a page"));
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// README command one: every metric of the Code42 table is served with plausible values.
#[test]
fn demo_serves_every_documented_metric_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("exporter.log");
    let mut child = Command::new(BIN)
        .args([
            "--demo",
            "--web.listen-address",
            "127.0.0.1:0",
            "--log.format",
            "json",
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let port = common::exporter_port(&log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(port, "/-/ready").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "demo not ready in 20s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    // Chunked transfer encoding: the names are still in the text.
    for name in [
        "backup_exporter_build_info{",
        "backup_source_up{source=\"demo-crashplan\",vendor=\"code42\"} 1",
        "backup_source_last_success_timestamp_seconds{",
        "backup_source_refresh_duration_seconds{",
        "backup_source_refresh_interval_seconds{source=\"demo-crashplan\"} 60",
        "backup_source_refresh_failures_total{source=\"demo-crashplan\"} 0",
        "backup_source_api_requests_total{source=\"demo-crashplan\",endpoint=\"device_backup_report\",code=\"200\"}",
        "backup_source_rows_skipped_total{",
        "backup_device_info{",
        "backup_device_last_completed_backup_timestamp_seconds{",
        "backup_device_backup_age_seconds{",
        "backup_device_never_completed{",
        "backup_device_last_activity_timestamp_seconds{",
        "backup_device_last_connected_timestamp_seconds{",
        "backup_device_backup_complete_ratio{",
        "backup_device_archive_bytes{",
        "backup_device_selected_bytes{",
        "backup_device_cold_storage{",
        "backup_device_alerts{",
        "backup_alerts_active{source=\"demo-crashplan\",severity=\"critical\"}",
        "backup_org_devices{",
        "backup_org_archive_bytes{",
        "backup_source_up{source=\"demo-druva\",vendor=\"druva\"} 1",
        "backup_workload_storage_bytes{",
        "backup_workload_resources{",
        "backup_license_allocated{",
        "backup_license_used{",
        "backup_users{",
        "backup_alerts_active{source=\"demo-druva\",severity=\"high\"}",
        "backup_resource_info{",
        "backup_resource_last_success_timestamp_seconds{",
        "backup_resource_last_attempt_timestamp_seconds{",
        "backup_resource_backup_age_seconds{",
        "backup_resource_never_backed_up{",
        "backup_resource_expected_interval_seconds{",
        "backup_resource_bytes{",
        "backup_resource_last_backup_failed{",
        "backup_jobs_total{",
        "backup_job_bytes_total{",
        "backup_events_total{",
    ] {
        assert!(body.contains(name), "demo output lacks {name}");
    }
    let stale = body
        .lines()
        .filter(|l| l.starts_with("backup_device_backup_age_seconds{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .filter(|age| *age > 3.0 * 86400.0)
        .count();
    assert!(
        stale >= 5,
        "the demo has devices more than 3 days stale ({stale})"
    );

    // The container image's HEALTHCHECK.
    let health_url = format!("http://127.0.0.1:{port}/-/healthy");
    assert_eq!(run(&["healthcheck", "--url", &health_url]).0, 0);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit within 15s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let (code, _, stderr) = run(&["healthcheck", "--url", &health_url]);
    assert_eq!(code, 1, "a stopped exporter is unhealthy");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("\"message\":\"shutting down\""), "{logs}");
    assert!(
        !logs.contains("demo-secret"),
        "the demo's secret never appears in logs"
    );
}
