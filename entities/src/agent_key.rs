//! `agent_keys`: API keys of machine principals (AI voice agents) acting for a tenant.

use sea_orm::entity::prelude::*;

/// An agent key. Only the SHA-256 of the key is stored; `key_prefix` (the first
/// characters) lets operators recognise it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_keys")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// What the key is for, e.g. "Phone assistant".
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// First 12 characters of the key, for display.
    pub key_prefix: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Set when revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTimeUtc>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
