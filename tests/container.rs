//! The container image, run for real with podman: as UID 65532 with a read-only root
//! filesystem and no capabilities, the demo serves, the image's health check passes while
//! it runs and fails once it is stopped, SIGTERM stops it quickly, a mounted configuration
//! and secret work against a real source (the simulator on the host's loopback), and
//! `--storage.path` on a mounted volume survives a restart.
//!
//! Runs when `BACKUP_EXPORTER_IMAGE` names an image: `.ci/run` builds one with
//! `deploy/container/build-offline.sh` and sets it. Skipped otherwise.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::{self, Simulator, SimulatorOptions};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(["--runtime", "runc", "--cgroup-manager=cgroupfs"])
        .args(args)
        .env(
            "CONTAINERS_CONF",
            format!("{ROOT}/deploy/container/containers.conf"),
        )
        .output()
        .expect("podman runs")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A container removed when the test ends, however it ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        podman(&["rm", "--force", "--time", "1", &self.0]);
    }
}

/// Starts `image` with the hardened flags, `mounts` and `args`.
fn run(image: &str, name: &str, mounts: &[String], args: &[&str]) -> Container {
    podman(&["rm", "--force", name]);
    let mut command = vec![
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--user",
        "65532:65532",
        "--read-only",
        "--cap-drop",
        "ALL",
    ];
    for mount in mounts {
        command.extend(["--volume", mount.as_str()]);
    }
    command.push(image);
    command.extend(args);
    ok(&podman(&command));
    Container(name.to_string())
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = common::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

async fn wait_for(what: &str, container: &Container, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what}: {}",
            String::from_utf8_lossy(&podman(&["logs", &container.0]).stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_runs_hardened_serves_and_keeps_its_data() {
    let Ok(image) = std::env::var("BACKUP_EXPORTER_IMAGE") else {
        eprintln!(
            "SKIPPED: BACKUP_EXPORTER_IMAGE is not set (bash deploy/container/build-offline.sh builds one)"
        );
        return;
    };
    backup_exporter::install_crypto_provider();
    let size: u64 = ok(&podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Size}}",
        &image,
    ]))
    .parse()
    .unwrap();
    eprintln!("image {image}: {:.1} MiB", size as f64 / 1048576.0);
    assert!(size < 25 * 1024 * 1024, "the image is small: {size} bytes");

    // The demo on the default port, where the image's HEALTHCHECK looks.
    let demo = run(&image, "backup-exporter-test-demo", &[], &["--demo"]);
    wait_for("the demo", &demo, async || {
        get("http://127.0.0.1:9877/-/ready")
            .await
            .is_some_and(|(s, _)| s == 200)
    })
    .await;
    let (_, metrics) = get("http://127.0.0.1:9877/metrics").await.unwrap();
    assert!(metrics.contains(r#"backup_source_up{source="demo-crashplan",vendor="code42"} 1"#));
    let config = ok(&podman(&[
        "inspect",
        "--format",
        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}",
        &demo.0,
    ]));
    assert!(config.starts_with("65532:65532 true"), "{config}");
    let processes = ok(&podman(&["top", &demo.0, "huser", "user"]));
    assert!(processes.contains("65532"), "{processes}");
    assert!(
        podman(&["healthcheck", "run", &demo.0]).status.success(),
        "the image's health check passes while it serves"
    );
    let start = Instant::now();
    ok(&podman(&["stop", "--time", "20", &demo.0]));
    let stopped = start.elapsed();
    assert!(
        stopped < Duration::from_secs(5),
        "SIGTERM stops it in {stopped:?}"
    );
    let health = Command::new(BIN)
        .args(["healthcheck", "--url", "http://127.0.0.1:9877/-/healthy"])
        .output()
        .unwrap();
    assert_eq!(
        health.status.code(),
        Some(1),
        "the health check fails once it is stopped"
    );
    drop(demo);

    // A real source: configuration and secret mounted read-only, data on a volume.
    let sim = simulator::start(
        Simulator::new(
            SimulatorOptions::default().with(Code42Options {
                devices: 50,
                ..Code42Options::default()
            }),
            Clock::System,
        ),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    // The image's user owns its data directory.
    if std::os::unix::fs::chown(&data, Some(65532), Some(65532)).is_err() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(etc.join("secret"), "demo-secret\n").unwrap();
    std::fs::write(
        etc.join("backup-exporter.yml"),
        format!(
            "sources:\n  - name: crashplan\n    vendor: code42\n    url: {}\n    client_id: demo-client\n    client_secret_file: /etc/backup-exporter/secret\n    refresh_interval: 1h\n",
            sim.url()
        ),
    )
    .unwrap();
    for file in ["secret", "backup-exporter.yml"] {
        readable_by_all(&etc.join(file));
    }
    let mounts = [
        format!("{}:/etc/backup-exporter:ro", etc.display()),
        format!("{}:/var/lib/backup-exporter", data.display()),
    ];
    let args = [
        "--config.file=/etc/backup-exporter/backup-exporter.yml",
        "--storage.path=/var/lib/backup-exporter",
        "--web.listen-address=127.0.0.1:0",
    ];
    let devices = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("backup_device_info{"))
            .count()
    };
    let real = run(&image, "backup-exporter-test-real", &mounts, &args);
    let port = listening_port(&real).await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    wait_for("the real source", &real, async || {
        get(&url).await.is_some_and(|(_, m)| {
            m.contains(r#"backup_source_up{source="crashplan",vendor="code42"} 1"#)
        })
    })
    .await;
    let served = devices(&get(&url).await.unwrap().1);
    assert!(served >= 40, "{served} devices");
    ok(&podman(&["stop", &real.0]));
    drop(real);
    sim.stop().await;

    // Restarted with the vendor gone: the saved data is served at once.
    let restarted = run(&image, "backup-exporter-test-real", &mounts, &args);
    let port = listening_port(&restarted).await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    wait_for("the restored data", &restarted, async || {
        get(&url).await.is_some_and(|(_, m)| devices(&m) == served)
    })
    .await;
    let (ready, _) = get(&format!("http://127.0.0.1:{port}/-/ready"))
        .await
        .unwrap();
    assert_eq!(ready, 200, "ready with restored data");
}

fn readable_by_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// The port the container's exporter chose, from its "listening" log line.
async fn listening_port(container: &Container) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = podman(&["logs", &container.0]);
        let text = String::from_utf8_lossy(&logs.stderr).into_owned();
        if let Some(port) = text
            .lines()
            .filter(|l| l.contains("message=listening"))
            .find_map(|l| l.split("address=127.0.0.1:").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
        {
            return port;
        }
        assert!(Instant::now() < deadline, "no listening line: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
