//! The exporter's HTTP server: the status page, `/metrics`, health, readiness and reload,
//! behind the web configuration's TLS and basic auth.

mod basic_auth;
pub(crate) mod self_metrics;
mod status_page;
pub(crate) mod webconfig;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue,
    VARY, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::engine::SourceList;
use crate::engine::reload::{ReloadMetrics, Reloader};
use crate::exposition::{self, Format};
use crate::runtime::clock::Clock;
use crate::server::{Client, ConnectionLimits, HttpBody, TlsSource, channel_body, serve_http};
use basic_auth::Verdict;
use webconfig::WebConfigWatch;

/// Everything a request handler needs.
pub struct App {
    pub(crate) sources: SourceList,
    pub(crate) registry: Registry,
    pub(crate) telemetry_path: String,
    pub(crate) clock: Clock,
    /// Bounds concurrent scrapes, as `--web.max-requests` does in Prometheus exporters.
    pub(crate) scrape_slots: Arc<Semaphore>,
    /// Serves `POST /-/reload` when `--web.enable-lifecycle` is given.
    pub(crate) lifecycle: Option<Arc<Reloader>>,
    /// `--web.config.file`: TLS, basic auth, headers.
    pub(crate) web: Option<Arc<WebConfigWatch>>,
    /// `--web.max-connections`, `--web.read-header-timeout`, `--web.idle-timeout`.
    pub(crate) connection_limits: ConnectionLimits,
    /// When `/-/reload` last ran: at most one a second.
    last_reload: std::sync::Mutex<Option<std::time::Instant>>,
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
            connection_limits: ConnectionLimits::default(),
            last_reload: std::sync::Mutex::new(None),
        }
    }

    /// Names of the sources that have not finished their first refresh attempt.
    pub(crate) fn not_ready(&self) -> Vec<String> {
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
pub(crate) async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<HttpBody> {
    let Some(watch) = app.web.clone() else {
        return route(app, request).await;
    };
    let web = watch.get();
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // The listener tags every request with its client; a request without one (none
    // reaches here) would share one queue of password checks.
    let client = request
        .extensions()
        .get::<Client>()
        .copied()
        .unwrap_or(Client::of(std::net::Ipv4Addr::UNSPECIFIED.into()));
    let mut response = match watch.authorize(&web, header, client).await {
        Verdict::Allowed => route(app, request).await,
        Verdict::Denied => {
            let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"backup-exporter\""),
            );
            response
        }
        Verdict::Busy => {
            let mut response = text(
                StatusCode::TOO_MANY_REQUESTS,
                "too many password checks waiting from this client\n",
            );
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
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
                status_page::render(&app),
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
    let Some(reloader) = &app.lifecycle else {
        return text(
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (--web.enable-lifecycle).\n",
        );
    };
    // At most one reload a second: each re-reads and re-checks the whole configuration.
    {
        let mut last = app.last_reload.lock().expect("reload lock");
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
            let mut response = text(
                StatusCode::TOO_MANY_REQUESTS,
                "reloads are limited to one a second\n",
            );
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        *last = Some(std::time::Instant::now());
    }
    match reloader.reload().await {
        Ok(()) => text(StatusCode::OK, "configuration reloaded\n"),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload configuration: {e}\n"),
        ),
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
    // The permit lives with the body: a scrape counts until its body has been sent.
    let (tx, body) = channel_body(4, Some(permit));
    tokio::task::spawn_blocking(move || {
        let sources: Vec<_> = snapshots.iter().map(|s| &s.exposition).collect();
        let families = crate::engine::families();
        exposition::produce(
            head.as_bytes(),
            &sources,
            families,
            now_ms,
            format,
            gzip,
            |chunk| chunk.is_empty() || tx.blocking_send(Ok(chunk)).is_ok(),
        );
        drop(snapshots);
        crate::runtime::memory::release_after_scrape();
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

impl TlsSource for WebConfigWatch {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)> {
        self.get()
            .tls
            .as_ref()
            .map(|t| (t.config.clone(), t.allowed_sans.clone()))
    }
}

/// Serves the exporter's endpoints.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let tls = app.web.clone().map(|w| w as Arc<dyn TlsSource>);
    let limits = app.connection_limits;
    let handler = move |request| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(app, request).await) }
    };
    serve_http(listener, handler, tls, limits, shutdown).await;
}
