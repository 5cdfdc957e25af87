//! `messaging_settings`: a tenant's messaging preferences (one row per tenant; absent
//! means the defaults).

use sea_orm::entity::prelude::*;

/// A tenant's messaging preferences.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messaging_settings")]
pub struct Model {
    /// The tenant (primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Whether automatic messages (confirmations, reminders, …) are sent.
    pub automatic_messages: bool,
    /// Start of quiet hours, minutes after local midnight (0–1439).
    pub quiet_start_minute: i32,
    /// End of quiet hours, minutes after local midnight (0–1439).
    pub quiet_end_minute: i32,
    /// Reminder offsets in hours before the start, comma-separated (`"24,2"`).
    pub reminder_hours: String,
    /// Answer to HELP/INFO (at most 320 characters).
    pub help_text: String,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
