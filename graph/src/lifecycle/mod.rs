//! The booking lifecycle seam: hooks through which domains that react to bookings
//! (payments, messaging, calendar, dispatch, invoices) plug into the lifecycle without
//! the booking service knowing them, and [`transition`], the one way any domain moves a
//! booking's status (so every hook hears of it, whoever moved it — staff, the customer,
//! or a lapsed deposit).
//!
//! The booking lifecycle (create, reschedule, status change, cancel) calls every
//! registered [`BookingHook`] inside its writing transaction, after its own write and
//! under the tenant's schedule lock. A hook may write its own rows in that transaction,
//! may adjust the booking (e.g. keep it `PENDING` until a deposit is paid — it writes the
//! change and updates the model it is given), and returns the jobs to enqueue. The
//! lifecycle enqueues them in the same transaction, so the booking change and its
//! follow-ups commit together or not at all; jobs marked inline are delivered by the
//! request right after the commit (a checkout URL the caller must see at once).
//!
//! A hook error aborts the whole change (nothing is written). Model: Saleor's plugin
//! manager hooks (`order_created`, …).

pub mod hooks;

use entities::{BookingStatus, booking};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

pub use hooks::{BookingChange, BookingHook, BookingHooks, HookOutput};

use crate::db::Tx;
use crate::error::ApiError;
use crate::jobs::{self, Claim};
use crate::state::GraphState;
use crate::util::now;

/// Runs every registered hook for `change` of `booking` in `tx` and enqueues the jobs
/// they return in the same transaction. Returns what to run after the commit. Errors:
/// the first hook error (the caller must not commit).
pub async fn run_hooks(
    st: &GraphState,
    tx: &Tx,
    booking: &mut booking::Model,
    change: &BookingChange,
) -> Result<AfterCommit, ApiError> {
    let jobs = st
        .extensions
        .booking_hooks
        .collect(st, tx, booking, change)
        .await?;
    if jobs.is_empty() {
        return Ok(AfterCommit::default());
    }
    Ok(AfterCommit {
        inline: jobs::enqueue_all(st, tx, jobs).await?,
        enqueued: true,
    })
}

/// What running the hooks left for after the commit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "deliver the inline jobs and wake the worker after committing"]
pub struct AfterCommit {
    /// Inline jobs claimed by this request.
    pub inline: Vec<Claim>,
    /// Whether any job was enqueued (wake the worker).
    pub enqueued: bool,
}

impl AfterCommit {
    /// Delivers the inline jobs and wakes the worker. Call after the commit.
    pub async fn run(self, st: &GraphState) {
        if !self.inline.is_empty() {
            jobs::deliver_inline(st, &self.inline).await;
        } else if self.enqueued {
            jobs::wake(st);
        }
    }

    /// Both follow-ups together.
    pub fn merge(mut self, other: AfterCommit) -> AfterCommit {
        self.inline.extend(other.inline);
        self.enqueued |= other.enqueued;
        self
    }
}

/// Moves `current` to status `to` in `tx` if the lifecycle allows it
/// ([`BookingStatus::can_become`]) and the row still has `current.status` (a concurrent
/// change wins otherwise), then runs the hooks (`Canceled` or `StatusChanged`). Returns
/// the updated booking and what to run after the commit, or `None` when the transition
/// is not allowed or lost. The caller commits, runs the [`AfterCommit`] and publishes
/// the event. `reason` is stored as the booking's `cancellation_reason` when `to` is
/// `Canceled` (validated by the caller) and ignored otherwise.
pub async fn transition(
    st: &GraphState,
    tx: &Tx,
    current: booking::Model,
    to: BookingStatus,
    reason: Option<String>,
) -> Result<Option<(booking::Model, AfterCommit)>, ApiError> {
    let from = current.status;
    if !from.can_become(to) {
        return Ok(None);
    }
    let at = now();
    let mut update = booking::Entity::update_many()
        .col_expr(booking::Column::Status, Expr::value(to))
        .col_expr(booking::Column::UpdatedAt, Expr::value(at));
    if to == BookingStatus::Canceled {
        update = update.col_expr(
            booking::Column::CancellationReason,
            Expr::value(reason.clone()),
        );
    }
    let res = update
        .filter(booking::Column::TenantId.eq(tx.tenant_id()))
        .filter(booking::Column::Id.eq(current.id))
        .filter(booking::Column::Status.eq(from))
        .exec(&**tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let cancellation_reason = if to == BookingStatus::Canceled {
        reason
    } else {
        current.cancellation_reason.clone()
    };
    let mut updated = booking::Model {
        status: to,
        updated_at: at,
        cancellation_reason,
        ..current
    };
    let change = if to == BookingStatus::Canceled {
        BookingChange::Canceled { from }
    } else {
        BookingChange::StatusChanged { from }
    };
    let after = run_hooks(st, tx, &mut updated, &change).await?;
    Ok(Some((updated, after)))
}
