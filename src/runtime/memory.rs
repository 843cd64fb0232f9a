//! Keeps the resident memory of a large estate close to what its snapshot needs.
//!
//! glibc's allocator gives each busy thread its own arena and keeps freed memory in them;
//! with concurrent scrapes and a refresh building the next snapshot, that retained memory
//! added about a third to the steady-state RSS at 100,000 devices (docs/performance.md).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Caps glibc's arenas at two per process, and serves every allocation of 256 KiB or more
/// (report pages, the buffers of a static family's text, the estate's tables) with its own
/// mapping, returned to the system when freed. Left to itself, glibc raises that threshold
/// after the first such buffer is freed, and the large buffers of each refresh then
/// fragmented the heap: the peak of a later refresh at 100,000 devices was 176 MiB, and
/// 129 MiB with this.
/// Call before any thread starts.
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Returns freed memory to the operating system, after a new snapshot replaced the old one.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// After a scrape: returns what its buffers left free, at most once a second, so that a
/// burst of concurrent scrapes does not leave the process tens of megabytes larger.
pub(crate) fn release_after_scrape() {
    static START: OnceLock<Instant> = OnceLock::new();
    static LAST_RELEASE_MS: AtomicU64 = AtomicU64::new(0);
    let now_ms = START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1000;
    let last = LAST_RELEASE_MS.load(Ordering::Relaxed);
    if now_ms >= last + 1000
        && LAST_RELEASE_MS
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        release_free_memory();
    }
}
