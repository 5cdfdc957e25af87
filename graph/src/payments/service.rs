//! Payment rules: deposit policy, deposit Checkout, balance charge on completion,
//! manual payments, refunds, balances, expiry of unpaid deposits, notifications.
//!
//! Money is integer cents of the booking's currency. A booking's balance is
//! `price − Σ succeeded payments + Σ refunded`, computed from `payments` rows, so it is
//! consistent by construction.

use chrono::Duration;
use entities::{booking, customer, notification, payment, refund, service, tenant};
use sea_orm::prelude::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

use crate::bookings::types::BookingStatus;
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::BookingEventKind;
use crate::outbox::{self, Claim};
use crate::payments::config::Plan;
use crate::state::GraphState;
use crate::util::{new_id, now};

/// How long a customer has to pay a deposit, in minutes. Stripe requires a Checkout
/// Session's `expires_at` to be 30 minutes to 24 hours ahead
/// (<https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at>);
/// one minute of margin covers the delay between writing and sending.
pub const DEPOSIT_WINDOW_MINUTES: i64 = 31;

/// Outbox kind: create the deposit Checkout Session.
pub const KIND_CHECKOUT: &str = "stripe.checkout_session";
/// Outbox kind: charge the balance off-session.
pub const KIND_BALANCE: &str = "stripe.balance_charge";
/// Outbox kind: refund.
pub const KIND_REFUND: &str = "stripe.refund";

/// Payment status spellings.
pub mod status {
    /// Waiting for the customer or the provider.
    pub const PENDING: &str = "PENDING";
    /// Money received.
    pub const SUCCEEDED: &str = "SUCCEEDED";
    /// The charge failed.
    pub const FAILED: &str = "FAILED";
    /// The Checkout Session lapsed unpaid.
    pub const EXPIRED: &str = "EXPIRED";
    /// Abandoned (e.g. the booking was canceled before payment).
    pub const CANCELED: &str = "CANCELED";
}

/// The deposit due on a booking of `service` at `price_cents`, in cents: the service's
/// policy, else the tenant's. `FIXED` is capped at the price; `PERCENT` is basis points
/// of the price, rounded half up.
pub fn deposit_amount(t: &tenant::Model, s: &service::Model, price_cents: i64) -> i64 {
    let (policy, value) = match (&s.deposit_policy, s.deposit_value) {
        (Some(p), v) => (p.as_str(), v.unwrap_or(0)),
        (None, _) => (t.deposit_policy.as_str(), t.deposit_value),
    };
    let price = price_cents.max(0);
    match policy {
        "FIXED" => value.clamp(0, price),
        "PERCENT" => (price * value.clamp(0, 10_000) + 5_000) / 10_000,
        _ => 0,
    }
}

/// The tenant row. Errors: `NOT_FOUND`.
pub async fn tenant_row(tx: &Tx) -> Result<tenant::Model, ApiError> {
    tenant::Entity::find_by_id(tx.tenant_id())
        .one(&**tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))
}

/// Whether the tenant can take card payments now: Stripe configured, account connected
/// and `charges_enabled`.
pub async fn card_payments_ready(st: &GraphState, t: &tenant::Model) -> bool {
    t.stripe_charges_enabled
        && st
            .registry
            .tenant(t.id)
            .await
            .is_ok_and(|p| p.payments.is_some())
}

/// Records an operator notification in `tx`.
pub async fn notify(
    tx: &Tx,
    kind: &str,
    message: impl Into<String>,
    booking_id: Option<Uuid>,
    payment_id: Option<Uuid>,
) -> Result<(), ApiError> {
    notification::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        kind: Set(kind.into()),
        message: Set(message.into()),
        booking_id: Set(booking_id),
        payment_id: Set(payment_id),
        read_at: Set(None),
        created_at: Set(now()),
    }
    .insert(&**tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_payment(
    tx: &Tx,
    b: &booking::Model,
    kind: &str,
    method: &str,
    status: &str,
    provider: &str,
    amount_cents: i64,
    fee_cents: i64,
) -> Result<payment::Model, ApiError> {
    let at = now();
    Ok(payment::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        booking_id: Set(b.id),
        kind: Set(kind.into()),
        method: Set(method.into()),
        status: Set(status.into()),
        amount_cents: Set(amount_cents),
        refunded_cents: Set(0),
        application_fee_cents: Set(fee_cents),
        currency: Set(b.currency.clone()),
        provider: Set(provider.into()),
        checkout_session_id: Set(None),
        checkout_url: Set(None),
        payment_intent_id: Set(None),
        provider_customer_id: Set(None),
        payment_method_id: Set(None),
        failure_code: Set(None),
        failure_message: Set(None),
        expires_at: Set(None),
        note: Set(None),
        recorded_by: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&**tx)
    .await?)
}

