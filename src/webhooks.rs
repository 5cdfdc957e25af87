//! Webhooks in.
//!
//! - `POST /webhooks/{tenant_slug}/{plugin}[/{action}]`: a tenant's provider webhooks
//!   (the action names the kind of callback where a provider has several, e.g. Twilio's
//!   `sms` and `status`), routed
//!   through the plugin list: the plugin (`plugins::builtin::find`) must exist, be
//!   configured for the tenant and bring an inbound verifier; the request is verified
//!   with the tenant's secrets (e.g. Stripe's `Stripe-Signature`); then the domain's
//!   registered handler (`graph::inbound::InboundHandler`) applies it.
//! - `POST /webhooks/platform/stripe`: the platform's own Stripe account and Connect
//!   events, verified with `STRIPE_WEBHOOK_SECRET`.
//!
//! A bad or missing signature answers 400 (403 for plugins whose provider expects it,
//! Twilio) and changes nothing. Verified events are
//! applied in one transaction with their dedupe record; a repeat answers 200 and does
//! nothing. Responses never echo secrets or the payload.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use graph::inbound::{InboundReply, InboundRequest};
use graph::payments::webhooks::{self, Source};
use integrations::stripe::webhook::{self as sig, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use plugins::InboundHttp;
use serde_json::json;

use crate::app_state::AppState;

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn send(r: InboundReply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

fn refused(status: StatusCode, e: &str) -> Response {
    // debug, not warn: anyone can post unsigned requests, and a log line per request
    // would let them fill the disk.
    tracing::debug!(error = %e, "webhook signature refused");
    reply(status, json!({"error": "invalid signature", "reason": e}))
}

fn lookup_failed(what: &str, e: impl std::fmt::Debug) -> Response {
    tracing::error!(error = ?e, "webhook {what} failed");
    reply(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "lookup failed"}),
    )
}

/// Header pairs with lower-cased names (values that are not visible ASCII are dropped).
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.into())))
        .collect()
}

/// `POST /webhooks/{tenant_slug}/{plugin}`.
pub async fn tenant_webhook(
    State(app): State<Arc<AppState>>,
    Path((slug, plugin_id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tenant_inbound(&app, &slug, &plugin_id, None, &uri, &headers, &body).await
}

/// `POST /webhooks/{tenant_slug}/{plugin}/{action}`.
pub async fn tenant_webhook_action(
    State(app): State<Arc<AppState>>,
    Path((slug, plugin_id, action)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tenant_inbound(
        &app,
        &slug,
        &plugin_id,
        Some(&action),
        &uri,
        &headers,
        &body,
    )
    .await
}

async fn tenant_inbound(
    app: &AppState,
    slug: &str,
    plugin_id: &str,
    action: Option<&str>,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let graph = &app.graph;
    let Some(handler) =
        plugins::builtin::find(plugin_id).and_then(|p| graph.extensions.inbound.get(p.spec().id))
    else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "unknown plugin"}));
    };
    if !graph::util::valid_slug(slug) {
        return reply(StatusCode::NOT_FOUND, json!({"error": "unknown tenant"}));
    }
    let tenant_id = match graph.db.tenant_id_by_slug(slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return reply(StatusCode::NOT_FOUND, json!({"error": "unknown tenant"})),
        Err(e) => return lookup_failed("tenant lookup", e),
    };
    let providers = match graph.registry.tenant(tenant_id).await {
        Ok(p) => p,
        Err(e) => return lookup_failed("loading tenant plugins", e),
    };
    let Some(verifier) = providers.inbound(handler.plugin_id()) else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("{plugin_id} is not configured for this tenant")}),
        );
    };
    let pairs = header_pairs(headers);
    let url = format!("{}{}", app.public_base_url, uri);
    let http = InboundHttp {
        url: &url,
        headers: &pairs,
        body,
        now: chrono::Utc::now().timestamp(),
    };
    if let Err(e) = verifier.verify(&http) {
        let status =
            StatusCode::from_u16(verifier.refusal_status()).unwrap_or(StatusCode::BAD_REQUEST);
        return refused(status, &e);
    }
    let req = InboundRequest {
        body,
        headers: &pairs,
        action,
        query: uri.query(),
    };
    match handler.handle(graph, tenant_id, &req).await {
        Ok(r) => send(r),
        Err(e) => {
            tracing::error!(error = ?e, plugin = %plugin_id, "webhook processing failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "processing failed"}),
            )
        }
    }
}

/// `POST /webhooks/platform/stripe`: verified with the platform's signing secrets
/// (Stripe scheme, <https://docs.stripe.com/webhooks#verify-manually>), then routed to
/// the tenant the event concerns.
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
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(e) = sig::verify(
        &body,
        header,
        &secrets,
        chrono::Utc::now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    ) {
        return refused(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let event = match sig::parse_event(&body) {
        Ok(e) => e,
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "malformed event"})),
    };
    match webhooks::platform_tenant(graph, &event).await {
        Ok(Some(tenant_id)) => {
            match webhooks::handle(graph, tenant_id, Source::Platform, &event).await {
                Ok(h) => send(webhooks::reply(h)),
                Err(e) => {
                    tracing::error!(error = ?e, event_id = %event.id, "webhook processing failed");
                    reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({"error": "processing failed"}),
                    )
                }
            }
        }
        Ok(None) => {
            tracing::info!(event_id = %event.id, kind = %event.event_type, "platform event for no tenant");
            reply(StatusCode::OK, json!({"received": true, "ignored": true}))
        }
        Err(e) => lookup_failed("platform tenant lookup", e),
    }
}

/// `POST /webhooks/google-calendar`: a Google Calendar push notification. Headers only
/// (Google sends no body): `X-Goog-Channel-ID` must route to a tenant's channel and
/// `X-Goog-Channel-Token` match its token; `X-Goog-Resource-State: sync` (the channel's
/// first message) is acknowledged; anything else enqueues one incremental sync of that
/// calendar (a pending one is replaced, so a burst costs one sync). Unknown channel →
/// 404, wrong token → 403, both without effect
/// (<https://developers.google.com/calendar/api/guides/push>).
pub async fn google_calendar(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    use graph::calendar::sync::{Push, push};
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (channel, token, state) = (
        h("x-goog-channel-id"),
        h("x-goog-channel-token"),
        h("x-goog-resource-state"),
    );
    if channel.is_empty() || channel.len() > 64 || token.len() > 256 || state.len() > 32 {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "not a channel notification"}),
        );
    }
    match push(&app.graph, channel, token, state).await {
        Ok(Push::Enqueued) | Ok(Push::SyncMessage) => StatusCode::OK.into_response(),
        Ok(Push::UnknownChannel) => {
            reply(StatusCode::NOT_FOUND, json!({"error": "unknown channel"}))
        }
        Ok(Push::BadToken) => {
            tracing::debug!("google calendar notification with a wrong channel token");
            reply(
                StatusCode::FORBIDDEN,
                json!({"error": "invalid channel token"}),
            )
        }
        Err(e) => lookup_failed("google calendar channel", e),
    }
}
