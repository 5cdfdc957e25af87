//! The multi-vehicle heuristic: ruin and recreate with simulated annealing, after
//! Christiaens and Vanden Berghe, "Slack Induction by String Removals for Vehicle Routing
//! Problems" (SISR), Transportation Science 54(2), 2020.
//!
//! - **Ruin**: remove a few strings (runs of consecutive jobs, sometimes with one kept
//!   block inside: "split strings") from routes near a random seed job.
//! - **Recreate**: greedy cheapest insertion in a random order (random, largest demand,
//!   farthest, tightest window), skipping each position with a small probability
//!   ("blinks") so equal-cost choices vary.
//! - **Accept** with simulated annealing (temperature from about one average leg down to
//!   a hundredth of it, exponentially over the budget); keep the best.
//! - **Fleet minimisation** (when [`SolveOptions::minimize_vehicles`]): first take a route
//!   away and ruin-and-recreate without opening routes, ordering by how often each job
//!   stayed out (SISR's absence counters), until every job is back; repeat.
//! - **Polish**: on the best solution, intra-route 2-opt and or-opt moves that keep
//!   every rule (checked by rescheduling).
//!
//! Feasibility of an insertion is O(1) for vehicles without breaks: each route keeps the
//! service start of every stop (as early as possible) and the latest start that keeps the
//! rest of the route on time (backward pass; Savelsbergh's forward time slack in another
//! form). Vehicles with breaks are rescheduled in full with [`schedule_with_breaks`].
//!
//! Deterministic for a given seed and an iteration budget; a time budget only changes how
//! many iterations run.

use std::time::{Duration, Instant};

use crate::exact::{MAX_EXACT_BREAKS, MAX_EXACT_STOPS, solve_exact};
use crate::model::{
    Location, Matrix, ModelError, Problem, Solution, Unassigned, UnassignedReason, reason_alone,
    schedule_with_breaks,
};

/// How long [`solve`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// A fixed number of ruin-and-recreate iterations: the result depends only on the
    /// problem and the seed (use this in tests).
    Iterations(u64),
    /// Wall-clock time: as many iterations as fit.
    Time(Duration),
}

/// What a route costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostMetric {
    /// Drive seconds (the `durations` matrix): what a service business pays for.
    #[default]
    Duration,
    /// Metres (the `distances` matrix): the benchmarks' objective.
    Distance,
}

/// Options of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolveOptions {
    /// Search budget.
    pub budget: Budget,
    /// Random seed.
    pub seed: u64,
    /// Objective, after "plan as many jobs as possible": when `true`, fewest vehicles
    /// first, then cost (Solomon's hierarchical objective); when `false`, cost only (a
    /// staff member is used whenever that saves drive).
    pub minimize_vehicles: bool,
    /// The cost to minimise.
    pub cost: CostMetric,
}

impl Default for SolveOptions {
    /// 5,000 iterations, seed 1, cost = drive seconds, vehicles not minimised.
    fn default() -> Self {
        SolveOptions {
            budget: Budget::Iterations(5_000),
            seed: 1,
            minimize_vehicles: false,
            cost: CostMetric::Duration,
        }
    }
}

/// SISR's average number of removed jobs per ruin (c̄).
const AVG_REMOVED: f64 = 10.0;
/// SISR's maximum string length (L_max).
const MAX_STRING: usize = 10;
/// Probability of skipping an insertion position (SISR's blink rate).
const BLINK: f64 = 0.01;
/// Share of the budget the fleet minimisation may use.
const FLEET_SHARE: f64 = 0.4;
/// Most exact solves the final repair of left-out jobs may run.
const EXACT_REPAIR_CALLS: usize = 60;
/// Probability that a ruin empties the seed job's whole route instead of removing strings.
const ROUTE_RUIN: f64 = 0.05;
/// Fleet minimisation gives up on a route after this many iterations without fewer
/// jobs left out.
const FLEET_STALL: u64 = 20_000;
/// Start temperature of the annealing, in average legs of the first solution.
const T_START: f64 = 0.5;
/// End temperature, as a share of the start temperature.
const T_END: f64 = 0.01;
/// Neighbours kept per job for the ruin.
const NEIGHBOURS: usize = 60;

/// splitmix64 (Steele, Lea, Flood 2014): small, fast, same sequence on every platform.
#[derive(Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
    /// Uniform in 0..n (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[derive(Clone, Debug)]
