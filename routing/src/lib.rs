//! Pure day-plan solver for Servicegraph's routing and dispatch (issue 11): no database,
//! no async, no network. Callers (the `graph` crate's `optimizeRoute` / `dispatchDay`)
//! build a [`Problem`] from bookings (jobs) and staff members (vehicles) with a duration
//! and distance matrix from the tenant's routing provider or [`geo::estimate_matrices`],
//! then call:
//!
//! - [`solve_exact`]: one staff member, ≤ [`MAX_EXACT_STOPS`] jobs, provably optimal
//!   (dynamic programming over subsets with time windows and breaks);
//! - [`solve`]: the whole team, heuristic (ruin and recreate, see [`solver`]);
//! - [`check_feasibility`]: re-verifies any plan, independently of the solvers.
//!
//! Units everywhere: seconds and metres (integers).

pub mod exact;
pub mod geo;
pub mod model;
pub mod parse;
pub mod solver;

pub use exact::{MAX_EXACT_BREAKS, MAX_EXACT_STOPS, solve_exact};
pub use model::{
    Break, Infeasible, Job, Location, Matrix, ModelError, PlacedBreak, Problem, Route, Solution,
    Stop, TimeWindow, Totals, Unassigned, UnassignedReason, Vehicle, Violation, Visit,
    check_feasibility, reason_alone, schedule, schedule_with_breaks,
};
pub use solver::{Budget, CostMetric, SolveOptions, SolveStats, solve, solve_with_stats};
