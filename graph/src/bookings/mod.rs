//! Bookings: queries, mutations and the `bookingEvents` subscription.

pub mod recurring;
pub mod service;
pub mod types;

use crate::events::DomainEvent;
use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use crate::customers::service::clean;
use crate::db::scoped;
use crate::error::UserError;
use crate::guards::{MANAGE, RoleGuard, USERS};
use crate::pagination::{Page, PageArgs};
use crate::state::{caller, state};
use crate::util::{parse_id, parse_input_id};
use service::{BookingFilter, CustomerChoice, NewBooking};
use types::{
    Booking, BookingEvent, BookingPayload, BookingSource, BookingStatus, CreateBookingInput,
    CreateRecurringBookingInput, HoldSlotInput, Occurrence, RecurringBookingPayload, SlotHold,
    SlotHoldPayload,
};

fn payload(o: crate::error::Outcome<entities::booking::Model>) -> BookingPayload {
    match o {
        Ok(b) => BookingPayload {
            booking: Some(Booking::from(b)),
            user_errors: vec![],
        },
        Err(user_errors) => BookingPayload {
            booking: None,
            user_errors,
        },
    }
}

fn refused(e: UserError) -> BookingPayload {
    BookingPayload {
        booking: None,
        user_errors: vec![e],
    }
}

/// Shared by `holdSlot` and `publicHoldSlot`.
pub async fn hold_payload(
    st: &crate::state::GraphState,
    rc: &crate::context::RequestCtx,
    input: HoldSlotInput,
    client_key: Option<String>,
) -> async_graphql::Result<SlotHoldPayload> {
    let service_id = match parse_input_id(&input.service_id, "serviceId", "service") {
        Ok(id) => id,
        Err(e) => {
            return Ok(SlotHoldPayload {
                hold: None,
                user_errors: vec![e],
            });
        }
    };
    let staff = match input
        .staff_member_id
        .as_ref()
        .map(|id| parse_input_id(id, "staffMemberId", "staff member"))
    {
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => {
            return Ok(SlotHoldPayload {
                hold: None,
                user_errors: vec![e],
            });
        }
        None => None,
    };
    Ok(
        match service::hold(
            st,
            rc,
            service_id,
            staff,
            input.starts_at,
            input.ttl_minutes,
            client_key,
        )
        .await?
        {
            Ok(h) => SlotHoldPayload {
                hold: Some(SlotHold::new(h)),
                user_errors: vec![],
            },
            Err(e) => SlotHoldPayload {
                hold: None,
                user_errors: e,
            },
        },
    )
}

/// Shared by `releaseHold` and `publicReleaseHold`.
pub async fn release_payload(
    st: &crate::state::GraphState,
    rc: &crate::context::RequestCtx,
    token: &str,
) -> async_graphql::Result<SlotHoldPayload> {
    Ok(if service::release_hold(st, rc, token).await? {
        SlotHoldPayload::default()
    } else {
        SlotHoldPayload {
            hold: None,
            user_errors: vec![UserError::new(
                Some("holdToken"),
                crate::error::UserErrorCode::HoldExpired,
                "no such hold",
            )],
        }
    })
}

/// Fields of `Booking` whose resolvers read only a booking summary
/// ([`entities::by_index::Summary`]: ids, times, status) and the joined edges.
const BOOKING_SUMMARY_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "status",
    "startsAt",
    "endsAt",
    "durationMinutes",
    "customer",
    "service",
    "staffMember",
];
/// Fields of `Customer`, `Service` and `StaffMember` whose resolvers read only their
/// summary (id and name).
const EDGE_SUMMARY_FIELDS: &[&str] = &["__typename", "id", "name"];

/// Whether every field selected in `fields` (all aliases, through fragments) is one of
/// `allowed`.
fn selects_only(fields: &async_graphql::Lookahead<'_>, allowed: &[&str]) -> bool {
    fields
        .selection_fields()
        .iter()
        .all(|f| f.selection_set().all(|c| allowed.contains(&c.name())))
}