struct RouteState {
    vehicle: usize,
    jobs: Vec<usize>,
    /// Earliest service start of each stop (breaks ignored).
    start: Vec<i64>,
    /// Latest service start of each stop keeping the rest feasible (vehicles without
    /// breaks only).
    latest: Vec<i64>,
    load: i64,
    dist: i64,
    cost: i64,
}

#[derive(Clone, Debug)]
struct State {
    routes: Vec<RouteState>,
    unassigned: Vec<usize>,
    cost: i64,
}

impl State {
    /// `*self = other.clone()`, reusing this state's allocations.
    fn copy_from(&mut self, other: &State) {
        self.routes.truncate(other.routes.len());
        for (a, b) in self.routes.iter_mut().zip(&other.routes) {
            a.vehicle = b.vehicle;
            a.jobs.clone_from(&b.jobs);
            a.start.clone_from(&b.start);
            a.latest.clone_from(&b.latest);
            a.load = b.load;
            a.dist = b.dist;
            a.cost = b.cost;
        }
        let have = self.routes.len();
        self.routes.extend(other.routes[have..].iter().cloned());
        self.unassigned.clone_from(&other.unassigned);
        self.cost = other.cost;
    }

    fn used(&self) -> usize {
        self.routes.iter().filter(|r| !r.jobs.is_empty()).count()
    }
    fn recount(&mut self) {
        self.cost = self.routes.iter().map(|r| r.cost).sum();
    }
}

struct Ctx<'a> {
    p: &'a Problem,
    cost: &'a Matrix,
    neighbours: Vec<Vec<usize>>,
    compat: Vec<Vec<bool>>,
    class_of: Vec<usize>,
    classes: usize,
    fast: Vec<bool>,
    last_end: Vec<i64>,
    far: Vec<i64>,
    minimize_vehicles: bool,
}

/// Plans the day: assigns and orders `problem.jobs` over `problem.vehicles` so that as
/// many jobs as possible are planned, then (see [`SolveOptions::minimize_vehicles`])
/// fewest vehicles, then least cost. Every returned route keeps windows, shifts, breaks,
/// skills, capacities and maximum distances ([`crate::check_feasibility`] passes); jobs
/// left out come with a reason. Errors only on a malformed problem.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<Solution, ModelError> {
    solve_with_stats(problem, options).map(|(s, _)| s)
}

/// What a [`solve`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolveStats {
    /// Ruin-and-recreate iterations, fleet minimisation included.
    pub iterations: u64,
    /// Of which in fleet minimisation.
    pub fleet_iterations: u64,
    /// Wall-clock time spent.
    pub elapsed: Duration,
}

/// [`solve`], also returning what the search did.
pub fn solve_with_stats(
    problem: &Problem,
    options: &SolveOptions,
) -> Result<(Solution, SolveStats), ModelError> {
    problem.validate()?;
    let ctx = Ctx::new(problem, options);
    let mut rng = Rng::new(options.seed);
    let started = Instant::now();
    let progress = |it: u64| -> f64 {
        match options.budget {
            Budget::Iterations(n) => it as f64 / n.max(1) as f64,
            Budget::Time(d) => started.elapsed().as_secs_f64() / d.as_secs_f64().max(1e-9),
        }
    };

    let mut sol = ctx.empty();
    let mut all: Vec<usize> = (0..problem.jobs.len()).collect();
    all.sort_by_key(|j| std::cmp::Reverse(ctx.far[*j]));
    ctx.recreate(&mut sol, all, &mut rng, usize::MAX, None, Some(0));
    let mut it: u64 = 0;

    if options.minimize_vehicles && sol.unassigned.is_empty() {
        sol = ctx.minimise_fleet(sol, &mut rng, &mut it, &progress);
    }
    let fleet_iterations = it;
    let phase_start = progress(it).min(1.0);
    let legs = (problem.jobs.len() - sol.unassigned.len() + sol.used()).max(1) as f64;
    let t0 = (sol.cost as f64 / legs * T_START).max(1.0);
    let tf = t0 * T_END;
    let mut best = sol.clone();
    let mut cand = sol.clone();
    let mut current = sol;
    while progress(it) < 1.0 {
        it += 1;
        cand.copy_from(&current);
        let mut removed = ctx.ruin(&mut cand, &mut rng);
        // Jobs the current solution leaves out are retried every time.
        removed.append(&mut cand.unassigned);
        // Routes may be (re)opened up to the current count when vehicles are minimised, so
        // a ruin that empties a route can rebuild it differently.
        let max_routes = if options.minimize_vehicles && current.unassigned.is_empty() {
            current.used()
        } else {
            usize::MAX
        };
        ctx.recreate(&mut cand, removed, &mut rng, max_routes, None, None);
        for (ri, r) in cand.routes.iter_mut().enumerate() {
            if r.jobs.len() > 3 && r.jobs != current.routes[ri].jobs {
                ctx.two_opt(r);
            }
        }
        cand.recount();
        let frac = ((progress(it) - phase_start) / (1.0 - phase_start).max(1e-9)).clamp(0.0, 1.0);
        let temp = t0 * (tf / t0).powf(frac);
        let accept = match ctx.compare_hierarchy(&cand, &current) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => {
                (cand.cost as f64) < current.cost as f64 - temp * rng.unit().max(1e-300).ln()
            }
        };
        if accept {
            if ctx.better(&cand, &best) {
                best.copy_from(&cand);
            }
            std::mem::swap(&mut current, &mut cand);
        }
    }
    ctx.polish(&mut best);
    ctx.exact_repair(&mut best);
    let stats = SolveStats {
        iterations: it,
        fleet_iterations,
        elapsed: started.elapsed(),
    };
    Ok((ctx.to_solution(best), stats))
}

