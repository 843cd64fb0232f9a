//! Canary secrets: every credential of every source is a recognisable string, the vendor is
//! driven through every failure path (including error bodies that repeat the request's
//! credentials), and none of the canaries — nor the access tokens the vendor issues — may
//! appear in any log line at debug level, any HTTP response, `--config.check` output or the
//! files under `--storage.path`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::druva::DruvaOptions;
use backup_exporter::simulator::{self, Fault, FaultRule, Simulator, SimulatorOptions};
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");
const CANARIES: &[&str] = &[
    "CANARY-c42-secret-5f1e",
    "CANARY-c42-password-77a",
    "CANARY-druva-secret-90b",
    "CANARY-insync-token-3cd",
];

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_through_any_failure_path() {
    backup_exporter::install_crypto_provider();
    let options = SimulatorOptions::default()
        .with(Code42Options {
            devices: 30,
            client_secret: CANARIES[0].into(),
            password: CANARIES[1].into(),
            ..Code42Options::default()
        })
        .with(DruvaOptions {
            users: 20,
            sites: 12,
            teams: 3,
            groups: 3,
            client_secret: CANARIES[2].into(),
            api_token: CANARIES[3].into(),
            ..DruvaOptions::default()
        });
    let sim = simulator::start(
        Simulator::new(options, Clock::System),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("c42"), format!("{}\n", CANARIES[0])).unwrap();
    std::fs::write(d.join("token"), CANARIES[3]).unwrap();
    let config = d.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "sources:\n\
             \x20 - {{name: api-client, vendor: code42, url: '{url}', client_id: demo-client, client_secret_file: '{c42}', refresh_interval: 1s, timeout: 3s}}\n\
             \x20 - {{name: user, vendor: code42, url: '{url}', username: admin@example.com, password_env: CANARY_PASSWORD, refresh_interval: 1s, timeout: 3s}}\n\
             \x20 - name: m365\n    vendor: druva\n    url: '{url}'\n    client_id: druva-demo-client\n    client_secret: {druva}\n    refresh_interval: 1s\n    timeout: 3s\n\
             \x20   events: legacy\n    legacy_events: {{url: '{url}', admin_email: insync-admin@example.com, api_token_file: '{token}'}}\n",
            c42 = d.join("c42").display(),
            druva = CANARIES[2],
            token = d.join("token").display(),
        ),
    )
    .unwrap();

    let check = Command::new(BIN)
        .args(["--config.check", "--config.file", config.to_str().unwrap()])
        .env("CANARY_PASSWORD", CANARIES[1])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut seen = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        seen.contains("secret given inline"),
        "the inline secret is warned about: {seen}"
    );

    let log = d.join("exporter.log");
    let storage = d.join("state");
    let mut child = Command::new(BIN)
        .args([
            "--config.file",
            config.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
            "--storage.path",
            storage.to_str().unwrap(),
            "--log.level",
            "debug",
            "--log.format",
            "json",
        ])
        .env("CANARY_PASSWORD", CANARIES[1])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let port = common::listening_port(child.id());

    let faults = &sim.simulator.faults;
    let rounds: Vec<Vec<FaultRule>> = vec![
        vec![FaultRule::new(Fault::EchoCredentials).on("token").times(6)],
        vec![
            FaultRule::new(Fault::EchoCredentials)
                .on("/api/v3/")
                .times(6),
        ],
        vec![
            FaultRule::new(Fault::EchoCredentials)
                .on("reports")
                .times(6),
        ],
        vec![FaultRule::new(Fault::EchoCredentials).on("events").times(6)],
        vec![FaultRule::new(Fault::EchoHeaders).times(12)],
        vec![FaultRule::new(Fault::EchoHeaders).on("token").times(6)],
        vec![
            FaultRule::new(Fault::EchoCredentials)
                .on("DeviceBackupReport")
                .times(6),
        ],
        vec![
            FaultRule::new(Fault::Status {
                status: 500,
                retry_after: None,
            })
            .times(10),
        ],
        vec![
            FaultRule::new(Fault::Status {
                status: 429,
                retry_after: Some(1),
            })
            .times(10),
        ],
        vec![FaultRule::new(Fault::Truncate).times(10)],
        vec![FaultRule::new(Fault::Malformed).times(10)],
        vec![FaultRule::new(Fault::ErrorPage).times(10)],
        vec![FaultRule::new(Fault::Drop).times(10)],
        vec![FaultRule::new(Fault::Delay { millis: 4000 }).times(3)],
        vec![FaultRule::new(Fault::ExpirePageTokens).times(10)],
        vec![],
    ];
    let client = common::http_client();
    for (i, round) in rounds.into_iter().enumerate() {
        faults.clear();
        round.into_iter().for_each(|r| faults.add(r));
        if i % 3 == 0 {
            sim.simulator.tokens.revoke_all();
        }
        sim.simulator
            .tokens
            .set_lifetime(if i % 2 == 0 { Some(1) } else { None });
        // Wait until the sources have made requests under this round's faults (they
        // refresh every second): a condition, not a fixed time.
        let before = sim.simulator.requests();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while sim.simulator.requests() < before + 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "no refreshes in round {i}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for path in ["/metrics", "/", "/-/ready", "/-/healthy"] {
            if let Ok(response) = client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
            {
                seen.push_str(&response.text().await.unwrap_or_default());
            }
        }
    }
    // check-source shows what the vendor says: here, every header the request had.
    for (source, path) in [
        ("api-client", "token"),
        ("m365", "token"),
        ("user", "/api/v3/"),
        ("m365", "events"),
    ] {
        faults.clear();
        faults.add(FaultRule::new(Fault::EchoHeaders).on(path));
        let output = Command::new(BIN)
            .args([
                "check-source",
                source,
                "--config.file",
                config.to_str().unwrap(),
            ])
            .env("CANARY_PASSWORD", CANARIES[1])
            .output()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&output.stdout));
        seen.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    sim.stop().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("refresh failed"),
        "the failure paths were exercised"
    );
    assert!(
        logs.contains("rejected Bearer <redacted>") || logs.contains("<redacted>"),
        "echoed credentials were redacted"
    );
    seen.push_str(&logs);
    for entry in std::fs::read_dir(&storage).unwrap() {
        seen.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    // Each secret in every form a request carries it: plain, and in base64 as HTTP Basic
    // sends it with its user.
    use base64::Engine as _;
    let b64 = |text: String| base64::engine::general_purpose::STANDARD.encode(text);
    let forms: Vec<String> = [
        ("demo-client", CANARIES[0]),
        ("admin@example.com", CANARIES[1]),
        ("druva-demo-client", CANARIES[2]),
        ("insync-admin@example.com", CANARIES[3]),
    ]
    .iter()
    .flat_map(|(user, secret)| [b64(format!("{user}:{secret}")), b64(secret.to_string())])
    .collect();
    assert!(
        seen.contains("You sent") || seen.contains("Authorization: Basic <redacted>"),
        "the echoed headers were seen"
    );
    for form in &forms {
        assert!(!seen.contains(form.as_str()), "{form} (base64) leaked");
    }
    for canary in CANARIES {
        assert!(
            !seen.contains(canary),
            "{canary} leaked:\n{}",
            seen.lines()
                .filter(|l| l.contains(canary))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        !seen.contains("sim-0"),
        "an access token issued by the vendor leaked"
    );
}
