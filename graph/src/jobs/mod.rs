//! Jobs: the one durable queue for everything that must reach the outside world (a
//! Checkout Session, a refund, a text message, a calendar write), delivered at least once
//! and applied exactly once. It knows no domain: each job kind has a [`JobHandler`]
//! registered at start-up (kind → handler), and periodic work (sweeps, syncs) is a
//! [`periodic::PeriodicJob`] on one schedule.
//!
//! A service that needs an outside call writes the job in the same transaction as the
//! business change ([`enqueue`], [`enqueue_at`]), so the two commit or roll back
//! together. A job may carry a dedupe key: enqueuing another job with the same key
//! replaces (cancels) the pending one, and [`cancel`] drops it — a reminder follows its
//! booking when the booking moves, and disappears when it is canceled. At most one job
//! of a tenant is `PENDING` per key (a partial unique index).
//!
//! Delivery:
//!
//! 1. **Claim** — `UPDATE … SET attempts = attempts + 1, next_attempt_at = now + lease
//!    WHERE status = 'PENDING' AND next_attempt_at <= now`. One worker wins; if it dies,
//!    the lease lapses and the job is due again.
//! 2. **Call** — the handler calls the provider with the job id as its idempotency key
//!    (Stripe `Idempotency-Key`), so a repeat after a crash is the same request.
//! 3. **Apply** — the handler applies the answer and the job is marked `DELIVERED` in one
//!    transaction, fenced by the attempt number: a worker whose lease was taken over (or
//!    whose job was canceled meanwhile) writes nothing. Handlers that change schedules
//!    or money take the tenant's write lock there ([`JobHandler::locks_schedule`]).
//!
//! A retryable failure (timeout, 5xx, 429) schedules the next attempt with exponential
//! backoff and jitter ("equal jitter": half the capped exponential delay plus a random
//! part up to the other half — AWS Architecture Blog, "Exponential Backoff and Jitter");
//! after `max_attempts`, or on a refusal that retrying cannot fix, the job is
//! dead-lettered (`DEAD`) and its handler's [`JobHandler::dead`] runs (mark the business
//! effect failed, notify the operator).
//!
//! A request that needs the answer at once (a checkout URL) enqueues the job already
//! claimed ([`Job::inline`], [`enqueue_claimed`]) and delivers it itself after committing
//! ([`deliver_inline`]); if it cannot, the worker takes over when the lease lapses.
//!
//! An instance only claims kinds it has handlers for, so a kind added in a rolling
//! upgrade waits for an instance that knows it instead of being dead-lettered.
//!
//! Why not apalis: a job must commit inside our tenant-scoped SeaORM transaction
//! (row-level security, `app.tenant_id`), which apalis' storages cannot join; the queue
//! itself is one table and this module.

pub mod config;
pub mod handler;
pub mod job;
pub mod periodic;

use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{JobStatus, outbox_message};
use integrations::ProviderError;
use rand::Rng;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::state::GraphState;
use crate::util::{new_id, now};

pub use config::{JobsConfig, LocalSchedule};
pub use handler::{JobHandler, JobRegistry, PeriodicJob};
pub use job::{Claim, Due, Job, MAX_KEY_LEN, MAX_KIND_LEN};

/// What a delivery attempt ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered and applied.
    Delivered,
    /// Failed; due again at the given time.
    Retrying(DateTime<Utc>),
    /// Dead-lettered.
    Dead,
    /// Not claimed: not due, already delivered or canceled, or another worker holds it.
    NotClaimed,
}

fn lease(st: &GraphState) -> chrono::Duration {
    chrono::Duration::from_std(st.jobs.lease).unwrap_or(chrono::Duration::MAX)
}

