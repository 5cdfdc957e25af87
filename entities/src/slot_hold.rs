//! `slot_holds`: a slot reserved for a few minutes while a customer pays or an agent
//! confirms.

use sea_orm::entity::prelude::*;

/// A hold blocks `[blocked_from, blocked_until)` of a staff member until `expires_at`
/// (UTC). It is converted into a booking by presenting its token, released, or simply
/// expires; expired holds are ignored and deleted lazily.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slot_holds")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member held.
    pub staff_member_id: Uuid,
    /// The service the hold is for.
    pub service_id: Uuid,
    /// Start of the held slot (UTC).
    pub starts_at: DateTimeUtc,
    /// End of the held slot (UTC).
    pub ends_at: DateTimeUtc,
    /// Start of the blocked time (buffers included).
    pub blocked_from: DateTimeUtc,
    /// End of the blocked time (buffers included).
    pub blocked_until: DateTimeUtc,
    /// When the hold lapses (UTC).
    pub expires_at: DateTimeUtc,
    /// Hex SHA-256 of the hold token.
    pub token_hash: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// For holds made anonymously (public booking page): the client's address key, for
    /// the caps on public holds. `None` for staff and agents.
    pub client_key: Option<String>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
