//! Voice agents: one toolset for every voice platform (issue 13, "One toolset,
//! generated from the schema").
//!
//! - [`args`]: the tools' argument types — the one source of names, parameters and
//!   descriptions (GraphQL input objects in the SDL, serde shapes for tool calls);
//! - [`schema`]: `agentTools`, the tools as OpenAI function tools generated from them;
//! - [`tools`]: dispatch and exactly-once execution under the agent principal;
//! - [`speech`]: speakable wording.
//!
//! The HTTP endpoints for external platforms (`/agent/{tenant_slug}/tool-calls` for Vapi
//! and OpenAI-style callers, `/agent/{tenant_slug}/retell`) live in the server crate and
//! call [`tools::call`].

pub mod args;
pub mod schema;
pub mod speech;
pub mod tools;

use async_graphql::{Context, Json, Object};
use serde_json::Value;

use crate::guards::{OWNER, RoleGuard};

/// Voice-agent queries.
#[derive(Default)]
pub struct VoiceQuery;

/// Voice-agent queries.
#[Object]
impl VoiceQuery {
    /// The voice tools as OpenAI function tools, ready for `tools` in a Chat
    /// Completions / Responses / Realtime request or a Vapi or Retell tool definition:
    /// a JSON array of `{type: "function", name, description, parameters, strict: true}`
    /// where `parameters` is a JSON Schema object with `additionalProperties: false` and
    /// every property in `required` (optional ones are nullable). Generated from the
    /// documentation of the `…Args` input types (`CheckAvailabilityArgs`, …). Run them
    /// through `POST /agent/{tenant_slug}/tool-calls`. Agents and owners. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::or_agent(OWNER)")]
    async fn agent_tools(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Value>> {
        let _ = ctx;
        Ok(Json(schema::openai_tools().await?.clone()))
    }
}
