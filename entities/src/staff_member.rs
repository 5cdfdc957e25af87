//! `staff_members`: people whose time can be booked.

use sea_orm::entity::prelude::*;

/// A staff member row, optionally linked to a user of the same tenant.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_members")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// The user account of this staff member, if any (same tenant).
    pub user_id: Option<Uuid>,
    /// Whether the staff member can be booked.
    pub active: bool,
    /// Home base latitude (WGS 84 degrees): where the working day starts.
    pub home_latitude: Option<f64>,
    /// Home base longitude (WGS 84 degrees).
    pub home_longitude: Option<f64>,
    /// Service area centre latitude.
    pub area_latitude: Option<f64>,
    /// Service area centre longitude.
    pub area_longitude: Option<f64>,
    /// Service area radius, km; mobile bookings farther from the centre are refused.
    pub area_radius_km: Option<f64>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
