//! Drive times for route planning. **All** matrix building of the dispatch domain goes
//! through [`travel_matrix`], which asks the tenant's matrix-first `RoutingProvider`
//! once per plan.

use async_graphql::Enum;
use integrations::{Capability, GeoPoint};
use routing::Matrix;
use uuid::Uuid;

use crate::state::GraphState;

/// Which travel estimate a plan was computed with.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TravelSource {
    /// The tenant's routing provider (e.g. Mapbox) answered every leg.
    Provider,
    /// The built-in estimate (great-circle distance × detour factor ÷ average speed):
    /// the tenant has no routing provider.
    Estimate,
    /// The built-in estimate because the tenant's routing provider failed.
    EstimateAfterProviderError,
}

impl TravelSource {
    /// A stable name (part of a plan's token).
    pub fn as_str(self) -> &'static str {
        match self {
            TravelSource::Provider => "PROVIDER",
            TravelSource::Estimate => "ESTIMATE",
            TravelSource::EstimateAfterProviderError => "ESTIMATE_AFTER_PROVIDER_ERROR",
        }
    }
}

/// The drive-time (seconds) and distance (metres) matrices between `points`, row =
/// from, column = to, and which estimate produced them. Uses the tenant's routing
/// provider when one is configured (one `matrix` question), else the built-in estimate with the
/// tenant's detour factor and speed; a provider error falls back to the estimate for the
/// whole matrix, flagged.
pub async fn travel_matrix(
    st: &GraphState,
    tenant_id: Uuid,
    points: &[GeoPoint],
    detour: f64,
    speed_kmh: f64,
) -> (Matrix, Matrix, TravelSource) {
    let estimate = || {
        let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.lat, p.lng)).collect();
        routing::geo::estimate_matrices(&pts, detour, speed_kmh)
    };
    let provider = match st.registry.tenant(tenant_id).await {
        Ok(p)
            if p.enabled.iter().any(|id| {
                plugins::find(id)
                    .is_some_and(|s| s.capability == Capability::Routing && !s.built_in)
            }) =>
        {
            p.routing.clone()
        }
        Ok(_) => {
            let (d, m) = estimate();
            return (d, m, TravelSource::Estimate);
        }
        Err(_) => {
            let (d, m) = estimate();
            return (d, m, TravelSource::EstimateAfterProviderError);
        }
    };
    let n = points.len();
    let mut durations = vec![0_i64; n * n];
    let mut distances = vec![0_i64; n * n];
    // One matrix question (the provider tiles and caches it).
    crate::db::release_request_reads().await;
    let span = tracing::info_span!("provider.call", provider = "routing", operation = "matrix");
    let ask = tracing::Instrument::instrument(provider.matrix(points, points), span);
    let Ok(m) = ask.await else {
        let (d, m) = estimate();
        return (d, m, TravelSource::EstimateAfterProviderError);
    };
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            match m.get(i, j) {
                Some(t) => {
                    durations[i * n + j] = t.duration.as_secs() as i64;
                    distances[i * n + j] = t.distance_m.max(0.0).round() as i64;
                }
                // No road between the two: treat as unreachable in a day.
                None => {
                    durations[i * n + j] = 86_400;
                    distances[i * n + j] = 1_000_000;
                }
            }
        }
    }
    match (Matrix::new(n, durations), Matrix::new(n, distances)) {
        (Some(d), Some(m)) => (d, m, TravelSource::Provider),
        _ => {
            let (d, m) = estimate();
            (d, m, TravelSource::EstimateAfterProviderError)
        }
    }
}
