//! The whole pipeline, measured: the real `backup-exporter` binary refreshing from the real
//! simulator binary (`backup-exporter simulate`) over loopback HTTP, then scraped.
//!
//!     cargo bench --bench pipeline                        # 1,000, 10,000 and 100,000 devices,
//!                                                         # then a Druva tenant of 50,000 users
//!     cargo bench --bench pipeline -- --sizes 50x2000     # 50 tenants of 2,000 devices
//!     cargo bench --bench pipeline -- --sizes none --druva-users 50000
//!     cargo bench --bench pipeline -- --sizes 100000 --druva-users 20000 --storage
//!                                                         # the busy exporters also save
//!                                                         # their state (--storage.path)
//!
//! For each size it prints, as Markdown: the refresh (wall time, rows per second), the
//! exporter's resident memory (peak of the first refresh, steady after quiet scrapes, peak
//! over refreshes back to back), `/metrics` latency and size (plain and gzip,
//! every per-device series), the same latencies while refreshes run and 8 clients scrape at
//! once, and two floors measured in the same run on the same bytes: parsing the report pages
//! into `serde::de::IgnoredAny`, and copying the exposition into a pre-sized buffer. With
//! several tenants, each source reads the same simulated report, so the floors are one
//! tenant's times the number of tenants.
//!
//! A Druva size is one source reading all twenty reports and the events of a tenant of that
//! many users: its first (full) read and an incremental refresh against their latency floor,
//! resident memory after each, and gzip scrapes quiet and with 8 clients while it refreshes.
//!
//! Under `cargo test` (no `--bench` argument) it runs one small size quickly, so CI proves
//! the benchmark still works; the figures of a debug build mean nothing.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde::de::IgnoredAny;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");
/// The simulator's built-in Code42 API client.
const CLIENT_ID: &str = "demo-client";
const CLIENT_SECRET: &str = "demo-secret";
const PAGE_SIZE: usize = 1000;
const LOAD_CLIENTS: usize = 8;
/// Refreshes run back to back for the peak memory of a refresh beside a served snapshot.
const REFRESHES: usize = 5;

/// How a run is sized.
struct Plan {
    sizes: Vec<Size>,
    /// Sequential scrapes of each kind on a quiet exporter.
    scrapes: usize,
    /// Seconds of 8-client load, per encoding.
    load: Duration,
    /// How long the simulated vendor takes to answer each request.
    latency: Duration,
    /// Druva tenants to measure, by number of users.
    druva_users: Vec<usize>,
    /// The busy exporters keep their state in `--storage.path`, so every refresh saves it.
    storage: bool,
}

/// What a source sends at once (`max_in_flight`'s default).
const MAX_IN_FLIGHT: u32 = 4;

/// `tenants` Code42 sources, each reading a tenant of `devices` devices.
#[derive(Clone, Copy)]
struct Size {
    tenants: usize,
    devices: usize,
}

