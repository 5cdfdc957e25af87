//! The whole team's day (`dispatchDay` / `applyDispatch`): who does which booking, and
//! in which order, so that the team drives least.
//!
//! - **Vehicles** are the staff members working that day (active, with working hours, or
//!   holding a booking): they leave their home base (no drive counted without one) at the
//!   start of their hours and finish their last job by the end (the drive home is counted
//!   in the totals, not bounded by the hours — it is the commute).
//! - **Jobs** are the day's live bookings, each at its location with its length, an
//!   arrival window `[startsAt, startsAt + arrivalWindowMinutes]`, and its blocked interval
//!   (buffers included) as a reserved interval: no staff member ends up with two
//!   overlapping bookings (the booking table's invariant).
//! - **Movable** bookings are those the system assigned ("any staff member" bookings,
//!   `assignmentReason` set), still `PENDING` or `CONFIRMED` and not started; every other
//!   booking stays with its staff member. A movable booking may go to a staff member who
//!   performs its services, covers its address and is free at its booked time by the
//!   availability rules (working hours, time off, calendar busy time, holds) — the same
//!   [`rules::evaluate`] that takes bookings, with drive times and overlaps left to the
//!   solver.
//! - The solver is [`routing::solve`] with a fixed iteration budget and seed, so the plan
//!   recomputed at apply time is the plan proposed; `applyDispatch` recomputes it under
//!   the schedule lock and refuses a stale token (`STALE_PLAN`), then writes all of it or
//!   nothing (the overlap check is deferred to the commit on PostgreSQL so that two
//!   bookings may swap staff members).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::kinds::BookingStatus;
use entities::{booking, booking_item, staff_member};
use integrations::GeoPoint;
use routing::{Budget, Job, Problem, SolveOptions, TimeWindow, Vehicle};
use sea_orm::{ActiveModelTrait, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::service::{
    Day, DriveTotals, PlannedStop, Unplanned, breaks_of, check_window, drive_along, load_day,
    point_of, saving_summary, with_nowhere,
};
use super::travel::{TravelSource, travel_matrix};
use crate::availability::data::{LoadRequest, date_range_utc, load, tenant_tz};
use crate::availability::rules::{self, Geo, Refusal};
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode};
use crate::events::{BookingEventKind, Envelope};
use crate::lifecycle::{self, BookingChange};
use crate::state::GraphState;
use crate::util::now;

/// Iterations of the team solver (deterministic for seed 1: the plan recomputed by
/// `applyDispatch` is the plan `dispatchDay` proposed). 2,000 iterations plan 6 staff
/// members and 60 bookings in about a quarter of a second (routing/README.md).
pub const DISPATCH_ITERATIONS: u64 = 2_000;

/// Most live bookings one `dispatchDay` plans (a larger day is refused with
/// `BAD_USER_INPUT`: the plan would take seconds under the schedule lock).
pub const MAX_DISPATCH_BOOKINGS: usize = 400;

/// A booking the plan gives to another staff member (same time).
#[derive(Debug, Clone)]
pub struct Move {
    /// The booking as it is now.
    pub booking: booking::Model,
    /// Its staff member now.
    pub from: Uuid,
    /// Its staff member in the plan.
    pub to: Uuid,
}

/// One staff member's day in the team plan.
#[derive(Debug, Clone)]
pub struct StaffRoute {
    /// The staff member.
    pub staff: staff_member::Model,
    /// The planned stops in visiting order.
    pub stops: Vec<PlannedStop>,
    /// Drive of the planned day, home to home.
    pub proposed: DriveTotals,
    /// Drive of the staff member's day as booked now, home to home.
    pub current: DriveTotals,
}

