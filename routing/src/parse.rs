//! Parsers for the public benchmarks the solvers are measured on.
//!
//! - TSPLIB (Reinelt, "TSPLIB — A Traveling Salesman Problem Library", ORSA Journal on
//!   Computing 3(4), 1991): `.tsp` files with `EDGE_WEIGHT_TYPE: EUC_2D` and
//!   `NODE_COORD_SECTION`, and `.opt.tour` files (`TOUR_SECTION`, 1-based ids, `-1` ends).
//!   Distance: `nint(sqrt(dx² + dy²))`, rounded per edge (TSPLIB's EUC_2D rule).
//! - Solomon VRPTW instances (Solomon, Operations Research 35(2), 1987): a name line,
//!   `VEHICLE` / `NUMBER CAPACITY`, then `CUSTOMER` rows `no x y demand ready due
//!   service`; customer 0 is the depot. Convention: plain Euclidean distance, travel time
//!   = distance, the due date is the latest service start, routes return to the depot by
//!   its due date.

use std::collections::BTreeSet;

use crate::model::{Job, Matrix, Problem, TimeWindow, Vehicle};

/// A malformed benchmark file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// A TSPLIB instance with 2-D coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct TsplibInstance {
    /// `NAME`.
    pub name: String,
    /// Node coordinates in file order (node id `k + 1` is index `k`).
    pub coords: Vec<(f64, f64)>,
}

/// TSPLIB's EUC_2D distance: the Euclidean distance rounded to the nearest integer.
pub fn tsplib_distance(a: (f64, f64), b: (f64, f64)) -> i64 {
    ((a.0 - b.0).hypot(a.1 - b.1) + 0.5).floor() as i64
}

/// Parses a `.tsp` file (`EUC_2D` only).
pub fn parse_tsplib(text: &str) -> Result<TsplibInstance, ParseError> {
    let mut name = String::new();
    let mut dimension: Option<usize> = None;
    let mut coords = Vec::new();
    let mut in_coords = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line == "EOF" {
            break;
        }
        if in_coords {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 3 {
                return Err(err(i + 1, "expected `id x y`"));
            }
            let x: f64 = f[1].parse().map_err(|_| err(i + 1, "bad x"))?;
            let y: f64 = f[2].parse().map_err(|_| err(i + 1, "bad y"))?;
            coords.push((x, y));
            continue;
        }
        if line.starts_with("NODE_COORD_SECTION") {
            in_coords = true;
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            let (key, value) = (key.trim(), value.trim());
            match key {
                "NAME" => name = value.to_string(),
                "DIMENSION" => {
                    dimension = Some(value.parse().map_err(|_| err(i + 1, "bad DIMENSION"))?)
                }
                "EDGE_WEIGHT_TYPE" if value != "EUC_2D" => {
                    return Err(err(
                        i + 1,
                        format!("EDGE_WEIGHT_TYPE {value} is not supported (EUC_2D only)"),
                    ));
                }
                _ => {}
            }
        }
    }
    if dimension.is_some_and(|d| d != coords.len()) || coords.is_empty() {
        return Err(err(
            0,
            format!("DIMENSION {dimension:?} but {} coordinates", coords.len()),
        ));
    }
    Ok(TsplibInstance { name, coords })
}

impl TsplibInstance {
    /// The EUC_2D distance matrix.
    pub fn distance_matrix(&self) -> Matrix {
        Matrix::from_fn(self.coords.len(), |i, j| {
            tsplib_distance(self.coords[i], self.coords[j])
        })
    }

    /// The instance as a routing problem: one vehicle starting and ending at node 1
    /// (index 0) with an unlimited shift, one job per other node (id = TSPLIB node id),
    /// no service time; durations = distances = EUC_2D. The route's distance is the tour
    /// length.
    pub fn to_problem(&self) -> Problem {
        let m = self.distance_matrix();
        Problem {
            durations: m.clone(),
            distances: m,
            vehicles: vec![Vehicle::new(
                "salesman",
                0,
                TimeWindow::new(0, i64::MAX / 4),
            )],
            jobs: (1..self.coords.len())
                .map(|k| Job::new((k + 1).to_string(), k, 0))
                .collect(),
        }
    }
}

