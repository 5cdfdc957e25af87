//! Booking rules: creation (never double-booked), rescheduling, cancellation, status
//! transitions, idempotency, listing.
//!
//! Double booking is impossible on both backends:
//! - the rule check ([`crate::availability::rules::check`]) runs inside the writing
//!   transaction (on SQLite writers are serialised, so the check is authoritative);
//! - on PostgreSQL the `bookings_no_overlap` exclusion constraint on the blocked interval
//!   (buffers included) refuses a concurrent insert that slipped past the check
//!   (SQLSTATE 23P01); the loser gets `SLOT_UNAVAILABLE`, or, when the staff member was
//!   auto-assigned, the next qualified staff member is tried.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entities::by_index::{ByIndex, Summary, decode_joined};
use entities::{
    BookingSource, BookingStatus, TenantStatus, booking, booking_item, customer, slot_hold, tenant,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, JoinType,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, Select, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::tokens::hash_token;
use crate::availability::data::{
    Candidate, ItemLine, LoadRefusal, LoadRequest, ScheduleData, load,
};
use crate::availability::rules::{self, Refusal};
use crate::context::RequestCtx;
use crate::customers::service::{CleanCustomer, find_or_create_by_phone};
use crate::db::{Tx, WriteConflict, scoped, write_conflict};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::{BookingEventKind, Envelope};
use crate::idempotency::{self, Claimed};
use crate::lifecycle::{self, AfterCommit, BookingChange};
use crate::pagination::{KeyCursor, Keyset, PageArgs, Slice, SortKey, paginate_keyset_with};
use crate::state::GraphState;
use crate::util::{new_id, now};

pub use crate::availability::data::tenant_tz;

/// Who the booking is for.
#[derive(Debug, Clone)]
pub enum CustomerChoice {
    /// An existing customer of the tenant.
    Existing(Uuid),
    /// Validated details: found by phone, or created.
    Details(CleanCustomer),
}

/// A validated booking request.
#[derive(Debug, Clone)]
pub struct NewBooking {
    /// Take the deposit the tenant's policy asks for (public booking page): passed to the
    /// lifecycle hooks as `BookingChange::Created { collect_deposit }`; with card
    /// payments set up and a deposit due, the booking stays `PENDING` until paid.
    pub collect_deposit: bool,
    /// Service to book.
    pub service_id: Uuid,
    /// Staff member, or `None` to auto-assign.
    pub staff_member_id: Option<Uuid>,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Customer.
    pub customer: CustomerChoice,
    /// Address (defaults to the customer's).
    pub address: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Initial status (`PENDING` or `CONFIRMED`).
    pub status: BookingStatus,
    /// Origin.
    pub source: BookingSource,
    /// Client-chosen key: a repeat with the same key returns the first result.
    pub idempotency_key: Option<String>,
    /// Token of a slot hold to convert: the booking takes the held slot (same service and
    /// start; the hold's staff member) and the hold is released.
    pub hold_token: Option<String>,
    /// Where the work happens (mobile services): checked against service areas and
    /// travel time between jobs.
    pub location: Option<crate::availability::rules::Geo>,
    /// Further services in the same visit, performed after the main one by the same
    /// staff member (durations and prices add up).
    pub extra_service_ids: Vec<Uuid>,
    /// Add-ons of the booked services (durations and prices add up).
    pub addon_ids: Vec<Uuid>,
}

/// A created booking and, for public and agent bookings, the customer's cancellation
/// token (shown once, stored hashed).
#[derive(Debug, Clone)]
pub struct Created {
    /// The booking.
    pub booking: booking::Model,
    /// Token for `publicCancelBooking` / `publicRescheduleBooking`; `None` when replayed
    /// from an idempotency key or for operator bookings.
    pub cancellation_token: Option<String>,
}

/// How many staff members an auto-assigned booking tries when it loses races.
const MAX_ASSIGN_ATTEMPTS: usize = 5;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

enum Attempt {
    Done(Box<Created>, AfterCommit),
    Refused(Vec<UserError>),
    LostRace(Uuid),
    Replayed(Outcome<Box<Created>>),
}

fn slot_unavailable() -> UserError {
    UserError::new(
        Some("startsAt"),
        C::SlotUnavailable,
        "this time is no longer available",
    )
}

/// The user error for a slot refusal.
pub fn refusal_error(r: Refusal) -> UserError {
    let (code, msg) = match r {
        Refusal::InThePast => (C::InThePast, "the start time has passed".to_string()),
        Refusal::MinimumNotice => (C::MinimumNotice, "too short notice for this service".into()),
        Refusal::BeyondHorizon => (C::BeyondHorizon, "too far ahead to book".into()),
        Refusal::DayOff => (C::OutsideWorkingHours, "not a working day".into()),
        Refusal::OutsideWorkingHours | Refusal::Break => {
            (C::OutsideWorkingHours, "outside working hours".into())
        }
        Refusal::NotOnGrid => (
            C::NotOnSlotGrid,
            "not one of the offered start times".into(),
        ),
        Refusal::OutsideServiceArea => (
            C::OutsideServiceArea,
            "this address is outside the service area".into(),
        ),
        Refusal::Booked
        | Refusal::TimeOff
        | Refusal::CalendarBusy
        | Refusal::Held
        | Refusal::Travel => {
            return slot_unavailable();
        }
    };
    UserError::new(Some("startsAt"), code, msg)
}

/// The user error for a load refusal.
pub fn load_error(r: LoadRefusal) -> UserError {
    match r {
        LoadRefusal::ServiceNotFound => {
            UserError::new(Some("serviceId"), C::NotFound, "service not found")
        }
        LoadRefusal::ServiceInactive => UserError::new(
            Some("serviceId"),
            C::ServiceInactive,
            "this service is not bookable",
        ),
        LoadRefusal::StaffNotFound => {
            UserError::new(Some("staffMemberId"), C::NotFound, "staff member not found")
        }
        LoadRefusal::StaffInactive => UserError::new(
            Some("staffMemberId"),
            C::StaffInactive,
            "this staff member is not bookable",
        ),
        LoadRefusal::NotQualified => UserError::new(
            Some("staffMemberId"),
            C::StaffNotQualified,
            "this staff member does not perform this service",
        ),
        LoadRefusal::AddonNotFound => UserError::new(
            Some("addonIds"),
            C::NotFound,
            "add-on not found for the booked services",
        ),
    }
}

/// Writes the lines of a booking (services, then add-ons) in its transaction.
pub async fn insert_items(tx: &Tx, b: &booking::Model, items: &[ItemLine]) -> Result<(), ApiError> {
    if items.is_empty() {
        return Ok(());
    }
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, it)| booking_item::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(b.tenant_id),
            booking_id: Set(b.id),
            position: Set(i as i32),
            service_id: Set(it.service_id),
            addon_id: Set(it.addon_id),
            name: Set(it.name.clone()),
            duration_minutes: Set(it.duration_minutes),
            price_cents: Set(it.price_cents),
        });
    booking_item::Entity::insert_many(rows).exec(&**tx).await?;
    Ok(())
}