/// Opens a deposit for booking `b` in `tx`: a `PENDING` card payment and the outbox
/// message that creates its Checkout Session (already claimed, for the caller to deliver
/// after committing). Also sets the booking's deposit deadline when it is `PENDING`.
pub async fn open_deposit(
    st: &GraphState,
    tx: &Tx,
    t: &tenant::Model,
    b: &booking::Model,
    amount_cents: i64,
) -> Result<(payment::Model, Claim), ApiError> {
    open_checkout(st, tx, t, b, amount_cents, "DEPOSIT").await
}

/// Opens a card payment of `kind` (`DEPOSIT` or `LINK`) paid through a Checkout Session:
/// the `PENDING` payment and its claimed outbox message. Only a deposit on a `PENDING`
/// booking sets the booking's deadline.
pub async fn open_checkout(
    st: &GraphState,
    tx: &Tx,
    t: &tenant::Model,
    b: &booking::Model,
    amount_cents: i64,
    kind: &str,
) -> Result<(payment::Model, Claim), ApiError> {
    let fee = st
        .platform
        .application_fee(Plan::parse(&t.plan), amount_cents);
    let p = insert_payment(
        tx,
        b,
        kind,
        "CARD",
        status::PENDING,
        "stripe",
        amount_cents,
        fee,
    )
    .await?;
    let svc = scoped::<service::Entity>(t.id)
        .filter(service::Column::Id.eq(b.service_id))
        .one(&**tx)
        .await?;
    let cust = scoped::<customer::Entity>(t.id)
        .filter(customer::Column::Id.eq(b.customer_id))
        .one(&**tx)
        .await?;
    let base = &st.platform.public_base_url;
    let payload = json!({
        "payment_id": p.id,
        "booking_id": b.id,
        "amount_cents": amount_cents,
        "currency": b.currency.to_ascii_lowercase(),
        "product_name": format!(
            "{}: {}",
            if kind == "DEPOSIT" { "Deposit" } else { "Payment" },
            svc.map(|s| s.name).unwrap_or_else(|| "booking".into())
        ),
        "customer_email": cust.and_then(|c| c.email),
        "success_url": format!("{base}/book/{}/paid?booking={}", t.slug, b.id),
        "cancel_url": format!("{base}/book/{}/canceled?booking={}", t.slug, b.id),
        "application_fee_cents": fee,
    });
    let claim = outbox::enqueue_claimed(st, tx, KIND_CHECKOUT, payload).await?;
    if kind == "DEPOSIT" && b.status == BookingStatus::Pending.as_str() {
        booking::Entity::update_many()
            .col_expr(
                booking::Column::DepositExpiresAt,
                Expr::value(Some(now() + Duration::minutes(DEPOSIT_WINDOW_MINUTES))),
            )
            .filter(booking::Column::TenantId.eq(t.id))
            .filter(booking::Column::Id.eq(b.id))
            .exec(&**tx)
            .await?;
    }
    Ok((p, claim))
}

