//! `outbox_messages`: the job queue — calls to the outside world waiting to be made.

use sea_orm::entity::prelude::*;

/// A job: a call to the outside world (a provider request, a message to send), written in
/// the same transaction as the business change that needs it. `status`: `PENDING` (due at
/// `next_attempt_at`; a worker that claims it pushes `next_attempt_at` forward by its
/// lease, so a crashed worker's claim simply lapses), `DELIVERED`, `DEAD` (gave up after
/// the maximum number of attempts, or the provider refused it for good) or `CANCELED`
/// (canceled or replaced through its `dedupe_key` before it ran). The row id is the
/// idempotency key sent to the provider, so a redelivery after a crash is recognised as
/// the same request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    /// UUID v7; also the provider idempotency key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Which registered handler delivers it (`stripe.checkout_session`, …).
    pub kind: String,
    /// JSON arguments of the call.
    pub payload: String,
    /// Where it stands.
    pub status: crate::kinds::JobStatus,
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
    /// Caller-chosen key (e.g. `reminder:{booking_id}`): at most one `PENDING` job of a
    /// tenant has it; enqueuing another with the same key replaces (cancels) the pending
    /// one, and the key cancels it.
    pub dedupe_key: Option<String>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
