//! One trait per provider capability. Real clients (Stripe, Twilio, Mapbox, Google
//! Calendar, OpenAI) implement them over HTTP; each takes its `base_url`, timeout and
//! secret in its constructor so that tests point it at a local mock server. The plugin
//! registry (`plugins` crate) builds `Arc<dyn Capability>` per tenant.
//!
//! The walking skeleton defines the capability set and the routing trait (with its
//! built-in fallback in `plugins`); the other traits gain their methods with the issues
//! that use them (payments, SMS, voice, calendar, LLM).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod email;
pub mod google_calendar;
pub mod payments;
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

/// Travel times between locations (Mapbox Directions/Matrix, or the built-in estimate).
#[async_trait]
pub trait RoutingProvider: Send + Sync {
    /// The estimated drive from `from` to `to`. Errors: [`ProviderError`].
    async fn travel(&self, from: GeoPoint, to: GeoPoint) -> Result<TravelEstimate, ProviderError>;
}
