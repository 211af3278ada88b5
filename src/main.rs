//! The `sigflow` binary: all logic lives in the library; this only hands over.

/// mimalloc instead of the system allocator: every record is parsed, enriched and
/// serialized into many short-lived strings that move between tokio workers, blocking
/// threads and the store's writer thread. With glibc malloc that traffic cost about a
/// fifth of the pipeline's CPU (`perf` on `sigflow bench`) and, freed across threads,
/// its arenas grew with throughput; mimalloc's per-thread free lists return memory to
/// the page it came from, so both the time and the footprint stay flat.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sigflow::cli::main()
}
