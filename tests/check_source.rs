//! `backup-exporter check-source NAME`, the binary against the simulator: what it reports
//! of a working tenant, and the plain-words problem and exit status of each failure a new
//! user meets first (bad credentials, missing role, wrong address, unknown source).

use std::collections::BTreeSet;
use std::path::Path;

use backup_exporter::Clock;
use backup_exporter::simulator::{
    self, Fault, FaultRule, RunningSimulator, Simulator, SimulatorOptions,
};
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

async fn start_simulator() -> RunningSimulator {
    let simulator = Simulator::new(SimulatorOptions::default(), Clock::System);
    simulator::start(simulator, TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap()
}

/// Writes a configuration of three sources against `url`: `good` (Code42, the
/// simulator's API client), `wrong-secret` (Code42, another secret) and `druva` (the
/// simulator's Druva credential), each source's `extra` lines appended to `good`.
fn write_config(dir: &Path, url: &str, sim: &RunningSimulator, extra: &str) -> String {
    let code42 = sim.simulator.code42().options();
    let druva = sim.simulator.druva().options();
    std::fs::write(dir.join("code42"), &code42.client_secret).unwrap();
    std::fs::write(dir.join("druva"), &druva.client_secret).unwrap();
    std::fs::write(dir.join("wrong"), "not-the-secret").unwrap();
    let yaml = format!(
        "sources:
  - name: good
    vendor: code42
    url: {url}
    client_id: {id}
    client_secret_file: {dir}/code42
    query: {{ active: \"true\" }}
{extra}
  - name: wrong-secret
    vendor: code42
    url: {url}
    client_id: {id}
    client_secret_file: {dir}/wrong
  - name: druva
    vendor: druva
    url: {url}
    client_id: {druva_id}
    client_secret_file: {dir}/druva
",
        id = code42.client_id,
        druva_id = druva.client_id,
        dir = dir.display(),
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

/// Runs the binary off the runtime's threads, so the in-process simulator keeps serving.
async fn check(config: &str, name: &str) -> (i32, String, String) {
    let args = ["check-source", name, "--config.file", config].map(String::from);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_code42_source_reports_its_first_page() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "");
    let (code, stdout, _) = check(&config, "good").await;
    assert_eq!(code, 0, "{stdout}");

    let truth: Vec<_> = sim
        .simulator
        .code42()
        .truth(Clock::System.now_ms())
        .into_iter()
        .filter(|a| a.active)
        .collect();
    let devices: BTreeSet<_> = truth.iter().map(|a| &a.device_uid).collect();
    let orgs: BTreeSet<_> = truth.iter().map(|a| &a.org).collect();
    assert!(truth.len() < 1000, "the default tenant fits one page");
    let expected = format!(
        "{rows} rows, {rows} archives of {} devices in {} orgs; rows skipped: none",
        devices.len(),
        orgs.len(),
        rows = truth.len()
    );
    assert!(stdout.contains(&expected), "{expected:?} not in\n{stdout}");
    assert!(stdout.contains("ok: authenticated as API client \"demo-client\""));
    assert!(stdout.contains("ok: that is the whole report"));
    assert!(stdout.ends_with("source \"good\" works: the exporter can authenticate and read it\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_first_page_says_more_pages_follow() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "    page_size: 50");
    let (code, stdout, _) = check(&config, "good").await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(": 50 rows, 50 archives of "), "{stdout}");
    assert!(stdout.contains("ok: the page is full (page_size 50): more pages follow"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_druva_source_reports_each_report_and_the_events() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "");
    let (code, stdout, _) = check(&config, "druva").await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: authenticated as API client \"druva-demo-client\""));
    for report in M365_REPORTS {
        assert!(
            stdout.contains(&format!("ok: report {report}: ")),
            "{report} not checked:\n{stdout}"
        );
    }
    assert!(stdout.contains("ok: events: "), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_fail_with_a_hint_and_no_secret() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "");
    let (code, stdout, stderr) = check(&config, "wrong-secret").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("problem: token: HTTP 401"), "{stdout}");
    assert!(stdout.contains("what to check: the vendor refused the credentials"));
    assert!(!stdout.contains("not-the-secret") && !stderr.contains("not-the-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_role_and_a_failing_service_are_told_apart() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "");
    let rule = |status| FaultRule {
        fault: Fault::Status {
            status,
            retry_after: None,
        },
        path: Some("DeviceBackupReport".into()),
        skip: 0,
        count: Some(1),
        every: None,
    };

    sim.simulator.faults.add(rule(403));
    let (code, stdout, _) = check(&config, "good").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("problem: device_backup_report: HTTP 403"),
        "{stdout}"
    );
    assert!(stdout.contains("what to check: the credentials work but may not read this"));

    sim.simulator.faults.add(rule(503));
    let (code, stdout, _) = check(&config, "good").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("HTTP 503"), "{stdout}");
    assert!(stdout.contains("what to check: the vendor's service failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_address_and_an_unknown_name() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    // A port held for the test, bound but not listening: every connection to it is
    // refused, and nothing else can take it while the test runs.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = reserved.local_addr().unwrap();
    let config = write_config(dir.path(), &format!("http://{closed}"), &sim, "");
    let (code, stdout, _) = check(&config, "good").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("problem: token: request failed"),
        "{stdout}"
    );
    assert!(stdout.contains("what to check: no connection: check url"));

    let (code, _, stderr) = check(&config, "crashplan-eu").await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "no source named \"crashplan-eu\"; the sources are: good, wrong-secret, druva"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_echoing_the_credentials_does_not_make_check_source_print_them() {
    let sim = start_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.url(), &sim, "");
    sim.simulator.faults.add(FaultRule {
        fault: Fault::EchoCredentials,
        path: Some("/oauth/token".into()),
        skip: 0,
        count: None,
        every: None,
    });
    let secret = sim.simulator.code42().options().client_secret.clone();
    let (code, stdout, stderr) = check(&config, "good").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("problem: token: HTTP 401"), "{stdout}");
    assert!(
        !stdout.contains(&secret) && !stderr.contains(&secret),
        "{stdout}{stderr}"
    );
}

/// The twenty Microsoft 365 reports a Druva source reads by default (README, "Druva").
const M365_REPORTS: [&str; 20] = [
    "m365StorageConsumption",
    "m365LicenseUsage",
    "m365UserCountAndStatus",
    "m365Alerts",
    "m365UserWorkload",
    "m365UserLastBackupStatus",
    "m365UserProvisioning",
    "m365PreservedUsersDatasources",
    "m365SharePointSiteDiscovery",
    "m365TeamsDiscovery",
    "m365GroupsDiscovery",
    "m365GroupsBackupActivity",
    "m365GroupsRestoreActivity",
    "m365UserRestoreActivity",
    "m365PublicFolderBackupActivity",
    "m365PublicFolderRestoreActivity",
    "m365SharePointBackupActivity",
    "m365SharePointRestoreActivity",
    "m365TeamsBackupActivity",
    "m365TeamsRestoreActivity",
];