/// What the `bookings` page must read for the selection being resolved: the edges it
/// selects are joined into its one statement (a page of 50 with customer, service and
/// staff member: one SELECT), and a selection of names and times reads only summary
/// columns (fewer columns to send and decode; see README "Performance").
fn list_shape(ctx: &Context<'_>) -> service::ListShape {
    let node = ctx.look_ahead().field("edges").field("node");
    let customer = node.field("customer");
    let service = node.field("service");
    let staff = node.field("staffMember");
    service::ListShape {
        edges: customer.exists() || service.exists() || staff.exists(),
        summary: selects_only(&node, BOOKING_SUMMARY_FIELDS),
        customer_summary: selects_only(&customer, EDGE_SUMMARY_FIELDS),
        service_summary: selects_only(&service, EDGE_SUMMARY_FIELDS),
        staff_summary: selects_only(&staff, EDGE_SUMMARY_FIELDS),
    }
}

/// Booking queries.
#[derive(Default)]
pub struct BookingQuery;

/// Booking queries.
#[Object]
impl BookingQuery {
    /// Bookings by start time. Technicians see only their own. Errors:
    /// `UNAUTHENTICATED`, `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::page(first, last, child_complexity)")]
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only bookings starting at or after this instant.")] from: Option<
            DateTime<Utc>,
        >,
        #[graphql(desc = "Only bookings starting before this instant.")] to: Option<DateTime<Utc>>,
        #[graphql(desc = "Only bookings with one of these statuses.")] status: Option<
            Vec<BookingStatus>,
        >,
        #[graphql(desc = "Only this staff member's bookings.")] staff_member_id: Option<ID>,
        #[graphql(desc = "Page forward: at most this many (0–100, default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Page forward: after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: at most this many (0–100).")] last: Option<i32>,
        #[graphql(desc = "Page backward: before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Booking>> {
        let rc = caller(ctx)?;
        let filter = BookingFilter {
            from,
            to,
            status,
            staff_member_id: staff_member_id
                .as_ref()
                .map(|id| parse_id(id, "staffMemberId"))
                .transpose()?,
        };
        let args = PageArgs::of(ctx, first, after, last, before);
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let page = service::list(&*tx, rc, filter, args, list_shape(ctx)).await?;
        tx.commit().await?;
        Ok(page.into_page(|(b, joined)| Booking(b, joined)))
    }

    /// One booking. Errors: `UNAUTHENTICATED`, `NOT_FOUND` (also for bookings of other
    /// tenants, and for technicians, of other staff members).
    async fn booking(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Booking> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Booking::from(service::get(state(ctx)?, rc, id).await?))
    }
}

/// Booking mutations.
#[derive(Default)]
pub struct BookingMutation;

/// Booking mutations.
#[Object]
impl BookingMutation {
    /// Books a service (owners and managers). Checked against working hours and existing
    /// bookings; never double-books. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors:
    /// `SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`, `IN_THE_PAST`, `NOT_FOUND`,
    /// `SERVICE_INACTIVE`, `STAFF_INACTIVE`, `INVALID_INPUT`, `INVALID_PHONE`,
    /// `INVALID_EMAIL`, `TENANT_NOT_ACCEPTING_BOOKINGS`.
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn create_booking(
        &self,
        ctx: &Context<'_>,
        input: CreateBookingInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = caller(ctx)?;
        let service_id = match parse_input_id(&input.service_id, "serviceId", "service") {
            Ok(id) => id,
            Err(e) => return Ok(refused(e)),
        };
        let staff_member_id = match input
            .staff_member_id
            .as_ref()
            .map(|id| parse_input_id(id, "staffMemberId", "staff member"))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return Ok(refused(e)),
            None => None,
        };
        let customer = match (&input.customer_id, input.customer) {
            (Some(id), _) => match parse_input_id(id, "customerId", "customer") {
                Ok(id) => CustomerChoice::Existing(id),
                Err(e) => return Ok(refused(e)),
            },
            (None, Some(c)) => match clean(c, "customer.") {
                Ok(c) => CustomerChoice::Details(c),
                Err(e) => {
                    return Ok(BookingPayload {
                        booking: None,
                        user_errors: e,
                    });
                }
            },
            (None, None) => {
                return Ok(refused(UserError::new(
                    Some("customerId"),
                    crate::error::UserErrorCode::InvalidInput,
                    "give customerId or customer",
                )));
            }
        };
        let status = input.status.unwrap_or(BookingStatus::Confirmed);
        if !matches!(status, BookingStatus::Pending | BookingStatus::Confirmed) {
            return Ok(refused(UserError::new(
                Some("status"),
                crate::error::UserErrorCode::InvalidInput,
                "a new booking is PENDING or CONFIRMED",
            )));
        }
        let source = if rc.is_agent() {
            BookingSource::Agent
        } else {
            input.source.unwrap_or(BookingSource::Platform)
        };
        if !rc.is_agent() && !matches!(source, BookingSource::Platform | BookingSource::Manual) {
            return Ok(refused(UserError::new(
                Some("source"),
                crate::error::UserErrorCode::InvalidInput,
                "operators create PLATFORM or MANUAL bookings",
            )));
        }
        let nb = NewBooking {
            collect_deposit: false,
            service_id,
            staff_member_id,
            starts_at: input.starts_at,
            customer,
            address: input.address.filter(|a| !a.trim().is_empty()),
            notes: input.notes.filter(|n| !n.trim().is_empty()),
            status,
            source,
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
        Ok(payload(
            service::create(state(ctx)?, rc, nb)
                .await?
                .map(|c| c.booking),
        ))
    }

