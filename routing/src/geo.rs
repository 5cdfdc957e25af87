//! The built-in drive estimate used when no routing provider (Mapbox) answers: the
//! great-circle (haversine) distance times a detour factor, driven at an average speed.
//! Defaults match the platform's built-in estimate (`graph` scheduling settings:
//! `travelDetourFactor` 1.3, `travelSpeedKmh` 40).

use crate::model::Matrix;

/// Mean Earth radius, metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Default detour factor: road distance ≈ 1.3 × great-circle distance.
pub const DEFAULT_DETOUR: f64 = 1.3;

/// Default average speed, km/h.
pub const DEFAULT_SPEED_KMH: f64 = 40.0;

/// Great-circle distance between two WGS84 points `(latitude, longitude)` in degrees,
/// metres (haversine formula).
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Duration (seconds) and distance (metres) matrices between `points` `(lat, lon)`:
/// distance = haversine × `detour`, duration = distance ÷ `speed_kmh`, both rounded to
/// the nearest integer.
pub fn estimate_matrices(points: &[(f64, f64)], detour: f64, speed_kmh: f64) -> (Matrix, Matrix) {
    let n = points.len();
    let metres: Vec<f64> = (0..n * n)
        .map(|k| haversine_m(points[k / n], points[k % n]) * detour)
        .collect();
    let speed_ms = speed_kmh / 3.6;
    (
        Matrix::from_fn(n, |i, j| (metres[i * n + j] / speed_ms).round() as i64),
        Matrix::from_fn(n, |i, j| metres[i * n + j].round() as i64),
    )
}
