//! Card payments: the [`PaymentProvider`] capability and its plain data types.
//!
//! Conventions for every type in this module:
//!
//! - **Amounts** are integers in the currency's smallest unit ("cents"): `1050` with
//!   currency `"usd"` is $10.50, and `500` with `"jpy"` is ¥500 (zero-decimal currency).
//!   See <https://docs.stripe.com/currencies#zero-decimal>.
//! - **Currencies** are three-letter ISO 4217 codes in lower case (`"usd"`, `"eur"`).
//! - **Times** are Unix timestamps in seconds, UTC.
//! - **Metadata** is an ordered list of `(key, value)` pairs copied verbatim onto the
//!   provider's objects. Stripe allows at most 50 keys, keys of at most 40 characters
//!   without square brackets, and values of at most 500 characters
//!   (<https://docs.stripe.com/api/metadata>); clients reject anything larger with
//!   [`ProviderError::InvalidInput`] before sending.
//! - **Idempotency keys**: every method that creates something takes an
//!   `idempotency_key`. Re-sending the same request with the same key returns the
//!   first result instead of charging twice, so callers should derive the key from
//!   their own record (for example `"deposit:{booking_id}"`) and reuse it on retries.
//!   Stripe keeps keys for at least 24 hours and allows up to 255 characters
//!   (<https://docs.stripe.com/api/idempotent_requests>).
//!
//! Identifiers (`cs_…`, `pi_…`, `cus_…`, `pm_…`, `re_…`) are the provider's own.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ProviderError;

/// A one-off payment through a provider-hosted checkout page (Stripe Checkout, `mode=payment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRequest {
    /// Amount to charge, in the currency's smallest unit (cents); must be positive.
    pub amount_cents: i64,
    /// Three-letter ISO 4217 currency code, lower case (`"usd"`).
    pub currency: String,
    /// What the customer sees on the checkout page and receipt.
    pub product_name: String,
    /// Where the customer lands after paying. Stripe replaces the literal
    /// `{CHECKOUT_SESSION_ID}` in it with the session id.
    pub success_url: String,
    /// Where the customer lands when they abandon the checkout page.
    pub cancel_url: String,
    /// Pre-fills the e-mail field on the checkout page.
    pub customer_email: Option<String>,
    /// Our own reference (e.g. a booking id), echoed back on the session and in webhooks.
    pub client_reference_id: Option<String>,
    /// Copied onto both the checkout session and its payment intent.
    pub metadata: Vec<(String, String)>,
    /// Platform fee in cents taken from the payment when charging on a connected
    /// account (Stripe Connect direct charge); must not exceed `amount_cents`.
    pub application_fee_cents: Option<i64>,
    /// When the checkout page stops accepting payment (Unix seconds, UTC). Stripe
    /// requires 30 minutes to 24 hours after creation; `None` = Stripe's default (24 h).
    pub expires_at: Option<i64>,
    /// Also create a customer and save the card so it can later be charged with
    /// [`PaymentProvider::charge_off_session`] (no-show fees, balances).
    pub save_card_for_off_session: bool,
}

