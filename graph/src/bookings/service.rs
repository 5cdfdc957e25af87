//! Booking rules: creation (never double-booked), status transitions, listing.
//!
//! Double booking is impossible on both backends:
//! - the overlap check runs inside the writing transaction (on SQLite writers are
//!   serialised, so the check is authoritative);
//! - on PostgreSQL the `bookings_no_overlap` exclusion constraint refuses a concurrent
//!   insert that slipped past the check (SQLSTATE 23P01); the loser gets
//!   `SLOT_UNAVAILABLE`, or, when the staff member was auto-assigned, another qualified
//!   staff member is tried.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entities::{booking, customer, service, staff_member, tenant, working_hours};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::types::{Booking, BookingSource, BookingStatus};
use crate::availability::rules::{
    self, DEFAULT_GRID_MINUTES, Interval, Refusal, SlotRules, WeeklyHours,
};
use crate::context::RequestCtx;
use crate::customers::service::{CleanCustomer, find_or_create_by_phone};
use crate::db::{Tx, WriteConflict, scoped, write_conflict};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::{BookingEventKind, DomainEvent};
use crate::pagination::{Page, PageArgs, paginate};
use crate::state::GraphState;
use crate::util::{new_id, now};

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
}

/// How many staff members an auto-assigned booking tries when it loses races.
const MAX_ASSIGN_ATTEMPTS: usize = 5;

enum Attempt {
    Done(Box<booking::Model>),
    Refused(Vec<UserError>),
    LostRace(Uuid),
}

fn slot_unavailable() -> Vec<UserError> {
    vec![UserError::new(
        Some("startsAt"),
        C::SlotUnavailable,
        "this time is no longer available",
    )]
}

/// The user error for a slot refusal.
pub fn refusal_error(r: Refusal) -> UserError {
    match r {
        Refusal::InThePast => {
            UserError::new(Some("startsAt"), C::InThePast, "the start time has passed")
        }
        Refusal::OutsideWorkingHours => UserError::new(
            Some("startsAt"),
            C::OutsideWorkingHours,
            "outside working hours",
        ),
        Refusal::NotOnGrid => UserError::new(
            Some("startsAt"),
            C::NotOnSlotGrid,
            format!("start times are every {DEFAULT_GRID_MINUTES} minutes from the opening time"),
        ),
        Refusal::Overlap => slot_unavailable().remove(0),
    }
}

/// Parses a tenant's stored timezone.
pub fn tenant_tz(t: &tenant::Model) -> Result<Tz, ApiError> {
    t.timezone
        .parse::<Tz>()
        .map_err(|_| ApiError::Internal(format!("tenant {} has bad timezone", t.id)))
}

