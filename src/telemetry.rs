//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or —
//! with `LOG_FORMAT=json` — one JSON object per line with the current span's fields
//! (`request_id`, and `tenant_id` once the caller is known) for log shippers. Neither
//! format carries request bodies, tokens or secrets: handlers log ids and codes only.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once; later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
