//! `servicegraph` binary: see `servicegraph --help`.

use clap::Parser;
use servicegraph::{cli, install_crypto_provider, telemetry};

/// Allocations of this size and larger are mmapped and given back to the OS on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;

/// Fixes glibc's mmap threshold. By default glibc raises it after the first large block
/// is freed (up to 32 MiB), so argon2's 19 MiB working memory (one per log-in, on the
/// blocking pool) then comes from the heap and stays there: a fresh server held ~32 MB
/// of anonymous memory, nearly all freed argon2 blocks; with the threshold fixed, ~12 MB
/// (measured, README "Performance"). Same as `MALLOC_MMAP_THRESHOLD_=262144`.
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
