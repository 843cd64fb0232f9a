//! `promtool check metrics` on the exporter's real output. promtool is required when the
//! CI variable is set (`.ci/run` installs it); elsewhere the test says it was skipped.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::Clock;
use backup_exporter::simulator::SimulatorOptions;
use backup_exporter::simulator::code42::Code42Options;
use common::{Harness, code42_yaml, druva_yaml, required_tool};

#[tokio::test(flavor = "multi_thread")]
async fn real_output_passes_promtool_check_metrics() {
    let Some(promtool) = required_tool(&["promtool"], "prometheus") else {
        return;
    };
    let options = SimulatorOptions::default().with(Code42Options {
        devices: 300,
        ..Code42Options::default()
    });
    let harness = Harness::start(options, Clock::System, |url, secret| {
        code42_yaml(url, secret, "") + druva_yaml(url, secret, "").trim_start_matches("sources:\n")
    })
    .await;
    let body = harness.scrape().await;
    assert!(body.contains("backup_device_info{"));
    assert!(body.contains("backup_resource_info{"));
    assert!(body.contains("backup_events_total{"));
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert_eq!(report.trim(), "", "promtool reported problems");
    harness.stop().await;
}

/// A threshold pair that is not a tier (warning at or above critical), in the defaults, in
/// an override or in the pair two overrides combine into, an unknown key, an objective
/// outside (0, 1), stale thresholds that could invert and a paging scope that names nothing
/// stop the mixin from rendering, naming what is wrong.
#[test]
fn thresholds_that_are_not_tiers_are_refused() {
    let Some(jsonnet) = required_tool(&["jsonnet"], "jsonnet") else {
        return;
    };
    let render = |config: &str| {
        Command::new(&jsonnet)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/alerts"))
            .args([
                "-J",
                ".",
                "-e",
                &format!(
                    "local day = 86400; ((import 'mixin.libsonnet') + {{ _config+:: {config} }}).prometheusRules"
                ),
            ])
            .output()
            .unwrap()
    };
    let cases = [
        (
            "{ overrides: [{ source: 'eu', backupAge: { warning: 7 * day } }] }",
            r#"source eu: backupAge warning 604800 (from {"backupAge":{"warning":604800},"source":"eu"}) is not below critical 432000 (from the default)"#,
        ),
        (
            "{ resourceIntervalFactor: { warning: 2, critical: 2 } }",
            "resourceIntervalFactor: warning 2 is not below critical 2",
        ),
        (
            "{ connection: { warning: 5 * day, critical: 3 * day } }",
            "connection: warning 432000 is not below critical 259200",
        ),
        (
            "{ preservedDeletion: { warning: 3 * day, critical: 14 * day } }",
            "preservedDeletion: warning 259200 is not above critical 1209600 (time left)",
        ),
        // Two entries that each pass combine into an inversion for the Servers org of eu.
        (
            "{ overrides: [{ org: 'Servers', backupAge: { critical: 4 * day } }, { source: 'eu', backupAge: { warning: 4.5 * day } }] }",
            r#"source eu, org Servers: backupAge warning 388800 (from {"backupAge":{"warning":388800},"source":"eu"}) is not below critical 345600 (from {"backupAge":{"critical":345600},"org":"Servers"})"#,
        ),
        // A misspelt key would make a global override.
        (
            "{ overrides: [{ orgg: 'Servers', backupAge: { warning: 1 * day, critical: 2 * day } }] }",
            r#"override {"backupAge":{"critical":172800,"warning":86400},"orgg":"Servers"}: unknown key orgg"#,
        ),
        (
            "{ overrides: [{ org: 'Servers', backupAge: { warn: 1 * day } }] }",
            "backupAge has unknown key warn (known: warning, critical)",
        ),
        (
            "{ overrides: [{ org: 'Servers', rpoObjective: 1.5 }] }",
            "rpoObjective must be a number between 0 and 1",
        ),
        (
            "{ staleIntervals: 6, staleCriticalIntervals: 6 }",
            "staleCriticalIntervals 6 is not above staleIntervals 6",
        ),
        (
            "{ pagingScopes: [{ source: 'eu' }] }",
            r#"pagingScopes {"source":"eu"}: names no org or workload"#,
        ),
    ];
    for (config, expected) in cases {
        let output = render(config);
        let stderr = String::from_utf8_lossy(&output.stderr).replace('\n', "");
        assert!(!output.status.success(), "{config} rendered");
        assert!(
            stderr.contains(expected),
            "{config}: expected {expected:?} in {stderr}"
        );
    }
    let valid = render(
        "{ overrides: [{ source: 'eu', backupAge: { warning: 4 * day } }, { org: 'Servers', backupAge: { warning: day, critical: 2 * day } }], pagingScopes: [{ org: 'Servers' }] }",
    );
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );
}
