//! OpenTelemetry spans for database statements. The server (`src/telemetry.rs`) exports
//! traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and then calls [`enable`];
//! until then [`statement_span`] returns at once. A statement span is a child of the
//! current request span, named `db.statement`, with the measured start and end, the
//! backend (`db.system`), the SQL text with its placeholders (`db.statement`, at most
//! 1,000 characters: bound values — names, phones, tokens — are never in it) and whether
//! it failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use sea_orm::DatabaseBackend;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Longest SQL text put on a span, characters.
const MAX_SQL_CHARS: usize = 1_000;

/// Turns statement spans on (the global tracer provider exports them).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Records one executed statement as a span under the current request span (SeaORM's
/// metric callback: called when the statement has finished, with its duration).
pub fn statement_span(info: &sea_orm::metric::Info<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(info.elapsed).unwrap_or(end);
    let parent = tracing::Span::current().context();
    let system = match info.statement.db_backend {
        DatabaseBackend::Postgres => "postgresql",
        DatabaseBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    let sql: String = info.statement.sql.chars().take(MAX_SQL_CHARS).collect();
    let tracer = opentelemetry::global::tracer_provider().tracer("servicegraph");
    let mut span = tracer
        .span_builder("db.statement")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system", system),
            KeyValue::new("db.statement", sql),
        ])
        .start_with_context(&tracer, &parent);
    if info.failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}
