//! The problem and solution model shared by every solver in this crate.
//!
//! Units: times and durations are integer **seconds** (any epoch: the caller picks one,
//! usually seconds since local midnight of the planned day or Unix seconds); distances are
//! integer **metres**. Benchmarks with fractional data (Solomon) are scaled to integers by
//! their parser (see [`crate::parse::SolomonInstance::to_problem`]).
//!
//! Locations are indices into the two square matrices of a [`Problem`]: `durations`
//! (drive seconds from row to column) and `distances` (metres). Matrices need not be
//! symmetric nor obey the triangle inequality; they must not be negative.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Index of a location: a row/column of the problem's matrices.
pub type Location = usize;

/// A square matrix of non-negative integers, row-major: `get(from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    size: usize,
    cells: Vec<i64>,
}

impl Matrix {
    /// A `size × size` matrix from row-major `cells`; `None` when `cells.len() != size²`
    /// or a cell is negative.
    pub fn new(size: usize, cells: Vec<i64>) -> Option<Matrix> {
        if cells.len() != size.checked_mul(size)? || cells.iter().any(|c| *c < 0) {
            return None;
        }
        Some(Matrix { size, cells })
    }

    /// A `size × size` matrix whose cell `(i, j)` is `f(i, j)` (negative values clamp to 0).
    pub fn from_fn(size: usize, mut f: impl FnMut(usize, usize) -> i64) -> Matrix {
        let mut cells = Vec::with_capacity(size * size);
        for i in 0..size {
            for j in 0..size {
                cells.push(f(i, j).max(0));
            }
        }
        Matrix { size, cells }
    }

    /// Number of locations (rows).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The cell from `from` to `to`. Panics when out of range; [`Problem::validate`]
    /// guarantees every location of a problem is in range.
    #[inline]
    pub fn get(&self, from: Location, to: Location) -> i64 {
        self.cells[from * self.size + to]
    }
}

/// A closed interval of instants `[start, end]` in seconds.
///
/// For a job: the service must **start** inside it (arrive earlier and wait; arriving
/// later is infeasible) — Solomon's convention, "due date is the latest service start".
/// For a vehicle's shift: leave the start no earlier than `start`, be back at the end
/// location (or finish the last job when there is none) no later than `end`.
/// For a break: the break must start inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Earliest instant, seconds.
    pub start: i64,
    /// Latest instant, seconds (inclusive).
    pub end: i64,
}

impl TimeWindow {
    /// `[start, end]`.
    pub fn new(start: i64, end: i64) -> TimeWindow {
        TimeWindow { start, end }
    }

    /// Whether `t` lies in the window.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t <= self.end
    }
}

/// A break a vehicle (staff member) must take during its shift when it serves at least
/// one job: it starts inside `window` and lasts `duration` seconds, taken where the
/// vehicle is (after a job, or at the start location before the first one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Break {
    /// When the break may start, seconds.
    pub window: TimeWindow,
    /// Length, seconds.
    pub duration: i64,
}

/// A vehicle: a staff member with a home base, working hours, breaks and skills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Caller's identifier (e.g. the staff member's UUID), echoed in the solution.
    pub id: String,
    /// Where the day starts (home base).
    pub start: Location,
    /// Where the day ends; `None`: the day ends after the last job (no drive home).
    pub end: Option<Location>,
    /// Working hours, seconds: depart `start` at or after `shift.start`, arrive at `end`
    /// (or finish the last job) at or before `shift.end`.
    pub shift: TimeWindow,
    /// Breaks, each taken exactly once when the vehicle is used.
    pub breaks: Vec<Break>,
    /// What this vehicle can do (service ids); a job needs all of its `skills` here.
    pub skills: BTreeSet<String>,
    /// Maximum total demand of the jobs on the route; `None`: unlimited.
    pub capacity: Option<i64>,
    /// Maximum route distance, metres (start to end); `None`: unlimited.
    pub max_distance: Option<i64>,
}

impl Vehicle {
    /// A vehicle starting and ending at `depot` with the given shift and nothing else.
    pub fn new(id: impl Into<String>, depot: Location, shift: TimeWindow) -> Vehicle {
        Vehicle {
            id: id.into(),
            start: depot,
            end: Some(depot),
            shift,
            breaks: Vec::new(),
            skills: BTreeSet::new(),
            capacity: None,
            max_distance: None,
        }
    }
}

