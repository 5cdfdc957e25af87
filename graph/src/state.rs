//! Shared state in the schema data, and accessors for resolvers.

use std::sync::Arc;

use async_graphql::Context;
use plugins::registry::Registry;
use plugins::secrets::KeyRing;
use tokio::sync::Notify;

use crate::auth::tokens::JwtKeys;
use crate::context::{RequestCtx, Session};
use crate::db::Db;
use crate::error::ApiError;
use crate::events::EventBus;
use crate::extensions::Extensions;
use crate::jobs::config::{JobsConfig, LocalSchedule};
use crate::limits::RateLimiter;
use crate::platform::PlatformConfig;

/// The extensions of this application's shared state.
pub type AppExtensions = Extensions<GraphState>;

/// Process-wide state the resolvers need; put into the schema with `Schema::data`.
#[derive(Clone)]
pub struct GraphState {
    /// Database handle.
    pub db: Db,
    /// Access-token keys.
    pub jwt: JwtKeys,
    /// Event bus for subscriptions and cache invalidation.
    pub events: EventBus,
    /// Per-tenant providers built from plugin configurations.
    pub registry: Arc<Registry>,
    /// Keys sealing secrets at rest.
    pub keys: Arc<KeyRing>,
    /// Platform settings (plans, fees, public base URL).
    pub platform: Arc<PlatformConfig>,
    /// Job worker timing.
    pub jobs: Arc<JobsConfig>,
    /// Wakes the job worker when a job is written.
    pub jobs_wake: Arc<Notify>,
    /// What domains registered: job handlers, periodic jobs, booking hooks, inbound
    /// handlers.
    pub extensions: Arc<Extensions<GraphState>>,
    /// This instance's view of when periodic jobs are next due.
    pub periodic_schedule: Arc<LocalSchedule>,
    /// Rate limits (shared through Redis when configured).
    pub limiter: Arc<RateLimiter>,
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
