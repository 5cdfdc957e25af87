//! The multi-vehicle heuristic: every plan feasible, deterministic per seed, reasons for
//! what it leaves out, and benchmark quality with iteration budgets (no wall clock).

use std::collections::BTreeSet;

use routing::parse::{parse_best_known, parse_solomon, parse_tsplib};
use routing::{
    Budget, CostMetric, Job, Matrix, Problem, SolveOptions, TimeWindow, UnassignedReason, Vehicle,
    solve,
};

use crate::helpers::{Rng, Shape, assert_feasible, data, random_problem};

fn options(iterations: u64, seed: u64) -> SolveOptions {
    SolveOptions {
        budget: Budget::Iterations(iterations),
        seed,
        ..SolveOptions::default()
    }
}

#[test]
fn every_plan_on_random_days_passes_the_independent_feasibility_check() {
    for seed in 0..24_u64 {
        let mut rng = Rng(seed);
        let shape = Shape {
            jobs: 10 + (seed as usize % 4) * 8,
            vehicles: 1 + seed as usize % 4,
            windows: seed % 2 == 0,
            breaks: seed % 3 == 0,
            skills: seed % 4 < 2,
            capacity: seed % 5 < 3,
        };
        let problem = random_problem(&mut rng, shape);
        for minimize_vehicles in [false, true] {
            let opts = SolveOptions {
                minimize_vehicles,
                ..options(150, seed)
            };
            let solution = solve(&problem, &opts).unwrap();
            assert_feasible(&problem, &solution);
            assert_eq!(
                solution.totals.assigned + solution.totals.unassigned,
                problem.jobs.len()
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_plan_and_another_seed_may_not() {
    let mut rng = Rng(42);
    let shape = Shape {
        jobs: 30,
        vehicles: 3,
        windows: true,
        breaks: true,
        skills: true,
        capacity: true,
    };
    let problem = random_problem(&mut rng, shape);
    let a = solve(&problem, &options(300, 7)).unwrap();
    let b = solve(&problem, &options(300, 7)).unwrap();
    assert_eq!(a, b);
    assert_feasible(&problem, &a);
}

/// A depot at 0 and jobs on a line: location k is k × 10 seconds (and metres) away.
fn line_problem(jobs: Vec<Job>) -> Problem {
    let n = jobs
        .iter()
        .map(|j| j.location + 1)
        .max()
        .unwrap_or(1)
        .max(1);
    let m = Matrix::from_fn(n, |i, j| (i as i64 - j as i64).abs() * 10);
    let vehicle = Vehicle {
        skills: BTreeSet::from(["wash".to_string()]),
        capacity: Some(10),
        ..Vehicle::new("tech", 0, TimeWindow::new(100, 200))
    };
    Problem {
        durations: m.clone(),
        distances: m,
        vehicles: vec![vehicle],
        jobs,
    }
}

#[test]
fn jobs_that_cannot_be_planned_come_back_with_the_reason() {
    let ok = Job::new("ok", 1, 5);
    let no_skill = Job {
        skills: BTreeSet::from(["ceramic".to_string()]),
        ..Job::new("no-skill", 1, 5)
    };
    let too_heavy = Job {
        demand: Some(11),
        ..Job::new("too-heavy", 2, 5)
    };
    let too_early = Job {
        time_windows: vec![TimeWindow::new(0, 50)],
        ..Job::new("too-early", 3, 5)
    };
    // Reached at 170, inside its window, but the drive home (70 s) ends after 200.
    let too_far = Job {
        time_windows: vec![TimeWindow::new(170, 180)],
        ..Job::new("too-far", 7, 5)
    };
    let problem = line_problem(vec![ok, no_skill, too_heavy, too_early, too_far]);
    let solution = solve(&problem, &options(50, 1)).unwrap();
    assert_feasible(&problem, &solution);
    let reasons: Vec<(&str, UnassignedReason)> = solution
        .unassigned
        .iter()
        .map(|u| (u.job_id.as_str(), u.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("no-skill", UnassignedReason::NoSkill),
            ("too-heavy", UnassignedReason::Capacity),
            ("too-early", UnassignedReason::TimeWindow),
            ("too-far", UnassignedReason::Shift),
        ]
    );
    assert_eq!(solution.routes.len(), 1);
    assert_eq!(solution.routes[0].stops[0].job_id, "ok");
    assert_eq!(UnassignedReason::NoSkill.code(), "NO_SKILL");
}

#[test]
fn a_full_day_leaves_the_extra_job_out_as_no_room() {
    let jobs = (0..3).map(|k| Job::new(format!("j{k}"), 1, 40)).collect();
    let problem = line_problem(jobs);
    let solution = solve(&problem, &options(50, 1)).unwrap();
    assert_feasible(&problem, &solution);
    assert_eq!(solution.totals.assigned, 2);
    assert_eq!(solution.unassigned[0].reason, UnassignedReason::NoRoom);
}

#[test]
fn berlin52_through_the_vrp_solver_is_within_two_percent_of_the_optimum() {
    let inst = parse_tsplib(&data("tsplib/berlin52.tsp")).unwrap();
    let problem = inst.to_problem();
    let opts = SolveOptions {
        budget: Budget::Iterations(2_000),
        seed: 1,
        minimize_vehicles: false,
        cost: CostMetric::Distance,
    };
    let solution = solve(&problem, &opts).unwrap();
    assert_feasible(&problem, &solution);
    assert_eq!(solution.totals.assigned, 51);
    let length = solution.totals.distance_metres;
    assert!(length * 100 <= 7542 * 102, "tour {length} vs optimum 7542");
}

#[test]
fn c101_reaches_the_best_known_fleet_within_one_percent_with_no_violation() {
    let inst = parse_solomon(&data("solomon/C101.txt")).unwrap();
    let problem = inst.to_problem(1_000_000);
    let opts = SolveOptions {
        budget: Budget::Iterations(1_500),
        seed: 1,
        minimize_vehicles: true,
        cost: CostMetric::Distance,
    };
    let solution = solve(&problem, &opts).unwrap();
    assert_feasible(&problem, &solution);
    assert!(solution.unassigned.is_empty());
    let routes: Vec<Vec<usize>> = solution
        .routes
        .iter()
        .map(|r| {
            r.stops
                .iter()
                .map(|s| problem.jobs[s.job].location)
                .collect()
        })
        .collect();
    assert_eq!(inst.violations(&routes), Vec::<String>::new());
    let bks = parse_best_known(&data("solomon/best_known_solutions.csv"));
    let c101 = bks.iter().find(|b| b.instance == "C101").unwrap();
    assert_eq!(routes.len(), c101.vehicles);
    let distance = inst.routes_distance(&routes);
    assert!(
        distance <= c101.distance * 1.01,
        "{distance} vs {}",
        c101.distance
    );
}

#[test]
fn a_malformed_problem_is_an_error() {
    let mut problem = line_problem(vec![Job::new("j", 1, 5)]);
    problem.jobs[0].location = 99;
    assert!(solve(&problem, &SolveOptions::default()).is_err());
}

/// Three jobs at one place, all booked 09:00–10:00 but with a two-hour arrival window:
/// time alone would let one staff member do all three in a row, the reserved intervals
/// (a staff member holds no two overlapping bookings) spread them over three.
#[test]
fn jobs_with_overlapping_reserved_intervals_never_share_a_route() {
    let m = Matrix::from_fn(2, |a, b| if a == b { 0 } else { 300 });
    let hour = 3600;
    let jobs: Vec<Job> = (0..3)
        .map(|k| {
            let mut j = Job::new(format!("b{k}"), 1, 1800);
            j.time_windows = vec![TimeWindow::new(9 * hour, 11 * hour)];
            j.exclusive = Some(TimeWindow::new(9 * hour, 10 * hour));
            j
        })
        .collect();
    let vehicles = |n: usize| -> Vec<Vehicle> {
        (0..n)
            .map(|k| Vehicle::new(format!("v{k}"), 0, TimeWindow::new(8 * hour, 18 * hour)))
            .collect()
    };
    let one = Problem {
        durations: m.clone(),
        distances: m.clone(),
        vehicles: vehicles(1),
        jobs: jobs.clone(),
    };
    let s = solve(&one, &options(300, 1)).unwrap();
    assert_feasible(&one, &s);
    assert_eq!(s.totals.assigned, 1);
    assert_eq!(s.totals.unassigned, 2);
    assert!(routing::solve_exact(&one, 0, &[0, 1]).unwrap().is_none());
    assert!(routing::solve_exact(&one, 0, &[0]).unwrap().is_some());

    let three = Problem {
        vehicles: vehicles(3),
        ..one.clone()
    };
    let s = solve(&three, &options(300, 1)).unwrap();
    assert_feasible(&three, &s);
    assert_eq!(s.totals.assigned, 3);
    assert!(s.routes.iter().all(|r| r.stops.len() <= 1));

    // Without the reserved intervals one staff member takes all three.
    let free = Problem {
        jobs: jobs
            .iter()
            .cloned()
            .map(|mut j| {
                j.exclusive = None;
                j
            })
            .collect(),
        ..one
    };
    let s = solve(&free, &options(300, 1)).unwrap();
    assert_eq!(s.totals.assigned, 3);
}
