//! The public booking page: no login; the tenant is chosen by its slug.
//!
//! Public types expose only what a visitor may see: no customer records, no notes, no
//! staff schedules.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{service, staff_member, tenant};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::availability::{PublicSlot, service as availability};
use crate::bookings::service::{self as bookings, CustomerChoice, NewBooking};
use crate::bookings::types::{BookingSource, BookingStatus};
use crate::catalog::types::Service;
use crate::context::RequestCtx;
use crate::customers::service::clean;
use crate::customers::types::CustomerInput;
use crate::db::scoped;
use crate::error::{ApiError, UserError, UserErrorCode as C};
use crate::state::{GraphState, session, state};
use crate::util::parse_input_id;

/// A staff member as shown publicly.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicStaffMember {
    /// Staff member id.
    pub id: ID,
    /// Display name.
    pub name: String,
}

/// A business's public booking page.
pub struct PublicTenant {
    tenant: tenant::Model,
}

/// A business's public booking page.
#[Object]
impl PublicTenant {
    /// Business name.
    async fn name(&self) -> &str {
        &self.tenant.name
    }
    /// Booking-page slug.
    async fn slug(&self) -> &str {
        &self.tenant.slug
    }
    /// IANA timezone of the business; slots are computed in it.
    async fn timezone(&self) -> &str {
        &self.tenant.timezone
    }
    /// ISO 4217 currency of prices.
    async fn currency(&self) -> &str {
        &self.tenant.currency
    }
    /// Whether the business takes new bookings now.
    async fn accepting_bookings(&self) -> bool {
        bookings::accepts_bookings(&self.tenant)
    }
    /// Bookable services, by display order then name.
    async fn services(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        let st = state(ctx)?;
        let tx = st.db.read(self.tenant.id).await?;
        let rows = scoped::<service::Entity>(self.tenant.id)
            .filter(service::Column::Active.eq(true))
            .order_by_asc(service::Column::DisplayOrder)
            .order_by_asc(service::Column::Name)
            .all(&*tx)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Service).collect())
    }
    /// Bookable staff members, by name.
    async fn staff_members(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<PublicStaffMember>> {
        let st = state(ctx)?;
        let tx = st.db.read(self.tenant.id).await?;
        let rows = scoped::<staff_member::Entity>(self.tenant.id)
            .filter(staff_member::Column::Active.eq(true))
            .order_by_asc(staff_member::Column::Name)
            .all(&*tx)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|s| PublicStaffMember {
                id: ID(s.id.to_string()),
                name: s.name,
            })
            .collect())
    }
}

/// A booking as its customer sees it right after booking.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicBooking {
    /// Booking id.
    pub id: ID,
    /// Status.
    pub status: BookingStatus,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC).
    pub ends_at: DateTime<Utc>,
    /// Price in minor units (cents) of `currency`.
    pub price_cents: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// The service's name.
    pub service_name: String,
    /// The staff member's name.
    pub staff_member_name: String,
    /// Secret for `publicCancelBooking` / `publicRescheduleBooking`; returned once, at
    /// booking time (null when an idempotent repeat returned this booking).
    pub cancellation_token: Option<String>,
    /// Deposit awaited, in cents, while the booking is `PENDING` for payment.
    pub deposit_cents: Option<i64>,
    /// Stripe Checkout page where the customer pays the deposit; the booking is confirmed
    /// when the payment arrives and released if the session lapses (about 30 minutes).
    /// Null when no deposit is due or while the session is still being created.
    pub checkout_url: Option<String>,
}

/// The customer booking on the public page.
#[derive(InputObject, Debug, Clone)]
pub struct PublicCustomerInput {
    /// Full name, 1–200 characters.
    pub name: String,
    /// Phone number (E.164, or a US national number); identifies returning customers.
    pub phone: String,
    /// Email address.
    pub email: Option<String>,
}

/// Input of `publicCreateBooking`.
#[derive(InputObject, Debug, Clone)]
pub struct PublicCreateBookingInput {
    /// The business's slug.
    pub tenant_slug: String,
    /// Service to book.
    pub service_id: ID,
    /// Start (RFC 3339), one of `publicAvailableSlots`.
    pub starts_at: DateTime<Utc>,
    /// Staff member, or null for any available one.
    pub staff_member_id: Option<ID>,
    /// Who is booking.
    pub customer: PublicCustomerInput,
    /// Where the work happens (mobile services).
    pub address: Option<String>,
    /// A message to the business.
    pub notes: Option<String>,
    /// Client-chosen key (1–255 characters): a repeat returns the first result.
    pub idempotency_key: Option<String>,
    /// Token from `publicHoldSlot`: books the held slot and releases the hold.
    pub hold_token: Option<String>,
    /// Where the work happens (mobile services: the customer's address, geocoded).
    pub location: Option<crate::geo::GeoInput>,
    /// Further services in the same visit, after the main one (durations and prices add
    /// up).
    #[graphql(default)]
    pub additional_service_ids: Vec<ID>,
    /// Add-ons of the booked services (durations and prices add up).
    #[graphql(default)]
    pub addon_ids: Vec<ID>,
}

