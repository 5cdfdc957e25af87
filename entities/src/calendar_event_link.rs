//! `calendar_event_links`: where each exported booking lives in Google Calendar.

use sea_orm::entity::prelude::*;

/// The Google event of an exported booking, and the times last written to it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_event_links")]
pub struct Model {
    /// Our booking id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub booking_id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The connection it was written with.
    pub connection_id: Uuid,
    /// Google's calendar id.
    pub calendar_id: String,
    /// Google's event id (base32hex of the booking id).
    pub event_id: String,
    /// Start last written (UTC).
    pub starts_at: DateTimeUtc,
    /// End last written (UTC).
    pub ends_at: DateTimeUtc,
    /// Last write (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
