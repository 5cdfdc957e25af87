//! Scheduling settings: tenant booking policy, date overrides and holidays, time off,
//! and which staff members perform which services.

pub mod service;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{availability_override, staff_service, time_off};

use crate::auth::types::Tenant;
use crate::error::{Outcome, UserError};
use crate::guards::{MANAGE, RoleGuard};
use crate::staff::types::{WorkingIntervalInput, format_minute};
use crate::state::{caller, state};
use crate::util::parse_id;

/// Input of `updateBookingPolicy`: omitted fields are unchanged.
#[derive(InputObject, Debug, Clone, Default)]
pub struct BookingPolicyInput {
    /// Default slot grid in minutes: 5, 10, 15, 20, 30 or 60.
    pub slot_interval_minutes: Option<i32>,
    /// Default minimum notice before a start, minutes (0–43200).
    pub min_notice_minutes: Option<i32>,
    /// How far ahead bookings may be made, days (1–731: up to two years).
    pub horizon_days: Option<i32>,
    /// Customers may cancel or reschedule until this many hours before the start
    /// (0–720).
    pub cancellation_notice_hours: Option<i32>,
    /// How bookings without a chosen staff member are assigned.
    pub assignment_policy: Option<crate::auth::types::AssignmentPolicy>,
    /// Built-in travel estimate: road ÷ straight-line distance (1–3; default 1.3).
    pub travel_detour_factor: Option<f64>,
    /// Built-in travel estimate: average speed in km/h (5–130; default 40).
    pub travel_speed_kmh: Option<f64>,
}

