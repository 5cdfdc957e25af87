//! Solver benchmarks (pure, data from `../shared/data` or the sample in `tests/data`).
//!
//! Run: `cargo bench -p routing --bench solver`. What they measure: the exact solver on
//! 8, 10 and 12 stops (Mapbox Optimization's limit is 12) and the heuristic per 1,000
//! ruin-and-recreate iterations on berlin52 (TSP) and Solomon C101 (VRPTW). The quality
//! figures are in `examples/report.rs`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use routing::parse::{parse_solomon, parse_tsplib};
use routing::{Budget, CostMetric, SolveOptions, solve, solve_exact};

fn data(rel: &str) -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/data"),
        manifest.join("tests/data"),
    ]
    .iter()
    .find_map(|b| std::fs::read_to_string(b.join(rel)).ok())
    .unwrap()
}

fn exact(c: &mut Criterion) {
    let problem = parse_tsplib(&data("tsplib/berlin52.tsp"))
        .unwrap()
        .to_problem();
    for n in [8, 10, 12] {
        let jobs: Vec<usize> = (0..n).collect();
        c.bench_function(&format!("exact_{n}_stops_berlin52"), |b| {
            b.iter(|| solve_exact(black_box(&problem), 0, black_box(&jobs)).unwrap())
        });
    }
}

fn heuristic(c: &mut Criterion) {
    let tsp = parse_tsplib(&data("tsplib/berlin52.tsp"))
        .unwrap()
        .to_problem();
    let vrptw = parse_solomon(&data("solomon/C101.txt"))
        .unwrap()
        .to_problem(1_000_000);
    let options = |minimize_vehicles| SolveOptions {
        budget: Budget::Iterations(1_000),
        seed: 1,
        minimize_vehicles,
        cost: CostMetric::Distance,
    };
    let mut group = c.benchmark_group("solve_1000_iterations");
    group.sample_size(10);
    group.bench_function("berlin52", |b| {
        b.iter(|| solve(black_box(&tsp), &options(false)).unwrap())
    });
    group.bench_function("c101", |b| {
        b.iter(|| solve(black_box(&vrptw), &options(true)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, exact, heuristic);
criterion_main!(benches);
