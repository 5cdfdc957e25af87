//! `conversations`: one text thread per tenant and customer phone number.

use sea_orm::entity::prelude::*;

/// A text thread with one phone number (E.164, unique per tenant): "(415) 555-0123" and
/// "+1 415 555 0123" are one thread.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The customer's number, E.164.
    pub phone: String,
    /// The customer with this number (a lead customer is created for unknown numbers).
    pub customer_id: Option<Uuid>,
    /// When the number opted out (STOP, or Twilio error 21610); null while it may be
    /// texted.
    pub opted_out_at: Option<DateTimeUtc>,
    /// Inbound messages not yet marked read.
    pub unread_count: i32,
    /// The newest message's instant (UTC), for ordering threads.
    pub last_message_at: DateTimeUtc,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
