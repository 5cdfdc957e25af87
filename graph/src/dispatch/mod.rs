//! Routing and dispatch (issue 11): the best visiting order of a staff member's day
//! (`optimizeRoute` / `applyRoute`) and the `routeUpdated` subscription for the dispatch
//! board. The solver is the pure `routing` crate; drive times come from
//! [`travel::travel_matrix`].

pub mod service;
pub mod team;
pub mod travel;

use async_graphql::{Context, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt};

use crate::bookings::types::Booking;
use crate::error::UserError;
use crate::events::DomainEvent;
use crate::guards::{MANAGE, RoleGuard, USERS};
use crate::staff::types::StaffMember;
use crate::state::{caller, state};
use crate::util::parse_id;
use service::{DayPlan, DriveTotals, PlannedStop, Unplanned};
use team::TeamPlan;
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

impl From<PlannedStop> for RouteStop {
    fn from(s: PlannedStop) -> Self {
        RouteStop {
            position: s.position,
            planned_arrival_at: s.arrival,
            planned_departure_at: s.departure,
            window_start: s.window.0,
            window_end: s.window.1,
            drive_minutes: minutes(s.drive_seconds),
            kilometres: km(s.distance_metres),
            wait_minutes: minutes(s.wait_seconds),
            located: s.located,
            booking: Booking::from(s.booking),
        }
    }
}

/// A booking a plan could not place.
#[derive(SimpleObject, Clone)]
pub struct UnplannedBooking {
    /// The booking (it keeps its booked time).
    pub booking: Booking,
    /// Why: the solver's `NO_SKILL`, `TIME_WINDOW`, `SHIFT`, `CAPACITY` or `NO_ROOM`;
    /// for `dispatchDay` also why no staff member may take it at its booked time
    /// (`NOT_QUALIFIED`, `DAY_OFF`, `OUTSIDE_WORKING_HOURS`, `TIME_OFF`,
    /// `CALENDAR_BUSY`, `HELD`, `OUTSIDE_SERVICE_AREA`) or `CONFLICT` (a move would
    /// overlap a booking that stays).
    pub reason: String,
}

impl From<Unplanned> for UnplannedBooking {
    fn from(u: Unplanned) -> Self {
        UnplannedBooking {
            booking: Booking::from(u.booking),
            reason: u.reason.to_string(),
        }
    }
}

/// One staff member's day in a team plan.
#[derive(SimpleObject, Clone)]
pub struct StaffRoutePlan {
    /// The staff member.
    pub staff_member: StaffMember,
    /// The planned stops in visiting order (bookings the plan could not place are in
    /// `DispatchPlan.unplanned` and keep their time).
    pub stops: Vec<RouteStop>,
    /// Drive of the planned day, home to home.
    pub proposed: RouteTotals,
    /// Drive of the day as booked now, home to home.
    pub current: RouteTotals,
}

/// A booking a team plan gives to another staff member (same booked time).
#[derive(SimpleObject, Clone)]
pub struct BookingMove {
    /// The booking, as it is now.
    pub booking: Booking,
    /// Its staff member now.
    pub from_staff_member_id: ID,
    /// Its staff member in the plan.
    pub to_staff_member_id: ID,
}

/// A proposed plan for the whole team's day: who does which booking, in which order.
#[derive(SimpleObject, Clone)]
pub struct DispatchPlan {
    /// The local date (tenant timezone).
    pub date: NaiveDate,
    /// Every staff member working or booked that day, by name.
    pub routes: Vec<StaffRoutePlan>,
    /// The bookings that change staff member.
    pub moves: Vec<BookingMove>,
    /// Bookings the plan could not place, with the reason; they keep their staff
    /// member and time.
    pub unplanned: Vec<UnplannedBooking>,
    /// Bookings without a location (placed at their booked time, no drive counted).
    pub unlocated_booking_ids: Vec<ID>,
    /// The team's drive in the plan.
    pub proposed: RouteTotals,
    /// The team's drive as booked now.
    pub current: RouteTotals,
    /// Drive minutes saved against the current assignment and order.
    pub saved_minutes: i32,
    /// Kilometres saved against the current assignment and order.
    pub saved_kilometres: f64,
    /// "saves 45 min, 32 km".
    pub summary: String,
    /// Which travel estimate was used.
    pub travel_source: TravelSource,
    /// Pass to `applyDispatch`; refused with `STALE_PLAN` when the day changed since.
    pub token: String,
}

