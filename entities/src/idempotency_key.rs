//! `idempotency_keys`: results of mutations called with an `idempotencyKey`.

use sea_orm::entity::prelude::*;

/// The first result of `operation` called with `key` in this tenant; a repeat returns it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Client-chosen key (1–255 characters).
    pub key: String,
    /// Mutation name, e.g. `createBooking`; a key reused for another operation is refused.
    pub operation: String,
    /// The stored result, JSON.
    pub response: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