/// Serialises, on PostgreSQL, the transactions that enqueue a job with `key` for the
/// transaction's tenant, until each commits (`pg_advisory_xact_lock` in its two-key
/// space, apart from [`crate::db::Db::lock_schedule`]'s). Without it, under read
/// committed, a transaction that inserts a pending job with `key` (a channel-renewal job
/// enqueuing its successor, say) is invisible to another's [`cancel`], whose insert then
/// waits on the unique index of pending keys and fails with a unique violation when the
/// first commits. With it the second waits here, then sees and replaces the first's job.
/// SQLite serialises writers already. A hash collision only makes two keys wait for
/// each other.
async fn lock_key(tx: &Tx, key: &str) -> Result<(), ApiError> {
    use sea_orm::ConnectionTrait;
    if tx.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    tx.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
        [tx.tenant_id().to_string().into(), key.into()],
    ))
    .await?;
    Ok(())
}

async fn insert(
    tx: &Tx,
    job: Job,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    job.check()?;
    if let Some(key) = &job.key {
        lock_key(tx, key).await?;
        cancel(tx, key).await?;
    }
    let at = now();
    let id = new_id();
    outbox_message::ActiveModel {
        id: Set(id),
        tenant_id: Set(tx.tenant_id()),
        kind: Set(job.kind.into()),
        payload: Set(job.payload.to_string()),
        status: Set(JobStatus::Pending),
        attempts: Set(attempts),
        next_attempt_at: Set(next_attempt_at),
        last_error: Set(None),
        result: Set(None),
        delivered_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        dedupe_key: Set(job.key),
    }
    .insert(&**tx)
    .await?;
    Ok(id)
}

/// Writes `job` in the caller's transaction, due when [`Job::due`] says ([`Due::Inline`]
/// counts as now here: use [`enqueue_claimed`] for inline delivery). A key replaces the
/// tenant's pending job with that key. Call [`wake`] after committing to skip the poll
/// delay. Errors: database errors; `INTERNAL` for a kind or key of a bad length.
pub async fn enqueue(tx: &Tx, job: Job) -> Result<Uuid, ApiError> {
    let due = match job.due {
        Due::At(t) => t,
        Due::Now | Due::Inline => now(),
    };
    insert(tx, job, 0, due).await
}

/// Writes `job` due at `due_at` (UTC); see [`enqueue`].
pub async fn enqueue_at(tx: &Tx, job: Job, due_at: DateTime<Utc>) -> Result<Uuid, ApiError> {
    enqueue(tx, job.at(due_at)).await
}

/// Writes `job` already claimed by this process (attempt 1, leased), for a request that
/// delivers it itself right after committing ([`deliver_inline`]).
pub async fn enqueue_claimed(st: &GraphState, tx: &Tx, job: Job) -> Result<Claim, ApiError> {
    let id = insert(tx, job, 1, now() + lease(st)).await?;
    Ok(Claim {
        tenant_id: tx.tenant_id(),
        id,
        attempt: 1,
    })
}

/// Enqueues each job as its [`Due`] says, in `tx`; returns the claims of the inline ones
/// (deliver them with [`deliver_inline`] after committing).
pub async fn enqueue_all(st: &GraphState, tx: &Tx, jobs: Vec<Job>) -> Result<Vec<Claim>, ApiError> {
    let mut claims = Vec::new();
    for job in jobs {
        if job.due == Due::Inline {
            claims.push(enqueue_claimed(st, tx, job).await?);
        } else {
            enqueue(tx, job).await?;
        }
    }
    Ok(claims)
}

/// Cancels the tenant's pending job with `key`, in `tx`. Returns how many were canceled
/// (0 or 1). A job being delivered at this moment may still reach the provider, but its
/// answer is not applied (the fence sees the cancellation).
pub async fn cancel(tx: &Tx, key: &str) -> Result<u64, ApiError> {
    let res = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Status,
            Expr::value(JobStatus::Canceled),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now()))
        .filter(outbox_message::Column::TenantId.eq(tx.tenant_id()))
        .filter(outbox_message::Column::DedupeKey.eq(key))
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected)
}

/// Cancels every pending job of the transaction's tenant whose key starts with `prefix`
/// (e.g. every reminder of a booking, whatever its offset). Returns how many. `prefix`
/// must be a literal key prefix (no `%`, `_` or `\\`).
pub async fn cancel_prefix(tx: &Tx, prefix: &str) -> Result<u64, ApiError> {
    if prefix.is_empty() || prefix.contains(['%', '_', '\\']) {
        return Err(ApiError::Internal(format!("bad job key prefix {prefix:?}")));
    }
    let res = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Status,
            Expr::value(JobStatus::Canceled),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now()))
        .filter(outbox_message::Column::TenantId.eq(tx.tenant_id()))
        .filter(outbox_message::Column::DedupeKey.like(format!("{prefix}%")))
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected)
}