/// Parses a TSPLIB `.opt.tour` file into 0-based node indices.
pub fn parse_tour(text: &str) -> Result<Vec<usize>, ParseError> {
    let mut tour = Vec::new();
    let mut in_tour = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with("TOUR_SECTION") {
            in_tour = true;
            continue;
        }
        if !in_tour || line.is_empty() {
            continue;
        }
        if line == "-1" || line == "EOF" {
            break;
        }
        for tok in line.split_whitespace() {
            let id: i64 = tok.parse().map_err(|_| err(i + 1, "bad node id"))?;
            if id == -1 {
                return Ok(tour);
            }
            if id < 1 {
                return Err(err(i + 1, "node ids start at 1"));
            }
            tour.push(id as usize - 1);
        }
    }
    if tour.is_empty() {
        return Err(err(0, "no TOUR_SECTION"));
    }
    Ok(tour)
}

/// Length of a closed tour (back to its first node) under `matrix`.
pub fn tour_length(matrix: &Matrix, tour: &[usize]) -> i64 {
    tour.iter()
        .zip(tour.iter().cycle().skip(1))
        .map(|(a, b)| matrix.get(*a, *b))
        .sum()
}

/// One row of a Solomon instance (customer 0 is the depot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolomonCustomer {
    /// `CUST NO.`
    pub id: usize,
    /// X coordinate.
    pub x: f64,
    /// Y coordinate.
    pub y: f64,
    /// Demand.
    pub demand: i64,
    /// Ready time (earliest service start).
    pub ready: i64,
    /// Due date (latest service start; for the depot, latest return).
    pub due: i64,
    /// Service time.
    pub service: i64,
}

/// A Solomon VRPTW instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SolomonInstance {
    /// Instance name (first line).
    pub name: String,
    /// Number of vehicles available.
    pub vehicles: usize,
    /// Capacity of each vehicle.
    pub capacity: i64,
    /// Depot (index 0) and customers, in file order.
    pub customers: Vec<SolomonCustomer>,
}

/// Parses a Solomon instance file.
pub fn parse_solomon(text: &str) -> Result<SolomonInstance, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let name = lines
        .next()
        .map(|(_, l)| l.trim().to_string())
        .ok_or_else(|| err(0, "empty file"))?;
    let mut fleet: Option<(usize, i64)> = None;
    let mut customers = Vec::new();
    for (i, raw) in lines {
        let f: Vec<&str> = raw.split_whitespace().collect();
        let nums: Option<Vec<f64>> = f.iter().map(|t| t.parse::<f64>().ok()).collect();
        let Some(nums) = nums else { continue };
        match (fleet, nums.len()) {
            (None, 2) => fleet = Some((nums[0] as usize, nums[1] as i64)),
            (Some(_), 7) => customers.push(SolomonCustomer {
                id: nums[0] as usize,
                x: nums[1],
                y: nums[2],
                demand: nums[3] as i64,
                ready: nums[4] as i64,
                due: nums[5] as i64,
                service: nums[6] as i64,
            }),
            _ => return Err(err(i + 1, "unexpected row")),
        }
    }
    let (vehicles, capacity) = fleet.ok_or_else(|| err(0, "no VEHICLE NUMBER/CAPACITY row"))?;
    if customers.len() < 2 {
        return Err(err(0, "no customers"));
    }
    Ok(SolomonInstance {
        name,
        vehicles,
        capacity,
        customers,
    })
}

