//! The outbox: provider calls that change something, delivered at least once and
//! applied exactly once.
//!
//! A service that needs a provider call (create a Checkout Session, charge a saved card,
//! refund) writes an `outbox_messages` row in the same transaction as the business
//! change ([`enqueue`]), so the two commit or roll back together. Delivery:
//!
//! 1. **Claim** — `UPDATE … SET attempts = attempts + 1, next_attempt_at = now + lease
//!    WHERE status = 'PENDING' AND next_attempt_at <= now`. One worker wins; if it dies,
//!    the lease lapses and the message is due again.
//! 2. **Call** the provider with the message id as its idempotency key (Stripe
//!    `Idempotency-Key`), so a repeat after a crash is the same request to Stripe.
//! 3. **Apply** the result and mark the message `DELIVERED` in one transaction, fenced by
//!    the attempt number: a worker whose lease was taken over writes nothing.
//!
//! A retryable failure (timeout, 5xx, 429) schedules the next attempt with exponential
//! backoff and jitter ("equal jitter": half the capped exponential delay plus a random
//! part up to the other half — AWS Architecture Blog, "Exponential Backoff and Jitter");
//! after `max_attempts`, or on a refusal that retrying cannot fix, the message is
//! dead-lettered (`DEAD`), its business effect marked failed, and the operator notified.
//!
//! A request that needs the answer at once (a checkout URL) enqueues the message
//! already claimed ([`enqueue_claimed`]) and delivers it itself ([`deliver_claimed`]);
//! if it cannot, the worker takes over when the lease lapses.
//!
//! Why not apalis: the message must commit inside our tenant-scoped SeaORM transaction
//! (row-level security, `app.tenant_id`), which apalis' storages cannot join; the queue
//! itself is this one table and ~200 lines.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::outbox_message;
use rand::Rng;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::payments::config::OutboxConfig;
use crate::payments::delivery;
use crate::state::GraphState;
use crate::util::{new_id, now};

/// `PENDING`: due at `next_attempt_at`.
pub const PENDING: &str = "PENDING";
/// `DELIVERED`: the provider accepted it and the result was applied.
pub const DELIVERED: &str = "DELIVERED";
/// `DEAD`: given up; the operator was notified.
pub const DEAD: &str = "DEAD";

/// A message this process has claimed: deliver it with [`deliver_claimed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Tenant of the message.
    pub tenant_id: Uuid,
    /// Message id (the idempotency key).
    pub id: Uuid,
    /// The attempt number the claim holds (fences late writers).
    pub attempt: i32,
}

/// What a delivery attempt ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered and applied.
    Delivered,
    /// Failed; due again at the given time.
    Retrying(DateTime<Utc>),
    /// Dead-lettered.
    Dead,
    /// Not claimed: not due, already delivered, or another worker holds it.
    NotClaimed,
}

async fn insert(
    tx: &Tx,
    kind: &str,
    payload: Value,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    let at = now();
    let id = new_id();
    outbox_message::ActiveModel {
        id: Set(id),
        tenant_id: Set(tx.tenant_id()),
        kind: Set(kind.into()),
        payload: Set(payload.to_string()),
        status: Set(PENDING.into()),
        attempts: Set(attempts),
        next_attempt_at: Set(next_attempt_at),
        last_error: Set(None),
        result: Set(None),
        delivered_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&**tx)
    .await?;
    Ok(id)
}

/// Writes a message in the caller's transaction, due now. Call
/// `GraphState::outbox_wake.notify_one()` after committing to skip the poll delay.
pub async fn enqueue(tx: &Tx, kind: &str, payload: Value) -> Result<Uuid, ApiError> {
    insert(tx, kind, payload, 0, now()).await
}

/// Writes a message already claimed by this process (attempt 1, leased), for a request
/// that delivers it itself right after committing.
pub async fn enqueue_claimed(
    st: &GraphState,
    tx: &Tx,
    kind: &str,
    payload: Value,
) -> Result<Claim, ApiError> {
    let lease = chrono::Duration::from_std(st.outbox.lease).unwrap_or(chrono::Duration::MAX);
    let id = insert(tx, kind, payload, 1, now() + lease).await?;
    Ok(Claim {
        tenant_id: tx.tenant_id(),
        id,
        attempt: 1,
    })
}

/// The delay before attempt `attempt + 1` after `attempt` failed: the capped exponential
/// `min(max, base · 2^(attempt−1))`, half of it fixed and half random.
pub fn backoff(cfg: &OutboxConfig, attempt: i32) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let capped = cfg
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(cfg.backoff_max);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().min(u64::MAX as u128) as u64);
    half + Duration::from_millis(jitter)
}

/// Claims message `id` of `tenant_id` if it is due. `None` when not claimable.
pub async fn claim(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Option<Claim>, ApiError> {
    let at = now();
    let lease = chrono::Duration::from_std(st.outbox.lease).unwrap_or(chrono::Duration::MAX);
    let tx = st.db.write(tenant_id).await?;
    let res = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Attempts,
            Expr::col(outbox_message::Column::Attempts).add(1),
        )
        .col_expr(
            outbox_message::Column::NextAttemptAt,
            Expr::value(at + lease),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(at))
        .filter(outbox_message::Column::TenantId.eq(tenant_id))
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(PENDING))
        .filter(outbox_message::Column::NextAttemptAt.lte(at))
        .exec(&*tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let msg = scoped::<outbox_message::Entity>(tenant_id)
        .filter(outbox_message::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("outbox message"))?;
    tx.commit().await?;
    Ok(Some(Claim {
        tenant_id,
        id,
        attempt: msg.attempts,
    }))
}

