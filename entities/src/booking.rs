//! `bookings`: scheduled visits.

use sea_orm::entity::prelude::*;

/// A booking row: customer + service + staff member over the half-open UTC interval
/// `[starts_at, ends_at)`, blocking `[blocked_from, blocked_until)` (buffers included).
/// The blocked intervals of two non-canceled bookings of one staff member never overlap
/// (exclusion constraint on PostgreSQL, checked in the writing transaction on SQLite).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The customer (same tenant).
    pub customer_id: Uuid,
    /// The service (same tenant).
    pub service_id: Uuid,
    /// The staff member (same tenant).
    pub staff_member_id: Uuid,
    /// Start instant (UTC, inclusive).
    pub starts_at: DateTimeUtc,
    /// End instant (UTC, exclusive).
    pub ends_at: DateTimeUtc,
    /// Start of the time this booking blocks: `starts_at` minus the service's buffer before.
    pub blocked_from: DateTimeUtc,
    /// End of the time this booking blocks: `ends_at` plus the service's buffer after.
    pub blocked_until: DateTimeUtc,
    /// Lifecycle status (stored `PENDING`, `CONFIRMED`, `IN_PROGRESS`, `COMPLETED`,
    /// `CANCELED` or `NO_SHOW`).
    pub status: crate::kinds::BookingStatus,
    /// Where the work happens, free text.
    pub address: Option<String>,
    /// Price in minor units of `currency`, fixed at booking time.
    pub price_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Origin (stored `PLATFORM`, `PUBLIC`, `AGENT` or `MANUAL`).
    pub source: crate::kinds::BookingSource,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Why this staff member was assigned (any-staff bookings), for audit.
    pub assignment_reason: Option<String>,
    /// Hex SHA-256 of the customer's cancellation token (public bookings).
    pub cancellation_token_hash: Option<String>,
    /// The recurring series this booking belongs to, if any.
    pub series_id: Option<Uuid>,
    /// Where the work happens (mobile services): latitude, WGS 84 degrees.
    pub latitude: Option<f64>,
    /// Longitude, WGS 84 degrees.
    pub longitude: Option<f64>,
    /// While `PENDING` for a deposit: when the unpaid booking lapses and frees its slot
    /// (UTC). `None` when no deposit is awaited.
    pub deposit_expires_at: Option<DateTimeUtc>,
    /// When the staff member is planned to arrive (UTC), set by `applyRoute` /
    /// `applyDispatch`; `None` until a route was applied.
    pub planned_arrival_at: Option<DateTimeUtc>,
    /// 1-based position on the staff member's applied route of the day; `None` until a
    /// route was applied.
    pub route_position: Option<i32>,
    /// Why the booking was canceled (at most 500 characters, one line), as given by
    /// whoever canceled it; `None` when not canceled or canceled without a reason.
    pub cancellation_reason: Option<String>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// The booking's customer, service and staff member, joined on the composite keys
/// `(tenant_id, id)` so that a join can never pair rows of two tenants. Used to read a
/// page of bookings with its edges in one statement; single edges load through
/// DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `(tenant_id, customer_id)` → `customers (tenant_id, id)`.
    #[sea_orm(
        belongs_to = "super::customer::Entity",
        from = "(Column::TenantId, Column::CustomerId)",
        to = "(super::customer::Column::TenantId, super::customer::Column::Id)"
    )]
    Customer,
    /// `(tenant_id, service_id)` → `services (tenant_id, id)`.
    #[sea_orm(
        belongs_to = "super::service::Entity",
        from = "(Column::TenantId, Column::ServiceId)",
        to = "(super::service::Column::TenantId, super::service::Column::Id)"
    )]
    Service,
    /// `(tenant_id, staff_member_id)` → `staff_members (tenant_id, id)`.
    #[sea_orm(
        belongs_to = "super::staff_member::Entity",
        from = "(Column::TenantId, Column::StaffMemberId)",
        to = "(super::staff_member::Column::TenantId, super::staff_member::Column::Id)"
    )]
    StaffMember,
}

impl Related<super::customer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl Related<super::service::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Service.def()
    }
}

impl Related<super::staff_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StaffMember.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
