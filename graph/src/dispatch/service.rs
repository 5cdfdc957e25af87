//! Route planning rules: load one staff member's day, turn it into a [`routing::Problem`],
//! solve it (exactly for ≤ 12 stops), compare with the booked order, and apply a plan
//! under the tenant's schedule lock when it is still current.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::kinds::BookingStatus;
use entities::{availability_override, booking, staff_member, tenant, working_hours};
use integrations::GeoPoint;
use routing::{
    Budget, Job, MAX_EXACT_STOPS, Matrix, Problem, Route, SolveOptions, TimeWindow, Vehicle,
};
use sea_orm::sea_query::Condition;
use sea_orm::{ActiveModelTrait, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::travel::{TravelSource, travel_matrix};
use crate::availability::data::{date_range_utc, tenant_tz, territory};
use crate::availability::rules::{Overrides, StaffSchedule, WeeklyHours, windows_on};
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode};
use crate::events::{BookingEventKind, Envelope};
use crate::state::GraphState;
use crate::util::now;

/// Longest arrival window a caller may ask for, minutes (a whole day).
pub const MAX_WINDOW_MINUTES: i32 = 24 * 60;

/// Iterations of the heuristic for days of more than [`MAX_EXACT_STOPS`] stops
/// (deterministic for a seed, so a re-computation at apply time gives the same plan).
const HEURISTIC_ITERATIONS: u64 = 3_000;

/// One stop of a planned route.
#[derive(Debug, Clone)]
pub struct PlannedStop {
    /// The booking.
    pub booking: booking::Model,
    /// 1-based position on the route.
    pub position: i32,
    /// When the staff member starts at the door (inside the arrival window).
    pub arrival: DateTime<Utc>,
    /// When the staff member leaves.
    pub departure: DateTime<Utc>,
    /// Time spent waiting on site before `arrival` (arrived before the window opened).
    pub wait_seconds: i64,
    /// Drive of the leg into this stop, seconds.
    pub drive_seconds: i64,
    /// Distance of the leg into this stop, metres.
    pub distance_metres: i64,
    /// The allowed arrival window.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// Whether the booking has a location (others are kept at their booked time and
    /// counted with no drive).
    pub located: bool,
}

/// Drive totals of one order of the day, home to home.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveTotals {
    /// Seconds.
    pub drive_seconds: i64,
    /// Metres.
    pub distance_metres: i64,
}

/// A booking the plan leaves out, with the solver's reason code.
#[derive(Debug, Clone)]
pub struct Unplanned {
    /// The booking.
    pub booking: booking::Model,
    /// `NO_SKILL`, `TIME_WINDOW`, `SHIFT`, `CAPACITY` or `NO_ROOM`.
    pub reason: &'static str,
}

/// A proposed route for one staff member's day.
#[derive(Debug, Clone)]
pub struct DayPlan {
    /// The staff member.
    pub staff_member_id: Uuid,
    /// The local date.
    pub date: NaiveDate,
    /// Stops in the proposed order.
    pub stops: Vec<PlannedStop>,
    /// Bookings the plan could not place (they keep their booked time).
    pub unplanned: Vec<Unplanned>,
    /// Bookings without a location (kept at their booked time).
    pub unlocated: Vec<Uuid>,
    /// Totals of the proposed order, including the drive home.
    pub proposed: DriveTotals,
    /// Totals of the booked order (each booking at its booked time).
    pub current: DriveTotals,
    /// Whether the booked order can be driven within the windows and working hours.
    pub current_feasible: bool,
    /// Whether the proposal is provably optimal (exact solver).
    pub exact: bool,
    /// The travel estimate used.
    pub travel_source: TravelSource,
    /// Hash of the day's bookings, the drive times' source and the proposal: `applyRoute`
    /// refuses a token that no longer matches.
    pub token: String,
}

impl DayPlan {
    /// Drive seconds saved against the booked order (negative: the proposal drives more,
    /// which happens only when the booked order breaks a window).
    pub fn saved_seconds(&self) -> i64 {
        self.current.drive_seconds - self.proposed.drive_seconds
    }

    /// Metres saved against the booked order.
    pub fn saved_metres(&self) -> i64 {
        self.current.distance_metres - self.proposed.distance_metres
    }

    /// "saves 45 min, 32 km", or why nothing is saved.
    pub fn summary(&self) -> String {
        saving_summary(self.current, self.proposed)
    }
}