/// Whether the tenant may take new bookings: not `PAST_DUE` or `CANCELED`, and not a
/// free trial that ended without a subscription.
pub fn accepts_bookings(t: &tenant::Model) -> bool {
    let trial_over = t.status == TenantStatus::Trial
        && t.billing_subscription_id.is_none()
        && t.trial_ends_at.is_some_and(|end| end <= now());
    !matches!(t.status, TenantStatus::PastDue | TenantStatus::Canceled) && !trial_over
}

/// The most specific refusal among candidates: being booked beats everything else.
fn best_refusal(refusals: &[Refusal]) -> Refusal {
    if refusals.iter().any(|r| {
        matches!(
            r,
            Refusal::Booked
                | Refusal::TimeOff
                | Refusal::CalendarBusy
                | Refusal::Held
                | Refusal::Travel
        )
    }) {
        return Refusal::Booked;
    }
    refusals
        .iter()
        .min()
        .copied()
        .unwrap_or(Refusal::OutsideWorkingHours)
}

/// Picks the staff member for a booking at `start`: the requested one if allowed; else,
/// among qualified ones that are free, by the tenant's assignment policy — fewest
/// bookings that local day (`LEAST_BUSY`) or least recently booked (`ROUND_ROBIN`) —
/// ties by id, so the choice is deterministic. Returns the candidate and, when the
/// system chose, the reason stored for audit.
pub fn assign_for(
    data: &ScheduleData,
    start: DateTime<Utc>,
    require_grid: bool,
    requested: bool,
) -> Result<(&Candidate, Option<String>), Refusal> {
    let at = now();
    let date = start.with_timezone(&data.tz).date_naive();
    let day = crate::availability::data::date_range_utc(data.tz, date, date)
        .unwrap_or(rules::Interval::new(start, start));
    let round_robin = data.tenant.assignment_policy == "ROUND_ROBIN";
    let mut order: Vec<(Option<DateTime<Utc>>, usize, &Candidate)> = data
        .candidates
        .iter()
        .map(|c| {
            let last = round_robin
                .then(|| data.last_booked.get(&c.staff.id).copied())
                .flatten();
            (last, data.bookings_within(c.staff.id, &day), c)
        })
        .collect();
    if round_robin {
        order.sort_by_key(|(last, _, c)| (*last, c.staff.id));
    } else {
        order.sort_by_key(|(_, n, c)| (*n, c.staff.id));
    }
    let mut refusals = Vec::new();
    for (last, n, c) in order {
        match rules::check(
            &data.rules(c, at),
            &data.schedule(c.staff.id),
            start,
            require_grid,
        ) {
            Ok(()) => {
                let reason = (!requested).then(|| {
                    let why = if round_robin {
                        match last {
                            Some(t) => format!(
                                "round robin: least recently booked (last booking made {})",
                                t.to_rfc3339()
                            ),
                            None => "round robin: never booked before".to_string(),
                        }
                    } else {
                        format!("least busy: fewest bookings that day ({n})")
                    };
                    format!(
                        "auto-assigned: free and qualified; {why}; {} candidate(s), ties by id",
                        data.candidates.len()
                    )
                });
                return Ok((c, reason));
            }
            Err(r) => refusals.push(r),
        }
    }
    Err(best_refusal(&refusals))
}

/// What an idempotency key stores for `createBooking`: the booking, or the refusal.
#[derive(Debug, Serialize, Deserialize)]
struct StoredResult {
    booking_id: Option<Uuid>,
    user_errors: Vec<(Option<Vec<String>>, String, String)>,
}

/// The operation name idempotency keys of booking creation are stored under (with the
/// request's fingerprint).
const CREATE_OPERATION: &str = "createBooking";

/// The request a `createBooking` idempotency key stands for.
fn request_fingerprint(nb: &NewBooking) -> String {
    let customer = match &nb.customer {
        CustomerChoice::Existing(id) => serde_json::json!({"id": id}),
        CustomerChoice::Details(c) => serde_json::json!({
            "name": c.name, "phone": c.phone, "email": c.email, "address": c.address,
        }),
    };
    idempotency::fingerprint(
        CREATE_OPERATION,
        &serde_json::json!({
            "service": nb.service_id, "staff": nb.staff_member_id, "start": nb.starts_at,
            "customer": customer, "address": nb.address, "notes": nb.notes,
            "status": nb.status, "source": nb.source, "hold": nb.hold_token,
            "location": nb.location.map(|g| (g.lat_e6, g.lng_e6)),
            "extra": nb.extra_service_ids, "addons": nb.addon_ids,
        }),
    )
}