/// A job: one visit (a booking) at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Caller's identifier (e.g. the booking's UUID), echoed in the solution.
    pub id: String,
    /// Where the job is done.
    pub location: Location,
    /// Time on site, seconds.
    pub service_duration: i64,
    /// The service must start inside one of these (sorted, non-overlapping is not
    /// required); empty: any time in the shift.
    pub time_windows: Vec<TimeWindow>,
    /// Skills the vehicle must have (all of them).
    pub skills: BTreeSet<String>,
    /// Load taken against the vehicle's capacity; `None`: 0.
    pub demand: Option<i64>,
    /// The booking's reserved (blocked) interval, half-open `[start, end)` in seconds:
    /// two jobs whose reserved intervals overlap are never on one route, whatever their
    /// planned times (a staff member holds no two overlapping bookings — the booking
    /// table's invariant). `None`: no such constraint.
    #[serde(default)]
    pub exclusive: Option<TimeWindow>,
}

impl Job {
    /// A job with no window, skill or demand.
    pub fn new(id: impl Into<String>, location: Location, service_duration: i64) -> Job {
        Job {
            id: id.into(),
            location,
            service_duration,
            time_windows: Vec::new(),
            skills: BTreeSet::new(),
            demand: None,
            exclusive: None,
        }
    }

    /// Whether this job and `other` may not share a route: both have reserved intervals
    /// and the half-open intervals overlap.
    pub fn clashes_with(&self, other: &Job) -> bool {
        match (self.exclusive, other.exclusive) {
            (Some(a), Some(b)) => a.start < b.end && b.start < a.end,
            _ => false,
        }
    }

    /// The earliest service start at or after `arrival` that lies in a window, if any.
    pub fn earliest_start(&self, arrival: i64) -> Option<i64> {
        if self.time_windows.is_empty() {
            return Some(arrival);
        }
        self.time_windows
            .iter()
            .filter(|w| w.end >= arrival)
            .map(|w| w.start.max(arrival))
            .min()
    }

    /// The latest service start at or before `bound` that lies in a window, if any.
    pub fn latest_start(&self, bound: i64) -> Option<i64> {
        if self.time_windows.is_empty() {
            return Some(bound);
        }
        self.time_windows
            .iter()
            .filter(|w| w.start <= bound)
            .map(|w| w.end.min(bound))
            .max()
    }

    /// The end of the last window (`i64::MAX` without windows).
    pub fn last_window_end(&self) -> i64 {
        self.time_windows
            .iter()
            .map(|w| w.end)
            .max()
            .unwrap_or(i64::MAX)
    }

    /// Demand, 0 when unset.
    pub fn load(&self) -> i64 {
        self.demand.unwrap_or(0)
    }
}

/// A routing problem: matrices, vehicles and jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Drive time between locations, seconds.
    pub durations: Matrix,
    /// Drive distance between locations, metres.
    pub distances: Matrix,
    /// The fleet (staff members); index = vehicle number in the solution.
    pub vehicles: Vec<Vehicle>,
    /// The jobs (bookings); index = job number in the solution.
    pub jobs: Vec<Job>,
}

/// Why a problem is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The two matrices differ in size.
    #[error("duration matrix is {durations}x{durations}, distance matrix {distances}x{distances}")]
    MatrixSize {
        /// Size of `durations`.
        durations: usize,
        /// Size of `distances`.
        distances: usize,
    },
    /// A location index is not a matrix row.
    #[error("{what} refers to location {location}, matrices have {size}")]
    LocationOutOfRange {
        /// Which item.
        what: String,
        /// The bad index.
        location: Location,
        /// Matrix size.
        size: usize,
    },
    /// A window ends before it starts, or a duration/demand/capacity is negative.
    #[error("{0}")]
    Invalid(String),
    /// Too many stops for the exact solver.
    #[error("the exact solver takes at most {max} stops, got {got}")]
    TooManyStops {
        /// The limit.
        max: usize,
        /// What was asked.
        got: usize,
    },
}

