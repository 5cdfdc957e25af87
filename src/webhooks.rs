//! Webhooks in: `POST /webhooks/{tenant_slug}/{plugin}` (a tenant's Stripe account) and
//! `POST /webhooks/platform/stripe` (the platform's own account and Connect events).
//!
//! The signature over the raw body is verified before anything else (Stripe scheme,
//! <https://docs.stripe.com/webhooks#verify-manually>: `Stripe-Signature: t=…,v1=…`,
//! HMAC-SHA256 of `"{t}.{body}"`, 300 s tolerance, any of several `v1` values and
//! secrets during rotation). A bad or missing signature answers 400 and changes nothing.
//! Verified events are applied in one transaction with their dedupe record
//! (`graph::payments::webhooks`); a repeat answers 200 and does nothing. Responses never
//! echo secrets or the payload.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use graph::GraphState;
use graph::payments::webhooks::{self, Handled, Source};
use integrations::stripe::webhook::{self as sig, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use serde_json::json;

use crate::http::AppState;

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn verify(headers: &HeaderMap, body: &[u8], secrets: &[&str]) -> Result<(), Box<Response>> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    sig::verify(
        body,
        header,
        secrets,
        chrono::Utc::now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    )
    .map_err(|e| {
        // debug, not warn: anyone can post unsigned requests, and a log line per request
        // would let them fill the disk.
        tracing::debug!(error = %e, "webhook signature refused");
        Box::new(reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid signature", "reason": e.to_string()}),
        ))
    })
}

async fn apply(
    graph: &GraphState,
    tenant_id: uuid::Uuid,
    source: Source,
    event: &sig::Event,
) -> Response {
    match webhooks::handle(graph, tenant_id, source, event).await {
        Ok(Handled::Duplicate) => {
            reply(StatusCode::OK, json!({"received": true, "duplicate": true}))
        }
        Ok(_) => reply(StatusCode::OK, json!({"received": true})),
        Err(e) => {
            tracing::error!(error = ?e, event_id = %event.id, "webhook processing failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "processing failed"}),
            )
        }
    }
}

/// `POST /webhooks/{tenant_slug}/{plugin}`.
pub async fn tenant_webhook(
    State(app): State<Arc<AppState>>,
    Path((slug, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let graph = &app.graph;
    if plugin != "stripe" {
        return reply(StatusCode::NOT_FOUND, json!({"error": "unknown plugin"}));
    }
    let tenant_id = match graph.db.tenant_id_by_slug(&slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return reply(StatusCode::NOT_FOUND, json!({"error": "unknown tenant"})),
        Err(e) => {
            tracing::error!(error = ?e, "webhook tenant lookup failed");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "lookup failed"}),
            );
        }
    };
    let providers = match graph.registry.tenant(tenant_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "loading tenant plugins failed");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "lookup failed"}),
            );
        }
    };
    let secrets = providers.stripe_webhook_secrets();
    if secrets.is_empty() {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": "stripe is not configured for this tenant"}),
        );
    }
    if let Err(r) = verify(&headers, &body, &secrets) {
        return *r;
    }
    let event = match sig::parse_event(&body) {
        Ok(e) => e,
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "malformed event"})),
    };
    apply(graph, tenant_id, Source::Tenant, &event).await
}

/// `POST /webhooks/platform/stripe`.
pub async fn platform_webhook(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let graph = &app.graph;
    let secrets: Vec<&str> = graph
        .platform
        .stripe_webhook_secrets
        .iter()
        .map(String::as_str)
        .collect();
    if secrets.is_empty() {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": "platform webhooks are not configured"}),
        );
    }
    if let Err(r) = verify(&headers, &body, &secrets) {
        return *r;
    }
    let event = match sig::parse_event(&body) {
        Ok(e) => e,
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "malformed event"})),
    };
    match webhooks::platform_tenant(graph, &event).await {
        Ok(Some(tenant_id)) => apply(graph, tenant_id, Source::Platform, &event).await,
        Ok(None) => {
            tracing::info!(event_id = %event.id, kind = %event.event_type, "platform event for no tenant");
            reply(StatusCode::OK, json!({"received": true, "ignored": true}))
        }
        Err(e) => {
            tracing::error!(error = ?e, "platform webhook tenant lookup failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "lookup failed"}),
            )
        }
    }
}