impl Size {
    fn parse(text: &str) -> Result<Size, String> {
        let number = |t: &str| {
            t.replace('_', "")
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("bad size {text:?}: use DEVICES or TENANTSxDEVICES"))
        };
        match text.split_once('x') {
            Some((tenants, devices)) => Ok(Size {
                tenants: number(tenants)?,
                devices: number(devices)?,
            }),
            None => Ok(Size {
                tenants: 1,
                devices: number(text)?,
            }),
        }
    }

    fn label(&self) -> String {
        match self.tenants {
            1 => group(self.devices as u64),
            n => format!("{n} × {}", group(self.devices as u64)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let mut plan = if benchmarking {
        Plan {
            sizes: ["1000", "10000", "100000"]
                .iter()
                .map(|s| Size::parse(s).unwrap())
                .collect(),
            scrapes: 30,
            load: Duration::from_secs(15),
            latency: Duration::from_millis(300),
            druva_users: vec![50_000],
            storage: false,
        }
    } else {
        Plan {
            sizes: vec![Size::parse("300").unwrap()],
            scrapes: 3,
            load: Duration::from_secs(2),
            latency: Duration::from_millis(20),
            druva_users: vec![300],
            storage: false,
        }
    };
    let mut rest = args.iter().filter(|a| *a != "--bench");
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().cloned().unwrap_or_default();
        match arg.as_str() {
            "--sizes" => {
                plan.sizes = list(&value())
                    .map(Size::parse)
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| fail(&e))
            }
            "--druva-users" => {
                plan.druva_users = list(&value())
                    .map(|n| n.replace('_', "").parse().ok().filter(|n| *n > 0))
                    .collect::<Option<_>>()
                    .unwrap_or_else(|| fail("--druva-users N[,N…] or none"))
            }
            "--scrapes" => plan.scrapes = value().parse().unwrap_or_else(|_| fail("--scrapes N")),
            "--storage" => plan.storage = true,
            "--load-seconds" => {
                plan.load = Duration::from_secs(
                    value().parse().unwrap_or_else(|_| fail("--load-seconds N")),
                )
            }
            "--latency-ms" => {
                plan.latency = Duration::from_millis(
                    value().parse().unwrap_or_else(|_| fail("--latency-ms N")),
                )
            }
            other => fail(&format!(
                "unknown argument {other:?}; use --sizes 1000,50x2000 --druva-users 50000 --scrapes N --load-seconds N --latency-ms N --storage"
            )),
        }
    }
    backup_exporter::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = Vec::new();
    for size in &plan.sizes {
        eprintln!("measuring {} devices…", size.label());
        let figures = runtime.block_on(measure(*size, &plan));
        if !benchmarking {
            figures.check();
        }
        results.push((*size, figures));
    }
    let mut druva = Vec::new();
    for users in &plan.druva_users {
        eprintln!(
            "measuring a Druva tenant of {} users…",
            group(*users as u64)
        );
        let figures = runtime.block_on(measure_druva(*users, &plan));
        if !benchmarking {
            figures.check();
        }
        druva.push(figures);
    }
    println!("{}\n", machine());
    if !results.is_empty() {
        print!("{}", report(&results, &plan));
    }
    if !druva.is_empty() {
        print!("\n{}", druva_report(&druva, &plan));
    }
}

/// A comma-separated list; `none` is the empty list.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|t| !t.is_empty() && *t != "none")
}

fn fail(message: &str) -> ! {
    eprintln!("pipeline bench: {message}");
    std::process::exit(2)
}

/// A child process killed when dropped.
struct Process(std::process::Child);

impl Process {
    /// Starts the binary; `nice` runs it at nice 10 (with `nice`, which execs it, so the
    /// process is still the binary's).
    fn spawn(args: &[&str], stderr: Stdio, nice: bool) -> Process {
        let mut command = match nice {
            true => Command::new("nice"),
            false => Command::new(BIN),
        };
        if nice {
            command.args(["-n", "10", BIN]);
        }
        let child = command
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {BIN}: {e}")));
        Process(child)
    }

