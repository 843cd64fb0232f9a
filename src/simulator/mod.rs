//! A simulator of the vendors' APIs, for the demo, the tests and the benchmark.
//!
//! It follows the vendors' documentation and observed behaviour, as docs/simulator.md
//! records it (paths, auth, paging caps, value types, error bodies, quirks), and is written
//! independently of the exporter's clients: it shares no types or decoding code with them,
//! so a test against it checks the client, not the client against itself. Fault modes are switched on per request pattern, in process or over HTTP
//! (`POST /_sim/faults`).

mod faults;
mod wire;
// Each vendor's simulator, a folder of its own, compiled with the feature of its name
// (declared by build.rs).
include!(concat!(env!("OUT_DIR"), "/vendor_simulators.rs"));

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultRule, Faults};
pub use wire::DateStyle;

use crate::runtime::clock::Clock;
use crate::server::{HttpBody, TlsSource, channel_body, serve_http};

/// A handler's way to end a connection without answering (the `drop` fault).
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// The simulator's fixed TLS configuration.
struct StaticTls(Arc<rustls::ServerConfig>);

impl TlsSource for StaticTls {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)> {
        Some((self.0.clone(), Vec::new()))
    }
}

/// A request as the simulator's handlers see it, body read.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `(user, password)` of an HTTP Basic `Authorization` header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    pub fn bearer(&self) -> Option<&str> {
        self.headers
            .get(AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
    }
}

/// A complete answer.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(http::HeaderName, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// Bearer tokens issued and their expiry (Unix ms).
#[derive(Default)]
pub struct Tokens {
    issued: Mutex<HashMap<String, i64>>,
    /// Lifetime of new tokens in seconds, overriding the vendor's (0: vendor's).
    lifetime_override: AtomicU64,
    counter: AtomicU64,
}

impl Tokens {
    /// Issues a token; returns it and its lifetime in seconds.
    pub fn issue(&self, now: i64, vendor_lifetime: u64) -> (String, u64) {
        let lifetime = match self.lifetime_override.load(Ordering::Relaxed) {
            0 => vendor_lifetime,
            s => s,
        };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let token = format!("sim-{n:06}-{:016x}", fastrand::u64(..));
        self.issued.lock().expect("tokens lock").insert(
            token.clone(),
            now.saturating_add(
                i64::try_from(lifetime)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000),
            ),
        );
        (token, lifetime)
    }

    pub fn is_valid(&self, token: Option<&str>, now: i64) -> bool {
        token.is_some_and(|t| {
            self.issued
                .lock()
                .expect("tokens lock")
                .get(t)
                .is_some_and(|expiry| now < *expiry)
        })
    }

    /// Invalidates every token issued so far (a token rejected in the middle of a refresh).
    pub fn revoke_all(&self) {
        self.issued.lock().expect("tokens lock").clear();
    }

    /// Lifetime of tokens issued from now on; `None` restores the vendor's.
    pub fn set_lifetime(&self, seconds: Option<u64>) {
        self.lifetime_override
            .store(seconds.unwrap_or(0), Ordering::Relaxed);
    }
}

/// One vendor's simulated API: its tenant, answering the requests to its paths. Each
/// vendor's simulator implements it in its own folder; `src/engine/vendors.rs` lists them.
pub trait SimulatedVendor: Any + Send + Sync {
    /// Answers a request to one of the vendor's paths; `None` when the path is not its.
    fn answer(&self, request: &Request, tokens: &Tokens, now: i64) -> Option<Reply>;

    /// The vendor's error body for an injected `status` on `path`; `None` when the path is
    /// not its.
    fn fault_body(&self, path: &str, status: u16) -> Option<Reply>;

    /// A page of a report that never ends, in the vendor's shape (`Fault::EndlessPages`).
    fn endless_page(&self, request: &Request) -> Option<Reply>;

    /// A page of rows that are not rows, with another page promised
    /// (`Fault::UnreadableRows`).
    fn unreadable_rows(&self, request: &Request) -> Option<Reply>;

    /// Every outstanding page token expires (`Fault::ExpirePageTokens`), for a vendor that
    /// pages with tokens.
    fn expire_page_tokens(&self) {}

    /// The configuration entry of the demo's source reading this tenant at `url` (its own
    /// credentials inline).
    fn demo_source(&self, url: &str) -> String;

    /// What the tenant holds, in a few words, for the log.
    fn describe(&self) -> String;

    fn as_any(&self) -> &dyn Any;
}

/// A vendor's simulated tenant, generated from its options, which `simulate` takes as
/// flags of the vendor's own.
pub trait GeneratedTenant: SimulatedVendor + Sized {
    type Options: Any + Clone + Default + Send + Sync;
    /// The vendor's flags of `backup-exporter simulate`.
    type Args: clap::Args + std::fmt::Debug;

