//! Errors: [`ApiError`] for failures that abort a field, [`UserError`] for expected
//! business outcomes returned as data in mutation payloads (Shopify / Jobber style).
//!
//! `ApiError` deliberately does not implement `Display`, so that the only conversion into
//! an `async_graphql::Error` is the one below, which sets `extensions.code` and never
//! sends internal or database text to a client (it is logged instead).

use async_graphql::{Enum, ErrorExtensions, SimpleObject};

/// A failure that aborts a GraphQL field. Each variant documents the `extensions.code`
/// it produces.
#[derive(Debug)]
pub enum ApiError {
    /// `UNAUTHENTICATED`: no valid credentials were presented.
    Unauthenticated,
    /// `FORBIDDEN`: the caller's role does not allow the operation.
    Forbidden(String),
    /// `NOT_FOUND`: no such object in the caller's tenant (also for other tenants' ids).
    NotFound(&'static str),
    /// `BAD_USER_INPUT`: an argument is malformed (e.g. a page size above 100).
    BadUserInput(String),
    /// `CONFLICT`: the operation conflicts with the current state.
    Conflict(String),
    /// `RATE_LIMITED`: too many requests; retry after `retry_after_secs` seconds (also in
    /// `extensions.retryAfter`, and the HTTP `Retry-After` header).
    RateLimited {
        /// Seconds until a retry can succeed (≥ 1).
        retry_after_secs: u64,
    },
    /// `FEATURE_UNAVAILABLE`: the tenant has not configured the named capability.
    FeatureUnavailable(String),
    /// `UPSTREAM_FAILED`: a provider (Stripe, Twilio, …) failed.
    UpstreamFailed(String),
    /// `INTERNAL`: anything else; the detail is logged, never returned.
    Internal(String),
}

impl ApiError {
    /// The `extensions.code` value.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::FeatureUnavailable(_) => "FEATURE_UNAVAILABLE",
            ApiError::UpstreamFailed(_) => "UPSTREAM_FAILED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message sent to the client (safe to show; internal detail is withheld).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "authentication required".into(),
            ApiError::Forbidden(m) | ApiError::BadUserInput(m) | ApiError::Conflict(m) => m.clone(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::RateLimited { retry_after_secs } => {
                format!("too many requests; retry in {retry_after_secs} s")
            }
            ApiError::FeatureUnavailable(cap) => {
                format!("{cap} is not configured for this tenant")
            }
            ApiError::UpstreamFailed(provider) => format!("{provider} failed; retry later"),
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    /// Wraps any error as `INTERNAL`, keeping its text for the log only.
    pub fn internal(e: impl std::fmt::Debug) -> ApiError {
        ApiError::Internal(format!("{e:?}"))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            if let ApiError::RateLimited { retry_after_secs } = self {
                e.set("retryAfter", *retry_after_secs);
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

/// Machine-readable reason of a [`UserError`].
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserErrorCode {
    /// An input value is malformed or out of range.
    InvalidInput,
    /// The referenced object does not exist in this tenant.
    NotFound,
    /// The tenant slug is already taken.
    SlugTaken,
    /// The email is already registered in this tenant.
    EmailTaken,
    /// The phone number is already used by another customer of this tenant.
    PhoneTaken,
    /// Not an IANA timezone name.
    InvalidTimezone,
    /// Not an ISO 4217 currency code.
    InvalidCurrency,
    /// Not a valid email address.
    InvalidEmail,
    /// Not a valid phone number (E.164, or a US national number).
    InvalidPhone,
    /// Password shorter than 8 characters (NIST SP 800-63B §5.1.1.2) or longer than 128.
    WeakPassword,
    /// Email or password is wrong.
    InvalidCredentials,
    /// The email belongs to several tenants: pass `tenantSlug`.
    TenantRequired,
    /// Refresh token unknown, expired, revoked or reused.
    InvalidRefreshToken,
    /// The slot is taken (overlaps another booking of the staff member).
    SlotUnavailable,
    /// The requested time is outside the staff member's working hours.
    OutsideWorkingHours,
    /// The requested start is not in the future.
    InThePast,
    /// The start is sooner than the service's minimum notice.
    MinimumNotice,
    /// The start is further ahead than the tenant's booking horizon.
    BeyondHorizon,
    /// The staff member does not perform this service.
    StaffNotQualified,
    /// No active staff member performs this service.
    NoStaffAvailable,
    /// The idempotency key was already used for another operation.
    IdempotencyKeyReused,
    /// Too close to the start for the customer to cancel or reschedule.
    CancellationWindowPassed,
    /// The slot hold has expired, was released or never existed.
    HoldExpired,
    /// Too many slots are being held anonymously (for this business, or by this client);
    /// book or release a held slot first, or wait for holds to lapse.
    HoldLimitReached,
    /// All-or-nothing recurring booking: some occurrence cannot be booked.
    SeriesIncomplete,
    /// The location is outside the staff member's (or every staff member's) service
    /// area.
    OutsideServiceArea,
    /// The requested start is not on the tenant's slot grid.
    NotOnSlotGrid,
    /// The service is archived.
    ServiceInactive,
    /// The staff member is archived.
    StaffInactive,
    /// The tenant does not accept new bookings (subscription past due or canceled).
    TenantNotAcceptingBookings,
    /// The booking's status does not allow this change.
    InvalidStatusTransition,
    /// Nothing is due on the booking.
    NothingToPay,
    /// The amount is more than the booking's balance.
    AmountExceedsBalance,
    /// The amount is more than what is left to refund on the payment.
    AmountExceedsRefundable,
    /// The plugin id is not in the catalog, or the plugin is built in.
    UnknownPlugin,
    /// Another business already connected this provider identifier (a Twilio number).
    ProviderIdentifierTaken,
    /// The number replied STOP; nothing is sent to it until it texts START.
    RecipientOptedOut,
    /// This month's text quota of the plan is used up.
    QuotaExceeded,
    /// The day changed since the route or dispatch plan was proposed (a booking was
    /// added, moved or canceled, or drive times changed): nothing was applied; ask for a
    /// new plan.
    StalePlan,
}

/// An expected business failure of a mutation, returned as data.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["input", "slug"]`; null when not tied to
    /// one field.
    pub field: Option<Vec<String>>,
    /// Machine-readable reason.
    pub code: UserErrorCode,
    /// Human-readable explanation, safe to show to end users.
    pub message: String,
}

impl UserError {
    /// A user error on `input.<field>` (pass `None` for none).
    pub fn new(field: Option<&str>, code: UserErrorCode, message: impl Into<String>) -> Self {
        UserError {
            field: field.map(|f| {
                std::iter::once("input".to_string())
                    .chain(f.split('.').map(str::to_string))
                    .collect()
            }),
            code,
            message: message.into(),
        }
    }
}

/// Result of a service operation that may fail as a business outcome.
pub type Outcome<T> = Result<T, Vec<UserError>>;

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn code_of(e: ApiError) -> String {
        let gql = e.extend();
        let ext = gql.extensions.expect("extensions set");
        match ext.get("code") {
            Some(async_graphql::Value::String(s)) => s.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn every_variant_has_its_code() {
        assert_eq!(code_of(ApiError::Unauthenticated), "UNAUTHENTICATED");
        assert_eq!(code_of(ApiError::Forbidden("x".into())), "FORBIDDEN");
        assert_eq!(code_of(ApiError::NotFound("booking")), "NOT_FOUND");
        assert_eq!(
            code_of(ApiError::BadUserInput("x".into())),
            "BAD_USER_INPUT"
        );
        assert_eq!(code_of(ApiError::Conflict("x".into())), "CONFLICT");
        assert_eq!(
            code_of(ApiError::RateLimited {
                retry_after_secs: 3
            }),
            "RATE_LIMITED"
        );
        let gql = ApiError::RateLimited {
            retry_after_secs: 3,
        }
        .extend();
        assert_eq!(
            gql.extensions.and_then(|e| e.get("retryAfter").cloned()),
            Some(async_graphql::Value::from(3u64))
        );
        assert_eq!(
            code_of(ApiError::FeatureUnavailable("payments".into())),
            "FEATURE_UNAVAILABLE"
        );
        assert_eq!(
            code_of(ApiError::UpstreamFailed("stripe".into())),
            "UPSTREAM_FAILED"
        );
        assert_eq!(
            code_of(ApiError::Internal("secret detail".into())),
            "INTERNAL"
        );
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let gql = ApiError::Internal("password=hunter2 at db".into()).extend();
        assert_eq!(gql.message, "internal error");
        let gql = ApiError::from(sea_orm::DbErr::Custom("relation secret".into())).extend();
        assert!(!gql.message.contains("secret"));
    }

    #[test]
    fn not_found_names_the_entity() {
        assert_eq!(ApiError::NotFound("booking").message(), "booking not found");
    }

    #[test]
    fn user_error_field_path() {
        let e = UserError::new(Some("customer.phone"), UserErrorCode::InvalidPhone, "bad");
        assert_eq!(
            e.field,
            Some(vec!["input".into(), "customer".into(), "phone".into()])
        );
        assert_eq!(
            UserError::new(None, UserErrorCode::InThePast, "x").field,
            None
        );
    }
}