/// A hosted checkout page as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    /// Session id (`cs_…`).
    pub id: String,
    /// The page to send the customer to; `None` once the session is complete or expired.
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `unpaid`, `paid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// The payment intent id (`pi_…`), once the provider has created one.
    pub payment_intent: Option<String>,
    /// The customer id (`cus_…`), once known.
    pub customer: Option<String>,
    /// When the page stops accepting payment (Unix seconds, UTC).
    pub expires_at: Option<i64>,
    /// Total to be paid, in cents.
    pub amount_total: Option<i64>,
}

/// A charge on a saved card while the customer is not present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffSessionCharge {
    /// Amount to charge, in the currency's smallest unit (cents); must be positive.
    pub amount_cents: i64,
    /// Three-letter ISO 4217 currency code, lower case (`"usd"`).
    pub currency: String,
    /// The customer who owns the saved card (`cus_…`).
    pub customer: String,
    /// The saved card (`pm_…`). When `None` the parameter is omitted and the provider
    /// applies its own rules (Stripe rejects the confirmation if it finds no payment
    /// method), so callers should normally pass it.
    pub payment_method: Option<String>,
    /// Platform fee in cents (Stripe Connect direct charge); must not exceed `amount_cents`.
    pub application_fee_cents: Option<i64>,
    /// Shown in the provider's dashboard.
    pub description: Option<String>,
    /// Copied onto the payment intent.
    pub metadata: Vec<(String, String)>,
}

/// A payment attempt (Stripe PaymentIntent) as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// Payment intent id (`pi_…`).
    pub id: String,
    /// Stripe status: `succeeded`, `processing`, `requires_payment_method` (declined),
    /// `requires_action` (the bank wants the customer present, e.g. 3-D Secure),
    /// `requires_confirmation`, `requires_capture` or `canceled`.
    /// <https://docs.stripe.com/payments/paymentintents/lifecycle>
    pub status: String,
    /// Amount requested, in cents.
    pub amount: i64,
    /// Amount actually received, in cents (0 unless the payment succeeded).
    pub amount_received: i64,
    /// The latest charge id (`ch_…`), if a charge was attempted.
    pub latest_charge: Option<String>,
    /// The payment method used (`pm_…`).
    pub payment_method: Option<String>,
    /// The customer (`cus_…`).
    pub customer: Option<String>,
    /// Why the last attempt failed: the card network's decline code when there is one
    /// (`insufficient_funds`, `authentication_required`, …), otherwise the provider's
    /// error code (`card_declined`, `expired_card`, …).
    /// <https://docs.stripe.com/declines/codes>
    pub failure_code: Option<String>,
    /// Human-readable reason for the last failure, suitable for staff (not secret).
    pub failure_message: Option<String>,
}

/// Refund of a payment, whole or partial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The payment intent to refund (`pi_…`).
    pub payment_intent: String,
    /// Amount to refund in cents; `None` refunds whatever remains unrefunded.
    pub amount_cents: Option<i64>,
    /// Copied onto the refund.
    pub metadata: Vec<(String, String)>,
}

/// A refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Refund id (`re_…`).
    pub id: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`
    /// (empty if the provider reported none).
    pub status: String,
    /// Amount refunded, in cents.
    pub amount: i64,
    /// The refunded payment intent (`pi_…`).
    pub payment_intent: Option<String>,
}

/// Card payments through a payment provider (Stripe).
///
/// Every method returns [`ProviderError`] on failure:
/// [`Timeout`](ProviderError::Timeout) and [`Unavailable`](ProviderError::Unavailable)
/// are worth retrying with the same idempotency key
/// ([`ProviderError::is_retryable`]); [`Rejected`](ProviderError::Rejected) carries the
/// provider's error code and will fail again; [`InvalidInput`](ProviderError::InvalidInput)
/// means the request was refused locally and nothing was sent.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Proves the credentials work with the cheapest read the provider offers
    /// (Stripe: `GET /v1/balance`).
    async fn check(&self) -> Result<(), ProviderError>;

    /// Creates a hosted checkout page for a one-off payment; send the customer to
    /// [`CheckoutSession::url`]. The outcome arrives by webhook
    /// (`checkout.session.completed`).
    async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, ProviderError>;

    /// Charges a saved card without the customer present.
    ///
    /// A **declined** charge is not an error: when the provider refuses the card but
    /// has created the payment intent (Stripe answers HTTP 402 with the intent embedded
    /// in `error.payment_intent`), this returns `Ok` with that intent, whose `status` is
    /// typically `requires_payment_method` (or `requires_action` when the bank demands
    /// the customer authenticate) and whose `failure_code` / `failure_message` say why.
    /// Check `status == "succeeded"` before treating the money as received.
    /// Errors without an embedded intent map to [`ProviderError`] as usual.
    /// <https://docs.stripe.com/payments/save-and-reuse#charge-saved-payment-method>
    async fn charge_off_session(
        &self,
        req: &OffSessionCharge,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, ProviderError>;

    /// Refunds a payment intent, in full (`amount_cents: None`) or in part.
    async fn refund(
        &self,
        req: &RefundRequest,
        idempotency_key: &str,
    ) -> Result<Refund, ProviderError>;
}