/// Delivers a claimed deposit message now (so the caller can answer with the checkout
/// URL) and returns the payment as it then stands. A provider failure is not an error
/// here: the message stays in the outbox and the payment has no URL yet.
pub async fn deliver_and_reload(
    st: &GraphState,
    claim: Claim,
    payment_id: Uuid,
) -> Result<payment::Model, ApiError> {
    if let Err(e) = outbox::deliver_claimed(st, claim).await {
        tracing::error!(error = ?e, "delivering a deposit checkout failed");
    }
    st.outbox_wake.notify_one();
    let tx = st.db.read(claim.tenant_id).await?;
    let p = scoped::<payment::Entity>(claim.tenant_id)
        .filter(payment::Column::Id.eq(payment_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    tx.commit().await?;
    Ok(p)
}

fn user_error(field: Option<&str>, code: C, msg: &str) -> Vec<UserError> {
    vec![UserError::new(field, code, msg)]
}

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
            .filter(|p| p.status == status::SUCCEEDED)
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

async fn booking_for_payment(
    tx: &Tx,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<booking::Model, ApiError> {
    let b = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&**tx)
        .await?
        .ok_or(ApiError::NotFound("booking"))?;
    Ok(b)
}

/// `createDepositCheckout`: a Checkout Session for the deposit due on a booking (the
/// policy's amount, or the whole balance when the policy asks for none), saving the card
/// for the balance. Returns the open deposit if one is already waiting. Errors:
/// `NOT_FOUND`, `FEATURE_UNAVAILABLE` (payments). User errors:
/// `INVALID_STATUS_TRANSITION` (booking not pending/confirmed), `NOTHING_TO_PAY`.
pub async fn create_deposit_checkout(
    st: &GraphState,
    rc: &RequestCtx,
    booking_id: Uuid,
) -> Result<Outcome<payment::Model>, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let t = tenant_row(&tx).await?;
    if !card_payments_ready(st, &t).await {
        return Err(ApiError::FeatureUnavailable("payments".into()));
    }
    let b = booking_for_payment(&tx, rc, booking_id).await?;
    if !matches!(b.status.as_str(), "PENDING" | "CONFIRMED") {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "only pending or confirmed bookings take a deposit",
        )));
    }
    let existing = payments_of(&tx, b.id).await?;
    if let Some(open) = existing
        .iter()
        .find(|p| p.kind == "DEPOSIT" && p.status == status::PENDING)
    {
        return Ok(Ok(open.clone()));
    }
    let paid = Totals::of(&existing).net_paid();
    let svc = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(b.service_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("service"))?;
    let due = b.price_cents - paid;
    let policy = deposit_amount(&t, &svc, b.price_cents);
    let amount = if policy > 0 { policy - paid } else { due }.min(due);
    if amount <= 0 {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::NothingToPay,
            "nothing is due on this booking",
        )));
    }
    let (p, claim) = open_deposit(st, &tx, &t, &b, amount).await?;
    tx.commit().await?;
    Ok(Ok(deliver_and_reload(st, claim, p.id).await?))
}

/// `createPaymentLink`: a Stripe Checkout page for what is still due on a booking (or
/// `amount_cents` of it), e.g. after the job when no card was saved or the saved card
/// was declined. Returns an open link for the booking if there is one. Errors:
/// `NOT_FOUND`, `FEATURE_UNAVAILABLE` (payments). User errors:
/// `INVALID_STATUS_TRANSITION` (canceled booking), `NOTHING_TO_PAY`,
/// `AMOUNT_EXCEEDS_BALANCE`, `INVALID_INPUT`.
pub async fn create_payment_link(
    st: &GraphState,
    rc: &RequestCtx,
    booking_id: Uuid,
    amount_cents: Option<i64>,
) -> Result<Outcome<payment::Model>, ApiError> {
    if amount_cents.is_some_and(|a| a <= 0) {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::InvalidInput,
            "amountCents must be positive",
        )));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let t = tenant_row(&tx).await?;
    if !card_payments_ready(st, &t).await {
        return Err(ApiError::FeatureUnavailable("payments".into()));
    }
    let b = booking_for_payment(&tx, rc, booking_id).await?;
    if b.status == BookingStatus::Canceled.as_str() {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "the booking is canceled",
        )));
    }
    let pays = payments_of(&tx, b.id).await?;
    if let Some(open) = pays.iter().find(|p| {
        p.status == status::PENDING && p.checkout_session_id.is_some() && p.kind == "LINK"
    }) {
        return Ok(Ok(open.clone()));
    }
    let balance = Totals::of(&pays).balance(b.price_cents);
    if balance <= 0 {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::NothingToPay,
            "nothing is due on this booking",
        )));
    }
    let amount = amount_cents.unwrap_or(balance);
    if amount > balance {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::AmountExceedsBalance,
            &format!("the balance is {balance} cents"),
        )));
    }
    let (p, claim) = open_checkout(st, &tx, &t, &b, amount, "LINK").await?;
    tx.commit().await?;
    Ok(Ok(deliver_and_reload(st, claim, p.id).await?))
}

