//! `booking_items`: what a booking consists of (services and add-ons), priced at booking.

use sea_orm::entity::prelude::*;

/// One line of a booking: a service (the first is the booking's main service) or an
/// add-on, with the duration and price that applied when it was booked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_items")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The booking.
    pub booking_id: Uuid,
    /// Order within the booking (0-based).
    pub position: i32,
    /// The service, for service lines.
    pub service_id: Option<Uuid>,
    /// The add-on, for add-on lines.
    pub addon_id: Option<Uuid>,
    /// Name at booking time.
    pub name: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Price in minor units.
    pub price_cents: i64,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