impl Problem {
    /// Checks sizes, location indices, windows and signs.
    pub fn validate(&self) -> Result<(), ModelError> {
        let size = self.durations.size();
        if self.distances.size() != size {
            return Err(ModelError::MatrixSize {
                durations: size,
                distances: self.distances.size(),
            });
        }
        let in_range = |what: String, location: Location| {
            if location < size {
                Ok(())
            } else {
                Err(ModelError::LocationOutOfRange {
                    what,
                    location,
                    size,
                })
            }
        };
        for v in &self.vehicles {
            in_range(format!("vehicle {}", v.id), v.start)?;
            if let Some(end) = v.end {
                in_range(format!("vehicle {}", v.id), end)?;
            }
            if v.shift.end < v.shift.start {
                return Err(ModelError::Invalid(format!(
                    "vehicle {}: shift ends before it starts",
                    v.id
                )));
            }
            if v.capacity.is_some_and(|c| c < 0) || v.max_distance.is_some_and(|d| d < 0) {
                return Err(ModelError::Invalid(format!(
                    "vehicle {}: negative limit",
                    v.id
                )));
            }
            for b in &v.breaks {
                if b.window.end < b.window.start || b.duration < 0 {
                    return Err(ModelError::Invalid(format!("vehicle {}: bad break", v.id)));
                }
            }
        }
        for j in &self.jobs {
            in_range(format!("job {}", j.id), j.location)?;
            if j.service_duration < 0 || j.demand.is_some_and(|d| d < 0) {
                return Err(ModelError::Invalid(format!(
                    "job {}: negative duration or demand",
                    j.id
                )));
            }
            if j.time_windows.iter().any(|w| w.end < w.start) {
                return Err(ModelError::Invalid(format!(
                    "job {}: window ends before it starts",
                    j.id
                )));
            }
        }
        Ok(())
    }

    /// Whether vehicle `v` has every skill job `j` needs.
    pub fn can_serve(&self, v: usize, j: usize) -> bool {
        self.jobs[j].skills.is_subset(&self.vehicles[v].skills)
    }
}

/// One element of a route in visiting order: a job or one of the vehicle's breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visit {
    /// Job index.
    Job(usize),
    /// Break index (into the vehicle's `breaks`).
    Break(usize),
}

/// A job on a route, with its schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// Job index in [`Problem::jobs`].
    pub job: usize,
    /// The job's id.
    pub job_id: String,
    /// Arrival at the job's location, seconds.
    pub arrival: i64,
    /// Service start (≥ arrival, inside a window), seconds.
    pub service_start: i64,
    /// Departure = service start + service duration, seconds.
    pub departure: i64,
    /// Drive time of the leg into this stop, seconds.
    pub drive_seconds: i64,
    /// Distance of the leg into this stop, metres.
    pub distance_metres: i64,
}

/// A break placed on a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedBreak {
    /// Break index in the vehicle's `breaks`.
    pub index: usize,
    /// Number of stops served before it (0: at the start location before the first job).
    pub after_stops: usize,
    /// Start, seconds.
    pub start: i64,
    /// End = start + duration, seconds.
    pub end: i64,
}

/// One vehicle's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Vehicle index in [`Problem::vehicles`].
    pub vehicle: usize,
    /// The vehicle's id.
    pub vehicle_id: String,
    /// Departure from the start location, seconds.
    pub departure: i64,
    /// The jobs in visiting order.
    pub stops: Vec<Stop>,
    /// The breaks, in time order.
    pub breaks: Vec<PlacedBreak>,
    /// Arrival at the end location (or the last departure when the vehicle has no end),
    /// seconds.
    pub finish: i64,
    /// Total drive time including the leg to the end location, seconds.
    pub drive_seconds: i64,
    /// Total distance including the leg to the end location, metres.
    pub distance_metres: i64,
    /// Sum of the jobs' demands.
    pub load: i64,
}

