//! Outbox handlers for payments: the provider call of each message kind and how its
//! answer is applied. The outbox (`crate::outbox`) claims, retries and fences; these
//! functions only call and apply. Applying is idempotent, so a message delivered twice
//! (after a crash between the call and the commit) has one effect.

use chrono::{DateTime, Duration, Utc};
use entities::{outbox_message, payment, refund};
use integrations::ProviderError;
use integrations::payments::{CheckoutRequest, OffSessionCharge, RefundRequest};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::payments::service::{
    DEPOSIT_WINDOW_MINUTES, KIND_BALANCE, KIND_CHECKOUT, KIND_REFUND, notify, status,
};
use crate::state::GraphState;
use crate::util::now;

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

/// Makes the provider call of `msg`, with `msg.id` as the idempotency key. Returns a
/// JSON summary of the answer for [`apply_success`]; a message whose business object
/// moved on (booking canceled, payment settled) returns `{"skipped": …}` without a call.
pub async fn call(st: &GraphState, msg: &outbox_message::Model) -> Result<Value, ProviderError> {
    let providers = st
        .registry
        .tenant(msg.tenant_id)
        .await
        .map_err(ProviderError::Unavailable)?;
    let pay = || {
        providers
            .payments()
            .map_err(|c| ProviderError::InvalidInput(format!("{} not configured", c.as_str())))
    };
    let key = msg.id.to_string();
    match msg.kind.as_str() {
        KIND_CHECKOUT => {
            let a: CheckoutArgs = args(msg)?;
            match payment_row(st, msg.tenant_id, a.payment_id).await {
                Some(p) if p.status == status::PENDING => {}
                _ => return Ok(json!({"skipped": "payment no longer pending"})),
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
                metadata: vec![
                    ("payment_id".into(), a.payment_id.to_string()),
                    ("booking_id".into(), a.booking_id.to_string()),
                    ("tenant_id".into(), msg.tenant_id.to_string()),
                ],
                application_fee_cents: Some(a.application_fee_cents).filter(|f| *f > 0),
                expires_at: Some(expires_at),
                save_card_for_off_session: true,
            };
            let s = pay()?.create_checkout_session(&req, &key).await?;
            Ok(json!({
                "checkout_session_id": s.id,
                "url": s.url,
                "expires_at": s.expires_at.unwrap_or(expires_at),
            }))
        }
        KIND_BALANCE => {
            let a: BalanceArgs = args(msg)?;
            match payment_row(st, msg.tenant_id, a.payment_id).await {
                Some(p) if p.status == status::PENDING => {}
                _ => return Ok(json!({"skipped": "payment no longer pending"})),
            }
            let req = OffSessionCharge {
                amount_cents: a.amount_cents,
                currency: a.currency,
                customer: a.customer,
                payment_method: a.payment_method,
                application_fee_cents: Some(a.application_fee_cents).filter(|f| *f > 0),
                description: Some("Balance".into()),
                metadata: vec![
                    ("payment_id".into(), a.payment_id.to_string()),
                    ("booking_id".into(), a.booking_id.to_string()),
                    ("tenant_id".into(), msg.tenant_id.to_string()),
                ],
            };
            let pi = pay()?.charge_off_session(&req, &key).await?;
            Ok(json!({
                "payment_intent_id": pi.id,
                "status": pi.status,
                "failure_code": pi.failure_code,
                "failure_message": pi.failure_message,
            }))
        }
        KIND_REFUND => {
            let a: RefundArgs = args(msg)?;
            let req = RefundRequest {
                payment_intent: a.payment_intent,
                amount_cents: Some(a.amount_cents),
                metadata: vec![
                    ("refund_id".into(), a.refund_id.to_string()),
                    ("payment_id".into(), a.payment_id.to_string()),
                ],
            };
            let r = pay()?.refund(&req, &key).await?;
            Ok(json!({"refund_id": r.id, "status": r.status}))
        }
        other => Err(ProviderError::InvalidInput(format!(
            "unknown outbox kind {other}"
        ))),
    }
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Applies a successful call's summary in `tx` (which also marks the message delivered).
pub async fn apply_success(
    _st: &GraphState,
    tx: &Tx,
    msg: &outbox_message::Model,
    result: &Value,
) -> Result<(), ApiError> {
    if result.get("skipped").is_some() {
        return Ok(());
    }
    let at = now();
    match msg.kind.as_str() {
        KIND_CHECKOUT => {
            let a: CheckoutArgs = args(msg).map_err(ApiError::internal)?;
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
                .col_expr(payment::Column::UpdatedAt, Expr::value(at))
                .filter(payment::Column::TenantId.eq(msg.tenant_id))
                .filter(payment::Column::Id.eq(a.payment_id))
                .filter(payment::Column::Status.eq(status::PENDING))
                .exec(&**tx)
                .await?;
            // The booking waits as long as the session can still be paid.
            if let Some(exp) = expires {
                entities::booking::Entity::update_many()
                    .col_expr(
                        entities::booking::Column::DepositExpiresAt,
                        Expr::value(Some(exp)),
                    )
                    .filter(entities::booking::Column::TenantId.eq(msg.tenant_id))
                    .filter(entities::booking::Column::Id.eq(a.booking_id))
                    .filter(entities::booking::Column::Status.eq("PENDING"))
                    .filter(entities::booking::Column::DepositExpiresAt.is_not_null())
                    .exec(&**tx)
                    .await?;
            }
        }
        KIND_BALANCE => {
            let a: BalanceArgs = args(msg).map_err(ApiError::internal)?;
            let pi_status = text(result, "status").unwrap_or_default();
            let new_status = match pi_status.as_str() {
                "succeeded" => status::SUCCEEDED,
                "processing" => status::PENDING,
                _ => status::FAILED,
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
                .col_expr(payment::Column::UpdatedAt, Expr::value(at))
                .filter(payment::Column::TenantId.eq(msg.tenant_id))
                .filter(payment::Column::Id.eq(a.payment_id))
                .filter(payment::Column::Status.is_in([status::PENDING, status::FAILED]))
                .exec(&**tx)
                .await?;
            if new_status == status::FAILED && res.rows_affected > 0 {
                notify(
                    tx,
                    "PAYMENT_FAILED",
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
        }
        KIND_REFUND => {
            let a: RefundArgs = args(msg).map_err(ApiError::internal)?;
            let st_text = text(result, "status").unwrap_or_default();
            let new_status = match st_text.as_str() {
                "succeeded" => status::SUCCEEDED,
                "failed" | "canceled" => status::FAILED,
                _ => status::PENDING,
            };
            refund::Entity::update_many()
                .col_expr(
                    refund::Column::ProviderRefundId,
                    Expr::value(text(result, "refund_id")),
                )
                .col_expr(refund::Column::Status, Expr::value(new_status))
                .col_expr(refund::Column::UpdatedAt, Expr::value(at))
                .filter(refund::Column::TenantId.eq(msg.tenant_id))
                .filter(refund::Column::Id.eq(a.refund_id))
                .filter(refund::Column::Status.eq(status::PENDING))
                .exec(&**tx)
                .await?;
            sync_refunded(tx, a.payment_id, 0).await?;
        }
        _ => {}
    }
    Ok(())
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
        .filter(refund::Column::Status.eq(status::SUCCEEDED))
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

/// Applies a dead-lettered message in `tx`: its payment or refund is marked failed and
/// the operator notified (the error text has no secrets: provider errors never carry
/// keys).
pub async fn apply_failure(
    _st: &GraphState,
    tx: &Tx,
    msg: &outbox_message::Model,
    err: &ProviderError,
) -> Result<(), ApiError> {
    let at = now();
    let (payment_id, booking_id) = match msg.kind.as_str() {
        KIND_CHECKOUT => {
            let a: Option<CheckoutArgs> = args(msg).ok();
            (a.as_ref().map(|a| a.payment_id), a.map(|a| a.booking_id))
        }
        KIND_BALANCE => {
            let a: Option<BalanceArgs> = args(msg).ok();
            (a.as_ref().map(|a| a.payment_id), a.map(|a| a.booking_id))
        }
        KIND_REFUND => {
            if let Ok(a) = args::<RefundArgs>(msg) {
                refund::Entity::update_many()
                    .col_expr(refund::Column::Status, Expr::value(status::FAILED))
                    .col_expr(refund::Column::UpdatedAt, Expr::value(at))
                    .filter(refund::Column::TenantId.eq(msg.tenant_id))
                    .filter(refund::Column::Id.eq(a.refund_id))
                    .filter(refund::Column::Status.eq(status::PENDING))
                    .exec(&**tx)
                    .await?;
                notify(
                    tx,
                    "DELIVERY_FAILED",
                    format!(
                        "A refund of {} cents could not be sent: {err}",
                        a.amount_cents
                    ),
                    None,
                    Some(a.payment_id),
                )
                .await?;
            }
            return Ok(());
        }
        _ => (None, None),
    };
    if let Some(pid) = payment_id {
        let code = match err {
            ProviderError::Rejected { code } => code.clone(),
            ProviderError::Timeout => "timeout".into(),
            ProviderError::Unavailable(_) => "provider_unavailable".into(),
            ProviderError::InvalidInput(_) => "invalid_input".into(),
        };
        payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value(status::FAILED))
            .col_expr(payment::Column::FailureCode, Expr::value(Some(code)))
            .col_expr(
                payment::Column::FailureMessage,
                Expr::value(Some(err.to_string())),
            )
            .col_expr(
                payment::Column::CheckoutUrl,
                Expr::value(Option::<String>::None),
            )
            .col_expr(payment::Column::UpdatedAt, Expr::value(at))
            .filter(payment::Column::TenantId.eq(msg.tenant_id))
            .filter(payment::Column::Id.eq(pid))
            .filter(payment::Column::Status.eq(status::PENDING))
            .exec(&**tx)
            .await?;
        notify(
            tx,
            "PAYMENT_FAILED",
            format!("A card payment could not be processed: {err}"),
            booking_id,
            Some(pid),
        )
        .await?;
    }
    Ok(())
}
