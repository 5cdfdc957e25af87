//! GraphQL types of bookings.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::booking;

use crate::bookings::service::Joined;
use crate::catalog::types::Service;
use crate::customers::types::{Customer, CustomerInput};
use crate::error::UserError;
use crate::events::BookingEventKind;
use crate::ledger::{BookingMoney, Payment};
use crate::loaders::{CustomerKey, ServiceKey, StaffKey, load_one};
use crate::staff::types::StaffMember;

pub use entities::{BookingSource, BookingStatus};

/// One scheduled visit: the row, and its customer, service and staff member when the
/// page that listed it joined them in (then the edge resolvers read those; otherwise
/// they load through the request's DataLoaders). A listed row may be a summary
/// ([`entities::by_index::Summary`]) when the selection needs no more.
#[derive(Clone)]
pub struct Booking(pub booking::Model, pub Joined);

impl From<booking::Model> for Booking {
    fn from(b: booking::Model) -> Self {
        Booking(b, Joined::default())
    }
}

/// One scheduled visit.
#[Object]
impl Booking {
    /// Booking id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Lifecycle status.
    async fn status(&self) -> Option<BookingStatus> {
        Some(self.0.status)
    }
    /// Why the booking was canceled, as given by whoever canceled it (an operator, the
    /// customer, a voice caller) or `deposit not paid` when an unpaid deposit released
    /// it; null when not canceled or canceled without a reason.
    async fn cancellation_reason(&self) -> Option<&str> {
        self.0.cancellation_reason.as_deref()
    }
    /// Start (UTC, inclusive).
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    /// End (UTC, exclusive).
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }
    /// Length in minutes.
    async fn duration_minutes(&self) -> i64 {
        (self.0.ends_at - self.0.starts_at).num_minutes()
    }
    /// Where the work happens.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Price in minor units (cents) of `currency`, fixed when booked.
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Where the booking came from.
    async fn source(&self) -> Option<BookingSource> {
        Some(self.0.source)
    }
    /// Free-text notes.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// Start of the time blocked for this booking (UTC): start minus the service's buffer.
    async fn blocked_from(&self) -> DateTime<Utc> {
        self.0.blocked_from
    }
    /// End of the time blocked for this booking (UTC): end plus the service's buffer.
    async fn blocked_until(&self) -> DateTime<Utc> {
        self.0.blocked_until
    }
    /// Planned arrival (UTC) from the applied route of the day (`applyRoute`,
    /// `applyDispatch`); null until a route was applied.
    async fn planned_arrival_at(&self) -> Option<DateTime<Utc>> {
        self.0.planned_arrival_at
    }
    /// Position on the staff member's applied route of the day (1-based); null until a
    /// route was applied.
    async fn route_position(&self) -> Option<i32> {
        self.0.route_position
    }
    /// Latitude of the job (mobile services), WGS 84 degrees.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Longitude of the job (mobile services), WGS 84 degrees.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// The recurring series this booking belongs to.
    async fn series_id(&self) -> Option<ID> {
        self.0.series_id.map(|s| ID(s.to_string()))
    }
    /// Why this staff member was assigned, when the system chose (audit).
    async fn assignment_reason(&self) -> Option<&str> {
        self.0.assignment_reason.as_deref()
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// What the visit consists of: its services (main first), then add-ons, priced at
    /// booking time. `priceCents` and the duration are their sums.
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingItem>> {
        let loader = ctx.data::<crate::loaders::Loaders>()?;
        let rows = loader
            .load_one(crate::loaders::ItemsKey(self.0.tenant_id, self.0.id))
            .await
            .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|r| BookingItem {
                service_id: r.service_id.map(|i| ID(i.to_string())),
                addon_id: r.addon_id.map(|i| ID(i.to_string())),
                name: r.name,
                duration_minutes: r.duration_minutes,
                price_cents: r.price_cents,
            })
            .collect())
    }
    /// While `PENDING` for a deposit: when the unpaid booking is released (UTC).
    async fn deposit_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.deposit_expires_at
    }
    /// Payments toward this booking, oldest first (deposits, balance charges, manual
    /// payments, with their refunds). Owners and managers.
    #[graphql(guard = "crate::guards::RoleGuard::new(crate::guards::MANAGE)")]
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        let key = crate::loaders::PaymentsKey(self.0.tenant_id, self.0.id);
        let rows = crate::loaders::load_children_of(ctx, key).await?;
        Ok(rows.into_iter().map(Payment).collect())
    }
    /// Money on the booking in cents: `paidCents` (succeeded payments), `refundedCents`,
    /// and `balanceCents` = price − paid + refunded (what is still due; negative = owed
    /// back to the customer).
    async fn money(&self, ctx: &Context<'_>) -> async_graphql::Result<BookingMoney> {
        let key = crate::loaders::PaymentsKey(self.0.tenant_id, self.0.id);
        let rows: Vec<entities::payment::Model> =
            crate::loaders::load_children_of(ctx, key).await?;
        Ok(BookingMoney::of(self.0.price_cents, &rows))
    }
    /// The customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        if let Some(c) = &self.1.customer {
            return Ok(Customer(c.as_ref().clone()));
        }
        let key = CustomerKey(self.0.tenant_id, self.0.customer_id);
        Ok(Customer(load_one(ctx, key, "customer").await?))
    }
    /// The service booked.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Service> {
        if let Some(s) = &self.1.service {
            return Ok(Service(s.as_ref().clone()));
        }
        let key = ServiceKey(self.0.tenant_id, self.0.service_id);
        Ok(Service(load_one(ctx, key, "service").await?))
    }
    /// The staff member doing the work.
    async fn staff_member(&self, ctx: &Context<'_>) -> async_graphql::Result<StaffMember> {
        if let Some(m) = &self.1.staff_member {
            return Ok(StaffMember(m.as_ref().clone()));
        }
        let key = StaffKey(self.0.tenant_id, self.0.staff_member_id);
        Ok(StaffMember(load_one(ctx, key, "staff member").await?))
    }
}

