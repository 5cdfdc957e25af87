//! `payments`: money taken for a booking.

use sea_orm::entity::prelude::*;

/// A payment toward a booking, in cents of `currency`. `kind`: `DEPOSIT` (Checkout at
/// booking), `BALANCE` (off-session charge on completion) or `MANUAL` (recorded by
/// staff). `method`: `CARD`, `CASH`, `CHECK`, `OTHER`. `status`: `PENDING`, `SUCCEEDED`,
/// `FAILED`, `EXPIRED`, `CANCELED`. `refunded_cents` only grows and never exceeds
/// `amount_cents`. Booking balance = price − Σ succeeded `amount_cents` + Σ `refunded_cents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The booking paid for.
    pub booking_id: Uuid,
    /// What it is for (stored `DEPOSIT`, `BALANCE`, `MANUAL` or `LINK`).
    pub kind: crate::kinds::PaymentKind,
    /// How it was paid (stored `CARD`, `CASH`, `CHECK` or `OTHER`).
    pub method: crate::kinds::PaymentMethod,
    /// Where it stands (stored `PENDING`, `SUCCEEDED`, `FAILED`, `EXPIRED` or `CANCELED`).
    pub status: crate::kinds::PaymentStatus,
    /// Amount in cents (> 0).
    pub amount_cents: i64,
    /// Refunded so far, in cents.
    pub refunded_cents: i64,
    /// The platform's application fee, in cents (Stripe Connect).
    pub application_fee_cents: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// `stripe` or `manual`.
    pub provider: String,
    /// Stripe Checkout Session (`cs_…`).
    pub checkout_session_id: Option<String>,
    /// Where the customer pays, while the session is open.
    pub checkout_url: Option<String>,
    /// Stripe PaymentIntent (`pi_…`).
    pub payment_intent_id: Option<String>,
    /// Stripe Customer on the connected account (`cus_…`), for off-session charges.
    pub provider_customer_id: Option<String>,
    /// Saved Stripe PaymentMethod (`pm_…`).
    pub payment_method_id: Option<String>,
    /// Provider failure code (`card_declined`, …).
    pub failure_code: Option<String>,
    /// Provider failure message, for the operator.
    pub failure_message: Option<String>,
    /// When an open Checkout Session lapses (UTC).
    pub expires_at: Option<DateTimeUtc>,
    /// Staff note (manual payments).
    pub note: Option<String>,
    /// User who recorded it (manual payments).
    pub recorded_by: Option<Uuid>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
