//! Exact single-vehicle routing: dynamic programming over subsets (Held and Karp, "A
//! dynamic programming approach to sequencing problems", J. SIAM 10(1), 1962), extended to
//! time windows, breaks, capacity and maximum distance with Pareto labels.
//!
//! State: (set of visits done, last job). Jobs and the vehicle's breaks are both elements
//! of the set; a break adds time where the vehicle stands and no drive. Each state keeps
//! every label (drive seconds, clock, distance) not dominated by another: with time
//! windows an order that is longer but earlier can be the only one that reaches a later
//! window, so keeping only the shortest path per state (plain Held–Karp) would not be
//! exact. Waiting is allowed, so an earlier clock never hurts; the labels therefore
//! cover every completion. Objective: minimum total drive seconds (including the drive
//! to the end location), ties broken by the earlier finish.
//!
//! Cost: `O(2^(n+b) · n² · labels)`; [`MAX_EXACT_STOPS`] jobs (≤ 12, Mapbox Optimization
//! v1's limit too) solve in milliseconds in release builds.

use crate::model::{Location, ModelError, Problem, Route, Visit, schedule};

/// Largest number of jobs [`solve_exact`] accepts.
pub const MAX_EXACT_STOPS: usize = 12;

/// Largest number of breaks of the vehicle [`solve_exact`] accepts.
pub const MAX_EXACT_BREAKS: usize = 3;

#[derive(Clone, Copy)]
struct Label {
    drive: i64,
    time: i64,
    dist: i64,
    /// Arena index of the predecessor label (`u32::MAX` for the root).
    pred: u32,
    /// What was appended to reach this label.
    visit: Visit,
}

