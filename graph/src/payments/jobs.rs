//! Payments' jobs: the Stripe call of each job kind and how its answer is applied
//! (the [`JobHandler`]s), and the periodic sweep of unpaid deposits. The job queue
//! (`crate::jobs`) claims, retries and fences; these only call and apply. Applying is
//! idempotent, so a job delivered twice (after a crash between the call and the commit)
//! has one effect. Every payments handler applies under the tenant's write lock (money
//! and schedules change).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use entities::{BookingStatus, PaymentStatus, outbox_message, payment, refund};
use integrations::ProviderError;
use integrations::payments::{CheckoutRequest, OffSessionCharge, PaymentProvider, RefundRequest};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::jobs::{JobHandler, JobRegistry, PeriodicJob};
use crate::notifications::{DELIVERY_FAILED, PAYMENT_FAILED, notify};
use crate::payments::service::{
    DEPOSIT_WINDOW_MINUTES, KIND_BALANCE, KIND_CHECKOUT, KIND_REFUND, expire_deposits,
};
use crate::state::GraphState;
use crate::util::now;

/// Registers payments' job handlers and periodic jobs.
pub fn register(jobs: &mut JobRegistry<GraphState>) {
    jobs.register(Arc::new(CheckoutJob));
    jobs.register(Arc::new(BalanceJob));
    jobs.register(Arc::new(RefundJob));
    jobs.register_periodic(Arc::new(ExpireDeposits));
}

#[derive(Deserialize)]
struct CheckoutArgs {
    payment_id: Uuid,
    booking_id: Uuid,
    amount_cents: i64,
    currency: String,
    product_name: String,
    customer_email: Option<String>,
    success_url: String,
    cancel_url: String,
    application_fee_cents: i64,
}

#[derive(Deserialize)]
struct BalanceArgs {
    payment_id: Uuid,
    booking_id: Uuid,
    amount_cents: i64,
    currency: String,
    customer: String,
    payment_method: Option<String>,
    application_fee_cents: i64,
}

#[derive(Deserialize)]
struct RefundArgs {
    refund_id: Uuid,
    payment_id: Uuid,
    payment_intent: String,
    amount_cents: i64,
}

fn args<T: for<'de> Deserialize<'de>>(msg: &outbox_message::Model) -> Result<T, ProviderError> {
    serde_json::from_str(&msg.payload)
        .map_err(|_| ProviderError::InvalidInput(format!("malformed {} payload", msg.kind)))
}