impl<'a> Ctx<'a> {
    fn new(p: &'a Problem, options: &SolveOptions) -> Ctx<'a> {
        let cost = match options.cost {
            CostMetric::Duration => &p.durations,
            CostMetric::Distance => &p.distances,
        };
        let n = p.jobs.len();
        let loc = |j: usize| p.jobs[j].location;
        let neighbours = (0..n)
            .map(|a| {
                let mut others: Vec<usize> = (0..n).filter(|b| *b != a).collect();
                others.sort_by_key(|b| (cost.get(loc(a), loc(*b)) + cost.get(loc(*b), loc(a)), *b));
                others.truncate(NEIGHBOURS);
                others
            })
            .collect();
        let compat = (0..p.vehicles.len())
            .map(|v| (0..n).map(|j| p.can_serve(v, j)).collect())
            .collect();
        let mut class_of = Vec::with_capacity(p.vehicles.len());
        let mut reps: Vec<usize> = Vec::new();
        for (i, v) in p.vehicles.iter().enumerate() {
            let same = reps.iter().position(|r| {
                let w = &p.vehicles[*r];
                (
                    w.start,
                    w.end,
                    w.shift,
                    &w.breaks,
                    &w.skills,
                    w.capacity,
                    w.max_distance,
                ) == (
                    v.start,
                    v.end,
                    v.shift,
                    &v.breaks,
                    &v.skills,
                    v.capacity,
                    v.max_distance,
                )
            });
            match same {
                Some(c) => class_of.push(c),
                None => {
                    class_of.push(reps.len());
                    reps.push(i);
                }
            }
        }
        let depot = p.vehicles.first().map(|v| v.start).unwrap_or(0);
        Ctx {
            p,
            cost,
            neighbours,
            compat,
            class_of,
            classes: reps.len(),
            fast: p.vehicles.iter().map(|v| v.breaks.is_empty()).collect(),
            last_end: p.jobs.iter().map(|j| j.last_window_end()).collect(),
            far: p
                .jobs
                .iter()
                .map(|j| cost.get(depot, j.location) + cost.get(j.location, depot))
                .collect(),
            minimize_vehicles: options.minimize_vehicles,
        }
    }

    fn loc(&self, j: usize) -> Location {
        self.p.jobs[j].location
    }

    /// Whether job `u`'s reserved interval overlaps one of the route's jobs'.
    fn clashes(&self, r: &RouteState, u: usize) -> bool {
        let job = &self.p.jobs[u];
        job.exclusive.is_some() && r.jobs.iter().any(|&j| job.clashes_with(&self.p.jobs[j]))
    }

    fn empty(&self) -> State {
        State {
            routes: (0..self.p.vehicles.len())
                .map(|v| RouteState {
                    vehicle: v,
                    jobs: Vec::new(),
                    start: Vec::new(),
                    latest: Vec::new(),
                    load: 0,
                    dist: 0,
                    cost: 0,
                })
                .collect(),
            unassigned: Vec::new(),
            cost: 0,
        }
    }

    /// (unassigned, vehicles if minimised) lexicographic comparison.
    fn compare_hierarchy(&self, a: &State, b: &State) -> std::cmp::Ordering {
        let ka = (
            a.unassigned.len(),
            if self.minimize_vehicles { a.used() } else { 0 },
        );
        let kb = (
            b.unassigned.len(),
            if self.minimize_vehicles { b.used() } else { 0 },
        );
        ka.cmp(&kb)
    }

    fn better(&self, a: &State, b: &State) -> bool {
        match self.compare_hierarchy(a, b) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => a.cost < b.cost,
        }
    }

