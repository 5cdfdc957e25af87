//! `service_addons`: extras that extend a service's duration and price.

use sea_orm::entity::prelude::*;

/// An add-on of one service (e.g. "Pet hair removal", +30 min, +$40).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_addons")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The service it extends.
    pub service_id: Uuid,
    /// Display name.
    pub name: String,
    /// Extra minutes (0–720).
    pub duration_minutes: i32,
    /// Extra price in minor units.
    pub price_cents: i64,
    /// Whether it can be booked.
    pub active: bool,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
