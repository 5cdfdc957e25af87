//! The state the HTTP edge shares between handlers.

use graph::{AppSchema, GraphState};

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema (with [`GraphState`] in its data): WebSocket operations, and
    /// HTTP operations the lean schema does not take.
    pub schema: AppSchema,
    /// The same schema without the admission extension ([`graph::build_lean_schema`]):
    /// HTTP operations that parse and have at most `admission.concurrent_roots` root
    /// fields, admitted by the edge itself first.
    pub lean: AppSchema,
    /// The admission rules both schemas enforce.
    pub admission: graph::admission::Admission,
    /// Same state the schema holds, for the edge's own look-ups.
    pub graph: GraphState,
    /// Parsed documents of recent queries (see [`crate::documents`]).
    pub documents: std::sync::Arc<crate::documents::DocumentCache>,
    /// Per-request execution timeout.
    pub request_timeout: std::time::Duration,
    /// `PUBLIC_BASE_URL` without a trailing slash: the origin providers call, used to
    /// rebuild the URL they sign.
    pub public_base_url: String,
    /// `TRUSTED_PROXY_HOPS`: proxies in front that append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// `MAX_RESPONSE_BYTES`: largest JSON answer.
    pub max_response_bytes: usize,
    /// `MAX_BODY_BYTES`: largest request body, and largest WebSocket message.
    pub max_body_bytes: usize,
    /// Caps on WebSocket connections.
    pub socket_limits: crate::sockets::SocketLimits,
    /// Open WebSocket connections by client and tenant.
    pub socket_counter: std::sync::Arc<crate::sockets::SocketCounter>,
    /// `PLAYGROUND`: whether `/playground` is served.
    pub playground: bool,
    /// Whether the demo tenant is seeded (`SEED_DEMO`): the playground then fills in
    /// the demo owner's log-in (a development convenience; its password is public).
    pub demo_login: bool,
    /// `METRICS_TOKEN`, required by `GET /metrics` when set.
    pub metrics_token: Option<String>,
    /// `APP_ENV=production` (then `/metrics` needs `METRICS_TOKEN` to be served at all).
    pub production: bool,
    /// Becomes `true` when the server starts shutting down: open WebSockets then close
    /// with 1012 (Service Restart) so clients reconnect to another instance.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}
