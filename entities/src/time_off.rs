//! `time_off`: a staff member's absences.

use sea_orm::entity::prelude::*;

/// A staff member is unavailable over `[starts_at, ends_at)` (UTC).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_off")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member.
    pub staff_member_id: Uuid,
    /// Start (UTC, inclusive).
    pub starts_at: DateTimeUtc,
    /// End (UTC, exclusive).
    pub ends_at: DateTimeUtc,
    /// Why (vacation, sick, training).
    pub reason: Option<String>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