    fn generate(options: Self::Options, start_ms: i64) -> Self;

    /// The options `simulate`'s flags ask for, with the estate's `seed`.
    fn options(args: &Self::Args, seed: u64) -> Self::Options;

    /// The options of the demo's tenant.
    fn demo_options() -> Self::Options {
        Self::Options::default()
    }
}

/// Each vendor's options, by type.
struct VendorOption {
    value: Box<dyn Any + Send + Sync>,
    clone: fn(&(dyn Any + Send + Sync)) -> Box<dyn Any + Send + Sync>,
}

/// How the simulated vendors are generated: each vendor's options (its own type, set in
/// its own folder) and the latency of every answer.
#[derive(Default)]
pub struct SimulatorOptions {
    vendors: HashMap<TypeId, VendorOption>,
    /// Every answer waits this long, as a real API's does (0.3–2 s a report page).
    pub latency: Duration,
}

impl Clone for SimulatorOptions {
    fn clone(&self) -> Self {
        SimulatorOptions {
            vendors: self
                .vendors
                .iter()
                .map(|(id, o)| {
                    let value = (o.clone)(&*o.value);
                    (
                        *id,
                        VendorOption {
                            value,
                            clone: o.clone,
                        },
                    )
                })
                .collect(),
            latency: self.latency,
        }
    }
}

impl std::fmt::Debug for SimulatorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorOptions")
            .field("vendors", &self.vendors.len())
            .field("latency", &self.latency)
            .finish()
    }
}

impl SimulatorOptions {
    /// These options with a vendor's set to `value`.
    pub fn with<T: Any + Clone + Default + Send + Sync>(mut self, value: T) -> Self {
        *self.vendor_mut() = value;
        self
    }

    /// These options with every answer waiting `latency`.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// A vendor's options, set to their defaults on first use.
    pub fn vendor_mut<T: Any + Clone + Default + Send + Sync>(&mut self) -> &mut T {
        self.vendors
            .entry(TypeId::of::<T>())
            .or_insert_with(|| VendorOption {
                value: Box::new(T::default()),
                clone: |value| {
                    Box::new(
                        value
                            .downcast_ref::<T>()
                            .expect("options of their type")
                            .clone(),
                    )
                },
            })
            .value
            .downcast_mut()
            .expect("options of their type")
    }

    /// A vendor's options as set, or its defaults.
    pub fn vendor<T: Any + Clone + Default + Send + Sync>(&self) -> T {
        self.vendors
            .get(&TypeId::of::<T>())
            .and_then(|o| o.value.downcast_ref::<T>())
            .cloned()
            .unwrap_or_default()
    }
}

/// The simulated vendors behind one HTTP listener.
pub struct Simulator {
    pub clock: Clock,
    pub faults: Faults,
    pub tokens: Tokens,
    vendors: Vec<Box<dyn SimulatedVendor>>,
    latency: Duration,
    requests: AtomicU64,
    /// Requests answered so far by path (a report's pages share its path).
    requests_by_path: std::sync::Mutex<BTreeMap<String, u64>>,
    response_bytes: AtomicU64,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// No request should arrive before this (a `Retry-After` given), and how many did.
    quiet_until: std::sync::Mutex<Option<(std::time::Instant, std::time::Instant)>>,
    early_requests: AtomicU64,
}

