//! `staff_services`: which staff members perform which service, with overrides.

use sea_orm::entity::prelude::*;

/// Staff member `staff_member_id` performs `service_id`, optionally at their own price or
/// duration. A service without any row is performed by every active staff member.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_services")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member.
    pub staff_member_id: Uuid,
    /// The service.
    pub service_id: Uuid,
    /// This staff member's price in minor units; `None` = the service's.
    pub price_cents: Option<i64>,
    /// This staff member's duration in minutes; `None` = the service's.
    pub duration_minutes: Option<i32>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