/// Why a job could not be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnassignedReason {
    /// No vehicle has the skills the job needs.
    NoSkill,
    /// Every vehicle with the skills has too little capacity for the job's demand alone.
    Capacity,
    /// No vehicle with the skills can reach the job inside one of its time windows,
    /// even as its only job.
    TimeWindow,
    /// No vehicle with the skills can do the job alone within its shift (e.g. drive home
    /// too late) or within its maximum distance, although a window can be met.
    Shift,
    /// The job fits an empty day, but no route had room for it (all shifts or
    /// capacities are taken by other jobs, or the solver's budget ran out).
    NoRoom,
}

impl UnassignedReason {
    /// The `SCREAMING_SNAKE_CASE` code (as in GraphQL enums).
    pub fn code(&self) -> &'static str {
        match self {
            UnassignedReason::NoSkill => "NO_SKILL",
            UnassignedReason::Capacity => "CAPACITY",
            UnassignedReason::TimeWindow => "TIME_WINDOW",
            UnassignedReason::Shift => "SHIFT",
            UnassignedReason::NoRoom => "NO_ROOM",
        }
    }
}

/// A job left out of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unassigned {
    /// Job index.
    pub job: usize,
    /// The job's id.
    pub job_id: String,
    /// Why.
    pub reason: UnassignedReason,
}

/// Sums over the routes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Routes with at least one job.
    pub vehicles_used: usize,
    /// Jobs planned.
    pub assigned: usize,
    /// Jobs left out.
    pub unassigned: usize,
    /// Drive time, seconds.
    pub drive_seconds: i64,
    /// Distance, metres.
    pub distance_metres: i64,
    /// Waiting before service starts (arrived before a window opened), seconds.
    pub waiting_seconds: i64,
}

/// A plan: one route per used vehicle, the unassigned jobs and totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Routes with at least one job, by vehicle index.
    pub routes: Vec<Route>,
    /// Jobs not planned, by job index.
    pub unassigned: Vec<Unassigned>,
    /// Sums.
    pub totals: Totals,
}

impl Solution {
    /// Builds a solution from routes and unassigned jobs, computing the totals.
    pub fn from_parts(mut routes: Vec<Route>, mut unassigned: Vec<Unassigned>) -> Solution {
        routes.retain(|r| !r.stops.is_empty());
        routes.sort_by_key(|r| r.vehicle);
        unassigned.sort_by_key(|u| u.job);
        let mut totals = Totals {
            vehicles_used: routes.len(),
            unassigned: unassigned.len(),
            ..Totals::default()
        };
        for r in &routes {
            totals.assigned += r.stops.len();
            totals.drive_seconds += r.drive_seconds;
            totals.distance_metres += r.distance_metres;
            totals.waiting_seconds += r
                .stops
                .iter()
                .map(|s| s.service_start - s.arrival)
                .sum::<i64>();
        }
        Solution {
            routes,
            unassigned,
            totals,
        }
    }
}

/// Why a visiting order cannot be driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Infeasible {
    /// The vehicle lacks a skill the job needs.
    Skill(usize),
    /// Arrival at the job after its last window.
    TimeWindow(usize),
    /// The day does not fit the shift.
    Shift,
    /// Demands exceed capacity.
    Capacity,
    /// Route longer than the vehicle's maximum distance.
    MaxDistance,
    /// A break cannot start inside its window (or is missing or repeated).
    Break(usize),
}