    /// Recomputes starts, latest starts, load, distance and cost of a route; returns
    /// whether it keeps windows, shift, capacity and maximum distance when breaks are
    /// left out (exact for vehicles without breaks).
    fn update(&self, r: &mut RouteState) -> bool {
        let p = self.p;
        let v = &p.vehicles[r.vehicle];
        let n = r.jobs.len();
        r.start.clear();
        r.latest.clear();
        r.load = 0;
        r.dist = 0;
        r.cost = 0;
        if n == 0 {
            return true;
        }
        let mut ok = true;
        let mut now = v.shift.start;
        let mut at = v.start;
        for &j in &r.jobs {
            let job = &p.jobs[j];
            let arr = now + p.durations.get(at, job.location);
            let s = job.earliest_start(arr).unwrap_or_else(|| {
                ok = false;
                arr
            });
            r.start.push(s);
            now = s + job.service_duration;
            r.load += job.load();
            r.dist += p.distances.get(at, job.location);
            r.cost += self.cost.get(at, job.location);
            at = job.location;
        }
        if let Some(e) = v.end {
            r.dist += p.distances.get(at, e);
            r.cost += self.cost.get(at, e);
            now += p.durations.get(at, e);
        }
        ok &= now <= v.shift.end
            && v.capacity.is_none_or(|c| r.load <= c)
            && v.max_distance.is_none_or(|m| r.dist <= m);
        if self.fast[r.vehicle] {
            r.latest.resize(n, 0);
            for i in (0..n).rev() {
                let job = &p.jobs[r.jobs[i]];
                let after = if i + 1 == n {
                    v.shift.end - v.end.map_or(0, |e| p.durations.get(job.location, e))
                } else {
                    r.latest[i + 1] - p.durations.get(job.location, self.loc(r.jobs[i + 1]))
                };
                r.latest[i] = job
                    .latest_start(after - job.service_duration)
                    .unwrap_or(i64::MIN / 4);
            }
        }
        ok
    }