/// Claims `key` (already scoped to the caller) for the request `nb` in this
/// transaction: `Ok(None)` when it is new, `Ok(Some(outcome))` with the first call's
/// outcome when it was used before for the same request, `IDEMPOTENCY_KEY_REUSED` for
/// another request.
async fn claim_key(
    tx: &Tx,
    key: &str,
    nb: &NewBooking,
) -> Result<Option<Outcome<Box<Created>>>, ApiError> {
    let operation = request_fingerprint(nb);
    let stored: StoredResult = match idempotency::claim(tx, key, &operation).await? {
        Claimed::New => return Ok(None),
        Claimed::OtherOperation => {
            return Ok(Some(Err(vec![UserError::new(
                Some("idempotencyKey"),
                C::IdempotencyKeyReused,
                "this idempotency key was used for another request",
            )])));
        }
        Claimed::Stored(s) => s,
    };
    match stored.booking_id {
        Some(id) => {
            let b = scoped::<booking::Entity>(tx.tenant_id())
                .filter(booking::Column::Id.eq(id))
                .one(&**tx)
                .await?
                .ok_or(ApiError::NotFound("booking"))?;
            Ok(Some(Ok(Box::new(Created {
                booking: b,
                cancellation_token: None,
            }))))
        }
        None => Ok(Some(Err(stored
            .user_errors
            .into_iter()
            .map(|(field, code, message)| UserError {
                field,
                code: parse_code(&code),
                message,
            })
            .collect()))),
    }
}

fn parse_code(s: &str) -> C {
    use async_graphql::InputType;
    C::parse(Some(async_graphql::Value::Enum(async_graphql::Name::new(
        s,
    ))))
    .unwrap_or(C::InvalidInput)
}

async fn store_result(tx: &Tx, key: &str, outcome: &Outcome<Box<Created>>) -> Result<(), ApiError> {
    let stored = match outcome {
        Ok(c) => StoredResult {
            booking_id: Some(c.booking.id),
            user_errors: vec![],
        },
        Err(errors) => StoredResult {
            booking_id: None,
            user_errors: errors
                .iter()
                .map(|e| (e.field.clone(), enum_text(e.code), e.message.clone()))
                .collect(),
        },
    };
    idempotency::store(tx, key, &stored).await
}

fn enum_text(c: C) -> String {
    use async_graphql::InputType;
    match c.to_value() {
        async_graphql::Value::Enum(n) => n.to_string(),
        other => other.to_string(),
    }
}