/// Payment method of a manual payment.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ManualMethod {
    /// Cash.
    Cash,
    /// Paper check.
    Check,
    /// Anything else (bank transfer, gift card, …).
    Other,
}

impl ManualMethod {
    fn as_str(self) -> &'static str {
        match self {
            ManualMethod::Cash => "CASH",
            ManualMethod::Check => "CHECK",
            ManualMethod::Other => "OTHER",
        }
    }
}

/// `recordPayment`: a payment taken by hand (cash, check, other), succeeded at once.
/// User errors: `INVALID_INPUT` (amount ≤ 0, note > 500 characters),
/// `AMOUNT_EXCEEDS_BALANCE`, `INVALID_STATUS_TRANSITION` (canceled booking). Errors:
/// `NOT_FOUND`.
pub async fn record_manual(
    st: &GraphState,
    rc: &RequestCtx,
    booking_id: Uuid,
    amount_cents: i64,
    method: ManualMethod,
    note: Option<String>,
) -> Result<Outcome<payment::Model>, ApiError> {
    if amount_cents <= 0 {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::InvalidInput,
            "amountCents must be positive",
        )));
    }
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Ok(Err(user_error(
            Some("note"),
            C::InvalidInput,
            "note is longer than 500 characters",
        )));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let b = booking_for_payment(&tx, rc, booking_id).await?;
    if b.status == BookingStatus::Canceled.as_str() {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "the booking is canceled",
        )));
    }
    let balance = Totals::of(&payments_of(&tx, b.id).await?).balance(b.price_cents);
    if amount_cents > balance {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::AmountExceedsBalance,
            &format!("the balance is {balance} cents"),
        )));
    }
    let p = insert_payment(
        &tx,
        &b,
        "MANUAL",
        method.as_str(),
        status::SUCCEEDED,
        "manual",
        amount_cents,
        0,
    )
    .await?;
    let p = payment::ActiveModel {
        note: Set(note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty())),
        recorded_by: Set(rc.user_id()),
        ..p.into()
    }
    .update(&*tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(p))
}

/// `refundPayment`: refunds `amount_cents` (default: all that is left) of a succeeded
/// payment. Manual payments are refunded at once (money handed back); card payments get a
/// `PENDING` refund and an outbox message to Stripe, settled by its answer or by
/// `charge.refunded`. User errors: `INVALID_INPUT`, `AMOUNT_EXCEEDS_REFUNDABLE`,
/// `INVALID_STATUS_TRANSITION` (payment not succeeded). Errors: `NOT_FOUND`.
pub async fn refund_payment(
    st: &GraphState,
    rc: &RequestCtx,
    payment_id: Uuid,
    amount_cents: Option<i64>,
    reason: Option<String>,
) -> Result<Outcome<refund::Model>, ApiError> {
    if amount_cents.is_some_and(|a| a <= 0) {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::InvalidInput,
            "amountCents must be positive",
        )));
    }
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Ok(Err(user_error(
            Some("reason"),
            C::InvalidInput,
            "reason is longer than 500 characters",
        )));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    // Money checks read several rows (payment, pending refunds); the tenant's write lock
    // keeps a concurrent refund or provider answer from landing between the reads.
    st.db.lock_schedule(&tx).await?;
    let p = scoped::<payment::Entity>(rc.tenant_id)
        .filter(payment::Column::Id.eq(payment_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    if p.status != status::SUCCEEDED {
        return Ok(Err(user_error(
            Some("paymentId"),
            C::InvalidStatusTransition,
            "only succeeded payments can be refunded",
        )));
    }
    let pending: i64 = scoped::<refund::Entity>(rc.tenant_id)
        .filter(refund::Column::PaymentId.eq(p.id))
        .filter(refund::Column::Status.eq(status::PENDING))
        .all(&*tx)
        .await?
        .iter()
        .map(|r| r.amount_cents)
        .sum();
    let refundable = p.amount_cents - p.refunded_cents - pending;
    let amount = amount_cents.unwrap_or(refundable);
    if amount <= 0 || amount > refundable {
        return Ok(Err(user_error(
            Some("amountCents"),
            C::AmountExceedsRefundable,
            &format!("{refundable} cents can be refunded"),
        )));
    }
    let manual = p.provider == "manual";
    let at = now();
    let r = refund_row(
        &tx,
        p.id,
        amount,
        if manual {
            status::SUCCEEDED
        } else {
            status::PENDING
        },
        reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
    )
    .await?;
    if manual {
        payment::Entity::update_many()
            .col_expr(
                payment::Column::RefundedCents,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col(payment::Column::RefundedCents),
                    amount,
                ),
            )
            .col_expr(payment::Column::UpdatedAt, Expr::value(at))
            .filter(payment::Column::TenantId.eq(rc.tenant_id))
            .filter(payment::Column::Id.eq(p.id))
            .exec(&*tx)
            .await?;
    } else {
        let Some(pi) = p.payment_intent_id.clone() else {
            return Err(ApiError::Conflict(
                "the card payment has no PaymentIntent yet; retry shortly".into(),
            ));
        };
        outbox::enqueue(
            &tx,
            KIND_REFUND,
            json!({"refund_id": r.id, "payment_id": p.id, "payment_intent": pi, "amount_cents": amount}),
        )
        .await?;
    }
    tx.commit().await?;
    st.outbox_wake.notify_one();
    Ok(Ok(r))
}