/// Result of `publicCreateBooking`.
#[derive(SimpleObject, Default)]
pub struct PublicBookingPayload {
    /// The booking.
    pub booking: Option<PublicBooking>,
    /// Why it was refused: `SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`, `IN_THE_PAST`,
    /// `NOT_ON_SLOT_GRID`, `NOT_FOUND`, `INVALID_PHONE`, ….
    pub user_errors: Vec<UserError>,
}

async fn resolve(
    st: &GraphState,
    ctx: &Context<'_>,
    slug: &str,
) -> Result<Option<RequestCtx>, ApiError> {
    let slug = slug.trim();
    if !crate::util::valid_slug(slug) {
        return Ok(None);
    }
    let Some(id) = st.db.tenant_id_by_slug(slug).await? else {
        return Ok(None);
    };
    // Every anonymous call on a tenant's pages counts against the tenant's public budget,
    // whoever makes it.
    st.limiter
        .charge(
            &format!("public-tenant:{id}"),
            st.limiter.config().public_per_tenant,
            1,
        )
        .await?;
    Ok(Some(session(ctx).public_for(id)))
}

/// Public queries.
#[derive(Default)]
pub struct PublicQuery;

/// Public queries.
#[Object]
impl PublicQuery {
    /// A business's booking page. Errors: `NOT_FOUND`.
    async fn public_tenant(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<PublicTenant> {
        let st = state(ctx)?;
        let rc = resolve(st, ctx, &slug)
            .await?
            .ok_or(ApiError::NotFound("tenant"))?;
        let tenant = crate::auth::service::tenant(st, rc.tenant_id).await?;
        Ok(PublicTenant { tenant })
    }

    /// Bookable start times for a service between local dates `from` and `to`
    /// (inclusive, at most 62 days), any staff member unless `staffMemberId`. Errors:
    /// `NOT_FOUND`, `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::slots(from, to, child_complexity)")]
    async fn public_available_slots(
        &self,
        ctx: &Context<'_>,
        tenant_slug: String,
        service_id: ID,
        staff_member_id: Option<ID>,
        #[graphql(desc = "First local date (YYYY-MM-DD).")] from: NaiveDate,
        #[graphql(desc = "Last local date (YYYY-MM-DD), inclusive.")] to: NaiveDate,
        #[graphql(desc = "Job location (mobile services: the customer's address, geocoded).")]
        location: Option<crate::geo::GeoInput>,
        #[graphql(
            default,
            desc = "Further services in the same visit (durations add up)."
        )]
        additional_service_ids: Vec<ID>,
        #[graphql(default, desc = "Add-ons of the booked services (durations add up).")]
        addon_ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<PublicSlot>> {
        let st = state(ctx)?;
        let rc = resolve(st, ctx, &tenant_slug)
            .await?
            .ok_or(ApiError::NotFound("tenant"))?;
        let q = availability::SlotQuery::from_args(
            &service_id,
            staff_member_id.as_ref(),
            from,
            to,
            location,
            &additional_service_ids,
            &addon_ids,
        )?;
        Ok(availability::available_slots(st, &rc, q)
            .await?
            .0
            .into_iter()
            .map(|s| PublicSlot {
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            })
            .collect())
    }
}

/// Public mutations.
#[derive(Default)]
pub struct PublicMutation;

fn refused(errors: Vec<UserError>) -> PublicBookingPayload {
    PublicBookingPayload {
        booking: None,
        user_errors: errors,
    }
}

