//! The HTTP accept loop shared by the exporter and the simulator: plain or TLS connections
//! (with client-certificate name checks), HTTP/1 and HTTP/2, graceful shutdown, and
//! streaming bodies.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::connection::{
    Activity, Admission, Client, ConnectionLimits, ConnectionPool, Limit, Watched,
};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type HttpBody = BoxBody<Bytes, BoxError>;

/// A response body fed by a channel; an `Err` item aborts the response mid-body.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, BoxError>>,
    /// Held until the body is sent or dropped, not just produced: a small body fits in the
    /// channel whole, and without this every such response would wait in memory unbounded.
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
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

/// A streaming body and the sender that feeds it (`capacity` chunks may wait in between);
/// `permit`, if any, is released when the body has been sent or dropped.
pub(crate) fn channel_body(
    capacity: usize,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> (mpsc::Sender<Result<Bytes, BoxError>>, HttpBody) {
    let (tx, rx) = mpsc::channel(capacity);
    (
        tx,
        ChannelBody {
            rx,
            _permit: permit,
        }
        .boxed(),
    )
}

/// A listen address that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid listen address {text:?}: {source} (expected host:port or :port)")]
pub(crate) struct ListenAddressError {
    text: String,
    source: std::net::AddrParseError,
}

/// A listen address that cannot be listened on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BindError {
    #[error(transparent)]
    Address(#[from] ListenAddressError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
}

/// A listener on a Go-style listen address (`:9877` means every interface).
pub(crate) async fn bind(text: &str) -> Result<TcpListener, BindError> {
    let address = parse_listen_address(text)?;
    TcpListener::bind(address)
        .await
        .map_err(|source| BindError::Listen {
            address: text.to_string(),
            source,
        })
}

/// Parses a Go-style listen address: `:9877` means every interface.
pub(crate) fn parse_listen_address(text: &str) -> Result<SocketAddr, ListenAddressError> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse().map_err(|source| ListenAddressError {
        text: text.to_string(),
        source,
    })
}

/// Supplies the TLS settings for each new connection; `None` serves plain HTTP.
pub(crate) trait TlsSource: Send + Sync + 'static {
    fn tls(&self) -> Option<(Arc<rustls::ServerConfig>, Vec<String>)>;
}

/// Accepts connections until `shutdown` resolves, answering each request with `handler`,
/// over TLS when `tls` says so, within `limits`; then lets open requests finish (at most
/// ten seconds). A handler's error ends its connection without an answer.
pub(crate) async fn serve_http<H, F, E>(
    listener: TcpListener,
    handler: H,
    tls: Option<Arc<dyn TlsSource>>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<HttpBody>, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_header_timeout);
    let builder = Arc::new(builder);
    let graceful = Arc::new(GracefulShutdown::new());
    let pool = ConnectionPool::new(limits);
    let mut limit_log = LimitLog::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let client = Client::of(peer.ip());
        // At a limit the oldest connection without a request makes room; failing that the
        // new one is closed at once, so it never holds a descriptor the scrapes and the
        // vendors need.
        let (admission, met) = match pool.admit(client) {
            Ok((admission, met)) => (Some(admission), met),
            Err(limit) => (None, Some(limit)),
        };
        if let Some(limit) = met {
            limit_log.reached(limit, admission.is_some(), peer, &limits);
        }
        let Some(admission) = admission else {
            drop(stream);
            continue;
        };
        // A body is written in pieces; without this, Nagle's algorithm holds the last small
        // piece until the client's delayed ACK (40 ms on Linux), as Go servers avoid.
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            stream,
            peer,
            client,
            admission: Arc::new(admission),
            tls: tls.as_ref().and_then(|t| t.tls()),
            limits,
        };
        tokio::spawn(connection.serve(builder.clone(), graceful.clone(), handler.clone()));
    }
    drain(graceful).await;
}

/// When each connection limit was last logged: at most once a minute each.
#[derive(Default)]
struct LimitLog([Option<std::time::Instant>; 2]);

impl LimitLog {
    fn reached(
        &mut self,
        limit: Limit,
        made_room: bool,
        peer: SocketAddr,
        limits: &ConnectionLimits,
    ) {
        let logged_at = &mut self.0[limit as usize];
        if logged_at.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
            return;
        }
        let what = if made_room {
            "closing the oldest connection that has sent no request, to make room"
        } else {
            "every connection concerned has sent a request; closing the new one"
        };
        match limit {
            Limit::Total => warn!(
                max_connections = limits.max_connections,
                "connection limit reached (--web.max-connections); {what}"
            ),
            Limit::PerClient => warn!(
                %peer,
                max_per_client = limits.max_per_client,
                "connection limit of one client reached (--web.max-connections-per-client); {what}"
            ),
        }
        *logged_at = Some(std::time::Instant::now());
    }
}