/// Result of `updateBookingPolicy`.
#[derive(SimpleObject, Default)]
pub struct BookingPolicyPayload {
    /// The tenant after the change.
    pub tenant: Option<Tenant>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

/// One interval of a date override, local time.
#[derive(SimpleObject, Clone, Debug)]
pub struct OverrideInterval {
    /// Start, `HH:MM`.
    pub start_time: String,
    /// End, `HH:MM` (exclusive).
    pub end_time: String,
}

/// The hours of one local date that replace the weekly schedule (or close the business).
#[derive(SimpleObject, Clone, Debug)]
pub struct AvailabilityOverride {
    /// The staff member; null = the whole business (a holiday).
    pub staff_member_id: Option<ID>,
    /// Local date.
    pub date: NaiveDate,
    /// Working intervals that day; empty = closed.
    pub intervals: Vec<OverrideInterval>,
    /// Why.
    pub note: Option<String>,
}

/// Groups override rows (same staff member and date) into [`AvailabilityOverride`]s.
pub fn group_overrides(rows: Vec<availability_override::Model>) -> Vec<AvailabilityOverride> {
    let mut out: Vec<AvailabilityOverride> = Vec::new();
    for r in rows {
        let staff = r.staff_member_id.map(|s| ID(s.to_string()));
        let interval = r
            .start_minute
            .zip(r.end_minute)
            .map(|(s, e)| OverrideInterval {
                start_time: format_minute(s),
                end_time: format_minute(e),
            });
        match out.last_mut() {
            Some(last) if last.date == r.date && last.staff_member_id == staff => {
                last.intervals.extend(interval);
            }
            _ => out.push(AvailabilityOverride {
                staff_member_id: staff,
                date: r.date,
                intervals: interval.into_iter().collect(),
                note: r.note,
            }),
        }
    }
    out
}

/// Input of `setAvailabilityOverride`.
#[derive(InputObject, Debug, Clone)]
pub struct AvailabilityOverrideInput {
    /// The staff member; omit to close the whole business that day (holiday).
    pub staff_member_id: Option<ID>,
    /// Local date.
    pub date: NaiveDate,
    /// Hours that day (weekday ignored); empty = day off. Must be empty for a holiday.
    #[graphql(default)]
    pub intervals: Vec<WorkingIntervalInput>,
    /// Why (shown to operators).
    pub note: Option<String>,
}

/// Result of `setAvailabilityOverride` and `clearAvailabilityOverride`.
#[derive(SimpleObject, Default)]
pub struct AvailabilityOverridePayload {
    /// The override now in force (null after clearing).
    pub availability_override: Option<AvailabilityOverride>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

/// A staff member's absence.
#[derive(SimpleObject, Clone, Debug)]
pub struct TimeOff {
    /// Id.
    pub id: ID,
    /// The staff member.
    pub staff_member_id: ID,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC, exclusive).
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub reason: Option<String>,
}

impl From<time_off::Model> for TimeOff {
    fn from(m: time_off::Model) -> Self {
        TimeOff {
            id: ID(m.id.to_string()),
            staff_member_id: ID(m.staff_member_id.to_string()),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            reason: m.reason,
        }
    }
}

/// Input of `addTimeOff`.
#[derive(InputObject, Debug, Clone)]
pub struct TimeOffInput {
    /// The staff member.
    pub staff_member_id: ID,
    /// Start (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// End (RFC 3339), after the start, at most 366 days later.
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub reason: Option<String>,
}

/// Result of `addTimeOff` / `deleteTimeOff`.
#[derive(SimpleObject, Default)]
pub struct TimeOffPayload {
    /// The time off (null after deleting).
    pub time_off: Option<TimeOff>,
    /// Bookings of the staff member that overlap it and need moving (not changed).
    pub conflicting_booking_ids: Vec<ID>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

/// One service a staff member performs, with optional overrides.
#[derive(SimpleObject, Clone, Debug)]
pub struct StaffService {
    /// The service.
    pub service_id: ID,
    /// This staff member's price in cents; null = the service's.
    pub price_cents: Option<i64>,
    /// This staff member's duration in minutes; null = the service's.
    pub duration_minutes: Option<i32>,
}

impl From<staff_service::Model> for StaffService {
    fn from(m: staff_service::Model) -> Self {
        StaffService {
            service_id: ID(m.service_id.to_string()),
            price_cents: m.price_cents,
            duration_minutes: m.duration_minutes,
        }
    }
}

/// One service to assign.
#[derive(InputObject, Debug, Clone)]
pub struct StaffServiceInput {
    /// The service.
    pub service_id: ID,
    /// This staff member's price in cents (≥ 0); omit for the service's.
    pub price_cents: Option<i64>,
    /// This staff member's duration in minutes (5–1440); omit for the service's.
    pub duration_minutes: Option<i32>,
}

/// Result of `setStaffServices`.
#[derive(SimpleObject, Default)]
pub struct StaffServicesPayload {
    /// The services the staff member now performs.
    pub services: Vec<StaffService>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

fn outcome<T: Default>(o: Outcome<T>, err: impl FnOnce(Vec<UserError>) -> T) -> T {
    match o {
        Ok(v) => v,
        Err(e) => err(e),
    }
}

/// Scheduling queries.
#[derive(Default)]
pub struct SchedulingQuery;

/// Scheduling queries.
#[Object]
impl SchedulingQuery {
    /// Date overrides and holidays between local dates `from` and `to` (inclusive, at
    /// most 366 days), by date. Errors: `UNAUTHENTICATED`, `BAD_USER_INPUT`.
    async fn availability_overrides(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(desc = "Only this staff member's (holidays are always included).")]
        staff_member_id: Option<ID>,
    ) -> async_graphql::Result<Vec<AvailabilityOverride>> {
        let rc = caller(ctx)?;
        let staff = staff_member_id
            .as_ref()
            .map(|s| parse_id(s, "staffMemberId"))
            .transpose()?;
        Ok(group_overrides(
            service::list_overrides(state(ctx)?, rc, from, to, staff).await?,
        ))
    }

    /// Time off overlapping `[from, to)`, by start. Technicians see their own. Errors:
    /// `UNAUTHENTICATED`.
    async fn time_off(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        staff_member_id: Option<ID>,
    ) -> async_graphql::Result<Vec<TimeOff>> {
        let rc = caller(ctx)?;
        let staff = staff_member_id
            .as_ref()
            .map(|s| parse_id(s, "staffMemberId"))
            .transpose()?;
        Ok(service::list_time_off(state(ctx)?, rc, from, to, staff)
            .await?
            .into_iter()
            .map(TimeOff::from)
            .collect())
    }