/// Inserts a refund of `amount_cents` of payment `payment_id` in `tx` with `status`
/// (`PENDING` when the provider still has to be called — the caller enqueues that).
pub async fn refund_row(
    tx: &Tx,
    payment_id: Uuid,
    amount_cents: i64,
    status: &str,
    reason: Option<String>,
) -> Result<refund::Model, ApiError> {
    let at = now();
    Ok(refund::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        payment_id: Set(payment_id),
        amount_cents: Set(amount_cents),
        status: Set(status.into()),
        provider_refund_id: Set(None),
        reason: Set(reason),
        failure_code: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&**tx)
    .await?)
}

/// On completion of booking `b` (inside the transaction that completes it): when the
/// customer saved a card with a deposit and a balance is due, writes a `BALANCE` payment
/// and the outbox message that charges it off-session. Returns whether it did.
pub async fn charge_balance_on_completion(
    st: &GraphState,
    tx: &Tx,
    b: &booking::Model,
) -> Result<bool, ApiError> {
    let pays = payments_of(tx, b.id).await?;
    if pays
        .iter()
        .any(|p| p.kind == "BALANCE" && p.status == status::PENDING)
    {
        return Ok(false);
    }
    let Some(card) = pays.iter().rev().find(|p| {
        p.status == status::SUCCEEDED
            && p.provider == "stripe"
            && p.provider_customer_id.is_some()
            && p.payment_method_id.is_some()
    }) else {
        return Ok(false);
    };
    let due = Totals::of(&pays).balance(b.price_cents);
    if due <= 0 {
        return Ok(false);
    }
    let t = tenant_row(tx).await?;
    if !card_payments_ready(st, &t).await {
        notify(
            tx,
            "PAYMENT_FAILED",
            format!(
                "The balance of {due} cents could not be charged: card payments are not set up."
            ),
            Some(b.id),
            None,
        )
        .await?;
        return Ok(false);
    }
    let fee = st.platform.application_fee(Plan::parse(&t.plan), due);
    let p = insert_payment(
        tx,
        b,
        "BALANCE",
        "CARD",
        status::PENDING,
        "stripe",
        due,
        fee,
    )
    .await?;
    let p = payment::ActiveModel {
        provider_customer_id: Set(card.provider_customer_id.clone()),
        payment_method_id: Set(card.payment_method_id.clone()),
        ..p.into()
    }
    .update(&**tx)
    .await?;
    outbox::enqueue(
        tx,
        KIND_BALANCE,
        json!({
            "payment_id": p.id,
            "booking_id": b.id,
            "amount_cents": due,
            "currency": b.currency.to_ascii_lowercase(),
            "customer": card.provider_customer_id,
            "payment_method": card.payment_method_id,
            "application_fee_cents": fee,
        }),
    )
    .await?;
    Ok(true)
}

