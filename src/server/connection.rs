//! Limits on the connections the server keeps: how many may be open at once, and from one
//! client; how soon a new one must send its first request, and how long one may stay
//! silent. Without them a client that connects and says nothing (over TCP, after a TLS
//! handshake, after an HTTP/2 preface) holds a file descriptor and memory for ever, and
//! one client can take every connection the scrapes need.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Open connections at most.
    pub(crate) max_connections: usize,
    /// Open connections from one client at most (0: no limit of its own).
    pub(crate) max_per_client: usize,
    /// A new connection must send its first request within this (the TLS handshake
    /// included), and an HTTP/1 request its headers.
    pub(crate) read_header_timeout: Duration,
    /// A connection that has sent a request and then moves no byte in either direction for
    /// this long is closed (kept-alive HTTP/1 and HTTP/2 alike).
    pub(crate) idle_timeout: Duration,
}

/// Enough for every Prometheus server, browser and tool behind one address (a scrape
/// needs one connection), and a sixteenth of the default pool.
pub(crate) const DEFAULT_MAX_PER_CLIENT: usize = 256;

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            max_per_client: DEFAULT_MAX_PER_CLIENT,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// Who a connection comes from, for the limits and fairness that apply per client: its IP
/// address, or for IPv6 its /64 network (what one host is usually given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Client(IpAddr);

impl Client {
    pub(crate) fn of(address: IpAddr) -> Client {
        Client(match address {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        })
    }
}

/// When a connection last moved a byte, and whether it has sent a request yet.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last progress; the top bit: a request arrived.
    last: AtomicU64,
}