/// "saves 45 min, 32 km" for a proposal against the current order, or why nothing is
/// saved (a proposal that drives more exists only because the current order misses an
/// arrival window).
pub fn saving_summary(current: DriveTotals, proposed: DriveTotals) -> String {
    let s = current.drive_seconds - proposed.drive_seconds;
    let m = current.distance_metres - proposed.distance_metres;
    let min = (s as f64 / 60.0).round() as i64;
    let km = m as f64 / 1000.0;
    if s > 0 {
        format!("saves {min} min, {km:.0} km")
    } else if s == 0 {
        "no saving: the current plan is already the shortest".into()
    } else {
        format!(
            "drives {} min more than the current plan, which misses an arrival window",
            -min
        )
    }
}

/// Everything about one staff member's day the planner needs.
pub(super) struct Day {
    pub(super) tenant: tenant::Model,
    pub(super) staff: staff_member::Model,
    pub(super) day_start: DateTime<Utc>,
    /// Working hours that day (hull of the working intervals), if any.
    pub(super) work: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The breaks between that day's working intervals (split shifts), in order.
    pub(super) gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Live bookings starting that day, by start.
    pub(super) bookings: Vec<booking::Model>,
}

/// Technicians may plan only their own staff member's day.
pub(super) fn authorize(rc: &RequestCtx, staff_member_id: Uuid) -> Result<(), ApiError> {
    match rc.technician_scope() {
        None => Ok(()),
        Some(Some(own)) if own == staff_member_id => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "technicians can plan only their own day".into(),
        )),
    }
}

pub(super) fn check_window(window_minutes: i32) -> Result<(), ApiError> {
    if !(0..=MAX_WINDOW_MINUTES).contains(&window_minutes) {
        return Err(ApiError::BadUserInput(format!(
            "arrivalWindowMinutes must be 0–{MAX_WINDOW_MINUTES}"
        )));
    }
    Ok(())
}

pub(super) async fn load_day(
    tx: &Tx,
    staff_member_id: Uuid,
    date: NaiveDate,
) -> Result<Day, ApiError> {
    let tenant_id = tx.tenant_id();
    let tenant = tx.tenant().await?;
    let tz = tenant_tz(&tenant)?;
    let staff = scoped::<staff_member::Entity>(tenant_id)
        .filter(staff_member::Column::Id.eq(staff_member_id))
        .one(&**tx)
        .await?
        .ok_or(ApiError::NotFound("staff member"))?;
    let range = date_range_utc(tz, date, date)
        .ok_or_else(|| ApiError::BadUserInput("date out of range".into()))?;
    let bookings: Vec<booking::Model> = scoped::<booking::Entity>(tenant_id)
        .filter(booking::Column::StaffMemberId.eq(staff_member_id))
        .filter(booking::Column::StartsAt.gte(range.start))
        .filter(booking::Column::StartsAt.lt(range.end))
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .all(&**tx)
        .await?
        .into_iter()
        .filter(|b| !matches!(b.status, BookingStatus::Canceled | BookingStatus::NoShow))
        .collect();
    let hours = WeeklyHours::from_rows(
        scoped::<working_hours::Entity>(tenant_id)
            .filter(working_hours::Column::StaffMemberId.eq(staff_member_id))
            .all(&**tx)
            .await?
            .into_iter()
            .map(|r| (r.weekday, r.start_minute, r.end_minute)),
    );
    let override_rows = scoped::<availability_override::Entity>(tenant_id)
        .filter(availability_override::Column::Date.eq(date))
        .filter(
            Condition::any()
                .add(availability_override::Column::StaffMemberId.is_null())
                .add(availability_override::Column::StaffMemberId.eq(staff_member_id)),
        )
        .all(&**tx)
        .await?;
    let holidays = override_rows
        .iter()
        .filter(|o| o.staff_member_id.is_none())
        .map(|o| o.date)
        .collect::<Vec<_>>();
    let overrides = Overrides::from_rows(
        override_rows
            .iter()
            .filter(|o| o.staff_member_id.is_some())
            .map(|o| (o.date, o.start_minute.zip(o.end_minute))),
        holidays,
    );
    let sched = StaffSchedule {
        hours: &hours,
        overrides: &overrides,
        busy: &[],
        territory: territory(&staff),
    };
    let windows = windows_on(tz, &sched, date);
    let work = windows
        .first()
        .zip(windows.last())
        .map(|(a, b)| (a.start, b.end));
    let gaps = windows.windows(2).map(|w| (w[0].end, w[1].start)).collect();
    Ok(Day {
        tenant,
        staff,
        day_start: range.start,
        work,
        gaps,
        bookings,
    })
}

