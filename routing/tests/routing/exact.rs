//! The exact single-vehicle solver against brute force over every visiting order.

use routing::parse::parse_tsplib;
use routing::{
    Budget, CostMetric, ModelError, Problem, Solution, SolveOptions, Visit, schedule, solve,
    solve_exact,
};

use crate::helpers::{Rng, Shape, assert_feasible, data, random_problem};

/// Best (drive, finish) over all orders of jobs and breaks, by enumeration.
fn brute_force(problem: &Problem, vehicle: usize, jobs: &[usize]) -> Option<(i64, i64)> {
    let mut visits: Vec<Visit> = jobs.iter().map(|j| Visit::Job(*j)).collect();
    visits.extend((0..problem.vehicles[vehicle].breaks.len()).map(Visit::Break));
    let mut best: Option<(i64, i64)> = None;
    permute(&mut visits, 0, &mut |order| {
        if let Ok(r) = schedule(problem, vehicle, order) {
            let key = (r.drive_seconds, r.finish);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
    });
    best
}

fn permute(v: &mut Vec<Visit>, k: usize, f: &mut impl FnMut(&[Visit])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, f);
        v.swap(k, i);
    }
}

fn check_against_brute_force(
    windows: bool,
    breaks: bool,
    capacity: bool,
    max_jobs: usize,
    instances: u64,
) {
    let mut feasible = 0;
    for seed in 0..instances {
        let mut rng = Rng(seed * 7919 + u64::from(windows) * 3 + u64::from(breaks) * 5);
        let n = 1 + rng.below(max_jobs as i64) as usize;
        let shape = Shape {
            jobs: n,
            vehicles: 1,
            windows,
            breaks,
            skills: false,
            capacity,
        };
        let problem = random_problem(&mut rng, shape);
        let jobs: Vec<usize> = (0..n).collect();
        let exact = solve_exact(&problem, 0, &jobs).unwrap();
        let brute = brute_force(&problem, 0, &jobs);
        assert_eq!(
            exact.as_ref().map(|r| (r.drive_seconds, r.finish)),
            brute,
            "seed {seed}, {n} jobs, windows {windows}, breaks {breaks}"
        );
        if let Some(route) = exact {
            feasible += 1;
            assert_eq!(route.stops.len(), n);
            assert_feasible(&problem, &Solution::from_parts(vec![route], vec![]));
        }
    }
    assert!(
        feasible > 0,
        "every random instance was infeasible: the test proves nothing"
    );
}

#[test]
fn the_exact_solver_matches_brute_force_without_windows() {
    check_against_brute_force(false, false, false, 8, 40);
}

#[test]
fn the_exact_solver_matches_brute_force_with_time_windows() {
    check_against_brute_force(true, false, false, 8, 60);
}

#[test]
fn the_exact_solver_matches_brute_force_with_windows_breaks_and_capacity() {
    check_against_brute_force(true, true, true, 6, 60);
}

#[test]
fn a_twelve_stop_tsplib_subset_is_solved_exactly_and_the_heuristic_finds_the_same_length() {
    let inst = parse_tsplib(&data("tsplib/berlin52.tsp")).unwrap();
    let mut problem = inst.to_problem();
    problem.jobs.truncate(12);
    let jobs: Vec<usize> = (0..12).collect();
    let exact = solve_exact(&problem, 0, &jobs).unwrap().unwrap();
    let options = SolveOptions {
        budget: Budget::Iterations(500),
        seed: 3,
        minimize_vehicles: false,
        cost: CostMetric::Distance,
    };
    let heuristic = solve(&problem, &options).unwrap();
    assert_feasible(&problem, &heuristic);
    assert_eq!(heuristic.totals.distance_metres, exact.distance_metres);
}

#[test]
fn the_exact_solver_refuses_more_than_twelve_stops() {
    let inst = parse_tsplib(&data("tsplib/berlin52.tsp")).unwrap();
    let problem = inst.to_problem();
    let jobs: Vec<usize> = (0..13).collect();
    assert_eq!(
        solve_exact(&problem, 0, &jobs),
        Err(ModelError::TooManyStops { max: 12, got: 13 })
    );
}

#[test]
fn an_impossible_day_has_no_exact_route() {
    let mut rng = Rng(11);
    let shape = Shape {
        jobs: 3,
        vehicles: 1,
        windows: false,
        breaks: false,
        skills: false,
        capacity: false,
    };
    let mut problem = random_problem(&mut rng, shape);
    problem.jobs[0].time_windows = vec![routing::TimeWindow::new(100, 100)];
    problem.jobs[1].time_windows = vec![routing::TimeWindow::new(100, 100)];
    problem.jobs[0].service_duration = 10;
    assert_eq!(solve_exact(&problem, 0, &[0, 1, 2]).unwrap(), None);
}
