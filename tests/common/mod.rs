//! Test harness: a simulator, an engine configured from YAML against it, and the HTTP
//! server in front, all in process on loopback ports; plus a small exposition parser.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backup_exporter::App;
use backup_exporter::Clock;
use backup_exporter::simulator::{self, FaultRule, RunningSimulator, Simulator, SimulatorOptions};
use backup_exporter::{Engine, RefreshStatus as Status, ReloadMetrics, SourceHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod pki;

/// Every test request gives up after this, so a request that is never answered fails its
/// test instead of hanging the whole run. One did: over TLS 1.3 a server refuses a missing
/// client certificate only after the client has finished its handshake; the client read the
/// alert and closed the socket, yet its request never completed (strace; about one request
/// in several thousand, in reqwest's pooled client), and CI ran into its time limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client builder whose requests time out after [`REQUEST_TIMEOUT`].
pub fn http_client_builder() -> reqwest::ClientBuilder {
    backup_exporter::install_crypto_provider();
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT)
}

/// A client whose requests time out after [`REQUEST_TIMEOUT`].
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap()
}

/// `GET url`, timing out after [`REQUEST_TIMEOUT`].
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http_client().get(url).send().await
}

/// The first of `names` found on PATH. Outside CI a missing tool skips the test (`None`,
/// with a message); in CI it fails it, because .ci/run installs every tool the tests use.
pub fn required_tool(names: &[&str], package: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path).collect();
    let found = names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let names = names.join(" or ");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {names} (Debian's {package}, which .ci/run installs)"
        );
        eprintln!("SKIPPED: {names} not installed (apt-get install {package})");
    }
    found
}

