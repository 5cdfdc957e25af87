//! GraphQL types of the auth and tenancy domain.

use async_graphql::{ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{tenant, user};

use crate::context::Role;
use crate::error::UserError;

/// A business using Servicegraph.
pub struct Tenant(pub tenant::Model);

/// A business using Servicegraph.
#[Object]
impl Tenant {
    /// Tenant id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Business name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Booking-page name, unique across the platform.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// IANA timezone in which schedules are read, e.g. `America/New_York`.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// ISO 4217 currency of all prices.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Subscription plan: `STARTER`, `PRO` or `TEAMS`.
    async fn plan(&self) -> &str {
        &self.0.plan
    }
    /// Account status: `TRIAL`, `ACTIVE`, `PAST_DUE` or `CANCELED`.
    async fn status(&self) -> String {
        sea_orm::ActiveEnum::to_value(&self.0.status)
    }
    /// When the tenant signed up (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Default slot grid, minutes.
    async fn slot_interval_minutes(&self) -> i32 {
        self.0.slot_interval_minutes
    }
    /// Default minimum notice before a start, minutes.
    async fn min_notice_minutes(&self) -> i32 {
        self.0.min_notice_minutes
    }
    /// How far ahead bookings may be made, days.
    async fn horizon_days(&self) -> i32 {
        self.0.horizon_days
    }
    /// Customers may cancel or reschedule until this many hours before the start.
    async fn cancellation_notice_hours(&self) -> i32 {
        self.0.cancellation_notice_hours
    }
    /// How any-staff bookings pick a staff member.
    async fn assignment_policy(&self) -> AssignmentPolicy {
        AssignmentPolicy::parse(&self.0.assignment_policy)
    }
}

/// How a booking without a chosen staff member is assigned (deterministically; the
/// reason is stored on the booking as `assignmentReason`).
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum AssignmentPolicy {
    /// The free qualified staff member with the fewest bookings that day; ties by id.
    #[default]
    LeastBusy,
    /// The free qualified staff member booked least recently (never booked first);
    /// ties by id.
    RoundRobin,
}

impl AssignmentPolicy {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentPolicy::LeastBusy => "LEAST_BUSY",
            AssignmentPolicy::RoundRobin => "ROUND_ROBIN",
        }
    }

    /// Parses the stored spelling (unknown → `LEAST_BUSY`).
    pub fn parse(s: &str) -> AssignmentPolicy {
        if s == "ROUND_ROBIN" {
            AssignmentPolicy::RoundRobin
        } else {
            AssignmentPolicy::LeastBusy
        }
    }
}

/// A person who logs in for a tenant.
pub struct User(pub user::Model);

/// A person who logs in for a tenant.
#[Object]
impl User {
    /// User id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Email address (lower-case).
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Role within the tenant.
    async fn role(&self) -> Option<Role> {
        Role::parse(&self.0.role)
    }
    /// When the user was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `signUp`: creates a tenant and its owner.
#[derive(InputObject, Debug, Clone)]
pub struct SignUpInput {
    /// Business name (1–200 characters).
    pub business_name: String,
    /// Booking-page name: 3–63 of `a-z`, `0-9`, `-`. Derived from `businessName` when
    /// omitted (`"Mike's Detailing"` → `mikes-detailing`).
    pub slug: Option<String>,
    /// IANA timezone, e.g. `America/New_York`.
    pub timezone: String,
    /// ISO 4217 currency; default `USD`.
    pub currency: Option<String>,
    /// Owner's email.
    pub email: String,
    /// Owner's password, 8–128 characters.
    pub password: String,
    /// Owner's display name; defaults to the email's local part.
    pub name: Option<String>,
}

/// Input of `logIn`.
#[derive(InputObject, Debug, Clone)]
pub struct LogInInput {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Tenant slug; needed only when the email belongs to several tenants.
    pub tenant_slug: Option<String>,
}

/// Input of `createUser` (owners and managers add team members).
#[derive(InputObject, Debug, Clone)]
pub struct CreateUserInput {
    /// Email, unique within the tenant.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Initial password, 8–128 characters.
    pub password: String,
    /// Role; managers may only create technicians.
    pub role: Role,
}

/// Result of `signUp`, `logIn` and `refreshToken`. On success the tokens are set and
/// `userErrors` is empty; otherwise the tokens are null.
#[derive(SimpleObject, Default)]
pub struct AuthPayload {
    /// HS256 JWT for `Authorization: Bearer …`, valid 15 minutes.
    pub access_token: Option<String>,
    /// Opaque refresh token, valid 30 days, single use: exchange it with `refreshToken`.
    pub refresh_token: Option<String>,
    /// When `accessToken` expires (UTC).
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// The user.
    pub user: Option<User>,
    /// The user's tenant.
    pub tenant: Option<Tenant>,
    /// Why the operation failed.
    pub user_errors: Vec<UserError>,
}

/// Result of `logOut`.
#[derive(SimpleObject, Default)]
pub struct LogOutPayload {
    /// True when the refresh token's family was revoked.
    pub success: bool,
    /// Why the operation failed.
    pub user_errors: Vec<UserError>,
}

/// Result of `createUser`.
#[derive(SimpleObject, Default)]
pub struct CreateUserPayload {
    /// The new user.
    pub user: Option<User>,
    /// Why the operation failed.
    pub user_errors: Vec<UserError>,
}

/// The caller: user and tenant.
#[derive(SimpleObject)]
pub struct Me {
    /// The logged-in user.
    pub user: User,
    /// The user's tenant.
    pub tenant: Tenant,
    /// The staff member linked to this user, if any.
    pub staff_member_id: Option<ID>,
}