async fn payment_row(st: &GraphState, tenant: Uuid, id: Uuid) -> Option<payment::Model> {
    let tx = st.db.read(tenant).await.ok()?;
    let p = scoped::<payment::Entity>(tenant)
        .filter(payment::Column::Id.eq(id))
        .one(&*tx)
        .await
        .ok()?;
    let _ = tx.commit().await;
    p
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The tenant's card provider for a job, or a refusal that dead-letters it (payments
/// are not configured any more).
async fn provider(
    st: &GraphState,
    job: &outbox_message::Model,
) -> Result<Arc<dyn PaymentProvider>, ProviderError> {
    let providers = st
        .registry
        .tenant(job.tenant_id)
        .await
        .map_err(ProviderError::Unavailable)?;
    providers
        .payments()
        .map_err(|c| ProviderError::InvalidInput(format!("{} not configured", c.as_str())))
}

/// Whether the payment is still waiting; a job whose payment moved on is skipped without
/// a call.
async fn still_pending(st: &GraphState, tenant: Uuid, payment_id: Uuid) -> bool {
    matches!(payment_row(st, tenant, payment_id).await, Some(p) if p.status == PaymentStatus::Pending)
}

fn skipped(result: &Value) -> bool {
    result.get("skipped").is_some()
}

/// The code stored on a payment failed by a dead-lettered job.
fn failure_code(err: &ProviderError) -> String {
    match err {
        ProviderError::Rejected { code } => code.clone(),
        ProviderError::Timeout => "timeout".into(),
        ProviderError::Unavailable(_) => "provider_unavailable".into(),
        ProviderError::InvalidInput(_) => "invalid_input".into(),
    }
}

/// The payment and booking a checkout or balance job is about (the rest of its payload
/// is ignored).
#[derive(Deserialize)]
struct PaymentRef {
    payment_id: Uuid,
    booking_id: Uuid,
}

/// The metadata every payments call carries, for reconciliation in Stripe.
fn payment_metadata(payment_id: Uuid, booking_id: Uuid, tenant_id: Uuid) -> Vec<(String, String)> {
    vec![
        ("payment_id".into(), payment_id.to_string()),
        ("booking_id".into(), booking_id.to_string()),
        ("tenant_id".into(), tenant_id.to_string()),
    ]
}

/// The `dead` step of a checkout or balance job: its payment failed (a payload that
/// cannot be read has nothing to fail).
async fn fail_job_payment(
    tx: &Tx,
    job: &outbox_message::Model,
    err: &ProviderError,
) -> Result<(), ApiError> {
    match args::<PaymentRef>(job) {
        Ok(p) => fail_payment(tx, p.payment_id, p.booking_id, err).await,
        Err(_) => Ok(()),
    }
}

/// Marks a card payment failed after its job was dead-lettered and notifies the operator
/// (the error text has no secrets: provider errors never carry keys).
async fn fail_payment(
    tx: &Tx,
    payment_id: Uuid,
    booking_id: Uuid,
    err: &ProviderError,
) -> Result<(), ApiError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Failed))
        .col_expr(
            payment::Column::FailureCode,
            Expr::value(Some(failure_code(err))),
        )
        .col_expr(
            payment::Column::FailureMessage,
            Expr::value(Some(err.to_string())),
        )
        .col_expr(
            payment::Column::CheckoutUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
        .filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .exec(&**tx)
        .await?;
    notify(
        tx,
        PAYMENT_FAILED,
        format!("A card payment could not be processed: {err}"),
        Some(booking_id),
        Some(payment_id),
    )
    .await
}

/// Creates the Checkout Session of a deposit or payment link
/// (`POST /v1/checkout/sessions` on the connected account); the answer stores the
/// session id, URL and expiry on the payment and extends the booking's deposit deadline
/// to the session's expiry.
pub struct CheckoutJob;

#[async_trait]
impl JobHandler<GraphState> for CheckoutJob {
    fn kind(&self) -> &'static str {
        KIND_CHECKOUT
    }

    fn locks_schedule(&self) -> bool {
        true
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let a: CheckoutArgs = args(job)?;
        if !still_pending(st, job.tenant_id, a.payment_id).await {
            return Ok(json!({"skipped": "payment no longer pending"}));
        }
        let expires_at = (now() + Duration::minutes(DEPOSIT_WINDOW_MINUTES)).timestamp();
        let req = CheckoutRequest {
            amount_cents: a.amount_cents,
            currency: a.currency,
            product_name: a.product_name,
            success_url: a.success_url,
            cancel_url: a.cancel_url,
            customer_email: a.customer_email,
            client_reference_id: Some(a.booking_id.to_string()),
            metadata: payment_metadata(a.payment_id, a.booking_id, job.tenant_id),
            application_fee_cents: Some(a.application_fee_cents).filter(|f| *f > 0),
            expires_at: Some(expires_at),
            save_card_for_off_session: true,
        };
        let s = provider(st, job)
            .await?
            .create_checkout_session(&req, &job.id.to_string())
            .await?;
        Ok(json!({
            "checkout_session_id": s.id,
            "url": s.url,
            "expires_at": s.expires_at.unwrap_or(expires_at),
        }))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        if skipped(result) {
            return Ok(());
        }
        let a: CheckoutArgs = args(job).map_err(ApiError::internal)?;
        let expires: Option<DateTime<Utc>> = result
            .get("expires_at")
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0));
        payment::Entity::update_many()
            .col_expr(
                payment::Column::CheckoutSessionId,
                Expr::value(text(result, "checkout_session_id")),
            )
            .col_expr(
                payment::Column::CheckoutUrl,
                Expr::value(text(result, "url")),
            )
            .col_expr(payment::Column::ExpiresAt, Expr::value(expires))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
            .filter(payment::Column::TenantId.eq(job.tenant_id))
            .filter(payment::Column::Id.eq(a.payment_id))
            .filter(payment::Column::Status.eq(PaymentStatus::Pending))
            .exec(&**tx)
            .await?;
        // The booking waits as long as the session can still be paid.
        if let Some(exp) = expires {
            entities::booking::Entity::update_many()
                .col_expr(
                    entities::booking::Column::DepositExpiresAt,
                    Expr::value(Some(exp)),
                )
                .filter(entities::booking::Column::TenantId.eq(job.tenant_id))
                .filter(entities::booking::Column::Id.eq(a.booking_id))
                .filter(entities::booking::Column::Status.eq(BookingStatus::Pending))
                .filter(entities::booking::Column::DepositExpiresAt.is_not_null())
                .exec(&**tx)
                .await?;
        }
        Ok(())
    }

    async fn dead(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        fail_job_payment(tx, job, err).await
    }
}