/// A proposed plan for the whole team's day.
#[derive(Debug, Clone)]
pub struct TeamPlan {
    /// The local date.
    pub date: NaiveDate,
    /// Every staff member working or booked that day, by name.
    pub routes: Vec<StaffRoute>,
    /// Bookings that change staff member.
    pub moves: Vec<Move>,
    /// Bookings the plan could not place; they keep their staff member and time.
    pub unplanned: Vec<Unplanned>,
    /// Bookings without a location (placed at their booked time, no drive counted).
    pub unlocated: Vec<Uuid>,
    /// The team's drive in the plan.
    pub proposed: DriveTotals,
    /// The team's drive as booked now.
    pub current: DriveTotals,
    /// The travel estimate used.
    pub travel_source: TravelSource,
    /// Hash of the day's bookings, staff members and the plan: `applyDispatch` refuses a
    /// token that no longer matches.
    pub token: String,
}

impl TeamPlan {
    /// "saves 45 min, 32 km", or why nothing is saved.
    pub fn summary(&self) -> String {
        saving_summary(self.current, self.proposed)
    }
}

/// Whether dispatch may give `b` to another staff member at `at`: the system chose its
/// staff member, it is `PENDING` or `CONFIRMED`, and it has not started.
pub fn movable(b: &booking::Model, at: DateTime<Utc>) -> bool {
    b.assignment_reason.is_some()
        && matches!(b.status, BookingStatus::Pending | BookingStatus::Confirmed)
        && b.starts_at > at
}

/// The stable code of a refusal that keeps a staff member from a booking.
fn refusal_code(r: Refusal) -> &'static str {
    match r {
        Refusal::DayOff => "DAY_OFF",
        Refusal::OutsideWorkingHours | Refusal::Break => "OUTSIDE_WORKING_HOURS",
        Refusal::TimeOff => "TIME_OFF",
        Refusal::CalendarBusy => "CALENDAR_BUSY",
        Refusal::Held => "HELD",
        Refusal::OutsideServiceArea => "OUTSIDE_SERVICE_AREA",
        Refusal::InThePast
        | Refusal::MinimumNotice
        | Refusal::BeyondHorizon
        | Refusal::NotOnGrid
        | Refusal::Booked
        | Refusal::Travel => "NO_ROOM",
    }
}

/// Refusals dispatch does not apply to a booking that already exists: notice, horizon
/// and grid are for new bookings; overlaps and drive times are the solver's.
fn applies(r: &Refusal) -> bool {
    !matches!(
        r,
        Refusal::InThePast
            | Refusal::MinimumNotice
            | Refusal::BeyondHorizon
            | Refusal::NotOnGrid
            | Refusal::Booked
            | Refusal::Travel
    )
}

/// For each movable booking, the staff members who may do it at its booked time, or
/// why nobody may. Loads the availability world once per kind of visit (service, extra
/// services, add-ons).
async fn eligibility(
    tx: &Tx,
    date: NaiveDate,
    bookings: &[booking::Model],
    movable: &[bool],
) -> Result<Vec<Result<HashSet<Uuid>, &'static str>>, ApiError> {
    let ids: Vec<Uuid> = bookings
        .iter()
        .zip(movable)
        .filter(|(_, m)| **m)
        .map(|(b, _)| b.id)
        .collect();
    let mut items: HashMap<Uuid, (Vec<Uuid>, Vec<Uuid>)> = HashMap::new();
    if !ids.is_empty() {
        for i in scoped::<booking_item::Entity>(tx.tenant_id())
            .filter(booking_item::Column::BookingId.is_in(ids))
            .order_by_asc(booking_item::Column::BookingId)
            .order_by_asc(booking_item::Column::Position)
            .all(&**tx)
            .await?
        {
            let e = items.entry(i.booking_id).or_default();
            match (i.service_id, i.addon_id) {
                // The first service line is the booking's own service.
                (Some(s), _) if i.position > 0 => e.0.push(s),
                (_, Some(a)) => e.1.push(a),
                _ => {}
            }
        }
    }
    let mut groups: HashMap<(Uuid, Vec<Uuid>, Vec<Uuid>), Vec<usize>> = HashMap::new();
    for (k, b) in bookings.iter().enumerate() {
        if movable[k] {
            let (extra, addons) = items.remove(&b.id).unwrap_or_default();
            groups
                .entry((b.service_id, extra, addons))
                .or_default()
                .push(k);
        }
    }
    let mut out: Vec<Result<HashSet<Uuid>, &'static str>> = bookings
        .iter()
        .map(|b| Ok(HashSet::from([b.staff_member_id])))
        .collect();
    let mut keys: Vec<_> = groups.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let members = &groups[&key];
        let (service, extra, addons) = &key;
        let data = load(
            tx,
            LoadRequest {
                extra_service_ids: extra,
                addon_ids: addons,
                ..LoadRequest::new(*service, None, date, date)
            },
        )
        .await?;
        let data = match data {
            Ok(d) => d,
            Err(_) => {
                for &k in members {
                    out[k] = Err("NOT_QUALIFIED");
                }
                continue;
            }
        };
        for &k in members {
            let b = &bookings[k];
            let mut fit = HashSet::new();
            let mut closest: Option<Vec<Refusal>> = None;
            for c in &data.candidates {
                let mut r = data.rules(c, b.starts_at);
                r.duration = b.ends_at - b.starts_at;
                r.buffer_before = b.starts_at - b.blocked_from;
                r.buffer_after = b.blocked_until - b.ends_at;
                r.location = Geo::from_pair(b.latitude, b.longitude);
                let mut refusals: Vec<Refusal> =
                    rules::evaluate(&r, &data.schedule(c.staff.id), b.starts_at, false)
                        .into_iter()
                        .filter(applies)
                        .collect();
                if refusals.is_empty() {
                    fit.insert(c.staff.id);
                } else if closest.as_ref().is_none_or(|x| refusals.len() < x.len()) {
                    refusals.sort();
                    closest = Some(refusals);
                }
            }
            out[k] = if !fit.is_empty() {
                Ok(fit)
            } else {
                Err(closest
                    .and_then(|r| r.first().copied())
                    .map(refusal_code)
                    .unwrap_or("NOT_QUALIFIED"))
            };
        }
    }
    Ok(out)
}

