//! Operator notifications: what an operator must look at (a failed card charge, a job
//! that could not be delivered). Any domain records one with [`notify`] inside its own
//! transaction; owners and managers list them (`notifications`) and mark them read
//! (`markNotificationRead`). Infrastructure: imports no domain.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::notification;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::guards::{MANAGE, RoleGuard};
use crate::state::{GraphState, caller, state};
use crate::util::{new_id, now, parse_id};

/// Notification kind: a card payment or balance charge failed.
pub const PAYMENT_FAILED: &str = "PAYMENT_FAILED";
/// Notification kind: a job could not be delivered (dead-lettered).
pub const DELIVERY_FAILED: &str = "DELIVERY_FAILED";
/// Notification kind: money was refunded automatically.
pub const PAYMENT_REFUNDED: &str = "PAYMENT_REFUNDED";

/// Records an operator notification of `kind` in `tx` (the caller's business
/// transaction), optionally pointing at a booking and a payment. `message` must not
/// contain secrets.
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

/// Notifications of the tenant, newest first (at most `first`, clamped to 1–100).
pub async fn list(
    st: &GraphState,
    rc: &RequestCtx,
    unread_only: bool,
    first: u64,
) -> Result<Vec<notification::Model>, ApiError> {
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

/// Marks a notification read (idempotent). Errors: `NOT_FOUND`.
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

/// Something an operator must look at.
#[derive(Clone)]
pub struct Notification(pub notification::Model);

/// Something an operator must look at.
#[Object]
impl Notification {
    /// Notification id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `PAYMENT_FAILED`, `PAYMENT_REFUNDED`, `DELIVERY_FAILED`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Human-readable text.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The booking concerned.
    async fn booking_id(&self) -> Option<ID> {
        self.0.booking_id.map(|i| ID(i.to_string()))
    }
    /// The payment concerned.
    async fn payment_id(&self) -> Option<ID> {
        self.0.payment_id.map(|i| ID(i.to_string()))
    }
    /// When it was marked read (UTC); null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Notification queries.
#[derive(Default)]
pub struct NotificationQuery;

/// Notification queries.
#[Object]
impl NotificationQuery {
    /// Operator notifications, newest first (at most `first`, 1–100). Owners and
    /// managers.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] unread_only: bool,
        #[graphql(default = 50)] first: i32,
    ) -> async_graphql::Result<Vec<Notification>> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        Ok(list(st, rc, unread_only, first.clamp(1, 100) as u64)
            .await?
            .into_iter()
            .map(Notification)
            .collect())
    }
}

/// Notification mutations.
#[derive(Default)]
pub struct NotificationMutation;

/// Notification mutations.
#[Object]
impl NotificationMutation {
    /// Marks a notification read. Owners and managers. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Notification> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Notification(mark_read(st, rc, id).await?))
    }
}
