//! `servicegraph` binary: see `servicegraph --help`.

use clap::Parser;
use servicegraph::{cli, install_crypto_provider, telemetry};

/// The process's allocator for Rust code: jemalloc (`tikv-jemallocator`).
///
/// Measured against glibc's malloc on the nested bookings page (README "Performance",
/// 2 cores, wrk at 16 connections, one binary with jemalloc preloaded or not): glibc's
/// `malloc`/`free` were ~24 % of our CPU; with jemalloc our CPU per page fell from 0.72
/// to 0.56 ms on PostgreSQL (req/s +27 %) and SQLite served 31 % more pages. Its options
/// are [`JEMALLOC_CONF`].
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (the `malloc_conf` symbol; the environment
/// variable `_RJEM_MALLOC_CONF` overrides them; options: jemalloc(3), "TUNING.md" of
/// jemalloc 5.3):
/// - `background_thread:true`: one thread purges unused pages on time, so memory freed
///   after a burst goes back to the OS while the server is idle (without it jemalloc
///   purges only as a side effect of later allocations, and an idle server keeps them);
///   `max_background_threads:1`: one such thread is enough (the default is one per CPU);
/// - `dirty_decay_ms:1000`, `muzzy_decay_ms:0`: freed pages are returned after about a
///   second and at once with `MADV_DONTNEED` (not lazily with `MADV_FREE`, which would
///   leave them counted in RSS until the kernel needs them);
/// - `tcache_max:4096`: each thread caches freed blocks up to 4 KiB (jemalloc 5.3's
///   default is 32 KiB); larger ones go back to their arena. Measured on 2 cores: idle
///   RSS on SQLite 41.2 -> 39.1-40.0 MB (anonymous 15.2-15.4 -> 13.4-14.1 MB), for
///   1-4 % fewer nested pages per second on PostgreSQL (README "Performance").
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: Option<&u8> =
    // C's `const char *malloc_conf`: a pointer to the first byte of a NUL-terminated
    // string (`Option<&u8>` has the layout of a nullable pointer).
    Some(
        &b"background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:4096\0"
            [0],
    );

/// Allocations of this size and larger are mmapped and given back to the OS on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;

/// Fixes glibc's mmap threshold for the C libraries in the process (SQLite, aws-lc),
/// which allocate with glibc's `malloc`, not with the Rust allocator. By default glibc
/// raises the threshold after the first large block is freed (up to 32 MiB), so a large
/// block freed once keeps its memory in the heap afterwards. (Before jemalloc served Rust
/// code, this held argon2's 19 MiB working memory per log-in: a fresh server kept ~32 MB
/// of anonymous memory instead of ~12 MB, README "Performance".) Same as
/// `MALLOC_MMAP_THRESHOLD_=262144`.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called first in `main`,
    // before any other thread exists, with a documented option and a valid value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    install_crypto_provider();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve()),
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> std::process::ExitCode {
    let _traces = telemetry::init();
    match cli::run(cli::Cli::parse()).await {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