/// Cancels booking `booking_id` if it is still `PENDING` for an unpaid deposit, and marks
/// its open deposit `status_to` (`EXPIRED`). Returns the canceled booking.
pub async fn release_unpaid(
    tx: &Tx,
    booking_id: Uuid,
    status_to: &str,
) -> Result<Option<booking::Model>, ApiError> {
    let at = now();
    let pays = payments_of(tx, booking_id).await?;
    if pays
        .iter()
        .any(|p| p.kind == "DEPOSIT" && p.status == status::SUCCEEDED)
    {
        return Ok(None);
    }
    close_open_deposits(tx, booking_id, status_to).await?;
    let res = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Canceled.as_str()),
        )
        .col_expr(
            booking::Column::DepositExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(booking::Column::UpdatedAt, Expr::value(at))
        .filter(booking::Column::TenantId.eq(tx.tenant_id()))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::Status.eq(BookingStatus::Pending.as_str()))
        .filter(booking::Column::DepositExpiresAt.is_not_null())
        .exec(&**tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    Ok(scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::Id.eq(booking_id))
        .one(&**tx)
        .await?)
}

/// Marks the booking's open deposit payments `CANCELED` (the booking was canceled
/// before the customer paid); a payment arriving later is refunded by the webhook.
pub async fn abandon_open_deposits(tx: &Tx, booking_id: Uuid) -> Result<(), ApiError> {
    booking::Entity::update_many()
        .col_expr(
            booking::Column::DepositExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(booking::Column::TenantId.eq(tx.tenant_id()))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::DepositExpiresAt.is_not_null())
        .exec(&**tx)
        .await?;
    close_open_deposits(tx, booking_id, status::CANCELED).await
}

/// Moves the booking's `PENDING` deposits to `status_to` and drops their Checkout URL.
async fn close_open_deposits(tx: &Tx, booking_id: Uuid, status_to: &str) -> Result<(), ApiError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status_to))
        .col_expr(
            payment::Column::CheckoutUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
        .filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::BookingId.eq(booking_id))
        .filter(payment::Column::Kind.eq("DEPOSIT"))
        .filter(payment::Column::Status.eq(status::PENDING))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Cancels bookings whose deposit deadline passed unpaid (across tenants, up to
/// `limit`), freeing their slots. Run by the outbox worker on every pass.
pub async fn expire_deposits(st: &GraphState, limit: u64) -> Result<usize, ApiError> {
    let due = st.db.expired_deposits(now(), limit).await?;
    let mut n = 0;
    for (tenant_id, id) in due {
        let tx = st.db.write(tenant_id).await?;
        let released = release_unpaid(&tx, id, status::EXPIRED).await?;
        tx.commit().await?;
        if let Some(b) = released {
            n += 1;
            crate::bookings::service::publish(st, &b, BookingEventKind::Canceled).await;
        }
    }
    Ok(n)
}

/// Notifications of the tenant, newest first (at most `first`, ≤ 100).
pub async fn notifications(
    st: &GraphState,
    rc: &RequestCtx,
    unread_only: bool,
    first: u64,
) -> Result<Vec<notification::Model>, ApiError> {
    use sea_orm::QuerySelect;
    let tx = st.db.read(rc.tenant_id).await?;
    let mut q = scoped::<notification::Entity>(rc.tenant_id)
        .order_by_desc(notification::Column::CreatedAt)
        .limit(first.clamp(1, 100));
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    let rows = q.all(&*tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Marks a notification read. Errors: `NOT_FOUND`.
pub async fn mark_read(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<notification::Model, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let n = scoped::<notification::Entity>(rc.tenant_id)
        .filter(notification::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("notification"))?;
    let n = if n.read_at.is_none() {
        notification::ActiveModel {
            read_at: Set(Some(now())),
            ..n.into()
        }
        .update(&*tx)
        .await?
    } else {
        n
    };
    tx.commit().await?;
    Ok(n)
}

/// Deposit policy kinds.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DepositPolicy {
    /// No deposit.
    None,
    /// A fixed amount in cents (capped at the price).
    Fixed,
    /// A percentage of the price, in basis points (2500 = 25 %).
    Percent,
}

impl DepositPolicy {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DepositPolicy::None => "NONE",
            DepositPolicy::Fixed => "FIXED",
            DepositPolicy::Percent => "PERCENT",
        }
    }

    /// Parses the stored spelling (`NONE` for anything unknown).
    pub fn parse(s: &str) -> DepositPolicy {
        match s {
            "FIXED" => DepositPolicy::Fixed,
            "PERCENT" => DepositPolicy::Percent,
            _ => DepositPolicy::None,
        }
    }
}

