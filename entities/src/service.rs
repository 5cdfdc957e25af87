//! `services`: a tenant's catalog items.

use sea_orm::entity::prelude::*;

/// A service row: what can be booked, how long it takes and what it costs.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "services")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Longer description shown on the booking page.
    pub description: Option<String>,
    /// Duration in minutes (> 0).
    pub duration_minutes: i32,
    /// Price in minor units of the tenant's currency (>= 0).
    pub price_cents: i64,
    /// Whether the service can be booked.
    pub active: bool,
    /// Sort key for display (ascending).
    pub display_order: i32,
    /// Minutes blocked before each booking (preparation, travel), 0–720.
    pub buffer_before_minutes: i32,
    /// Minutes blocked after each booking (clean-up), 0–720.
    pub buffer_after_minutes: i32,
    /// Slot grid for this service in minutes; `None` = the tenant's default.
    pub slot_interval_minutes: Option<i32>,
    /// Minimum notice for this service in minutes; `None` = the tenant's default.
    pub min_notice_minutes: Option<i32>,
    /// Deposit policy of this service (`NONE`, `FIXED`, `PERCENT`); `None` = the
    /// tenant's default.
    pub deposit_policy: Option<String>,
    /// Cents (`FIXED`) or basis points (`PERCENT`); `None` with the tenant's default.
    pub deposit_value: Option<i64>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
