//! Timing of the job worker and this instance's view of the periodic schedule.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Timing of the job worker (see the README's `JOBS_*` / `OUTBOX_*` settings).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Poll interval when idle.
    pub poll: Duration,
    /// Attempts before dead-lettering.
    pub max_attempts: i32,
    /// First retry delay (doubles per attempt, equal jitter).
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a claim reserves a job (longer than any provider timeout).
    pub lease: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            poll: Duration::from_millis(500),
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
        }
    }
}

/// This instance's view of when each periodic job is next due (saves a database read per
/// worker pass; the database row decides).
#[derive(Default)]
pub struct LocalSchedule {
    next: Mutex<HashMap<&'static str, DateTime<Utc>>>,
}

impl LocalSchedule {
    /// Whether `name` may be due at `at` by this instance's last look.
    pub fn due(&self, name: &'static str, at: DateTime<Utc>) -> bool {
        self.next
            .lock()
            .map(|m| m.get(name).is_none_or(|n| *n <= at))
            .unwrap_or(true)
    }

    /// Records that `name` is next due at `next`.
    pub fn set(&self, name: &'static str, next: DateTime<Utc>) {
        if let Ok(mut m) = self.next.lock() {
            m.insert(name, next);
        }
    }
}
