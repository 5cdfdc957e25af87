//! Payment rules: deposit policy, deposit Checkout, balance charge on completion,
//! manual payments, refunds, expiry of unpaid deposits.
//!
//! Money is integer cents of the booking's currency; balances come from the ledger
//! ([`crate::ledger::Totals`]). Provider calls are jobs ([`super::jobs`]) enqueued in the
//! transaction of the change that needs them.

use chrono::Duration;
use entities::{
    BookingStatus, PaymentKind, PaymentMethod, PaymentStatus, booking, customer, payment, refund,
    service, tenant,
};
use sea_orm::prelude::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::{BookingEventKind, Envelope};
use crate::jobs::{self, Job};
use crate::ledger::{Totals, payments_of};
use crate::lifecycle::{self, AfterCommit};
use crate::notifications::{PAYMENT_FAILED, notify};
use crate::platform::Plan;
use crate::state::GraphState;
use crate::util::{new_id, now};

/// How long a customer has to pay a deposit, in minutes. Stripe requires a Checkout
/// Session's `expires_at` to be 30 minutes to 24 hours ahead
/// (<https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at>);
/// one minute of margin covers the delay between writing and sending.
pub const DEPOSIT_WINDOW_MINUTES: i64 = 31;

/// Job kind: create a Checkout Session (deposit or payment link), delivered by
/// [`super::jobs::CheckoutJob`]. Kind strings are stored with queued jobs: never rename
/// them.
pub const KIND_CHECKOUT: &str = "stripe.checkout_session";
/// Job kind: charge the balance off-session ([`super::jobs::BalanceJob`]).
pub const KIND_BALANCE: &str = "stripe.balance_charge";
/// Job kind: refund ([`super::jobs::RefundJob`]).
pub const KIND_REFUND: &str = "stripe.refund";

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

/// Whether the tenant can take card payments now: Stripe configured, account connected
/// and `charges_enabled`. `t` is the tenant row read in `tx`, through which the tenant's
/// providers are loaded when not cached.
pub async fn card_payments_ready(st: &GraphState, tx: &Tx, t: &tenant::Model) -> bool {
    t.stripe_charges_enabled
        && crate::tenant_plugins::service::providers_in(st, tx)
            .await
            .is_ok_and(|p| p.payments.is_some())
}

#[allow(clippy::too_many_arguments)]
async fn insert_payment(
    tx: &Tx,
    b: &booking::Model,
    kind: PaymentKind,
    method: PaymentMethod,
    status: PaymentStatus,
    provider: &str,
    amount_cents: i64,
    fee_cents: i64,
) -> Result<payment::Model, ApiError> {
    let at = now();
    Ok(payment::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        booking_id: Set(b.id),
        kind: Set(kind),
        method: Set(method),
        status: Set(status),
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

/// Opens a card payment of `kind` (`DEPOSIT` or `LINK`) paid through a Checkout Session,
/// in `tx`: the `PENDING` payment, and the job that creates its Checkout Session (inline:
/// the request delivers it after committing, to show the URL). A deposit on a `PENDING`
/// booking also sets the booking's deposit deadline (and `b` to match).
pub async fn open_checkout(
    st: &GraphState,
    tx: &Tx,
    t: &tenant::Model,
    b: &mut booking::Model,
    amount_cents: i64,
    kind: PaymentKind,
) -> Result<(payment::Model, Job), ApiError> {
    let fee = st
        .platform
        .application_fee(Plan::parse(&t.plan), amount_cents);
    let p = insert_payment(
        tx,
        b,
        kind,
        PaymentMethod::Card,
        PaymentStatus::Pending,
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
            if kind == PaymentKind::Deposit { "Deposit" } else { "Payment" },
            svc.map(|s| s.name).unwrap_or_else(|| "booking".into())
        ),
        "customer_email": cust.and_then(|c| c.email),
        "success_url": format!("{base}/book/{}/paid?booking={}", t.slug, b.id),
        "cancel_url": format!("{base}/book/{}/canceled?booking={}", t.slug, b.id),
        "application_fee_cents": fee,
    });
    if kind == PaymentKind::Deposit && b.status == BookingStatus::Pending {
        let deadline = now() + Duration::minutes(DEPOSIT_WINDOW_MINUTES);
        booking::Entity::update_many()
            .col_expr(
                booking::Column::DepositExpiresAt,
                Expr::value(Some(deadline)),
            )
            .filter(booking::Column::TenantId.eq(t.id))
            .filter(booking::Column::Id.eq(b.id))
            .exec(&**tx)
            .await?;
        b.deposit_expires_at = Some(deadline);
    }
    Ok((p, Job::new(KIND_CHECKOUT, payload).inline()))
}

