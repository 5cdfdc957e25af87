//! `webhook_events`: provider events already processed.

use sea_orm::entity::prelude::*;

/// One provider event, stored once per `(tenant_id, source, event_id)` in the same
/// transaction as its effect, so a redelivered event is acknowledged and does nothing.
/// Only the id, type and time are kept (no payload: it may carry personal data).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant the event concerned.
    pub tenant_id: Uuid,
    /// The provider (`stripe`), whichever endpoint the event came in on.
    pub source: String,
    /// The provider's event id (`evt_…`).
    pub event_id: String,
    /// The provider's event type (`checkout.session.completed`, …).
    pub event_type: String,
    /// The provider's `created` (Unix seconds).
    pub event_created_at: i64,
    /// When we processed it (UTC).
    pub received_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