/// Charges the balance to the card saved with the deposit (`POST /v1/payment_intents`
/// with `off_session=true, confirm=true`); a decline fails the payment and notifies the
/// operator.
pub struct BalanceJob;

#[async_trait]
impl JobHandler<GraphState> for BalanceJob {
    fn kind(&self) -> &'static str {
        KIND_BALANCE
    }

    fn locks_schedule(&self) -> bool {
        true
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let a: BalanceArgs = args(job)?;
        if !still_pending(st, job.tenant_id, a.payment_id).await {
            return Ok(json!({"skipped": "payment no longer pending"}));
        }
        let req = OffSessionCharge {
            amount_cents: a.amount_cents,
            currency: a.currency,
            customer: a.customer,
            payment_method: a.payment_method,
            application_fee_cents: Some(a.application_fee_cents).filter(|f| *f > 0),
            description: Some("Balance".into()),
            metadata: payment_metadata(a.payment_id, a.booking_id, job.tenant_id),
        };
        let pi = provider(st, job)
            .await?
            .charge_off_session(&req, &job.id.to_string())
            .await?;
        Ok(json!({
            "payment_intent_id": pi.id,
            "status": pi.status,
            "failure_code": pi.failure_code,
            "failure_message": pi.failure_message,
        }))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        if skipped(result) {
            return Ok(());
        }
        let a: BalanceArgs = args(job).map_err(ApiError::internal)?;
        let pi_status = text(result, "status").unwrap_or_default();
        let new_status = match pi_status.as_str() {
            "succeeded" => PaymentStatus::Succeeded,
            "processing" => PaymentStatus::Pending,
            _ => PaymentStatus::Failed,
        };
        let res = payment::Entity::update_many()
            .col_expr(
                payment::Column::PaymentIntentId,
                Expr::value(text(result, "payment_intent_id")),
            )
            .col_expr(payment::Column::Status, Expr::value(new_status))
            .col_expr(
                payment::Column::FailureCode,
                Expr::value(text(result, "failure_code")),
            )
            .col_expr(
                payment::Column::FailureMessage,
                Expr::value(text(result, "failure_message")),
            )
            .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
            .filter(payment::Column::TenantId.eq(job.tenant_id))
            .filter(payment::Column::Id.eq(a.payment_id))
            .filter(payment::Column::Status.is_in([PaymentStatus::Pending, PaymentStatus::Failed]))
            .exec(&**tx)
            .await?;
        if new_status == PaymentStatus::Failed && res.rows_affected > 0 {
            notify(
                tx,
                PAYMENT_FAILED,
                format!(
                    "Charging the balance of {} cents to the saved card failed ({}).",
                    a.amount_cents,
                    text(result, "failure_code").unwrap_or_else(|| pi_status.clone())
                ),
                Some(a.booking_id),
                Some(a.payment_id),
            )
            .await?;
        }
        Ok(())
    }

    async fn dead(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        fail_job_payment(tx, job, err).await
    }
}

/// Refunds (part of) a card payment (`POST /v1/refunds`); the answer settles the refund
/// row and the payment's `refunded_cents`.
pub struct RefundJob;

