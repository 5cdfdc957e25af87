//! `refresh_tokens`: hashed, rotating refresh tokens grouped in families.

use sea_orm::entity::prelude::*;

/// A refresh token row. Only the SHA-256 of the token is stored. Every rotation creates a
/// new row in the same `family_id`; presenting a token that was already rotated
/// (`replaced_at` set) revokes the whole family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The user the token was issued to.
    pub user_id: Uuid,
    /// Rotation family: all tokens descending from one log-in.
    pub family_id: Uuid,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Expiry instant (UTC).
    pub expires_at: DateTimeUtc,
    /// Set when the token was exchanged for a new one.
    pub replaced_at: Option<DateTimeUtc>,
    /// Set when the family was revoked (log-out or reuse detected).
    pub revoked_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