/// The port an exporter started with `--web.listen-address 127.0.0.1:0` listens on, read
/// back from its "listening" log line in `log` (logfmt or JSON). Its sockets alone do not
/// say which: the demo listens for its simulator too. Panics after 20 s.
pub fn exporter_port(log: &std::path::Path) -> u16 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let port = text
            .lines()
            .filter(|line| line.contains("listening"))
            .find_map(|line| {
                let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
                let digits: String = line[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            });
        if let Some(port) = port {
            return port;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no \"listening\" line in {} after 20s:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The TCP port a process listens on, read back from the process itself once it listens
/// (its listening sockets in /proc), so a test can start anything on port 0 and never race
/// another test for a port chosen in advance. Panics after 20 s, or if it listens on
/// several ports.
pub fn listening_port(pid: u32) -> u16 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ports = listening_ports(pid);
        match ports.as_slice() {
            [port] => return *port,
            [] => assert!(
                std::time::Instant::now() < deadline,
                "process {pid} is not listening after 20s"
            ),
            more => panic!("process {pid} listens on several ports: {more:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The socket inodes among `pid`'s file descriptors.
fn socket_inodes(pid: u32) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|target| {
                    let target = target.to_string_lossy().into_owned();
                    Some(
                        target
                            .strip_prefix("socket:[")?
                            .strip_suffix(']')?
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `pid`'s TCP sockets in `state` (hex, as /proc writes it: 0A listening, 01 established),
/// by local port.
fn tcp_sockets(pid: u32, state: &str) -> Vec<u16> {
    let inodes = socket_inodes(pid);
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state, inode.
            if fields.len() > 9 && fields[3] == state && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

/// The ports of `pid`'s listening TCP sockets.
fn listening_ports(pid: u32) -> Vec<u16> {
    let mut ports = tcp_sockets(pid, "0A");
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// How many connections to its `port` process `pid` has accepted and holds open.
pub fn accepted_connections(pid: u32, port: u16) -> usize {
    tcp_sockets(pid, "01")
        .iter()
        .filter(|p| **p == port)
        .count()
}

/// 2026-11-01T12:00:00Z, the fixed "now" of deterministic tests.
pub const NOW_MS: i64 = 1_793_534_400_000;

/// The engine for a configuration and the HTTP server in front of it, in process.
pub struct Served {
    pub engine: Engine,
    pub app: Arc<App>,
    pub addr: SocketAddr,
    /// Stops the server when sent `true` (or dropped).
    pub stop: watch::Sender<bool>,
}

impl Served {
    pub async fn start(config: &backup_exporter::Config, clock: &Clock) -> Served {
        let engine = Engine::start(config, clock.clone(), None).unwrap();
        let app = Arc::new(App::new(
            engine.source_list(),
            "/metrics".into(),
            clock.clone(),
            40,
            &ReloadMetrics::loaded_at(clock),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(backup_exporter::serve(listener, app.clone(), async move {
            let _ = stopped.changed().await;
        }));
        Served {
            engine,
            app,
            addr,
            stop,
        }
    }
}

pub struct Harness {
    pub sim: RunningSimulator,
    pub engine: Engine,
    pub app: Arc<App>,
    pub addr: SocketAddr,
    pub clock: Clock,
    pub secret_dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

/// YAML for one Code42 source against `url` with the simulator's API client; `extra`
/// lines are appended to the source (indented by the caller with four spaces).
pub fn code42_yaml(url: &str, secret_file: &std::path::Path, extra: &str) -> String {
    format!(
        "sources:\n  - name: crashplan-us\n    vendor: code42\n    url: {url}\n    client_id: demo-client\n    client_secret_file: {}\n    refresh_interval: 1h\n    timeout: 20s\n    query: {{ active: \"true\" }}\n{extra}",
        secret_file.display()
    )
}

/// YAML for one Druva source named `druva-m365` against `url`; the secret files sit beside
/// `code42_secret`.
pub fn druva_yaml(url: &str, code42_secret: &std::path::Path, extra: &str) -> String {
    format!(
        "sources:\n  - name: druva-m365\n    vendor: druva\n    url: {url}\n    client_id: druva-demo-client\n    client_secret_file: {}\n    refresh_interval: 1h\n    timeout: 20s\n{extra}",
        code42_secret.with_file_name("druva-secret").display()
    )
}

impl Harness {
    /// Starts everything and waits for every source's first refresh attempt.
    pub async fn start(
        options: SimulatorOptions,
        clock: Clock,
        yaml: impl FnOnce(&str, &std::path::Path) -> String,
    ) -> Harness {
        let harness = Self::start_unready(options, clock, Vec::new(), yaml).await;
        harness.wait_until(|h| h.engine.is_ready()).await;
        harness
    }

    /// Starts everything without waiting for the first refreshes; `faults` are active in
    /// the simulator before the first request.
    pub async fn start_unready(
        mut options: SimulatorOptions,
        clock: Clock,
        faults: Vec<FaultRule>,
        yaml: impl FnOnce(&str, &std::path::Path) -> String,
    ) -> Harness {
        backup_exporter::install_crypto_provider();
        let secret_dir = tempfile::tempdir().unwrap();
        // Each vendor's secrets, in the files the YAML helpers name.
        let secret_file = secret_dir.path().join("code42-secret");
        #[cfg(feature = "code42")]
        std::fs::write(
            &secret_file,
            format!("{}\n", options.code42().client_secret),
        )
        .unwrap();
        #[cfg(feature = "druva")]
        {
            let druva = options.druva();
            std::fs::write(secret_dir.path().join("druva-secret"), &druva.client_secret).unwrap();
            std::fs::write(secret_dir.path().join("insync-token"), &druva.api_token).unwrap();
        }
        let simulator = Simulator::new(options, clock.clone());
        faults
            .into_iter()
            .for_each(|rule| simulator.faults.add(rule));
        let sim =
            simulator::start(simulator, TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
        let (config, _) =
            backup_exporter::parse_config("test.yml", &yaml(&sim.url(), &secret_file))
                .expect("valid test config");
        Self::serve(sim, &config, clock, secret_dir).await
    }

    /// The built-in demo (`--demo`: its simulated tenants and configuration) at `clock`,
    /// after every source's first refresh.
    pub async fn demo(clock: Clock) -> Harness {
        backup_exporter::install_crypto_provider();
        let (config, sim) = backup_exporter::start_demo(clock.clone()).await.unwrap();
        let harness = Self::serve(sim, &config, clock, tempfile::tempdir().unwrap()).await;
        harness.wait_until(|h| h.engine.is_ready()).await;
        harness
    }

    /// Starts the engine for `config` and the HTTP server in front of it.
    async fn serve(
        sim: RunningSimulator,
        config: &backup_exporter::Config,
        clock: Clock,
        secret_dir: tempfile::TempDir,
    ) -> Harness {
        let Served {
            engine,
            app,
            addr,
            stop,
        } = Served::start(config, &clock).await;
        Harness {
            sim,
            engine,
            app,
            addr,
            clock,
            secret_dir,
            stop,
        }
    }

    pub fn source(&self, name: &str) -> Arc<SourceHandle> {
        self.engine
            .sources()
            .iter()
            .find(|s| s.name() == name)
            .cloned()
            .expect("source exists")
    }

    pub async fn wait_until(&self, condition: impl Fn(&Harness) -> bool) {
        for _ in 0..400 {
            if condition(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("condition not reached within 10s");
    }

    /// Starts a refresh of `name` now and waits for it to finish; returns the status after.
    pub async fn refresh(&self, name: &str) -> Status {
        let source = self.source(name);
        let before = source.status().attempts;
        source.refresh_now();
        self.wait_until(|h| h.source(name).status().attempts > before)
            .await;
        source.status()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `/metrics` as text (plain, 0.0.4).
    pub async fn scrape(&self) -> String {
        self.scrape_with(&http_client()).await
    }

    /// `/metrics` as text, asked for by `client` (e.g. one that does not accept gzip).
    pub async fn scrape_with(&self, client: &reqwest::Client) -> String {
        let response = client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    pub async fn metrics(&self) -> Metrics {
        Metrics::parse(&self.scrape().await)
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.engine.stop().await;
        self.sim.stop().await;
    }
}

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed text-format scrape: the samples, and an index of them by name and by each
/// label (so that checking every series of a large tenant is not quadratic).
#[derive(Debug, Default)]
pub struct Metrics(pub Vec<Sample>, HashMap<String, Vec<usize>>);

/// The index key of a name's samples, or of those with one label value.
fn index_key(name: &str, label: Option<(&str, &str)>) -> String {
    match label {
        Some((key, value)) => format!("{name}\0{key}\0{value}"),
        None => name.to_string(),
    }
}

impl Metrics {
    /// Parses sample lines of the text format, unescaping label values.
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (name, rest) = match line.find('{') {
                Some(i) => (&line[..i], &line[i..]),
                None => {
                    let (n, v) = line.split_once(' ').unwrap();
                    samples.push(Sample {
                        name: n.into(),
                        labels: BTreeMap::new(),
                        value: v.parse().unwrap(),
                    });
                    continue;
                }
            };
            let mut labels = BTreeMap::new();
            let mut chars = rest[1..].chars().peekable();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert_eq!(chars.next(), Some('"'), "{line}");
                let mut value = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(other) => value.push(other),
                            None => panic!("{line}"),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
                match chars.next() {
                    Some(',') => continue,
                    Some('}') => break,
                    other => panic!("unexpected {other:?} in {line}"),
                }
            }
            let value: String = chars.collect();
            samples.push(Sample {
                name: name.into(),
                labels,
                value: value
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("value in {line}")),
            });
        }
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, sample) in samples.iter().enumerate() {
            index
                .entry(index_key(&sample.name, None))
                .or_default()
                .push(i);
            for (key, value) in &sample.labels {
                let label = Some((key.as_str(), value.as_str()));
                index
                    .entry(index_key(&sample.name, label))
                    .or_default()
                    .push(i);
            }
        }
        Metrics(samples, index)
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        // The fewest candidates: those of the rarest label asked for, or of the name.
        let candidates = std::iter::once(None)
            .chain(labels.iter().map(|&label| Some(label)))
            .map(|label| {
                self.1
                    .get(&index_key(name, label))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|c| c.len())
            .unwrap_or_default();
        candidates
            .iter()
            .map(|&i| &self.0[i])
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the single sample matching, if there is one.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} series",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    pub fn count(&self, name: &str) -> usize {
        self.find(name, &[]).len()
    }
}

/// Seconds as written by the exporter, back to milliseconds.
pub fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}
