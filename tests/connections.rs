//! What a client on the network can hold of the exporter: the release of silent
//! connections (plain TCP, after a TLS handshake, after an HTTP/2 preface), the cap on
//! open connections, a scrape beside 2,000 silent connections, the memory of 2,000
//! concurrent scrapes, the reload rate limit, and basic auth that does not tell which
//! users exist. Against the real binary on loopback.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

/// Taken by the tests that load the machine (thousands of connections, hundreds of
/// clients) and by the one that measures timing, so none of them runs beside another: the
/// timing comparison needs a quiet machine, and each load test its own figures.
static LOAD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, args: &[&str]) -> Exporter {
    backup_exporter::install_crypto_provider();
    let log = dir.join("exporter.log");
    let child = Command::new(BIN)
        .args(["--demo", "--web.listen-address", "127.0.0.1:0"])
        .args(args)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let port = common::exporter_port(&log);
    Exporter { child, port }
}

/// Waits for the demo's first refresh.
async fn ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !common::get(format!("http://127.0.0.1:{port}/-/ready"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Raises this test's own open-files limit, so it can hold thousands of connections.
fn raise_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain reads and writes of the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// An HTTP/2 client's connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A HEADERS frame on stream 1 asking for `GET /-/healthy` (HPACK: `:method: GET` and
/// `:scheme: http` indexed, `:path` and `:authority` literal, not indexed).
const H2_GET_HEALTHY: &[u8] =
    b"\x00\x00\x11\x01\x05\x00\x00\x00\x01\x82\x86\x04\x0a/-/healthy\x01\x01x";

/// Waits until the server closes `stream`; returns how long that took from `since`.
async fn closed_after(mut stream: impl AsyncReadExt + Unpin, since: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after 30s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_connections_are_closed_within_the_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(
        dir.path(),
        &[
            "--web.read-header-timeout",
            "1s",
            "--web.idle-timeout",
            "2s",
        ],
    );
    let address = format!("127.0.0.1:{}", exporter.port);

    // Plain TCP that says nothing: closed at the header timeout.
    let start = Instant::now();
    let silent = TcpStream::connect(&address).await.unwrap();
    let took = closed_after(silent, start).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // An HTTP/2 preface and settings, then no request: closed at the same first-request
    // limit as HTTP/1, not at the idle one.
    let start = Instant::now();
    let mut h2 = TcpStream::connect(&address).await.unwrap();
    h2.write_all(H2_PREFACE).await.unwrap();
    let took = closed_after(h2, start).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "{took:?}"
    );

    // An HTTP/2 request, then silence: closed when idle.
    let start = Instant::now();
    let mut h2 = TcpStream::connect(&address).await.unwrap();
    h2.write_all(H2_PREFACE).await.unwrap();
    h2.write_all(H2_GET_HEALTHY).await.unwrap();
    let took = closed_after(h2, start).await;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );

    // A kept-alive HTTP/1 connection after its request: the next request's headers are
    // due within the header timeout too.
    let mut kept = TcpStream::connect(&address).await.unwrap();
    kept.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let took = closed_after(kept, start).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_after_the_tls_handshake_is_closed() {
    backup_exporter::install_crypto_provider();
    let pki = common::pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, text) in [
        ("server.crt", &pki.server_cert),
        ("server.key", &pki.server_key),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    std::fs::write(
        d.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display()
        ),
    )
    .unwrap();
    let web = d.join("web.yml").display().to_string();
    let exporter = start(
        d,
        &["--web.config.file", &web, "--web.read-header-timeout", "1s"],
    );
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", exporter.port))
        .await
        .unwrap();
    let tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("the handshake itself succeeds");
    let start = Instant::now();
    let took = closed_after(tls, start).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
}

use rustls::pki_types::pem::PemObject as _;

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_succeeds_beside_two_thousand_silent_connections_and_the_cap_holds() {
    let _quiet = LOAD.lock().await;
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(dir.path(), &["--web.read-header-timeout", "60s"]);
    ready(exporter.port).await;
    let address = format!("127.0.0.1:{}", exporter.port);
    let mut silent = Vec::new();
    for _ in 0..2000 {
        silent.push(TcpStream::connect(&address).await.unwrap());
    }
    let response = common::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("backup_source_up"));
    drop(silent);

    // With a cap of 20 held by silent connections, a 21st that asks is served: the oldest
    // silent one is closed to make room.
    let dir = tempfile::tempdir().unwrap();
    let capped = start(dir.path(), &["--web.max-connections", "20"]);
    let address = format!("127.0.0.1:{}", capped.port);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    // The exporter has taken them all before the 21st arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::accepted_connections(capped.child.id(), capped.port) < 20 {
        assert!(
            Instant::now() < deadline,
            "the 20 connections were not accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = common::get(format!("http://{address}/-/healthy"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let start = Instant::now();
    assert!(closed_after(held.remove(0), start).await < Duration::from_secs(1));

    // Twenty kept-alive connections that each asked something are never closed for room:
    // the 21st connection is.
    let mut asked = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head[9..12], b"200");
        asked.push(stream);
    }
    let start = Instant::now();
    let extra = TcpStream::connect(&address).await.unwrap();
    assert!(closed_after(extra, start).await < Duration::from_secs(1));
    drop(held);
    let log = std::fs::read_to_string(dir.path().join("exporter.log")).unwrap();
    assert!(log.contains("connection limit reached"), "{log}");
}

