//! Voice-platform endpoints: external assistants call the tenant's voice tools
//! ([`graph::voice::tools`]) over HTTP.
//!
//! - `POST /agent/{tenant_slug}/tool-calls`: Vapi's server message
//!   (`{"message": {"type": "tool-calls", "toolCallList": [{"id", "name", "arguments"}],
//!   "call": {"customer": {"number"}}}}`; entries of the OpenAI form `{"id", "function":
//!   {"name", "arguments": "<json string>"}}` under `toolCallList` or `toolCalls` are
//!   accepted too). Answer: 200 `{"results": [{"toolCallId", "result"}]}` in call
//!   order, each a single-line string, `"error"` instead of `"result"` when the tool
//!   failed.
//! - `POST /agent/{tenant_slug}/retell`: a Retell custom function (`{"name", "call",
//!   "args"}`), signed with the tenant's Retell API key (`X-Retell-Signature`, plugin
//!   `retell`). Answer: 200 `{"result", "data"}` or `{"error", "data"}`.
//!
//! Both authenticate with one of the tenant's agent keys (`Authorization: Bearer
//! sgk_…`, or `x-vapi-secret: sgk_…`): the key must belong to the tenant of the slug,
//! otherwise 401 with the same answer whatever was wrong. The tenant comes only from
//! the key; tool arguments never choose it. Limits: body size
//! ([`MAX_AGENT_BODY_BYTES`]), at most [`MAX_TOOL_CALLS`] tool calls per request, and
//! the per-agent-key rate limit (`limits.agent_key`, each tool call counts) → 429 with
//! `Retry-After`. Malformed requests are 400. Edge errors use the GraphQL error shape
//! (`{"errors": [{"message", "extensions": {"code"}}]}`). Keys, bodies and caller
//! numbers are never logged.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use graph::error::ApiError;
use graph::voice::tools::{self, Caller, ToolCall, ToolOutput};
use graph::{Principal, RequestCtx};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app_state::AppState;

/// Largest request body of the agent endpoints (Vapi sends the call object along,
/// with its transcript so far), in bytes.
pub const MAX_AGENT_BODY_BYTES: usize = 256 * 1024;
/// Most tool calls in one request; more is refused (400) and nothing runs.
pub const MAX_TOOL_CALLS: usize = 10;

fn edge_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"message": message, "extensions": {"code": code}}]})),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    edge_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

fn unauthorized() -> Response {
    edge_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "a valid agent key of this business is required",
    )
}

/// The agent key from `Authorization: Bearer sgk_…` or `x-vapi-secret: sgk_…`.
fn agent_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let vapi = headers
        .get("x-vapi-secret")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    bearer
        .or(vapi)
        .filter(|k| k.starts_with("sgk_") && k.len() <= 200)
}

/// Authenticates the agent key against the slug's tenant. Any mismatch (no key, bad
/// key, revoked key, unknown slug, another tenant's key) is the same 401.
async fn authenticate(
    app: &AppState,
    slug: &str,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<RequestCtx, Response> {
    let key = agent_key(headers).ok_or_else(unauthorized)?;
    let (tenant_id, key_id) = match graph::agents::authenticate(&app.graph.db, key).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(unauthorized()),
        Err(e) => {
            tracing::error!(request_id, error = ?e, "agent key lookup failed");
            return Err(edge_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the request could not be processed",
            ));
        }
    };
    if !graph::util::valid_slug(slug) {
        return Err(unauthorized());
    }
    match app.graph.db.tenant_id_by_slug(slug).await {
        Ok(Some(t)) if t == tenant_id => Ok(RequestCtx {
            tenant_id,
            principal: Principal::Agent { key_id },
            request_id: request_id.to_string(),
        }),
        Ok(_) => Err(unauthorized()),
        Err(e) => {
            tracing::error!(request_id, error = ?e, "tenant lookup failed");
            Err(edge_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the request could not be processed",
            ))
        }
    }
}