/// The tenant's pending job with `key`, if any.
pub async fn pending_by_key(tx: &Tx, key: &str) -> Result<Option<outbox_message::Model>, ApiError> {
    Ok(scoped::<outbox_message::Entity>(tx.tenant_id())
        .filter(outbox_message::Column::DedupeKey.eq(key))
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .one(&**tx)
        .await?)
}

/// Wakes this instance's worker (after committing a job due now).
pub fn wake(st: &GraphState) {
    st.jobs_wake.notify_one();
}

/// Delivers jobs this request claimed with [`Due::Inline`] (after its commit), then wakes
/// the worker for the rest. A provider failure is not an error here: the job stays
/// queued and the worker retries it when the lease lapses.
pub async fn deliver_inline(st: &GraphState, claims: &[Claim]) {
    for c in claims {
        if let Err(e) = deliver_claimed(st, *c).await {
            tracing::error!(job_id = %c.id, error = ?e, "inline job delivery failed");
        }
    }
    wake(st);
}

/// The delay before attempt `attempt + 1` after `attempt` failed: the capped exponential
/// `min(max, base · 2^(attempt−1))`, half of it fixed and half random.
pub fn backoff(cfg: &JobsConfig, attempt: i32) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let capped = cfg
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(cfg.backoff_max);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().min(u64::MAX as u128) as u64);
    half + Duration::from_millis(jitter)
}

