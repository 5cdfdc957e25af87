//! Voice agents: one toolset for every voice platform (issue 13, "One toolset,
//! generated from the schema").
//!
//! - [`args`]: the tools' argument types — the one source of names, parameters and
//!   descriptions (GraphQL input objects in the SDL, serde shapes for tool calls);
//! - [`schema`]: `agentTools`, the tools as OpenAI function tools generated from them;
//! - [`tools`]: dispatch and exactly-once execution under the agent principal;
//! - [`speech`]: speakable wording;
//! - [`phone`]: the built-in phone assistant (Twilio Voice turn loop with the tenant's
//!   `openai` plugin), with its settings in [`assistant`] and its call log in [`calls`];
//! - [`stream`]: its streaming mode (Twilio Media Streams bridged to the OpenAI
//!   Realtime API; the WebSocket `/agent/{tenant_slug}/twilio-stream` is served by the
//!   server crate and runs [`stream::bridge`]).
//!
//! The HTTP endpoints for external platforms (`/agent/{tenant_slug}/tool-calls` for Vapi
//! and OpenAI-style callers, `/agent/{tenant_slug}/retell`) live in the server crate and
//! call [`tools::call`].

pub mod args;
pub mod assistant;
pub mod calls;
pub mod phone;
pub mod schema;
pub mod speech;
pub mod stream;
pub mod tools;

use async_graphql::{Context, Json, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::error::ApiError;
use crate::events::{CallEventKind, DomainEvent};
use crate::extensions::Extensions;
use crate::guards::{MANAGE, OWNER, RoleGuard};
use crate::state::{GraphState, caller, state};

/// Registers the phone assistant's after-call summary job.
pub fn register(ext: &mut Extensions<GraphState>) {
    ext.jobs
        .register(std::sync::Arc::new(phone::SummaryHandler));
}

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

/// What a voice tool answered.
#[derive(SimpleObject, Debug, Clone)]
pub struct AgentToolResult {
    /// False when the tool could not do what was asked (`message` says why).
    pub ok: bool,
    /// A short speakable sentence on one line, in the tenant's local time and currency.
    pub message: String,
    /// Structured result: ids, local `date`/`time`, UTC `startsAt`-style instants,
    /// prices in cents with their currency.
    pub data: Json<Value>,
}

/// Voice-agent mutations.
#[derive(Default)]
pub struct VoiceMutation;

/// Voice-agent mutations.
#[Object]
impl VoiceMutation {
    /// Runs one voice tool as the calling agent, exactly as
    /// `POST /agent/{tenant_slug}/tool-calls` does: set exactly one tool field of
    /// `input`. Agents only. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT`
    /// (not exactly one tool). What the tool refuses comes back as `ok: false`.
    #[graphql(guard = "RoleGuard::or_agent(&[])")]
    async fn run_agent_tool(
        &self,
        ctx: &Context<'_>,
        input: args::RunAgentToolInput,
    ) -> async_graphql::Result<AgentToolResult> {
        let rc = caller(ctx)?;
        let Some((name, arguments)) = input.chosen() else {
            return Err(ApiError::BadUserInput("set exactly one tool field".into()).into());
        };
        let call = tools::ToolCall {
            id: input.tool_call_id,
            name: name.to_string(),
            arguments,
        };
        let who = tools::Caller::from_raw(input.caller_phone.as_deref());
        let out = tools::call(state(ctx)?, rc, &who, &call).await;
        Ok(AgentToolResult {
            ok: out.ok,
            message: out.message,
            data: Json(out.data),
        })
    }
}

/// A live change to a phone-assistant call (`callEvents`).
#[derive(SimpleObject)]
pub struct CallEvent {
    /// What happened.
    pub kind: CallEventKind,
    /// The call as it is after the change.
    pub call: calls::Call,
}

/// Voice-agent subscriptions.
#[derive(Default)]
pub struct VoiceSubscription;

#[Subscription]
impl VoiceSubscription {
    /// The phone assistant's calls in the caller's tenant, live, from every server
    /// instance: `CALL_STARTED` when a call reaches the assistant, `CALL_UPDATED` after
    /// each turn, tool result, voicemail or summary, `CALL_ENDED` when Twilio reports
    /// the call finished. Owners and managers. Errors: `UNAUTHENTICATED`, `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn call_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = CallEvent> + use<>> {
        let rc = caller(ctx)?.clone();
        let tenant = rc.tenant_id;
        Ok(state(ctx)?.events.stream_for(&rc).filter_map(move |ev| {
            futures::future::ready(match ev {
                // The envelope already passed the tenant wall; the row must agree.
                DomainEvent::Call(c) if c.call.tenant_id == tenant => Some(CallEvent {
                    kind: c.kind,
                    call: calls::Call(*c.call),
                }),
                _ => None,
            })
        }))
    }
}
