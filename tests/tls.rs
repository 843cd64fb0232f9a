//! TLS and basic auth on the exporter's endpoints (`--web.config.file`), with generated
//! certificates: a real Prometheus scraping over TLS with a client certificate and basic
//! auth succeeds; a wrong password, no password, plain HTTP, an untrusted client
//! certificate and none at all are refused; a changed file applies without a restart.
//! Also the upstream side: TLS verification of the vendor, a custom CA bundle, and the
//! explicit (and logged) opt-out.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pki;

const BIN: &str = env!("CARGO_BIN_EXE_backup-exporter");

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn web_config(dir: &Path, password_hash: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS12\n\
         http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n\
         basic_auth_users:\n  prometheus: '{password_hash}'\n",
        dir.join("server.crt").display(),
        dir.join("server.key").display(),
        dir.join("ca.crt").display(),
    )
}

fn client(pki: &pki::Pki, identity: Option<(&str, &str)>) -> reqwest::Client {
    backup_exporter::install_crypto_provider();
    let mut builder = common::http_client_builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap()])
        .no_gzip();
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// The demo exporter behind `web.yml` in `d` (TLS with client certificates and basic auth,
/// password `s3cret-canary`), with the test PKI's files; returns it and its port.
fn start_secured(pki: &pki::Pki, d: &Path) -> (Process, u16) {
    write(d, "ca.crt", &pki.ca);
    write(d, "server.crt", &pki.server_cert);
    write(d, "server.key", &pki.server_key);
    let hash = bcrypt::hash("s3cret-canary", 4).unwrap();
    let web = write(d, "web.yml", &web_config(d, &hash));
    let log = std::fs::File::create(d.join("exporter.log")).unwrap();
    let exporter = Process(
        Command::new(BIN)
            .args([
                "--demo",
                "--web.config.file",
                &web,
                "--web.listen-address",
                "127.0.0.1:0",
            ])
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    (exporter, common::exporter_port(&d.join("exporter.log")))
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_client_certificates_and_basic_auth() {
    let pki = pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let client_cert = write(d, "client.crt", &pki.client_cert);
    let client_key = write(d, "client.key", &pki.client_key);
    let (_exporter, port) = start_secured(&pki, d);
    let https = format!("https://localhost:{port}");
    let good = client(&pki, Some((&pki.client_cert, &pki.client_key)));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = good
            .get(format!("{https}/-/ready"))
            .basic_auth("prometheus", Some("s3cret-canary"))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "exporter not ready over TLS: {}",
            std::fs::read_to_string(d.join("exporter.log")).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let metrics = good
        .get(format!("{https}/metrics"))
        .basic_auth("prometheus", Some("s3cret-canary"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert_eq!(metrics.headers()["x-frame-options"], "deny");
    assert!(metrics.text().await.unwrap().contains("backup_source_up"));

    // Refusals.
    let wrong = good
        .get(format!("{https}/metrics"))
        .basic_auth("prometheus", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Basic realm=\"backup-exporter\""
    );
    assert_eq!(
        good.get(format!("{https}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        good.get(format!("{https}/"))
            .basic_auth("nobody", Some("s3cret-canary"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let plain = common::http_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .basic_auth("prometheus", Some("s3cret-canary"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400, "plain HTTP is refused");
    assert!(
        plain
            .text()
            .await
            .unwrap()
            .contains("HTTP request to an HTTPS server")
    );
    let rogue = client(&pki, Some((&pki.rogue_client_cert, &pki.rogue_client_key)));
    assert!(
        rogue
            .get(format!("{https}/metrics"))
            .basic_auth("prometheus", Some("s3cret-canary"))
            .send()
            .await
            .is_err(),
        "untrusted client certificate"
    );
    let anonymous = client(&pki, None);
    assert!(
        anonymous
            .get(format!("{https}/metrics"))
            .basic_auth("prometheus", Some("s3cret-canary"))
            .send()
            .await
            .is_err(),
        "no client certificate"
    );

    // A real Prometheus scrapes it.
    if let Some(prometheus) = common::required_tool(&["prometheus"], "prometheus") {
        let config = write(
            d,
            "prometheus.yml",
            &format!(
                "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: backup-exporter\n    scheme: https\n\
                 \x20   basic_auth: {{username: prometheus, password: s3cret-canary}}\n\
                 \x20   tls_config: {{ca_file: {}, cert_file: {client_cert}, key_file: {client_key}, server_name: localhost}}\n\
                 \x20   static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n",
                d.join("ca.crt").display()
            ),
        );
        let prometheus = Process(
            Command::new(prometheus)
                .args([
                    format!("--config.file={config}"),
                    format!("--storage.tsdb.path={}", d.join("tsdb").display()),
                    "--web.listen-address=127.0.0.1:0".to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let prometheus_port = common::listening_port(prometheus.0.id());
        let query = format!("http://127.0.0.1:{prometheus_port}/api/v1/query?query=up");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = match common::get(&query).await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if up.contains(r#""value":["#) && up.contains(r#","1"]"#) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not scrape over TLS with basic auth: {up}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // A changed password applies without a restart, once the file has settled.
    let new_hash = bcrypt::hash("rotated", 4).unwrap();
    write(d, "web.yml", &web_config(d, &new_hash));
    let deadline = Instant::now() + Duration::from_secs(5);
    while good
        .get(format!("{https}/metrics"))
        .basic_auth("prometheus", Some("s3cret-canary"))
        .send()
        .await
        .unwrap()
        .status()
        != 401
    {
        assert!(Instant::now() < deadline, "the new password never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        good.get(format!("{https}/metrics"))
            .basic_auth("prometheus", Some("rotated"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A broken change, an empty file included, keeps the last good configuration.
    for broken in ["tls_server_config: [", ""] {
        write(d, "web.yml", broken);
        for _ in 0..4 {
            let response = good
                .get(format!("{https}/metrics"))
                .basic_auth("prometheus", Some("rotated"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            if text.contains("backup_exporter_web_config_last_reload_successful 0") {
                break;
            }
        }
        assert!(
            good.get(format!("{https}/metrics"))
                .basic_auth("prometheus", Some("rotated"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("backup_exporter_web_config_last_reload_successful 0")
        );
        write(d, "web.yml", &web_config(d, &new_hash));
    }
    let log = std::fs::read_to_string(d.join("exporter.log")).unwrap();
    assert!(
        log.contains("web configuration changed but does not load"),
        "{log}"
    );
    assert!(
        !log.contains("s3cret-canary") && !log.contains("rotated"),
        "passwords never appear in logs"
    );
}

/// The web configuration rewritten in place (truncated, then written, as `cat good >
/// web.yml` does) 300 times while clients without a certificate, without a password or
/// without TLS keep asking: none of them ever gets an answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_web_config_rewritten_in_place_never_opens_the_door() {
    let pki = pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (_exporter, port) = start_secured(&pki, &d);
    let good = client(&pki, Some((&pki.client_cert, &pki.client_key)));
    let https = format!("https://localhost:{port}/metrics");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !good
        .get(&https)
        .basic_auth("prometheus", Some("s3cret-canary"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "exporter not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let content = std::fs::read(d.join("web.yml")).unwrap();
    // The file is rewritten for as long as the probes run, so a slow probe cannot leave
    // the others without rewrites to race.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (d, stop) = (d.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rewrites = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut file = std::fs::File::create(d.join("web.yml")).unwrap();
                std::thread::sleep(Duration::from_micros(rewrites % 7 * 300));
                std::io::Write::write_all(&mut file, &content).unwrap();
                drop(file);
                rewrites += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
            rewrites
        })
    };
    let anonymous = client(&pki, None);
    let plain = common::http_client();
    let mut opened = Vec::new();
    for _ in 0..100 {
        let probes = [
            good.get(&https).send().await,
            anonymous
                .get(&https)
                .basic_auth("prometheus", Some("s3cret-canary"))
                .send()
                .await,
            plain
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .basic_auth("prometheus", Some("s3cret-canary"))
                .send()
                .await,
        ];
        for (which, probe) in probes.into_iter().enumerate() {
            if let Ok(response) = probe
                && response.status() == 200
            {
                opened.push(which);
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rewrites = writer.join().unwrap();
    assert!(
        rewrites >= 100,
        "only {rewrites} rewrites during 300 probes"
    );
    assert!(
        opened.is_empty(),
        "answered without a password, a certificate or TLS: {opened:?}"
    );
    // And the rightful client still gets in.
    let response = good
        .get(&https)
        .basic_auth("prometheus", Some("s3cret-canary"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The texts a config tool writes when its template rendered nothing. Each would turn
/// every protection off, so none is taken at start or by a reload.
const FILES_THAT_SET_NOTHING: [&str; 7] = [
    "# nothing here yet\n",
    "---\n",
    "--- # rendered by a template\n...\n",
    "{}\n",
    "null\n",
    "http_server_config: {}\n",
    "basic_auth_users: {}\n",
];

/// Scrapes with `request` until `backup_exporter_web_config_last_reload_successful` reads
/// `value` (the change has settled and been judged); panics after 10 s.
async fn wait_for_reload_result(request: impl Fn() -> reqwest::RequestBuilder, value: u8) {
    let wanted = format!("backup_exporter_web_config_last_reload_successful {value}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = request().send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "the rightful client is still served"
        );
        if response
            .text()
            .await
            .unwrap()
            .lines()
            .any(|line| line == wanted)
        {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {wanted}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A reload may change users, passwords and certificates, never turn protection off: a
/// file rewritten to one that sets nothing, or that leaves out basic auth, TLS or the
/// required client certificates, is refused; the door stays shut, the metric says 0, the
/// log says what was refused and how to do it on purpose.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_never_turns_protection_off() {
    backup_exporter::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hash = bcrypt::hash("s3cret-canary", 4).unwrap();
    let basic_auth = format!("basic_auth_users:\n  prometheus: '{hash}'\n");
    let web = write(d, "web.yml", &basic_auth);
    let _exporter = Process(
        Command::new(BIN)
            .args(["--demo", "--web.config.file", &web])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stderr(std::fs::File::create(d.join("exporter.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let port = common::exporter_port(&d.join("exporter.log"));
    let url = format!("http://127.0.0.1:{port}/metrics");
    let http = common::http_client();
    let rightful = || {
        http.get(&url)
            .basic_auth("prometheus", Some("s3cret-canary"))
    };
    wait_for_reload_result(rightful, 1).await;
    let headers_only = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n";
    for text in FILES_THAT_SET_NOTHING.iter().chain([&headers_only]) {
        write(d, "web.yml", text);
        wait_for_reload_result(rightful, 0).await;
        let anonymous = http.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{text:?} opened the door");
        write(d, "web.yml", &basic_auth);
        wait_for_reload_result(rightful, 1).await;
    }
    let log = std::fs::read_to_string(d.join("exporter.log")).unwrap();
    assert!(
        log.contains("would_turn_off=\"basic auth\"")
            && log.contains("to do that on purpose, restart the exporter with the new file"),
        "{log}"
    );
    assert!(log.contains("the file sets nothing"), "{log}");

    // A change of password is no lowering: it applies.
    let rotated = bcrypt::hash("rotated", 4).unwrap();
    write(
        d,
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: '{rotated}'\n"),
    );
    let with_rotated = || http.get(&url).basic_auth("prometheus", Some("rotated"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while with_rotated().send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "the new password never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_reload_result(with_rotated, 1).await;
    assert_eq!(rightful().send().await.unwrap().status(), 401);
}

/// TLS with required client certificates and basic auth, rewritten to keep basic auth but
/// drop TLS, or to keep TLS but stop requiring certificates: both refused, TLS and the
/// certificate check stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_never_turns_tls_or_client_certificates_off() {
    let pki = pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_exporter, port) = start_secured(&pki, d);
    let https = format!("https://localhost:{port}/metrics");
    let good = client(&pki, Some((&pki.client_cert, &pki.client_key)));
    let rightful = || {
        good.get(&https)
            .basic_auth("prometheus", Some("s3cret-canary"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rightful().send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "exporter not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secured = std::fs::read_to_string(d.join("web.yml")).unwrap();
    let hash = bcrypt::hash("s3cret-canary", 4).unwrap();
    let without_tls = format!("basic_auth_users:\n  prometheus: '{hash}'\n");
    let without_client_certificates = secured.replace(
        "client_auth_type: RequireAndVerifyClientCert",
        "client_auth_type: VerifyClientCertIfGiven",
    );
    assert_ne!(without_client_certificates, secured);
    let anonymous = client(&pki, None);
    for (text, dropped) in [
        (&without_tls, "TLS, required client certificates"),
        (&without_client_certificates, "required client certificates"),
    ] {
        write(d, "web.yml", text);
        wait_for_reload_result(rightful, 0).await;
        assert!(
            anonymous
                .get(&https)
                .basic_auth("prometheus", Some("s3cret-canary"))
                .send()
                .await
                .is_err(),
            "{dropped}: a client without a certificate got in"
        );
        let plain = common::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap();
        assert_eq!(plain.status(), 400, "{dropped}: still TLS only");
        let log = std::fs::read_to_string(d.join("exporter.log")).unwrap();
        assert!(
            log.contains(&format!("would_turn_off=\"{dropped}\"")),
            "{log}"
        );
        write(d, "web.yml", &secured);
        wait_for_reload_result(rightful, 1).await;
    }
}

#[test]
fn invalid_web_configurations_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "basic_auth_users:\n  a: plaintext\n",
            "basic_auth_users.a: not a bcrypt hash",
        ),
        (
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
            "cert /nonexistent.crt",
        ),
        (
            "http_server_config:\n  headers:\n    Server: me\n",
            "cannot be set (allowed: Strict-Transport-Security",
        ),
        ("tls_config:\n  x: 1\n", "unknown field `tls_config`"),
        ("", "the file sets nothing"),
        (" \n\t\n", "the file sets nothing"),
    ];
    let nothing = FILES_THAT_SET_NOTHING.map(|text| (text, "the file sets nothing"));
    for (text, expected) in cases.into_iter().chain(nothing) {
        let web = write(dir.path(), "web.yml", text);
        let output = Command::new(BIN)
            .args([
                "--demo",
                "--web.config.file",
                &web,
                "--web.listen-address",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

/// The vendor side: the simulator serves HTTPS with a certificate from the test CA.
mod upstream {
    use std::sync::Arc;
    use std::time::Duration;

    use backup_exporter::Clock;
    use backup_exporter::RefreshError;
    use backup_exporter::simulator::{self, Simulator, SimulatorOptions};
    use backup_exporter::{ConfigWarning, Engine, RefreshStatus as Status};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::{pki, write};

    fn server_config(pki: &pki::Pki) -> Arc<rustls::ServerConfig> {
        let chain = CertificateDer::pem_slice_iter(pki.server_cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        )
    }

    /// One refresh of a Code42 source with `extra` settings against the HTTPS simulator.
    async fn refresh(extra: &str) -> (Status, Vec<ConfigWarning>) {
        backup_exporter::install_crypto_provider();
        let pki = pki::generate();
        let dir = tempfile::tempdir().unwrap();
        let ca = write(dir.path(), "ca.crt", &pki.ca);
        let secret = write(dir.path(), "secret", "demo-secret");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim = simulator::start_with_tls(
            Simulator::new(SimulatorOptions::default(), Clock::System),
            listener,
            Some(server_config(&pki)),
        )
        .unwrap();
        let yaml = format!(
            "sources:\n  - name: c\n    vendor: code42\n    url: {}\n    client_id: demo-client\n    client_secret_file: {secret}\n{}",
            sim.url(),
            extra.replace("CA", &ca)
        );
        let (config, warnings) = backup_exporter::parse_config("t.yml", &yaml).unwrap();
        let engine = Engine::start(&config, Clock::System, None).unwrap();
        for _ in 0..200 {
            if engine.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let status = engine.sources()[0].status();
        engine.stop().await;
        sim.stop().await;
        (status, warnings)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_vendor_certificate_is_verified_by_default() {
        let (status, _) = refresh("").await;
        assert!(!status.up);
        let error = status.last_error.unwrap();
        assert!(
            matches!(&error, RefreshError::Transport { detail, .. } if detail.contains("certificate")),
            "{error}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_custom_ca_bundle_is_trusted() {
        let (status, warnings) = refresh("    tls: { ca_file: CA }\n").await;
        assert!(status.up, "{:?}", status.last_error);
        assert!(warnings.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn turning_verification_off_is_explicit_and_warned_about() {
        let (status, warnings) = refresh("    tls: { insecure_skip_verify: true }\n").await;
        assert!(status.up, "{:?}", status.last_error);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "sources[0].tls.insecure_skip_verify");
    }

    /// No usable system CA bundle (a minimal image, `SSL_CERT_FILE` at an empty file): the
    /// binary still starts, the demo serves, and an https:// source with its CA in
    /// `tls.ca_file` works on top of the compiled-in roots.
    #[tokio::test(flavor = "multi_thread")]
    async fn without_a_system_ca_bundle_the_exporter_still_serves() {
        backup_exporter::install_crypto_provider();
        let pki = pki::generate();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let empty = write(d, "empty.pem", "");
        std::fs::create_dir(d.join("certs")).unwrap();
        let ca = write(d, "ca.crt", &pki.ca);
        let secret = write(d, "secret", "demo-secret");
        let sim = simulator::start_with_tls(
            Simulator::new(SimulatorOptions::default(), Clock::System),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            Some(server_config(&pki)),
        )
        .unwrap();
        let config = write(
            d,
            "config.yml",
            &format!(
                "sources:\n  - name: c\n    vendor: code42\n    url: {}\n    client_id: demo-client\n    client_secret_file: {secret}\n    tls: {{ ca_file: {ca} }}\n",
                sim.url()
            ),
        );
        let client = super::common::http_client();
        for (args, source) in [
            (vec!["--demo"], "demo-crashplan"),
            (vec!["--config.file", config.as_str()], "c"),
        ] {
            let log = d.join("exporter.log");
            let _exporter = super::Process(
                std::process::Command::new(super::BIN)
                    .args(&args)
                    .args(["--web.listen-address", "127.0.0.1:0"])
                    .env("SSL_CERT_FILE", &empty)
                    .env("SSL_CERT_DIR", d.join("certs"))
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap(),
            );
            let port = crate::common::exporter_port(&log);
            let up = format!("backup_source_up{{source=\"{source}\"");
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                let text = match client
                    .get(format!("http://127.0.0.1:{port}/metrics"))
                    .send()
                    .await
                {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                if text
                    .lines()
                    .any(|l| l.starts_with(&up) && l.ends_with(" 1"))
                {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{args:?}: {}",
                    std::fs::read_to_string(&log).unwrap()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let log = std::fs::read_to_string(&log).unwrap();
            assert!(log.contains("Mozilla roots compiled in"), "{log}");
        }
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn oversized_responses_are_cut_off() {
        let (status, _) = refresh("    tls: { ca_file: CA }\n    max_response_bytes: 2KiB\n").await;
        assert!(!status.up);
        let error = status.last_error.unwrap();
        assert!(
            matches!(error, RefreshError::TooLarge { limit: 2048, .. }),
            "{error}"
        );
    }
}
