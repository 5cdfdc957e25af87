//! `customers`: a tenant's clients.

use sea_orm::entity::prelude::*;

/// A customer row. `phone` is E.164 and unique per tenant when present.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Full name.
    pub name: String,
    /// E.164 phone number, e.g. `+14155550100`.
    pub phone: Option<String>,
    /// Lower-cased email address.
    pub email: Option<String>,
    /// Service address, free text.
    pub address: Option<String>,
    /// Operator notes.
    pub notes: Option<String>,
    /// Set when archived (hidden from lists, kept for history).
    pub archived_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