/// Opens `count` connections from 127.0.0.1 that send an HTTP/2 preface and then nothing,
/// and holds them until the server closes them; with `reopen`, each is opened again as
/// soon as it is closed (a flood of new connections), until `stop` is set. `opened` counts
/// the connections opened.
async fn hold_silent_http2(
    address: String,
    count: usize,
    reopen: bool,
    stop: Arc<std::sync::atomic::AtomicBool>,
    opened: Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (address, stop, opened) = (address.clone(), stop.clone(), opened.clone());
        tasks.spawn(async move {
            let stopped = || stop.load(std::sync::atomic::Ordering::Relaxed);
            loop {
                let connected = TcpStream::connect(&address).await;
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Ok(mut stream) = connected
                    && stream.write_all(H2_PREFACE).await.is_ok()
                {
                    let mut buf = [0u8; 1024];
                    while !stopped() {
                        let read = stream.read(&mut buf);
                        match tokio::time::timeout(Duration::from_millis(500), read).await {
                            Ok(Ok(0) | Err(_)) => break,
                            _ => continue,
                        }
                    }
                }
                if !reopen || stopped() {
                    return;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Five scrapes over ten seconds from `from`, each on a new connection: all answered in
/// full within 3 s.
async fn scrapes_within_three_seconds(address: &str, from: &str) {
    for round in 0..5 {
        let fresh = common::http_client_builder()
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let started = Instant::now();
        let response = fresh
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}, from {from}: {e}"));
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.contains("backup_source_up"));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "round {round}, from {from}: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// 4,300 silent HTTP/2 connections from one address, more than the default pool of 4,096:
/// held, then reopened as soon as they are closed. Scrapes from another address keep
/// succeeding within 3 s throughout; scrapes from the attacker's own address too while the
/// connections are held (against a flood of new connections from its own address, no
/// limit can tell a client from its attacker).
#[tokio::test(flavor = "multi_thread")]
async fn scrapes_succeed_while_thousands_of_silent_http2_connections_are_held() {
    let _quiet = LOAD.lock().await;
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(dir.path(), &[]);
    ready(exporter.port).await;
    let address = format!("127.0.0.1:{}", exporter.port);
    for reopen in [false, true] {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let attacker = tokio::spawn(hold_silent_http2(
            address.clone(),
            4300,
            reopen,
            stop.clone(),
            opened.clone(),
        ));
        // Every connection opened once: the pool is as full as the attacker makes it.
        while opened.load(std::sync::atomic::Ordering::Relaxed) < 4300 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut from = vec!["127.0.0.2"];
        if !reopen {
            from.push("127.0.0.1");
        }
        let scrapes = from
            .iter()
            .map(|from| scrapes_within_three_seconds(&address, from));
        futures_util::future::join_all(scrapes).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        attacker.await.unwrap();
    }
    let log = std::fs::read_to_string(dir.path().join("exporter.log")).unwrap();
    assert!(
        log.contains("connection limit of one client reached"),
        "the attacker met the per-client limit: {log}"
    );
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 2,000 scrapes at once whose clients do not read: at most `--web.max-requests` (40)
/// bodies are in the process at once (a body counts until it is sent: into the kernel's
/// socket buffers, where loopback takes most of it), the rest are refused, and the
/// memory stays bounded.
#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_concurrent_scrapes_stay_within_the_request_limit() {
    let _quiet = LOAD.lock().await;
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    // One client holds them all: the limit of one client's connections is not this test's.
    let exporter = start(dir.path(), &["--web.max-connections-per-client", "0"]);
    ready(exporter.port).await;
    let address = format!("127.0.0.1:{}", exporter.port);
    let baseline = {
        // One full scrape first: the snapshot encoded, the allocator warm.
        let body = common::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            body.len() > 500_000,
            "the demo body is large: {}",
            body.len()
        );
        peak_rss_kib(exporter.child.id())
    };
    let mut streams = Vec::new();
    for _ in 0..2000 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        streams.push(stream);
    }
    // Read only the status lines, never the bodies.
    let (mut ok, mut refused) = (0, 0);
    for stream in &mut streams {
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        match &head[9..12] {
            b"200" => ok += 1,
            b"503" => refused += 1,
            other => panic!("{}", String::from_utf8_lossy(other)),
        }
    }
    // The high-water mark: nothing to wait for once every answer is in.
    let peak = peak_rss_kib(exporter.child.id());
    assert_eq!(ok + refused, 2000);
    eprintln!(
        "peak RSS: {} MiB before, {} MiB with 2,000 scrapes held ({ok} answered, {refused} refused)",
        baseline / 1024,
        peak / 1024
    );
    assert!(
        peak < baseline + 200 * 1024,
        "peak RSS {} MiB (baseline {} MiB)",
        peak / 1024,
        baseline / 1024
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reloads_are_limited_to_one_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(dir.path(), &["--web.enable-lifecycle"]);
    let client = common::http_client();
    let url = format!("http://127.0.0.1:{}/-/reload", exporter.port);
    let mut statuses = Vec::new();
    let first_sent = Instant::now();
    for _ in 0..20 {
        statuses.push(client.post(&url).send().await.unwrap().status().as_u16());
    }
    // The first runs (the demo has no file to re-read, so it fails: 500); the rest wait.
    assert_ne!(statuses[0], 429, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 429), "{statuses:?}");
    // The next is allowed a second after the first, not before.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.post(&url).send().await.unwrap().status() == 429 {
        assert!(
            Instant::now() < deadline,
            "reloads still refused after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(first_sent.elapsed() >= Duration::from_secs(1));
}

/// exporter-toolkit's defence: an unknown user costs what a known one with a wrong
/// password does, so timing does not tell which users exist.
#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_timing_does_not_reveal_user_names() {
    let _quiet = LOAD.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right-password", 8).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    let web = dir.path().join("web.yml").display().to_string();
    let exporter = start(dir.path(), &["--web.config.file", &web]);
    let client = common::http_client();
    let url = format!("http://127.0.0.1:{}/-/healthy", exporter.port);
    // After the first refresh, and alternating, so both see the same load.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("http://127.0.0.1:{}/-/ready", exporter.port))
        .basic_auth("prometheus", Some("right-password"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Enough pairs that one slow moment (the other tests share the two cores) moves neither
    // median much.
    for round in 0..61 {
        for (user, times) in [("prometheus", &mut known), ("nobody", &mut unknown)] {
            // A new wrong password each time: a repeated one is remembered, for both alike.
            let start = Instant::now();
            let response = client
                .get(&url)
                .basic_auth(user, Some(format!("wrong-{round}")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401);
            times.push(start.elapsed());
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.8..1.25).contains(&ratio),
        "unknown user {unknown:?}, known user with a wrong password {known:?}"
    );
    // The scheme name is case-insensitive (RFC 7617).
    use base64::Engine as _;
    let credentials = base64::engine::general_purpose::STANDARD.encode("prometheus:right-password");
    let response = client
        .get(&url)
        .header("Authorization", format!("basic {credentials}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Sends guesses at `user`'s password from 127.0.0.1, one request at a time, until `stop`
/// is set: a new password each time, or the same one with `repeat`.
async fn guess(
    url: String,
    user: &'static str,
    repeat: bool,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = common::http_client_builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 1]))
        .build()
        .unwrap();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let password = if repeat {
            "123456".to_string()
        } else {
            format!("guess-{}-{n}", fastrand::u64(..))
        };
        let _ = client
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await;
    }
}

/// 200 clients guessing passwords on a freshly started exporter (a bcrypt cost of 10, as
/// `htpasswd -B` makes): the rightful first login, not yet remembered, is answered within
/// 1.5 s — from another address while they guess the same user's password, and from their
/// own address while they guess other users' or repeat one password.
#[tokio::test(flavor = "multi_thread")]
async fn a_correct_first_login_is_answered_while_two_hundred_clients_guess() {
    let _quiet = LOAD.lock().await;
    let cases: [(&str, &'static str, bool); 3] = [
        ("127.0.0.2", "prometheus", false),
        ("127.0.0.1", "admin", false),
        ("127.0.0.1", "prometheus", true),
    ];
    for (from, attacked, repeat) in cases {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("right-password", 10).unwrap();
        std::fs::write(
            dir.path().join("web.yml"),
            format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
        )
        .unwrap();
        let web = dir.path().join("web.yml").display().to_string();
        let exporter = start(dir.path(), &["--web.config.file", &web]);
        let url = format!("http://127.0.0.1:{}/-/healthy", exporter.port);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guessers: Vec<_> = (0..200)
            .map(|_| tokio::spawn(guess(url.clone(), attacked, repeat, stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rightful = common::http_client_builder()
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let started = Instant::now();
        let response = rightful
            .get(&url)
            .basic_auth("prometheus", Some("right-password"))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for guesser in guessers {
            guesser.await.unwrap();
        }
        assert_eq!(response.status(), 200, "from {from}, guessing {attacked}");
        eprintln!("from {from}, 200 clients guessing {attacked} (repeat: {repeat}): {took:?}");
        assert!(
            took < Duration::from_millis(1500),
            "from {from}, guessing {attacked} (repeat: {repeat}): {took:?}"
        );
    }
}