/// Claims job `id` of `tenant_id` if it is due. `None` when not claimable.
pub async fn claim(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Option<Claim>, ApiError> {
    let at = now();
    let tx = st.db.write(tenant_id).await?;
    let res = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Attempts,
            Expr::col(outbox_message::Column::Attempts).add(1),
        )
        .col_expr(
            outbox_message::Column::NextAttemptAt,
            Expr::value(at + lease(st)),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(at))
        .filter(outbox_message::Column::TenantId.eq(tenant_id))
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .filter(outbox_message::Column::NextAttemptAt.lte(at))
        .exec(&*tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let attempt: Option<i32> = scoped::<outbox_message::Entity>(tenant_id)
        .select_only()
        .column(outbox_message::Column::Attempts)
        .filter(outbox_message::Column::Id.eq(id))
        .into_tuple()
        .one(&*tx)
        .await?;
    tx.commit().await?;
    Ok(attempt.map(|attempt| Claim {
        tenant_id,
        id,
        attempt,
    }))
}

/// Claims and delivers job `id` if it is due.
pub async fn deliver(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Delivery, ApiError> {
    match claim(st, tenant_id, id).await? {
        Some(c) => deliver_claimed(st, c).await,
        None => Ok(Delivery::NotClaimed),
    }
}

/// Marks the claimed job (still at `claim.attempt` and `PENDING`) with `status`, in
/// `tx`. `false` when the claim was lost (taken over, or the job canceled).
async fn finish(
    tx: &Tx,
    c: Claim,
    status: JobStatus,
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
    if status == JobStatus::Delivered {
        q = q
            .col_expr(outbox_message::Column::DeliveredAt, Expr::value(Some(at)))
            .col_expr(outbox_message::Column::Result, Expr::value(result));
    }
    let res = q
        .filter(outbox_message::Column::TenantId.eq(c.tenant_id))
        .filter(outbox_message::Column::Id.eq(c.id))
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .filter(outbox_message::Column::Attempts.eq(c.attempt))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Delivers a claimed job: its handler calls the provider, then the outcome is applied.
pub async fn deliver_claimed(st: &GraphState, c: Claim) -> Result<Delivery, ApiError> {
    let job = {
        let tx = st.db.read(c.tenant_id).await?;
        let m = scoped::<outbox_message::Entity>(c.tenant_id)
            .filter(outbox_message::Column::Id.eq(c.id))
            .one(&*tx)
            .await?
            .ok_or(ApiError::NotFound("job"))?;
        tx.commit().await?;
        m
    };
    if job.status != JobStatus::Pending || job.attempts != c.attempt {
        return Ok(Delivery::NotClaimed);
    }
    let handler = st.extensions.jobs.handler(&job.kind).cloned();
    // One span per provider call (the job's handler), under which its statements nest.
    let span = tracing::info_span!(
        "provider.call",
        job.kind = %job.kind,
        job.attempt = job.attempts,
        tenant_id = %c.tenant_id
    );
    let outcome = match &handler {
        Some(h) => {
            use tracing::Instrument;
            h.call(st, &job).instrument(span).await
        }
        None => Err(ProviderError::InvalidInput(format!(
            "no handler for job kind {}",
            job.kind
        ))),
    };
    let tx = st.db.write(c.tenant_id).await?;
    if handler.as_ref().is_some_and(|h| h.locks_schedule()) {
        st.db.lock_schedule(&tx).await?;
    }
    let delivery = match outcome {
        Ok(result) => {
            if !finish(
                &tx,
                c,
                JobStatus::Delivered,
                None,
                None,
                Some(result.to_string()),
            )
            .await?
            {
                return Ok(Delivery::NotClaimed);
            }
            if let Some(h) = &handler {
                h.apply(st, &tx, &job, &result).await?;
            }
            Delivery::Delivered
        }
        Err(e) if e.is_retryable() && c.attempt < st.jobs.max_attempts => {
            let due = now()
                + chrono::Duration::from_std(backoff(&st.jobs, c.attempt))
                    .unwrap_or(chrono::Duration::MAX);
            if !finish(
                &tx,
                c,
                JobStatus::Pending,
                Some(due),
                Some(e.to_string()),
                None,
            )
            .await?
            {
                return Ok(Delivery::NotClaimed);
            }
            tracing::warn!(job_id = %c.id, kind = %job.kind, attempt = c.attempt,
                error = %e, "job delivery failed; will retry");
            Delivery::Retrying(due)
        }
        Err(e) => {
            if !finish(&tx, c, JobStatus::Dead, None, Some(e.to_string()), None).await? {
                return Ok(Delivery::NotClaimed);
            }
            tracing::error!(job_id = %c.id, kind = %job.kind, attempt = c.attempt,
                error = %e, "job dead-lettered");
            if let Some(h) = &handler {
                h.dead(st, &tx, &job, &e).await?;
            }
            Delivery::Dead
        }
    };
    tx.commit().await?;
    Ok(delivery)
}

/// Due jobs of the registered kinds across tenants, oldest first: `(tenant_id, id)`
/// only. On PostgreSQL through the `SECURITY DEFINER` function `app_due_jobs` (the worker
/// is not inside any tenant yet); each job is then handled in its tenant's transaction.
pub async fn due(
    st: &GraphState,
    at: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
    let kinds = st.extensions.jobs.kinds();
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    let conn = st.db.connection();
    if st.db.backend() == DatabaseBackend::Postgres {
        // Kinds are dotted identifiers without commas; one text parameter (no array
        // support needed in the driver).
        let kinds = kinds.join(",");
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT tenant_id, id FROM app_due_jobs($1, $2, $3)",
                [
                    at.into(),
                    (Ord::min(limit, i32::MAX as u64) as i32).into(),
                    kinds.into(),
                ],
            ))
            .await?;
        return rows
            .iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?)))
            .collect();
    }
    Ok(outbox_message::Entity::find()
        .select_only()
        .column(outbox_message::Column::TenantId)
        .column(outbox_message::Column::Id)
        .filter(outbox_message::Column::Status.eq(JobStatus::Pending))
        .filter(outbox_message::Column::NextAttemptAt.lte(at))
        .filter(outbox_message::Column::Kind.is_in(kinds))
        .order_by_asc(outbox_message::Column::NextAttemptAt)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// How many jobs one worker delivers at once.
pub const DELIVERY_CONCURRENCY: usize = 8;

/// One pass of the worker: delivers every due job (across tenants, oldest first, up to
/// `limit`), then runs the periodic jobs that are due. Returns how many jobs it
/// attempted.
pub async fn run_due(st: &GraphState, limit: u64) -> Result<usize, ApiError> {
    use futures::StreamExt;
    let due = due(st, now(), limit).await?;
    let n = due.len();
    // Provider calls take tens to hundreds of milliseconds: several at once.
    futures::stream::iter(due)
        .for_each_concurrent(DELIVERY_CONCURRENCY, |(tenant_id, id)| async move {
            if let Err(e) = deliver(st, tenant_id, id).await {
                tracing::error!(job_id = %id, error = ?e, "job delivery error");
            }
        })
        .await;
    periodic::run_due(st).await?;
    Ok(n)
}

/// The job queue at one instant, across tenants (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueueStats {
    /// Jobs waiting (`PENDING`), due or not.
    pub pending: u64,
    /// Pending jobs whose time has come (`next_attempt_at` ≤ now).
    pub due: u64,
    /// Seconds the oldest due job has waited past its time (0 when none is due).
    pub oldest_due_age_secs: f64,
}