/// Charges `cost` tool calls to the key's rate limit.
async fn charge(app: &AppState, rc: &RequestCtx, cost: usize) -> Result<(), Response> {
    let limits = app.graph.limiter.config();
    let Principal::Agent { key_id } = &rc.principal else {
        return Ok(());
    };
    if !limits.enabled {
        return Ok(());
    }
    let cost = u32::try_from(cost.max(1)).unwrap_or(u32::MAX);
    match app
        .graph
        .limiter
        .charge(&format!("agent:{key_id}"), limits.agent_key, cost)
        .await
    {
        Ok(()) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            let mut resp = edge_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                &format!("too many requests; retry in {retry_after_secs} s"),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            Err(resp)
        }
        Err(e) => {
            tracing::error!(request_id = %rc.request_id, error = ?e, "rate limiter failed");
            Ok(())
        }
    }
}

/// One entry of `toolCallList` / `toolCalls`, read leniently: `name`/`arguments` at the
/// top or under `function`; arguments as an object or a JSON string.
fn read_call(entry: &Value) -> Result<ToolCall, (Option<String>, String)> {
    let id = match &entry["id"] {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let f = if entry["function"].is_object() {
        &entry["function"]
    } else {
        entry
    };
    let Some(name) = f["name"].as_str().or_else(|| entry["name"].as_str()) else {
        return Err((id, "the tool call has no name".into()));
    };
    let raw = if f.get("arguments").is_some() {
        &f["arguments"]
    } else {
        &entry["arguments"]
    };
    let arguments = match raw {
        Value::String(s) if s.trim().is_empty() => json!({}),
        Value::String(s) => serde_json::from_str(s)
            .map_err(|_| (id.clone(), "the arguments are not valid JSON".to_string()))?,
        other => other.clone(),
    };
    Ok(ToolCall {
        id,
        name: name.to_string(),
        arguments,
    })
}

fn one_result(id: Option<String>, out: &ToolOutput) -> Value {
    let key = if out.ok { "result" } else { "error" };
    json!({"toolCallId": id, key: graph::voice::speech::one_line(&out.message)})
}

/// Runs one agent request under `REQUEST_TIMEOUT_SECS` (as GraphQL requests are); past
/// it, 503 with code `TIMEOUT`. A stalled database then fails the request instead of
/// holding the voice platform's connection open (Vapi gives up after 20 s, Ultravox
/// after 2.5 s). Retrying is safe: work cut off before its commit is rolled back, and a
/// tool call that did commit answers a retry with the same tool-call id with its first
/// result.
async fn within_deadline(
    app: &AppState,
    work: impl std::future::Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(app.request_timeout, work).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!("agent request timed out");
            edge_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                "the request timed out; sending the same tool call again is safe",
            )
        }
    }
}

/// `POST /agent/{tenant_slug}/tool-calls`, under [`within_deadline`].
pub async fn tool_calls(
    State(app): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    within_deadline(&app, run_tool_calls(&app, slug, headers, body)).await
}

