//! The HTTP edge: routes, authentication, request ids, limits.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql` | queries and mutations (`application/json`) |
//! | `GET /graphql?query=…` | queries only; a mutation is refused with 405 |
//! | `GET /graphql/ws` | subscriptions (`graphql-transport-ws`; legacy `graphql-ws`) |
//! | `GET /playground` (+ `/playground/…`) | GraphiQL, served from the binary ([`crate::playground`]) |
//! | `GET /schema.graphql` | the SDL |
//! | `GET /health` | 200 when the database answers, else 503 |
//! | `GET /metrics` | Prometheus metrics ([`crate::metrics`]; `METRICS_TOKEN`) |
//! | `POST /webhooks/{tenant_slug}/{plugin}[/{action}]` | a tenant's provider webhooks (signed; routed through the plugin list; Twilio: `/twilio/sms`, `/twilio/status`) |
//! | `POST /webhooks/platform/stripe` | the platform's Stripe and Connect events (signed) |
//! | `POST /agent/{tenant_slug}/tool-calls` | voice tools for Vapi and OpenAI-style callers (agent key; [`crate::agent`]) |
//! | `POST /agent/{tenant_slug}/retell` | voice tools for Retell custom functions (agent key + `X-Retell-Signature`) |
//! | `GET /agent/{tenant_slug}/twilio-stream` | the phone assistant's streaming mode: Twilio Media Streams WebSocket (one-time token; [`crate::twilio_stream`]) |

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_graphql::ServerError;
use async_graphql::parser::types::OperationType;
use async_graphql_axum::GraphQLRequest;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graph::{GraphState, Principal, RequestCtx, Role, Session};

pub use crate::app_state::AppState;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;
use uuid::Uuid;

/// Builds the router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    crate::playground::routes(state.playground)
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::serve))
        .route("/oauth/google/callback", get(crate::oauth::google_callback))
        .route(
            "/webhooks/google-calendar",
            axum::routing::post(crate::webhooks::google_calendar),
        )
        .route(
            "/webhooks/platform/stripe",
            axum::routing::post(crate::webhooks::platform_webhook),
        )
        .route(
            "/agent/{tenant_slug}/tool-calls",
            axum::routing::post(crate::agent::tool_calls).layer(RequestBodyLimitLayer::new(
                crate::agent::MAX_AGENT_BODY_BYTES,
            )),
        )
        .route(
            "/agent/{tenant_slug}/retell",
            axum::routing::post(crate::agent::retell).layer(RequestBodyLimitLayer::new(
                crate::agent::MAX_AGENT_BODY_BYTES,
            )),
        )
        .route(
            "/agent/{tenant_slug}/twilio-stream",
            get(crate::twilio_stream::twilio_stream),
        )
        .route(
            "/webhooks/{tenant_slug}/{plugin}",
            axum::routing::post(crate::webhooks::tenant_webhook),
        )
        .route(
            "/webhooks/{tenant_slug}/{plugin}/{action}",
            axum::routing::post(crate::webhooks::tenant_webhook_action),
        )
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(Arc::new(state))
}

/// Gives edge refusals that are not JSON (the body-size limit's 413, axum's own
/// 404/405/415 text) a JSON body in the GraphQL error shape.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("BAD_REQUEST", "the request body is too large"),
        StatusCode::METHOD_NOT_ALLOWED => ("BAD_REQUEST", "method not allowed"),
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such route"),
        _ => ("BAD_REQUEST", "the request was refused"),
    };
    error_response(status, code, message)
}

/// A GraphQL-shaped error response with `extensions.code`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"message": message, "extensions": {"code": code}}]})),
    )
        .into_response()
}

