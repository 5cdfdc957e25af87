//! Routing and dispatch (issue 11): the best visiting order of a staff member's day
//! (`optimizeRoute` / `applyRoute`) and the `routeUpdated` subscription for the dispatch
//! board. The solver is the pure `routing` crate; drive times come from
//! [`travel::travel_matrix`].

pub mod service;
pub mod travel;

use async_graphql::{Context, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt};

use crate::bookings::types::Booking;
use crate::error::UserError;
use crate::events::DomainEvent;
use crate::guards::{RoleGuard, USERS};
use crate::state::{caller, state};
use crate::util::parse_id;
use service::{DayPlan, DriveTotals};
use travel::TravelSource;

fn minutes(seconds: i64) -> i32 {
    ((seconds as f64) / 60.0).round() as i32
}

fn km(metres: i64) -> f64 {
    (metres as f64 / 100.0).round() / 10.0
}

/// Drive totals of one order of the day, from the home base back to it.
#[derive(SimpleObject, Clone, Debug)]
pub struct RouteTotals {
    /// Drive time, minutes (rounded).
    pub drive_minutes: i32,
    /// Drive time, seconds.
    pub drive_seconds: i64,
    /// Distance, kilometres (one decimal).
    pub kilometres: f64,
}

impl From<DriveTotals> for RouteTotals {
    fn from(t: DriveTotals) -> Self {
        RouteTotals {
            drive_minutes: minutes(t.drive_seconds),
            drive_seconds: t.drive_seconds,
            kilometres: km(t.distance_metres),
        }
    }
}

/// One stop of a planned route.
#[derive(SimpleObject, Clone)]
pub struct RouteStop {
    /// 1-based position on the route.
    pub position: i32,
    /// The booking.
    pub booking: Booking,
    /// Planned arrival at the door (UTC), inside the arrival window.
    pub planned_arrival_at: DateTime<Utc>,
    /// Planned departure (UTC): arrival plus the booking's length.
    pub planned_departure_at: DateTime<Utc>,
    /// Earliest allowed arrival (the booked start).
    pub window_start: DateTime<Utc>,
    /// Latest allowed arrival (booked start + arrival window, clipped to working hours).
    pub window_end: DateTime<Utc>,
    /// Drive of the leg into this stop, minutes.
    pub drive_minutes: i32,
    /// Distance of the leg into this stop, kilometres.
    pub kilometres: f64,
    /// Minutes on site before the window opens (arrived early).
    pub wait_minutes: i32,
    /// False for a booking without a location: kept at its booked time, no drive counted.
    pub located: bool,
}

/// A booking a plan could not place.
#[derive(SimpleObject, Clone)]
pub struct UnplannedBooking {
    /// The booking (it keeps its booked time).
    pub booking: Booking,
    /// The solver's reason: `NO_SKILL`, `TIME_WINDOW`, `SHIFT`, `CAPACITY` or `NO_ROOM`.
    pub reason: String,
}

/// A proposed order of one staff member's day, with what it saves.
#[derive(SimpleObject, Clone)]
pub struct RoutePlan {
    /// The staff member.
    pub staff_member_id: ID,
    /// The local date (tenant timezone).
    pub date: NaiveDate,
    /// The stops in the proposed order.
    pub stops: Vec<RouteStop>,
    /// Totals of the proposed order.
    pub proposed: RouteTotals,
    /// Totals of the booked order, each booking at its booked time.
    pub current: RouteTotals,
    /// Whether the booked order can be driven within the windows and working hours.
    pub current_feasible: bool,
    /// Drive minutes saved against the booked order (negative when the booked order
    /// misses a window and the proposal must drive more).
    pub saved_minutes: i32,
    /// Kilometres saved against the booked order.
    pub saved_kilometres: f64,
    /// "saves 45 min, 32 km".
    pub summary: String,
    /// Bookings the plan could not place, with the reason.
    pub unplanned: Vec<UnplannedBooking>,
    /// Bookings without a location (kept at their booked time).
    pub unlocated_booking_ids: Vec<ID>,
    /// Whether the order is provably optimal (exact solver, ≤ 12 stops).
    pub exact: bool,
    /// Which travel estimate was used.
    pub travel_source: TravelSource,
    /// Pass to `applyRoute`; refused with `STALE_PLAN` when the day changed since.
    pub token: String,
}

