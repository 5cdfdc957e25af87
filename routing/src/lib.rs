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
//!
//! ```
//! use routing::{
//!     Budget, Job, Matrix, Problem, SolveOptions, TimeWindow, Vehicle, check_feasibility,
//!     solve, solve_exact,
//! };
//!
//! // Location 0 is the home base, 1–3 are bookings; 10 minutes between any two places.
//! let m = Matrix::from_fn(4, |a, b| if a == b { 0 } else { 600 });
//! let tech = Vehicle::new("staff-1", 0, TimeWindow::new(8 * 3600, 17 * 3600));
//! let mut jobs: Vec<Job> = (1..4).map(|k| Job::new(format!("booking-{k}"), k, 3600)).collect();
//! jobs[2].time_windows = vec![TimeWindow::new(9 * 3600, 10 * 3600)];
//! let problem = Problem { durations: m.clone(), distances: m, vehicles: vec![tech], jobs };
//!
//! let day = solve(&problem, &SolveOptions { budget: Budget::Iterations(200), ..SolveOptions::default() })?;
//! assert!(check_feasibility(&problem, &day).is_ok());
//! assert_eq!(day.totals.assigned, 3);
//! assert_eq!(day.totals.drive_seconds, 4 * 600);
//!
//! let best = solve_exact(&problem, 0, &[0, 1, 2])?.ok_or("infeasible")?;
//! assert_eq!(best.drive_seconds, 4 * 600);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
