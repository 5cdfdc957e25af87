//! `emails`: automatic messages sent by email.

use sea_orm::entity::prelude::*;

use crate::kinds::{MessageKind, MessageStatus};

/// One email to a customer (an automatic message for a customer without a mobile
/// number).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The customer.
    pub customer_id: Option<Uuid>,
    /// Recipient address (lower-case).
    pub to_address: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// `QUEUED`, `SENT`, `FAILED`, `SKIPPED` or `LOGGED`.
    pub status: MessageStatus,
    /// Which automatic message.
    pub kind: MessageKind,
    /// The booking it is about.
    pub booking_id: Option<Uuid>,
    /// The job that sends it.
    pub job_id: Option<Uuid>,
    /// The `Message-ID` header we set (`<…@domain>`).
    pub provider_id: Option<String>,
    /// Why it failed or was skipped (`smtp_550`, …).
    pub error_code: Option<String>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
