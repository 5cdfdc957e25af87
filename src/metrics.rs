//! Prometheus metrics: `GET /metrics` in the text exposition format (version 0.0.4).
//!
//! | series | type | labels |
//! |---|---|---|
//! | `graphql_request_duration_seconds` | histogram | `operation_type` (`query`, `mutation`), `operation_name` |
//! | `graphql_errors_total` | counter | `code` (`extensions.code`) |
//! | `graphql_subscriptions_open` | gauge | |
//! | `websocket_connections_open` | gauge | |
//! | `rate_limit_refusals_total` | counter | `scope` (`ip`, `auth-ip`, `tenant`, `agent`, `login-fail`, …) |
//! | `db_pool_connections` | gauge | `state` (`in_use`, `idle`) |
//! | `db_pool_max_connections` | gauge | |
//! | `db_statements_total`, `db_transactions_total` | counter | |
//! | `jobs_pending`, `jobs_due` | gauge | |
//! | `jobs_oldest_due_age_seconds` | gauge | |
//!
//! Operation names are the client's: at most [`MAX_OPERATION_NAMES`] distinct ones are
//! kept per process, later ones count as `other` (and names that are not GraphQL names
//! as `invalid`), so clients cannot blow up the series count. Pool, statement and job
//! gauges are read when scraped. The recorder is process-wide (one per process, shared
//! by every server instance in it).
//!
//! Access: with `METRICS_TOKEN` set, `Authorization: Bearer <METRICS_TOKEN>` is required
//! (401 otherwise); unset, `/metrics` is open in development and not served in
//! production.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::app_state::AppState;

/// Distinct operation names kept as label values per process.
pub const MAX_OPERATION_NAMES: usize = 200;

/// Request latency buckets, seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("graphql_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets (the exporter's upkeep;
/// without it recorded samples pile up until the next scrape).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder and its upkeep thread (idempotent; call before
/// serving so that series recorded from the start are kept).
pub fn install() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    if let Some(h) = handle() {
        UPKEEP.get_or_init(|| {
            let h = h.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        h.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started");
            }
        });
    }
}

/// The label value for a client's operation name (see the module documentation).
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".into();
    };
    let valid = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !valid {
        return "invalid".into();
    }
    let Ok(mut seen) = SEEN.get_or_init(Default::default).lock() else {
        return "other".into();
    };
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_string());
        name.to_string()
    } else {
        "other".into()
    }
}

/// Records one answered GraphQL request over HTTP: its latency, and each error's code.
pub fn record_request(
    query_only: bool,
    operation_name: Option<&str>,
    elapsed: Duration,
    error_codes: impl IntoIterator<Item = String>,
) {
    let ty = if query_only { "query" } else { "mutation" };
    metrics::histogram!(
        "graphql_request_duration_seconds",
        "operation_type" => ty,
        "operation_name" => operation_label(operation_name)
    )
    .record(elapsed.as_secs_f64());
    for code in error_codes {
        metrics::counter!("graphql_errors_total", "code" => code).increment(1);
    }
}

/// The codes of a response's errors (`extensions.code`, `INTERNAL` when absent).
pub fn error_codes(resp: &async_graphql::Response) -> Vec<String> {
    resp.errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|v| match v {
                    async_graphql::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "INTERNAL".into())
        })
        .collect()
}

/// Sets the gauges read at scrape time: pool, statements, job queue.
async fn sample(app: &AppState) {
    let db = &app.graph.db;
    let conn = db.connection();
    let (size, idle, max) = match db.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let p = conn.get_postgres_connection_pool();
            (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            )
        }
        sea_orm::DatabaseBackend::Sqlite => {
            let p = conn.get_sqlite_connection_pool();
            (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    };
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(max));
    metrics::counter!("db_statements_total").absolute(db.statements());
    metrics::counter!("db_transactions_total").absolute(db.transactions());
    match graph::jobs::queue_stats(&app.graph).await {
        Ok(q) => {
            metrics::gauge!("jobs_pending").set(q.pending as f64);
            metrics::gauge!("jobs_due").set(q.due as f64);
            metrics::gauge!("jobs_oldest_due_age_seconds").set(q.oldest_due_age_secs);
        }
        Err(e) => tracing::warn!(error = ?e, "job queue statistics unavailable"),
    }
}

/// `GET /metrics`.
pub async fn serve(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match &app.metrics_token {
        Some(token) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                )
                    .into_response();
            }
        }
        None if app.production => return StatusCode::NOT_FOUND.into_response(),
        None => {}
    }
    let Some(h) = handle() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    sample(&app).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.render(),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "anonymous");
        assert_eq!(operation_label(Some("1abc")), "invalid");
        assert_eq!(operation_label(Some("a-b")), "invalid");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "invalid");
        assert_eq!(operation_label(Some("ListBookings")), "ListBookings");
        for i in 0..MAX_OPERATION_NAMES {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        // Names seen before the cap keep their label.
        assert_eq!(operation_label(Some("ListBookings")), "ListBookings");
    }
}
