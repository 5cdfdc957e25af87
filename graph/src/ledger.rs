//! The ledger: what the payment and refund rows of a booking say — the GraphQL views
//! of payments and refunds, and the money totals of a booking. A read model with no
//! behaviour: bookings show it (`Booking.payments`, `Booking.money`) and payments writes
//! the rows it reads, without either importing the other.
//!
//! Money is integer cents of the booking's currency. A booking's balance is
//! `price − Σ succeeded payments + Σ refunded`, computed from `payments` rows, so it is
//! consistent by construction.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{PaymentKind, PaymentMethod, PaymentStatus, payment, refund};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;

/// Payments of a booking, oldest first.
pub async fn payments_of(tx: &Tx, booking_id: Uuid) -> Result<Vec<payment::Model>, ApiError> {
    Ok(scoped::<payment::Entity>(tx.tenant_id())
        .filter(payment::Column::BookingId.eq(booking_id))
        .order_by_asc(payment::Column::CreatedAt)
        .all(&**tx)
        .await?)
}

/// Money on a booking, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Σ amounts of succeeded payments.
    pub paid: i64,
    /// Σ refunded amounts.
    pub refunded: i64,
}

impl Totals {
    /// Totals of one booking's payments (only succeeded ones count).
    pub fn of(payments: &[payment::Model]) -> Totals {
        payments
            .iter()
            .filter(|p| p.status == PaymentStatus::Succeeded)
            .fold(Totals::default(), |t, p| Totals {
                paid: t.paid + p.amount_cents,
                refunded: t.refunded + p.refunded_cents,
            })
    }

    /// What the customer has paid and kept: paid − refunded.
    pub fn net_paid(&self) -> i64 {
        self.paid - self.refunded
    }

    /// What is still due on a booking of `price_cents`: price − paid + refunded.
    pub fn balance(&self, price_cents: i64) -> i64 {
        price_cents - self.net_paid()
    }
}

/// Money on a booking, in cents of its currency.
#[derive(SimpleObject)]
pub struct BookingMoney {
    /// The price.
    pub price_cents: i64,
    /// Σ succeeded payments.
    pub paid_cents: i64,
    /// Σ refunded.
    pub refunded_cents: i64,
    /// price − paid + refunded.
    pub balance_cents: i64,
}

impl BookingMoney {
    /// The money of a booking priced `price_cents` with `payments`.
    pub fn of(price_cents: i64, payments: &[payment::Model]) -> BookingMoney {
        let t = Totals::of(payments);
        BookingMoney {
            price_cents,
            paid_cents: t.paid,
            refunded_cents: t.refunded,
            balance_cents: t.balance(price_cents),
        }
    }
}

/// A payment toward a booking (amounts in cents of `currency`).
#[derive(Clone)]
pub struct Payment(pub payment::Model);

/// A payment toward a booking (amounts in cents of `currency`).
#[Object]
impl Payment {
    /// Payment id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The booking paid for.
    async fn booking_id(&self) -> ID {
        ID(self.0.booking_id.to_string())
    }
    /// What the payment is for.
    async fn kind(&self) -> PaymentKind {
        self.0.kind
    }
    /// How it was paid.
    async fn method(&self) -> PaymentMethod {
        self.0.method
    }
    /// Where it stands.
    async fn status(&self) -> PaymentStatus {
        self.0.status
    }
    /// Amount in cents.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// Refunded so far, in cents.
    async fn refunded_cents(&self) -> i64 {
        self.0.refunded_cents
    }
    /// The platform's application fee, in cents.
    async fn application_fee_cents(&self) -> i64 {
        self.0.application_fee_cents
    }
    /// ISO 4217 currency code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Where the customer pays, while a Checkout Session is open (null once paid or
    /// lapsed, or while the session is still being created).
    async fn checkout_url(&self) -> Option<&str> {
        self.0.checkout_url.as_deref()
    }
    /// Stripe Checkout Session id (`cs_…`).
    async fn checkout_session_id(&self) -> Option<&str> {
        self.0.checkout_session_id.as_deref()
    }
    /// Stripe PaymentIntent id (`pi_…`).
    async fn payment_intent_id(&self) -> Option<&str> {
        self.0.payment_intent_id.as_deref()
    }
    /// Provider failure code (`card_declined`, `insufficient_funds`, …).
    async fn failure_code(&self) -> Option<&str> {
        self.0.failure_code.as_deref()
    }
    /// Provider failure explanation, for the operator.
    async fn failure_message(&self) -> Option<&str> {
        self.0.failure_message.as_deref()
    }
    /// When an open Checkout Session lapses (UTC).
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// Staff note (manual payments).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Refunds of this payment, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        let key = crate::loaders::RefundsKey(self.0.tenant_id, self.0.id);
        let rows = crate::loaders::load_children_of(ctx, key).await?;
        Ok(rows.into_iter().map(Refund).collect())
    }
}

/// A refund (cents).
#[derive(Clone)]
pub struct Refund(pub refund::Model);

/// A refund (cents).
#[Object]
impl Refund {
    /// Refund id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The payment refunded.
    async fn payment_id(&self) -> ID {
        ID(self.0.payment_id.to_string())
    }
    /// Amount in cents.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// `PENDING`, `SUCCEEDED` or `FAILED`.
    async fn status(&self) -> PaymentStatus {
        self.0.status
    }
    /// Why.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
