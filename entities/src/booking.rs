//! `bookings`: scheduled visits.

use sea_orm::entity::prelude::*;

/// A booking row: customer + service + staff member over the half-open UTC interval
/// `[starts_at, ends_at)`. Two non-canceled bookings of one staff member never overlap
/// (exclusion constraint on PostgreSQL, checked in the writing transaction on SQLite).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The customer (same tenant).
    pub customer_id: Uuid,
    /// The service (same tenant).
    pub service_id: Uuid,
    /// The staff member (same tenant).
    pub staff_member_id: Uuid,
    /// Start instant (UTC, inclusive).
    pub starts_at: DateTimeUtc,
    /// End instant (UTC, exclusive).
    pub ends_at: DateTimeUtc,
    /// `PENDING`, `CONFIRMED`, `IN_PROGRESS`, `COMPLETED`, `CANCELED` or `NO_SHOW`.
    pub status: String,
    /// Where the work happens, free text.
    pub address: Option<String>,
    /// Price in minor units of `currency`, fixed at booking time.
    pub price_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// `PLATFORM`, `PUBLIC`, `AGENT` or `MANUAL`.
    pub source: String,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
