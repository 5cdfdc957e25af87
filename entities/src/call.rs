//! `calls`: phone calls answered by the built-in assistant (Twilio Voice turn loop).

use sea_orm::entity::prelude::*;

use crate::kinds::{CallIntent, CallOutcome, CallStatus};

/// One phone call, keyed by Twilio's `CallSid` (unique per tenant). Holds the call log
/// (numbers, times, intent, outcome, summary, transcript, tool calls) and the turn
/// loop's state (conversation, pending change), so any server instance can take the
/// next turn.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Twilio's call id (`CA…`, at most 64 characters).
    pub call_sid: String,
    /// The caller's number, E.164; `None` when withheld.
    pub from_phone: Option<String>,
    /// The number called, E.164.
    pub to_phone: Option<String>,
    /// When the assistant answered (UTC).
    pub started_at: DateTimeUtc,
    /// When Twilio reported the end (UTC).
    pub ended_at: Option<DateTimeUtc>,
    /// Twilio's `CallDuration`, seconds.
    pub duration_seconds: Option<i32>,
    /// Where the call stands.
    pub status: CallStatus,
    /// What the caller wanted, once known.
    pub intent: Option<CallIntent>,
    /// How it ended, once known.
    pub outcome: Option<CallOutcome>,
    /// The model's short summary, written after the call ended.
    pub summary: Option<String>,
    /// JSON array of turns `{speaker: "caller"|"assistant", text, at}`.
    pub transcript: String,
    /// JSON array of tool calls `{name, arguments, ok, message, executed, at}`.
    pub tool_calls: String,
    /// JSON array of the model conversation so far (Chat Completions messages without
    /// the system prompt).
    pub conversation: String,
    /// JSON of a change (book, move, cancel) read back to the caller and awaiting a
    /// yes, if any.
    pub pending_action: Option<String>,
    /// Caller turns so far.
    pub turns: i32,
    /// Consecutive turns without speech.
    pub silent_turns: i32,
    /// The booking the call made, moved or canceled, if any.
    pub booking_id: Option<Uuid>,
    /// Recording URL of a voicemail (Twilio `RecordingUrl`), if one was left.
    pub voicemail_url: Option<String>,
    /// Streaming mode: what the caller hears once the stream ends (JSON `{"say",
    /// "next"}`, written by the stream bridge: transfer, voicemail or goodbye).
    pub hand_over: Option<String>,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