/// Public mutations.
#[Object]
impl PublicMutation {
    /// Books as a customer on the public page: finds the customer by phone or creates
    /// them, and books a slot offered by `publicAvailableSlots`. The booking is
    /// `CONFIRMED`. User errors: `NOT_FOUND` (tenantSlug, serviceId, staffMemberId),
    /// `SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`, `IN_THE_PAST`, `NOT_ON_SLOT_GRID`,
    /// `SERVICE_INACTIVE`, `STAFF_INACTIVE`, `INVALID_INPUT`, `INVALID_PHONE`,
    /// `INVALID_EMAIL`, `TENANT_NOT_ACCEPTING_BOOKINGS`.
    async fn public_create_booking(
        &self,
        ctx: &Context<'_>,
        input: PublicCreateBookingInput,
    ) -> async_graphql::Result<PublicBookingPayload> {
        let st = state(ctx)?;
        let Some(rc) = resolve(st, ctx, &input.tenant_slug).await? else {
            return Ok(refused(vec![UserError::new(
                Some("tenantSlug"),
                C::NotFound,
                "no business with this slug",
            )]));
        };
        let service_id = match parse_input_id(&input.service_id, "serviceId", "service") {
            Ok(id) => id,
            Err(e) => return Ok(refused(vec![e])),
        };
        let staff_member_id: Option<Uuid> = match input
            .staff_member_id
            .as_ref()
            .map(|id| parse_input_id(id, "staffMemberId", "staff member"))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return Ok(refused(vec![e])),
            None => None,
        };
        let customer = CustomerInput {
            name: input.customer.name,
            phone: Some(input.customer.phone),
            email: input.customer.email,
            address: input.address.clone(),
            notes: None,
        };
        let mut customer = match clean(customer, "customer.") {
            Ok(c) => c,
            Err(e) => return Ok(refused(e)),
        };
        if customer.phone.is_none() {
            return Ok(refused(vec![UserError::new(
                Some("customer.phone"),
                C::InvalidPhone,
                "a phone number is required",
            )]));
        }
        customer.notes = None;
        let nb = NewBooking {
            service_id,
            staff_member_id,
            starts_at: input.starts_at,
            customer: CustomerChoice::Details(customer),
            address: input.address.filter(|a| !a.trim().is_empty()),
            notes: input.notes.filter(|n| !n.trim().is_empty()),
            status: BookingStatus::Confirmed,
            source: BookingSource::Public,
            collect_deposit: true,
            idempotency_key: input.idempotency_key,
            hold_token: input.hold_token,
            location: crate::geo::geo_arg(input.location)?,
            extra_service_ids: crate::util::parse_id_list(
                &input.additional_service_ids,
                "additionalServiceIds",
                crate::util::MAX_EXTRA_SERVICES,
            )?,
            addon_ids: crate::util::parse_id_list(
                &input.addon_ids,
                "addonIds",
                crate::util::MAX_ADDONS,
            )?,
        };
        let created = match bookings::create(st, &rc, nb).await? {
            Ok(c) => c,
            Err(e) => return Ok(refused(e)),
        };
        let token = created.cancellation_token;
        Ok(PublicBookingPayload {
            booking: Some(public_booking(st, &rc, created.booking, token).await?),
            user_errors: vec![],
        })
    }

    /// Holds a slot for a few minutes (default 5) while the customer fills in details or
    /// pays; book it with `holdToken`. User errors: `NOT_FOUND`, `SLOT_UNAVAILABLE`,
    /// `OUTSIDE_WORKING_HOURS`, `NOT_ON_SLOT_GRID`, `IN_THE_PAST`, `MINIMUM_NOTICE`,
    /// `BEYOND_HORIZON`, `INVALID_INPUT`.
    async fn public_hold_slot(
        &self,
        ctx: &Context<'_>,
        tenant_slug: String,
        input: crate::bookings::types::HoldSlotInput,
    ) -> async_graphql::Result<crate::bookings::types::SlotHoldPayload> {
        let st = state(ctx)?;
        let Some(rc) = resolve(st, ctx, &tenant_slug).await? else {
            return Ok(crate::bookings::types::SlotHoldPayload {
                hold: None,
                user_errors: vec![UserError::new(
                    Some("tenantSlug"),
                    C::NotFound,
                    "no business with this slug",
                )],
            });
        };
        // Anonymous holds are counted per client address (unknown address: one bucket).
        let client = session(ctx)
            .client_ip
            .map(crate::admission::ip_key)
            .unwrap_or_else(|| "unknown".into());
        crate::bookings::hold_payload(st, &rc, input, Some(client)).await
    }

    /// Releases a hold before it lapses. User error: `HOLD_EXPIRED`.
    async fn public_release_hold(
        &self,
        ctx: &Context<'_>,
        tenant_slug: String,
        hold_token: String,
    ) -> async_graphql::Result<crate::bookings::types::SlotHoldPayload> {
        let st = state(ctx)?;
        let Some(rc) = resolve(st, ctx, &tenant_slug).await? else {
            return Ok(crate::bookings::types::SlotHoldPayload::default());
        };
        crate::bookings::release_payload(st, &rc, &hold_token).await
    }

    /// Cancels a booking as its customer, with the `cancellationToken` received when
    /// booking, until the business's cancellation notice (e.g. 24 h before the start).
    /// User errors: `NOT_FOUND` (tenant, booking or token), `CANCELLATION_WINDOW_PASSED`,
    /// `INVALID_STATUS_TRANSITION`, `INVALID_INPUT` (reason longer than 500 characters).
    async fn public_cancel_booking(
        &self,
        ctx: &Context<'_>,
        tenant_slug: String,
        booking_id: ID,
        cancellation_token: String,
        #[graphql(
            desc = "Why the customer cancels (at most 500 characters), kept for the business."
        )]
        reason: Option<String>,
    ) -> async_graphql::Result<PublicBookingPayload> {
        let st = state(ctx)?;
        let (Some(rc), Ok(id)) = (
            resolve(st, ctx, &tenant_slug).await?,
            parse_input_id(&booking_id, "bookingId", "booking"),
        ) else {
            return Ok(refused(vec![UserError::new(
                Some("bookingId"),
                C::NotFound,
                "booking not found",
            )]));
        };
        match bookings::cancel_by_customer(st, &rc, id, &cancellation_token, reason).await? {
            Ok(b) => Ok(PublicBookingPayload {
                booking: Some(public_booking(st, &rc, b, None).await?),
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(e)),
        }
    }

    /// Moves a booking as its customer, with its `cancellationToken`, to another start
    /// offered by `publicAvailableSlots`, until the business's cancellation notice. User
    /// errors: `NOT_FOUND`, `CANCELLATION_WINDOW_PASSED`, `SLOT_UNAVAILABLE`,
    /// `OUTSIDE_WORKING_HOURS`, `NOT_ON_SLOT_GRID`, `IN_THE_PAST`, `MINIMUM_NOTICE`,
    /// `BEYOND_HORIZON`, `INVALID_STATUS_TRANSITION`.
    async fn public_reschedule_booking(
        &self,
        ctx: &Context<'_>,
        tenant_slug: String,
        booking_id: ID,
        cancellation_token: String,
        #[graphql(desc = "New start (RFC 3339).")] starts_at: DateTime<Utc>,
    ) -> async_graphql::Result<PublicBookingPayload> {
        let st = state(ctx)?;
        let not_found = || {
            refused(vec![UserError::new(
                Some("bookingId"),
                C::NotFound,
                "booking not found",
            )])
        };
        let (Some(rc), Ok(id)) = (
            resolve(st, ctx, &tenant_slug).await?,
            parse_input_id(&booking_id, "bookingId", "booking"),
        ) else {
            return Ok(not_found());
        };
        let tx = st.db.read(rc.tenant_id).await?;
        let found = bookings::by_cancellation_token(&tx, id, &cancellation_token).await?;
        tx.commit().await?;
        if found.is_none() {
            return Ok(not_found());
        }
        match bookings::reschedule(st, &rc, id, starts_at, None, true).await? {
            Ok(b) => Ok(PublicBookingPayload {
                booking: Some(public_booking(st, &rc, b, None).await?),
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(e)),
        }
    }
}

/// The public view of a booking.
async fn public_booking(
    st: &GraphState,
    rc: &RequestCtx,
    b: entities::booking::Model,
    cancellation_token: Option<String>,
) -> Result<PublicBooking, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let svc = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(b.service_id))
        .one(&*tx)
        .await?;
    let staff = scoped::<staff_member::Entity>(rc.tenant_id)
        .filter(staff_member::Column::Id.eq(b.staff_member_id))
        .one(&*tx)
        .await?;
    let deposit = if b.status == BookingStatus::Pending {
        crate::ledger::payments_of(&tx, b.id)
            .await?
            .into_iter()
            .find(|p| {
                p.kind == entities::PaymentKind::Deposit
                    && p.status == entities::PaymentStatus::Pending
            })
    } else {
        None
    };
    tx.commit().await?;
    Ok(PublicBooking {
        deposit_cents: deposit.as_ref().map(|p| p.amount_cents),
        checkout_url: deposit.and_then(|p| p.checkout_url),
        id: ID(b.id.to_string()),
        status: b.status,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        price_cents: b.price_cents,
        currency: b.currency,
        service_name: svc.map(|s| s.name).unwrap_or_default(),
        staff_member_name: staff.map(|s| s.name).unwrap_or_default(),
        cancellation_token,
    })
}

#[allow(unused_imports)]
use EntityTrait as _;
