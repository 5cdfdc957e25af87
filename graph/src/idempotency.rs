//! Idempotency keys: a client-chosen key makes a retried mutation return the first
//! result (a booking, or the refusal) instead of acting twice — also when the retry runs
//! concurrently with the first call. Infrastructure: stores any serialisable result and
//! imports no domain.
//!
//! Keys belong to whoever sent them ([`scoped_key`]: the user, the agent key, or
//! anonymous callers), so one caller's key never returns another's result, and a key
//! stands for one request ([`fingerprint`]): the same key with a different request is
//! refused, as Stripe does.
//!
//! [`claim`] inserts `(tenant, key)` in the caller's transaction. The first caller gets
//! [`Claimed::New`] and holds the row (uncommitted) until it commits with its result
//! ([`store`]); a concurrent caller's insert waits on the unique key and then reads the
//! stored result. A key used for another operation is refused.

use entities::idempotency_key;
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;

use sha2::{Digest, Sha256};

use crate::context::{Principal, RequestCtx};
use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::util::{new_id, now};

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// What [`claim`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed<T> {
    /// The key is new: act, then [`store`] the result in the same transaction.
    New,
    /// The key was used before for this operation: its stored result.
    Stored(T),
    /// The key was used for another operation.
    OtherOperation,
}

/// The stored form of a client's `key`: SHA-256 (hex) of the caller's scope (`user:{id}`,
/// `agent:{key id}`, or `public` for anonymous callers) and the key.
pub fn scoped_key(rc: &RequestCtx, key: &str) -> String {
    let scope = match &rc.principal {
        Principal::User { user_id, .. } => format!("user:{user_id}"),
        Principal::Agent { key_id } => format!("agent:{key_id}"),
        Principal::Public => "public".to_string(),
    };
    hex::encode(Sha256::digest(format!("{scope}\n{key}").as_bytes()))
}

/// `operation` with a fingerprint of `request` (the first 128 bits of its SHA-256), the
/// form [`claim`] compares: a different request under the same key is "another
/// operation".
pub fn fingerprint(operation: &str, request: &serde_json::Value) -> String {
    let digest = Sha256::digest(request.to_string().as_bytes());
    format!("{operation}:{}", hex::encode(&digest[..16]))
}

/// Whether `key` is acceptable (1–[`MAX_KEY_LEN`] bytes).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}

/// Inserts the placeholder row of `key` for `operation` (empty result) in `tx`; `false`
/// when the key is already taken (unique on tenant and key).
async fn insert_placeholder(tx: &Tx, key: &str, operation: &str) -> Result<bool, ApiError> {
    let row = idempotency_key::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        key: Set(key.to_string()),
        operation: Set(operation.to_string()),
        response: Set(String::new()),
        created_at: Set(now()),
    };
    let inserted = idempotency_key::Entity::insert(row)
        .on_conflict_do_nothing_on([
            idempotency_key::Column::TenantId,
            idempotency_key::Column::Key,
        ])
        .exec_without_returning(&**tx)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Claims `key` for `operation` in `tx` (see the module documentation). Errors:
/// database errors; `INTERNAL` when a stored result cannot be read back as `T`.
pub async fn claim<T: DeserializeOwned>(
    tx: &Tx,
    key: &str,
    operation: &str,
) -> Result<Claimed<T>, ApiError> {
    if insert_placeholder(tx, key, operation).await? {
        return Ok(Claimed::New);
    }
    let row = scoped::<idempotency_key::Entity>(tx.tenant_id())
        .filter(idempotency_key::Column::Key.eq(key))
        .one(&**tx)
        .await?
        .ok_or(ApiError::Internal("idempotency key vanished".into()))?;
    if row.operation != operation {
        return Ok(Claimed::OtherOperation);
    }
    let stored = serde_json::from_str(&row.response)
        .map_err(|e| ApiError::Internal(format!("stored idempotent result: {e}")))?;
    Ok(Claimed::Stored(stored))
}