async fn try_create(
    st: &GraphState,
    rc: &RequestCtx,
    nb: &NewBooking,
    excluded: &[Uuid],
) -> Result<Attempt, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let scoped_key = nb
        .idempotency_key
        .as_deref()
        .map(|k| idempotency::scoped_key(rc, k));
    if let Some(key) = &scoped_key
        && let Some(outcome) = claim_key(&tx, key, nb).await?
    {
        tx.commit().await?;
        return Ok(Attempt::Replayed(outcome));
    }
    let key_for_refusal = scoped_key.as_deref();
    let refuse = |tx: Tx, errors: Vec<UserError>| async move {
        if let Some(key) = key_for_refusal {
            store_result(&tx, key, &Err(errors.clone())).await?;
            tx.commit().await?;
        }
        Ok::<_, ApiError>(Attempt::Refused(errors))
    };
    st.db.lock_schedule(&tx).await?;
    let hold = match &nb.hold_token {
        Some(token) => match active_hold(&tx, token).await? {
            Some(h)
                if h.service_id == nb.service_id
                    && h.starts_at == nb.starts_at
                    && nb.staff_member_id.is_none_or(|s| s == h.staff_member_id) =>
            {
                Some(h)
            }
            Some(_) => {
                let e = UserError::new(
                    Some("holdToken"),
                    C::InvalidInput,
                    "the hold is for another service, start or staff member",
                );
                return refuse(tx, vec![e]).await;
            }
            None => {
                let e = UserError::new(
                    Some("holdToken"),
                    C::HoldExpired,
                    "the hold has expired or does not exist",
                );
                return refuse(tx, vec![e]).await;
            }
        },
        None => None,
    };
    let data = load(
        &tx,
        LoadRequest {
            excluded,
            ignore_hold: hold.as_ref().map(|h| h.id),
            location: nb.location,
            extra_service_ids: &nb.extra_service_ids,
            addon_ids: &nb.addon_ids,
            ..LoadRequest::around(
                nb.service_id,
                hold.as_ref()
                    .map(|h| h.staff_member_id)
                    .or(nb.staff_member_id),
                nb.starts_at,
            )
        },
    )
    .await?;
    let mut data = match data {
        Ok(d) => d,
        Err(r) => return refuse(tx, vec![load_error(r)]).await,
    };
    // The same drive times availability offered the slot with (usually from the
    // tenant's cache, so no request is made under the schedule lock).
    crate::availability::service::route_travel(st, rc.tenant_id, &mut data).await;
    if !accepts_bookings(&data.tenant) {
        let e = UserError::new(
            None,
            C::TenantNotAcceptingBookings,
            "this business is not taking new bookings",
        );
        return refuse(tx, vec![e]).await;
    }
    if data.candidates.is_empty() {
        let e = if excluded.is_empty() {
            UserError::new(
                Some("serviceId"),
                C::NoStaffAvailable,
                "no staff member performs this service",
            )
        } else {
            slot_unavailable()
        };
        return refuse(tx, vec![e]).await;
    }
    let require_grid = nb.source.is_customer_facing();
    let (chosen, reason) = match assign_for(
        &data,
        nb.starts_at,
        require_grid,
        nb.staff_member_id.is_some(),
    ) {
        Ok(c) => c,
        Err(r) => {
            // A lost race with every other candidate excluded is still "taken".
            let e = if excluded.is_empty() {
                refusal_error(r)
            } else {
                slot_unavailable()
            };
            return refuse(tx, vec![e]).await;
        }
    };
    let cust = match &nb.customer {
        CustomerChoice::Existing(id) => {
            match scoped::<customer::Entity>(rc.tenant_id)
                .filter(customer::Column::Id.eq(*id))
                .one(&*tx)
                .await?
            {
                Some(c) => c,
                None => {
                    let e = UserError::new(Some("customerId"), C::NotFound, "customer not found");
                    return refuse(tx, vec![e]).await;
                }
            }
        }
        CustomerChoice::Details(c) => find_or_create_by_phone(&tx, c.clone()).await?,
    };
    // A customer-facing booking (public page, agent) never borrows what is stored about an
    // existing customer matched by phone: the address is only the one given now, and a
    // different name given now is kept on the booking for the operator.
    let customer_facing = nb.source.is_customer_facing();
    let address = if customer_facing {
        nb.address.clone()
    } else {
        nb.address.clone().or(cust.address.clone())
    };
    let notes = match (&nb.customer, customer_facing) {
        (CustomerChoice::Details(c), true) if c.name.trim() != cust.name.trim() => {
            let given = format!("Name given when booking: {}", c.name.trim());
            Some(match &nb.notes {
                Some(n) => format!("{given}\n{n}"),
                None => given,
            })
        }
        _ => nb.notes.clone(),
    };
    let rules = data.rules(chosen, now());
    let blocked = rules::blocked_interval(&rules, nb.starts_at);
    let token = nb
        .source
        .is_customer_facing()
        .then(|| crate::auth::tokens::new_tenant_token("ct", rc.tenant_id));
    let at = now();
    let inserted = booking::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        customer_id: Set(cust.id),
        service_id: Set(data.service.id),
        staff_member_id: Set(chosen.staff.id),
        starts_at: Set(nb.starts_at),
        ends_at: Set(nb.starts_at + rules.duration),
        blocked_from: Set(blocked.start),
        blocked_until: Set(blocked.end),
        status: Set(nb.status),
        address: Set(address),
        price_cents: Set(chosen.price_cents),
        currency: Set(data.tenant.currency.clone()),
        source: Set(nb.source),
        notes: Set(notes),
        assignment_reason: Set(reason),
        cancellation_token_hash: Set(token.as_deref().map(hash_token)),
        series_id: Set(None),
        latitude: Set(nb.location.map(|g| g.point().lat)),
        longitude: Set(nb.location.map(|g| g.point().lng)),
        deposit_expires_at: Set(None),
        planned_arrival_at: Set(None),
        route_position: Set(None),
        cancellation_reason: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*tx)
    .await;
    if let (Ok(_), Some(h)) = (&inserted, &hold) {
        slot_hold::Entity::delete_many()
            .filter(slot_hold::Column::TenantId.eq(rc.tenant_id))
            .filter(slot_hold::Column::Id.eq(h.id))
            .exec(&*tx)
            .await?;
    }
    match inserted {
        Ok(mut b) => {
            insert_items(&tx, &b, &chosen.items).await?;
            let change = BookingChange::Created {
                collect_deposit: nb.collect_deposit,
            };
            let after = lifecycle::run_hooks(st, &tx, &mut b, &change).await?;
            let created = Box::new(Created {
                booking: b,
                cancellation_token: token,
            });
            if let Some(key) = &scoped_key {
                store_result(&tx, key, &Ok(created.clone())).await?;
            }
            tx.commit().await?;
            Ok(Attempt::Done(created, after))
        }
        Err(e) if write_conflict(&e) == Some(WriteConflict::Overlap) => {
            Ok(Attempt::LostRace(chosen.staff.id))
        }
        Err(e) => Err(e.into()),
    }
}

fn check_text(v: &Option<String>, field: &str, max: usize, errors: &mut Vec<UserError>) {
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        errors.push(UserError::new(
            Some(field),
            C::InvalidInput,
            format!("{field} is longer than {max} characters"),
        ));
    }
}

