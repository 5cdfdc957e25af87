//! The Servicegraph server: configuration, HTTP edge, CLI commands.
//!
//! `main.rs` is thin; everything a test needs is here: [`Application::build`] binds
//! (port 0 in tests), [`Application::port`], [`Application::run_until_stopped`].

pub mod agent;
pub mod app_state;
pub mod cli;
pub mod db_setup;
pub mod documents;
pub mod http;
pub mod metrics;
pub mod oauth;
pub mod playground;
pub mod replay_sgd;
pub mod rotate_keys;
pub mod serve;
pub mod settings;
pub mod sockets;
pub mod startup;
pub mod telemetry;
pub mod twilio_stream;
pub mod webhooks;

pub use settings::Settings;
pub use startup::Application;

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Two rustls back-ends
/// are in the dependency tree, and rustls panics when it must choose; call this first
/// in `main` and in test setup. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
