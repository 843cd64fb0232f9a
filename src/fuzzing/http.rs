//! What an HTTP client sends: the bytes of a connection, sent to the exporter's own server
//! (`web::serve`, HTTP/1 and HTTP/2, basic auth in force) on a loopback port, and the
//! answer read to its end. The `Authorization` header, `Accept` and `Accept-Encoding`
//! negotiation, and every route (the status page, `/metrics`, health, readiness, reload)
//! are parsed by the code that parses them in production.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::engine::reload::ReloadMetrics;
use crate::runtime::clock::Clock;
use crate::web::webconfig::{WebConfig, WebConfigWatch};
use crate::web::{App, serve};

/// The user the server knows: `fuzz`, password `fuzz` (bcrypt cost 4, so that a check
/// costs a millisecond, not a fuzzing run). Hashed once per process.
static WEB_CONFIG_TEXT: LazyLock<String> = LazyLock::new(|| {
    let hash = bcrypt::hash("fuzz", 4).expect("bcrypt");
    format!(
        "basic_auth_users:\n  fuzz: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
});

/// A web configuration with basic auth in force.
pub(super) static PROTECTED: LazyLock<WebConfig> = LazyLock::new(|| {
    WebConfig::parse(&WEB_CONFIG_TEXT, std::path::Path::new("protected.yml"))
        .expect("the protected configuration")
});

/// The server, started once per process on its own thread.
static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("backup-exporter-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("web.yml");
    std::fs::write(&path, WEB_CONFIG_TEXT.as_str()).expect("the web configuration");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let clock = Clock::System;
            let mut app = App::new(
                Arc::new(ArcSwap::from_pointee(Vec::new())),
                "/metrics".into(),
                clock.clone(),
                4,
                &ReloadMetrics::loaded_at(&clock),
            );
            app.web = Some(Arc::new(WebConfigWatch::load(&path).expect("web config")));
            // A connection the fuzzer leaves half-sent ends in a second, not ten.
            app.connection_limits.read_header_timeout = Duration::from_secs(1);
            app.connection_limits.idle_timeout = Duration::from_secs(1);
            let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
            serve(listener, Arc::new(app), std::future::pending()).await;
        });
    });
    address
});

/// One connection: `data` sent, the sending side closed, the answer read to its end.
pub(super) fn request(data: &[u8]) {
    let mut stream = TcpStream::connect(*SERVER).expect("the fuzzed server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    // The server may answer and close before reading everything: not an error here.
    let _ = stream.write_all(data);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    if answer.starts_with(b"HTTP/1.1 200") {
        let head = String::from_utf8_lossy(&answer);
        assert!(
            head.contains("x-frame-options: deny"),
            "a 200 answer went through basic auth and its headers: {head}"
        );
    }
}