/// Creates a booking. User errors: `NOT_FOUND` (service, staff member, customer),
/// `SERVICE_INACTIVE`, `STAFF_INACTIVE`, `STAFF_NOT_QUALIFIED`, `NO_STAFF_AVAILABLE`,
/// `IN_THE_PAST`, `MINIMUM_NOTICE`, `BEYOND_HORIZON`, `OUTSIDE_WORKING_HOURS`,
/// `NOT_ON_SLOT_GRID` (public and agent bookings), `SLOT_UNAVAILABLE`,
/// `TENANT_NOT_ACCEPTING_BOOKINGS`, `INVALID_INPUT`, `IDEMPOTENCY_KEY_REUSED`.
/// With an idempotency key, a repeat returns the first outcome (booking or errors).
pub async fn create(
    st: &GraphState,
    rc: &RequestCtx,
    nb: NewBooking,
) -> Result<Outcome<Created>, ApiError> {
    let mut errors = Vec::new();
    check_text(&nb.notes, "notes", 2000, &mut errors);
    check_text(&nb.address, "address", 500, &mut errors);
    if nb
        .idempotency_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY_LEN)
    {
        errors.push(UserError::new(
            Some("idempotencyKey"),
            C::InvalidInput,
            "idempotencyKey must be 1–255 characters",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut excluded = Vec::new();
    for _ in 0..MAX_ASSIGN_ATTEMPTS {
        match try_create(st, rc, &nb, &excluded).await? {
            Attempt::Done(c, after) => {
                after.run(st).await;
                publish(st, &c.booking, BookingEventKind::Created).await;
                return Ok(Ok(*c));
            }
            Attempt::Replayed(out) => return Ok(out.map(|c| *c)),
            Attempt::Refused(e) => return Ok(Err(e)),
            Attempt::LostRace(staff) => {
                if nb.staff_member_id.is_some() {
                    break;
                }
                excluded.push(staff);
            }
        }
    }
    Ok(Err(vec![slot_unavailable()]))
}

/// Publishes a change of booking `b` on the event bus (subscriptions).
pub async fn publish(st: &GraphState, b: &booking::Model, kind: BookingEventKind) {
    st.events.publish(Envelope::booking(b, kind)).await;
}

/// Moves a booking to `starts_at` (and optionally another staff member), checked like a
/// new booking but ignoring the booking's own time. Only `PENDING` and `CONFIRMED`
/// bookings move. `by_customer` applies the tenant's cancellation notice and the slot
/// grid. Errors: `NOT_FOUND`. User errors: as [`create`], plus
/// `INVALID_STATUS_TRANSITION`, `CANCELLATION_WINDOW_PASSED`.
pub async fn reschedule(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    starts_at: DateTime<Utc>,
    staff_member_id: Option<Uuid>,
    by_customer: bool,
) -> Result<Outcome<booking::Model>, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let current = visible_booking(&tx, rc, id).await?;
    let status = current.status;
    if !matches!(status, BookingStatus::Pending | BookingStatus::Confirmed) {
        return Ok(Err(vec![UserError::new(
            Some("id"),
            C::InvalidStatusTransition,
            format!("a {} booking cannot be moved", status.as_str()),
        )]));
    }
    // Keep what the booking consists of: its extra services and add-ons.
    let items = scoped::<booking_item::Entity>(rc.tenant_id)
        .filter(booking_item::Column::BookingId.eq(current.id))
        .order_by_asc(booking_item::Column::Position)
        .all(&*tx)
        .await?;
    let extra: Vec<Uuid> = items.iter().skip(1).filter_map(|i| i.service_id).collect();
    let addons: Vec<Uuid> = items.iter().filter_map(|i| i.addon_id).collect();
    let data = load(
        &tx,
        LoadRequest {
            ignore_booking: Some(current.id),
            location: crate::availability::rules::Geo::from_pair(
                current.latitude,
                current.longitude,
            ),
            extra_service_ids: &extra,
            addon_ids: &addons,
            ..LoadRequest::around(
                current.service_id,
                Some(staff_member_id.unwrap_or(current.staff_member_id)),
                starts_at,
            )
        },
    )
    .await?;
    let mut data = match data {
        Ok(d) => d,
        Err(r) => return Ok(Err(vec![load_error(r)])),
    };
    crate::availability::service::route_travel(st, rc.tenant_id, &mut data).await;
    if by_customer && let Err(e) = within_cancellation_window(&data.tenant, &current) {
        return Ok(Err(vec![e]));
    }
    let (chosen, _) = match assign_for(&data, starts_at, by_customer, true) {
        Ok(c) => c,
        Err(r) => return Ok(Err(vec![refusal_error(r)])),
    };
    let rules = data.rules(chosen, now());
    let blocked = rules::blocked_interval(&rules, starts_at);
    let mut am = current.clone().into_active_model();
    am.starts_at = Set(starts_at);
    am.ends_at = Set(starts_at + rules.duration);
    am.blocked_from = Set(blocked.start);
    am.blocked_until = Set(blocked.end);
    am.staff_member_id = Set(chosen.staff.id);
    am.updated_at = Set(now());
    let mut updated = match am.update(&*tx).await {
        Ok(b) => b,
        Err(e) if write_conflict(&e) == Some(WriteConflict::Overlap) => {
            return Ok(Err(vec![slot_unavailable()]));
        }
        Err(e) => return Err(e.into()),
    };
    let change = BookingChange::Rescheduled {
        previous: Box::new(current),
    };
    let after = lifecycle::run_hooks(st, &tx, &mut updated, &change).await?;
    tx.commit().await?;
    after.run(st).await;
    publish(st, &updated, BookingEventKind::Updated).await;
    Ok(Ok(updated))
}

/// The unexpired hold with `token` in the transaction's tenant.
pub async fn active_hold(tx: &Tx, token: &str) -> Result<Option<slot_hold::Model>, ApiError> {
    Ok(scoped::<slot_hold::Entity>(tx.tenant_id())
        .filter(slot_hold::Column::TokenHash.eq(hash_token(token)))
        .filter(slot_hold::Column::ExpiresAt.gt(now()))
        .one(&**tx)
        .await?)
}

/// Default lifetime of a hold (minutes).
pub const DEFAULT_HOLD_MINUTES: i64 = 5;
/// Longest lifetime of a hold (minutes).
pub const MAX_HOLD_MINUTES: i64 = 30;

/// A new hold and its token (shown once).
#[derive(Debug, Clone)]
pub struct NewHold {
    /// The hold.
    pub hold: slot_hold::Model,
    /// The token to convert or release it.
    pub token: String,
}

/// Holds a slot for `ttl_minutes` (default 5, 1–30): it blocks the time for everyone
/// else until it expires, is released, or becomes a booking. Checked with the same
/// rules as a booking (grid required). An anonymous hold carries its client's address
/// key (`client_key`): a client may keep `PUBLIC_HOLDS_PER_CLIENT` and all anonymous
/// clients together `PUBLIC_HOLDS_PER_TENANT` active holds on a tenant. User errors: as
/// [`create`] (no customer ones), `HOLD_LIMIT_REACHED`.
pub async fn hold(
    st: &GraphState,
    rc: &RequestCtx,
    service_id: Uuid,
    staff_member_id: Option<Uuid>,
    starts_at: DateTime<Utc>,
    ttl_minutes: Option<i32>,
    client_key: Option<String>,
) -> Result<Outcome<NewHold>, ApiError> {
    let ttl = i64::from(ttl_minutes.unwrap_or(DEFAULT_HOLD_MINUTES as i32));
    if !(1..=MAX_HOLD_MINUTES).contains(&ttl) {
        return Ok(Err(vec![UserError::new(
            Some("ttlMinutes"),
            C::InvalidInput,
            "a hold lasts 1–30 minutes",
        )]));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    // Lazily drop expired holds of this tenant.
    slot_hold::Entity::delete_many()
        .filter(slot_hold::Column::TenantId.eq(rc.tenant_id))
        .filter(slot_hold::Column::ExpiresAt.lte(now()))
        .exec(&*tx)
        .await?;
    let limits = st.limiter.config();
    if let Some(client) = &client_key
        && limits.enabled
    {
        use sea_orm::PaginatorTrait;
        let public = scoped::<slot_hold::Entity>(rc.tenant_id)
            .filter(slot_hold::Column::ClientKey.is_not_null());
        let tenant_holds = public.clone().count(&*tx).await?;
        let client_holds = public
            .filter(slot_hold::Column::ClientKey.eq(client.as_str()))
            .count(&*tx)
            .await?;
        if tenant_holds >= u64::from(limits.public_holds_per_tenant)
            || client_holds >= u64::from(limits.public_holds_per_client)
        {
            return Ok(Err(vec![UserError::new(
                None,
                C::HoldLimitReached,
                "too many slots are being held; book or release one, or try again in a few minutes",
            )]));
        }
    }
    let data = match load(
        &tx,
        LoadRequest::around(service_id, staff_member_id, starts_at),
    )
    .await?
    {
        Ok(d) => d,
        Err(r) => return Ok(Err(vec![load_error(r)])),
    };
    if !accepts_bookings(&data.tenant) {
        return Ok(Err(vec![UserError::new(
            None,
            C::TenantNotAcceptingBookings,
            "this business is not taking new bookings",
        )]));
    }
    let (chosen, _) = match assign_for(&data, starts_at, true, staff_member_id.is_some()) {
        Ok(c) => c,
        Err(r) => return Ok(Err(vec![refusal_error(r)])),
    };
    let rules = data.rules(chosen, now());
    let blocked = rules::blocked_interval(&rules, starts_at);
    let token = crate::auth::tokens::new_tenant_token("hold", rc.tenant_id);
    let at = now();
    let h = slot_hold::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        staff_member_id: Set(chosen.staff.id),
        service_id: Set(service_id),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + rules.duration),
        blocked_from: Set(blocked.start),
        blocked_until: Set(blocked.end),
        expires_at: Set(at + Duration::minutes(ttl)),
        token_hash: Set(hash_token(&token)),
        created_at: Set(at),
        client_key: Set(client_key),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(NewHold { hold: h, token }))
}

