//! The booking hook contract: what happened ([`BookingChange`]), what a hook may ask for
//! ([`HookOutput`]), the trait ([`BookingHook`]) and the registered list
//! ([`BookingHooks`]). Generic over the shared state `S` hooks receive, so it depends on
//! nothing that holds the list.

use std::sync::Arc;

use async_trait::async_trait;
use entities::{BookingStatus, booking};

use crate::db::Tx;
use crate::error::ApiError;
use crate::jobs::job::Job;

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
    /// A booking went to another staff member at the same time (`applyDispatch`).
    Reassigned {
        /// The booking as it was before.
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
pub trait BookingHook<S: Sync>: Send + Sync {
    /// Name for logs (`payments`, `messaging`, …).
    fn name(&self) -> &'static str;

    /// Reacts to `change` of `booking` inside the lifecycle's transaction `tx`. May write
    /// the booking (and must then update `booking` to match). Errors abort the change.
    async fn on_booking(
        &self,
        st: &S,
        tx: &Tx,
        booking: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError>;
}

/// The registered hooks, in registration order.
pub struct BookingHooks<S> {
    hooks: Vec<Arc<dyn BookingHook<S>>>,
}

impl<S> Default for BookingHooks<S> {
    fn default() -> Self {
        BookingHooks { hooks: Vec::new() }
    }
}

impl<S> Clone for BookingHooks<S> {
    fn clone(&self) -> Self {
        BookingHooks {
            hooks: self.hooks.clone(),
        }
    }
}

impl<S: Sync> BookingHooks<S> {
    /// Adds a hook; hooks run in the order they were added.
    pub fn register(&mut self, hook: Arc<dyn BookingHook<S>>) {
        self.hooks.push(hook);
    }

    /// Names of the registered hooks, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.hooks.iter().map(|h| h.name()).collect()
    }

    /// Runs every hook for `change` in `tx`; returns the jobs they ask for, in order.
    /// The first error aborts (the caller's transaction then writes nothing).
    pub async fn collect(
        &self,
        st: &S,
        tx: &Tx,
        booking: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<Vec<Job>, ApiError> {
        let mut jobs = Vec::new();
        for h in &self.hooks {
            jobs.extend(h.on_booking(st, tx, booking, change).await?.jobs);
        }
        Ok(jobs)
    }
}