/// Opens a Checkout payment outside the booking lifecycle (a deposit asked for later, a
/// payment link), commits, delivers the Checkout job inline and returns the payment as
/// it then stands. A provider failure is not an error here: the job stays queued and
/// the payment has no URL yet.
async fn checkout_now(
    st: &GraphState,
    tx: Tx,
    t: &tenant::Model,
    mut b: booking::Model,
    amount_cents: i64,
    kind: PaymentKind,
) -> Result<payment::Model, ApiError> {
    let (p, job) = open_checkout(st, &tx, t, &mut b, amount_cents, kind).await?;
    let claim = jobs::enqueue_claimed(st, &tx, job).await?;
    tx.commit().await?;
    jobs::deliver_inline(st, &[claim]).await;
    let tx = st.db.read(t.id).await?;
    let p = scoped::<payment::Entity>(t.id)
        .filter(payment::Column::Id.eq(p.id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    tx.commit().await?;
    Ok(p)
}

fn user_error(field: Option<&str>, code: C, msg: &str) -> Vec<UserError> {
    vec![UserError::new(field, code, msg)]
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
    let t = tx.tenant().await?;
    if !card_payments_ready(st, &tx, &t).await {
        return Err(ApiError::FeatureUnavailable("payments".into()));
    }
    let b = booking_for_payment(&tx, rc, booking_id).await?;
    if !matches!(b.status, BookingStatus::Pending | BookingStatus::Confirmed) {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "only pending or confirmed bookings take a deposit",
        )));
    }
    let existing = payments_of(&tx, b.id).await?;
    if let Some(open) = existing
        .iter()
        .find(|p| p.kind == PaymentKind::Deposit && p.status == PaymentStatus::Pending)
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
    Ok(Ok(checkout_now(
        st,
        tx,
        &t,
        b,
        amount,
        PaymentKind::Deposit,
    )
    .await?))
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
    let t = tx.tenant().await?;
    if !card_payments_ready(st, &tx, &t).await {
        return Err(ApiError::FeatureUnavailable("payments".into()));
    }
    let b = booking_for_payment(&tx, rc, booking_id).await?;
    if b.status == BookingStatus::Canceled {
        return Ok(Err(user_error(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "the booking is canceled",
        )));
    }
    let pays = payments_of(&tx, b.id).await?;
    if let Some(open) = pays.iter().find(|p| {
        p.status == PaymentStatus::Pending
            && p.checkout_session_id.is_some()
            && p.kind == PaymentKind::Link
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
    Ok(Ok(
        checkout_now(st, tx, &t, b, amount, PaymentKind::Link).await?
    ))
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
    fn method(self) -> PaymentMethod {
        match self {
            ManualMethod::Cash => PaymentMethod::Cash,
            ManualMethod::Check => PaymentMethod::Check,
            ManualMethod::Other => PaymentMethod::Other,
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
    if b.status == BookingStatus::Canceled {
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
        PaymentKind::Manual,
        method.method(),
        PaymentStatus::Succeeded,
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
    if p.status != PaymentStatus::Succeeded {
        return Ok(Err(user_error(
            Some("paymentId"),
            C::InvalidStatusTransition,
            "only succeeded payments can be refunded",
        )));
    }
    let pending: i64 = scoped::<refund::Entity>(rc.tenant_id)
        .filter(refund::Column::PaymentId.eq(p.id))
        .filter(refund::Column::Status.eq(PaymentStatus::Pending))
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
            PaymentStatus::Succeeded
        } else {
            PaymentStatus::Pending
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
        jobs::enqueue(
            &tx,
            Job::new(
                KIND_REFUND,
                json!({"refund_id": r.id, "payment_id": p.id, "payment_intent": pi, "amount_cents": amount}),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    jobs::wake(st);
    Ok(Ok(r))
}

/// Inserts a refund of `amount_cents` of payment `payment_id` in `tx` with `status`
/// (`PENDING` when the provider still has to be called — the caller enqueues that).
pub async fn refund_row(
    tx: &Tx,
    payment_id: Uuid,
    amount_cents: i64,
    status: PaymentStatus,
    reason: Option<String>,
) -> Result<refund::Model, ApiError> {
    let at = now();
    Ok(refund::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        payment_id: Set(payment_id),
        amount_cents: Set(amount_cents),
        status: Set(status),
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
/// and returns the job that charges it off-session (the caller enqueues it in the same
/// transaction). Without card payments set up, notifies the operator instead.
pub async fn charge_balance_on_completion(
    st: &GraphState,
    tx: &Tx,
    b: &booking::Model,
) -> Result<Option<Job>, ApiError> {
    let pays = payments_of(tx, b.id).await?;
    if pays
        .iter()
        .any(|p| p.kind == PaymentKind::Balance && p.status == PaymentStatus::Pending)
    {
        return Ok(None);
    }
    let Some(card) = pays.iter().rev().find(|p| {
        p.status == PaymentStatus::Succeeded
            && p.provider == "stripe"
            && p.provider_customer_id.is_some()
            && p.payment_method_id.is_some()
    }) else {
        return Ok(None);
    };
    let due = Totals::of(&pays).balance(b.price_cents);
    if due <= 0 {
        return Ok(None);
    }
    let t = tx.tenant().await?;
    if !card_payments_ready(st, tx, &t).await {
        notify(
            tx,
            PAYMENT_FAILED,
            format!(
                "The balance of {due} cents could not be charged: card payments are not set up."
            ),
            Some(b.id),
            None,
        )
        .await?;
        return Ok(None);
    }
    let fee = st.platform.application_fee(Plan::parse(&t.plan), due);
    let p = insert_payment(
        tx,
        b,
        PaymentKind::Balance,
        PaymentMethod::Card,
        PaymentStatus::Pending,
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
    Ok(Some(Job::new(
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
    )))
}

/// The `cancellationReason` of a booking released because its deposit was not paid.
pub const DEPOSIT_UNPAID: &str = "deposit not paid";

/// Releases booking `booking_id` if it is still `PENDING` for an unpaid deposit: marks
/// its open deposits `status_to` (`EXPIRED`), clears the deadline and cancels the
/// booking through the lifecycle (so every hook hears of it) with the reason
/// [`DEPOSIT_UNPAID`]. Returns the canceled booking and what to run after the commit;
/// `None` when there is nothing to release (paid meanwhile, already canceled, no
/// deposit awaited).
pub async fn release_unpaid(
    st: &GraphState,
    tx: &Tx,
    booking_id: Uuid,
    status_to: PaymentStatus,
) -> Result<Option<(booking::Model, AfterCommit)>, ApiError> {
    let Some(mut b) = scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::Id.eq(booking_id))
        .one(&**tx)
        .await?
    else {
        return Ok(None);
    };
    if b.status != BookingStatus::Pending || b.deposit_expires_at.is_none() {
        return Ok(None);
    }
    let pays = payments_of(tx, booking_id).await?;
    if pays
        .iter()
        .any(|p| p.kind == PaymentKind::Deposit && p.status == PaymentStatus::Succeeded)
    {
        return Ok(None);
    }
    close_open_deposits(tx, booking_id, status_to).await?;
    clear_deadline(tx, booking_id).await?;
    b.deposit_expires_at = None;
    lifecycle::transition(
        st,
        tx,
        b,
        BookingStatus::Canceled,
        Some(DEPOSIT_UNPAID.to_string()),
    )
    .await
}

/// Clears a booking's deposit deadline (paid, or released).
pub async fn clear_deadline(tx: &Tx, booking_id: Uuid) -> Result<(), ApiError> {
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
    Ok(())
}

/// Marks the booking's open deposit payments `CANCELED` (the booking was canceled
/// before the customer paid); a payment arriving later is refunded by the webhook.
pub async fn abandon_open_deposits(tx: &Tx, booking_id: Uuid) -> Result<(), ApiError> {
    clear_deadline(tx, booking_id).await?;
    close_open_deposits(tx, booking_id, PaymentStatus::Canceled).await
}

/// Moves the booking's `PENDING` deposits to `status_to` and drops their Checkout URL.
async fn close_open_deposits(
    tx: &Tx,
    booking_id: Uuid,
    status_to: PaymentStatus,
) -> Result<(), ApiError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status_to))
        .col_expr(
            payment::Column::CheckoutUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
        .filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::BookingId.eq(booking_id))
        .filter(payment::Column::Kind.eq(PaymentKind::Deposit))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Cancels bookings whose deposit deadline passed unpaid (across tenants, up to
/// `limit`), freeing their slots. Run by the periodic job `payments.expire_deposits`.
pub async fn expire_deposits(st: &GraphState, limit: u64) -> Result<usize, ApiError> {
    let due = st.db.expired_deposits(now(), limit).await?;
    let mut n = 0;
    for (tenant_id, id) in due {
        let tx = st.db.write(tenant_id).await?;
        st.db.lock_schedule(&tx).await?;
        let released = release_unpaid(st, &tx, id, PaymentStatus::Expired).await?;
        tx.commit().await?;
        if let Some((b, after)) = released {
            n += 1;
            after.run(st).await;
            st.events
                .publish(Envelope::booking(&b, BookingEventKind::Canceled))
                .await;
        }
    }
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
            status: entities::TenantStatus::Active,
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