/// The day of every staff member working or booked on `date`, by name then id.
async fn load_team(tx: &Tx, date: NaiveDate) -> Result<Vec<Day>, ApiError> {
    let tenant_id = tx.tenant_id();
    let tz = tenant_tz(&tx.tenant().await?)?;
    let range = date_range_utc(tz, date, date)
        .ok_or_else(|| ApiError::BadUserInput("date out of range".into()))?;
    let booked: HashSet<Uuid> = scoped::<booking::Entity>(tenant_id)
        .filter(booking::Column::StartsAt.gte(range.start))
        .filter(booking::Column::StartsAt.lt(range.end))
        .filter(booking::Column::Status.is_not_in(["CANCELED", "NO_SHOW"]))
        .all(&**tx)
        .await?
        .into_iter()
        .map(|b| b.staff_member_id)
        .collect();
    let mut staff = scoped::<staff_member::Entity>(tenant_id)
        .order_by_asc(staff_member::Column::Name)
        .order_by_asc(staff_member::Column::Id)
        .all(&**tx)
        .await?;
    staff.retain(|s| s.active || booked.contains(&s.id));
    let mut days = Vec::with_capacity(staff.len());
    for s in staff {
        let day = load_day(tx, s.id, date).await?;
        if day.work.is_some() || !day.bookings.is_empty() {
            days.push(day);
        }
    }
    let total: usize = days.iter().map(|d| d.bookings.len()).sum();
    if total > MAX_DISPATCH_BOOKINGS {
        return Err(ApiError::BadUserInput(format!(
            "{total} bookings that day: dispatch plans at most {MAX_DISPATCH_BOOKINGS}"
        )));
    }
    Ok(days)
}

/// Where each booking ends up in a solution: `(staff index, position)`, or `None`.
type Placement = Vec<Option<(usize, usize)>>;

