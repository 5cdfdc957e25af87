//! `servicegraph` binary: see `servicegraph --help`.

use clap::Parser;
use servicegraph::{cli, install_crypto_provider, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    install_crypto_provider();
    telemetry::init();
    match cli::run(cli::Cli::parse()).await {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