impl From<TeamPlan> for DispatchPlan {
    fn from(p: TeamPlan) -> Self {
        let id = |u: uuid::Uuid| ID(u.to_string());
        DispatchPlan {
            date: p.date,
            summary: p.summary(),
            saved_minutes: minutes(p.current.drive_seconds - p.proposed.drive_seconds),
            saved_kilometres: km(p.current.distance_metres - p.proposed.distance_metres),
            proposed: p.proposed.into(),
            current: p.current.into(),
            routes: p
                .routes
                .into_iter()
                .map(|r| StaffRoutePlan {
                    staff_member: StaffMember(r.staff),
                    stops: r.stops.into_iter().map(RouteStop::from).collect(),
                    proposed: r.proposed.into(),
                    current: r.current.into(),
                })
                .collect(),
            moves: p
                .moves
                .into_iter()
                .map(|m| BookingMove {
                    from_staff_member_id: id(m.from),
                    to_staff_member_id: id(m.to),
                    booking: Booking::from(m.booking),
                })
                .collect(),
            unplanned: p
                .unplanned
                .into_iter()
                .map(UnplannedBooking::from)
                .collect(),
            unlocated_booking_ids: p.unlocated.into_iter().map(id).collect(),
            travel_source: p.travel_source,
            token: p.token,
        }
    }
}

/// Result of `applyDispatch`.
#[derive(SimpleObject, Default)]
pub struct ApplyDispatchPayload {
    /// The plan as applied.
    pub plan: Option<DispatchPlan>,
    /// Why nothing was applied (`STALE_PLAN`).
    pub user_errors: Vec<UserError>,
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
                .map(UnplannedBooking::from)
                .collect(),
            stops: p.stops.into_iter().map(RouteStop::from).collect(),
            token: p.token,
        }
    }
}

/// Result of `applyRoute`.
#[derive(SimpleObject, Default)]
pub struct ApplyRoutePayload {
    /// The plan as applied.
    pub plan: Option<RoutePlan>,
    /// On-the-way texts scheduled (one per confirmed customer, sent when the staff
    /// member sets off for them, with the planned arrival).
    pub on_the_way_texts: i32,
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

    /// The best plan for the whole team's day on local `date`: bookings the system
    /// assigned ("any staff member", not started) may go to another staff member who
    /// performs their services, covers their address and is free at their booked time;
    /// every other booking stays with its staff member; every booking keeps its booked
    /// time, is reached inside its arrival window `[startsAt, startsAt +
    /// arrivalWindowMinutes]` and ends inside its staff member's working hours; no staff
    /// member gets two overlapping bookings. Minimises the team's drive (ruin-and-recreate
    /// heuristic, deterministic). Owners and managers. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `BAD_USER_INPUT` (window out of range, more than 400 bookings).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn dispatch_day(
        &self,
        ctx: &Context<'_>,
        date: NaiveDate,
        #[graphql(
            default = 120,
            desc = "Length of the promised arrival window (0–1440)."
        )]
        arrival_window_minutes: i32,
    ) -> async_graphql::Result<DispatchPlan> {
        let rc = caller(ctx)?;
        Ok(
            team::dispatch_day(state(ctx)?, rc, date, arrival_window_minutes)
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
    /// position, each confirmed customer's on-the-way text is scheduled for when the
    /// staff member sets off for them ("… will arrive around 10:35 AM"; unless
    /// `notifyCustomers: false` or automatic messages are off), and `routeUpdated` fires. Errors: `UNAUTHENTICATED`, `FORBIDDEN`,
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
        #[graphql(
            default = true,
            desc = "Schedule each confirmed customer's on-the-way text (with the planned \
                    arrival) for when the staff member sets off for them."
        )]
        notify_customers: bool,
    ) -> async_graphql::Result<ApplyRoutePayload> {
        let rc = caller(ctx)?;
        let staff = parse_id(&staff_member_id, "staffMemberId")?;
        let st = state(ctx)?;
        Ok(
            match service::apply_route(
                st,
                rc,
                staff,
                date,
                arrival_window_minutes,
                &token,
                notify_customers,
            )
            .await?
            {
                Ok((plan, texts)) => ApplyRoutePayload {
                    plan: Some(plan.into()),
                    on_the_way_texts: texts as i32,
                    user_errors: vec![],
                },
                Err(user_errors) => ApplyRoutePayload {
                    user_errors,
                    ..Default::default()
                },
            },
        )
    }

    /// Applies the plan `dispatchDay` proposed: under the tenant's schedule lock the plan
    /// is recomputed; when the day changed (token mismatch) or a move would now overlap
    /// another booking nothing is written (`STALE_PLAN`); else, in one transaction, moved
    /// bookings get their new staff member (`assignmentReason` says so; calendars follow)
    /// and every planned booking its planned arrival and route position, then
    /// `routeUpdated` fires for each staff member. Owners and managers. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn apply_dispatch(
        &self,
        ctx: &Context<'_>,
        date: NaiveDate,
        token: String,
        #[graphql(default = 120, desc = "As passed to `dispatchDay`.")] arrival_window_minutes: i32,
    ) -> async_graphql::Result<ApplyDispatchPayload> {
        let rc = caller(ctx)?;
        Ok(
            match team::apply_dispatch(state(ctx)?, rc, date, arrival_window_minutes, &token)
                .await?
            {
                Ok(plan) => ApplyDispatchPayload {
                    plan: Some(plan.into()),
                    user_errors: vec![],
                },
                Err(user_errors) => ApplyDispatchPayload {
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