/// `setDepositPolicy`: the tenant's default (no `service_id`) or one service's policy
/// (`inherit` = back to the tenant's). User errors: `INVALID_INPUT` (value out of range:
/// cents ≥ 0 for `FIXED`, 0–10000 basis points for `PERCENT`). Errors: `NOT_FOUND`.
pub async fn set_deposit_policy(
    st: &GraphState,
    rc: &RequestCtx,
    service_id: Option<Uuid>,
    policy: Option<DepositPolicy>,
    value: i64,
) -> Result<Outcome<()>, ApiError> {
    let bad = match policy {
        Some(DepositPolicy::Fixed) => !(0..=100_000_000).contains(&value),
        Some(DepositPolicy::Percent) => !(0..=10_000).contains(&value),
        _ => false,
    };
    if bad {
        return Ok(Err(user_error(
            Some("value"),
            C::InvalidInput,
            "value must be 0–100000000 cents (FIXED) or 0–10000 basis points (PERCENT)",
        )));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    match service_id {
        None => {
            let p = policy.unwrap_or(DepositPolicy::None);
            tenant::Entity::update_many()
                .col_expr(tenant::Column::DepositPolicy, Expr::value(p.as_str()))
                .col_expr(tenant::Column::DepositValue, Expr::value(value))
                .filter(tenant::Column::Id.eq(rc.tenant_id))
                .exec(&*tx)
                .await?;
        }
        Some(sid) => {
            let res = service::Entity::update_many()
                .col_expr(
                    service::Column::DepositPolicy,
                    Expr::value(policy.map(|p| p.as_str().to_string())),
                )
                .col_expr(
                    service::Column::DepositValue,
                    Expr::value(policy.map(|_| value)),
                )
                .filter(service::Column::TenantId.eq(rc.tenant_id))
                .filter(service::Column::Id.eq(sid))
                .exec(&*tx)
                .await?;
            if res.rows_affected == 0 {
                return Err(ApiError::NotFound("service"));
            }
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tenant(policy: &str, value: i64) -> tenant::Model {
        tenant::Model {
            id: Uuid::nil(),
            name: "t".into(),
            slug: "t".into(),
            timezone: "UTC".into(),
            currency: "USD".into(),
            plan: "STARTER".into(),
            status: "ACTIVE".into(),
            slot_interval_minutes: 15,
            min_notice_minutes: 0,
            horizon_days: 365,
            cancellation_notice_hours: 0,
            assignment_policy: "LEAST_BUSY".into(),
            travel_detour_factor: 1.3,
            travel_speed_kmh: 40.0,
            deposit_policy: policy.into(),
            deposit_value: value,
            stripe_account_id: None,
            stripe_charges_enabled: false,
            stripe_payouts_enabled: false,
            stripe_details_submitted: false,
            stripe_account_event_at: 0,
            billing_customer_id: None,
            billing_subscription_id: None,
            trial_ends_at: None,
            billing_event_at: 0,
            created_at: now(),
        }
    }

    fn service(policy: Option<&str>, value: Option<i64>) -> service::Model {
        service::Model {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            name: "s".into(),
            description: None,
            duration_minutes: 60,
            price_cents: 10_000,
            active: true,
            display_order: 0,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            slot_interval_minutes: None,
            min_notice_minutes: None,
            deposit_policy: policy.map(str::to_string),
            deposit_value: value,
            created_at: now(),
        }
    }

    #[test]
    fn deposit_policy_math() {
        let t = tenant("PERCENT", 2_500);
        assert_eq!(deposit_amount(&t, &service(None, None), 10_000), 2_500);
        assert_eq!(deposit_amount(&t, &service(None, None), 9_999), 2_500);
        assert_eq!(
            deposit_amount(&t, &service(Some("FIXED"), Some(3_000)), 10_000),
            3_000
        );
        assert_eq!(
            deposit_amount(&t, &service(Some("FIXED"), Some(30_000)), 10_000),
            10_000
        );
        assert_eq!(deposit_amount(&t, &service(Some("NONE"), None), 10_000), 0);
        assert_eq!(
            deposit_amount(&tenant("NONE", 0), &service(None, None), 10_000),
            0
        );
    }
}
