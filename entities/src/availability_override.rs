//! `availability_overrides`: date-specific hours that replace the weekly schedule.

use sea_orm::entity::prelude::*;

/// One interval of a date override, or a closure. With `staff_member_id` set it replaces
/// that staff member's weekly hours on `date` (several rows = several intervals; a row
/// without minutes = day off). With `staff_member_id` null it closes the whole business
/// on `date` (a holiday).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "availability_overrides")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member, or null for the whole business.
    pub staff_member_id: Option<Uuid>,
    /// Local date in the tenant's timezone.
    pub date: Date,
    /// Start, minutes after local midnight; null with `end_minute` = closed.
    pub start_minute: Option<i32>,
    /// End, minutes after local midnight (exclusive, at most 1440).
    pub end_minute: Option<i32>,
    /// Why (e.g. "Thanksgiving").
    pub note: Option<String>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