const REQUESTED: u64 = 1 << 63;

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    fn record(&self, request: bool) {
        let ms = self.start.elapsed().as_millis() as u64 & !REQUESTED;
        let flag = if request { REQUESTED } else { 0 };
        self.last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(ms | flag | (old & REQUESTED))
            })
            .ok();
    }

    /// A request arrived (HTTP/1 headers read, or an HTTP/2 stream opened).
    pub(crate) fn request(&self) {
        self.record(true);
    }

    /// Resolves when the connection has been silent too long: `first` after it opened if
    /// no request has arrived by then, whatever bytes it sent (a TLS handshake or an HTTP/2
    /// preface alone is not a request); `idle` after its last byte once one has.
    pub(crate) async fn expired(&self, first: Duration, idle: Duration) {
        loop {
            let last = self.last.load(Ordering::Relaxed);
            let deadline = if last & REQUESTED == 0 {
                self.start + first
            } else {
                self.start + Duration::from_millis(last & !REQUESTED) + idle
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A connection's I/O, recording its progress in an [`Activity`].
pub(crate) struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.record(false);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.record(false);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.record(false);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The open connections, counted in all and by client. When a limit is reached, the
/// connection that has waited longest without sending a request is closed to make room
/// (of the same client for the per-client limit): silent connections can never keep a
/// client that asks for something out. Only when every connection concerned has sent a
/// request is the new one refused.
pub(crate) struct ConnectionPool {
    limits: ConnectionLimits,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    open: usize,
    by_client: HashMap<Client, usize>,
    /// Connections without a request yet, oldest first.
    waiting: BTreeMap<u64, Arc<Slot>>,
    next_id: u64,
}

/// One admitted connection's place in the pool.
struct Slot {
    id: u64,
    client: Client,
    /// No longer counted: closed to make room, or ended.
    released: AtomicBool,
    /// Told when the pool closes it to make room.
    evicted: Notify,
}

/// A limit a new connection met: it either made room or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Total,
    PerClient,
}

impl PoolState {
    /// Stops counting `slot` (once).
    fn release(&mut self, slot: &Slot) {
        if slot.released.swap(true, Ordering::AcqRel) {
            return;
        }
        self.open -= 1;
        self.waiting.remove(&slot.id);
        if let Some(count) = self.by_client.get_mut(&slot.client) {
            *count -= 1;
            if *count == 0 {
                self.by_client.remove(&slot.client);
            }
        }
    }

    /// Closes the oldest connection without a request for which `from` holds.
    fn evict_oldest(&mut self, from: impl Fn(Client) -> bool) -> bool {
        let Some(slot) = self
            .waiting
            .values()
            .find(|slot| from(slot.client))
            .cloned()
        else {
            return false;
        };
        self.release(&slot);
        slot.evicted.notify_one();
        true
    }
}

impl ConnectionPool {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<ConnectionPool> {
        Arc::new(ConnectionPool {
            limits,
            state: Mutex::new(PoolState::default()),
        })
    }

    /// Counts a new connection from `client` in, with the limit it met if it made room;
    /// the limit that refused it otherwise.
    pub(crate) fn admit(
        self: &Arc<Self>,
        client: Client,
    ) -> Result<(Admission, Option<Limit>), Limit> {
        let mut state = self.state.lock().expect("connection pool");
        let mut met = None;
        let from_client = state.by_client.get(&client).copied().unwrap_or(0);
        if self.limits.max_per_client > 0 && from_client >= self.limits.max_per_client {
            if !state.evict_oldest(|c| c == client) {
                return Err(Limit::PerClient);
            }
            met = Some(Limit::PerClient);
        }
        if state.open >= self.limits.max_connections {
            if !state.evict_oldest(|_| true) {
                return Err(Limit::Total);
            }
            met = met.or(Some(Limit::Total));
        }
        state.open += 1;
        *state.by_client.entry(client).or_default() += 1;
        let id = state.next_id;
        state.next_id += 1;
        let slot = Arc::new(Slot {
            id,
            client,
            released: AtomicBool::new(false),
            evicted: Notify::new(),
        });
        state.waiting.insert(id, slot.clone());
        let admission = Admission {
            pool: self.clone(),
            slot,
            requested: AtomicBool::new(false),
        };
        Ok((admission, met))
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let state = self.state.lock().expect("connection pool");
        (state.open, state.waiting.len())
    }
}

/// A connection counted in the pool until it is dropped.
pub(crate) struct Admission {
    pool: Arc<ConnectionPool>,
    slot: Arc<Slot>,
    requested: AtomicBool,
}

impl Admission {
    /// The connection sent a request: it is no longer one that may be closed to make room.
    pub(crate) fn request(&self) {
        if !self.requested.swap(true, Ordering::Relaxed) {
            let mut state = self.pool.state.lock().expect("connection pool");
            state.waiting.remove(&self.slot.id);
        }
    }

    /// Resolves when the pool closes this connection to make room for another.
    pub(crate) async fn evicted(&self) {
        self.slot.evicted.notified().await;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.pool.state.lock().expect("connection pool");
        state.release(&self.slot);
    }
}

/// Raises this process's soft limit of open files to its hard limit, as Go programs do, and
/// returns the limit in effect (`None` where it cannot be read).
pub(crate) fn raise_open_files_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The default cap on connections: 4,096, or fewer to leave 128 descriptors for the
/// vendors, the storage files and the log below the open-files limit.
pub(crate) fn default_max_connections(open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) => (limit.saturating_sub(128) as usize).clamp(16, 4096),
        None => 4096,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_stays_below_the_open_files_limit() {
        assert_eq!(default_max_connections(Some(1024)), 896);
        assert_eq!(default_max_connections(Some(65536)), 4096);
        assert_eq!(default_max_connections(None), 4096);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_expires_first_at_the_first_limit_then_at_the_idle_one() {
        let (first, idle) = (Duration::from_secs(10), Duration::from_secs(120));
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        activity.expired(first, idle).await;
        assert_eq!(started.elapsed().as_secs(), 10);

        // Bytes that are not a request (a TLS handshake, an HTTP/2 preface and settings)
        // do not move the first deadline.
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(9)).await;
        activity.record(false);
        activity.expired(first, idle).await;
        assert_eq!(started.elapsed().as_secs(), 10);

        // After a request, the idle limit runs from the last byte.
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        activity.request();
        tokio::time::sleep(Duration::from_secs(30)).await;
        activity.record(false);
        activity.expired(first, idle).await;
        assert_eq!(started.elapsed().as_secs(), 5 + 30 + 120);
    }

    fn client(last: u8) -> Client {
        Client::of(IpAddr::from([10, 0, 0, last]))
    }

    #[tokio::test]
    async fn a_full_pool_closes_the_oldest_silent_connection_of_the_same_client_first() {
        let pool = ConnectionPool::new(ConnectionLimits {
            max_connections: 5,
            max_per_client: 3,
            ..ConnectionLimits::default()
        });
        let admit = |who| pool.admit(client(who)).map(|(admission, _)| admission);
        let served = admit(1).unwrap();
        served.request();
        let oldest_silent = admit(1).unwrap();
        let silent = admit(1).unwrap();
        // The client's limit: its oldest silent connection makes room, not the served one.
        let (newer, met) = pool.admit(client(1)).unwrap();
        assert_eq!(met, Some(Limit::PerClient));
        tokio::time::timeout(Duration::from_secs(1), oldest_silent.evicted())
            .await
            .expect("the oldest silent connection is told to close");
        assert_eq!(pool.open(), (3, 2));
        drop(oldest_silent);
        assert_eq!(pool.open(), (3, 2), "counted once");
        // Every connection of the client has sent a request: a new one is refused.
        silent.request();
        newer.request();
        assert_eq!(admit(1).err(), Some(Limit::PerClient));
        // Another client fills the pool, then takes the oldest silent connection's place.
        let other = admit(2).unwrap();
        let _other2 = admit(2).unwrap();
        let (third, met) = pool.admit(client(3)).unwrap();
        assert_eq!(met, Some(Limit::Total));
        tokio::time::timeout(Duration::from_secs(1), other.evicted())
            .await
            .expect("evicted for the pool's limit");
        third.request();
        _other2.request();
        assert_eq!(admit(4).err(), Some(Limit::Total));
        drop(served);
        assert!(admit(4).is_ok());
    }

    #[test]
    fn ipv6_clients_are_their_64_network_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::of(a), Client::of(b));
        assert_ne!(Client::of(a), Client::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(Client::of(mapped), Client::of("192.0.2.7".parse().unwrap()));
    }
}