    /// (VmHWM, VmRSS) in bytes.
    fn memory(&self) -> (u64, u64) {
        let status = fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Latencies of one kind of scrape.
#[derive(Default)]
struct Latencies {
    samples: Vec<Duration>,
    bytes: usize,
}

impl Latencies {
    /// "p50 / p99".
    fn p50_p99(&self) -> String {
        format!("{} / {}", ms(self.quantile(0.5)), ms(self.quantile(0.99)))
    }

    /// "p50 / p99 (n scrapes)".
    fn p50_p99_of(&self) -> String {
        format!("{} ({} scrapes)", self.p50_p99(), self.samples.len())
    }

    /// "p99 (n scrapes)".
    fn p99_of(&self) -> String {
        format!(
            "{} ({} scrapes)",
            ms(self.quantile(0.99)),
            self.samples.len()
        )
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or_default()
    }
}

/// One scrape under load: when it ran and how long it took.
struct Timed {
    start: SystemTime,
    end: SystemTime,
}

impl Timed {
    fn elapsed(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

#[derive(Default)]
struct LoadResult {
    all: Latencies,
    during_refresh: Latencies,
}

#[derive(Default)]
struct Figures {
    rows: u64,
    series: u64,
    first_refresh: Duration,
    refresh_pages: u64,
    /// VmHWM once the first refresh is published, before any scrape.
    peak_rss: u64,
    /// VmRSS after the quiet sequential scrapes, before any concurrent load.
    steady_rss: u64,
    /// VmHWM over refreshes with no scrapes: each builds a snapshot while the last is served.
    refreshes_peak_rss: u64,
    plain: Latencies,
    gzip: Latencies,
    /// 8 clients on the exporter refreshing hourly (no refresh runs).
    idle_gzip: Latencies,
    idle_plain: Latencies,
    /// 8 clients on the exporter refreshing every second.
    loaded_gzip: LoadResult,
    loaded_plain: LoadResult,
    loaded_refreshes: usize,
    loaded_peak_rss: u64,
    fetch_floor: Duration,
    parse_floor: Duration,
    report_bytes: u64,
    output_floor_plain: Duration,
    output_floor_gzip: Duration,
}

impl Figures {
    /// What `cargo test` checks: every stage produced what it should.
    fn check(&self) {
        assert!(self.rows > 0 && self.series > self.rows, "rows and series");
        assert!(self.refresh_pages >= 2, "a report page and the empty page");
        assert!(self.plain.bytes > self.gzip.bytes && self.gzip.bytes > 0);
        assert!(self.steady_rss > 0 && self.peak_rss > 0);
        assert!(self.refreshes_peak_rss >= self.peak_rss);
        assert!(!self.loaded_gzip.all.samples.is_empty() && self.loaded_refreshes > 0);
        assert!(self.report_bytes > 0 && self.parse_floor > Duration::ZERO);
    }
}

async fn measure(size: Size, plan: &Plan) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_url) = start_simulator(&["--devices", &size.devices.to_string()], plan);
    let client = bench_client();
    wait_for(&client, &format!("{sim_url}/_sim/health")).await;
    let mut figures = Figures::default();

    // A quiet exporter: the first refresh, then sequential scrapes.
    {
        let config = write_config(dir.path(), "quiet", &sim_url, size.tenants, "1h");
        let log = dir.path().join("quiet.log");
        let (exporter, url) = start_exporter(&config, &log, None);
        let started = Instant::now();
        wait_for(&client, &format!("{url}/-/ready")).await;
        let ready = started.elapsed();
        figures.peak_rss = exporter.memory().0;
        let body = get(&client, &format!("{url}/metrics"), false).await;
        let text = std::str::from_utf8(&body).unwrap();
        figures.rows = sum_of(text, "backup_device_cold_storage") as u64;
        figures.series = sum(text, "backup_source_series") as u64;
        figures.refresh_pages = sum(text, "backup_source_last_refresh_pages") as u64;
        figures.first_refresh = match size.tenants {
            1 => Duration::from_secs_f64(sum(text, "backup_source_refresh_duration_seconds")),
            // Tenants refresh concurrently: the estate is complete when the exporter is ready.
            _ => ready,
        };
        let mut plain_floor = Duration::MAX;
        for _ in 0..plan.scrapes {
            let (elapsed, body) = timed_get(&client, &format!("{url}/metrics"), false).await;
            figures.plain.samples.push(elapsed);
            figures.plain.bytes = body.len();
            plain_floor = plain_floor.min(copy_time(&body));
            let (elapsed, body) = timed_get(&client, &format!("{url}/metrics"), true).await;
            figures.gzip.samples.push(elapsed);
            figures.gzip.bytes = body.len();
        }
        figures.output_floor_plain = plain_floor;
        figures.output_floor_gzip = {
            let body = get(&client, &format!("{url}/metrics"), true).await;
            (0..5).map(|_| copy_time(&body)).min().unwrap()
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        figures.steady_rss = exporter.memory().1;
        for (gzip, latencies) in [
            (true, &mut figures.idle_gzip),
            (false, &mut figures.idle_plain),
        ] {
            let scrapes = load(&client, &format!("{url}/metrics"), gzip, plan.load).await;
            latencies.samples = scrapes.iter().map(Timed::elapsed).collect();
        }
    }

    // Refreshes back to back with nobody scraping: the memory a refresh needs on top of
    // the snapshot being served.
    {
        let config = write_config(dir.path(), "refreshing", &sim_url, size.tenants, "1s");
        let log = dir.path().join("refreshing.log");
        let (exporter, _url) = start_exporter(&config, &log, None);
        let deadline = Instant::now() + Duration::from_secs(600);
        wait_for_refreshes(&log, REFRESHES * size.tenants, deadline).await;
        figures.refreshes_peak_rss = exporter.memory().0;
    }

    // The floors, on the same report bytes; every tenant reads the same report.
    let (pages, fetch_time) = fetch_report(&client, &sim_url).await;
    let tenants = size.tenants as u32;
    figures.fetch_floor = fetch_time * tenants;
    figures.report_bytes = pages.iter().map(|p| p.len() as u64).sum::<u64>() * tenants as u64;
    figures.parse_floor = (0..3)
        .map(|_| {
            let started = Instant::now();
            for page in &pages {
                serde_json::from_slice::<IgnoredAny>(page).unwrap();
            }
            started.elapsed()
        })
        .min()
        .unwrap()
        * tenants;
    drop(pages);

    // A busy exporter refreshing all the time while 8 clients scrape: each source every
    // second, or for many small tenants every tenants/25 seconds (a refresh is running
    // about as much of the time as with one large tenant).
    {
        let interval = format!("{}s", (size.tenants / 25).max(1));
        let config = write_config(dir.path(), "busy", &sim_url, size.tenants, &interval);
        let log = dir.path().join("busy.log");
        let storage = dir.path().join("busy-state");
        let storage = plan.storage.then_some(storage.as_path());
        let (exporter, url) = start_exporter(&config, &log, storage);
        wait_for(&client, &format!("{url}/-/ready")).await;
        let gzip = load(&client, &format!("{url}/metrics"), true, plan.load).await;
        let plain = load(&client, &format!("{url}/metrics"), false, plan.load).await;
        figures.loaded_peak_rss = exporter.memory().0;
        drop(exporter);
        let refreshes = refresh_windows(&log);
        figures.loaded_refreshes = refreshes.len();
        figures.loaded_gzip = classify(gzip, &refreshes);
        figures.loaded_plain = classify(plain, &refreshes);
    }
    figures
}

/// The simulator with `tenant` options (`--devices N`, `--druva-users N`), answering after
/// the plan's latency, and its URL.
fn start_simulator(tenant: &[&str], plan: &Plan) -> (Process, String) {
    let port = free_port();
    let latency = format!("{}ms", plan.latency.as_millis());
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["simulate", "--listen", &listen, "--latency", &latency];
    args.extend(tenant);
    args.extend(["--log.level", "warn"]);
    // It stands for the vendor's servers, whose CPU is not the exporter's: under load, it
    // yields to the exporter instead of competing with it.
    let process = Process::spawn(&args, Stdio::null(), true);
    (process, format!("http://{listen}"))
}

fn bench_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// What the simulator counted (`/_sim/stats`).
#[derive(serde::Deserialize, Default)]
struct VendorStats {
    peak_concurrent_requests: u64,
    requests_by_path: std::collections::BTreeMap<String, u64>,
}

async fn vendor_stats(client: &reqwest::Client, sim_url: &str) -> VendorStats {
    let body = get(client, &format!("{sim_url}/_sim/stats"), false).await;
    serde_json::from_slice(&body).unwrap()
}

/// A Druva tenant's figures.
#[derive(Default)]
struct DruvaFigures {
    users: usize,
    series: u64,
    /// Requests of the first read, by path (a report's pages share its path).
    first_read_requests: std::collections::BTreeMap<String, u64>,
    full_read: Duration,
    /// The refreshes after the first, all incremental.
    incremental: Vec<Duration>,
    /// (VmHWM, VmRSS) after the full read, and after incremental refreshes and scrapes.
    after_full_read: (u64, u64),
    after_incremental: (u64, u64),
    /// VmHWM at the end, after the 8-client load during refreshes.
    busy_peak_rss: u64,
    gzip: Latencies,
    loaded_gzip: LoadResult,
    /// The most requests the vendor was ever answering at once.
    vendor_peak_in_flight: u64,
}

/// The OAuth token endpoint, asked once before any report.
const DRUVA_TOKEN_PATH: &str = "/token";

impl DruvaFigures {
    fn check(&self) {
        assert!(
            self.series > 0 && self.first_read_requests.len() > 20,
            "every report read"
        );
        assert!(!self.incremental.is_empty(), "an incremental refresh ran");
        assert!(self.vendor_peak_in_flight <= MAX_IN_FLIGHT as u64);
        assert!(!self.loaded_gzip.all.samples.is_empty() && self.gzip.bytes > 0);
    }

    /// The report (or events) read with the most pages, and how many.
    fn longest_read(&self) -> (&str, u64) {
        self.first_read_requests
            .iter()
            .filter(|(path, _)| *path != DRUVA_TOKEN_PATH)
            .map(|(path, n)| (path.rsplit('/').next().unwrap_or(path), *n))
            .max_by_key(|(_, n)| *n)
            .unwrap_or_default()
    }

    /// The time the vendor's latency alone imposes on the first read: the token, then the
    /// longest report's pages one after another, or all pages `MAX_IN_FLIGHT` at a time if
    /// that is longer.
    fn latency_floor(&self, plan: &Plan) -> Duration {
        let pages: u64 = self
            .first_read_requests
            .iter()
            .filter(|(path, _)| *path != DRUVA_TOKEN_PATH)
            .map(|(_, n)| n)
            .sum();
        let rounds = self
            .longest_read()
            .1
            .max(pages.div_ceil(MAX_IN_FLIGHT as u64));
        plan.latency * (1 + rounds as u32)
    }
}

async fn measure_druva(users: usize, plan: &Plan) -> DruvaFigures {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_url) = start_simulator(&["--druva-users", &users.to_string()], plan);
    let client = bench_client();
    wait_for(&client, &format!("{sim_url}/_sim/health")).await;
    let secret = dir.path().join("druva-secret");
    fs::write(&secret, "druva-demo-secret").unwrap();
    // Refreshing every 5 s after the first read: every later refresh is incremental, and
    // one is running most of the time the clients scrape.
    let config = dir.path().join("druva.yml");
    fs::write(
        &config,
        format!(
            "sources:\n  - name: druva\n    vendor: druva\n    url: {sim_url}\n    client_id: druva-demo-client\n    client_secret_file: {}\n    refresh_interval: 5s\n    timeout: 10m\n",
            secret.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("druva.log");
    let storage = dir.path().join("druva-state");
    let (exporter, url) = start_exporter(&config, &log, plan.storage.then_some(storage.as_path()));
    let mut figures = DruvaFigures {
        users,
        ..DruvaFigures::default()
    };
    wait_for(&client, &format!("{url}/-/ready")).await;
    figures.after_full_read = exporter.memory();
    figures.first_read_requests = vendor_stats(&client, &sim_url).await.requests_by_path;
    let text = get(&client, &format!("{url}/metrics"), false).await;
    figures.series = sum(std::str::from_utf8(&text).unwrap(), "backup_source_series") as u64;
    drop(text);
    for _ in 0..plan.scrapes {
        let (elapsed, body) = timed_get(&client, &format!("{url}/metrics"), true).await;
        figures.gzip.samples.push(elapsed);
        figures.gzip.bytes = body.len();
    }
    // Then incremental refreshes, with scrapes between them.
    let deadline = Instant::now() + Duration::from_secs(900);
    wait_for_refreshes(&log, 2, deadline).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    get(&client, &format!("{url}/metrics"), true).await;
    figures.after_incremental = exporter.memory();
    let before_load = refresh_windows(&log).len();
    let gzip = load(&client, &format!("{url}/metrics"), true, plan.load).await;
    // The refresh running when the load ended is logged when it ends.
    wait_for_refreshes(&log, before_load + 2, deadline).await;
    figures.busy_peak_rss = exporter.memory().0;
    figures.vendor_peak_in_flight = vendor_stats(&client, &sim_url)
        .await
        .peak_concurrent_requests;
    drop(exporter);
    let refreshes = refresh_windows(&log);
    let mut lasted = refreshes
        .iter()
        .map(|(start, end)| end.duration_since(*start).unwrap());
    figures.full_read = lasted.next().unwrap();
    figures.incremental = lasted.collect();
    figures.loaded_gzip = classify(gzip, &refreshes);
    figures
}

fn druva_report(results: &[DruvaFigures], plan: &Plan) -> String {
    let mut out = Markdown::new("Druva users", results.iter().map(|f| group(f.users as u64)));
    let row = |out: &mut Markdown, name: &str, value: &dyn Fn(&DruvaFigures) -> String| {
        out.row(name, results.iter().map(value));
    };
    row(&mut out, "series exposed", &|f| group(f.series));
    row(
        &mut out,
        "requests of the full read (token, 20 reports, events)",
        &|f| group(f.first_read_requests.values().sum()),
    );
    row(
        &mut out,
        "longest read (its pages follow one another)",
        &|f| {
            let (name, pages) = f.longest_read();
            format!("{name}: {pages} pages")
        },
    );
    row(&mut out, "**full read**", &|f| secs(f.full_read));
    row(
        &mut out,
        &format!(
            "latency floor ({} ms a request, {MAX_IN_FLIGHT} at once)",
            plan.latency.as_millis()
        ),
        &|f| secs(f.latency_floor(plan)),
    );
    row(&mut out, "**full read ÷ latency floor**", &|f| {
        ratio(f.full_read, f.latency_floor(plan))
    });
    row(&mut out, "**incremental refresh** (slowest of)", &|f| {
        let slowest = f.incremental.iter().max().copied().unwrap_or_default();
        format!("{} ({})", secs(slowest), f.incremental.len())
    });
    row(
        &mut out,
        "most requests the vendor answered at once",
        &|f| f.vendor_peak_in_flight.to_string(),
    );
    row(&mut out, "peak / resident RSS after the full read", &|f| {
        format!(
            "{} / {}",
            mib(f.after_full_read.0),
            mib(f.after_full_read.1)
        )
    });
    row(
        &mut out,
        "peak / **steady RSS** after an incremental refresh",
        &|f| {
            format!(
                "{} / {}",
                mib(f.after_incremental.0),
                mib(f.after_incremental.1)
            )
        },
    );
    row(&mut out, "peak RSS, busy (refreshing + 8 clients)", &|f| {
        mib(f.busy_peak_rss)
    });
    row(&mut out, "gzip body", &|f| mib(f.gzip.bytes as u64));
    row(&mut out, "**gzip p50 / p99**, quiet", &|f| f.gzip.p50_p99());
    row(
        &mut out,
        "**gzip p99, 8 clients, during a refresh**",
        &|f| f.loaded_gzip.during_refresh.p99_of(),
    );
    row(&mut out, "gzip p50 / p99, 8 clients, all", &|f| {
        f.loaded_gzip.all.p50_p99_of()
    });
    out.finish(&format!(
        "One Druva source, all twenty reports and the v2 events, refreshing every 5 s after its first (full) read; {} sequential gzip scrapes after the full read, then {} s of {LOAD_CLIENTS}-client gzip load across incremental refreshes.",
        plan.scrapes,
        plan.load.as_secs()
    ))
}

/// A Markdown table with a column per measured case.
struct Markdown(String);

impl Markdown {
    fn new(title: &str, columns: impl Iterator<Item = String>) -> Markdown {
        let mut table = Markdown(String::new());
        let header: Vec<String> = std::iter::once(title.to_string()).chain(columns).collect();
        table.line(&header);
        table.line(&vec!["---".to_string(); header.len()]);
        table
    }

    fn row(&mut self, name: &str, cells: impl Iterator<Item = String>) {
        let cells: Vec<String> = std::iter::once(name.to_string()).chain(cells).collect();
        self.line(&cells);
    }

    fn line(&mut self, cells: &[String]) {
        self.0.push_str(&format!("| {} |\n", cells.join(" | ")));
    }

    /// The table, then `note` below it.
    fn finish(self, note: &str) -> String {
        format!("{}\n{note}\n", self.0)
    }
}

/// A configuration of `tenants` Code42 sources against the simulator.
fn write_config(dir: &Path, name: &str, sim_url: &str, tenants: usize, interval: &str) -> PathBuf {
    let secret = dir.join("secret");
    fs::write(&secret, CLIENT_SECRET).unwrap();
    let mut yaml = String::from("sources:\n");
    for tenant in 0..tenants {
        yaml.push_str(&format!(
            "  - name: tenant-{tenant:03}\n    vendor: code42\n    url: {sim_url}\n    client_id: {CLIENT_ID}\n    client_secret_file: {}\n    refresh_interval: {interval}\n    timeout: 10m\n    query: {{ active: \"true\" }}\n",
            secret.display()
        ));
    }
    let path = dir.join(format!("{name}.yml"));
    fs::File::create(&path)
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    path
}

/// The exporter on `config`, logging to `log`; with `storage`, keeping its state there.
fn start_exporter(config: &Path, log: &Path, storage: Option<&Path>) -> (Process, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--config.file",
        config.to_str().unwrap(),
        "--web.listen-address",
        &listen,
        "--log.format",
        "json",
    ];
    if let Some(dir) = storage {
        args.extend(["--storage.path", dir.to_str().unwrap()]);
    }
    let process = Process::spawn(&args, Stdio::from(fs::File::create(log).unwrap()), false);
    (process, format!("http://127.0.0.1:{port}"))
}

async fn wait_for(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fail(&format!("{url} did not answer 200 within 15 minutes"));
}

async fn get(client: &reqwest::Client, url: &str, gzip: bool) -> bytes::Bytes {
    timed_get(client, url, gzip).await.1
}

/// Time from sending the request to the last byte of the body (not decompressed: that is
/// Prometheus's work).
async fn timed_get(client: &reqwest::Client, url: &str, gzip: bool) -> (Duration, bytes::Bytes) {
    let mut request = client.get(url);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let started = Instant::now();
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let body = response.bytes().await.unwrap();
    (started.elapsed(), body)
}

/// 8 clients scraping back to back for `duration`.
async fn load(client: &reqwest::Client, url: &str, gzip: bool, duration: Duration) -> Vec<Timed> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..LOAD_CLIENTS)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_string());
            tokio::spawn(async move {
                let mut scrapes = Vec::new();
                while Instant::now() < deadline {
                    let start = SystemTime::now();
                    timed_get(&client, &url, gzip).await;
                    scrapes.push(Timed {
                        start,
                        end: SystemTime::now(),
                    });
                }
                scrapes
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

/// The refresh time the vendor's latency alone imposes: the token, then the report's pages
/// (and the empty page that ends it) `MAX_IN_FLIGHT` at a time.
fn latency_floor(f: &Figures, plan: &Plan) -> Duration {
    let pages = f.rows.div_ceil(PAGE_SIZE as u64) as u32 + 1;
    plan.latency * (1 + pages.div_ceil(MAX_IN_FLIGHT))
}

/// When refreshes ran, from the exporter's "refresh succeeded" log lines (end time and
/// duration).
fn refresh_windows(log: &Path) -> Vec<(SystemTime, SystemTime)> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["message"] == "refresh succeeded")
        .filter_map(|event| {
            let end = chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str()?).ok()?;
            let end =
                SystemTime::UNIX_EPOCH + Duration::from_nanos(end.timestamp_nanos_opt()? as u64);
            let duration = parse_debug_duration(event["duration"].as_str()?)?;
            Some((end - duration, end))
        })
        .collect()
}

