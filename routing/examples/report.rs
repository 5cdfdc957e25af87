//! Quality report of the day-plan solver on public benchmarks and a real-address day.
//!
//! ```text
//! cargo run --release -p routing --example report            # everything (~4 min)
//! cargo run --release -p routing --example report -- --quick # skip the 30 s Solomon runs
//! # parts and options: --only tsplib|solomon|towson, --instances R201,RC201,
//! # --budgets 1,5,30 (seconds), --seed N (Solomon), --data DIR
//! ```
//!
//! Data: `../shared/data` next to the workspace (TSPLIB, Solomon, Towson address points),
//! or the sample in `routing/tests/data` when that is absent (`--data DIR` overrides).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use routing::parse::{parse_best_known, parse_solomon, parse_tsplib};
use routing::{
    Break, Budget, CostMetric, Job, Problem, Solution, SolveOptions, TimeWindow, Vehicle,
    check_feasibility, geo, schedule_with_breaks, solve, solve_exact, solve_with_stats,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick" || a == "--skip-30s");
    let data = args
        .iter()
        .position(|a| a == "--data")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(data_dir);
    println!("data: {}", data.display());
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if run("tsplib") {
        tsplib(&data);
    }
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if run("solomon") {
        let instances =
            flag("--instances").unwrap_or_else(|| "C101,R101,RC101,C201,R201,RC201".into());
        let budgets: Vec<u64> = match flag("--budgets") {
            Some(b) => b.split(',').filter_map(|x| x.parse().ok()).collect(),
            None if quick => vec![1, 5],
            None => vec![1, 5, 30],
        };
        let seed = flag("--seed").and_then(|s| s.parse().ok()).unwrap_or(1);
        solomon(&data, &instances, &budgets, seed);
    }
    if run("towson") {
        towson(&data);
    }
}

fn data_dir() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if shared.is_dir() {
        shared
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn tsplib(data: &Path) {
    println!("\n## TSPLIB (EUC_2D, one vehicle through `solve`, budget 1 s, seed 1)\n");
    println!("| instance | optimum | ours | gap | time | iterations |");
    println!("|---|---:|---:|---:|---:|---:|");
    let optima = read(&data.join("tsplib/solutions_all_tsplib.txt")).unwrap_or_default();
    for name in ["berlin52", "eil51", "st70", "eil76", "kroA100"] {
        let Some(text) = read(&data.join(format!("tsplib/{name}.tsp"))) else {
            println!("| {name} | missing | | | |");
            continue;
        };
        let Ok(inst) = parse_tsplib(&text) else {
            continue;
        };
        let optimum: Option<i64> = optima.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim() == name)
                .and_then(|(_, v)| v.trim().parse().ok())
        });
        let problem = inst.to_problem();
        let options = SolveOptions {
            budget: Budget::Time(Duration::from_secs(1)),
            seed: 1,
            minimize_vehicles: false,
            cost: CostMetric::Distance,
        };
        let t = Instant::now();
        let Ok((sol, stats)) = solve_with_stats(&problem, &options) else {
            continue;
        };
        let secs = t.elapsed().as_secs_f64();
        let ok = check_feasibility(&problem, &sol).is_ok();
        let len = sol.totals.distance_metres;
        let gap = optimum
            .map(|o| format!("{:.2}%", 100.0 * (len - o) as f64 / o as f64))
            .unwrap_or_default();
        println!(
            "| {name} | {} | {len}{} | {gap} | {secs:.2} s | {} |",
            optimum.map(|o| o.to_string()).unwrap_or_default(),
            if ok { "" } else { " (INFEASIBLE)" },
            stats.iterations
        );
    }
}