/// Plans the team's day `date` in the transaction's tenant.
async fn plan_team(
    st: &GraphState,
    tx: &Tx,
    date: NaiveDate,
    window_minutes: i32,
) -> Result<TeamPlan, ApiError> {
    let at = now();
    let days = load_team(tx, date).await?;
    let Some(first) = days.first() else {
        return empty_plan(tx, date).await;
    };
    let day_start = first.day_start;
    let (detour, speed) = (
        first.tenant.travel_detour_factor,
        first.tenant.travel_speed_kmh,
    );
    // Jobs: every live booking of the day, staff by staff.
    let mut bookings: Vec<booking::Model> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (si, d) in days.iter().enumerate() {
        for b in &d.bookings {
            bookings.push(b.clone());
            owner.push(si);
        }
    }
    let movable: Vec<bool> = bookings.iter().map(|b| movable(b, at)).collect();
    let eligible = eligibility(tx, date, &bookings, &movable).await?;

    // Points: home bases, then located bookings.
    let mut points: Vec<GeoPoint> = Vec::new();
    let home: Vec<Option<usize>> = days
        .iter()
        .map(|d| {
            d.staff
                .home_latitude
                .zip(d.staff.home_longitude)
                .and_then(|(lat, lng)| GeoPoint::new(lat, lng))
                .map(|p| {
                    points.push(p);
                    points.len() - 1
                })
        })
        .collect();
    let located: Vec<Option<usize>> = bookings
        .iter()
        .map(|b| {
            point_of(b).map(|p| {
                points.push(p);
                points.len() - 1
            })
        })
        .collect();
    let (durations, distances, travel_source) =
        travel_matrix(st, tx.tenant_id(), &points, detour, speed).await;
    let (durations, distances, nowhere) = with_nowhere(&durations, &distances);
    let secs = |t: DateTime<Utc>| (t - day_start).num_seconds();
    let at_secs = |s: i64| day_start + Duration::seconds(s);

    let mut windows = Vec::with_capacity(bookings.len());
    let jobs: Vec<Job> = bookings
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let start = secs(b.starts_at);
            let length = (b.ends_at - b.starts_at).num_seconds().max(0);
            let end = match located[k] {
                Some(_) => start + i64::from(window_minutes) * 60,
                None => start,
            };
            windows.push((start, end));
            let mut job = Job::new(b.id.to_string(), located[k].unwrap_or(nowhere), length);
            job.time_windows = vec![TimeWindow::new(start, end)];
            job.exclusive = Some(TimeWindow::new(secs(b.blocked_from), secs(b.blocked_until)));
            job.skills = BTreeSet::from([format!("b{k}")]);
            job
        })
        .collect();
    let vehicles: Vec<Vehicle> = days
        .iter()
        .enumerate()
        .map(|(si, d)| {
            let start_at = home[si].unwrap_or(nowhere);
            let fixed = (0..bookings.len()).filter(|k| owner[*k] == si && !movable[*k]);
            let mut first = i64::MAX;
            let mut last = i64::MIN;
            for k in fixed {
                let leg = durations.get(start_at, jobs[k].location);
                first = first.min(windows[k].0 - leg);
                last = last.max(windows[k].0 + jobs[k].service_duration);
            }
            // Working hours, widened to every booking the staff member keeps.
            let (ws, we) = match (d.work.map(|(s, e)| (secs(s), secs(e))), first <= last) {
                (Some((s, e)), true) => (s.min(first), e.max(last)),
                (Some(w), false) => w,
                (None, true) => (first, last),
                (None, false) => (0, 0),
            };
            let mut v = Vehicle::new(d.staff.id.to_string(), start_at, TimeWindow::new(ws, we));
            v.end = None;
            v.breaks = breaks_of(d);
            v.skills = (0..bookings.len())
                .filter(|k| match &eligible[*k] {
                    Ok(set) => set.contains(&d.staff.id),
                    Err(_) => false,
                })
                .map(|k| format!("b{k}"))
                .collect();
            v
        })
        .collect();
    let problem = Problem {
        durations,
        distances,
        vehicles,
        jobs,
    };
    let solver_input = problem.clone();
    let solution = tokio::task::spawn_blocking(move || {
        routing::solve(
            &solver_input,
            &SolveOptions {
                budget: Budget::Iterations(DISPATCH_ITERATIONS),
                seed: 1,
                ..SolveOptions::default()
            },
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("dispatch solver stopped: {e}")))?
    .map_err(|e| ApiError::Internal(format!("dispatch problem malformed: {e}")))?;

    // Placement, then drop moves that would overlap a booking left where it is.
    let mut routes: Vec<Vec<routing::Stop>> = vec![Vec::new(); days.len()];
    for r in solution.routes {
        routes[r.vehicle] = r.stops;
    }
    let mut reasons: HashMap<usize, &'static str> = solution
        .unassigned
        .iter()
        .map(|u| (u.job, u.reason.code()))
        .collect();
    for (k, e) in eligible.iter().enumerate() {
        if let Err(why) = e {
            reasons.insert(k, why);
        }
    }
    loop {
        let placement = place(&routes, bookings.len());
        let staff_of = |k: usize| placement[k].map(|(si, _)| si).unwrap_or(owner[k]);
        let clash = (0..bookings.len()).find(|&k| {
            staff_of(k) != owner[k]
                && (0..bookings.len()).any(|j| {
                    j != k
                        && staff_of(j) == staff_of(k)
                        && problem.jobs[k].clashes_with(&problem.jobs[j])
                })
        });
        let Some(k) = clash else { break };
        if let Some((si, pos)) = placement[k] {
            routes[si].remove(pos);
            retime(&problem, si, &mut routes[si]);
        }
        reasons.insert(k, "CONFLICT");
    }
    let placement = place(&routes, bookings.len());

    let stop_of = |k: usize, position: i32, s: &routing::Stop| {
        let (ws, we) = windows[k];
        PlannedStop {
            booking: bookings[k].clone(),
            position,
            arrival: at_secs(s.service_start),
            departure: at_secs(s.departure),
            wait_seconds: s.service_start - s.arrival,
            drive_seconds: s.drive_seconds,
            distance_metres: s.distance_metres,
            window: (at_secs(ws), at_secs(we)),
            located: located[k].is_some(),
        }
    };
    let mut out_routes = Vec::with_capacity(days.len());
    let (mut proposed, mut current) = (DriveTotals::default(), DriveTotals::default());
    for (si, d) in days.iter().enumerate() {
        let stops: Vec<PlannedStop> = routes[si]
            .iter()
            .enumerate()
            .map(|(i, s)| stop_of(s.job, i as i32 + 1, s))
            .collect();
        // Drive as booked: the staff member's located bookings by start.
        let booked: Vec<usize> = (0..bookings.len())
            .filter(|k| owner[*k] == si)
            .filter_map(|k| located[k])
            .collect();
        // Drive as planned: the route, with what stays unplanned at its booked time.
        let mut planned: Vec<(i64, usize)> = routes[si]
            .iter()
            .filter_map(|s| located[s.job].map(|l| (s.service_start, l)))
            .collect();
        planned.extend(
            (0..bookings.len())
                .filter(|k| owner[*k] == si && placement[*k].is_none())
                .filter_map(|k| located[k].map(|l| (windows[k].0, l))),
        );
        planned.sort_unstable();
        let planned: Vec<usize> = planned.into_iter().map(|(_, l)| l).collect();
        let r = StaffRoute {
            staff: d.staff.clone(),
            stops,
            proposed: drive_along(&problem, home[si], &planned),
            current: drive_along(&problem, home[si], &booked),
        };
        proposed.drive_seconds += r.proposed.drive_seconds;
        proposed.distance_metres += r.proposed.distance_metres;
        current.drive_seconds += r.current.drive_seconds;
        current.distance_metres += r.current.distance_metres;
        out_routes.push(r);
    }
    let moves: Vec<Move> = (0..bookings.len())
        .filter_map(|k| {
            let (si, _) = placement[k]?;
            (si != owner[k]).then(|| Move {
                booking: bookings[k].clone(),
                from: days[owner[k]].staff.id,
                to: days[si].staff.id,
            })
        })
        .collect();
    let unplanned: Vec<Unplanned> = (0..bookings.len())
        .filter(|k| placement[*k].is_none())
        .map(|k| Unplanned {
            booking: bookings[k].clone(),
            reason: reasons.get(&k).copied().unwrap_or("NO_ROOM"),
        })
        .collect();
    let mut plan = TeamPlan {
        date,
        routes: out_routes,
        moves,
        unplanned,
        unlocated: bookings
            .iter()
            .zip(&located)
            .filter(|(_, l)| l.is_none())
            .map(|(b, _)| b.id)
            .collect(),
        proposed,
        current,
        travel_source,
        token: String::new(),
    };
    plan.token = token_of(&days, window_minutes, &movable, &bookings, &plan);
    Ok(plan)
}