/// The client's address: the socket peer, or — behind `hops` trusted proxies that each
/// append the address they saw to `X-Forwarded-For` — the entry `hops` from the right.
/// A header shorter than that (forged or misrouted) falls back to the peer.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, hops: usize) -> IpAddr {
    if hops == 0 {
        return peer.ip();
    }
    let chain: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    chain
        .len()
        .checked_sub(hops)
        .and_then(|i| chain.get(i))
        .and_then(|v| v.parse().ok())
        .unwrap_or(peer.ip())
}

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// Why credentials were refused.
#[derive(Debug)]
pub struct AuthFailure(pub &'static str);

/// Authenticates a bearer token: an agent key (`sgk_…`), or an HS256 JWT and then (for
/// technicians) the linked staff member. A present but invalid credential is an error,
/// never anonymous.
pub async fn authenticate(
    graph: &GraphState,
    token: &str,
    request_id: &str,
) -> Result<(RequestCtx, Option<i64>), AuthFailure> {
    if token.starts_with("sgk_") {
        return match graph::agents::authenticate(&graph.db, token).await {
            Ok(Some((tenant_id, key_id))) => Ok((
                RequestCtx {
                    tenant_id,
                    principal: Principal::Agent { key_id },
                    request_id: request_id.to_string(),
                },
                None,
            )),
            Ok(None) => Err(AuthFailure("invalid or revoked agent key")),
            Err(_) => Err(AuthFailure("could not check the agent key")),
        };
    }
    let claims = graph
        .jwt
        .verify(token)
        .map_err(|_| AuthFailure("invalid or expired access token"))?;
    let role = Role::parse(&claims.role).ok_or(AuthFailure("invalid access token"))?;
    let staff_member_id = if role == Role::Technician {
        staff_member_of(graph, claims.tid, claims.sub)
            .await
            .map_err(|_| AuthFailure("could not load the staff member"))?
    } else {
        None
    };
    Ok((
        RequestCtx {
            tenant_id: claims.tid,
            principal: Principal::User {
                user_id: claims.sub,
                role,
                staff_member_id,
            },
            request_id: request_id.to_string(),
        },
        Some(claims.exp),
    ))
}

async fn staff_member_of(
    graph: &GraphState,
    tenant: Uuid,
    user: Uuid,
) -> Result<Option<Uuid>, graph::error::ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let tx = graph.db.read(tenant).await?;
    let s = graph::db::scoped::<entities::staff_member::Entity>(tenant)
        .filter(entities::staff_member::Column::UserId.eq(user))
        .one(&*tx)
        .await?;
    tx.commit().await?;
    Ok(s.map(|s| s.id))
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthFailure> {
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| AuthFailure("malformed Authorization header"))?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or(AuthFailure("Authorization must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthFailure("Authorization must be `Bearer <token>`"));
    }
    Ok(Some(token.trim()))
}

/// Runs one HTTP operation. It is admitted here ([`graph::admission::admit`]: limits
/// charged, document parsed once); one that parsed and has at most
/// `concurrent_roots` root fields runs on the lean schema (no per-field extension
/// chain), anything else on the full one. A lean refusal from before execution
/// ([`graph::admission::uncoded_refusal`]) runs again on the full schema, which gives
/// its errors their codes; nothing ran the first time, so nothing happens twice.
async fn execute(
    app: &AppState,
    mut req: async_graphql::Request,
    session: Session,
    reads: Option<std::sync::Arc<graph::db::RequestReads>>,
) -> async_graphql::Response {
    let roots =
        match graph::admission::admit(Some(&app.graph), &session, &mut req, &app.admission).await {
            Ok(roots) => roots,
            Err(e) => return async_graphql::Response::from_errors(vec![e]),
        };
    let with_data = |req: async_graphql::Request| {
        let loaders = match &reads {
            Some(r) => graph::loaders::shared_loaders(app.graph.db.clone(), r.clone()),
            None => graph::loaders::loaders(app.graph.db.clone()),
        };
        req.data(session.clone())
            .data(loaders)
            .data(graph::admission::Admitted)
    };
    if roots.is_none_or(|n| n > app.admission.concurrent_roots) {
        return app.schema.execute(with_data(req)).await;
    }
    let mut again = async_graphql::Request::new(req.query.clone()).variables(req.variables.clone());
    again.operation_name = req.operation_name.clone();
    again.extensions = req.extensions.clone();
    let resp = app.lean.execute(with_data(req)).await;
    if graph::admission::uncoded_refusal(&resp) {
        return app.schema.execute(with_data(again)).await;
    }
    resp
}

/// Whether every operation of the document is a query, and the name of the one that
/// runs (`operationName`, or the document's only operation's name).
fn operation_shape(req: &mut async_graphql::Request) -> (bool, Option<String>) {
    let operation_name = req.operation_name.clone();
    // Parsed once here and kept in the request, so the executor does not parse again.
    match req.parsed_query() {
        Ok(doc) => {
            let query_only = doc
                .operations
                .iter()
                .all(|(_, op)| op.node.ty == OperationType::Query);
            let name = operation_name.or_else(|| {
                let mut ops = doc.operations.iter();
                match (ops.next(), ops.next()) {
                    (Some((name, _)), None) => name.map(|n| n.to_string()),
                    _ => None,
                }
            });
            (query_only, name)
        }
        // Let the executor report the syntax error as usual.
        Err(_) => (true, operation_name),
    }
}

/// Whether the client accepts `application/graphql-response+json` (the GraphQL over
/// HTTP media type); otherwise answers are `application/json`.
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/graphql-response+json"))
}