    /// 2-opt on one route, first improvement until none: a reversal is tried when its
    /// symmetric delta is negative, kept when the rescheduled route is feasible and
    /// really cheaper.
    fn two_opt(&self, r: &mut RouteState) {
        let v = &self.p.vehicles[r.vehicle];
        let c = |a: Location, b: Location| self.cost.get(a, b);
        let mut rounds = 0;
        let mut improved = true;
        while improved && rounds < 20 {
            improved = false;
            rounds += 1;
            let n = r.jobs.len();
            'outer: for i in 0..n {
                let before = if i == 0 {
                    v.start
                } else {
                    self.loc(r.jobs[i - 1])
                };
                let first = self.loc(r.jobs[i]);
                for k in i + 1..n {
                    let last = self.loc(r.jobs[k]);
                    let after = if k + 1 == n {
                        v.end
                    } else {
                        Some(self.loc(r.jobs[k + 1]))
                    };
                    let delta = c(before, last) - c(before, first)
                        + after.map_or(0, |a| c(first, a) - c(last, a));
                    if delta >= 0 {
                        continue;
                    }
                    if self.fast[r.vehicle] && !self.reversal_feasible(r, i, k) {
                        continue;
                    }
                    let mut cand = r.clone();
                    cand.jobs[i..=k].reverse();
                    let ok = self.update(&mut cand);
                    if ok
                        && cand.cost < r.cost
                        && (self.fast[r.vehicle]
                            || schedule_with_breaks(self.p, r.vehicle, &cand.jobs).is_ok())
                    {
                        *r = cand;
                        improved = true;
                        break 'outer;
                    }
                }
            }
        }
    }

    /// Cost delta of inserting job `u` at `pos` of route `r`, if it is below `bound` and
    /// feasible (capacity is the caller's business). The delta is computed first so that
    /// positions that cannot win skip the feasibility check.
    fn insertion(&self, r: &RouteState, u: usize, pos: usize, bound: i64) -> Option<i64> {
        let p = self.p;
        let v = &p.vehicles[r.vehicle];
        let job = &p.jobs[u];
        let n = r.jobs.len();
        let prev = if pos == 0 {
            v.start
        } else {
            self.loc(r.jobs[pos - 1])
        };
        let next = if pos == n {
            v.end
        } else {
            Some(self.loc(r.jobs[pos]))
        };
        let c = |a: Location, b: Location| self.cost.get(a, b);
        let old = if n == 0 {
            0
        } else {
            next.map_or(0, |x| c(prev, x))
        };
        let delta = c(prev, job.location) + next.map_or(0, |x| c(job.location, x)) - old;
        if delta >= bound {
            return None;
        }
        if let Some(max) = v.max_distance {
            let d = |a: Location, b: Location| p.distances.get(a, b);
            let old_d = if n == 0 {
                0
            } else {
                next.map_or(0, |x| d(prev, x))
            };
            if r.dist + d(prev, job.location) + next.map_or(0, |x| d(job.location, x)) - old_d > max
            {
                return None;
            }
        }
        let prev_dep = if pos == 0 {
            v.shift.start
        } else {
            r.start[pos - 1] + p.jobs[r.jobs[pos - 1]].service_duration
        };
        let arr = prev_dep + p.durations.get(prev, job.location);
        let s = job.earliest_start(arr)?;
        let dep = s + job.service_duration;
        if self.fast[r.vehicle] {
            if pos == n {
                let finish = dep + next.map_or(0, |e| p.durations.get(job.location, e));
                (finish <= v.shift.end).then_some(delta)
            } else {
                let arr_next = dep + p.durations.get(job.location, self.loc(r.jobs[pos]));
                (arr_next <= r.latest[pos]).then_some(delta)
            }
        } else {
            let mut jobs = r.jobs.clone();
            jobs.insert(pos, u);
            schedule_with_breaks(p, r.vehicle, &jobs)
                .ok()
                .map(|_| delta)
        }
    }

    /// Inserts `removed` greedily. `absences` orders by most often left out (fleet
    /// phase); `order` forces a sort order (0 = as given).
    fn recreate(
        &self,
        sol: &mut State,
        mut removed: Vec<usize>,
        rng: &mut Rng,
        max_routes: usize,
        absences: Option<&[u32]>,
        order: Option<u8>,
    ) {
        let p = self.p;
        let pick = order.unwrap_or_else(|| {
            let x = rng.below(13);
            match x {
                0..=3 => 1,
                4..=7 => 2,
                8..=9 => 3,
                10 => 4,
                _ => 5,
            }
        });
        match pick {
            1 => {
                for i in (1..removed.len()).rev() {
                    removed.swap(i, rng.below(i + 1));
                }
            }
            2 => removed.sort_by_key(|j| std::cmp::Reverse(p.jobs[*j].load())),
            3 => removed.sort_by_key(|j| std::cmp::Reverse(self.far[*j])),
            4 => removed.sort_by_key(|j| self.far[*j]),
            5 => removed.sort_by_key(|j| self.last_end[*j]),
            _ => {}
        }
        if let Some(abs) = absences {
            removed.sort_by_key(|j| std::cmp::Reverse(abs[*j]));
        }
        let mut seen_class = vec![false; self.classes];
        let mut used = sol.used();
        for u in removed {
            let job = &p.jobs[u];
            let mut best: Option<(i64, usize, usize)> = None;
            for (ri, r) in sol.routes.iter().enumerate() {
                if r.jobs.is_empty() || !self.compat[r.vehicle][u] || self.clashes(r, u) {
                    continue;
                }
                if p.vehicles[r.vehicle]
                    .capacity
                    .is_some_and(|c| r.load + job.load() > c)
                {
                    continue;
                }
                for pos in 0..=r.jobs.len() {
                    if pos > 0 && r.start[pos - 1] > self.last_end[u] {
                        break;
                    }
                    if rng.unit() < BLINK {
                        continue;
                    }
                    if let Some(d) = self.insertion(r, u, pos, best.map_or(i64::MAX, |b| b.0)) {
                        best = Some((d, ri, pos));
                    }
                }
            }
            if used < max_routes && (best.is_none() || !self.minimize_vehicles) {
                seen_class.iter_mut().for_each(|s| *s = false);
                for (ri, r) in sol.routes.iter().enumerate() {
                    let cl = self.class_of[r.vehicle];
                    if !r.jobs.is_empty() || seen_class[cl] || !self.compat[r.vehicle][u] {
                        continue;
                    }
                    seen_class[cl] = true;
                    if p.vehicles[r.vehicle]
                        .capacity
                        .is_some_and(|c| job.load() > c)
                    {
                        continue;
                    }
                    if let Some(d) = self.insertion(r, u, 0, best.map_or(i64::MAX, |b| b.0)) {
                        best = Some((d, ri, 0));
                    }
                }
            }
            match best {
                Some((d, ri, pos)) => {
                    let r = &mut sol.routes[ri];
                    if r.jobs.is_empty() {
                        used += 1;
                    }
                    r.jobs.insert(pos, u);
                    self.update(r);
                    sol.cost += d;
                }
                None => sol.unassigned.push(u),
            }
        }
        sol.recount();
    }

    /// SISR string removal; returns the removed jobs.
    fn ruin(&self, sol: &mut State, rng: &mut Rng) -> Vec<usize> {
        let mut route_of = vec![usize::MAX; self.p.jobs.len()];
        let mut assigned = 0;
        let mut nonempty = 0;
        for (ri, r) in sol.routes.iter().enumerate() {
            if !r.jobs.is_empty() {
                nonempty += 1;
            }
            for &j in &r.jobs {
                route_of[j] = ri;
                assigned += 1;
            }
        }
        if assigned == 0 {
            return Vec::new();
        }
        let avg = assigned as f64 / nonempty as f64;
        let ls_max = (MAX_STRING as f64).min(avg);
        let ks_max = 4.0 * AVG_REMOVED / (1.0 + ls_max) - 1.0;
        let ks = (rng.unit() * ks_max).floor() as usize + 1;
        let seed = {
            let k = rng.below(assigned);
            let mut seed = 0;
            let mut count = 0;
            for r in &sol.routes {
                if k < count + r.jobs.len() {
                    seed = r.jobs[k - count];
                    break;
                }
                count += r.jobs.len();
            }
            seed
        };
        let mut ruined = vec![false; sol.routes.len()];
        let mut removed = Vec::new();
        if rng.unit() < ROUTE_RUIN {
            // Empty the seed's route: lets tight, full routes be rebuilt differently.
            let ri = route_of[seed];
            let r = &mut sol.routes[ri];
            removed.append(&mut r.jobs);
            self.update(r);
            sol.recount();
            return removed;
        }
        let mut strings = 0;
        for &c in std::iter::once(&seed).chain(self.neighbours[seed].iter()) {
            if strings >= ks {
                break;
            }
            let ri = route_of[c];
            if ri == usize::MAX || ruined[ri] {
                continue;
            }
            let r = &mut sol.routes[ri];
            let len = r.jobs.len();
            let Some(i) = r.jobs.iter().position(|x| *x == c) else {
                continue;
            };
            let lmax = (len as f64).min(ls_max);
            let l = ((rng.unit() * lmax).floor() as usize + 1).min(len);
            if l == len || rng.unit() < 0.5 {
                let lo = (i + 1).saturating_sub(l);
                let hi = i.min(len - l);
                let s = lo + rng.below(hi - lo + 1);
                removed.extend(r.jobs.drain(s..s + l));
            } else {
                let mut m = 1;
                while l + m < len && rng.unit() < 0.5 {
                    m += 1;
                }
                let total = l + m;
                let lo = (i + 1).saturating_sub(total);
                let hi = i.min(len - total);
                let s = lo + rng.below(hi - lo + 1);
                let keep_at = s + rng.below(l + 1);
                let mut kept = Vec::with_capacity(len - l);
                for (k, j) in r.jobs.iter().enumerate() {
                    if k < s || k >= s + total || (k >= keep_at && k < keep_at + m) {
                        kept.push(*j);
                    } else {
                        removed.push(*j);
                    }
                }
                r.jobs = kept;
            }
            ruined[ri] = true;
            strings += 1;
        }
        for (ri, r) in sol.routes.iter_mut().enumerate() {
            if ruined[ri] {
                self.update(r);
            }
        }
        sol.recount();
        removed
    }

    /// SISR's fleet minimisation: drop a route, ruin and recreate without opening routes
    /// until every job is back (then drop another), guided by absence counters.
    fn minimise_fleet(
        &self,
        start: State,
        rng: &mut Rng,
        it: &mut u64,
        progress: &impl Fn(u64) -> f64,
    ) -> State {
        let total_demand: i64 = self.p.jobs.iter().map(|j| j.load()).sum();
        let lower_bound = match self
            .p
            .vehicles
            .iter()
            .map(|v| v.capacity)
            .collect::<Option<Vec<i64>>>()
        {
            Some(caps) => {
                let max = caps.into_iter().max().unwrap_or(1).max(1);
                ((total_demand + max - 1) / max).max(1) as usize
            }
            None => 1,
        };
        let mut best = start;
        let mut absences = vec![0_u32; self.p.jobs.len()];
        let mut sol = best.clone();
        let abs_sum =
            |s: &State, a: &[u32]| -> u64 { s.unassigned.iter().map(|j| a[*j] as u64).sum() };
        let mut fewest_out = usize::MAX;
        let mut last_gain = *it;
        while progress(*it) < FLEET_SHARE && best.used() > lower_bound {
            if sol.unassigned.len() < fewest_out {
                fewest_out = sol.unassigned.len();
                last_gain = *it;
            } else if *it - last_gain > FLEET_STALL {
                break;
            }
            if sol.unassigned.is_empty() {
                fewest_out = usize::MAX;
                best = sol.clone();
                if best.used() <= lower_bound {
                    break;
                }
                // Drop a random one of the shortest routes.
                let min_len = sol
                    .routes
                    .iter()
                    .filter(|r| !r.jobs.is_empty())
                    .map(|r| r.jobs.len())
                    .min()
                    .unwrap_or(0);
                let shortest: Vec<usize> = (0..sol.routes.len())
                    .filter(|ri| sol.routes[*ri].jobs.len() == min_len)
                    .collect();
                let ri = shortest[rng.below(shortest.len())];
                let r = &mut sol.routes[ri];
                sol.unassigned.append(&mut r.jobs);
                self.update(r);
                sol.recount();
            }
            *it += 1;
            let mut cand = sol.clone();
            let mut removed = self.ruin(&mut cand, rng);
            removed.append(&mut cand.unassigned);
            self.recreate(&mut cand, removed, rng, sol.used(), Some(&absences), None);
            for &j in &cand.unassigned {
                absences[j] += 1;
            }
            if cand.unassigned.len() < sol.unassigned.len()
                || abs_sum(&cand, &absences) < abs_sum(&sol, &absences)
            {
                sol = cand;
            }
        }
        if sol.unassigned.is_empty() && sol.used() < best.used() {
            best = sol;
        }
        best
    }

    /// Intra-route 2-opt and or-opt (move a run of 1–3 jobs) on every route, first
    /// improvement, each move re-checked by rescheduling.
    fn polish(&self, sol: &mut State) {
        for ri in 0..sol.routes.len() {
            let mut r = sol.routes[ri].clone();
            let mut improved = true;
            let mut rounds = 0;
            while improved && rounds < 50 {
                improved = false;
                rounds += 1;
                let n = r.jobs.len();
                'two_opt: for i in 0..n {
                    for k in i + 1..n {
                        let mut jobs = r.jobs.clone();
                        jobs[i..=k].reverse();
                        if self.try_route(&mut r, jobs) {
                            improved = true;
                            break 'two_opt;
                        }
                    }
                }
                'or_opt: for len in 1..=3.min(n) {
                    for i in 0..=n - len {
                        for to in 0..=n - len {
                            if to == i {
                                continue;
                            }
                            let mut jobs = r.jobs.clone();
                            let seg: Vec<usize> = jobs.drain(i..i + len).collect();
                            for (k, j) in seg.into_iter().enumerate() {
                                jobs.insert(to + k, j);
                            }
                            if self.try_route(&mut r, jobs) {
                                improved = true;
                                break 'or_opt;
                            }
                        }
                    }
                }
            }
            sol.routes[ri] = r;
        }
        sol.recount();
    }

    /// Whether reversing `r.jobs[i..=k]` keeps a route of a vehicle without breaks on
    /// time: simulates the reversed run from the stop before it, then compares the
    /// arrival at the next stop with its latest start. No allocation.
    fn reversal_feasible(&self, r: &RouteState, i: usize, k: usize) -> bool {
        let p = self.p;
        let v = &p.vehicles[r.vehicle];
        let (mut now, mut at) = if i == 0 {
            (v.shift.start, v.start)
        } else {
            let j = r.jobs[i - 1];
            (
                r.start[i - 1] + p.jobs[j].service_duration,
                p.jobs[j].location,
            )
        };
        for pos in (i..=k).rev() {
            let job = &p.jobs[r.jobs[pos]];
            let Some(s) = job.earliest_start(now + p.durations.get(at, job.location)) else {
                return false;
            };
            now = s + job.service_duration;
            at = job.location;
        }
        if k + 1 == r.jobs.len() {
            now + v.end.map_or(0, |e| p.durations.get(at, e)) <= v.shift.end
        } else {
            now + p.durations.get(at, self.loc(r.jobs[k + 1])) <= r.latest[k + 1]
        }
    }

    /// Replaces `r`'s order by `jobs` when that is feasible and strictly cheaper.
    fn try_route(&self, r: &mut RouteState, jobs: Vec<usize>) -> bool {
        let mut cand = RouteState { jobs, ..r.clone() };
        if !self.update(&mut cand)
            || cand.cost >= r.cost
            || schedule_with_breaks(self.p, cand.vehicle, &cand.jobs).is_err()
        {
            return false;
        }
        *r = cand;
        true
    }

    /// Last chance for jobs left out: the exact solver tries each one on every
    /// compatible route that stays within [`MAX_EXACT_STOPS`] (any order, breaks placed
    /// optimally — the greedy break rule can miss a fit), cheapest fit wins. At most
    /// `EXACT_REPAIR_CALLS` exact solves.
    fn exact_repair(&self, sol: &mut State) {
        let mut calls = 0;
        let pending = std::mem::take(&mut sol.unassigned);
        for u in pending {
            let job = &self.p.jobs[u];
            let mut best: Option<(i64, usize, Vec<usize>)> = None;
            for (ri, r) in sol.routes.iter().enumerate() {
                let v = &self.p.vehicles[r.vehicle];
                if (r.jobs.is_empty() && self.minimize_vehicles)
                    || !self.compat[r.vehicle][u]
                    || self.clashes(r, u)
                    || r.jobs.len() + 1 > MAX_EXACT_STOPS
                    || v.breaks.len() > MAX_EXACT_BREAKS
                    || v.capacity.is_some_and(|c| r.load + job.load() > c)
                    || calls >= EXACT_REPAIR_CALLS
                {
                    continue;
                }
                calls += 1;
                let mut jobs = r.jobs.clone();
                jobs.push(u);
                if let Ok(Some(route)) = solve_exact(self.p, r.vehicle, &jobs) {
                    let order: Vec<usize> = route.stops.iter().map(|s| s.job).collect();
                    let mut cand = r.clone();
                    cand.jobs = order.clone();
                    self.update(&mut cand);
                    let delta = cand.cost - r.cost;
                    if best.as_ref().is_none_or(|b| delta < b.0) {
                        best = Some((delta, ri, order));
                    }
                }
            }
            match best {
                Some((_, ri, order)) => {
                    let r = &mut sol.routes[ri];
                    r.jobs = order;
                    self.update(r);
                }
                None => sol.unassigned.push(u),
            }
        }
        sol.recount();
    }

    fn to_solution(&self, sol: State) -> Solution {
        let mut routes = Vec::new();
        let mut unassigned: Vec<Unassigned> = Vec::new();
        let mut out: Vec<usize> = sol.unassigned;
        for r in sol.routes.iter().filter(|r| !r.jobs.is_empty()) {
            // The greedy break rule first; the exact solver when it cannot place the
            // breaks of an order the exact repair found.
            let exact = || {
                (r.jobs.len() <= MAX_EXACT_STOPS)
                    .then(|| solve_exact(self.p, r.vehicle, &r.jobs).ok().flatten())
                    .flatten()
            };
            match schedule_with_breaks(self.p, r.vehicle, &r.jobs)
                .ok()
                .or_else(exact)
            {
                Some(route) => routes.push(route),
                None => out.extend(r.jobs.iter().copied()),
            }
        }
        for j in out {
            unassigned.push(Unassigned {
                job: j,
                job_id: self.p.jobs[j].id.clone(),
                reason: reason_alone(self.p, j).unwrap_or(UnassignedReason::NoRoom),
            });
        }
        Solution::from_parts(routes, unassigned)
    }
}
