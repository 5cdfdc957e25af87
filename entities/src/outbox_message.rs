//! `outbox_messages`: provider calls waiting to be made.

use sea_orm::entity::prelude::*;

/// A provider call that changes something, written in the same transaction as the
/// business change that needs it. `status`: `PENDING` (due at `next_attempt_at`; a worker
/// that claims it pushes `next_attempt_at` forward by its lease, so a crashed worker's
/// claim simply lapses), `DELIVERED`, or `DEAD` (gave up after the maximum number of
/// attempts, or the provider refused it for good). The row id is the idempotency key sent
/// to the provider, so a redelivery after a crash is recognised as the same request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    /// UUID v7; also the provider idempotency key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// What to do (`stripe.checkout_session`, `stripe.balance_charge`, `stripe.refund`).
    pub kind: String,
    /// JSON arguments of the call.
    pub payload: String,
    /// `PENDING`, `DELIVERED` or `DEAD`.
    pub status: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// When it is next due (UTC).
    pub next_attempt_at: DateTimeUtc,
    /// Why the last attempt failed (no secrets).
    pub last_error: Option<String>,
    /// Short JSON summary of the provider's answer, once delivered.
    pub result: Option<String>,
    /// When it was delivered (UTC).
    pub delivered_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