/// An admitted connection, before its first byte is read.
struct Connection {
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    client: Client,
    admission: Arc<Admission>,
    tls: Option<(Arc<rustls::ServerConfig>, Vec<String>)>,
    limits: ConnectionLimits,
}

impl Connection {
    /// Serves the connection until it ends, is silent too long, or is closed to make room.
    async fn serve<H, F, E>(
        self,
        builder: Arc<auto::Builder<TokioExecutor>>,
        graceful: Arc<GracefulShutdown>,
        handler: H,
    ) where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response<HttpBody>, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let Connection {
            stream,
            peer,
            client,
            admission,
            tls,
            limits,
        } = self;
        let activity = Activity::new();
        let silent = activity.expired(limits.read_header_timeout, limits.idle_timeout);
        // Every request marks the connection as one that asked for something and says
        // which client sent it (for fairness in basic auth).
        let service = {
            let (activity, admission) = (activity.clone(), admission.clone());
            service_fn(move |mut request: Request<Incoming>| {
                activity.request();
                admission.request();
                request.extensions_mut().insert(client);
                handler(request)
            })
        };
        let serve = async {
            match tls {
                None => {
                    let io = TokioIo::new(Watched::new(stream, activity.clone()));
                    graceful
                        .watch(builder.serve_connection(io, service).into_owned())
                        .await
                }
                Some((config, allowed_sans)) => {
                    match accept_tls(stream, config, &allowed_sans, limits.read_header_timeout)
                        .await
                    {
                        Ok(stream) => {
                            let io = TokioIo::new(Watched::new(stream, activity.clone()));
                            graceful
                                .watch(builder.serve_connection(io, service).into_owned())
                                .await
                        }
                        Err(reason) => {
                            debug!(%peer, %reason, "TLS connection refused");
                            Ok(())
                        }
                    }
                }
            }
        };
        tokio::select! {
            result = serve => {
                if let Err(error) = result {
                    debug!(%peer, %error, "connection ended with an error");
                }
            }
            () = silent => debug!(%peer, "connection closed: no request in time, or silent too long"),
            () = admission.evicted() => debug!(%peer, "connection closed before its first request, to make room for a new one"),
        }
    }
}

/// Lets open requests finish, for at most ten seconds.
async fn drain(graceful: Arc<GracefulShutdown>) {
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

/// Why a TLS connection was refused before its first request.
#[derive(Debug, thiserror::Error)]
enum TlsRefusal {
    #[error("plain HTTP on the TLS port")]
    PlainHttp,
    #[error("no TLS handshake within {0:?}")]
    NoHandshake(Duration),
    #[error("TLS handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("client certificate not valid for any of client_allowed_sans")]
    ClientCertificate,
}

/// The TLS handshake, bounded in time. A client speaking plain HTTP to the TLS port gets a
/// plain answer saying so; a client certificate must match `allowed_sans` when it is set.
async fn accept_tls(
    stream: tokio::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    allowed_sans: &[String],
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, TlsRefusal> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
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
            return Err(TlsRefusal::PlainHttp);
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(TlsRefusal::Io(e)),
        Err(_) => return Err(TlsRefusal::NoHandshake(timeout)),
    }
    let stream = tokio::time::timeout(
        timeout,
        tokio_rustls::TlsAcceptor::from(config).accept(stream),
    )
    .await
    .map_err(|_| TlsRefusal::HandshakeTimeout(timeout))?
    .map_err(TlsRefusal::Io)?;
    if !allowed_sans.is_empty() {
        let allowed = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .is_some_and(|cert| client_san_allowed(cert, allowed_sans));
        if !allowed {
            return Err(TlsRefusal::ClientCertificate);
        }
    }
    Ok(stream)
}

/// Whether a client certificate is valid for one of `allowed` (DNS names or IP addresses).
fn client_san_allowed(certificate: &CertificateDer<'_>, allowed: &[String]) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(certificate) else {
        return false;
    };
    allowed.iter().any(|name| {
        ServerName::try_from(name.as_str())
            .is_ok_and(|name| cert.verify_is_valid_for_subject_name(&name).is_ok())
    })
}