    /// Books a recurring series (weekly, every N weeks, monthly…, with an end): every
    /// occurrence is checked like a single booking; the result lists which were booked
    /// and which were refused and why. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User
    /// errors: `INVALID_INPUT` (recurrence), `NOT_FOUND`, `SERVICE_INACTIVE`,
    /// `STAFF_INACTIVE`, `STAFF_NOT_QUALIFIED`, `SERIES_INCOMPLETE`; per occurrence as
    /// `createBooking`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_recurring_booking(
        &self,
        ctx: &Context<'_>,
        input: CreateRecurringBookingInput,
    ) -> async_graphql::Result<RecurringBookingPayload> {
        let rc = caller(ctx)?;
        let fail = |e: UserError| RecurringBookingPayload {
            user_errors: vec![e],
            ..Default::default()
        };
        let service_id = match parse_input_id(&input.service_id, "serviceId", "service") {
            Ok(id) => id,
            Err(e) => return Ok(fail(e)),
        };
        let staff_member_id = match input
            .staff_member_id
            .as_ref()
            .map(|id| parse_input_id(id, "staffMemberId", "staff member"))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return Ok(fail(e)),
            None => None,
        };
        let customer = match (&input.customer_id, input.customer) {
            (Some(id), _) => match parse_input_id(id, "customerId", "customer") {
                Ok(id) => CustomerChoice::Existing(id),
                Err(e) => return Ok(fail(e)),
            },
            (None, Some(c)) => match clean(c, "customer.") {
                Ok(c) => CustomerChoice::Details(c),
                Err(e) => {
                    return Ok(RecurringBookingPayload {
                        user_errors: e,
                        ..Default::default()
                    });
                }
            },
            (None, None) => {
                return Ok(fail(UserError::new(
                    Some("customerId"),
                    crate::error::UserErrorCode::InvalidInput,
                    "give customerId or customer",
                )));
            }
        };
        let req = recurring::RecurringRequest {
            service_id,
            staff_member_id,
            starts_at: input.starts_at,
            rrule: input.recurrence,
            customer,
            address: input.address.filter(|a| !a.trim().is_empty()),
            notes: input.notes.filter(|n| !n.trim().is_empty()),
            all_or_nothing: input.all_or_nothing,
            location: crate::geo::geo_arg(input.location)?,
        };
        let (series, results, user_errors) =
            recurring::create_recurring(state(ctx)?, rc, req).await?;
        let occurrences: Vec<Occurrence> = results
            .into_iter()
            .map(|r| match r.outcome {
                Ok(b) => Occurrence {
                    starts_at: r.starts_at,
                    booking: Some(Booking::from(b)),
                    user_errors: vec![],
                },
                Err(e) => Occurrence {
                    starts_at: r.starts_at,
                    booking: None,
                    user_errors: e,
                },
            })
            .collect();
        Ok(RecurringBookingPayload {
            series_id: series.map(|s| ID(s.to_string())),
            booked_count: occurrences.iter().filter(|o| o.booking.is_some()).count() as i32,
            occurrences,
            user_errors,
        })
    }

    /// Holds a slot for a few minutes (default 5) while a customer decides or pays: it
    /// blocks the time for everyone else and lapses by itself. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`. User errors: as `createBooking`.
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn hold_slot(
        &self,
        ctx: &Context<'_>,
        input: HoldSlotInput,
    ) -> async_graphql::Result<SlotHoldPayload> {
        let rc = caller(ctx)?;
        hold_payload(state(ctx)?, rc, input, None).await
    }

    /// Releases a hold before it lapses. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User
    /// error: `HOLD_EXPIRED` (nothing to release).
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn release_hold(
        &self,
        ctx: &Context<'_>,
        hold_token: String,
    ) -> async_graphql::Result<SlotHoldPayload> {
        let rc = caller(ctx)?;
        release_payload(state(ctx)?, rc, &hold_token).await
    }

    /// Moves a booking to a new start (and optionally another staff member), checked like
    /// a new booking; operators may use off-grid times. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `NOT_FOUND`. User errors: `SLOT_UNAVAILABLE`, `OUTSIDE_WORKING_HOURS`,
    /// `IN_THE_PAST`, `MINIMUM_NOTICE`, `BEYOND_HORIZON`, `STAFF_NOT_QUALIFIED`,
    /// `INVALID_STATUS_TRANSITION` (only `PENDING`/`CONFIRMED` bookings move).
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn reschedule_booking(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "New start (RFC 3339).")] starts_at: DateTime<Utc>,
        #[graphql(desc = "Another staff member; default: the current one.")]
        staff_member_id: Option<ID>,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let staff = staff_member_id
            .as_ref()
            .map(|s| parse_id(s, "staffMemberId"))
            .transpose()?;
        Ok(payload(
            service::reschedule(state(ctx)?, rc, id, starts_at, staff, rc.is_agent()).await?,
        ))
    }

    /// Cancels a booking (owners and managers; agents under the customer rules); its
    /// time becomes free and `reason` is kept as its `cancellationReason`. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`. User errors:
    /// `INVALID_STATUS_TRANSITION`, `INVALID_INPUT` (reason longer than 500 characters),
    /// `CANCELLATION_WINDOW_PASSED` (agents).
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(
            desc = "Why the booking is canceled (at most 500 characters; line breaks become spaces)."
        )]
        reason: Option<String>,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let st = state(ctx)?;
        if rc.is_agent() {
            return Ok(payload(
                service::cancel_on_behalf(st, rc, id, reason).await?,
            ));
        }
        Ok(payload(
            service::set_status(st, rc, id, BookingStatus::Canceled, reason).await?,
        ))
    }

    /// Moves a booking along its lifecycle. Users only: technicians may do so for their
    /// own bookings (not cancel); agents may not (they cancel with `cancelBooking`, under
    /// the customer rules). Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`. User
    /// error: `INVALID_STATUS_TRANSITION`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn set_booking_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "The new status.")] status: BookingStatus,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(payload(
            service::set_status(state(ctx)?, rc, id, status, None).await?,
        ))
    }
}

