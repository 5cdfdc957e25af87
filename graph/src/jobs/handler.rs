//! What a domain registers with the job queue: a [`JobHandler`] per job kind and
//! [`PeriodicJob`]s, collected in a [`JobRegistry`]. Generic over the shared state `S`
//! the handlers receive (the graph's `GraphState`), so this module depends on nothing
//! that holds the registry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::outbox_message;
use integrations::ProviderError;
use serde_json::Value;

use crate::db::Tx;
use crate::error::ApiError;

/// How one kind of job is delivered: the provider call, how its answer is applied, and
/// what happens when the job is given up. Registered once per kind at start-up
/// ([`JobRegistry::register`]).
#[async_trait]
pub trait JobHandler<S: Sync>: Send + Sync {
    /// The kind this handler delivers (stored in `outbox_messages.kind`, at most
    /// [`MAX_KIND_LEN`](super::job::MAX_KIND_LEN) bytes). Renaming a kind strands jobs already queued under the old
    /// name: keep old names working.
    fn kind(&self) -> &'static str;

    /// Whether [`JobHandler::apply`] and [`JobHandler::dead`] change schedules or money,
    /// and so must run under the tenant's write lock (`Db::lock_schedule`).
    fn locks_schedule(&self) -> bool {
        false
    }

    /// Makes the call, with `job.id` as the idempotency key. Returns a JSON summary of the
    /// answer for [`JobHandler::apply`]. Errors: [`ProviderError`]; retryable ones are
    /// retried with backoff, others dead-letter the job.
    async fn call(&self, st: &S, job: &outbox_message::Model) -> Result<Value, ProviderError>;

    /// Applies a successful call's summary in `tx` (which also marks the job delivered).
    /// Must be idempotent in effect: a job can be called twice after a crash.
    async fn apply(
        &self,
        st: &S,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError>;

    /// Runs in the transaction that dead-letters the job: mark its business effect
    /// failed, notify the operator. Default: nothing.
    async fn dead(
        &self,
        st: &S,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        let _ = (st, tx, job, err);
        Ok(())
    }
}

/// The registered job handlers (kind → handler) and periodic jobs, over the shared
/// state `S` they receive.
pub struct JobRegistry<S> {
    handlers: BTreeMap<&'static str, Arc<dyn JobHandler<S>>>,
    periodic: Vec<Arc<dyn PeriodicJob<S>>>,
}

impl<S> Default for JobRegistry<S> {
    fn default() -> Self {
        JobRegistry {
            handlers: BTreeMap::new(),
            periodic: Vec::new(),
        }
    }
}

impl<S> Clone for JobRegistry<S> {
    fn clone(&self) -> Self {
        JobRegistry {
            handlers: self.handlers.clone(),
            periodic: self.periodic.clone(),
        }
    }
}

impl<S: Sync> JobRegistry<S> {
    /// Registers the handler of its kind. A second handler for the same kind replaces
    /// the first (tests swap in their own).
    pub fn register(&mut self, handler: Arc<dyn JobHandler<S>>) {
        self.handlers.insert(handler.kind(), handler);
    }

    /// Registers a periodic job. A second one with the same name replaces the first.
    pub fn register_periodic(&mut self, job: Arc<dyn PeriodicJob<S>>) {
        self.periodic.retain(|p| p.name() != job.name());
        self.periodic.push(job);
    }

    /// The handler of `kind`.
    pub fn handler(&self, kind: &str) -> Option<&Arc<dyn JobHandler<S>>> {
        self.handlers.get(kind)
    }

    /// Every registered kind, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    /// Every registered periodic job.
    pub fn periodic(&self) -> &[Arc<dyn PeriodicJob<S>>] {
        &self.periodic
    }
}

/// A periodic job: a name, how often, and what one run does.
#[async_trait]
pub trait PeriodicJob<S: Sync>: Send + Sync {
    /// Stable name (the `periodic_jobs` key, at most 64 bytes), e.g.
    /// `payments.expire_deposits`.
    fn name(&self) -> &'static str;

    /// Time between runs.
    fn interval(&self) -> Duration;

    /// One run, across tenants (open each tenant's transaction for what it changes).
    /// Returns how many items it handled, for the log.
    async fn run(&self, st: &S, scheduled_for: DateTime<Utc>) -> Result<usize, ApiError>;
}
