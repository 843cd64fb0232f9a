//! Soak test, run by hand (not in CI):
//!
//!     cargo test --release --test soak -- --ignored --nocapture
//!
//! The real binary refreshes a Code42 and a Druva tenant every few seconds while the
//! simulator cycles through its fault modes and many clients scrape continuously. It
//! reports error responses (must be 0), scrape latency, refresh outcomes and the exporter's
//! resident memory over time (must stay flat). Tunables: SOAK_SECONDS (300), SOAK_SCRAPERS
//! (16), SOAK_DEVICES (5000). Figures from a run are in docs/reliability.md.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::{self, Fault, FaultRule, Simulator, SimulatorOptions};
use tokio::net::TcpListener;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "long-running; run by hand, see the module documentation"]
async fn soak() {
    backup_exporter::install_crypto_provider();
    let seconds = env("SOAK_SECONDS", 300);
    let scrapers = env("SOAK_SCRAPERS", 16);
    let devices = env("SOAK_DEVICES", 5000) as usize;
    let options = SimulatorOptions::default().with(Code42Options {
        devices,
        ..Code42Options::default()
    });
    let sim = simulator::start(
        Simulator::new(options, Clock::System),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c42"), "demo-secret").unwrap();
    std::fs::write(dir.path().join("druva"), "druva-demo-secret").unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - {{name: code42, vendor: code42, url: '{url}', client_id: demo-client, client_secret_file: '{c42}', refresh_interval: 5s, timeout: 4s}}\n\
             \x20 - {{name: druva, vendor: druva, url: '{url}', client_id: druva-demo-client, client_secret_file: '{druva}', refresh_interval: 5s, timeout: 4s}}\n",
            url = sim.url(),
            c42 = dir.path().join("c42").display(),
            druva = dir.path().join("druva").display(),
        ),
    )
    .unwrap();
    let mut exporter = Command::new(env!("CARGO_BIN_EXE_backup-exporter"))
        .args([
            "--config.file",
            config.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
            "--storage.path",
            dir.path().join("state").to_str().unwrap(),
            "--log.level",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("exporter.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = exporter.id();
    let port = common::listening_port(pid);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = common::http_client_builder().no_gzip().build().unwrap();
    while client
        .get(format!("http://127.0.0.1:{port}/-/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..scrapers {
        let (client, url, stop, errors, bytes) = (
            client.clone(),
            url.clone(),
            stop.clone(),
            errors.clone(),
            bytes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            // Half the scrapers ask like Prometheus does (OpenMetrics, gzip), half plainly.
            let prometheus_like = i % 2 == 0;
            while !stop.load(Ordering::Relaxed) {
                let mut request = client.get(&url);
                if prometheus_like {
                    request = request
                        .header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
                        .header("Accept-Encoding", "gzip");
                }
                let started = Instant::now();
                match request.send().await {
                    Ok(response) if response.status() == 200 => match response.bytes().await {
                        Ok(body) if !body.is_empty() => {
                            bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                            latencies.push(started.elapsed());
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }

    let faults: Vec<(&str, Vec<FaultRule>)> = vec![
        ("none", vec![]),
        (
            "HTTP 500",
            vec![FaultRule::new(Fault::Status {
                status: 500,
                retry_after: None,
            })],
        ),
        (
            "HTTP 429 Retry-After 2",
            vec![FaultRule::new(Fault::Status {
                status: 429,
                retry_after: Some(2),
            })],
        ),
        ("truncated bodies", vec![FaultRule::new(Fault::Truncate)]),
        (
            "slow bodies",
            vec![FaultRule::new(Fault::SlowBody {
                bytes_per_second: 200_000,
            })],
        ),
        ("dropped connections", vec![FaultRule::new(Fault::Drop)]),
        (
            "malformed JSON",
            vec![FaultRule::new(Fault::Malformed).after(3)],
        ),
        (
            "expired page tokens",
            vec![FaultRule::new(Fault::ExpirePageTokens).on("reports")],
        ),
    ];
    let started = Instant::now();
    let mut memory = Vec::new();
    let mut phase = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let (name, rules) = &faults[phase % faults.len()];
        sim.simulator.faults.clear();
        rules
            .iter()
            .cloned()
            .for_each(|r| sim.simulator.faults.add(r));
        if phase % 3 == 2 {
            sim.simulator.tokens.revoke_all();
        }
        eprintln!("{:>5}s  fault: {name}", started.elapsed().as_secs());
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            memory.push((started.elapsed().as_secs(), rss_kib(pid)));
        }
        phase += 1;
    }
    sim.simulator.faults.clear();
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let metrics =
        common::Metrics::parse(&client.get(&url).send().await.unwrap().text().await.unwrap());
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = exporter.wait();
    sim.stop().await;

    latencies.sort();
    let errors = errors.load(Ordering::Relaxed);
    let quarter = memory.len() / 4;
    let early_peak = memory[..quarter.max(1)].iter().map(|m| m.1).max().unwrap();
    let late_peak = memory[memory.len() - quarter.max(1)..]
        .iter()
        .map(|m| m.1)
        .max()
        .unwrap();
    println!(
        "\n## Soak run: {seconds} s, {scrapers} scrapers, {devices} Code42 devices, refresh every 5 s\n"
    );
    println!("| | |\n|---|---|");
    println!(
        "| scrapes | {} ({:.0}/s, {:.1} GB read) |",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        bytes.load(Ordering::Relaxed) as f64 / 1e9
    );
    println!("| error responses | {errors} |");
    println!(
        "| scrape latency p50 / p99 / max | {:?} / {:?} / {:?} |",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    for source in ["code42", "druva"] {
        let get = |name: &str| metrics.get(name, &[("source", source)]).unwrap_or(0.0);
        println!(
            "| {source}: refreshes failed / requests | {} / {} |",
            get("backup_source_refresh_failures_total"),
            metrics
                .find("backup_source_api_requests_total", &[("source", source)])
                .iter()
                .map(|s| s.value)
                .sum::<f64>()
        );
    }
    println!(
        "| resident memory, first quarter peak / last quarter peak | {} MiB / {} MiB |",
        early_peak / 1024,
        late_peak / 1024
    );
    println!(
        "\nResident memory over time (s: MiB): {}",
        memory
            .iter()
            .map(|(s, kib)| format!("{s}: {}", kib / 1024))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(errors, 0, "every scrape succeeds");
    assert!(
        late_peak <= early_peak + early_peak / 4,
        "memory stays flat: {early_peak} KiB early, {late_peak} KiB late"
    );
}
