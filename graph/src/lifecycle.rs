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

use std::sync::Arc;

use async_trait::async_trait;
use entities::{BookingStatus, booking};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::Tx;
use crate::error::ApiError;
use crate::jobs::{self, Claim, Job};
use crate::state::GraphState;
use crate::util::now;

/// What happened to a booking.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingChange {
    /// A booking was created.
    Created {
        /// The request asked to take the deposit the tenant's policy requires through
        /// the tenant's card provider (public booking page): a hook may then keep the
        /// booking `PENDING` until it is paid.
        collect_deposit: bool,
    },
    /// A booking moved to another time and/or staff member.
    Rescheduled {
        /// The booking as it was before the move.
        previous: Box<booking::Model>,
    },
    /// A booking changed status (other than to `CANCELED`).
    StatusChanged {
        /// The status before.
        from: BookingStatus,
    },
    /// A booking was canceled (by staff, the customer, an agent, or a lapsed deposit).
    Canceled {
        /// The status before.
        from: BookingStatus,
    },
}

/// What a hook asks the lifecycle to do in the same transaction.
#[derive(Debug, Default)]
pub struct HookOutput {
    /// Jobs to enqueue (inline ones are delivered by the request after the commit).
    pub jobs: Vec<Job>,
}

impl HookOutput {
    /// No follow-up.
    pub fn none() -> HookOutput {
        HookOutput::default()
    }

    /// These jobs.
    pub fn jobs(jobs: Vec<Job>) -> HookOutput {
        HookOutput { jobs }
    }
}

/// A domain that reacts to booking changes. Implementations must be quick and must not
/// call providers (enqueue a job for that).
#[async_trait]
pub trait BookingHook: Send + Sync {
    /// Name for logs (`payments`, `messaging`, …).
    fn name(&self) -> &'static str;

    /// Reacts to `change` of `booking` inside the lifecycle's transaction `tx`. May write
    /// the booking (and must then update `booking` to match). Errors abort the change.
    async fn on_booking(
        &self,
        st: &GraphState,
        tx: &Tx,
        booking: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError>;
}

/// The registered hooks, in registration order.
#[derive(Default, Clone)]
pub struct BookingHooks {
    hooks: Vec<Arc<dyn BookingHook>>,
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

impl BookingHooks {
    /// Adds a hook; hooks run in the order they were added.
    pub fn register(&mut self, hook: Arc<dyn BookingHook>) {
        self.hooks.push(hook);
    }

    /// Names of the registered hooks, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.hooks.iter().map(|h| h.name()).collect()
    }

    /// Runs every hook for `change` in `tx` and enqueues the jobs they return. Returns
    /// what to do after the commit.
    pub async fn run(
        &self,
        st: &GraphState,
        tx: &Tx,
        booking: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<AfterCommit, ApiError> {
        let mut after = AfterCommit::default();
        for h in &self.hooks {
            let out = h.on_booking(st, tx, booking, change).await?;
            if out.jobs.is_empty() {
                continue;
            }
            after.enqueued = true;
            after.inline.extend(jobs::enqueue_all(st, tx, out.jobs).await?);
        }
        Ok(after)
    }
}

/// Moves `current` to status `to` in `tx` if the lifecycle allows it
/// ([`BookingStatus::can_become`]) and the row still has `current.status` (a concurrent
/// change wins otherwise), then runs the hooks (`Canceled` or `StatusChanged`). Returns
/// the updated booking and what to run after the commit, or `None` when the transition
/// is not allowed or lost. The caller commits, runs the [`AfterCommit`] and publishes
/// the event.
pub async fn transition(
    st: &GraphState,
    tx: &Tx,
    current: booking::Model,
    to: BookingStatus,
) -> Result<Option<(booking::Model, AfterCommit)>, ApiError> {
    let from = current.status;
    if !from.can_become(to) {
        return Ok(None);
    }
    let at = now();
    let res = booking::Entity::update_many()
        .col_expr(booking::Column::Status, Expr::value(to))
        .col_expr(booking::Column::UpdatedAt, Expr::value(at))
        .filter(booking::Column::TenantId.eq(tx.tenant_id()))
        .filter(booking::Column::Id.eq(current.id))
        .filter(booking::Column::Status.eq(from))
        .exec(&**tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let mut updated = booking::Model {
        status: to,
        updated_at: at,
        ..current
    };
    let change = if to == BookingStatus::Canceled {
        BookingChange::Canceled { from }
    } else {
        BookingChange::StatusChanged { from }
    };
    let after = st
        .extensions
        .booking_hooks
        .run(st, tx, &mut updated, &change)
        .await?;
    Ok(Some((updated, after)))
}