/// Booking subscriptions.
#[derive(Default)]
pub struct BookingSubscription;

#[Subscription]
impl BookingSubscription {
    /// Bookings created, updated and canceled in the caller's tenant, live; technicians
    /// receive only their own. Errors: `UNAUTHENTICATED`.
    async fn booking_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = BookingEvent> + use<>> {
        let rc = caller(ctx)?.clone();
        let st = state(ctx)?.clone();
        let tenant = rc.tenant_id;
        Ok(st
            .events
            .stream_for(&rc)
            .filter_map(|ev| {
                futures::future::ready(match ev {
                    DomainEvent::Booking(b) => Some(b),
                    _ => None,
                })
            })
            .filter_map(move |ev| {
                let st = st.clone();
                async move {
                    let load = async {
                        let tx = st.db.read(tenant).await?;
                        let b = scoped::<entities::booking::Entity>(tenant)
                            .filter(entities::booking::Column::Id.eq(ev.booking_id))
                            .one(&*tx)
                            .await?;
                        tx.commit().await?;
                        Ok::<_, crate::error::ApiError>(b)
                    };
                    match load.await {
                        Ok(Some(b)) => Some(BookingEvent {
                            kind: ev.kind,
                            booking: Booking::from(b),
                        }),
                        Ok(None) => None,
                        Err(e) => {
                            tracing::error!(error = ?e, "loading booking for subscription failed");
                            None
                        }
                    }
                }
            }))
    }
}

#[allow(unused_imports)]
use EntityTrait as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
