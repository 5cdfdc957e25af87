//! Shared test helpers: data files with fallback, random instances, a seeded RNG.

use std::collections::BTreeSet;
use std::path::PathBuf;

use routing::{Break, Job, Matrix, Problem, Solution, TimeWindow, Vehicle, check_feasibility};

/// Reads `rel` from `../shared/data` (next to the workspace) or, in a fresh clone
/// without it, from `routing/tests/data`.
pub fn data(rel: &str) -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [
        manifest.join("../../shared/data"),
        manifest.join("tests/data"),
    ] {
        if let Ok(text) = std::fs::read_to_string(base.join(rel)) {
            return text;
        }
    }
    panic!("{rel} is neither in ../shared/data nor in tests/data");
}

/// Like [`data`], `None` when the file is only in the full shared set.
pub fn data_opt(rel: &str) -> Option<String> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/data"),
        manifest.join("tests/data"),
    ]
    .iter()
    .find_map(|b| std::fs::read_to_string(b.join(rel)).ok())
}

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: i64) -> i64 {
        (self.next() % n.max(1) as u64) as i64
    }
}

/// What a random instance contains.
#[derive(Clone, Copy)]
pub struct Shape {
    pub jobs: usize,
    pub vehicles: usize,
    pub windows: bool,
    pub breaks: bool,
    pub skills: bool,
    pub capacity: bool,
}

/// A random instance on a 100 × 100 grid (Euclidean, rounded; durations = distances),
/// day 0..1000.
pub fn random_problem(rng: &mut Rng, shape: Shape) -> Problem {
    let n = shape.vehicles + shape.jobs;
    let pts: Vec<(i64, i64)> = (0..n).map(|_| (rng.below(100), rng.below(100))).collect();
    let m = Matrix::from_fn(n, |i, j| {
        let (dx, dy) = ((pts[i].0 - pts[j].0) as f64, (pts[i].1 - pts[j].1) as f64);
        dx.hypot(dy).round() as i64
    });
    let vehicles = (0..shape.vehicles)
        .map(|k| Vehicle {
            breaks: if shape.breaks {
                vec![Break {
                    window: TimeWindow::new(200 + rng.below(200), 500 + rng.below(200)),
                    duration: 20 + rng.below(40),
                }]
            } else {
                vec![]
            },
            skills: if shape.skills && k % 2 == 1 {
                BTreeSet::from(["a".to_string()])
            } else {
                BTreeSet::new()
            },
            capacity: shape.capacity.then_some(30 + rng.below(30)),
            ..Vehicle::new(format!("v{k}"), k, TimeWindow::new(0, 1000))
        })
        .collect();
    let jobs = (0..shape.jobs)
        .map(|k| {
            let time_windows = if shape.windows && rng.below(4) != 0 {
                let s = rng.below(800);
                vec![TimeWindow::new(s, s + 60 + rng.below(200))]
            } else {
                vec![]
            };
            Job {
                time_windows,
                skills: if shape.skills && rng.below(4) == 0 {
                    BTreeSet::from(["a".to_string()])
                } else {
                    BTreeSet::new()
                },
                demand: shape.capacity.then(|| 1 + rng.below(10)),
                ..Job::new(format!("j{k}"), shape.vehicles + k, 5 + rng.below(30))
            }
        })
        .collect();
    Problem {
        durations: m.clone(),
        distances: m,
        vehicles,
        jobs,
    }
}

/// Asserts that `check_feasibility` accepts `solution`.
pub fn assert_feasible(problem: &Problem, solution: &Solution) {
    if let Err(v) = check_feasibility(problem, solution) {
        panic!("infeasible plan: {v:#?}\n{solution:#?}");
    }
}