pub(super) fn point_of(b: &booking::Model) -> Option<GeoPoint> {
    GeoPoint::new(b.latitude?, b.longitude?)
}

/// The solver's input for one day, with the booking ↔ job mapping (job `i` is
/// `day.bookings[i]`).
struct Built {
    problem: Problem,
    windows: Vec<(i64, i64)>,
}

/// The matrices with one extra location, "nowhere", at no drive from or to anything
/// (where unlocated bookings are done), and its index.
pub(super) fn with_nowhere(durations: &Matrix, distances: &Matrix) -> (Matrix, Matrix, usize) {
    let n = durations.size();
    let pick = |m: &Matrix, i: usize, j: usize| if i < n && j < n { m.get(i, j) } else { 0 };
    (
        Matrix::from_fn(n + 1, |i, j| pick(durations, i, j)),
        Matrix::from_fn(n + 1, |i, j| pick(distances, i, j)),
        n,
    )
}

/// Builds the problem: location 0 is the home base (or the first located booking), then
/// every located booking; unlocated bookings share one extra location with no drive to or
/// from it and keep their booked start (window of one instant).
fn build(
    day: &Day,
    window_minutes: i32,
    durations: &Matrix,
    distances: &Matrix,
    located_index: &[Option<usize>],
) -> Built {
    let (durations, distances, nowhere) = with_nowhere(durations, distances);
    let secs = |t: DateTime<Utc>| (t - day.day_start).num_seconds();
    let first_start = day.bookings.first().map(|b| secs(b.starts_at)).unwrap_or(0);
    let last_end = day
        .bookings
        .iter()
        .map(|b| secs(b.ends_at))
        .max()
        .unwrap_or(0);
    let (work_start, work_end) = day
        .work
        .map(|(s, e)| (secs(s), secs(e)))
        .unwrap_or((first_start, last_end));
    // Every booking is respected even when it lies outside today's hours.
    let (work_start, work_end) = (work_start.min(first_start), work_end.max(last_end));
    let home_leg = (0..durations.size())
        .map(|i| durations.get(i, 0))
        .max()
        .unwrap_or(0);
    let mut windows = Vec::with_capacity(day.bookings.len());
    let jobs = day
        .bookings
        .iter()
        .zip(located_index)
        .map(|(b, loc)| {
            let start = secs(b.starts_at);
            let length = (b.ends_at - b.starts_at).num_seconds().max(0);
            let (ws, we) = match loc {
                Some(_) => {
                    let ws = start.max(work_start);
                    let we = (start + i64::from(window_minutes) * 60)
                        .min(work_end - length)
                        .max(ws);
                    (ws, we)
                }
                None => (start, start),
            };
            windows.push((ws, we));
            let mut job = Job::new(b.id.to_string(), loc.unwrap_or(nowhere), length);
            job.time_windows = vec![TimeWindow::new(ws, we)];
            job
        })
        .collect();
    let mut vehicle = Vehicle::new(
        day.staff.id.to_string(),
        0,
        // The drive home may end after the working hours; every job ends inside them.
        TimeWindow::new(work_start, work_end + home_leg),
    );
    vehicle.end = Some(0);
    vehicle.breaks = breaks_of(day);
    Built {
        problem: Problem {
            durations,
            distances,
            vehicles: vec![vehicle],
            jobs,
        },
        windows,
    }
}

/// The gaps between a split shift's working intervals as breaks the route must take
/// whole, at their time (no job and no drive inside them).
pub(super) fn breaks_of(day: &Day) -> Vec<routing::Break> {
    let secs = |t: DateTime<Utc>| (t - day.day_start).num_seconds();
    day.gaps
        .iter()
        .map(|(a, b)| routing::Break {
            window: TimeWindow::new(secs(*a), secs(*a)),
            duration: (*b - *a).num_seconds(),
        })
        .collect()
}

