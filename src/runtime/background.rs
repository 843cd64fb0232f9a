//! Refresh work that takes CPU — decoding every page a vendor sends (reports and events),
//! merging a refresh into the state, building and encoding snapshots, deflating their
//! static families, and writing or reading the state for `--storage.path` — runs here, on
//! one thread per core at a lower scheduling priority (the deflate helpers lower their own
//! threads the same way). The entry points of that work check it in debug builds
//! ([`debug_assert_low_priority`]).
//! Scrapes run at normal priority, so when both want the CPU the scrape goes first: a
//! refresh can be slowed by scrapes, never the reverse. One thread per core also bounds the
//! memory of many tenants refreshing at once.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static POOL: OnceLock<Sender<Job>> = OnceLock::new();

thread_local! {
    /// This thread runs at the lower priority.
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

fn pool() -> &'static Sender<Job> {
    POOL.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("refresh-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = receiver.lock().expect("no job panics holding it").recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start the refresh threads");
        }
        sender
    })
}

/// Runs `work` on a refresh thread and waits for its result; a panic in `work` resumes in
/// the caller, as with `tokio::task::spawn_blocking`.
pub(crate) async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (result_sender, result) = tokio::sync::oneshot::channel();
    pool()
        .send(Box::new(move || {
            let _ = result_sender.send(catch_unwind(AssertUnwindSafe(work)));
        }))
        .expect("the refresh threads live as long as the process");
    match result.await.expect("a refresh thread always answers") {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Nice 10 for the calling thread (on Linux the nice value is per thread).
pub(crate) fn lower_priority() {
    if LOWERED.get() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the scheduling priority of the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
    LOWERED.set(true);
}

/// In debug builds, fails unless the calling thread runs at the lower priority: `work`
/// would otherwise compete with scrapes. The crate's own unit tests call the decoders and
/// encoders directly and are exempt; everything else, the integration tests included,
/// goes through [`run`].
#[track_caller]
pub(crate) fn debug_assert_low_priority(work: &str) {
    debug_assert!(
        cfg!(test) || LOWERED.get(),
        "{work} must run on the low-priority refresh threads (runtime::background::run)"
    );
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn work_runs_lowered_and_the_caller_is_not() {
        assert!(super::run(|| super::LOWERED.get()).await);
        assert!(!super::LOWERED.get());
    }

    #[tokio::test]
    async fn returns_results_and_resumes_panics() {
        assert_eq!(super::run(|| 6 * 7).await, 42);
        let panicked = tokio::spawn(super::run(|| -> u32 { panic!("boom") })).await;
        assert!(panicked.unwrap_err().is_panic());
        assert_eq!(super::run(|| "still serving").await, "still serving");
    }
}
