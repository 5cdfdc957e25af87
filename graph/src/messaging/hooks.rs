//! How messaging follows the booking lifecycle ([`BookingHook`]): automatic texts are
//! `sms.auto` jobs keyed by booking and message, enqueued in the booking's own
//! transaction.
//!
//! - **created**: a confirmation now, and a reminder at each offset (default 24 h)
//!   before the start;
//! - **rescheduled**: a "moved" text now, and every reminder replaced (same key) at its
//!   new time;
//! - **canceled**: every pending reminder and confirmation removed, a "canceled" text
//!   sent;
//! - **completed**: payment reminders 7 and 14 days later (sent only if a balance is
//!   still due then).
//!
//! Every due time is moved out of the tenant's quiet hours. A reminder whose time has
//! already passed when it is scheduled is sent now if the booking is more than an hour
//! away, and skipped otherwise (a "reminder" minutes before the start only annoys); one
//! that quiet hours would push past the start is skipped. A customer without a mobile
//! number gets them by email; nothing is queued for a customer with neither, or when the
//! tenant turned automatic messages off.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entities::{BookingStatus, MessageKind, booking, customer};
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::json;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::jobs::{self, Job};
use crate::lifecycle::{BookingChange, BookingHook, HookOutput};
use crate::messaging::delivery::{AUTO_JOB, AutoPayload};
use crate::messaging::service::{self as svc, Settings};
use crate::state::GraphState;
use crate::util::{normalize_email, normalize_phone, now};

/// Days after completion at which an unpaid balance is reminded.
pub const PAYMENT_DUE_DAYS: &[i64] = &[7, 14];
/// A late reminder is still sent when the start is at least this far away.
pub const LATE_REMINDER_MIN_LEAD: Duration = Duration::hours(1);

/// Messaging's booking hook.
pub struct MessagingHook;

/// Short name of an automatic kind inside job keys (letters only: keys are matched by
/// prefix).
fn key_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Confirmation => "confirmation",
        MessageKind::Reminder => "reminder",
        MessageKind::OnTheWay => "ontheway",
        MessageKind::Rescheduled => "rescheduled",
        MessageKind::Canceled => "canceled",
        MessageKind::PaymentDue => "paymentdue",
        MessageKind::Manual => "manual",
        MessageKind::Keyword => "keyword",
        MessageKind::Voicemail => "voicemail",
    }
}

/// The dedupe key of an automatic message of a booking: `sms:{kind}:{booking}` or, for
/// reminders and payment reminders, `sms:{kind}:{booking}:{offset}`.
pub fn key(kind: MessageKind, booking: uuid::Uuid, extra: Option<i64>) -> String {
    match extra {
        Some(x) => format!("sms:{}:{booking}:{x}", key_name(kind)),
        None => format!("sms:{}:{booking}", key_name(kind)),
    }
}

fn job(b: &booking::Model, kind: MessageKind, hours: Option<i32>, at: DateTime<Utc>) -> Job {
    let payload = AutoPayload {
        booking_id: b.id,
        kind,
        hours,
    };
    Job::new(AUTO_JOB, json!(payload))
        .keyed(key(kind, b.id, hours.map(i64::from)))
        .at(at)
}

/// The reminders of `b` under `s`, at their (quiet-adjusted) times.
fn reminders(b: &booking::Model, s: &Settings, tz: Tz, at: DateTime<Utc>) -> Vec<Job> {
    let mut out = Vec::new();
    for &h in &s.reminder_hours {
        let mut due = b.starts_at - Duration::hours(i64::from(h));
        if due < at {
            if b.starts_at - at < LATE_REMINDER_MIN_LEAD {
                continue;
            }
            due = at;
        }
        let due = s.quiet.next_allowed(due, tz);
        if due >= b.starts_at {
            continue;
        }
        out.push(job(b, MessageKind::Reminder, Some(h), due));
    }
    out
}

/// Removes every pending automatic message of `b` that only makes sense while it is
/// upcoming (its confirmation, its scheduled on-the-way text, and its reminders
/// whatever their offset).
async fn cancel_upcoming(tx: &Tx, b: &booking::Model) -> Result<(), ApiError> {
    jobs::cancel(tx, &key(MessageKind::Confirmation, b.id, None)).await?;
    // An on-the-way text scheduled by an applied route belongs to the old time.
    jobs::cancel(tx, &key(MessageKind::OnTheWay, b.id, None)).await?;
    jobs::cancel_prefix(
        tx,
        &format!("sms:{}:{}:", key_name(MessageKind::Reminder), b.id),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl BookingHook<GraphState> for MessagingHook {
    fn name(&self) -> &'static str {
        "messaging"
    }

    async fn on_booking(
        &self,
        _st: &GraphState,
        tx: &Tx,
        b: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError> {
        let t = tx.tenant().await?;
        let s = svc::settings(tx, &t).await?;
        if matches!(change, BookingChange::Canceled { .. }) {
            // Reminders go even when messages were switched off since.
            cancel_upcoming(tx, b).await?;
        }
        if !s.automatic {
            return Ok(HookOutput::none());
        }
        let reachable = scoped::<customer::Entity>(t.id)
            .filter(customer::Column::Id.eq(b.customer_id))
            .one(&**tx)
            .await?
            .is_some_and(|c| {
                c.phone.as_deref().and_then(normalize_phone).is_some()
                    || c.email.as_deref().and_then(normalize_email).is_some()
            });
        if !reachable {
            return Ok(HookOutput::none());
        }
        let tz: Tz = t.timezone.parse().unwrap_or(chrono_tz::UTC);
        let at = now();
        let soon = s.quiet.next_allowed(at, tz);
        let jobs = match change {
            BookingChange::Created { .. } => {
                let mut v = vec![job(b, MessageKind::Confirmation, None, soon)];
                v.extend(reminders(b, &s, tz, at));
                v
            }
            BookingChange::Rescheduled { .. } => {
                cancel_upcoming(tx, b).await?;
                let mut v = vec![job(b, MessageKind::Rescheduled, None, soon)];
                v.extend(reminders(b, &s, tz, at));
                v
            }
            BookingChange::Canceled { .. } => {
                if b.starts_at > at {
                    vec![job(b, MessageKind::Canceled, None, soon)]
                } else {
                    Vec::new()
                }
            }
            BookingChange::StatusChanged { .. } if b.status == BookingStatus::Completed => {
                PAYMENT_DUE_DAYS
                    .iter()
                    .map(|d| {
                        let due = s.quiet.next_allowed(at + Duration::days(*d), tz);
                        let mut j = job(b, MessageKind::PaymentDue, None, due);
                        j.key = Some(key(MessageKind::PaymentDue, b.id, Some(*d)));
                        j
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(HookOutput::jobs(jobs))
    }
}
