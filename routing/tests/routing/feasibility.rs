//! `check_feasibility` catches every kind of broken plan.

use routing::{Solution, SolveOptions, Unassigned, UnassignedReason, check_feasibility, solve};

use crate::helpers::{Rng, Shape, random_problem};

fn planned() -> (routing::Problem, Solution) {
    let mut rng = Rng(5);
    let shape = Shape {
        jobs: 12,
        vehicles: 2,
        windows: true,
        breaks: true,
        skills: true,
        capacity: true,
    };
    let problem = random_problem(&mut rng, shape);
    let solution = solve(&problem, &SolveOptions::default()).unwrap();
    assert!(check_feasibility(&problem, &solution).is_ok());
    assert!(
        solution
            .routes
            .iter()
            .any(|r| r.stops.len() >= 2 && !r.breaks.is_empty())
    );
    (problem, solution)
}

fn rejected(problem: &routing::Problem, solution: &Solution, what: &str) {
    let result = check_feasibility(problem, solution);
    assert!(result.is_err(), "{what} was not detected");
}

#[test]
fn a_service_started_outside_its_window_is_a_violation() {
    let (problem, mut s) = planned();
    let (ri, k) = s
        .routes
        .iter()
        .enumerate()
        .find_map(|(ri, r)| {
            r.stops
                .iter()
                .position(|st| !problem.jobs[st.job].time_windows.is_empty())
                .map(|k| (ri, k))
        })
        .unwrap();
    let stop = &mut s.routes[ri].stops[k];
    let late = problem.jobs[stop.job].time_windows[0].end + 1;
    let shift = late - stop.service_start;
    stop.service_start += shift;
    stop.departure += shift;
    stop.arrival += shift;
    rejected(&problem, &s, "a late start");
}

#[test]
fn a_job_planned_twice_or_missing_is_a_violation() {
    let (problem, s) = planned();
    let mut twice = s.clone();
    let j = twice.routes[0].stops[0].job;
    twice.unassigned.push(Unassigned {
        job: j,
        job_id: String::new(),
        reason: UnassignedReason::NoRoom,
    });
    twice.totals.unassigned += 1;
    rejected(&problem, &twice, "a job planned and unassigned");
    let mut missing = s;
    let gone = missing.routes[0].stops.pop().unwrap();
    missing.routes[0].drive_seconds -= gone.drive_seconds;
    rejected(&problem, &missing, "a job neither planned nor unassigned");
}

#[test]
fn a_missing_break_or_an_arrival_faster_than_driving_is_a_violation() {
    let (problem, s) = planned();
    let mut no_break = s.clone();
    let r = no_break
        .routes
        .iter_mut()
        .find(|r| !r.breaks.is_empty())
        .unwrap();
    r.breaks.clear();
    rejected(&problem, &no_break, "a skipped break");
    let mut fast = s;
    let r = fast.routes.iter_mut().find(|r| r.stops.len() >= 2).unwrap();
    let prev = r.stops[0].departure;
    let stop = &mut r.stops[1];
    if stop.drive_seconds > 0 {
        stop.arrival = prev;
        rejected(&problem, &fast, "teleporting");
    }
}

#[test]
fn over_capacity_and_a_missing_skill_are_violations() {
    let (mut problem, s) = planned();
    let v = s.routes[0].vehicle;
    problem.vehicles[v].capacity = Some(s.routes[0].load - 1);
    rejected(&problem, &s, "over capacity");
    problem.vehicles[v].capacity = None;
    let j = s.routes[0].stops[0].job;
    problem.jobs[j].skills.insert("welding".into());
    rejected(&problem, &s, "a missing skill");
}

#[test]
fn finishing_after_the_shift_is_a_violation() {
    let (mut problem, s) = planned();
    let v = s.routes[0].vehicle;
    problem.vehicles[v].shift.end = s.routes[0].finish - 1;
    rejected(&problem, &s, "overtime");
}

#[test]
fn two_jobs_with_overlapping_reserved_intervals_on_one_route_are_a_violation() {
    let (mut problem, s) = planned();
    let r = s.routes.iter().find(|r| r.stops.len() >= 2).unwrap();
    let (a, b) = (r.stops[0].job, r.stops[1].job);
    assert!(check_feasibility(&problem, &s).is_ok());
    problem.jobs[a].exclusive = Some(routing::TimeWindow::new(0, 100));
    problem.jobs[b].exclusive = Some(routing::TimeWindow::new(99, 200));
    rejected(&problem, &s, "overlapping reserved intervals");
    // Touching half-open intervals do not overlap.
    problem.jobs[b].exclusive = Some(routing::TimeWindow::new(100, 200));
    assert!(check_feasibility(&problem, &s).is_ok());
}