/// One line of a booking: a service or an add-on.
#[derive(SimpleObject, Clone, Debug)]
pub struct BookingItem {
    /// The service, for service lines.
    pub service_id: Option<ID>,
    /// The add-on, for add-on lines.
    pub addon_id: Option<ID>,
    /// Name at booking time.
    pub name: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Price in minor units (cents) at booking time.
    pub price_cents: i64,
}

/// Input of `createBooking` (operators). Give `customerId` or `customer`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateBookingInput {
    /// The service to book.
    pub service_id: ID,
    /// The staff member; when null, the first free qualified staff member (fewest
    /// bookings that day, then by id) is assigned.
    pub staff_member_id: Option<ID>,
    /// Start instant (RFC 3339; stored in UTC).
    pub starts_at: DateTime<Utc>,
    /// An existing customer.
    pub customer_id: Option<ID>,
    /// A customer to find by phone or create.
    pub customer: Option<CustomerInput>,
    /// Where the work happens; defaults to the customer's address.
    pub address: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// `PENDING` or `CONFIRMED` (default).
    pub status: Option<BookingStatus>,
    /// `PLATFORM` (default) or `MANUAL`.
    pub source: Option<BookingSource>,
    /// Client-chosen key (1–255 characters): repeating the call with the same key
    /// returns the first result instead of booking twice (for retries on timeouts).
    pub idempotency_key: Option<String>,
    /// Token from `holdSlot`: books the held slot (same service and start) and releases
    /// the hold.
    pub hold_token: Option<String>,
    /// Where the work happens (mobile services): checked against service areas and
    /// travel time between jobs.
    pub location: Option<crate::geo::GeoInput>,
    /// Further services in the same visit, after the main one (durations and prices add
    /// up).
    #[graphql(default)]
    pub additional_service_ids: Vec<ID>,
    /// Add-ons of the booked services (durations and prices add up).
    #[graphql(default)]
    pub addon_ids: Vec<ID>,
}