/// Stores the result of the call that claimed `key`, in its transaction.
pub async fn store<T: Serialize>(tx: &Tx, key: &str, result: &T) -> Result<(), ApiError> {
    let json = serde_json::to_string(result).map_err(ApiError::internal)?;
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Response, Expr::value(json))
        .filter(idempotency_key::Column::TenantId.eq(tx.tenant_id()))
        .filter(idempotency_key::Column::Key.eq(key))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// What [`reserve`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved<T> {
    /// The key is ours: act (in as many transactions as needed), then [`finish`] — or
    /// [`release`] when the attempt failed in a way a retry may fix.
    New,
    /// The key was finished before for this operation: its stored result.
    Stored(T),
    /// Another caller holds the key and has not finished yet.
    InFlight,
    /// The key was used for another operation.
    OtherOperation,
}

/// Reserves `key` for `operation` in a transaction of its own, for work that spans
/// several transactions (a voice tool that calls booking services, each committing
/// on its own). The row is committed at once with an empty result, so concurrent
/// callers see [`Reserved::InFlight`] until [`finish`] stores the result; a reservation
/// left unfinished for `stale_after` (its holder died) is taken over, so the work is
/// redone — make that work idempotent itself (e.g. a booking idempotency key).
/// Errors: database errors; `INTERNAL` when a stored result cannot be read as `T`.
pub async fn reserve<T: DeserializeOwned>(
    db: &crate::db::Db,
    tenant_id: uuid::Uuid,
    key: &str,
    operation: &str,
    stale_after: chrono::Duration,
) -> Result<Reserved<T>, ApiError> {
    let tx = db.write(tenant_id).await?;
    let outcome = reserve_in(&tx, key, operation, stale_after).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn reserve_in<T: DeserializeOwned>(
    tx: &Tx,
    key: &str,
    operation: &str,
    stale_after: chrono::Duration,
) -> Result<Reserved<T>, ApiError> {
    let tenant_id = tx.tenant_id();
    if insert_placeholder(tx, key, operation).await? {
        return Ok(Reserved::New);
    }
    let row = scoped::<idempotency_key::Entity>(tenant_id)
        .filter(idempotency_key::Column::Key.eq(key))
        .one(&**tx)
        .await?
        .ok_or(ApiError::Internal("idempotency key vanished".into()))?;
    if row.operation != operation {
        return Ok(Reserved::OtherOperation);
    }
    if !row.response.is_empty() {
        let stored = serde_json::from_str(&row.response)
            .map_err(|e| ApiError::Internal(format!("stored idempotent result: {e}")))?;
        return Ok(Reserved::Stored(stored));
    }
    if row.created_at > now() - stale_after {
        return Ok(Reserved::InFlight);
    }
    // Take over an abandoned reservation (compare-and-set on its time).
    let taken = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::CreatedAt, Expr::value(now()))
        .filter(idempotency_key::Column::TenantId.eq(tenant_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::CreatedAt.eq(row.created_at))
        .filter(idempotency_key::Column::Response.eq(""))
        .exec(&**tx)
        .await?;
    Ok(if taken.rows_affected == 1 {
        Reserved::New
    } else {
        Reserved::InFlight
    })
}

/// Stores the result of a [`reserve`]d key (in a transaction of its own).
pub async fn finish<T: Serialize>(
    db: &crate::db::Db,
    tenant_id: uuid::Uuid,
    key: &str,
    result: &T,
) -> Result<(), ApiError> {
    let tx = db.write(tenant_id).await?;
    store(&tx, key, result).await?;
    tx.commit().await
}

/// Drops an unfinished reservation of `key`, so that a retry runs again (after a
/// failure that changed nothing, such as a database error).
pub async fn release(db: &crate::db::Db, tenant_id: uuid::Uuid, key: &str) -> Result<(), ApiError> {
    let tx = db.write(tenant_id).await?;
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::TenantId.eq(tenant_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::Response.eq(""))
        .exec(&*tx)
        .await?;
    tx.commit().await
}
