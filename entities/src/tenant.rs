//! `tenants`: one business using the platform.

use sea_orm::entity::prelude::*;

/// A tenant row. `slug` is globally unique (the booking-page name); `timezone` is an IANA
/// name; `currency` is an ISO 4217 code; `plan` and `status` are upper-case enum names.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Display name of the business.
    pub name: String,
    /// Unique booking-page name: lower-case ASCII letters, digits and hyphens.
    #[sea_orm(unique)]
    pub slug: String,
    /// IANA timezone, e.g. `America/New_York`.
    pub timezone: String,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency: String,
    /// Plan: `STARTER`, `PRO` or `TEAMS`.
    pub plan: String,
    /// Billing status (stored `TRIAL`, `ACTIVE`, `PAST_DUE` or `CANCELED`).
    pub status: crate::kinds::TenantStatus,
    /// Default slot grid in minutes (5, 10, 15, 20, 30 or 60).
    pub slot_interval_minutes: i32,
    /// Default minimum notice before a booking's start, in minutes.
    pub min_notice_minutes: i32,
    /// How far ahead bookings may be made, in days (1–731, i.e. up to two years).
    pub horizon_days: i32,
    /// Customers may cancel or reschedule until this many hours before the start.
    pub cancellation_notice_hours: i32,
    /// How any-staff bookings pick a staff member: `LEAST_BUSY` (fewest bookings that
    /// day) or `ROUND_ROBIN` (least recently booked).
    pub assignment_policy: String,
    /// Built-in travel estimate: road distance ÷ great-circle distance (default 1.3).
    pub travel_detour_factor: f64,
    /// Built-in travel estimate: average driving speed, km/h (default 40).
    pub travel_speed_kmh: f64,
    /// Default deposit policy for services without their own: `NONE`, `FIXED` (cents in
    /// `deposit_value`) or `PERCENT` (basis points of the price in `deposit_value`).
    pub deposit_policy: String,
    /// Cents (`FIXED`) or basis points, 0–10000 (`PERCENT`).
    pub deposit_value: i64,
    /// Stripe Connect account (`acct_…`, Standard) the tenant is paid into.
    pub stripe_account_id: Option<String>,
    /// Stripe's `charges_enabled` for that account (from `account.updated`).
    pub stripe_charges_enabled: bool,
    /// Stripe's `payouts_enabled` for that account.
    pub stripe_payouts_enabled: bool,
    /// Stripe's `details_submitted` for that account.
    pub stripe_details_submitted: bool,
    /// `created` (Unix seconds) of the last applied `account.updated` event; older events
    /// are ignored so that out-of-order delivery cannot move state backwards.
    pub stripe_account_event_at: i64,
    /// The tenant as a Customer of the platform's own Stripe account (`cus_…`).
    pub billing_customer_id: Option<String>,
    /// The platform subscription (`sub_…`).
    pub billing_subscription_id: Option<String>,
    /// End of the free trial (UTC), while trialing.
    pub trial_ends_at: Option<DateTimeUtc>,
    /// `created` (Unix seconds) of the last applied billing event (same rule as above).
    pub billing_event_at: i64,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
