//! A job to enqueue ([`Job`]) and a job claimed for delivery ([`Claim`]): plain data,
//! shared by the queue, the lifecycle hooks and the domains that build jobs.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// Longest job kind, in bytes (the column is `VARCHAR(64)`).
pub const MAX_KIND_LEN: usize = 64;
/// Longest dedupe key, in bytes (the column is `VARCHAR(255)`).
pub const MAX_KEY_LEN: usize = 255;

/// When a job becomes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// As soon as a worker sees it.
    Now,
    /// At this instant (UTC), e.g. a reminder the day before a booking.
    At(DateTime<Utc>),
    /// Claimed by the request that enqueues it, which delivers it right after committing
    /// ([`deliver_inline`]) because it must show the answer (a checkout URL).
    Inline,
}

/// A job to enqueue: its kind (the registered handler), JSON arguments, when it is due,
/// and an optional dedupe key.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Kind, e.g. `stripe.refund`; a [`JobHandler`] with this kind must be registered.
    pub kind: &'static str,
    /// Arguments of the call, read back by the handler.
    pub payload: Value,
    /// Replaces a pending job of the tenant with the same key (see [`cancel`]).
    pub key: Option<String>,
    /// When it is due.
    pub due: Due,
}

impl Job {
    /// A job of `kind` with `payload`, due now, without a key.
    pub fn new(kind: &'static str, payload: Value) -> Job {
        Job {
            kind,
            payload,
            key: None,
            due: Due::Now,
        }
    }

    /// The same job with a dedupe key.
    pub fn keyed(mut self, key: impl Into<String>) -> Job {
        self.key = Some(key.into());
        self
    }

    /// The same job, due at `at` (UTC).
    pub fn at(mut self, at: DateTime<Utc>) -> Job {
        self.due = Due::At(at);
        self
    }

    /// The same job, claimed by the enqueuing request and delivered by it after commit.
    pub fn inline(mut self) -> Job {
        self.due = Due::Inline;
        self
    }

    /// Checks the kind and key lengths. Errors: `INTERNAL` (a programming error).
    pub fn check(&self) -> Result<(), ApiError> {
        if self.kind.is_empty() || self.kind.len() > MAX_KIND_LEN {
            return Err(ApiError::Internal(format!("bad job kind {:?}", self.kind)));
        }
        if self
            .key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > MAX_KEY_LEN)
        {
            return Err(ApiError::Internal("bad job dedupe key".into()));
        }
        Ok(())
    }
}

/// A job this process has claimed: deliver it with [`deliver_claimed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Tenant of the job.
    pub tenant_id: Uuid,
    /// Job id (the idempotency key).
    pub id: Uuid,
    /// The attempt number the claim holds (fences late writers).
    pub attempt: i32,
}