#[async_trait]
impl JobHandler<GraphState> for RefundJob {
    fn kind(&self) -> &'static str {
        KIND_REFUND
    }

    fn locks_schedule(&self) -> bool {
        true
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let a: RefundArgs = args(job)?;
        let req = RefundRequest {
            payment_intent: a.payment_intent,
            amount_cents: Some(a.amount_cents),
            metadata: vec![
                ("refund_id".into(), a.refund_id.to_string()),
                ("payment_id".into(), a.payment_id.to_string()),
            ],
        };
        let r = provider(st, job)
            .await?
            .refund(&req, &job.id.to_string())
            .await?;
        Ok(json!({"refund_id": r.id, "status": r.status}))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        let a: RefundArgs = args(job).map_err(ApiError::internal)?;
        let new_status = match text(result, "status").unwrap_or_default().as_str() {
            "succeeded" => PaymentStatus::Succeeded,
            "failed" | "canceled" => PaymentStatus::Failed,
            _ => PaymentStatus::Pending,
        };
        refund::Entity::update_many()
            .col_expr(
                refund::Column::ProviderRefundId,
                Expr::value(text(result, "refund_id")),
            )
            .col_expr(refund::Column::Status, Expr::value(new_status))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now()))
            .filter(refund::Column::TenantId.eq(job.tenant_id))
            .filter(refund::Column::Id.eq(a.refund_id))
            .filter(refund::Column::Status.eq(PaymentStatus::Pending))
            .exec(&**tx)
            .await?;
        sync_refunded(tx, a.payment_id, 0).await
    }

    async fn dead(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        let Ok(a) = args::<RefundArgs>(job) else {
            return Ok(());
        };
        refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value(PaymentStatus::Failed))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now()))
            .filter(refund::Column::TenantId.eq(job.tenant_id))
            .filter(refund::Column::Id.eq(a.refund_id))
            .filter(refund::Column::Status.eq(PaymentStatus::Pending))
            .exec(&**tx)
            .await?;
        notify(
            tx,
            DELIVERY_FAILED,
            format!(
                "A refund of {} cents could not be sent: {err}",
                a.amount_cents
            ),
            None,
            Some(a.payment_id),
        )
        .await
    }
}

/// Periodic: releases bookings whose deposit deadline passed unpaid (every 5 s; the
/// deadline is 31 minutes, so a release is at most seconds late).
pub struct ExpireDeposits;

/// How many lapsed deposits one run releases at most (the next run takes the rest).
const SWEEP_LIMIT: u64 = 200;

#[async_trait]
impl PeriodicJob<GraphState> for ExpireDeposits {
    fn name(&self) -> &'static str {
        "payments.expire_deposits"
    }

    fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    async fn run(&self, st: &GraphState, _scheduled_for: DateTime<Utc>) -> Result<usize, ApiError> {
        expire_deposits(st, SWEEP_LIMIT).await
    }
}

/// Raises a payment's `refunded_cents` to the larger of its succeeded refunds and
/// `provider_total` (Stripe's cumulative `amount_refunded`), never above the amount and
/// never down — so the refund answer and `charge.refunded` may arrive in either order.
pub async fn sync_refunded(tx: &Tx, payment_id: Uuid, provider_total: i64) -> Result<(), ApiError> {
    let Some(p) = scoped::<payment::Entity>(tx.tenant_id())
        .filter(payment::Column::Id.eq(payment_id))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    let ours: i64 = scoped::<refund::Entity>(tx.tenant_id())
        .filter(refund::Column::PaymentId.eq(payment_id))
        .filter(refund::Column::Status.eq(PaymentStatus::Succeeded))
        .all(&**tx)
        .await?
        .iter()
        .map(|r| r.amount_cents)
        .sum();
    let total = ours.max(provider_total).min(p.amount_cents);
    if total > p.refunded_cents {
        payment::Entity::update_many()
            .col_expr(payment::Column::RefundedCents, Expr::value(total))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
            .filter(payment::Column::TenantId.eq(tx.tenant_id()))
            .filter(payment::Column::Id.eq(payment_id))
            .filter(payment::Column::RefundedCents.lt(total))
            .exec(&**tx)
            .await?;
    }
    Ok(())
}
