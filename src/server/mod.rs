//! The HTTP server: landing page, metrics, health and readiness.

mod landing;
pub mod webconfig;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue,
    VARY, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::engine::SourceList;
use crate::exposition::{self, Format};
use crate::reload::Reloader;
use crate::self_metrics::{self, ReloadMetrics};
use webconfig::WebConfigWatch;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type HttpBody = BoxBody<Bytes, BoxError>;

/// Everything a request handler needs.
pub struct App {
    pub sources: SourceList,
    pub registry: Registry,
    pub telemetry_path: String,
    pub clock: Clock,
    /// Bounds concurrent scrapes, as `--web.max-requests` does in Prometheus exporters.
    pub scrape_slots: Arc<Semaphore>,
    /// Serves `POST /-/reload` when `--web.enable-lifecycle` is given.
    pub lifecycle: Option<Arc<Reloader>>,
    /// `--web.config.file`: TLS, basic auth, headers.
    pub web: Option<Arc<WebConfigWatch>>,
}

impl App {
    pub fn new(
        sources: SourceList,
        telemetry_path: String,
        clock: Clock,
        max_requests: usize,
        reload_metrics: &ReloadMetrics,
    ) -> App {
        let registry = self_metrics::registry(sources.clone(), reload_metrics);
        App {
            sources,
            registry,
            telemetry_path,
            clock,
            scrape_slots: Arc::new(Semaphore::new(if max_requests == 0 {
                Semaphore::MAX_PERMITS
            } else {
                max_requests
            })),
            lifecycle: None,
            web: None,
        }
    }

    /// Names of the sources that have not finished their first refresh attempt.
    pub fn not_ready(&self) -> Vec<String> {
        self.sources
            .load()
            .iter()
            .filter(|s| !s.status().is_ready())
            .map(|s| s.spec.name.clone())
            .collect()
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<HttpBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .body(
            Full::new(body.into())
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("valid response")
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<HttpBody> {
    full(status, "text/plain; charset=utf-8", body)
}

/// Checks basic auth and adds the configured headers, then routes the request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<HttpBody> {
    let Some(watch) = app.web.clone() else {
        return route(app, request).await;
    };
    let web = watch.get();
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut response = if watch.authorized(&web, header).await {
        route(app, request).await
    } else {
        let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"backup-exporter\""),
        );
        response
    };
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Routes a request.
async fn route(app: Arc<App>, request: Request<Incoming>) -> Response<HttpBody> {
    let path = request.uri().path();
    let read_only = matches!(*request.method(), Method::GET | Method::HEAD);
    let known = path == app.telemetry_path || matches!(path, "/" | "/-/healthy" | "/-/ready");
    let mut response = if path == "/-/reload" {
        reload(&app, request.method()).await
    } else if !known {
        text(StatusCode::NOT_FOUND, "404 page not found\n")
    } else if !read_only {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, "GET, HEAD".parse().expect("header"));
        response
    } else if path == app.telemetry_path {
        metrics(&app, &request).await
    } else {
        match path {
            "/" => full(
                StatusCode::OK,
                "text/html; charset=utf-8",
                landing::render(&app),
            ),
            "/-/healthy" => text(StatusCode::OK, "Healthy\n"),
            _ => {
                let waiting = app.not_ready();
                if waiting.is_empty() {
                    text(StatusCode::OK, "Ready\n")
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "Not ready: waiting for the first refresh of {}\n",
                            waiting.join(", ")
                        ),
                    )
                }
            }
        }
    };
    if request.method() == Method::HEAD {
        *response.body_mut() = Empty::new().map_err(|never| match never {}).boxed();
    }
    response
}

/// `POST /-/reload`, as in Prometheus: forbidden unless `--web.enable-lifecycle`.
async fn reload(app: &App, method: &Method) -> Response<HttpBody> {
    if method != Method::POST && method != Method::PUT {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, "POST, PUT".parse().expect("header"));
        return response;
    }
    match &app.lifecycle {
        None => text(
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (--web.enable-lifecycle).\n",
        ),
        Some(reloader) => match reloader.reload().await {
            Ok(()) => text(StatusCode::OK, "configuration reloaded\n"),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload configuration: {e}\n"),
            ),
        },
    }
}

