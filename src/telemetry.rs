//! Logging and traces.
//!
//! - **Logs**: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or —
//!   with `LOG_FORMAT=json` — one JSON object per line with the current span's fields
//!   (`request_id`, and `tenant_id` once the caller is known) for log shippers. Neither
//!   format carries request bodies, tokens or secrets: handlers log ids and codes only.
//! - **Traces** (OpenTelemetry, exported over OTLP/HTTP with JSON bodies) when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL, e.g.
//!   `http://127.0.0.1:4318`; spans go to `/v1/traces`) or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) is set; service name from
//!   `OTEL_SERVICE_NAME` (default `servicegraph`). Spans: one per GraphQL request
//!   (`graphql`: request id, tenant id, operation type and name), one per database
//!   statement (`db.statement`, see `graph::telemetry`), one per provider call
//!   (`provider.call`: each outbox job's handler, and routing matrix questions) — not one
//!   per resolver. Only our own crates' spans are exported, never their log events.
//!   Batches leave from the SDK's own thread (OTLP spec defaults: every 5 s or 512 spans;
//!   `OTEL_BSP_SCHEDULE_DELAY` in ms changes the interval).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Exports the remaining spans when dropped (at the end of `main`).
pub struct TraceGuard(Option<SdkTracerProvider>);

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("warning: flushing traces: {e}");
        }
    }
}

/// The OTLP traces URL from the environment, if traces are wanted.
fn traces_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    })
}

/// The tracer provider exporting to `url`, or why not.
fn provider(url: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(url)
        .build()
        .map_err(|e| e.to_string())?;
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "servicegraph".into());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build())
}

/// Installs the global subscriber (once; later calls do nothing) and, when configured,
/// the trace exporter. Keep the guard until the process ends.
pub fn init() -> TraceGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        fmt.boxed()
    };
    let (traces, guard) = match traces_url().map(|url| provider(&url)) {
        Some(Ok(p)) => {
            opentelemetry::global::set_tracer_provider(p.clone());
            graph::telemetry::enable();
            // Our spans only (no resolver or dependency spans, no log events).
            let ours = filter_fn(|m| {
                m.is_span()
                    && (m.target().starts_with("servicegraph") || m.target().starts_with("graph"))
            });
            let layer = tracing_opentelemetry::layer()
                .with_tracer(p.tracer("servicegraph"))
                .with_filter(ours);
            (Some(layer), TraceGuard(Some(p)))
        }
        Some(Err(e)) => {
            eprintln!("warning: traces are off: {e}");
            (None, TraceGuard(None))
        }
        None => (None, TraceGuard(None)),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(traces)
        .try_init();
    guard
}