/// Waits until the exporter's log shows `count` successful refreshes.
async fn wait_for_refreshes(log: &Path, count: usize, deadline: Instant) {
    loop {
        let done = refresh_windows(log).len();
        if done >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {count} refreshes by the deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `Duration` as `{:?}` writes it: "1.502127888s", "850.1ms", "15µs", "3ns".
fn parse_debug_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => number,
        "ms" => number / 1e3,
        "µs" => number / 1e6,
        "ns" => number / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

fn classify(scrapes: Vec<Timed>, refreshes: &[(SystemTime, SystemTime)]) -> LoadResult {
    let mut result = LoadResult::default();
    for scrape in scrapes {
        let elapsed = scrape.elapsed();
        result.all.samples.push(elapsed);
        if refreshes
            .iter()
            .any(|(start, end)| scrape.start < *end && scrape.end > *start)
        {
            result.during_refresh.samples.push(elapsed);
        }
    }
    result
}

/// Every page of the report the exporter reads, fetched as the exporter does, and how long
/// fetching them took.
async fn fetch_report(client: &reqwest::Client, sim_url: &str) -> (Vec<bytes::Bytes>, Duration) {
    #[derive(serde::Deserialize)]
    struct Token {
        access_token: String,
    }
    let token = client
        .post(format!(
            "{sim_url}/api/v3/oauth/token?grant_type=client_credentials"
        ))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Token = serde_json::from_slice(&token).unwrap();
    let mut pages = Vec::new();
    let started = Instant::now();
    for number in 1.. {
        let page = client
            .get(format!(
                "{sim_url}/api/v1/DeviceBackupReport?active=true&pgNum={number}&pgSize={PAGE_SIZE}"
            ))
            .bearer_auth(&token.access_token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let last = page.ends_with(br#""data":[]}"#);
        pages.push(page);
        if last {
            break;
        }
    }
    (pages, started.elapsed())
}

/// Time to copy `bytes` into a buffer already big enough: the least any exposition costs.
fn copy_time(bytes: &[u8]) -> Duration {
    let mut buffer: Vec<u8> = Vec::with_capacity(bytes.len());
    let started = Instant::now();
    buffer.extend_from_slice(bytes);
    let elapsed = started.elapsed();
    std::hint::black_box(&buffer);
    elapsed
}

/// The sum of a family's samples in a text exposition.
fn sum(text: &str, family: &str) -> f64 {
    samples(text, family).sum()
}

/// How many samples a family has.
fn sum_of(text: &str, family: &str) -> usize {
    samples(text, family).count()
}

fn samples<'a>(text: &'a str, family: &'a str) -> impl Iterator<Item = f64> + 'a {
    text.lines()
        .filter(move |l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
}

fn report(results: &[(Size, Figures)], plan: &Plan) -> String {
    let mut out = Markdown::new("devices", results.iter().map(|(size, _)| size.label()));
    let row = |out: &mut Markdown, name: &str, value: &dyn Fn(&Figures) -> String| {
        out.row(name, results.iter().map(|(_, f)| value(f)));
    };
    row(&mut out, "report rows (archives)", &|f| group(f.rows));
    row(&mut out, "series exposed", &|f| group(f.series));
    row(&mut out, "report pages", &|f| group(f.refresh_pages));
    row(&mut out, "report bytes", &|f| mib(f.report_bytes));
    row(&mut out, "**full refresh**", &|f| secs(f.first_refresh));
    row(&mut out, "rows per second", &|f| {
        group((f.rows as f64 / f.first_refresh.as_secs_f64()) as u64)
    });
    row(
        &mut out,
        &format!(
            "latency floor ({} ms a page, {MAX_IN_FLIGHT} at once)",
            plan.latency.as_millis()
        ),
        &|f| secs(latency_floor(f, plan)),
    );
    row(&mut out, "**refresh ÷ latency floor**", &|f| {
        ratio(f.first_refresh, latency_floor(f, plan))
    });
    row(&mut out, "fetch floor (pages, no parsing)", &|f| {
        secs(f.fetch_floor)
    });
    row(&mut out, "parse floor (IgnoredAny)", &|f| {
        secs(f.parse_floor)
    });
    row(&mut out, "refresh ÷ parse floor", &|f| {
        ratio(f.first_refresh, f.parse_floor)
    });
    row(&mut out, "peak RSS, first refresh", &|f| mib(f.peak_rss));
    row(&mut out, "**steady RSS** (after quiet scrapes)", &|f| {
        mib(f.steady_rss)
    });
    row(
        &mut out,
        &format!("**peak RSS over {REFRESHES} refreshes** (no scrapes)"),
        &|f| mib(f.refreshes_peak_rss),
    );
    row(
        &mut out,
        "peak ÷ steady: first refresh / later ones",
        &|f| {
            format!(
                "{:.2}× / {:.2}×",
                f.peak_rss as f64 / f.steady_rss as f64,
                f.refreshes_peak_rss as f64 / f.steady_rss as f64
            )
        },
    );
    row(&mut out, "peak RSS, busy (refreshing + 8 clients)", &|f| {
        mib(f.loaded_peak_rss)
    });
    row(&mut out, "plain body", &|f| mib(f.plain.bytes as u64));
    row(&mut out, "plain p50 / p99", &|f| f.plain.p50_p99());
    row(&mut out, "output floor (copy, plain)", &|f| {
        ms(f.output_floor_plain)
    });
    row(&mut out, "gzip body", &|f| mib(f.gzip.bytes as u64));
    row(&mut out, "**gzip p50 / p99**", &|f| f.gzip.p50_p99());
    row(&mut out, "output floor (copy, gzip)", &|f| {
        ms(f.output_floor_gzip)
    });
    for (name, pick, idle) in [
        (
            "gzip",
            (|f: &Figures| &f.loaded_gzip) as fn(&Figures) -> &LoadResult,
            (|f: &Figures| &f.idle_gzip) as fn(&Figures) -> &Latencies,
        ),
        ("plain", |f| &f.loaded_plain, |f| &f.idle_plain),
    ] {
        row(
            &mut out,
            &format!("{name} p50 / p99, 8 clients, no refresh"),
            &|f| idle(f).p50_p99_of(),
        );
        row(
            &mut out,
            &format!("**{name} p99, 8 clients, during a refresh**"),
            &|f| pick(f).during_refresh.p99_of(),
        );
        row(
            &mut out,
            &format!("{name} p50 / p99, 8 clients, all"),
            &|f| pick(f).all.p50_p99_of(),
        );
    }
    row(&mut out, "refreshes during the load", &|f| {
        f.loaded_refreshes.to_string()
    });
    out.finish(&format!(
        "{} sequential scrapes of each encoding on a quiet exporter; {} s of {LOAD_CLIENTS}-client load per encoding on the quiet exporter, then on one refreshing each source every second (every N/25 seconds for N tenants).",
        plan.scrapes,
        plan.load.as_secs()
    ))
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1048576.0))
        .unwrap_or_else(|| "unknown memory".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "Machine: {cores} cores ({cpu}), {memory}; backup-exporter {}.",
        env!("CARGO_PKG_VERSION")
    )
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// `a ÷ b`, or a dash when there is no `b` (the latency floor with `--latency-ms 0`).
fn ratio(a: Duration, b: Duration) -> String {
    match b.is_zero() {
        true => "—".to_string(),
        false => format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64()),
    }
}
