//! Limits on the connections the server keeps: how many may be open at once, how soon a
//! new one must send its first request, and how long one may stay silent. Without them a
//! client that connects and says nothing (over TCP, after a TLS handshake, after an
//! HTTP/2 preface) holds a file descriptor and memory for ever.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Open connections at most; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// A new connection must send its first request bytes, and an HTTP/1 request its
    /// headers, within this.
    pub read_header_timeout: Duration,
    /// A connection without a byte in either direction for this long is closed
    /// (kept-alive HTTP/1 and HTTP/2 alike).
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// When a connection last moved a byte, and whether it ever sent one.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last progress; the top bit: a byte was read.
    last: AtomicU64,
}

const READ_SOMETHING: u64 = 1 << 63;

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    fn record(&self, read: bool) {
        let ms = self.start.elapsed().as_millis() as u64 & !READ_SOMETHING;
        let flag = if read { READ_SOMETHING } else { 0 };
        self.last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(ms | flag | (old & READ_SOMETHING))
            })
            .ok();
    }

    /// Resolves when the connection has been silent too long: `first` before it sent
    /// anything, `idle` after.
    pub(crate) async fn expired(&self, first: Duration, idle: Duration) {
        loop {
            let last = self.last.load(Ordering::Relaxed);
            let limit = if last & READ_SOMETHING == 0 {
                first
            } else {
                idle
            };
            let deadline = self.start + Duration::from_millis(last & !READ_SOMETHING) + limit;
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
            self.activity.record(true);
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
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        activity
            .expired(Duration::from_secs(10), Duration::from_secs(120))
            .await;
        assert_eq!(started.elapsed().as_secs(), 10);
    }
}