/// [`QueueStats`] now: one statement (on PostgreSQL through `app_job_queue_stats`,
/// which row-level security requires). Errors: `INTERNAL` on database failure.
pub async fn queue_stats(st: &GraphState) -> Result<QueueStats, ApiError> {
    let at = now();
    let conn = st.db.connection();
    let (pending, due, oldest): (i64, i64, Option<DateTime<Utc>>) =
        if st.db.backend() == DatabaseBackend::Postgres {
            let row = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pending, due, oldest_due FROM app_job_queue_stats($1)",
                    [at.into()],
                ))
                .await?
                .ok_or_else(|| ApiError::Internal("no job queue statistics".into()))?;
            (
                row.try_get("", "pending")?,
                row.try_get("", "due")?,
                row.try_get("", "oldest_due")?,
            )
        } else {
            let pending = outbox_message::Entity::find()
                .filter(outbox_message::Column::Status.eq(JobStatus::Pending));
            let due = pending
                .clone()
                .filter(outbox_message::Column::NextAttemptAt.lte(at));
            let oldest = due
                .clone()
                .order_by_asc(outbox_message::Column::NextAttemptAt)
                .one(conn)
                .await?
                .map(|m| m.next_attempt_at);
            (
                pending.count(conn).await? as i64,
                due.count(conn).await? as i64,
                oldest,
            )
        };
    Ok(QueueStats {
        pending: u64::try_from(pending).unwrap_or(0),
        due: u64::try_from(due).unwrap_or(0),
        oldest_due_age_secs: oldest
            .map(|o| Ord::max((at - o).num_milliseconds(), 0) as f64 / 1000.0)
            .unwrap_or(0.0),
    })
}

/// Starts the background worker: a pass every `poll` (sooner when woken by [`wake`]).
/// Runs until the runtime shuts down.
pub fn spawn_worker(st: GraphState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_due(&st, 50).await {
                Ok(n) if n >= 50 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "job worker pass failed"),
            }
            tokio::select! {
                () = st.jobs_wake.notified() => {}
                () = tokio::time::sleep(st.jobs.poll) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cfg = JobsConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..JobsConfig::default()
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

    #[test]
    fn job_builders() {
        let at = now();
        let j = Job::new("x.y", serde_json::json!({"a": 1}))
            .keyed("k:1")
            .at(at);
        assert_eq!(j.key.as_deref(), Some("k:1"));
        assert_eq!(j.due, Due::At(at));
        assert_eq!(Job::new("x", Value::Null).inline().due, Due::Inline);
        assert!(Job::new("", Value::Null).check().is_err());
        assert!(Job::new("x", Value::Null).keyed("").check().is_err());
        assert!(
            Job::new("x", Value::Null)
                .keyed("k".repeat(256))
                .check()
                .is_err()
        );
        assert!(
            Job::new("x", Value::Null)
                .keyed("k".repeat(255))
                .check()
                .is_ok()
        );
    }
}
