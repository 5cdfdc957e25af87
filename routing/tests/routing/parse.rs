//! Benchmark parsers, checked against the published optimal and best-known solutions.

use routing::parse::{
    parse_best_known, parse_solomon, parse_solomon_solution, parse_tour, parse_tsplib, tour_length,
    tsplib_distance,
};

use crate::helpers::{data, data_opt};

#[test]
fn berlin52s_optimal_tour_is_7542_under_tsplib_rounding() {
    let inst = parse_tsplib(&data("tsplib/berlin52.tsp")).unwrap();
    assert_eq!(inst.name, "berlin52");
    assert_eq!(inst.coords.len(), 52);
    let tour = parse_tour(&data("tsplib/berlin52.opt.tour")).unwrap();
    assert_eq!(tour.len(), 52);
    assert_eq!(tour_length(&inst.distance_matrix(), &tour), 7542);
}

#[test]
fn eil51s_optimal_tour_is_426_when_the_shared_data_is_there() {
    let (Some(tsp), Some(tour)) = (
        data_opt("tsplib/eil51.tsp"),
        data_opt("tsplib/eil51.opt.tour"),
    ) else {
        return;
    };
    let inst = parse_tsplib(&tsp).unwrap();
    assert_eq!(
        tour_length(&inst.distance_matrix(), &parse_tour(&tour).unwrap()),
        426
    );
}

#[test]
fn tsplib_rounds_each_edge_to_the_nearest_integer() {
    assert_eq!(tsplib_distance((0.0, 0.0), (3.0, 4.0)), 5);
    assert_eq!(tsplib_distance((0.0, 0.0), (1.0, 1.0)), 1);
    assert_eq!(tsplib_distance((0.0, 0.0), (1.5, 0.0)), 2);
}

#[test]
fn malformed_tsplib_files_are_errors_not_panics() {
    assert!(parse_tsplib("NAME: x\nEDGE_WEIGHT_TYPE: GEO\nNODE_COORD_SECTION\n1 1 1\n").is_err());
    assert!(parse_tsplib("NAME: x\nDIMENSION: 3\nNODE_COORD_SECTION\n1 1 1\n2 2 2\n").is_err());
    assert!(parse_tsplib("NAME: x\nNODE_COORD_SECTION\n1 a 1\n").is_err());
    assert!(parse_tour("NAME: x\n").is_err());
}

#[test]
fn c101s_best_known_routes_recompute_to_the_published_distance_with_no_violation() {
    let inst = parse_solomon(&data("solomon/C101.txt")).unwrap();
    assert_eq!(
        (inst.name.as_str(), inst.vehicles, inst.capacity),
        ("C101", 25, 200)
    );
    assert_eq!(inst.customers.len(), 101);
    let routes = parse_solomon_solution(&data("solomon/C101.sintef_best_solution.txt"));
    assert_eq!(routes.len(), 10);
    assert_eq!(inst.violations(&routes), Vec::<String>::new());
    let bks = parse_best_known(&data("solomon/best_known_solutions.csv"));
    let c101 = bks.iter().find(|b| b.instance == "C101").unwrap();
    assert_eq!(c101.vehicles, 10);
    assert!((inst.routes_distance(&routes) - c101.distance).abs() < 0.005);
}

#[test]
fn every_shared_best_known_solution_is_feasible_in_our_fixed_point_model() {
    let Some(csv) = data_opt("solomon/best_known_solutions.csv") else {
        return;
    };
    for bk in parse_best_known(&csv) {
        let (Some(text), Some(sol)) = (
            data_opt(&format!("solomon/{}.txt", bk.instance)),
            data_opt(&format!("solomon/{}.sintef_best_solution.txt", bk.instance)),
        ) else {
            continue;
        };
        let inst = parse_solomon(&text).unwrap();
        let routes = parse_solomon_solution(&sol);
        assert_eq!(
            inst.violations(&routes),
            Vec::<String>::new(),
            "{}",
            bk.instance
        );
        let problem = inst.to_problem(1_000_000);
        for r in &routes {
            let visits: Vec<routing::Visit> =
                r.iter().map(|c| routing::Visit::Job(c - 1)).collect();
            assert!(
                routing::schedule(&problem, 0, &visits).is_ok(),
                "{}: {r:?}",
                bk.instance
            );
        }
    }
}

#[test]
fn a_solomon_file_without_a_fleet_row_is_an_error() {
    assert!(parse_solomon("X\nCUSTOMER\n0 1 1 0 0 10 0\n").is_err());
    assert!(parse_solomon("").is_err());
}
