//! Keeps the resident memory of a large estate close to what its snapshot needs.
//!
//! glibc's allocator gives each busy thread its own arena and keeps freed memory in them;
//! with concurrent scrapes and a refresh building the next snapshot, that retained memory
//! added about a third to the steady-state RSS at 100,000 devices (docs/performance.md).

/// Caps glibc's arenas at two per process; call before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns freed memory to the operating system, after a new snapshot replaced the old one.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