/// Counts a request as being answered while it lives.
struct Answering<'s>(&'s AtomicU64);

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Simulator {
    /// A simulator of `vendors` (`Simulator::new` builds every compiled vendor's).
    pub fn with_vendors(
        vendors: Vec<Box<dyn SimulatedVendor>>,
        latency: Duration,
        clock: Clock,
    ) -> Arc<Simulator> {
        Arc::new(Simulator {
            vendors,
            clock,
            faults: Faults::default(),
            tokens: Tokens::default(),
            latency,
            requests: AtomicU64::new(0),
            requests_by_path: std::sync::Mutex::default(),
            response_bytes: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            quiet_until: std::sync::Mutex::new(None),
            early_requests: AtomicU64::new(0),
        })
    }

    /// The simulated tenant of type `T`; panics if this build has no such vendor.
    pub fn vendor<T: SimulatedVendor>(&self) -> &T {
        self.vendors
            .iter()
            .find_map(|v| v.as_any().downcast_ref::<T>())
            .expect("the simulator has this vendor")
    }

    /// Every vendor simulated.
    pub fn vendors(&self) -> impl Iterator<Item = &dyn SimulatedVendor> {
        self.vendors.iter().map(|v| &**v)
    }

    /// The most requests that were ever being answered at once.
    pub fn peak_concurrent_requests(&self) -> u64 {
        self.peak_in_flight.load(Ordering::Relaxed)
    }

    /// Requests that arrived while a `Retry-After` this simulator gave was still running
    /// (requests already on their way when it was given, within 100 ms, excepted).
    pub fn requests_before_retry_after(&self) -> u64 {
        self.early_requests.load(Ordering::Relaxed)
    }

    /// Requests answered so far (control requests excluded).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Bytes of the response bodies of those requests.
    pub fn response_bytes(&self) -> u64 {
        self.response_bytes.load(Ordering::Relaxed)
    }

    fn route(&self, request: &Request) -> Reply {
        let now = self.clock.now_ms();
        self.vendors
            .iter()
            .find_map(|v| v.answer(request, &self.tokens, now))
            .unwrap_or_else(|| Reply::text(404, "not found"))
    }

    /// The first answer of a vendor to `ask`, or a plain one for a path no vendor serves.
    fn vendor_reply(
        &self,
        ask: impl Fn(&dyn SimulatedVendor) -> Option<Reply>,
        status: u16,
    ) -> Reply {
        self.vendors
            .iter()
            .find_map(|v| ask(&**v))
            .unwrap_or_else(|| Reply::text(status, &format!("HTTP {status} simulated failure")))
    }

    /// The error body the vendor behind `path` would send with an injected status.
    fn fault_body(&self, path: &str, status: u16) -> Reply {
        self.vendor_reply(|v| v.fault_body(path, status), status)
    }

    /// The simulator's own control endpoints under `/_sim/`.
    fn control(&self, request: &Request) -> Reply {
        match (&request.method, request.path.as_str()) {
            (&Method::POST, "/_sim/faults") => {
                let rules: Result<Vec<FaultRule>, _> =
                    serde_json::from_slice::<Vec<FaultRule>>(&request.body).or_else(|_| {
                        serde_json::from_slice::<FaultRule>(&request.body).map(|r| vec![r])
                    });
                match rules {
                    Ok(rules) => {
                        let n = rules.len();
                        rules.into_iter().for_each(|r| self.faults.add(r));
                        Reply::text(200, &format!("{n} fault rule(s) added\n"))
                    }
                    Err(e) => Reply::text(400, &format!("bad fault rule: {e}\n")),
                }
            }
            (&Method::DELETE, "/_sim/faults") => {
                self.faults.clear();
                Reply::text(200, "faults cleared\n")
            }
            (&Method::POST, "/_sim/revoke-tokens") => {
                self.tokens.revoke_all();
                Reply::text(200, "tokens revoked\n")
            }
            (&Method::PUT, "/_sim/token-lifetime") => {
                let seconds = request.query_value("seconds").and_then(|s| s.parse().ok());
                self.tokens.set_lifetime(seconds.filter(|s| *s > 0));
                Reply::text(200, "token lifetime set\n")
            }
            (&Method::GET, "/_sim/health") => Reply::text(200, "ok\n"),
            (&Method::GET, "/_sim/stats") => {
                let stats = serde_json::json!({
                    "requests": self.requests(),
                    "peak_concurrent_requests": self.peak_concurrent_requests(),
                    "requests_before_retry_after": self.requests_before_retry_after(),
                    "requests_by_path": *self.requests_by_path.lock().expect("stats lock"),
                });
                Reply::json(200, stats.to_string())
            }
            _ => Reply::text(404, "unknown control endpoint\n"),
        }
    }

    /// Answers one HTTP request, applying a matching fault if there is one.
    pub async fn handle(
        self: Arc<Self>,
        request: http::Request<Incoming>,
    ) -> Result<Response<HttpBody>, DropConnection> {
        let request = read(request).await;
        if request.path.starts_with("/_sim/") {
            return Ok(respond(self.control(&request), None));
        }
        let _answering = self.arrived(&request.path);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let fault = self.faults.take(&request.path);
        if let Some(delay) = fault.as_ref().and_then(Fault::delay) {
            tokio::time::sleep(delay).await;
        }
        if fault == Some(Fault::ExpirePageTokens) {
            self.vendors.iter().for_each(|v| v.expire_page_tokens());
        }
        let reply = self.reply(&request, fault.clone())?;
        self.response_bytes
            .fetch_add(reply.body.len() as u64, Ordering::Relaxed);
        Ok(respond(reply, fault))
    }

    /// Counts a request as it arrives; it is being answered while the result lives.
    fn arrived(&self, path: &str) -> Answering<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .requests_by_path
            .lock()
            .expect("stats lock")
            .entry(path.to_string())
            .or_default() += 1;
        let now_in_flight = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight
            .fetch_max(now_in_flight, Ordering::Relaxed);
        let arrived = std::time::Instant::now();
        if let Some((from, until)) = *self.quiet_until.lock().expect("quiet lock")
            && arrived >= from
            && arrived < until
        {
            self.early_requests.fetch_add(1, Ordering::Relaxed);
        }
        Answering(&self.in_flight)
    }

    /// The answer to `request`: the vendor's, or what `fault` makes of it.
    fn reply(&self, request: &Request, fault: Option<Fault>) -> Result<Reply, DropConnection> {
        Ok(match fault {
            Some(Fault::Drop) => return Err(DropConnection),
            Some(Fault::Status {
                status,
                retry_after,
            }) => {
                let mut reply = self.fault_body(&request.path, status);
                if let Some(seconds) = retry_after {
                    reply.headers.push((RETRY_AFTER, seconds.to_string()));
                    // Requests already on their way get 100 ms to arrive.
                    let now = std::time::Instant::now();
                    *self.quiet_until.lock().expect("quiet lock") = Some((
                        now + Duration::from_millis(100),
                        now + Duration::from_secs(seconds),
                    ));
                }
                reply
            }
            Some(Fault::EchoCredentials) => {
                let header = request
                    .headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let basic = request
                    .basic_auth()
                    .map(|(u, p)| format!("{u}:{p}"))
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&request.body);
                let mut reply = self.fault_body(&request.path, 401);
                reply.body = String::from_utf8_lossy(&reply.body)
                    .replace(
                        "simulated failure",
                        &format!("rejected {header} ({basic}) {body}"),
                    )
                    .into_bytes();
                reply
            }
            Some(Fault::EchoHeaders) => {
                let headers: Vec<String> = request
                    .headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
                    .collect();
                Reply {
                    status: 400,
                    content_type: "text/plain",
                    headers: Vec::new(),
                    body: format!("Bad request. You sent:\n{}\n", headers.join("\n")).into_bytes(),
                }
            }
            Some(Fault::EndlessPages) => self.vendor_reply(|v| v.endless_page(request), 404),
            Some(Fault::UnreadableRows) => self.vendor_reply(|v| v.unreadable_rows(request), 404),
            Some(Fault::Malformed) => {
                Reply::json(200, r#"{"metadata":{},"data":[{"deviceUid":"1","#.into())
            }
            Some(Fault::ErrorPage) => Reply {
                status: 200,
                content_type: "text/html",
                headers: Vec::new(),
                body: b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
                    .to_vec(),
            },
            _ => self.route(request),
        })
    }
}

