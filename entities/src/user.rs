//! `users`: people who log in for a tenant.

use sea_orm::entity::prelude::*;

/// A user row. `(tenant_id, email)` is unique; `password_hash` is an argon2id PHC string.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Lower-cased email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string; never leaves the server.
    pub password_hash: String,
    /// Role: `OWNER`, `MANAGER` or `TECHNICIAN`.
    pub role: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