/// Releases a hold early. Returns whether one was released.
pub async fn release_hold(st: &GraphState, rc: &RequestCtx, token: &str) -> Result<bool, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let res = slot_hold::Entity::delete_many()
        .filter(slot_hold::Column::TenantId.eq(rc.tenant_id))
        .filter(slot_hold::Column::TokenHash.eq(hash_token(token)))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(res.rows_affected > 0)
}

/// Refuses a customer change less than the tenant's cancellation notice before start.
fn within_cancellation_window(t: &tenant::Model, b: &booking::Model) -> Result<(), UserError> {
    let deadline = b.starts_at - Duration::hours(i64::from(t.cancellation_notice_hours));
    if now() > deadline {
        return Err(UserError::new(
            None,
            C::CancellationWindowPassed,
            format!(
                "changes are possible until {} hours before the start; please call the business",
                t.cancellation_notice_hours
            ),
        ));
    }
    Ok(())
}

/// Cancels a booking on a customer's behalf (agents), under the tenant's cancellation
/// notice, storing `reason` ([`cancellation_reason`]). Errors: `NOT_FOUND`. User errors:
/// `CANCELLATION_WINDOW_PASSED`, `INVALID_STATUS_TRANSITION`, `INVALID_INPUT`.
pub async fn cancel_on_behalf(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    reason: Option<String>,
) -> Result<Outcome<booking::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let b = visible_booking(&tx, rc, id).await?;
    let t = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    tx.commit().await?;
    if let Err(e) = within_cancellation_window(&t, &b) {
        return Ok(Err(vec![e]));
    }
    set_status(st, rc, id, BookingStatus::Canceled, reason).await
}

/// Finds a public booking by id and cancellation token (constant-time on the hash
/// comparison by looking up the hash). `None` when either is wrong.
pub async fn by_cancellation_token(
    tx: &Tx,
    id: Uuid,
    token: &str,
) -> Result<Option<booking::Model>, ApiError> {
    Ok(scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::CancellationTokenHash.eq(hash_token(token)))
        .one(&**tx)
        .await?)
}

/// Cancels a booking on the customer's behalf with its cancellation token, under the
/// tenant's cancellation notice, storing `reason` ([`cancellation_reason`]). User errors:
/// `NOT_FOUND`, `CANCELLATION_WINDOW_PASSED`, `INVALID_STATUS_TRANSITION`,
/// `INVALID_INPUT`.
pub async fn cancel_by_customer(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    token: &str,
    reason: Option<String>,
) -> Result<Outcome<booking::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let found = by_cancellation_token(&tx, id, token).await?;
    let tenant = tenant::Entity::find_by_id(rc.tenant_id).one(&*tx).await?;
    tx.commit().await?;
    let (Some(b), Some(t)) = (found, tenant) else {
        return Ok(Err(vec![UserError::new(
            Some("bookingId"),
            C::NotFound,
            "booking not found",
        )]));
    };
    if let Err(e) = within_cancellation_window(&t, &b) {
        return Ok(Err(vec![e]));
    }
    set_status(st, rc, b.id, BookingStatus::Canceled, reason).await
}