/// Serves the current snapshots. The body is produced on a blocking thread and streamed,
/// so a large estate never sits in memory whole and slow clients only slow themselves.
async fn metrics(app: &Arc<App>, request: &Request<Incoming>) -> Response<HttpBody> {
    let Ok(permit) = app.scrape_slots.clone().try_acquire_owned() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many concurrent scrapes; see --web.max-requests\n",
        );
    };
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(header(ACCEPT));
    let gzip = exposition::accepts_gzip(header(ACCEPT_ENCODING));
    let head = self_metrics::encode(&app.registry, format);
    let snapshots: Vec<_> = app
        .sources
        .load()
        .iter()
        .filter_map(|s| s.snapshot())
        .collect();
    let now_ms = app.clock.now_ms();
    let (tx, body) = channel_body(4);
    // The permit lives as long as the producer: a scrape counts until its body is written.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let sources: Vec<_> = snapshots.iter().map(|s| &s.exposition).collect();
        exposition::produce(head.as_bytes(), &sources, now_ms, format, gzip, |chunk| {
            chunk.is_empty() || tx.blocking_send(Ok(chunk)).is_ok()
        });
        drop(snapshots);
        crate::memory::release_after_scrape();
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, format.content_type())
        .header(VARY, "Accept, Accept-Encoding");
    if gzip {
        builder = builder.header(CONTENT_ENCODING, "gzip");
    }
    builder.body(body).expect("valid response")
}

/// A response body fed by a channel; an `Err` item aborts the response mid-body.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, BoxError>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

/// A streaming body and the sender that feeds it (`capacity` chunks may wait in between).
pub fn channel_body(capacity: usize) -> (mpsc::Sender<Result<Bytes, BoxError>>, HttpBody) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed())
}

/// Parses a Go-style listen address: `:9877` means every interface.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse()
        .map_err(|e| format!("invalid listen address {text:?}: {e} (expected host:port or :port)"))
}

/// A handler's way to end a connection without answering (used by the simulator's fault
/// modes); the exporter's own handler never returns it.
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// Supplies the TLS settings for each new connection; `None` serves plain HTTP.
pub trait TlsSource: Send + Sync + 'static {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)>;
}

impl TlsSource for WebConfigWatch {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)> {
        self.get()
            .tls
            .as_ref()
            .map(|t| (t.config.clone(), t.allowed_sans.clone()))
    }
}

/// A fixed TLS configuration (the simulator's).
pub struct StaticTls(pub Arc<rustls::ServerConfig>);

impl TlsSource for StaticTls {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)> {
        Some((self.0.clone(), Vec::new()))
    }
}

/// Accepts connections until `shutdown` resolves, answering each request with `handler`,
/// over TLS when `tls` says so; then lets open requests finish (at most ten seconds).
pub async fn serve_http<H, F>(
    listener: TcpListener,
    handler: H,
    tls: Option<Arc<dyn TlsSource>>,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<HttpBody>, DropConnection>> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let builder = Arc::new(builder);
    let graceful = Arc::new(GracefulShutdown::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // A body is written in pieces; without this, Nagle's algorithm holds the last
                // small piece until the client's delayed ACK (40 ms on Linux), as Go servers avoid.
                let _ = stream.set_nodelay(true);
                let (builder, graceful, handler) = (builder.clone(), graceful.clone(), handler.clone());
                let tls = tls.as_ref().and_then(|t| t.tls());
                tokio::spawn(async move {
                    let service = service_fn(handler);
                    let result = match tls {
                        None => graceful.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await,
                        Some((config, allowed_sans)) => match accept_tls(stream, config, &allowed_sans).await {
                            Ok(stream) => graceful.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await,
                            Err(reason) => {
                                debug!(%peer, %reason, "TLS connection refused");
                                return;
                            }
                        },
                    };
                    if let Err(error) = result {
                        debug!(%peer, %error, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    match Arc::try_unwrap(graceful) {
        Ok(graceful) => {
            if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
                .await
                .is_err()
            {
                warn!("open connections did not finish within 10s; closing them");
            }
        }
        Err(_) => warn!("connections still starting at shutdown; not waiting for them"),
    }
}

/// The TLS handshake, bounded in time. A client speaking plain HTTP to the TLS port gets a
/// plain answer saying so; a client certificate must match `allowed_sans` when it is set.
async fn accept_tls(
    stream: tokio::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    allowed_sans: &[String],
) -> Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] != 0x16 => {
            // Read the request first: closing with unread input would reset the connection
            // before the client sees the answer.
            let mut stream = stream;
            let mut request = [0u8; 8192];
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request)).await;
            let _ = stream
                .write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                .await;
            let _ = stream.shutdown().await;
            return Err("plain HTTP on the TLS port".into());
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no TLS handshake within 10s".into()),
    }
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsAcceptor::from(config).accept(stream),
    )
    .await
    .map_err(|_| "TLS handshake did not finish within 10s".to_string())?
    .map_err(|e| e.to_string())?;
    if !allowed_sans.is_empty() {
        let allowed = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .is_some_and(|cert| webconfig::client_san_allowed(cert, allowed_sans));
        if !allowed {
            return Err("client certificate not valid for any of client_allowed_sans".into());
        }
    }
    Ok(stream)
}

/// Serves the exporter's endpoints.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let tls = app.web.clone().map(|w| w as Arc<dyn TlsSource>);
    let handler = move |request| {
        let app = app.clone();
        async move { Ok::<_, DropConnection>(handle(app, request).await) }
    };
    serve_http(listener, handler, tls, shutdown).await;
}
