//! `messages`: every text in or out of a conversation.

use sea_orm::entity::prelude::*;

use crate::kinds::{MessageDirection, MessageKind, MessageStatus};

/// One text message of a conversation. Serializable: message events carry the row as it
/// was when the event happened, so subscribers need no database read.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The thread.
    pub conversation_id: Uuid,
    /// In or out.
    pub direction: MessageDirection,
    /// Text (at most 1,600 characters).
    pub body: String,
    /// Delivery status (moves forward only).
    pub status: MessageStatus,
    /// Why it was written (manual, confirmation, reminder, …).
    pub kind: MessageKind,
    /// The provider's id (Twilio `MessageSid`), unique per tenant.
    pub provider_sid: Option<String>,
    /// The provider's error code (Twilio `ErrorCode`) or why it was skipped.
    pub error_code: Option<String>,
    /// The booking an automatic message is about.
    pub booking_id: Option<Uuid>,
    /// The job that sends it (outbound).
    pub job_id: Option<Uuid>,
    /// The operator who wrote it (manual sends).
    pub sent_by_user_id: Option<Uuid>,
    /// Media URLs of an inbound MMS, as a JSON array of strings.
    pub media_urls: Option<String>,
    /// When a send to the provider was last started (UTC): set and committed before the
    /// call, so a retry after a crash knows the outcome may be unknown.
    pub send_started_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