/// What the solvers produced.
struct Solved {
    route: Option<Route>,
    unassigned: Vec<(usize, &'static str)>,
    current: Option<Route>,
    exact: bool,
}

/// CPU-bound: run inside `spawn_blocking`.
fn solve_day(problem: &Problem) -> Result<Solved, routing::ModelError> {
    let all: Vec<usize> = (0..problem.jobs.len()).collect();
    let current = routing::schedule_with_breaks(problem, 0, &all).ok();
    let mut out = Solved {
        route: None,
        unassigned: Vec::new(),
        current: current.clone(),
        exact: false,
    };
    if all.is_empty() {
        return Ok(out);
    }
    if all.len() <= MAX_EXACT_STOPS
        && problem.vehicles[0].breaks.len() <= routing::MAX_EXACT_BREAKS
        && let Some(route) = routing::solve_exact(problem, 0, &all)?
    {
        out.route = Some(route);
        out.exact = true;
        return Ok(out);
    }
    let solution = routing::solve(
        problem,
        &SolveOptions {
            budget: Budget::Iterations(HEURISTIC_ITERATIONS),
            seed: 1,
            ..SolveOptions::default()
        },
    )?;
    out.route = solution.routes.into_iter().next();
    out.unassigned = solution
        .unassigned
        .iter()
        .map(|u| (u.job, u.reason.code()))
        .collect();
    // Never propose worse than the booked order when that one is feasible.
    if let Some(cur) = current
        && (!out.unassigned.is_empty()
            || out
                .route
                .as_ref()
                .is_none_or(|r| r.drive_seconds > cur.drive_seconds))
    {
        out.route = Some(cur);
        out.unassigned.clear();
    }
    Ok(out)
}

/// Drive totals along `order` (job indices), home (location 0) to home.
fn totals_along(problem: &Problem, order: &[usize]) -> DriveTotals {
    let stops: Vec<usize> = order.iter().map(|&j| problem.jobs[j].location).collect();
    drive_along(problem, Some(0), &stops)
}

/// Drive totals from `home` through `stops` (locations) and back to `home`; without a
/// home base, from the first stop to the last.
pub(super) fn drive_along(problem: &Problem, home: Option<usize>, stops: &[usize]) -> DriveTotals {
    let mut t = DriveTotals::default();
    let mut at = home;
    for &to in stops
        .iter()
        .chain(home.iter().filter(|_| !stops.is_empty()))
    {
        if let Some(from) = at {
            t.drive_seconds += problem.durations.get(from, to);
            t.distance_metres += problem.distances.get(from, to);
        }
        at = Some(to);
    }
    t
}

/// Plans `staff_member_id`'s day `date` in the transaction's tenant.
async fn plan_in(
    st: &GraphState,
    tx: &Tx,
    staff_member_id: Uuid,
    date: NaiveDate,
    window_minutes: i32,
) -> Result<DayPlan, ApiError> {
    let day = load_day(tx, staff_member_id, date).await?;
    let home = day
        .staff
        .home_latitude
        .zip(day.staff.home_longitude)
        .and_then(|(lat, lng)| GeoPoint::new(lat, lng))
        .or_else(|| day.bookings.iter().find_map(point_of));
    let mut points: Vec<GeoPoint> = home.into_iter().collect();
    let located_index: Vec<Option<usize>> = day
        .bookings
        .iter()
        .map(|b| {
            point_of(b).map(|p| {
                points.push(p);
                points.len() - 1
            })
        })
        .collect();
    let (durations, distances, travel_source) = travel_matrix(
        st,
        tx.tenant_id(),
        &points,
        day.tenant.travel_detour_factor,
        day.tenant.travel_speed_kmh,
    )
    .await;
    let built = build(&day, window_minutes, &durations, &distances, &located_index);
    let problem = built.problem.clone();
    let solved = tokio::task::spawn_blocking(move || solve_day(&problem))
        .await
        .map_err(|e| ApiError::Internal(format!("route solver stopped: {e}")))?
        .map_err(|e| ApiError::Internal(format!("route problem malformed: {e}")))?;
    let problem = built.problem;
    let booked: Vec<usize> = (0..problem.jobs.len()).collect();
    let at = |s: i64| day.day_start + Duration::seconds(s);
    let route = solved.route;
    let order: Vec<usize> = route
        .as_ref()
        .map(|r| r.stops.iter().map(|s| s.job).collect())
        .unwrap_or_default();
    let stops: Vec<PlannedStop> = route
        .iter()
        .flat_map(|r| r.stops.iter())
        .enumerate()
        .map(|(i, s)| {
            let (ws, we) = built.windows[s.job];
            PlannedStop {
                booking: day.bookings[s.job].clone(),
                position: i as i32 + 1,
                arrival: at(s.service_start),
                departure: at(s.departure),
                wait_seconds: s.service_start - s.arrival,
                drive_seconds: s.drive_seconds,
                distance_metres: s.distance_metres,
                window: (at(ws), at(we)),
                located: located_index[s.job].is_some(),
            }
        })
        .collect();
    let mut planned = vec![false; problem.jobs.len()];
    for &j in &order {
        planned[j] = true;
    }
    let unplanned: Vec<Unplanned> = (0..problem.jobs.len())
        .filter(|j| !planned[*j])
        .map(|j| Unplanned {
            booking: day.bookings[j].clone(),
            reason: solved
                .unassigned
                .iter()
                .find(|(u, _)| *u == j)
                .map(|(_, r)| *r)
                .unwrap_or("TIME_WINDOW"),
        })
        .collect();
    let mut plan = DayPlan {
        staff_member_id,
        date,
        proposed: route
            .as_ref()
            .map(|r| DriveTotals {
                drive_seconds: r.drive_seconds,
                distance_metres: r.distance_metres,
            })
            .unwrap_or_default(),
        current: totals_along(&problem, &booked),
        current_feasible: solved.current.is_some(),
        exact: solved.exact,
        travel_source,
        unlocated: day
            .bookings
            .iter()
            .filter(|b| point_of(b).is_none())
            .map(|b| b.id)
            .collect(),
        stops,
        unplanned,
        token: String::new(),
    };
    plan.token = token_of(&day, window_minutes, &plan);
    Ok(plan)
}

/// The plan's token: SHA-256 over the day's bookings as planned on, the drive times'
/// source and the proposal.
fn token_of(day: &Day, window_minutes: i32, plan: &DayPlan) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "v1|{}|{}|{}|{}|{:?}|{:?}\n",
        day.staff.id,
        plan.date,
        window_minutes,
        plan.travel_source.as_str(),
        day.staff.home_latitude,
        day.staff.home_longitude
    ));
    for b in &day.bookings {
        h.update(format!(
            "b|{}|{}|{}|{}|{:?}|{:?}|{:?}\n",
            b.id,
            b.staff_member_id,
            b.starts_at.timestamp(),
            b.ends_at.timestamp(),
            b.status,
            b.latitude,
            b.longitude
        ));
    }
    for s in &plan.stops {
        h.update(format!(
            "s|{}|{}|{}\n",
            s.booking.id,
            s.arrival.timestamp(),
            s.departure.timestamp()
        ));
    }
    hex::encode(h.finalize())
}