/// Schedules vehicle `vehicle` along `visits` (jobs and explicit breaks) as early as
/// possible: depart at shift start, drive, wait for windows, serve; a break starts at
/// `max(now, window start)` where the vehicle is. The departure is then moved later when
/// that removes waiting before the first job (no break before it). Returns the route or
/// the first rule it breaks. A vehicle with no job visits yields an empty route.
pub fn schedule(problem: &Problem, vehicle: usize, visits: &[Visit]) -> Result<Route, Infeasible> {
    let v = &problem.vehicles[vehicle];
    let mut now = v.shift.start;
    let mut loc = v.start;
    let mut stops: Vec<Stop> = Vec::new();
    let mut breaks: Vec<PlacedBreak> = Vec::new();
    let mut taken = vec![false; v.breaks.len()];
    let (mut drive, mut dist, mut load) = (0_i64, 0_i64, 0_i64);
    let has_jobs = visits.iter().any(|x| matches!(x, Visit::Job(_)));
    for visit in visits {
        match *visit {
            Visit::Break(b) => {
                let Some(brk) = v.breaks.get(b) else {
                    return Err(Infeasible::Break(b));
                };
                if taken[b] {
                    return Err(Infeasible::Break(b));
                }
                taken[b] = true;
                let start = now.max(brk.window.start);
                if start > brk.window.end {
                    return Err(Infeasible::Break(b));
                }
                now = start + brk.duration;
                breaks.push(PlacedBreak {
                    index: b,
                    after_stops: stops.len(),
                    start,
                    end: now,
                });
            }
            Visit::Job(j) => {
                let job = &problem.jobs[j];
                if !problem.can_serve(vehicle, j) {
                    return Err(Infeasible::Skill(j));
                }
                let d = problem.durations.get(loc, job.location);
                let m = problem.distances.get(loc, job.location);
                let arrival = now + d;
                let start = job
                    .earliest_start(arrival)
                    .ok_or(Infeasible::TimeWindow(j))?;
                now = start + job.service_duration;
                drive += d;
                dist += m;
                load += job.load();
                loc = job.location;
                stops.push(Stop {
                    job: j,
                    job_id: job.id.clone(),
                    arrival,
                    service_start: start,
                    departure: now,
                    drive_seconds: d,
                    distance_metres: m,
                });
            }
        }
    }
    if has_jobs && taken.iter().any(|t| !t) {
        let missing = taken.iter().position(|t| !t).unwrap_or(0);
        return Err(Infeasible::Break(missing));
    }
    if let Some(end) = v.end.filter(|_| has_jobs) {
        drive += problem.durations.get(loc, end);
        dist += problem.distances.get(loc, end);
        now += problem.durations.get(loc, end);
    }
    if now > v.shift.end {
        return Err(Infeasible::Shift);
    }
    if v.capacity.is_some_and(|c| load > c) {
        return Err(Infeasible::Capacity);
    }
    if v.max_distance.is_some_and(|m| dist > m) {
        return Err(Infeasible::MaxDistance);
    }
    let mut departure = v.shift.start;
    if let Some(first) = stops.first_mut()
        && breaks.first().is_none_or(|b| b.after_stops > 0)
    {
        let slack = first.service_start - first.arrival;
        departure += slack;
        first.arrival += slack;
    }
    Ok(Route {
        vehicle,
        vehicle_id: v.id.clone(),
        departure,
        stops,
        breaks,
        finish: if has_jobs { now } else { departure },
        drive_seconds: drive,
        distance_metres: dist,
        load,
    })
}

/// Places the vehicle's breaks into a job order by a greedy rule and schedules it: before
/// driving to the next job, a pending break (in window order) is taken now when that
/// does not delay the next job's service start (it fits in the waiting time), or when
/// postponing it past the next job would miss its window; breaks still pending after the
/// last job are taken there. Exact placement is the exact solver's business; this rule
/// is what the heuristic uses.
pub fn schedule_with_breaks(
    problem: &Problem,
    vehicle: usize,
    jobs: &[usize],
) -> Result<Route, Infeasible> {
    let v = &problem.vehicles[vehicle];
    if v.breaks.is_empty() || jobs.is_empty() {
        let visits: Vec<Visit> = jobs.iter().map(|j| Visit::Job(*j)).collect();
        return schedule(problem, vehicle, &visits);
    }
    let mut order: Vec<usize> = (0..v.breaks.len()).collect();
    order.sort_by_key(|b| (v.breaks[*b].window.end, v.breaks[*b].window.start));
    let mut pending = order.into_iter().peekable();
    let mut visits = Vec::with_capacity(jobs.len() + v.breaks.len());
    let mut now = v.shift.start;
    let mut loc = v.start;
    for &j in jobs {
        let job = &problem.jobs[j];
        let d = problem.durations.get(loc, job.location);
        while let Some(&b) = pending.peek() {
            let brk = &v.breaks[b];
            let unbroken_start = job.earliest_start(now + d);
            let b_start = now.max(brk.window.start);
            if b_start > brk.window.end {
                break; // missed: schedule() reports it
            }
            let broken_start = job.earliest_start(b_start + brk.duration + d);
            let free = match (unbroken_start, broken_start) {
                (Some(u), Some(w)) => w <= u,
                _ => false,
            };
            let forced = match unbroken_start {
                Some(u) => now.max(u + job.service_duration).max(brk.window.start) > brk.window.end,
                None => true,
            };
            if free || forced {
                visits.push(Visit::Break(b));
                now = b_start + brk.duration;
                pending.next();
            } else {
                break;
            }
        }
        visits.push(Visit::Job(j));
        let start = job
            .earliest_start(now + d)
            .ok_or(Infeasible::TimeWindow(j))?;
        now = start + job.service_duration;
        loc = job.location;
    }
    visits.extend(pending.map(Visit::Break));
    schedule(problem, vehicle, &visits)
}