impl SolomonInstance {
    /// Plain Euclidean distance between customers `a` and `b` (indices), unrounded.
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        let (p, q) = (&self.customers[a], &self.customers[b]);
        (p.x - q.x).hypot(p.y - q.y)
    }

    /// The instance as a routing problem in fixed point: every time and distance is
    /// multiplied by `scale` (e.g. 1,000,000). Distances are rounded to the nearest
    /// unit, travel times rounded **up**, so a plan feasible here is feasible under the
    /// exact real-valued rules too (at worst slightly pessimistic, by < 1/scale per leg).
    /// Vehicles: `vehicles` identical ones at the depot with its window as shift and the
    /// capacity; jobs: customers 1.., windows `[ready, due]` as latest service start.
    pub fn to_problem(&self, scale: i64) -> Problem {
        let n = self.customers.len();
        let s = scale as f64;
        let durations = Matrix::from_fn(n, |i, j| (self.distance(i, j) * s).ceil() as i64);
        let distances = Matrix::from_fn(n, |i, j| (self.distance(i, j) * s).round() as i64);
        let depot = &self.customers[0];
        let vehicle = Vehicle {
            capacity: Some(self.capacity),
            ..Vehicle::new(
                "",
                0,
                TimeWindow::new(depot.ready * scale, depot.due * scale),
            )
        };
        Problem {
            durations,
            distances,
            vehicles: (0..self.vehicles)
                .map(|k| Vehicle {
                    id: format!("v{}", k + 1),
                    ..vehicle.clone()
                })
                .collect(),
            jobs: self.customers[1..]
                .iter()
                .enumerate()
                .map(|(k, c)| Job {
                    id: c.id.to_string(),
                    location: k + 1,
                    service_duration: c.service * scale,
                    time_windows: vec![TimeWindow::new(c.ready * scale, c.due * scale)],
                    skills: BTreeSet::new(),
                    demand: Some(c.demand),
                    exclusive: None,
                })
                .collect(),
        }
    }

    /// Total plain-Euclidean length of routes given as customer indices (depot excluded).
    pub fn routes_distance(&self, routes: &[Vec<usize>]) -> f64 {
        routes
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| {
                let mut prev = 0;
                let mut d = 0.0;
                for &c in r {
                    d += self.distance(prev, c);
                    prev = c;
                }
                d + self.distance(prev, 0)
            })
            .sum()
    }

    /// Checks routes (customer indices) under the exact Solomon rules in `f64`: each
    /// customer once, capacity, service start ≤ due date (waiting allowed), back at the
    /// depot by its due date. Returns one message per violation.
    pub fn violations(&self, routes: &[Vec<usize>]) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = vec![0; self.customers.len()];
        for (k, r) in routes.iter().enumerate() {
            let (mut t, mut load, mut prev) = (0.0_f64, 0, 0);
            for &c in r {
                let Some(cu) = self.customers.get(c) else {
                    out.push(format!("route {k}: no customer {c}"));
                    continue;
                };
                seen[c] += 1;
                t = (t + self.distance(prev, c)).max(cu.ready as f64);
                if t > cu.due as f64 + 1e-9 {
                    out.push(format!(
                        "route {k}: customer {} starts at {t:.3} after due {}",
                        cu.id, cu.due
                    ));
                }
                t += cu.service as f64;
                load += cu.demand;
                prev = c;
            }
            if t + self.distance(prev, 0) > self.customers[0].due as f64 + 1e-9 {
                out.push(format!("route {k}: back at the depot too late"));
            }
            if load > self.capacity {
                out.push(format!("route {k}: load {load} > {}", self.capacity));
            }
        }
        for (c, n) in seen.iter().enumerate().skip(1) {
            if *n != 1 {
                out.push(format!("customer {c} visited {n} times"));
            }
        }
        if routes.iter().filter(|r| !r.is_empty()).count() > self.vehicles {
            out.push("more routes than vehicles".into());
        }
        out
    }
}

/// Parses a SINTEF best-known solution file (`Route k : c1 c2 …` lines) into routes of
/// customer indices.
pub fn parse_solomon_solution(text: &str) -> Vec<Vec<usize>> {
    text.lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(':')?;
            head.trim().starts_with("Route").then(|| {
                rest.split_whitespace()
                    .filter_map(|t| t.parse::<usize>().ok())
                    .collect::<Vec<usize>>()
            })
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// One row of `best_known_solutions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct BestKnown {
    /// Instance name, e.g. `C101`.
    pub instance: String,
    /// Vehicles of the best-known solution.
    pub vehicles: usize,
    /// Its distance (plain Euclidean).
    pub distance: f64,
}

/// Parses `best_known_solutions.csv` (header `instance,customers,vehicle_number_limit,
/// capacity,bks_vehicles,bks_distance,…`).
pub fn parse_best_known(text: &str) -> Vec<BestKnown> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(BestKnown {
                instance: f.first()?.to_string(),
                vehicles: f.get(4)?.parse().ok()?,
                distance: f.get(5)?.parse().ok()?,
            })
        })
        .collect()
}
