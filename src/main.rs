//! The `sigflow` binary: all logic lives in the library; this only hands over.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    sigflow::cli::main()
}

/// glibc gives threads their own malloc arenas (up to 8 per core) and keeps memory
/// freed by one thread in the arena that allocated it. Records here move between tokio
/// workers, blocking threads and the store's writer thread, so with the default the
/// footprint grew with throughput (measured by `sigflow bench`: 85 → 250 MiB over a
/// 200k-item run). Two arenas and a fixed mmap threshold keep it flat and low.
/// Set before any other thread exists; arenas are created lazily per thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // A fixed threshold stops glibc from raising it after big buffers are freed, so
        // payload-sized buffers stay mmapped and go back to the OS when freed.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