/// Whether a POST carries JSON (`application/json`, any parameters).
fn is_json_post(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A request error (the operation did not run: parse, validation, admission): no data,
/// and no error with a `path`.
fn is_request_error(resp: &async_graphql::Response) -> bool {
    !resp.errors.is_empty()
        && resp.data == async_graphql::Value::Null
        && resp.errors.iter().all(|e| e.path.is_empty())
}

async fn graphql(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    req: Result<GraphQLRequest, async_graphql_axum::rejection::GraphQLRejection>,
) -> Response {
    let rid = request_id(&headers);
    let span = tracing::info_span!(
        "graphql",
        request_id = %rid,
        tenant_id = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty
    );
    async move {
        // GraphQL over HTTP: a POST must be JSON (also closes the `text/plain` "simple
        // request" CSRF path to public mutations).
        if method == Method::POST && !is_json_post(&headers) {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "BAD_REQUEST",
                "POST /graphql takes Content-Type: application/json",
            );
        }
        let mut req = match req {
            Ok(r) => r.into_inner(),
            Err(rejection) => {
                let (status, message) = match rejection.0 {
                    async_graphql::ParseRequestError::PayloadTooLarge => (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large".to_string(),
                    ),
                    async_graphql::ParseRequestError::UnsupportedBatch => (
                        StatusCode::BAD_REQUEST,
                        "batched requests are not supported".to_string(),
                    ),
                    _ => (
                        StatusCode::BAD_REQUEST,
                        "the request is not a valid GraphQL request (JSON with `query`)"
                            .to_string(),
                    ),
                };
                return error_response(status, "BAD_REQUEST", &message);
            }
        };
        app.documents.prepare(&mut req);
        let (query_only, operation_name) = operation_shape(&mut req);
        let current = tracing::Span::current();
        current.record(
            "graphql.operation.type",
            if query_only { "query" } else { "mutation" },
        );
        if let Some(name) = &operation_name {
            let name: String = name.chars().take(100).collect();
            current.record("graphql.operation.name", name.as_str());
        }
        if method == Method::GET && !query_only {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_REQUEST",
                "GET requests may only run queries; use POST for mutations",
            );
        }
        let auth = match bearer(&headers) {
            Ok(Some(token)) => match authenticate(&app.graph, token, &rid).await {
                Ok((rc, _)) => {
                    tracing::Span::current()
                        .record("tenant_id", tracing::field::display(rc.tenant_id));
                    Some(rc)
                }
                Err(AuthFailure(msg)) => {
                    return error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", msg);
                }
            },
            Ok(None) => None,
            Err(AuthFailure(msg)) => {
                return error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", msg);
            }
        };
        let session = Session {
            auth,
            request_id: rid.clone(),
            client_ip: Some(client_ip(peer, &headers, app.trusted_proxy_hops)),
        };
        // Queries read in one transaction per request (resolvers, services and loader
        // batches: `RequestReads`), so a request holds one connection; mutations read
        // per transaction so that a read after a write sees it.
        let reads = query_only.then(|| graph::db::RequestReads::new(app.graph.db.clone()));
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + app.request_timeout;
        let run = execute(&app, req, session, reads.clone());
        let run = async {
            match &reads {
                Some(r) => r.scope(run).await,
                None => run.await,
            }
        };
        let resp = match tokio::time::timeout_at(deadline, run).await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::warn!("request timed out");
                async_graphql::Response::from_errors(vec![graph::admission::timed_out()])
            }
        };
        if let Some(reads) = reads {
            // Ending the read transactions is bounded too (the rest of the deadline, at
            // least a second): the answer is ready and must not wait on a commit.
            // Whatever is still open when this gives up is rolled back when dropped.
            let grace = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            if tokio::time::timeout_at(deadline.max(grace), reads.finish())
                .await
                .is_err()
            {
                tracing::warn!("ending the request's read transactions timed out");
            }
        }
        crate::metrics::record_request(
            query_only,
            operation_name.as_deref(),
            started.elapsed(),
            crate::metrics::error_codes(&resp),
        );
        let retry_after = rate_limited(&resp);
        let (mut out, request_error) = encode(resp, app.max_response_bytes);
        let graphql_media = wants_graphql_response(&headers);
        if graphql_media {
            // application/graphql-response+json: a request that did not run is a 400.
            if request_error {
                *out.status_mut() = StatusCode::BAD_REQUEST;
            }
        } else {
            out.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(secs) = retry_after {
            *out.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            out.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Ok(v) = HeaderValue::from_str(&rid) {
            out.headers_mut().insert("x-request-id", v);
        }
        out
    }
    .instrument(span)
    .await
}

