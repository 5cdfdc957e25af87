//! Shared state in the schema data, and accessors for resolvers.

use async_graphql::Context;

use crate::auth::tokens::JwtKeys;
use crate::context::{RequestCtx, Session};
use crate::db::Db;
use crate::error::ApiError;
use crate::events::EventBus;

/// Process-wide state the resolvers need; put into the schema with `Schema::data`.
#[derive(Clone)]
pub struct GraphState {
    /// Database handle.
    pub db: Db,
    /// Access-token keys.
    pub jwt: JwtKeys,
    /// Event bus for subscriptions.
    pub events: EventBus,
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a GraphState, ApiError> {
    ctx.data::<GraphState>()
        .map_err(|_| ApiError::Internal("GraphState missing from schema data".into()))
}

/// This request's session (anonymous when the edge put none).
pub fn session<'a>(ctx: &Context<'a>) -> &'a Session {
    static ANONYMOUS: std::sync::OnceLock<Session> = std::sync::OnceLock::new();
    ctx.data::<Session>()
        .unwrap_or_else(|_| ANONYMOUS.get_or_init(Session::default))
}

/// The authenticated caller, or `UNAUTHENTICATED`.
pub fn caller<'a>(ctx: &Context<'a>) -> Result<&'a RequestCtx, ApiError> {
    session(ctx).require_user()
}