/// Claims and delivers message `id` if it is due.
pub async fn deliver(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Delivery, ApiError> {
    match claim(st, tenant_id, id).await? {
        Some(c) => deliver_claimed(st, c).await,
        None => Ok(Delivery::NotClaimed),
    }
}

/// Marks the claimed message (still at `claim.attempt`) with `status`, in `tx`. `false`
/// when the claim was lost (someone else took the message over).
async fn finish(
    tx: &Tx,
    c: Claim,
    status: &str,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    result: Option<String>,
) -> Result<bool, ApiError> {
    let at = now();
    let mut q = outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Status, Expr::value(status))
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(at))
        .col_expr(outbox_message::Column::LastError, Expr::value(last_error));
    if let Some(n) = next_attempt_at {
        q = q.col_expr(outbox_message::Column::NextAttemptAt, Expr::value(n));
    }
    if status == DELIVERED {
        q = q
            .col_expr(outbox_message::Column::DeliveredAt, Expr::value(Some(at)))
            .col_expr(outbox_message::Column::Result, Expr::value(result));
    }
    let res = q
        .filter(outbox_message::Column::TenantId.eq(c.tenant_id))
        .filter(outbox_message::Column::Id.eq(c.id))
        .filter(outbox_message::Column::Status.eq(PENDING))
        .filter(outbox_message::Column::Attempts.eq(c.attempt))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Delivers a claimed message: calls the provider, then applies the outcome.
pub async fn deliver_claimed(st: &GraphState, c: Claim) -> Result<Delivery, ApiError> {
    let msg = {
        let tx = st.db.read(c.tenant_id).await?;
        let m = scoped::<outbox_message::Entity>(c.tenant_id)
            .filter(outbox_message::Column::Id.eq(c.id))
            .one(&*tx)
            .await?
            .ok_or(ApiError::NotFound("outbox message"))?;
        tx.commit().await?;
        m
    };
    if msg.status != PENDING || msg.attempts != c.attempt {
        return Ok(Delivery::NotClaimed);
    }
    let outcome = delivery::call(st, &msg).await;
    let tx = st.db.write(c.tenant_id).await?;
    // Applying touches payments, refunds and bookings: under the tenant's write lock, like
    // every other money or schedule write.
    st.db.lock_schedule(&tx).await?;
    let delivery = match outcome {
        Ok(result) => {
            if !finish(&tx, c, DELIVERED, None, None, Some(result.to_string())).await? {
                return Ok(Delivery::NotClaimed);
            }
            delivery::apply_success(st, &tx, &msg, &result).await?;
            Delivery::Delivered
        }
        Err(e) if e.is_retryable() && c.attempt < st.outbox.max_attempts => {
            let due = now()
                + chrono::Duration::from_std(backoff(&st.outbox, c.attempt))
                    .unwrap_or(chrono::Duration::MAX);
            if !finish(&tx, c, PENDING, Some(due), Some(e.to_string()), None).await? {
                return Ok(Delivery::NotClaimed);
            }
            tracing::warn!(message_id = %c.id, kind = %msg.kind, attempt = c.attempt,
                error = %e, "outbox delivery failed; will retry");
            Delivery::Retrying(due)
        }
        Err(e) => {
            if !finish(&tx, c, DEAD, None, Some(e.to_string()), None).await? {
                return Ok(Delivery::NotClaimed);
            }
            tracing::error!(message_id = %c.id, kind = %msg.kind, attempt = c.attempt,
                error = %e, "outbox message dead-lettered");
            delivery::apply_failure(st, &tx, &msg, &e).await?;
            Delivery::Dead
        }
    };
    tx.commit().await?;
    Ok(delivery)
}

/// How many messages one worker delivers at once.
pub const DELIVERY_CONCURRENCY: usize = 8;

/// One pass of the worker: delivers every due message (across tenants, oldest first, up
/// to `limit`) and expires unpaid deposits. Returns how many messages it attempted.
pub async fn run_due(st: &GraphState, limit: u64) -> Result<usize, ApiError> {
    use futures::StreamExt;
    let due = st.db.due_outbox(now(), limit).await?;
    let n = due.len();
    // Provider calls take tens to hundreds of milliseconds: several at once.
    futures::stream::iter(due)
        .for_each_concurrent(DELIVERY_CONCURRENCY, |(tenant_id, id)| async move {
            if let Err(e) = deliver(st, tenant_id, id).await {
                tracing::error!(message_id = %id, error = ?e, "outbox delivery error");
            }
        })
        .await;
    crate::payments::service::expire_deposits(st, limit).await?;
    Ok(n)
}

/// Starts the background worker: a pass every `poll` (sooner when woken by
/// `outbox_wake`). Runs until the runtime shuts down.
pub fn spawn_worker(st: GraphState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_due(&st, 50).await {
                Ok(n) if n >= 50 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "outbox pass failed"),
            }
            tokio::select! {
                () = st.outbox_wake.notified() => {}
                () = tokio::time::sleep(st.outbox.poll) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cfg = OutboxConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..OutboxConfig::default()
        };
        for _ in 0..100 {
            let d1 = backoff(&cfg, 1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d4 = backoff(&cfg, 4);
            assert!(d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8));
            let d20 = backoff(&cfg, 20);
            assert!(d20 >= Duration::from_secs(30) && d20 <= Duration::from_secs(60));
        }
    }
}
