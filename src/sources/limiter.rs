//! One limiter per source: every request to the vendor holds a slot, so no more than
//! `max_in_flight` are ever in flight at once, tokens and events included. A 429 slows the
//! whole source down, not just the request that got it: the window halves, no request
//! starts before the `Retry-After`, and the window grows back by one after every window's
//! worth of answers without a 429.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// When no `Retry-After` says otherwise, a 429 pauses the source this long.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// A `Retry-After` longer than this is taken as this (a request timeout ends it anyway).
const MAX_PAUSE: Duration = Duration::from_secs(120);

#[derive(Debug)]
struct State {
    in_flight: usize,
    window: usize,
    /// Answers since the window last changed.
    calm: usize,
    not_before: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Limiter {
    max: usize,
    state: Mutex<State>,
    freed: Notify,
}

/// A request's slot, given back when dropped.
pub(crate) struct Slot<'l>(&'l Limiter);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.state.lock().expect("limiter").in_flight -= 1;
        self.0.freed.notify_waiters();
    }
}

impl Limiter {
    pub(crate) fn new(max_in_flight: usize) -> Limiter {
        let max = max_in_flight.max(1);
        Limiter {
            max,
            state: Mutex::new(State {
                in_flight: 0,
                window: max,
                calm: 0,
                not_before: None,
            }),
            freed: Notify::new(),
        }
    }

    /// Waits for a slot: room in the window, and past any `Retry-After`.
    pub(crate) async fn slot(&self) -> Slot<'_> {
        loop {
            let freed = self.freed.notified();
            let wait = {
                let mut state = self.state.lock().expect("limiter");
                match state.not_before {
                    Some(at) if Instant::now() < at => Some(at),
                    _ if state.in_flight < state.window => {
                        state.in_flight += 1;
                        return Slot(self);
                    }
                    _ => None,
                }
            };
            match wait {
                Some(at) => tokio::time::sleep_until(at).await,
                None => freed.await,
            }
        }
    }

    /// The vendor answered 429: halve the window, and with `pause` (the request will be
    /// sent again) hold every request until its `Retry-After` has passed.
    pub(crate) fn slow_down(&self, pause: Option<Option<Duration>>) {
        let mut state = self.state.lock().expect("limiter");
        state.window = (state.window / 2).max(1);
        state.calm = 0;
        if let Some(retry_after) = pause {
            let until = Instant::now() + retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
            state.not_before = Some(state.not_before.map_or(until, |t| t.max(until)));
        }
    }

    /// An answer other than 429: after a window's worth of them, the window grows by one.
    pub(crate) fn calm(&self) {
        let mut state = self.state.lock().expect("limiter");
        if state.window < self.max {
            state.calm += 1;
            if state.calm >= state.window {
                state.window += 1;
                state.calm = 0;
                drop(state);
                self.freed.notify_waiters();
            }
        }
    }

    #[cfg(test)]
    fn window(&self) -> usize {
        self.state.lock().expect("limiter").window
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_window_in_flight() {
        let limiter = Arc::new(Limiter::new(3));
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (limiter, now, peak) = (limiter.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = limiter.slot().await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_window_and_pauses_until_retry_after() {
        let limiter = Limiter::new(4);
        limiter.slow_down(Some(Some(Duration::from_secs(5))));
        assert_eq!(limiter.window(), 2);
        let start = Instant::now();
        drop(limiter.slot().await);
        assert!(start.elapsed() >= Duration::from_secs(5));
        // It grows back by one per window's worth of calm answers.
        limiter.calm();
        limiter.calm();
        assert_eq!(limiter.window(), 3);
        for _ in 0..3 {
            limiter.calm();
        }
        assert_eq!(limiter.window(), 4);
        limiter.calm();
        assert_eq!(limiter.window(), 4);
    }
}