fn solomon(data: &Path, instances: &str, budgets: &[u64], seed: u64) {
    let bks =
        parse_best_known(&read(&data.join("solomon/best_known_solutions.csv")).unwrap_or_default());
    println!("\n## Solomon VRPTW (fewest vehicles, then distance; seed {seed})\n");
    println!(
        "| instance | BKS veh | BKS dist | budget | veh | distance | gap | violations | iterations/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut gaps: Vec<(u64, f64)> = Vec::new();
    for name in instances.split(',') {
        let Some(text) = read(&data.join(format!("solomon/{name}.txt"))) else {
            println!("| {name} | missing |");
            continue;
        };
        let Ok(inst) = parse_solomon(&text) else {
            continue;
        };
        let problem = inst.to_problem(1_000_000);
        let best = bks.iter().find(|b| b.instance == name);
        for &secs in budgets {
            let options = SolveOptions {
                budget: Budget::Time(Duration::from_secs(secs)),
                seed,
                minimize_vehicles: true,
                cost: CostMetric::Distance,
            };
            let Ok((sol, stats)) = solve_with_stats(&problem, &options) else {
                continue;
            };
            let routes: Vec<Vec<usize>> = sol
                .routes
                .iter()
                .map(|r| {
                    r.stops
                        .iter()
                        .map(|s| problem.jobs[s.job].location)
                        .collect()
                })
                .collect();
            let dist = inst.routes_distance(&routes);
            let mut violations = inst.violations(&routes).len();
            violations += check_feasibility(&problem, &sol)
                .err()
                .map_or(0, |v| v.len());
            violations += sol.unassigned.len();
            let (bv, bd) = best.map_or((0, f64::NAN), |b| (b.vehicles, b.distance));
            let gap = 100.0 * (dist - bd) / bd;
            gaps.push((
                secs,
                if sol.totals.vehicles_used == bv {
                    gap
                } else {
                    f64::NAN
                },
            ));
            println!(
                "| {name} | {bv} | {bd:.2} | {secs} s | {} | {dist:.2} | {gap:+.2}% | {violations} | {:.0} |",
                sol.totals.vehicles_used,
                stats.iterations as f64 / stats.elapsed.as_secs_f64()
            );
        }
    }
    for &secs in budgets {
        let all: Vec<f64> = gaps
            .iter()
            .filter(|(s, _)| *s == secs)
            .map(|(_, g)| *g)
            .collect();
        let g: Vec<f64> = all.iter().copied().filter(|g| !g.is_nan()).collect();
        if !g.is_empty() {
            println!(
                "\nat {secs} s: best-known fleet on {} of {} instances; distance gap on those: mean {:+.2}%, worst {:+.2}% (VROOM: +1.63% on average in ~0.4 s)",
                g.len(),
                all.len(),
                g.iter().sum::<f64>() / g.len() as f64,
                g.iter().copied().fold(f64::MIN, f64::max)
            );
        }
    }
}

/// splitmix64, for a reproducible synthetic day.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 6 staff members and 60 bookings on real Towson, MD addresses. Times: seconds since
/// local midnight.
fn towson_problem(data: &Path) -> Option<Problem> {
    let text = read(&data.join("geo/towson_md_address_points.csv"))?;
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if i == 0 {
            header = f.iter().map(|s| s.to_string()).collect();
            continue;
        }
        let col = |n: &str| {
            header
                .iter()
                .position(|h| h == n)
                .and_then(|k| f.get(k))
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let (Some(lat), Some(lon)) = (col("latitude"), col("longitude")) {
            points.push((lat, lon));
        }
    }
    if points.len() < 66 {
        return None;
    }
    let mut rng = Rng(20_260_311);
    // Shuffle deterministically; the first 6 are home bases, the next 60 bookings.
    for i in (1..points.len()).rev() {
        points.swap(i, rng.below(i as u64 + 1) as usize);
    }
    points.truncate(66);
    let (durations, distances) =
        geo::estimate_matrices(&points, geo::DEFAULT_DETOUR, geo::DEFAULT_SPEED_KMH);
    let h = |hours: f64| (hours * 3600.0) as i64;
    let vehicles = (0..6)
        .map(|k| Vehicle {
            breaks: vec![Break {
                window: TimeWindow::new(h(11.5), h(13.5)),
                duration: h(0.5),
            }],
            skills: if k < 3 {
                ["detail", "ceramic"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ["detail"].iter().map(|s| s.to_string()).collect()
            },
            ..Vehicle::new(
                format!("staff-{}", k + 1),
                k,
                TimeWindow::new(h(7.5), h(18.5)),
            )
        })
        .collect();
    let minutes = [30, 30, 30, 30, 30, 30, 30, 45, 60, 120];
    let jobs = (0..60)
        .map(|k| {
            let service = minutes[rng.below(minutes.len() as u64) as usize] * 60;
            let slot = rng.below(5);
            let time_windows = match slot {
                0 => vec![],
                s => {
                    let start = h(8.0) + (s as i64 - 1) * h(2.0);
                    vec![TimeWindow::new(start, start + h(2.0))]
                }
            };
            let ceramic = rng.below(100) < 15;
            Job {
                time_windows,
                skills: [if ceramic { "ceramic" } else { "detail" }]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                ..Job::new(format!("booking-{}", k + 1), 6 + k, service)
            }
        })
        .collect();
    Some(Problem {
        durations,
        distances,
        vehicles,
        jobs,
    })
}

/// Drive seconds, late arrivals and overtime of fixed routes (jobs per vehicle), with
/// breaks placed by the greedy rule when the route allows it.
fn evaluate_fixed(problem: &Problem, routes: &[Vec<usize>]) -> (i64, usize, usize) {
    let (mut drive, mut late, mut infeasible_routes) = (0, 0, 0);
    for (v, jobs) in routes.iter().enumerate() {
        if jobs.is_empty() {
            continue;
        }
        let veh = &problem.vehicles[v];
        let mut at = veh.start;
        let mut now = veh.shift.start;
        for &j in jobs {
            let job = &problem.jobs[j];
            let d = problem.durations.get(at, job.location);
            drive += d;
            now += d;
            match job.earliest_start(now) {
                Some(s) => now = s,
                None => late += 1,
            }
            now += job.service_duration;
            at = job.location;
        }
        if let Some(e) = veh.end {
            drive += problem.durations.get(at, e);
        }
        if schedule_with_breaks(problem, v, jobs).is_err() {
            infeasible_routes += 1;
        }
    }
    (drive, late, infeasible_routes)
}

fn towson(data: &Path) {
    println!("\n## Towson, MD: 6 staff members, 60 bookings, built-in drive estimate\n");
    let Some(problem) = towson_problem(data) else {
        println!("(geo/towson_md_address_points.csv missing)");
        return;
    };
    let work: i64 = problem.jobs.iter().map(|j| j.service_duration).sum();
    println!(
        "Shifts 07:30–18:30 with a 30 min break starting 11:30–13:30; 60 bookings ({} h of work), 80% with a 2-hour arrival window (08–10, 10–12, 12–14, 14–16), 30–120 min each; ~15% need a skill only 3 of the 6 staff members have. Drive = haversine × {} ÷ {} km/h.\n",
        work / 3600,
        geo::DEFAULT_DETOUR,
        geo::DEFAULT_SPEED_KMH
    );
    let n = problem.jobs.len();
    // Operator's booking order: round-robin over the staff members who have the skill,
    // each day driven in the order of the arrival windows (then booking order).
    let mut operator: Vec<Vec<usize>> = vec![Vec::new(); problem.vehicles.len()];
    let mut next = 0;
    for j in 0..n {
        for _ in 0..problem.vehicles.len() {
            let v = next % problem.vehicles.len();
            next += 1;
            if problem.can_serve(v, j) {
                operator[v].push(j);
                break;
            }
        }
    }
    for r in &mut operator {
        r.sort_by_key(|j| {
            (
                problem.jobs[*j].time_windows.first().map_or(0, |w| w.start),
                *j,
            )
        });
    }
    // Nearest neighbour (a greedy dispatcher): repeatedly give the booking nearest to
    // any staff member's current position to that staff member, among appends that keep
    // windows, break and shift; ties to the earlier service start.
    let mut nn: Vec<Vec<usize>> = vec![Vec::new(); problem.vehicles.len()];
    let mut left: Vec<bool> = vec![true; n];
    loop {
        let mut pick: Option<((i64, i64), usize, usize)> = None;
        for (v, route) in nn.iter().enumerate() {
            let veh = &problem.vehicles[v];
            let (at, now) = match route.last() {
                Some(j) => {
                    let done = schedule_with_breaks(&problem, v, route)
                        .map_or(veh.shift.end, |r| r.finish);
                    let home = veh
                        .end
                        .map_or(0, |e| problem.durations.get(problem.jobs[*j].location, e));
                    (problem.jobs[*j].location, done - home)
                }
                None => (veh.start, veh.shift.start),
            };
            for j in (0..n).filter(|j| left[*j] && problem.can_serve(v, *j)) {
                let job = &problem.jobs[j];
                let d = problem.durations.get(at, job.location);
                let mut r = route.clone();
                r.push(j);
                if let Ok(s) = schedule_with_breaks(&problem, v, &r) {
                    let start = s.stops.last().map_or(0, |x| x.service_start);
                    let latest = job.time_windows.last().map_or(veh.shift.end, |w| w.end);
                    // Solomon's time-oriented nearest neighbour: 0.4 distance + 0.4 time
                    // until service + 0.2 urgency.
                    let key = 4 * d + 4 * (start - now) + 2 * (latest - now - d);
                    if pick.is_none_or(|(k, _, _)| key < k.0) {
                        pick = Some(((key, start), v, j));
                    }
                }
            }
        }
        let Some((_, v, j)) = pick else { break };
        left[j] = false;
        nn[v].push(j);
    }
    let nn_unassigned = left.iter().filter(|l| **l).count();
    let (op_drive, op_late, op_bad) = evaluate_fixed(&problem, &operator);
    let (nn_drive, _, _) = evaluate_fixed(&problem, &nn);
    println!("| plan | drive total | unplanned | late arrivals | routes breaking a rule | time |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| operator's booking order (round-robin) | {} | 0 | {op_late} | {op_bad} | |",
        hm(op_drive)
    );
    println!(
        "| nearest neighbour | {} | {nn_unassigned} | 0 | 0 | |",
        hm(nn_drive)
    );
    let mut ours: Option<Solution> = None;
    for (label, budget) in [
        ("ours, 2,000 iterations", Budget::Iterations(2_000)),
        ("ours, 1 s", Budget::Time(Duration::from_secs(1))),
    ] {
        let options = SolveOptions {
            budget,
            seed: 1,
            minimize_vehicles: false,
            cost: CostMetric::Duration,
        };
        let t = Instant::now();
        let Ok(sol) = solve(&problem, &options) else {
            return;
        };
        let secs = t.elapsed().as_secs_f64();
        let bad = check_feasibility(&problem, &sol)
            .err()
            .map_or(0, |v| v.len());
        println!(
            "| {label} | {} | {} | 0 | {bad} | {secs:.2} s |",
            hm(sol.totals.drive_seconds),
            sol.unassigned.len()
        );
        for u in &sol.unassigned {
            let job = &problem.jobs[u.job];
            println!(
                "|   unplanned: {} ({}; {} min, window {}, needs {:?}) | | | | | |",
                u.job_id,
                u.reason.code(),
                job.service_duration / 60,
                job.time_windows
                    .first()
                    .map_or("any time".to_string(), |w| format!(
                        "{}–{}",
                        clock(w.start),
                        clock(w.end)
                    )),
                job.skills
            );
        }
        ours = Some(sol);
    }
    let Some(sol) = ours else { return };
    println!(
        "\nSaving of the 1 s plan: {} against the operator's order, {} against nearest neighbour; {} km driven in all.",
        hm(op_drive - sol.totals.drive_seconds),
        hm(nn_drive - sol.totals.drive_seconds),
        sol.totals.distance_metres / 1000
    );
    let mut optimal = 0;
    let mut checked = 0;
    for r in &sol.routes {
        let jobs: Vec<usize> = r.stops.iter().map(|s| s.job).collect();
        if jobs.len() <= routing::MAX_EXACT_STOPS
            && let Ok(Some(best)) = solve_exact(&problem, r.vehicle, &jobs)
        {
            checked += 1;
            if best.drive_seconds == r.drive_seconds {
                optimal += 1;
            }
        }
    }
    println!(
        "Exact check: {optimal} of {checked} routes (≤ 12 stops) are in the provably optimal order for their jobs."
    );
    for u in &sol.unassigned {
        let mut verdicts = Vec::new();
        for v in (0..problem.vehicles.len()).filter(|v| problem.can_serve(*v, u.job)) {
            let mut jobs: Vec<usize> = sol
                .routes
                .iter()
                .find(|r| r.vehicle == v)
                .map(|r| r.stops.iter().map(|s| s.job).collect())
                .unwrap_or_default();
            jobs.push(u.job);
            let verdict = match solve_exact(&problem, v, &jobs) {
                Ok(None) => "provably no room",
                Ok(Some(_)) => "fits (the heuristic missed it)",
                Err(_) => "over 12 stops, not provable",
            };
            verdicts.push(format!("{} {verdict}", problem.vehicles[v].id));
        }
        println!(
            "{} added to each skilled staff member's planned day (exact solver): {}.",
            u.job_id,
            verdicts.join("; ")
        );
    }
    for r in &sol.routes {
        println!(
            "- {}: {} stops, drive {}, {}–{}",
            r.vehicle_id,
            r.stops.len(),
            hm(r.drive_seconds),
            clock(r.departure),
            clock(r.finish)
        );
    }
}

fn hm(seconds: i64) -> String {
    let m = (seconds as f64 / 60.0).round() as i64;
    format!("{} h {:02} min", m / 60, m % 60)
}

fn clock(seconds: i64) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}