impl From<DayPlan> for RoutePlan {
    fn from(p: DayPlan) -> Self {
        RoutePlan {
            staff_member_id: ID(p.staff_member_id.to_string()),
            date: p.date,
            saved_minutes: minutes(p.saved_seconds()),
            saved_kilometres: km(p.saved_metres()),
            summary: p.summary(),
            proposed: p.proposed.into(),
            current: p.current.into(),
            current_feasible: p.current_feasible,
            exact: p.exact,
            travel_source: p.travel_source,
            unlocated_booking_ids: p.unlocated.iter().map(|id| ID(id.to_string())).collect(),
            unplanned: p
                .unplanned
                .into_iter()
                .map(|u| UnplannedBooking {
                    booking: Booking(u.booking),
                    reason: u.reason.to_string(),
                })
                .collect(),
            stops: p
                .stops
                .into_iter()
                .map(|s| RouteStop {
                    position: s.position,
                    planned_arrival_at: s.arrival,
                    planned_departure_at: s.departure,
                    window_start: s.window.0,
                    window_end: s.window.1,
                    drive_minutes: minutes(s.drive_seconds),
                    kilometres: km(s.distance_metres),
                    wait_minutes: minutes(s.wait_seconds),
                    located: s.located,
                    booking: Booking(s.booking),
                })
                .collect(),
            token: p.token,
        }
    }
}

/// Result of `applyRoute`.
#[derive(SimpleObject, Default)]
pub struct ApplyRoutePayload {
    /// The plan as applied.
    pub plan: Option<RoutePlan>,
    /// Why nothing was applied (`STALE_PLAN`).
    pub user_errors: Vec<UserError>,
}

/// Route planning queries.
#[derive(Default)]
pub struct DispatchQuery;

/// Route planning queries.
#[Object]
impl DispatchQuery {
    /// The shortest feasible visiting order of a staff member's live bookings on local
    /// `date`: each booking's arrival window is `[startsAt, startsAt +
    /// arrivalWindowMinutes]` clipped to the working hours; the day starts and ends at the
    /// home base (else the first job). Exact for ≤ 12 stops. Owners, managers, and
    /// technicians for their own staff member. Errors: `UNAUTHENTICATED`, `FORBIDDEN`,
    /// `NOT_FOUND`, `BAD_USER_INPUT`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn optimize_route(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
        date: NaiveDate,
        #[graphql(
            default = 120,
            desc = "Length of the promised arrival window (0–1440)."
        )]
        arrival_window_minutes: i32,
    ) -> async_graphql::Result<RoutePlan> {
        let rc = caller(ctx)?;
        let staff = parse_id(&staff_member_id, "staffMemberId")?;
        Ok(
            service::optimize_route(state(ctx)?, rc, staff, date, arrival_window_minutes)
                .await?
                .into(),
        )
    }
}

/// Route planning mutations.
#[derive(Default)]
pub struct DispatchMutation;

/// Route planning mutations.
#[Object]
impl DispatchMutation {
    /// Applies the plan `optimizeRoute` proposed: under the tenant's schedule lock the plan
    /// is recomputed; when the day changed (token mismatch) nothing is written and the
    /// answer is `STALE_PLAN`; else the bookings get their planned arrival and route
    /// position and `routeUpdated` fires. Errors: `UNAUTHENTICATED`, `FORBIDDEN`,
    /// `NOT_FOUND`, `BAD_USER_INPUT`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn apply_route(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
        date: NaiveDate,
        token: String,
        #[graphql(default = 120, desc = "As passed to `optimizeRoute`.")]
        arrival_window_minutes: i32,
    ) -> async_graphql::Result<ApplyRoutePayload> {
        let rc = caller(ctx)?;
        let staff = parse_id(&staff_member_id, "staffMemberId")?;
        let st = state(ctx)?;
        Ok(
            match service::apply_route(st, rc, staff, date, arrival_window_minutes, &token).await? {
                Ok(plan) => ApplyRoutePayload {
                    plan: Some(plan.into()),
                    user_errors: vec![],
                },
                Err(user_errors) => ApplyRoutePayload {
                    plan: None,
                    user_errors,
                },
            },
        )
    }
}

/// An applied route (for the dispatch board).
#[derive(SimpleObject, Clone, Debug)]
pub struct RouteUpdated {
    /// The staff member whose route changed.
    pub staff_member_id: ID,
    /// The local date.
    pub date: NaiveDate,
}

/// Route subscriptions.
#[derive(Default)]
pub struct DispatchSubscription;

#[Subscription]
impl DispatchSubscription {
    /// Routes applied for local `date` in the caller's tenant, live; technicians receive
    /// only their own. Errors: `UNAUTHENTICATED`.
    async fn route_updated(
        &self,
        ctx: &Context<'_>,
        date: NaiveDate,
    ) -> async_graphql::Result<impl Stream<Item = RouteUpdated> + use<>> {
        let rc = caller(ctx)?.clone();
        let st = state(ctx)?;
        Ok(st.events.stream_for(&rc).filter_map(move |ev| {
            futures::future::ready(match ev {
                DomainEvent::Route(r) if r.date == date => Some(RouteUpdated {
                    staff_member_id: ID(r.staff_member_id.to_string()),
                    date: r.date,
                }),
                _ => None,
            })
        }))
    }
}