/// Initial read buffer of a WebSocket connection, bytes.
const WS_READ_BUFFER: usize = 4 * 1024;
/// Bytes a WebSocket connection buffers before writing to the socket.
const WS_WRITE_BUFFER: usize = 8 * 1024;

/// The HTTP answer for `resp`, serialized once (as `application/graphql-response+json`,
/// with its cache-control and extra headers), and whether it is a request error (nothing
/// ran). When the JSON is larger than `max` bytes, an error asking for less is sent
/// instead (the work is done, but the bandwidth of sending it is not spent).
fn encode(resp: async_graphql::Response, max: usize) -> (Response, bool) {
    let body = match serde_json::to_vec(&resp) {
        Ok(body) if body.len() <= max => body,
        Ok(body) => {
            tracing::warn!(bytes = body.len(), max, "response too large; refused");
            return encode(too_large(max), usize::MAX);
        }
        Err(e) => {
            tracing::error!(error = %e, "response not serializable");
            return encode(
                async_graphql::Response::from_errors(vec![ServerError::new(
                    "internal error",
                    None,
                )]),
                usize::MAX,
            );
        }
    };
    let request_error = is_request_error(&resp);
    let mut out = Response::new(axum::body::Body::from(body));
    out.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    if resp.is_ok()
        && let Some(value) = resp.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        out.headers_mut()
            .insert(axum::http::header::CACHE_CONTROL, value);
    }
    out.headers_mut().extend(resp.http_headers);
    (out, request_error)
}

/// The answer sent instead of one larger than `MAX_RESPONSE_BYTES`.
fn too_large(max: usize) -> async_graphql::Response {
    let mut err = ServerError::new(
        format!("the answer is larger than {max} bytes: ask for fewer fields, items or days"),
        None,
    );
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "BAD_USER_INPUT");
    err.extensions = Some(ext);
    async_graphql::Response::from_errors(vec![err])
}

/// When the request was refused by a rate limit (it ran nothing): the seconds to wait.
fn rate_limited(resp: &async_graphql::Response) -> Option<u64> {
    resp.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        match (ext.get("code"), ext.get("retryAfter")) {
            (Some(async_graphql::Value::String(c)), Some(async_graphql::Value::Number(n)))
                if c == "RATE_LIMITED" =>
            {
                n.as_u64()
            }
            _ => None,
        }
    })
}

async fn graphql_ws(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|p| {
                p.trim()
                    .parse::<async_graphql::http::WebSocketProtocols>()
                    .ok()
            })
        });
    let Some(protocol) = protocol else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
        );
    };
    let ip = client_ip(peer, &headers, app.trusted_proxy_hops);
    let Some(slot) = crate::sockets::client_slot(&app, ip) else {
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many open connections from this address",
        );
    };
    // tungstenite reserves a 128 KiB read buffer and flushes writes at 128 KiB by
    // default; subscription traffic is small frames, so 4 KiB / 8 KiB keep an idle
    // socket cheap (larger messages still grow the buffers as needed).
    upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_message_size(app.max_body_bytes)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            crate::sockets::serve(app, socket, protocol, ip).await;
        })
}

async fn health(State(app): State<Arc<AppState>>) -> Response {
    match app.graph.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "down"})),
        )
            .into_response(),
    }
}