async fn run_tool_calls(app: &AppState, slug: String, headers: HeaderMap, body: Bytes) -> Response {
    let rid = crate::http::request_id(&headers);
    let rc = match authenticate(app, &slug, &headers, &rid).await {
        Ok(rc) => rc,
        Err(resp) => return resp,
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body is not valid JSON");
    };
    let message = if payload["message"].is_object() {
        &payload["message"]
    } else {
        &payload
    };
    let list = match (
        message["toolCallList"].as_array(),
        message["toolCalls"].as_array(),
    ) {
        (Some(l), _) if !l.is_empty() => l,
        (_, Some(l)) => l,
        (Some(l), None) => l,
        (None, None) => {
            if message["type"].as_str().is_some_and(|t| t != "tool-calls") {
                // Another server message sent to this URL: nothing to run.
                return (StatusCode::OK, Json(json!({}))).into_response();
            }
            return bad_request("expected a tool-calls message with toolCallList or toolCalls");
        }
    };
    if list.len() > MAX_TOOL_CALLS {
        return bad_request(&format!("at most {MAX_TOOL_CALLS} tool calls per request"));
    }
    if let Err(resp) = charge(app, &rc, list.len()).await {
        return resp;
    }
    let number = message["call"]["customer"]["number"]
        .as_str()
        .or_else(|| message["customer"]["number"].as_str());
    let caller = Caller::from_raw(number);
    let mut results = Vec::with_capacity(list.len());
    for entry in list {
        match read_call(entry) {
            Ok(tc) => {
                let out = tools::call(&app.graph, &rc, &caller, &tc).await;
                tracing::info!(request_id = %rid, tenant_id = %rc.tenant_id, tool = %tc.name.chars().take(64).collect::<String>(), ok = out.ok, "voice tool call");
                results.push(one_result(tc.id, &out));
            }
            Err((id, why)) => results.push(json!({"toolCallId": id, "error": why})),
        }
    }
    (StatusCode::OK, Json(json!({"results": results}))).into_response()
}

/// `POST /agent/{tenant_slug}/retell`, under [`within_deadline`].
pub async fn retell(
    State(app): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    within_deadline(&app, run_retell(&app, slug, headers, body)).await
}

async fn run_retell(app: &AppState, slug: String, headers: HeaderMap, body: Bytes) -> Response {
    let rid = crate::http::request_id(&headers);
    let rc = match authenticate(app, &slug, &headers, &rid).await {
        Ok(rc) => rc,
        Err(resp) => return resp,
    };
    let providers = match app.graph.registry.tenant(rc.tenant_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(request_id = %rid, error = ?e, "loading tenant plugins failed");
            return edge_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the request could not be processed",
            );
        }
    };
    let Some(verifier) = providers.inbound(plugins::builtin::retell::SPEC.id) else {
        return edge_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Retell requests need the retell plugin (its apiKey) configured",
        );
    };
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.into())))
        .collect();
    let http = plugins::InboundHttp {
        url: "",
        headers: &pairs,
        body: &body,
        now: chrono::Utc::now().timestamp(),
    };
    if let Err(e) = verifier.verify(&http) {
        tracing::debug!(request_id = %rid, error = %e, "retell signature refused");
        return edge_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "invalid X-Retell-Signature",
        );
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body is not valid JSON");
    };
    let Some(name) = payload["name"].as_str() else {
        return bad_request("expected a Retell custom function request: {name, call, args}");
    };
    if let Err(resp) = charge(app, &rc, 1).await {
        return resp;
    }
    let call = &payload["call"];
    let number = if call["direction"] == "outbound" {
        call["to_number"].as_str()
    } else {
        call["from_number"].as_str()
    };
    let caller = Caller::from_raw(number);
    let arguments = payload["args"].clone();
    // Retell sends no tool-call id; a retry of a changing tool (Retell retries failed
    // requests twice) is recognised by call, function and arguments.
    let id = match (tools::Tool::parse(name), call["call_id"].as_str()) {
        (Some(tool), Some(call_id)) if tool.writes() => {
            let digest = Sha256::digest(format!("{call_id}\n{name}\n{arguments}").as_bytes());
            Some(format!("retell:{}", hex::encode(digest)))
        }
        _ => None,
    };
    let tc = ToolCall {
        id,
        name: name.to_string(),
        arguments,
    };
    let out = tools::call(&app.graph, &rc, &caller, &tc).await;
    tracing::info!(request_id = %rid, tenant_id = %rc.tenant_id, tool = %name.chars().take(64).collect::<String>(), ok = out.ok, "retell tool call");
    let key = if out.ok { "result" } else { "error" };
    (
        StatusCode::OK,
        Json(json!({key: out.message, "data": out.data})),
    )
        .into_response()
}