/// A plan for a day nobody works or is booked.
async fn empty_plan(tx: &Tx, date: NaiveDate) -> Result<TeamPlan, ApiError> {
    tenant_tz(&tx.tenant().await?)?;
    let mut plan = TeamPlan {
        date,
        routes: Vec::new(),
        moves: Vec::new(),
        unplanned: Vec::new(),
        unlocated: Vec::new(),
        proposed: DriveTotals::default(),
        current: DriveTotals::default(),
        travel_source: TravelSource::Estimate,
        token: String::new(),
    };
    plan.token = token_of(&[], 0, &[], &[], &plan);
    Ok(plan)
}

/// `(staff index, position)` of every job on the routes.
fn place(routes: &[Vec<routing::Stop>], jobs: usize) -> Placement {
    let mut p = vec![None; jobs];
    for (si, r) in routes.iter().enumerate() {
        for (pos, s) in r.iter().enumerate() {
            p[s.job] = Some((si, pos));
        }
    }
    p
}

/// Recomputes the times of a route after a stop was taken out (keeps the old times
/// when the shorter route cannot be rescheduled, which a metric drive matrix rules out).
fn retime(problem: &Problem, vehicle: usize, stops: &mut Vec<routing::Stop>) {
    let jobs: Vec<usize> = stops.iter().map(|s| s.job).collect();
    if let Ok(route) = routing::schedule_with_breaks(problem, vehicle, &jobs) {
        *stops = route.stops;
    }
}

