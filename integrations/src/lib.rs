//! One trait per provider capability. Real clients (Stripe, Twilio, Mapbox, Google
//! Calendar, OpenAI) implement them over HTTP; each takes its `base_url`, timeout and
//! secret in its constructor so that tests point it at a local mock server. The plugin
//! registry (`plugins` crate) builds `Arc<dyn Capability>` per tenant.
//!
//! Routing is matrix-first ([`RoutingProvider`]): the Mapbox client ([`mapbox`]) and
//! the built-in estimate in `plugins` answer whole origin × destination matrices.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod email;
pub mod google_calendar;
pub mod llm;
pub mod mapbox;
pub mod payments;
pub mod polyline;
pub mod realtime;
pub mod retell;
pub mod sms;
pub mod smtp;
pub mod stripe;
pub mod twilio;

/// The kinds of provider a tenant can plug in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capability {
    /// Card payments, deposits, refunds, payouts (Stripe).
    Payments,
    /// Text messages (Twilio Messaging).
    Sms,
    /// Email (SMTP).
    Email,
    /// Phone calls (Twilio Voice).
    Voice,
    /// Travel times between addresses (Mapbox; built-in estimate as fallback).
    Routing,
    /// External calendars (Google Calendar).
    Calendar,
    /// Language models for the voice agent (OpenAI).
    Llm,
}

impl Capability {
    /// Stable lower-case name, as used in configuration and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Payments => "payments",
            Capability::Sms => "sms",
            Capability::Email => "email",
            Capability::Voice => "voice",
            Capability::Routing => "routing",
            Capability::Calendar => "calendar",
            Capability::Llm => "llm",
        }
    }
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    /// The provider did not answer in time.
    #[error("provider timed out")]
    Timeout,
    /// The provider is unreachable or answered 5xx; retrying later may succeed.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx); retrying will not help.
    #[error("provider rejected the request: {code}")]
    Rejected {
        /// The provider's own error code.
        code: String,
    },
    /// The input cannot be sent to this provider.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl ProviderError {
    /// Whether the same call may succeed if repeated later: `true` for
    /// [`Timeout`](ProviderError::Timeout) and [`Unavailable`](ProviderError::Unavailable),
    /// `false` for [`Rejected`](ProviderError::Rejected) and
    /// [`InvalidInput`](ProviderError::InvalidInput). Retries of calls that create
    /// something must reuse the original idempotency key.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Timeout | ProviderError::Unavailable(_))
    }
}

/// A point on Earth in decimal degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, −90 … 90.
    pub lat: f64,
    /// Longitude, −180 … 180.
    pub lng: f64,
}

impl GeoPoint {
    /// A point, or `None` when a coordinate is out of range or not finite.
    pub fn new(lat: f64, lng: f64) -> Option<GeoPoint> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng))
            .then_some(GeoPoint { lat, lng })
    }
}

/// A travel estimate between two points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TravelEstimate {
    /// Driving distance in metres.
    pub distance_m: f64,
    /// Driving time.
    pub duration: Duration,
}

/// Drive times and distances from every origin to every destination of one
/// [`RoutingProvider::matrix`] question, row-major like the Mapbox Matrix API's answer
/// (<https://docs.mapbox.com/api/navigation/matrix/#matrix-response-object>): row `i` is
/// origin `i`, column `j` destination `j`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TravelMatrix {
    /// Seconds from origin `i` to destination `j`; `None` where the provider found no
    /// route (Mapbox answers `null` for such a cell).
    pub durations_s: Vec<Vec<Option<f64>>>,
    /// Metres from origin `i` to destination `j`; `None` where no route was found.
    pub distances_m: Vec<Vec<Option<f64>>>,
    /// How many HTTP requests the provider made to answer (0 when every cell came from
    /// its cache, or from a built-in formula).
    pub requests: u32,
}

impl TravelMatrix {
    /// An `origins × destinations` matrix with every cell unknown (`None`).
    pub fn unknown(origins: usize, destinations: usize) -> TravelMatrix {
        TravelMatrix {
            durations_s: vec![vec![None; destinations]; origins],
            distances_m: vec![vec![None; destinations]; origins],
            requests: 0,
        }
    }

    /// The drive from origin `i` to destination `j`, when the cell is known and finite.
    pub fn get(&self, i: usize, j: usize) -> Option<TravelEstimate> {
        let seconds = (*self.durations_s.get(i)?.get(j)?)?;
        let distance_m = self
            .distances_m
            .get(i)
            .and_then(|row| row.get(j).copied().flatten())
            .unwrap_or(0.0);
        (seconds.is_finite() && seconds >= 0.0).then(|| TravelEstimate {
            distance_m,
            duration: Duration::from_secs_f64(seconds),
        })
    }
}

/// One driven leg between two points, with the road geometry to draw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLeg {
    /// Driving distance in metres.
    pub distance_m: f64,
    /// Driving time.
    pub duration: Duration,
    /// The path as an encoded polyline with precision 6 (Mapbox `geometries=polyline6`,
    /// <https://docs.mapbox.com/api/navigation/directions/#route-object>); decode it
    /// with [`polyline::decode6`].
    pub polyline6: String,
}

/// Travel times between locations: the Mapbox Matrix and Directions APIs, or the
/// built-in great-circle estimate (`plugins::HaversineRouting`).
///
/// Matrix-first: callers collect the distinct points a question touches and ask once
/// ([`RoutingProvider::matrix`]); one leg with its geometry is
/// [`RoutingProvider::route`].
#[async_trait]
pub trait RoutingProvider: Send + Sync {
    /// Durations (seconds) and distances (metres) from every origin to every
    /// destination; a cell is `None` when the provider found no route between the two.
    /// Providers with a per-request size limit split the question into several requests
    /// and stitch the answers. Errors: [`ProviderError`] (the whole question fails; a
    /// caller falls back to the built-in estimate).
    async fn matrix(
        &self,
        origins: &[GeoPoint],
        destinations: &[GeoPoint],
    ) -> Result<TravelMatrix, ProviderError>;

    /// The drive from `from` to `to` with its road geometry. Errors: [`ProviderError`]
    /// (`Rejected { code: "NoRoute" }` when there is no road between them).
    async fn route(&self, from: GeoPoint, to: GeoPoint) -> Result<RouteLeg, ProviderError>;

    /// Whether this is the built-in estimate rather than a real routing provider (callers
    /// report which one answered).
    fn is_built_in(&self) -> bool {
        false
    }

    /// How many distinct points one request to the provider can carry: callers asking
    /// about `n` points use one square `n × n` matrix when `n` fits, else narrower
    /// questions. Default: unlimited (no requests at all).
    fn points_per_request(&self) -> usize {
        usize::MAX
    }

    /// The cheapest real call that proves the credentials work (for `testPlugin`).
    /// Default: nothing to check.
    async fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The estimated drive from `from` to `to`: a 1 × 1 [`RoutingProvider::matrix`].
    /// Errors: [`ProviderError`]; `Rejected { code: "NoRoute" }` for a `null` cell.
    async fn travel(&self, from: GeoPoint, to: GeoPoint) -> Result<TravelEstimate, ProviderError> {
        self.matrix(&[from], &[to])
            .await?
            .get(0, 0)
            .ok_or_else(|| ProviderError::Rejected {
                code: "NoRoute".into(),
            })
    }
}
