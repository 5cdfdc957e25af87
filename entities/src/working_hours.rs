//! `working_hours`: a staff member's weekly schedule, in the tenant's local wall-clock time.

use sea_orm::entity::prelude::*;

/// One working interval on one weekday, `[start_minute, end_minute)` minutes after local
/// midnight in the tenant's timezone. A staff member may have several intervals per day
/// (a gap between two is a break).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "working_hours")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member this interval belongs to.
    pub staff_member_id: Uuid,
    /// ISO weekday number minus one: 0 = Monday … 6 = Sunday.
    pub weekday: i16,
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: i32,
    /// End, minutes after local midnight (start_minute < end_minute <= 1440).
    pub end_minute: i32,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