/// Input of `createRecurringBooking`. Give `customerId` or `customer`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateRecurringBookingInput {
    /// The service.
    pub service_id: ID,
    /// The staff member; when null each occurrence is assigned by the tenant's policy.
    pub staff_member_id: Option<ID>,
    /// First occurrence (RFC 3339); its local wall-clock time repeats, across DST.
    pub starts_at: DateTime<Utc>,
    /// RFC 5545 `RRULE` value with COUNT or UNTIL, e.g. `FREQ=WEEKLY;INTERVAL=2;COUNT=6`
    /// or `FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20271231T000000Z` (at most 104 occurrences).
    pub recurrence: String,
    /// An existing customer.
    pub customer_id: Option<ID>,
    /// A customer to find by phone or create.
    pub customer: Option<CustomerInput>,
    /// Where the work happens.
    pub address: Option<String>,
    /// Notes for every occurrence.
    pub notes: Option<String>,
    /// Book nothing unless every occurrence can be booked (default false: book what can
    /// be booked and report the rest).
    #[graphql(default = false)]
    pub all_or_nothing: bool,
    /// Where the work happens (mobile services).
    pub location: Option<crate::geo::GeoInput>,
}

/// One occurrence of a recurring booking.
#[derive(SimpleObject)]
pub struct Occurrence {
    /// When it starts (UTC).
    pub starts_at: DateTime<Utc>,
    /// The booking, when booked.
    pub booking: Option<Booking>,
    /// Why it was not booked (empty when booked, or when an all-or-nothing request
    /// failed because of other occurrences).
    pub user_errors: Vec<UserError>,
}

/// Result of `createRecurringBooking`.
#[derive(SimpleObject, Default)]
pub struct RecurringBookingPayload {
    /// Id shared by the series' bookings (null when nothing was booked).
    pub series_id: Option<ID>,
    /// Every occurrence in order, booked or not.
    pub occurrences: Vec<Occurrence>,
    /// How many occurrences were booked.
    pub booked_count: i32,
    /// Why the request as a whole was refused.
    pub user_errors: Vec<UserError>,
}

/// A slot reserved for a few minutes.
#[derive(SimpleObject, Clone, Debug)]
pub struct SlotHold {
    /// Hold id.
    pub id: ID,
    /// Start of the held slot (UTC).
    pub starts_at: DateTime<Utc>,
    /// End of the held slot (UTC).
    pub ends_at: DateTime<Utc>,
    /// When the hold lapses by itself (UTC).
    pub expires_at: DateTime<Utc>,
    /// The staff member held.
    pub staff_member_id: ID,
    /// Secret to book (`holdToken` in the booking input) or release the hold; returned
    /// once.
    pub hold_token: String,
}

impl SlotHold {
    /// From a created hold.
    pub fn new(h: super::service::NewHold) -> SlotHold {
        SlotHold {
            id: ID(h.hold.id.to_string()),
            starts_at: h.hold.starts_at,
            ends_at: h.hold.ends_at,
            expires_at: h.hold.expires_at,
            staff_member_id: ID(h.hold.staff_member_id.to_string()),
            hold_token: h.token,
        }
    }
}

/// Input of `holdSlot` / `publicHoldSlot`.
#[derive(InputObject, Debug, Clone)]
pub struct HoldSlotInput {
    /// The service.
    pub service_id: ID,
    /// The staff member, or null for any free qualified one.
    pub staff_member_id: Option<ID>,
    /// Start (RFC 3339), on the slot grid.
    pub starts_at: DateTime<Utc>,
    /// How long to hold, minutes (1–30; default 5).
    pub ttl_minutes: Option<i32>,
}

/// Result of hold mutations.
#[derive(SimpleObject, Default)]
pub struct SlotHoldPayload {
    /// The hold (null when refused or released).
    pub hold: Option<SlotHold>,
    /// Why it was refused (`SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`, …).
    pub user_errors: Vec<UserError>,
}

/// Result of booking mutations.
#[derive(SimpleObject, Default)]
pub struct BookingPayload {
    /// The booking after the change.
    pub booking: Option<Booking>,
    /// Why the change was refused (e.g. `SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`).
    pub user_errors: Vec<UserError>,
}

/// A change to a booking, as delivered by the `bookingEvents` subscription.
#[derive(SimpleObject)]
pub struct BookingEvent {
    /// What happened.
    pub kind: BookingEventKind,
    /// The booking as it is now.
    pub booking: Booking,
}