/// Loads the weekly hours of `staff` (grouped) in the transaction's tenant.
pub async fn load_hours(
    tx: &Tx,
    staff: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, WeeklyHours>, ApiError> {
    let rows = scoped::<working_hours::Entity>(tx.tenant_id())
        .filter(working_hours::Column::StaffMemberId.is_in(staff.iter().copied()))
        .all(&**tx)
        .await?;
    let mut grouped: std::collections::HashMap<Uuid, Vec<(i16, i32, i32)>> = Default::default();
    for r in rows {
        grouped.entry(r.staff_member_id).or_default().push((
            r.weekday,
            r.start_minute,
            r.end_minute,
        ));
    }
    Ok(grouped
        .into_iter()
        .map(|(k, v)| (k, WeeklyHours::from_rows(v)))
        .collect())
}

/// Loads non-canceled bookings of `staff` that overlap `[from, to)`, sorted by start.
pub async fn load_busy(
    tx: &Tx,
    staff: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<booking::Model>, ApiError> {
    Ok(scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::StaffMemberId.is_in(staff.iter().copied()))
        .filter(booking::Column::Status.ne(BookingStatus::Canceled.as_str()))
        .filter(booking::Column::StartsAt.lt(to))
        .filter(booking::Column::EndsAt.gt(from))
        .order_by_asc(booking::Column::StartsAt)
        .all(&**tx)
        .await?)
}

/// Whether the tenant may take new bookings (`PAST_DUE` and `CANCELED` may not).
pub fn accepts_bookings(t: &tenant::Model) -> bool {
    !matches!(t.status.as_str(), "PAST_DUE" | "CANCELED")
}

async fn try_create(
    st: &GraphState,
    rc: &RequestCtx,
    nb: &NewBooking,
    excluded: &[Uuid],
) -> Result<Attempt, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let tenant = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    if !accepts_bookings(&tenant) {
        return Ok(Attempt::Refused(vec![UserError::new(
            None,
            C::TenantNotAcceptingBookings,
            "this business is not taking new bookings",
        )]));
    }
    let tz = tenant_tz(&tenant)?;
    let Some(svc) = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(nb.service_id))
        .one(&*tx)
        .await?
    else {
        return Ok(Attempt::Refused(vec![UserError::new(
            Some("serviceId"),
            C::NotFound,
            "service not found",
        )]));
    };
    if !svc.active {
        return Ok(Attempt::Refused(vec![UserError::new(
            Some("serviceId"),
            C::ServiceInactive,
            "this service is not bookable",
        )]));
    }
    let mut staff_q =
        scoped::<staff_member::Entity>(rc.tenant_id).order_by_asc(staff_member::Column::Id);
    staff_q = match nb.staff_member_id {
        Some(id) => staff_q.filter(staff_member::Column::Id.eq(id)),
        None => staff_q
            .filter(staff_member::Column::Active.eq(true))
            .filter(staff_member::Column::Id.is_not_in(excluded.iter().copied())),
    };
    let staff = staff_q.all(&*tx).await?;
    if let Some(id) = nb.staff_member_id {
        match staff.first() {
            None => {
                return Ok(Attempt::Refused(vec![UserError::new(
                    Some("staffMemberId"),
                    C::NotFound,
                    "staff member not found",
                )]));
            }
            Some(s) if !s.active => {
                return Ok(Attempt::Refused(vec![UserError::new(
                    Some("staffMemberId"),
                    C::StaffInactive,
                    "this staff member is not bookable",
                )]));
            }
            Some(_) => debug_assert_eq!(staff[0].id, id),
        }
    }
    if staff.is_empty() {
        return Ok(Attempt::Refused(if excluded.is_empty() {
            vec![refusal_error(Refusal::OutsideWorkingHours)]
        } else {
            slot_unavailable()
        }));
    }
    let duration = Duration::minutes(i64::from(svc.duration_minutes));
    let ends_at = nb.starts_at + duration;
    let local_date = nb.starts_at.with_timezone(&tz).date_naive();
    let day_start = rules::local_instant(tz, local_date, 0, false).unwrap_or(nb.starts_at);
    let day_end = local_date
        .succ_opt()
        .and_then(|d| rules::local_instant(tz, d, 0, false))
        .unwrap_or(ends_at);
    let ids: Vec<Uuid> = staff.iter().map(|s| s.id).collect();
    let hours = load_hours(&tx, &ids).await?;
    let busy = load_busy(&tx, &ids, day_start.min(nb.starts_at), day_end.max(ends_at)).await?;
    let mut order: Vec<(usize, Uuid)> = ids
        .iter()
        .map(|id| {
            (
                busy.iter().filter(|b| b.staff_member_id == *id).count(),
                *id,
            )
        })
        .collect();
    if nb.staff_member_id.is_none() {
        order.sort();
    }
    let rules = SlotRules {
        tz,
        duration,
        grid_minutes: DEFAULT_GRID_MINUTES,
        not_before: now(),
    };
    let require_grid = matches!(nb.source, BookingSource::Public | BookingSource::Agent);
    let empty = WeeklyHours::default();
    let mut refusals = Vec::new();
    let mut chosen = None;
    for (_, id) in &order {
        let intervals: Vec<Interval> = busy
            .iter()
            .filter(|b| b.staff_member_id == *id)
            .map(|b| Interval::new(b.starts_at, b.ends_at))
            .collect();
        match rules::check(
            &rules,
            hours.get(id).unwrap_or(&empty),
            &intervals,
            nb.starts_at,
            require_grid,
        ) {
            Ok(()) => {
                chosen = Some(*id);
                break;
            }
            Err(r) => refusals.push(r),
        }
    }
    let Some(staff_id) = chosen else {
        let r = if refusals.contains(&Refusal::Overlap) {
            Refusal::Overlap
        } else {
            refusals
                .first()
                .copied()
                .unwrap_or(Refusal::OutsideWorkingHours)
        };
        return Ok(Attempt::Refused(vec![refusal_error(r)]));
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
                    return Ok(Attempt::Refused(vec![UserError::new(
                        Some("customerId"),
                        C::NotFound,
                        "customer not found",
                    )]));
                }
            }
        }
        CustomerChoice::Details(c) => find_or_create_by_phone(&tx, c.clone()).await?,
    };
    let at = now();
    let inserted = booking::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        customer_id: Set(cust.id),
        service_id: Set(svc.id),
        staff_member_id: Set(staff_id),
        starts_at: Set(nb.starts_at),
        ends_at: Set(ends_at),
        status: Set(nb.status.as_str().into()),
        address: Set(nb.address.clone().or(cust.address.clone())),
        price_cents: Set(svc.price_cents),
        currency: Set(tenant.currency.clone()),
        source: Set(nb.source.as_str().into()),
        notes: Set(nb.notes.clone()),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*tx)
    .await;
    match inserted {
        Ok(b) => {
            tx.commit().await?;
            Ok(Attempt::Done(Box::new(b)))
        }
        Err(e) if write_conflict(&e) == Some(WriteConflict::Overlap) => {
            Ok(Attempt::LostRace(staff_id))
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
/// `SERVICE_INACTIVE`, `STAFF_INACTIVE`, `IN_THE_PAST`, `OUTSIDE_WORKING_HOURS`,
/// `NOT_ON_SLOT_GRID` (public and agent bookings), `SLOT_UNAVAILABLE`,
/// `TENANT_NOT_ACCEPTING_BOOKINGS`, `INVALID_INPUT`.
pub async fn create(
    st: &GraphState,
    rc: &RequestCtx,
    nb: NewBooking,
) -> Result<Outcome<booking::Model>, ApiError> {
    let mut errors = Vec::new();
    check_text(&nb.notes, "notes", 2000, &mut errors);
    check_text(&nb.address, "address", 500, &mut errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut excluded = Vec::new();
    for _ in 0..MAX_ASSIGN_ATTEMPTS {
        match try_create(st, rc, &nb, &excluded).await? {
            Attempt::Done(b) => {
                st.events
                    .publish(DomainEvent {
                        tenant_id: b.tenant_id,
                        booking_id: b.id,
                        staff_member_id: b.staff_member_id,
                        kind: BookingEventKind::Created,
                    })
                    .await;
                return Ok(Ok(*b));
            }
            Attempt::Refused(e) => return Ok(Err(e)),
            Attempt::LostRace(staff) => {
                if nb.staff_member_id.is_some() {
                    break;
                }
                excluded.push(staff);
            }
        }
    }
    Ok(Err(slot_unavailable()))
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

/// Lists bookings by start time; technicians get only their own.
pub async fn list(
    st: &GraphState,
    rc: &RequestCtx,
    f: BookingFilter,
    args: PageArgs,
) -> Result<Page<Booking>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let mut q = scoped::<booking::Entity>(rc.tenant_id)
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id);
    if let Some(from) = f.from {
        q = q.filter(booking::Column::StartsAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(booking::Column::StartsAt.lt(to));
    }
    if let Some(statuses) = f.status.filter(|s| !s.is_empty()) {
        q = q.filter(booking::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    if let Some(staff) = f.staff_member_id {
        q = q.filter(booking::Column::StaffMemberId.eq(staff));
    }
    if let Some(own) = rc.technician_scope() {
        q = q.filter(booking::Column::StaffMemberId.eq(own.unwrap_or(Uuid::nil())));
    }
    let page = paginate(&*tx, q, args, Booking).await?;
    tx.commit().await?;
    Ok(page)
}

/// Moves a booking to `to` if the lifecycle allows it. Technicians may change only
/// their own bookings and may not cancel. Errors: `NOT_FOUND`, `FORBIDDEN`. User error:
/// `INVALID_STATUS_TRANSITION`.
pub async fn set_status(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    to: BookingStatus,
) -> Result<Outcome<booking::Model>, ApiError> {
    if rc.technician_scope().is_some() && to == BookingStatus::Canceled {
        return Err(ApiError::Forbidden(
            "technicians cannot cancel bookings".into(),
        ));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .filter(|b| visible(rc, b))
        .ok_or(ApiError::NotFound("booking"))?;
    let from = BookingStatus::parse(&current.status)
        .ok_or_else(|| ApiError::Internal(format!("booking {id} has bad status")))?;
    let refused = || {
        Ok(Err(vec![UserError::new(
            Some("status"),
            C::InvalidStatusTransition,
            format!("a {} booking cannot become {}", from.as_str(), to.as_str()),
        )]))
    };
    if !from.can_become(to) {
        return refused();
    }
    let at = now();
    let res = booking::Entity::update_many()
        .col_expr(booking::Column::Status, Expr::value(to.as_str()))
        .col_expr(booking::Column::UpdatedAt, Expr::value(at))
        .filter(booking::Column::TenantId.eq(rc.tenant_id))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::Status.eq(from.as_str()))
        .exec(&*tx)
        .await?;
    if res.rows_affected == 0 {
        return refused();
    }
    let updated = booking::Model {
        status: to.as_str().into(),
        updated_at: at,
        ..current
    };
    tx.commit().await?;
    st.events
        .publish(DomainEvent {
            tenant_id: updated.tenant_id,
            booking_id: updated.id,
            staff_member_id: updated.staff_member_id,
            kind: if to == BookingStatus::Canceled {
                BookingEventKind::Canceled
            } else {
                BookingEventKind::Updated
            },
        })
        .await;
    Ok(Ok(updated))
}