/// The plan's token: SHA-256 over the staff members and bookings it was computed from,
/// the arrival window, the drive times' source and the plan.
fn token_of(
    days: &[Day],
    window_minutes: i32,
    movable: &[bool],
    bookings: &[booking::Model],
    plan: &TeamPlan,
) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "team-v1|{}|{}|{}\n",
        plan.date,
        window_minutes,
        plan.travel_source.as_str()
    ));
    for d in days {
        h.update(format!(
            "s|{}|{}|{:?}|{:?}|{:?}\n",
            d.staff.id,
            d.staff.active,
            d.staff.home_latitude,
            d.staff.home_longitude,
            d.work.map(|(a, b)| (a.timestamp(), b.timestamp()))
        ));
    }
    for (b, m) in bookings.iter().zip(movable) {
        h.update(format!(
            "b|{}|{}|{}|{}|{:?}|{:?}|{:?}|{}\n",
            b.id,
            b.staff_member_id,
            b.starts_at.timestamp(),
            b.ends_at.timestamp(),
            b.status,
            b.latitude,
            b.longitude,
            m
        ));
    }
    for r in &plan.routes {
        for s in &r.stops {
            h.update(format!(
                "p|{}|{}|{}\n",
                r.staff.id,
                s.booking.id,
                s.arrival.timestamp()
            ));
        }
    }
    for u in &plan.unplanned {
        h.update(format!("u|{}|{}\n", u.booking.id, u.reason));
    }
    hex::encode(h.finalize())
}

/// `dispatchDay`: the best assignment and order of the team's day `date`. Owners and
/// managers. Errors: `BAD_USER_INPUT` (window out of range, date out of range, more than
/// [`MAX_DISPATCH_BOOKINGS`] bookings).
pub async fn dispatch_day(
    st: &GraphState,
    rc: &RequestCtx,
    date: NaiveDate,
    window_minutes: i32,
) -> Result<TeamPlan, ApiError> {
    check_window(window_minutes)?;
    let tx = st.db.read(rc.tenant_id).await?;
    let plan = plan_team(st, &tx, date, window_minutes).await?;
    tx.commit().await?;
    Ok(plan)
}

/// The stale-plan user error.
fn stale(message: &str) -> Vec<UserError> {
    vec![UserError::new(
        Some("token"),
        UserErrorCode::StalePlan,
        message.to_string(),
    )]
}