/// A broken rule found by [`check_feasibility`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Vehicle index, when the rule concerns a route.
    pub vehicle: Option<usize>,
    /// Job index, when the rule concerns a job.
    pub job: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Re-verifies a solution against the problem from first principles, independently of
/// the solvers: every job planned at most once and either planned or listed unassigned;
/// skills; legs' drive time and distance equal the matrices; arrival no earlier than the
/// previous departure (plus breaks) plus the drive; service start ≥ arrival and inside a
/// window; departure = start + service; breaks inside their windows, not overlapping
/// anything, each exactly once on a used route; departure ≥ shift start, finish ≤ shift
/// end; capacity; maximum distance; totals.
pub fn check_feasibility(problem: &Problem, solution: &Solution) -> Result<(), Vec<Violation>> {
    let mut out = Vec::new();
    let mut bad = |vehicle: Option<usize>, job: Option<usize>, message: String| {
        out.push(Violation {
            vehicle,
            job,
            message,
        })
    };
    let mut seen = vec![0_u32; problem.jobs.len()];
    let mut used = vec![false; problem.vehicles.len()];
    let (mut drive_total, mut dist_total, mut assigned) = (0_i64, 0_i64, 0_usize);
    for r in &solution.routes {
        let vi = r.vehicle;
        let Some(v) = problem.vehicles.get(vi) else {
            bad(Some(vi), None, "no such vehicle".into());
            continue;
        };
        if std::mem::replace(&mut used[vi], true) {
            bad(Some(vi), None, "vehicle has two routes".into());
        }
        if r.departure < v.shift.start {
            bad(
                Some(vi),
                None,
                format!(
                    "departs at {} before shift start {}",
                    r.departure, v.shift.start
                ),
            );
        }
        let mut now = r.departure;
        let mut loc = v.start;
        let (mut drive, mut dist, mut load) = (0_i64, 0_i64, 0_i64);
        let mut break_seen = vec![0_u32; v.breaks.len()];
        for k in 0..=r.stops.len() {
            for b in r.breaks.iter().filter(|b| b.after_stops == k) {
                let Some(def) = v.breaks.get(b.index) else {
                    bad(Some(vi), None, format!("no break {}", b.index));
                    continue;
                };
                break_seen[b.index] += 1;
                if b.start < now {
                    bad(
                        Some(vi),
                        None,
                        format!("break {} starts at {} before {}", b.index, b.start, now),
                    );
                }
                if !def.window.contains(b.start) {
                    bad(
                        Some(vi),
                        None,
                        format!("break {} starts outside its window", b.index),
                    );
                }
                if b.end != b.start + def.duration {
                    bad(
                        Some(vi),
                        None,
                        format!("break {} has the wrong length", b.index),
                    );
                }
                now = now.max(b.end);
            }
            let Some(s) = r.stops.get(k) else { break };
            let Some(job) = problem.jobs.get(s.job) else {
                bad(Some(vi), Some(s.job), "no such job".into());
                continue;
            };
            assigned += 1;
            seen[s.job] += 1;
            if !job.skills.is_subset(&v.skills) {
                bad(Some(vi), Some(s.job), "vehicle lacks a skill".into());
            }
            let d = problem.durations.get(loc, job.location);
            let m = problem.distances.get(loc, job.location);
            if s.drive_seconds != d || s.distance_metres != m {
                bad(
                    Some(vi),
                    Some(s.job),
                    "leg does not match the matrices".into(),
                );
            }
            if s.arrival < now + d {
                bad(
                    Some(vi),
                    Some(s.job),
                    format!("arrives at {} before {}", s.arrival, now + d),
                );
            }
            if s.service_start < s.arrival {
                bad(
                    Some(vi),
                    Some(s.job),
                    "service starts before arrival".into(),
                );
            }
            if !job.time_windows.is_empty()
                && !job.time_windows.iter().any(|w| w.contains(s.service_start))
            {
                bad(
                    Some(vi),
                    Some(s.job),
                    format!("service start {} outside every window", s.service_start),
                );
            }
            if s.departure != s.service_start + job.service_duration {
                bad(
                    Some(vi),
                    Some(s.job),
                    "departure is not start + service".into(),
                );
            }
            now = s.departure;
            loc = job.location;
            drive += d;
            dist += m;
            load += job.load();
        }
        for (i, a) in r.stops.iter().enumerate() {
            for b in &r.stops[i + 1..] {
                if let (Some(ja), Some(jb)) = (problem.jobs.get(a.job), problem.jobs.get(b.job))
                    && ja.clashes_with(jb)
                {
                    bad(
                        Some(vi),
                        Some(b.job),
                        format!("reserved intervals of jobs {} and {} overlap", a.job, b.job),
                    );
                }
            }
        }
        if !r.stops.is_empty() {
            for (b, n) in break_seen.iter().enumerate() {
                if *n != 1 {
                    bad(Some(vi), None, format!("break {b} taken {n} times"));
                }
            }
        }
        if let Some(end) = v.end {
            now += problem.durations.get(loc, end);
            drive += problem.durations.get(loc, end);
            dist += problem.distances.get(loc, end);
        }
        if now > v.shift.end {
            bad(
                Some(vi),
                None,
                format!("finishes at {now} after shift end {}", v.shift.end),
            );
        }
        if r.finish < now {
            bad(Some(vi), None, "finish earlier than possible".into());
        }
        if drive != r.drive_seconds || dist != r.distance_metres || load != r.load {
            bad(Some(vi), None, "route totals do not add up".into());
        }
        if v.capacity.is_some_and(|c| load > c) {
            bad(Some(vi), None, format!("load {load} over capacity"));
        }
        if v.max_distance.is_some_and(|m| dist > m) {
            bad(Some(vi), None, format!("distance {dist} over maximum"));
        }
        drive_total += drive;
        dist_total += dist;
    }
    for u in &solution.unassigned {
        match seen.get_mut(u.job) {
            Some(n) => *n += 1,
            None => bad(None, Some(u.job), "no such job".into()),
        }
    }
    for (j, n) in seen.iter().enumerate() {
        if *n != 1 {
            bad(
                None,
                Some(j),
                format!("job appears {n} times (routes + unassigned)"),
            );
        }
    }
    let t = &solution.totals;
    if t.drive_seconds != drive_total
        || t.distance_metres != dist_total
        || t.assigned != assigned
        || t.unassigned != solution.unassigned.len()
    {
        bad(None, None, "solution totals do not add up".into());
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Why `job` cannot be planned at all, judged against every vehicle on an empty day;
/// `None` when some vehicle can do it alone.
pub fn reason_alone(problem: &Problem, job: usize) -> Option<UnassignedReason> {
    let skilled: Vec<usize> = (0..problem.vehicles.len())
        .filter(|v| problem.can_serve(*v, job))
        .collect();
    if skilled.is_empty() {
        return Some(UnassignedReason::NoSkill);
    }
    let demand = problem.jobs[job].load();
    let roomy: Vec<usize> = skilled
        .into_iter()
        .filter(|v| problem.vehicles[*v].capacity.is_none_or(|c| demand <= c))
        .collect();
    if roomy.is_empty() {
        return Some(UnassignedReason::Capacity);
    }
    let mut window_ok = false;
    for &v in &roomy {
        match schedule_with_breaks(problem, v, &[job]) {
            Ok(_) => return None,
            Err(Infeasible::TimeWindow(_)) => {}
            Err(_) => window_ok = true,
        }
    }
    Some(if window_ok {
        UnassignedReason::Shift
    } else {
        UnassignedReason::TimeWindow
    })
}
