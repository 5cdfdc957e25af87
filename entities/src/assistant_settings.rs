//! `assistant_settings`: a tenant's phone-assistant preferences (one row per tenant;
//! absent means the defaults).

use sea_orm::entity::prelude::*;

use crate::kinds::{AfterHoursMode, AssistantMode, PhoneBookingMode};

/// A tenant's phone-assistant preferences.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assistant_settings")]
pub struct Model {
    /// The tenant (primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// What the assistant says first (at most 300 characters); `None`: a default
    /// naming the business.
    pub greeting: Option<String>,
    /// How it speaks ("warm and brief", at most 200 characters).
    pub tone: Option<String>,
    /// JSON array of `{question, answer}`.
    pub faq: String,
    /// Where callers are transferred (E.164).
    pub transfer_number: Option<String>,
    /// Outside business hours: answer, or take a message.
    pub after_hours: AfterHoursMode,
    /// Book directly, or only request (PENDING for approval).
    pub booking_mode: PhoneBookingMode,
    /// Turn by turn (`TURN`, the default) or streaming (`STREAM`).
    pub mode: AssistantMode,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