/// The booking `id` if the caller may see it (technicians: their own only).
async fn visible_booking(tx: &Tx, rc: &RequestCtx, id: Uuid) -> Result<booking::Model, ApiError> {
    scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&**tx)
        .await?
        .filter(|b| visible(rc, b))
        .ok_or(ApiError::NotFound("booking"))
}

/// Applies the technician rule: technicians only see their own staff member's bookings.
fn visible(rc: &RequestCtx, b: &booking::Model) -> bool {
    match rc.technician_scope() {
        None => true,
        Some(own) => own == Some(b.staff_member_id),
    }
}

/// One booking visible to the caller. Errors: `NOT_FOUND`.
pub async fn get(st: &GraphState, rc: &RequestCtx, id: Uuid) -> Result<booking::Model, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let b = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .filter(|b| visible(rc, b))
        .ok_or(ApiError::NotFound("booking"))?;
    tx.commit().await?;
    Ok(b)
}

/// Filter of the `bookings` query.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    /// Bookings starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Bookings starting before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Any of these statuses.
    pub status: Option<Vec<BookingStatus>>,
    /// Only this staff member.
    pub staff_member_id: Option<Uuid>,
}

/// A listed booking's customer, service and staff member, when its page joined them in
/// (each `None` otherwise, or when the row has none). A page shares one `Arc` per
/// distinct row. With [`ListShape`]'s summary flags they are summaries
/// ([`Summary`]): only id, tenant and name are real.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// The booking's customer.
    pub customer: Option<Arc<entities::customer::Model>>,
    /// The service booked.
    pub service: Option<Arc<entities::service::Model>>,
    /// The staff member.
    pub staff_member: Option<Arc<entities::staff_member::Model>>,
}

/// A listed booking with what its page joined in.
pub type WithEdges = (booking::Model, Joined);

/// What a page of bookings reads, decided by the resolver from the GraphQL selection.
/// The default reads every column of the bookings and joins nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListShape {
    /// Join each booking's customer, service and staff member into the page's one
    /// statement (LEFT JOINs on the composite `(tenant_id, id)` relations).
    pub edges: bool,
    /// Read only the bookings' summary columns ([`Summary`]).
    pub summary: bool,
    /// Read only the joined customers' summary columns.
    pub customer_summary: bool,
    /// Read only the joined services' summary columns.
    pub service_summary: bool,
    /// Read only the joined staff members' summary columns.
    pub staff_summary: bool,
}

/// The page statement for `shape`: `q` (filtered, ordered, limited) selecting the
/// booking's columns and, with `edges`, its customer's, service's and staff member's,
/// in the order [`decode_row`] reads them.
fn page_select(q: Select<booking::Entity>, shape: ListShape) -> Select<booking::Entity> {
    fn cols<M: Summary>(q: Select<booking::Entity>, summary: bool) -> Select<booking::Entity> {
        if summary {
            q.columns(M::summary_columns())
        } else {
            q.columns(M::columns())
        }
    }
    let q = cols::<booking::Model>(q.select_only(), shape.summary);
    if !shape.edges {
        return q;
    }
    let q = q
        .join(JoinType::LeftJoin, booking::Relation::Customer.def())
        .join(JoinType::LeftJoin, booking::Relation::Service.def())
        .join(JoinType::LeftJoin, booking::Relation::StaffMember.def());
    let q = cols::<entities::customer::Model>(q, shape.customer_summary);
    let q = cols::<entities::service::Model>(q, shape.service_summary);
    cols::<entities::staff_member::Model>(q, shape.staff_summary)
}

/// The rows of one page already read, by id, so a customer, service or staff member
/// that recurs on the page is decoded once and shared.
#[derive(Default)]
struct Seen {
    customers: HashMap<Uuid, Arc<entities::customer::Model>>,
    services: HashMap<Uuid, Arc<entities::service::Model>>,
    staff: HashMap<Uuid, Arc<entities::staff_member::Model>>,
}

/// Decodes one row of [`page_select`] by column position ([`entities::by_index`]).
fn decode_row(res: &QueryResult, shape: ListShape, seen: &mut Seen) -> Result<WithEdges, DbErr> {
    let at = &mut 0;
    let b = if shape.summary {
        booking::Model::decode_summary(res, at)?
    } else {
        booking::Model::decode(res, at)?
    };
    if !shape.edges {
        return Ok((b, Joined::default()));
    }
    Ok((
        b,
        Joined {
            customer: decode_joined(res, at, shape.customer_summary, &mut seen.customers)?,
            service: decode_joined(res, at, shape.service_summary, &mut seen.services)?,
            staff_member: decode_joined(res, at, shape.staff_summary, &mut seen.staff)?,
        },
    ))
}