    /// The services a staff member performs (empty: none assigned, so every service
    /// without assignments). Errors: `UNAUTHENTICATED`, `NOT_FOUND`.
    async fn staff_services(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
    ) -> async_graphql::Result<Vec<StaffService>> {
        let rc = caller(ctx)?;
        let staff = parse_id(&staff_member_id, "staffMemberId")?;
        Ok(service::list_staff_services(state(ctx)?, rc, staff)
            .await?
            .into_iter()
            .map(StaffService::from)
            .collect())
    }
}

/// Scheduling mutations (owners and managers).
#[derive(Default)]
pub struct SchedulingMutation;

/// Scheduling mutations (owners and managers).
#[Object]
impl SchedulingMutation {
    /// Changes the tenant's booking policy (slot grid, notice, horizon, cancellation
    /// notice). Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors: `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn update_booking_policy(
        &self,
        ctx: &Context<'_>,
        input: BookingPolicyInput,
    ) -> async_graphql::Result<BookingPolicyPayload> {
        let rc = caller(ctx)?;
        let o = service::update_policy(state(ctx)?, rc, input).await?;
        Ok(outcome(
            o.map(|t| BookingPolicyPayload {
                tenant: Some(Tenant(t)),
                user_errors: vec![],
            }),
            |e| BookingPolicyPayload {
                tenant: None,
                user_errors: e,
            },
        ))
    }

    /// Sets the hours of one local date for a staff member (or closes the business that
    /// day), replacing any earlier override of that date. Existing bookings are kept.
    /// Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors: `INVALID_INPUT`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn set_availability_override(
        &self,
        ctx: &Context<'_>,
        input: AvailabilityOverrideInput,
    ) -> async_graphql::Result<AvailabilityOverridePayload> {
        let rc = caller(ctx)?;
        let o = service::set_override(state(ctx)?, rc, input).await?;
        Ok(outcome(
            o.map(|rows| AvailabilityOverridePayload {
                availability_override: group_overrides(rows).into_iter().next(),
                user_errors: vec![],
            }),
            |e| AvailabilityOverridePayload {
                availability_override: None,
                user_errors: e,
            },
        ))
    }

    /// Removes the override of `date` (the weekly hours apply again). Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn clear_availability_override(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The staff member; omit for a business holiday.")] staff_member_id: Option<
            ID,
        >,
        date: NaiveDate,
    ) -> async_graphql::Result<AvailabilityOverridePayload> {
        let rc = caller(ctx)?;
        let staff = staff_member_id
            .as_ref()
            .map(|s| parse_id(s, "staffMemberId"))
            .transpose()?;
        service::clear_override(state(ctx)?, rc, staff, date).await?;
        Ok(AvailabilityOverridePayload::default())
    }

    /// Records time off for a staff member. Bookings already in that time are listed in
    /// `conflictingBookingIds`, not canceled. Errors: `UNAUTHENTICATED`, `FORBIDDEN`.
    /// User errors: `INVALID_INPUT`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn add_time_off(
        &self,
        ctx: &Context<'_>,
        input: TimeOffInput,
    ) -> async_graphql::Result<TimeOffPayload> {
        let rc = caller(ctx)?;
        let o = service::add_time_off(state(ctx)?, rc, input).await?;
        Ok(outcome(
            o.map(|(t, conflicts)| TimeOffPayload {
                time_off: Some(TimeOff::from(t)),
                conflicting_booking_ids: conflicts
                    .into_iter()
                    .map(|id| ID(id.to_string()))
                    .collect(),
                user_errors: vec![],
            }),
            |e| TimeOffPayload {
                user_errors: e,
                ..Default::default()
            },
        ))
    }

    /// Deletes time off. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn delete_time_off(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<TimeOffPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        service::delete_time_off(state(ctx)?, rc, id).await?;
        Ok(TimeOffPayload::default())
    }

    /// Sets the services a staff member performs (replacing the list), with optional
    /// per-staff price and duration. A service assigned to nobody is performed by every
    /// active staff member. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`. User
    /// errors: `INVALID_INPUT`, `NOT_FOUND` (a service).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn set_staff_services(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
        services: Vec<StaffServiceInput>,
    ) -> async_graphql::Result<StaffServicesPayload> {
        let rc = caller(ctx)?;
        let staff = parse_id(&staff_member_id, "staffMemberId")?;
        let o = service::set_staff_services(state(ctx)?, rc, staff, services).await?;
        Ok(outcome(
            o.map(|rows| StaffServicesPayload {
                services: rows.into_iter().map(StaffService::from).collect(),
                user_errors: vec![],
            }),
            |e| StaffServicesPayload {
                services: vec![],
                user_errors: e,
            },
        ))
    }
}