/// The provably optimal route of `vehicle` serving **all** of `jobs` (indices into
/// `problem.jobs`), with its breaks placed optimally: minimum drive seconds, then
/// earliest finish. `Ok(None)` when no order is feasible (a missing skill, windows,
/// shift, capacity, maximum distance or breaks). Errors when the problem is malformed or
/// there are more than [`MAX_EXACT_STOPS`] jobs or [`MAX_EXACT_BREAKS`] breaks.
pub fn solve_exact(
    problem: &Problem,
    vehicle: usize,
    jobs: &[usize],
) -> Result<Option<Route>, ModelError> {
    problem.validate()?;
    let Some(v) = problem.vehicles.get(vehicle) else {
        return Err(ModelError::Invalid(format!("no vehicle {vehicle}")));
    };
    if jobs.len() > MAX_EXACT_STOPS {
        return Err(ModelError::TooManyStops {
            max: MAX_EXACT_STOPS,
            got: jobs.len(),
        });
    }
    if v.breaks.len() > MAX_EXACT_BREAKS {
        return Err(ModelError::Invalid(format!(
            "the exact solver takes at most {MAX_EXACT_BREAKS} breaks"
        )));
    }
    if let Some(j) = jobs.iter().find(|j| **j >= problem.jobs.len()) {
        return Err(ModelError::Invalid(format!("no job {j}")));
    }
    if jobs.is_empty() {
        return Ok(schedule(problem, vehicle, &[]).ok());
    }
    // Jobs whose reserved intervals overlap never share a route.
    if jobs.iter().enumerate().any(|(i, &a)| {
        jobs[i + 1..]
            .iter()
            .any(|&b| problem.jobs[a].clashes_with(&problem.jobs[b]))
    }) {
        return Ok(None);
    }
    if jobs.iter().any(|j| !problem.can_serve(vehicle, *j)) {
        return Ok(None);
    }
    let n = jobs.len();
    let nb = v.breaks.len();
    let bits = n + nb;
    let full: usize = (1 << bits) - 1;
    let loc = |last: usize| -> Location {
        if last == 0 {
            v.start
        } else {
            problem.jobs[jobs[last - 1]].location
        }
    };
    let track_dist = v.max_distance.is_some();
    // Demands only add up, so the whole set is the only capacity check needed.
    if v.capacity
        .is_some_and(|c| jobs.iter().map(|j| problem.jobs[*j].load()).sum::<i64>() > c)
    {
        return Ok(None);
    }
    let mut arena: Vec<Label> = vec![Label {
        drive: 0,
        time: v.shift.start,
        dist: 0,
        pred: u32::MAX,
        visit: Visit::Break(usize::MAX),
    }];
    // states[mask * (n + 1) + last] = arena indices of Pareto labels.
    let mut states: Vec<Vec<u32>> = vec![Vec::new(); (full + 1) * (n + 1)];
    states[0].push(0);
    let dominated = |a: &Label, b: &Label| -> bool {
        // b dominates a
        b.drive <= a.drive && b.time <= a.time && (!track_dist || b.dist <= a.dist)
    };
    for mask in 0..=full {
        for last in 0..=n {
            let here = std::mem::take(&mut states[mask * (n + 1) + last]);
            if here.is_empty() {
                continue;
            }
            for &li in &here {
                let l = arena[li as usize];
                let from = loc(last);
                // Next job.
                for k in 0..n {
                    if mask & (1 << k) != 0 {
                        continue;
                    }
                    let job = &problem.jobs[jobs[k]];
                    let arrival = l.time + problem.durations.get(from, job.location);
                    let Some(start) = job.earliest_start(arrival) else {
                        continue;
                    };
                    let cand = Label {
                        drive: l.drive + problem.durations.get(from, job.location),
                        time: start + job.service_duration,
                        dist: l.dist + problem.distances.get(from, job.location),
                        pred: li,
                        visit: Visit::Job(jobs[k]),
                    };
                    if cand.time > v.shift.end || v.max_distance.is_some_and(|m| cand.dist > m) {
                        continue;
                    }
                    push_label(
                        &mut arena,
                        &mut states[(mask | (1 << k)) * (n + 1) + k + 1],
                        cand,
                        &dominated,
                    );
                }
                // Next break, where the vehicle stands.
                for b in 0..nb {
                    if mask & (1 << (n + b)) != 0 {
                        continue;
                    }
                    let brk = &v.breaks[b];
                    let start = l.time.max(brk.window.start);
                    if start > brk.window.end {
                        continue;
                    }
                    let cand = Label {
                        time: start + brk.duration,
                        pred: li,
                        visit: Visit::Break(b),
                        ..l
                    };
                    if cand.time > v.shift.end {
                        continue;
                    }
                    push_label(
                        &mut arena,
                        &mut states[(mask | (1 << (n + b))) * (n + 1) + last],
                        cand,
                        &dominated,
                    );
                }
            }
            states[mask * (n + 1) + last] = here;
        }
    }
    let mut best: Option<(i64, i64, u32)> = None;
    for last in 1..=n {
        for &li in &states[full * (n + 1) + last] {
            let l = arena[li as usize];
            let (d, m) = match v.end {
                Some(end) => (
                    problem.durations.get(loc(last), end),
                    problem.distances.get(loc(last), end),
                ),
                None => (0, 0),
            };
            let (drive, finish) = (l.drive + d, l.time + d);
            if finish > v.shift.end || v.max_distance.is_some_and(|x| l.dist + m > x) {
                continue;
            }
            if best.is_none_or(|(bd, bf, _)| (drive, finish) < (bd, bf)) {
                best = Some((drive, finish, li));
            }
        }
    }
    let Some((_, _, mut li)) = best else {
        return Ok(None);
    };
    let mut visits = Vec::with_capacity(bits);
    while li != 0 && li != u32::MAX {
        let l = arena[li as usize];
        visits.push(l.visit);
        li = l.pred;
    }
    visits.reverse();
    Ok(schedule(problem, vehicle, &visits).ok())
}

fn push_label(
    arena: &mut Vec<Label>,
    state: &mut Vec<u32>,
    cand: Label,
    dominated: &impl Fn(&Label, &Label) -> bool,
) {
    if state.iter().any(|i| dominated(&cand, &arena[*i as usize])) {
        return;
    }
    state.retain(|i| !dominated(&arena[*i as usize], &cand));
    state.push(arena.len() as u32);
    arena.push(cand);
}
