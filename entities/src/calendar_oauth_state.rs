//! `calendar_oauth_states`: consent requests waiting for Google's callback.

use sea_orm::entity::prelude::*;

/// A consent URL handed out: the SHA-256 (hex) of its `state`, the sealed PKCE
/// verifier, the user who asked and the staff member to connect, until `expires_at`.
/// Used once: the callback deletes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_oauth_states")]
pub struct Model {
    /// SHA-256 (hex) of the `state` parameter.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The user who asked.
    pub user_id: Uuid,
    /// The staff member to connect.
    pub staff_member_id: Uuid,
    /// Sealed PKCE `code_verifier` (JSON).
    pub verifier_sealed: String,
    /// Expiry (UTC).
    pub expires_at: DateTimeUtc,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