/// `optimizeRoute`: the best order of `staff_member_id`'s day `date`.
pub async fn optimize_route(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
    date: NaiveDate,
    window_minutes: i32,
) -> Result<DayPlan, ApiError> {
    authorize(rc, staff_member_id)?;
    check_window(window_minutes)?;
    let tx = st.db.read(rc.tenant_id).await?;
    let plan = plan_in(st, &tx, staff_member_id, date, window_minutes).await?;
    tx.commit().await?;
    Ok(plan)
}

/// `applyRoute`: under the schedule lock, recomputes the plan; when its token still
/// matches, writes planned arrivals and route positions, schedules each confirmed
/// customer's on-the-way text for when the staff member sets off (with `notify`; see
/// [`crate::messaging::service::schedule_on_the_way`]) and announces the change.
/// Returns the plan and the number of texts scheduled.
pub async fn apply_route(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
    date: NaiveDate,
    window_minutes: i32,
    token: &str,
    notify: bool,
) -> Result<Outcome<(DayPlan, usize)>, ApiError> {
    authorize(rc, staff_member_id)?;
    check_window(window_minutes)?;
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let plan = plan_in(st, &tx, staff_member_id, date, window_minutes).await?;
    if plan.token != token {
        return Ok(Err(vec![UserError::new(
            None,
            UserErrorCode::StalePlan,
            "the day changed since this plan was proposed; nothing was applied",
        )]));
    }
    let at = now();
    let mut changed = Vec::with_capacity(plan.stops.len());
    let mut texts = 0;
    for s in &plan.stops {
        let mut am = s.booking.clone().into_active_model();
        am.planned_arrival_at = Set(Some(s.arrival));
        am.route_position = Set(Some(s.position));
        am.updated_at = Set(at);
        let updated = am.update(&*tx).await?;
        let leave_at = s.arrival - Duration::seconds(s.wait_seconds + s.drive_seconds);
        if notify
            && s.located
            && crate::messaging::service::schedule_on_the_way(&tx, &updated, leave_at).await?
        {
            texts += 1;
        }
        changed.push(updated);
    }
    tx.commit().await?;
    if texts > 0 {
        crate::jobs::wake(st);
    }
    for b in &changed {
        st.events
            .publish(Envelope::booking(b, BookingEventKind::Updated))
            .await;
    }
    st.events
        .publish(Envelope::route(rc.tenant_id, staff_member_id, date))
        .await;
    Ok(Ok((plan, texts)))
}