/// A request with its body read.
async fn read(request: http::Request<Incoming>) -> Request {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
    }
}

/// Turns a reply into a response, applying body faults (truncation, slow body).
fn respond(reply: Reply, fault: Option<Fault>) -> Response<HttpBody> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type);
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    let body = match fault {
        Some(Fault::Truncate) => {
            let (tx, body) = channel_body(2, None);
            let all = Bytes::from(reply.body);
            let cut = all.len() / 2;
            tokio::spawn(async move {
                let _ = tx.send(Ok(all.slice(..cut))).await;
                let _ = tx.send(Err("simulated truncation".into())).await;
            });
            body
        }
        Some(Fault::SlowBody { bytes_per_second }) => {
            let (tx, body) = channel_body(1, None);
            let all = Bytes::from(reply.body);
            let step = (bytes_per_second / 10).max(1) as usize;
            tokio::spawn(async move {
                for start in (0..all.len()).step_by(step) {
                    let end = (start + step).min(all.len());
                    if tx.send(Ok(all.slice(start..end))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            body
        }
        _ => Full::new(Bytes::from(reply.body))
            .map_err(|never| match never {})
            .boxed(),
    };
    builder.body(body).expect("valid response")
}

/// A simulator serving on a socket.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    scheme: &'static str,
    pub simulator: Arc<Simulator>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningSimulator {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts serving `simulator` on `listener`, over TLS with `tls`.
pub fn start_with_tls(
    simulator: Arc<Simulator>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<RunningSimulator> {
    let addr = listener.local_addr()?;
    let tls_enabled = tls.is_some();
    let tls = tls.map(|config| Arc::new(StaticTls(config)) as Arc<dyn TlsSource>);
    let (stop, stopped) = oneshot::channel::<()>();
    let handler = {
        let simulator = simulator.clone();
        move |request| simulator.clone().handle(request)
    };
    let limits = crate::server::ConnectionLimits::default();
    let task = tokio::spawn(serve_http(listener, handler, tls, limits, async {
        let _ = stopped.await;
    }));
    Ok(RunningSimulator {
        addr,
        scheme: if tls_enabled { "https" } else { "http" },
        simulator,
        stop: Some(stop),
        task,
    })
}

/// Starts serving `simulator` on `listener` over plain HTTP.
pub fn start(
    simulator: Arc<Simulator>,
    listener: TcpListener,
) -> std::io::Result<RunningSimulator> {
    start_with_tls(simulator, listener, None)
}