/// Whether two live bookings of one of `staff` overlap around `date` (the invariant the
/// PostgreSQL exclusion constraint keeps; checked here for SQLite).
async fn overlap_among(tx: &Tx, staff: &HashSet<Uuid>, date: NaiveDate) -> Result<bool, ApiError> {
    let tz = tenant_tz(&tx.tenant().await?)?;
    let Some(range) = date_range_utc(tz, date - Duration::days(1), date + Duration::days(1)) else {
        return Ok(false);
    };
    let rows = scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::StaffMemberId.is_in(staff.iter().copied()))
        .filter(booking::Column::Status.ne("CANCELED"))
        .filter(booking::Column::BlockedFrom.lt(range.end))
        .filter(booking::Column::BlockedUntil.gt(range.start))
        .order_by_asc(booking::Column::StaffMemberId)
        .order_by_asc(booking::Column::BlockedFrom)
        .all(&**tx)
        .await?;
    Ok(rows.windows(2).any(|w| {
        w[0].staff_member_id == w[1].staff_member_id && w[1].blocked_from < w[0].blocked_until
    }))
}

/// `applyDispatch`: under the schedule lock, recomputes the plan; when its token still
/// matches, gives every moved booking its new staff member and every planned booking its
/// planned arrival and route position, all in one transaction, then announces the
/// changes. A plan that became stale — or whose moves would now overlap — changes
/// nothing (`STALE_PLAN`).
pub async fn apply_dispatch(
    st: &GraphState,
    rc: &RequestCtx,
    date: NaiveDate,
    window_minutes: i32,
    token: &str,
) -> Result<Outcome<TeamPlan>, ApiError> {
    check_window(window_minutes)?;
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let plan = plan_team(st, &tx, date, window_minutes).await?;
    if plan.token != token {
        return Ok(Err(stale(
            "the day changed since this plan was proposed; nothing was applied",
        )));
    }
    st.db.defer_overlap_check(&tx).await?;
    let at = now();
    let moved: HashMap<Uuid, Uuid> = plan.moves.iter().map(|m| (m.booking.id, m.to)).collect();
    let reason = format!("dispatched by applyDispatch for {date}: {}", plan.summary());
    let mut changed = Vec::new();
    let mut after = Vec::new();
    for r in &plan.routes {
        for s in &r.stops {
            let previous = s.booking.clone();
            let mut am = s.booking.clone().into_active_model();
            am.planned_arrival_at = Set(Some(s.arrival));
            am.route_position = Set(Some(s.position));
            am.updated_at = Set(at);
            if let Some(to) = moved.get(&s.booking.id) {
                am.staff_member_id = Set(*to);
                am.assignment_reason = Set(Some(reason.clone()));
            }
            let mut updated = am.update(&*tx).await?;
            if moved.contains_key(&updated.id) {
                let change = BookingChange::Reassigned {
                    previous: Box::new(previous),
                };
                after.push(lifecycle::run_hooks(st, &tx, &mut updated, &change).await?);
            }
            changed.push(updated);
        }
    }
    let touched: HashSet<Uuid> = plan.moves.iter().flat_map(|m| [m.from, m.to]).collect();
    if !touched.is_empty() && overlap_among(&tx, &touched, date).await? {
        return Ok(Err(stale(
            "a moved booking would overlap another booking; nothing was applied",
        )));
    }
    if let Err(e) = tx.commit_or_conflict().await {
        if crate::db::write_conflict(&e) == Some(crate::db::WriteConflict::Overlap) {
            return Ok(Err(stale(
                "a moved booking would overlap another booking; nothing was applied",
            )));
        }
        return Err(e.into());
    }
    for a in after {
        a.run(st).await;
    }
    for b in &changed {
        st.events
            .publish(Envelope::booking(b, BookingEventKind::Updated))
            .await;
    }
    for r in &plan.routes {
        st.events
            .publish(Envelope::route(rc.tenant_id, r.staff.id, date))
            .await;
    }
    Ok(Ok(plan))
}