/// Lists bookings by start time (keyset pages, see [`crate::pagination`]); technicians
/// get only their own. `shape` says which columns to read and whether each booking's
/// customer, service and staff member come joined in the page's one statement
/// (row-level security applies to every joined table on PostgreSQL). Errors: as
/// [`crate::pagination::paginate_keyset`].
pub async fn list(
    conn: &impl ConnectionTrait,
    rc: &RequestCtx,
    f: BookingFilter,
    args: PageArgs,
    shape: ListShape,
) -> Result<Slice<WithEdges>, ApiError> {
    let mut q = scoped::<booking::Entity>(rc.tenant_id);
    if let Some(from) = f.from {
        q = q.filter(booking::Column::StartsAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(booking::Column::StartsAt.lt(to));
    }
    if let Some(statuses) = f.status.filter(|s| !s.is_empty()) {
        q = q.filter(booking::Column::Status.is_in(statuses));
    }
    if let Some(staff) = f.staff_member_id {
        q = q.filter(booking::Column::StaffMemberId.eq(staff));
    }
    if let Some(own) = rc.technician_scope() {
        q = q.filter(booking::Column::StaffMemberId.eq(own.unwrap_or(Uuid::nil())));
    }
    let keys = Keyset {
        column: booking::Column::StartsAt,
        id: booking::Column::Id,
        key: |b: &booking::Model| KeyCursor {
            k: SortKey::Time(b.starts_at),
            id: b.id,
        },
    };
    paginate_keyset_with(
        conn,
        q,
        keys,
        args,
        |q| async move {
            let stmt = page_select(q, shape).build(conn.get_database_backend());
            let rows = conn.query_all_raw(stmt).await?;
            let mut seen = Seen::default();
            rows.iter()
                .map(|r| decode_row(r, shape, &mut seen))
                .collect()
        },
        |r| &r.0,
    )
    .await
}

/// The longest cancellation reason stored, in characters.
pub const CANCELLATION_REASON_MAX: usize = 500;

/// A cancellation reason as stored: whitespace and control characters collapsed to
/// single spaces, trimmed; `None` when nothing is left. User error `INVALID_INPUT` on
/// `reason` when longer than [`CANCELLATION_REASON_MAX`] characters.
pub fn cancellation_reason(raw: Option<String>) -> Result<Option<String>, UserError> {
    let Some(raw) = raw else { return Ok(None) };
    let words: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let reason = words.join(" ");
    if reason.chars().count() > CANCELLATION_REASON_MAX {
        return Err(UserError::new(
            Some("reason"),
            C::InvalidInput,
            format!("reason is longer than {CANCELLATION_REASON_MAX} characters"),
        ));
    }
    Ok((!reason.is_empty()).then_some(reason))
}

/// Moves a booking to `to` if the lifecycle allows it; a cancellation stores `reason`
/// ([`cancellation_reason`]). Technicians may change only their own bookings and may
/// not cancel. Errors: `NOT_FOUND`, `FORBIDDEN`. User errors:
/// `INVALID_STATUS_TRANSITION`, `INVALID_INPUT` (reason too long; nothing changes).
pub async fn set_status(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    to: BookingStatus,
    reason: Option<String>,
) -> Result<Outcome<booking::Model>, ApiError> {
    if rc.technician_scope().is_some() && to == BookingStatus::Canceled {
        return Err(ApiError::Forbidden(
            "technicians cannot cancel bookings".into(),
        ));
    }
    let reason = match cancellation_reason(reason) {
        Ok(r) => r,
        Err(e) => return Ok(Err(vec![e])),
    };
    let tx = st.db.write(rc.tenant_id).await?;
    // Hooks may change money and schedules (balance charge, abandoned deposits).
    st.db.lock_schedule(&tx).await?;
    let current = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .filter(|b| visible(rc, b))
        .ok_or(ApiError::NotFound("booking"))?;
    let from = current.status;
    let Some((updated, after)) = lifecycle::transition(st, &tx, current, to, reason).await? else {
        return Ok(Err(vec![UserError::new(
            Some("status"),
            C::InvalidStatusTransition,
            format!("a {} booking cannot become {}", from.as_str(), to.as_str()),
        )]));
    };
    tx.commit().await?;
    after.run(st).await;
    let kind = if to == BookingStatus::Canceled {
        BookingEventKind::Canceled
    } else {
        BookingEventKind::Updated
    };
    publish(st, &updated, kind).await;
    Ok(Ok(updated))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    fn sql(shape: ListShape) -> String {
        page_select(scoped::<booking::Entity>(Uuid::nil()), shape)
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn cancellation_reasons_are_one_trimmed_line_of_at_most_500_characters() {
        assert_eq!(cancellation_reason(None).unwrap(), None);
        assert_eq!(cancellation_reason(Some(" \n\t ".into())).unwrap(), None);
        assert_eq!(
            cancellation_reason(Some("  Car\r\nbroke \u{0}down ".into())).unwrap(),
            Some("Car broke down".into())
        );
        let full = "é".repeat(CANCELLATION_REASON_MAX);
        assert_eq!(cancellation_reason(Some(full.clone())).unwrap(), Some(full));
        let e = cancellation_reason(Some("x".repeat(CANCELLATION_REASON_MAX + 1))).unwrap_err();
        assert_eq!(e.code, C::InvalidInput);
        assert_eq!(
            e.field,
            Some(vec!["input".to_string(), "reason".to_string()])
        );
    }

    #[test]
    fn summaries_select_only_the_leading_columns() {
        let full = ListShape {
            edges: true,
            ..ListShape::default()
        };
        let names = ListShape {
            edges: true,
            summary: true,
            customer_summary: true,
            service_summary: true,
            staff_summary: true,
        };
        let (wide, narrow) = (sql(full), sql(names));
        for column in [
            "\"bookings\".\"notes\"",
            "\"customers\".\"email\"",
            "\"services\".\"description\"",
            "\"staff_members\".\"home_latitude\"",
        ] {
            assert!(wide.contains(column), "{wide}");
            assert!(!narrow.contains(column), "{narrow}");
        }
        for column in [
            "\"bookings\".\"status\"",
            "\"customers\".\"name\"",
            "\"services\".\"name\"",
            "\"staff_members\".\"name\"",
        ] {
            assert!(narrow.contains(column), "{narrow}");
        }
        // Without edges nothing is joined.
        assert!(!sql(ListShape::default()).contains("JOIN"));
        assert_eq!(narrow.matches("LEFT JOIN").count(), 3);
    }
}
