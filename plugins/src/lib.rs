//! Plugins: provider implementations a tenant enables and configures, secrets at rest,
//! and built-in fallbacks.
//!
//! Each plugin is one module of [`builtin`] implementing [`plugin::Plugin`]: its catalog
//! entry (fields, secrets marked), typed configuration, how it builds its providers for
//! a tenant, its inbound-webhook verifier and its `testPlugin` check. [`catalog`]
//! validates configurations against the entries; [`secrets`] seals the credential
//! fields with the `ENCRYPTION_KEY` key ring; [`registry`] builds a tenant's providers
//! lazily, caches them and drops them when the configuration changes. Built-in
//! fallbacks need no configuration, so a tenant without a routing provider still gets
//! travel-time estimates ([`HaversineRouting`], catalog id `builtin_routing`).

use async_trait::async_trait;
use integrations::{
    GeoPoint, ProviderError, RouteLeg, RoutingProvider, TravelEstimate, TravelMatrix,
};
use std::time::Duration;

pub mod builtin;
pub mod catalog;
pub mod plugin;
pub mod registry;
pub mod secrets;

pub use builtin::spec as find;
pub use catalog::{FieldKind, FieldSpec, PluginSpec};
pub use plugin::{InboundHttp, InboundVerifier, Plugin, TenantProviders, TestOutcome};

/// Mean Earth radius in metres (IUGG mean radius R1 = 6 371 008.8 m).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (haversine formula).
pub fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Built-in routing: great-circle distance × detour factor ÷ average speed. The one
/// implementation of the estimate: availability uses it ([`HaversineRouting::estimate`])
/// when a tenant has no routing provider, when the provider fails, and for pairs a
/// provider's matrix left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaversineRouting {
    /// Road distance ÷ straight-line distance (default 1.3, a typical urban circuity).
    pub detour_factor: f64,
    /// Average driving speed in km/h (default 40).
    pub average_speed_kmh: f64,
}

impl HaversineRouting {
    /// The defaults: detour factor 1.3, 40 km/h.
    pub const DEFAULT: HaversineRouting = HaversineRouting {
        detour_factor: 1.3,
        average_speed_kmh: 40.0,
    };

    /// The estimated drive from `a` to `b`: great-circle metres × detour factor, at the
    /// average speed. A detour factor below 1 counts as 1 and a speed below 1 km/h as
    /// 1 km/h, so the estimate is always defined.
    pub fn estimate(&self, a: GeoPoint, b: GeoPoint) -> TravelEstimate {
        let distance_m = haversine_m(a, b) * self.detour_factor.max(1.0);
        let seconds = distance_m / (self.average_speed_kmh.max(1.0) * 1000.0 / 3600.0);
        TravelEstimate {
            distance_m,
            duration: Duration::from_secs_f64(seconds),
        }
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.detour_factor >= 1.0 && self.average_speed_kmh > 0.0 {
            Ok(())
        } else {
            Err(ProviderError::InvalidInput(
                "detour factor must be >= 1 and speed > 0".into(),
            ))
        }
    }
}

impl Default for HaversineRouting {
    fn default() -> Self {
        HaversineRouting::DEFAULT
    }
}

#[async_trait]
impl RoutingProvider for HaversineRouting {
    /// Every cell from [`HaversineRouting::estimate`]; no request is made. Errors:
    /// `InvalidInput` when the detour factor is below 1 or the speed not positive.
    async fn matrix(
        &self,
        origins: &[GeoPoint],
        destinations: &[GeoPoint],
    ) -> Result<TravelMatrix, ProviderError> {
        self.check()?;
        let mut out = TravelMatrix::unknown(origins.len(), destinations.len());
        for (i, o) in origins.iter().enumerate() {
            for (j, d) in destinations.iter().enumerate() {
                let e = self.estimate(*o, *d);
                out.durations_s[i][j] = Some(e.duration.as_secs_f64());
                out.distances_m[i][j] = Some(e.distance_m);
            }
        }
        Ok(out)
    }

    /// The estimate, drawn as the straight line between the two points.
    async fn route(&self, from: GeoPoint, to: GeoPoint) -> Result<RouteLeg, ProviderError> {
        self.check()?;
        let e = self.estimate(from, to);
        Ok(RouteLeg {
            distance_m: e.distance_m,
            duration: e.duration,
            polyline6: integrations::polyline::encode6(&[from, to]),
        })
    }

    fn is_built_in(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_a_known_distance() {
        // Paris (48.8566, 2.3522) to London (51.5074, -0.1278): about 343.5 km.
        let paris = GeoPoint::new(48.8566, 2.3522).expect("point");
        let london = GeoPoint::new(51.5074, -0.1278).expect("point");
        let d = haversine_m(paris, london);
        assert!((d - 343_500.0).abs() < 1_500.0, "{d}");
        assert_eq!(haversine_m(paris, paris), 0.0);
    }

    #[tokio::test]
    async fn estimate_applies_detour_and_speed() {
        let a = GeoPoint::new(39.4015, -76.6019).expect("point");
        let b = GeoPoint::new(39.4143, -76.5966).expect("point");
        let r = HaversineRouting::default();
        let t = r.travel(a, b).await.expect("estimate");
        let straight = haversine_m(a, b);
        assert!((t.distance_m - straight * 1.3).abs() < 1e-6);
        let expect = t.distance_m / (40_000.0 / 3600.0);
        assert!((t.duration.as_secs_f64() - expect).abs() < 1e-6);
        let m = r.matrix(&[a, b], &[b]).await.expect("matrix");
        assert_eq!(m.get(0, 0), Some(t));
        assert_eq!(m.get(1, 0).map(|e| e.duration), Some(Duration::ZERO));
        assert_eq!(m.requests, 0);
        let leg = r.route(a, b).await.expect("route");
        assert_eq!(
            integrations::polyline::decode6(&leg.polyline6).map(|p| p.len()),
            Some(2)
        );
        assert!(r.is_built_in());
        let bad = HaversineRouting {
            detour_factor: 0.5,
            average_speed_kmh: 40.0,
        };
        assert!(bad.travel(a, b).await.is_err());
    }

    #[test]
    fn catalog_lookup() {
        assert_eq!(
            find("builtin_routing").map(|p| p.capability),
            Some(integrations::Capability::Routing)
        );
        assert!(find("builtin_routing").is_some_and(|p| p.built_in));
        assert!(find("nope").is_none());
        assert_eq!(builtin::specs().next().map(|p| p.id), Some("stripe"));
        assert!(GeoPoint::new(91.0, 0.0).is_none());
    }
}
