//! Points on Earth: the exact point the scheduling rules work with ([`Geo`]) and the
//! GraphQL input that carries one ([`GeoInput`]). Shared by availability, staff (home
//! bases) and bookings; imports no domain.

use crate::error::ApiError;

/// A point in whole microdegrees (WGS 84; 1 µ° ≈ 0.11 m), so schedules stay exact and
/// orderable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Geo {
    /// Latitude × 10⁶.
    pub lat_e6: i32,
    /// Longitude × 10⁶.
    pub lng_e6: i32,
}

impl Geo {
    /// From decimal degrees; `None` when out of range or not finite.
    pub fn from_degrees(lat: f64, lng: f64) -> Option<Geo> {
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)) {
            return None;
        }
        Some(Geo {
            lat_e6: (lat * 1e6).round() as i32,
            lng_e6: (lng * 1e6).round() as i32,
        })
    }

    /// From optional degrees (both must be present).
    pub fn from_pair(lat: Option<f64>, lng: Option<f64>) -> Option<Geo> {
        Geo::from_degrees(lat?, lng?)
    }

    /// As an `integrations::GeoPoint`.
    pub fn point(self) -> integrations::GeoPoint {
        integrations::GeoPoint {
            lat: f64::from(self.lat_e6) / 1e6,
            lng: f64::from(self.lng_e6) / 1e6,
        }
    }
}

/// A point on Earth (WGS 84 decimal degrees), e.g. a customer's address.
#[derive(async_graphql::InputObject, Debug, Clone, Copy)]
pub struct GeoInput {
    /// Latitude, −90 … 90.
    pub latitude: f64,
    /// Longitude, −180 … 180.
    pub longitude: f64,
}

impl GeoInput {
    /// As a rules point; `BAD_USER_INPUT` when out of range.
    pub fn geo(&self) -> Result<Geo, ApiError> {
        Geo::from_degrees(self.latitude, self.longitude)
            .ok_or_else(|| ApiError::BadUserInput("coordinates out of range".into()))
    }
}

/// Parses an optional location argument. Errors: `BAD_USER_INPUT` when out of range.
pub fn geo_arg(g: Option<GeoInput>) -> Result<Option<Geo>, ApiError> {
    g.as_ref().map(GeoInput::geo).transpose()
}
