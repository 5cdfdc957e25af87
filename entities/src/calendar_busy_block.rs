//! `calendar_busy_blocks`: imported calendar events that block availability.

use sea_orm::entity::prelude::*;

/// An event of a staff member's external calendar, as busy time `[starts_at, ends_at)`
/// (UTC). Only times are kept: no title, description or attendees.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_busy_blocks")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Whose time it blocks.
    pub staff_member_id: Uuid,
    /// The connection it came from.
    pub connection_id: Uuid,
    /// Google's calendar id.
    pub calendar_id: String,
    /// Google's event id (an instance id for recurring events).
    pub event_id: String,
    /// Start (UTC).
    pub starts_at: DateTimeUtc,
    /// End (UTC, exclusive).
    pub ends_at: DateTimeUtc,
    /// An all-day event (local midnight to midnight in the calendar's zone).
    pub all_day: bool,
    /// Last import (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
