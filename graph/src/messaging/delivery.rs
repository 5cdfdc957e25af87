//! Sending texts through the job queue.
//!
//! - `sms.send` (payload `{message_id}`) sends one `messages` row through the tenant's
//!   SMS provider (Twilio, or the built-in log).
//! - `sms.auto` (payload `{booking_id, kind, hours?}`) writes an automatic message of a
//!   booking when it is due — rendered then, so it says what the booking is at that
//!   moment — and sends it the same way. Jobs are keyed by booking and message
//!   (`sms:{kind}:{booking}[:{hours}]`), so rescheduling replaces a reminder and
//!   canceling removes it.
//!
//! **Unknown outcome.** Twilio has no idempotency key for sends. Before each call the
//! message's `send_started_at` is committed, and the `StatusCallback` URL carries our
//! message id (`…/twilio/status?m={id}`). If the server stops between Twilio's answer
//! and our record, the job comes back (its lease lapses) and finds `send_started_at`
//! set without a `MessageSid`: the text may or may not have been accepted. It is not
//! sent again at once; a follow-up job waits `SMS_UNKNOWN_OUTCOME_WAIT_SECS` (default
//! 5 minutes) for Twilio's status callback, which names our id and so records the
//! MessageSid and status. Only if no callback came by then is the text sent again —
//! accepting a rare duplicate over a lost message, since Twilio reports every accepted
//! message's status within seconds.
//!
//! **Pacing.** Sends are paced per sending number (`SMS_SENDS_PER_SECOND`, default 1:
//! Twilio queues about one message per second per long code, 3/s toll-free, 100/s short
//! code) through the shared rate limiter, so several instances share one budget. A send
//! that would exceed it waits up to two seconds, else is retried later.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use entities::{
    BookingStatus, MessageKind, MessageStatus, booking, conversation, customer, message,
    outbox_message, service, staff_member,
};
use integrations::ProviderError;
use integrations::sms::{OutboundSms, SmsProvider};
use sea_orm::prelude::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::events::{Envelope, MessageEventKind};
use crate::jobs::{self, Job, JobHandler};
use crate::limits::Quota;
use crate::messaging::service::{
    self as svc, SEND_JOB, quota_of, set_opt_out, thread_for_phone, used_this_month,
};
use crate::messaging::templates;
use crate::notifications::notify;
use crate::state::GraphState;
use crate::util::{normalize_phone, now};

/// Job kind of an automatic message.
pub const AUTO_JOB: &str = "sms.auto";
/// Notification kind: an automatic text was not sent because the quota is used up.
pub const SMS_QUOTA_EXCEEDED: &str = "SMS_QUOTA_EXCEEDED";
/// Twilio error: the recipient replied STOP
/// (<https://www.twilio.com/docs/api/errors/21610>).
pub const TWILIO_UNSUBSCRIBED: &str = "21610";

/// A database failure inside a job's call: retryable.
pub(crate) fn unavailable(e: ApiError) -> ProviderError {
    ProviderError::Unavailable(format!("database: {e:?}"))
}

/// The tenant's SMS provider.
async fn provider(st: &GraphState, tenant_id: Uuid) -> Result<Arc<dyn SmsProvider>, ProviderError> {
    st.registry
        .tenant(tenant_id)
        .await
        .map_err(ProviderError::Unavailable)?
        .sms
        .clone()
        .ok_or_else(|| ProviderError::InvalidInput("no SMS provider".into()))
}

/// Maps a provider status (Twilio `MessageStatus`) to ours.
pub fn status_of(provider_status: &str) -> Option<MessageStatus> {
    Some(match provider_status {
        "accepted" | "scheduled" | "queued" | "sending" => MessageStatus::Sending,
        "sent" => MessageStatus::Sent,
        "delivered" | "read" => MessageStatus::Delivered,
        "undelivered" => MessageStatus::Undelivered,
        "failed" | "canceled" => MessageStatus::Failed,
        "logged" => MessageStatus::Logged,
        _ => return None,
    })
}

/// Sends message `id` of `tenant_id` (the `call` of both job kinds). Returns the
/// summary `apply` records.
async fn send_row(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Value, ProviderError> {
    let db = |e: sea_orm::DbErr| unavailable(e.into());
    let tx = st.db.read(tenant_id).await.map_err(unavailable)?;
    let Some(m) = scoped::<message::Entity>(tenant_id)
        .filter(message::Column::Id.eq(id))
        .one(&*tx)
        .await
        .map_err(db)?
    else {
        return Ok(json!({ "skipped": "message gone" }));
    };
    let thread = scoped::<conversation::Entity>(tenant_id)
        .filter(conversation::Column::Id.eq(m.conversation_id))
        .one(&*tx)
        .await
        .map_err(db)?
        .ok_or_else(|| ProviderError::InvalidInput("conversation gone".into()))?;
    let t = tx.tenant().await.map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    if m.status != MessageStatus::Queued || m.provider_sid.is_some() {
        return Ok(json!({ "message_id": id, "already": true }));
    }
    if let Some(started) = m.send_started_at {
        let wait = chrono::Duration::from_std(st.platform.sms.unknown_outcome_wait)
            .unwrap_or(chrono::Duration::MAX);
        if now() < started + wait {
            tracing::warn!(message_id = %id, "SMS send outcome unknown; waiting for the status callback");
            return Ok(json!({ "message_id": id, "recheck_at": (started + wait).to_rfc3339() }));
        }
        tracing::warn!(message_id = %id, "no status callback after an unknown outcome; sending again");
    }
    if thread.opted_out_at.is_some() {
        return Ok(json!({ "message_id": id, "skip": "OPTED_OUT" }));
    }
    let sms = provider(st, tenant_id).await?;
    pace(st, &sms.sender()).await?;
    // Committed before the call: a retry after a crash sees that the outcome is unknown.
    // Conditional on the row being unchanged, so a concurrent send or callback wins.
    let tx = st.db.write(tenant_id).await.map_err(unavailable)?;
    let mut claim = message::Entity::update_many()
        .col_expr(message::Column::SendStartedAt, Expr::value(Some(now())))
        .filter(message::Column::TenantId.eq(tenant_id))
        .filter(message::Column::Id.eq(id))
        .filter(message::Column::Status.eq(MessageStatus::Queued))
        .filter(message::Column::ProviderSid.is_null());
    claim = match m.send_started_at {
        Some(at) => claim.filter(message::Column::SendStartedAt.eq(at)),
        None => claim.filter(message::Column::SendStartedAt.is_null()),
    };
    let claimed = claim.exec(&*tx).await.map_err(db)?.rows_affected;
    tx.commit().await.map_err(unavailable)?;
    if claimed == 0 {
        return Ok(json!({ "message_id": id, "already": true }));
    }
    let callback = sms.delivers().then(|| {
        format!(
            "{}/webhooks/{}/twilio/status?m={}",
            st.platform.public_base_url, t.slug, id
        )
    });
    let sent = sms
        .send(&OutboundSms {
            to: thread.phone.clone(),
            body: m.body.clone(),
            status_callback: callback,
        })
        .await?;
    Ok(json!({ "message_id": id, "sid": sent.sid, "status": sent.status }))
}

/// Waits for the sending number's pace (at most ~2 s), else asks for a retry.
async fn pace(st: &GraphState, sender: &str) -> Result<(), ProviderError> {
    let quota = Quota {
        count: st.platform.sms.sends_per_second.max(1),
        period: Duration::from_secs(1),
    };
    let key = format!("sms:{sender}");
    for _ in 0..4 {
        match st.limiter.charge(&key, quota, 1).await {
            Ok(()) => return Ok(()),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    Err(ProviderError::Unavailable(
        "sending number busy (paced)".into(),
    ))
}

/// Records a send's summary in `tx`: the MessageSid and status (forward only), a skip,
/// or the follow-up job that waits out an unknown outcome.
async fn record(st: &GraphState, tx: &Tx, result: &Value) -> Result<(), ApiError> {
    if result.get("email_id").is_some() {
        return super::email::record(tx, result).await;
    }
    let Some(id) = result
        .get("message_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Uuid>().ok())
    else {
        return Ok(());
    };
    if let Some(at) = result.get("recheck_at").and_then(Value::as_str) {
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|_| now());
        jobs::enqueue(
            tx,
            Job::new(SEND_JOB, json!({ "message_id": id }))
                .keyed(format!("sms:recheck:{id}"))
                .at(at),
        )
        .await?;
        return Ok(());
    }
    let Some(m) = scoped::<message::Entity>(tx.tenant_id())
        .filter(message::Column::Id.eq(id))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    let (status, sid, code) = if let Some(reason) = result.get("skip").and_then(Value::as_str) {
        (MessageStatus::Skipped, None, Some(reason.to_string()))
    } else if let Some(sid) = result.get("sid").and_then(Value::as_str) {
        let s = result
            .get("status")
            .and_then(Value::as_str)
            .and_then(status_of)
            .unwrap_or(MessageStatus::Sending);
        (s, Some(sid.to_string()), None)
    } else {
        return Ok(());
    };
    let moved = status.rank() > m.status.rank();
    if !moved && (sid.is_none() || m.provider_sid.is_some()) {
        return Ok(());
    }
    let updated = message::ActiveModel {
        status: Set(if moved { status } else { m.status }),
        provider_sid: Set(m.provider_sid.clone().or(sid)),
        error_code: Set(code.or(m.error_code.clone())),
        updated_at: Set(now()),
        ..m.into()
    }
    .update(&**tx)
    .await?;
    st.events
        .publish(Envelope::message(&updated, MessageEventKind::StatusChanged))
        .await;
    Ok(())
}

/// A send the provider refused for good: the message failed; Twilio 21610 opts the
/// number out.
async fn refused(
    st: &GraphState,
    tx: &Tx,
    message_id: Option<Uuid>,
    err: &ProviderError,
) -> Result<(), ApiError> {
    let Some(id) = message_id else {
        return Ok(());
    };
    let Some(m) = scoped::<message::Entity>(tx.tenant_id())
        .filter(message::Column::Id.eq(id))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    let code = error_code(err);
    if code == TWILIO_UNSUBSCRIBED {
        set_opt_out(tx, m.conversation_id, true).await?;
    }
    if m.status.rank() >= MessageStatus::Delivered.rank() {
        return Ok(());
    }
    let updated = message::ActiveModel {
        status: Set(MessageStatus::Failed),
        error_code: Set(Some(code)),
        updated_at: Set(now()),
        ..m.into()
    }
    .update(&**tx)
    .await?;
    st.events
        .publish(Envelope::message(&updated, MessageEventKind::StatusChanged))
        .await;
    Ok(())
}

/// The code recorded for a failed send: the provider's own code, else the kind of
/// failure.
pub fn error_code(err: &ProviderError) -> String {
    match err {
        ProviderError::Rejected { code } => code.clone(),
        ProviderError::Timeout => "TIMEOUT".into(),
        ProviderError::Unavailable(_) => "UNAVAILABLE".into(),
        ProviderError::InvalidInput(_) => "INVALID_INPUT".into(),
    }
}

fn message_id(job: &outbox_message::Model) -> Option<Uuid> {
    serde_json::from_str::<Value>(&job.payload)
        .ok()?
        .get("message_id")?
        .as_str()?
        .parse()
        .ok()
}

/// `sms.send`: sends one queued message.
pub struct SendHandler;

#[async_trait]
impl JobHandler<GraphState> for SendHandler {
    fn kind(&self) -> &'static str {
        SEND_JOB
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let id = message_id(job).ok_or_else(|| ProviderError::InvalidInput("payload".into()))?;
        send_row(st, job.tenant_id, id).await
    }

    async fn apply(
        &self,
        st: &GraphState,
        tx: &Tx,
        _job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        record(st, tx, result).await
    }

    async fn dead(
        &self,
        st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        refused(st, tx, message_id(job), err).await
    }
}

/// The payload of an `sms.auto` job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AutoPayload {
    /// The booking.
    pub booking_id: Uuid,
    /// Which message.
    pub kind: MessageKind,
    /// For reminders: hours before the start.
    #[serde(default)]
    pub hours: Option<i32>,
}

/// `sms.auto`: writes an automatic message of a booking when due, then sends it.
pub struct AutoHandler;

/// What an automatic message job sends next.
enum Next {
    /// This text (`messages` row).
    Text(Uuid),
    /// This email (`emails` row): the customer has no mobile number.
    Email(Uuid),
}

/// Writes (once per job) the automatic message of `p` — a text, or an email when the
/// customer has no usable phone number but an email address — or records why it is
/// skipped. Returns what to send, if anything.
async fn write_auto(
    st: &GraphState,
    job: &outbox_message::Model,
    p: &AutoPayload,
) -> Result<Option<Next>, ApiError> {
    let tenant_id = job.tenant_id;
    let delivers = svc::delivers(st, tenant_id).await;
    let tx = st.db.write(tenant_id).await?;
    if let Some(m) = scoped::<message::Entity>(tenant_id)
        .filter(message::Column::JobId.eq(job.id))
        .one(&*tx)
        .await?
    {
        tx.commit().await?;
        return Ok((m.status == MessageStatus::Queued).then_some(Next::Text(m.id)));
    }
    if let Some(e) = scoped::<entities::email::Entity>(tenant_id)
        .filter(entities::email::Column::JobId.eq(job.id))
        .one(&*tx)
        .await?
    {
        tx.commit().await?;
        return Ok((e.status == MessageStatus::Queued).then_some(Next::Email(e.id)));
    }
    let Some(b) = scoped::<booking::Entity>(tenant_id)
        .filter(booking::Column::Id.eq(p.booking_id))
        .one(&*tx)
        .await?
    else {
        return Ok(None);
    };
    // The booking moved on since the job was written: nothing to say.
    let stale = match p.kind {
        MessageKind::Confirmation | MessageKind::Reminder => {
            !matches!(b.status, BookingStatus::Pending | BookingStatus::Confirmed)
                || (p.kind == MessageKind::Reminder && b.starts_at <= now())
        }
        MessageKind::OnTheWay => !matches!(
            b.status,
            BookingStatus::Confirmed | BookingStatus::InProgress
        ),
        MessageKind::Rescheduled => b.status == BookingStatus::Canceled,
        MessageKind::Canceled => b.status != BookingStatus::Canceled,
        MessageKind::PaymentDue => b.status != BookingStatus::Completed,
        MessageKind::Manual | MessageKind::Keyword | MessageKind::Voicemail => true,
    };
    if stale {
        return Ok(None);
    }
    let t = tx.tenant().await?;
    let settings = svc::settings(&tx, &t).await?;
    if !settings.automatic {
        return Ok(None);
    }
    let Some(c) = scoped::<customer::Entity>(tenant_id)
        .filter(customer::Column::Id.eq(b.customer_id))
        .one(&*tx)
        .await?
    else {
        return Ok(None);
    };
    let phone = c.phone.as_deref().and_then(normalize_phone);
    let email = c.email.as_deref().and_then(crate::util::normalize_email);
    if phone.is_none() && email.is_none() {
        return Ok(None);
    }
    let money = crate::ledger::Totals::of(&crate::ledger::payments_of(&tx, b.id).await?)
        .balance(b.price_cents);
    if p.kind == MessageKind::PaymentDue && money <= 0 {
        return Ok(None);
    }
    let svc_name = scoped::<service::Entity>(tenant_id)
        .filter(service::Column::Id.eq(b.service_id))
        .one(&*tx)
        .await?
        .map(|s| s.name)
        .unwrap_or_default();
    let staff = scoped::<staff_member::Entity>(tenant_id)
        .filter(staff_member::Column::Id.eq(b.staff_member_id))
        .one(&*tx)
        .await?
        .map(|s| s.name)
        .unwrap_or_default();
    let tz: chrono_tz::Tz = t.timezone.parse().unwrap_or(chrono_tz::UTC);
    let Some(body) = svc::template(&tx, p.kind).await? else {
        return Ok(None);
    };
    let first_name = c.name.split_whitespace().next().unwrap_or("").to_string();
    let body = templates::render(
        &body,
        &[
            ("customer_name", first_name),
            ("business", t.name.clone()),
            ("service", svc_name),
            ("start", templates::local_start(b.starts_at, tz)),
            ("staff_member", staff),
            ("address", b.address.clone().unwrap_or_default()),
            ("amount_due", templates::money(money, &b.currency)),
            ("eta", templates::eta(b.planned_arrival_at, tz)),
        ],
    );
    let Some(phone) = phone else {
        let Some(to) = email else {
            return Ok(None);
        };
        let subject = super::email::subject(p.kind, &t.name);
        let id = super::email::queue(&tx, c.id, &to, subject, body, p.kind, b.id, job.id).await?;
        tx.commit().await?;
        return Ok(Some(Next::Email(id)));
    };
    let body: String = body.chars().take(svc::MAX_BODY_CHARS).collect();
    let thread = thread_for_phone(&tx, &phone, Some(c.id), false).await?;
    let skip = if thread.opted_out_at.is_some() {
        Some("OPTED_OUT")
    } else if delivers && used_this_month(&tx, true).await? as i64 >= quota_of(st, &t) {
        Some("QUOTA_EXCEEDED")
    } else {
        None
    };
    if skip == Some("QUOTA_EXCEEDED") {
        notify(
            &tx,
            SMS_QUOTA_EXCEEDED,
            "An automatic text was not sent: this month's text quota is used up.",
            Some(b.id),
            None,
        )
        .await?;
    }
    let status = if skip.is_some() {
        MessageStatus::Skipped
    } else {
        MessageStatus::Queued
    };
    let mut row = svc::new_row(
        tenant_id,
        thread.id,
        entities::MessageDirection::Outbound,
        p.kind,
        body,
        status,
    );
    let at = *row.created_at.as_ref();
    row.error_code = Set(skip.map(str::to_string));
    row.booking_id = Set(Some(b.id));
    row.job_id = Set(Some(job.id));
    let m = row.insert(&*tx).await?;
    svc::touch(&tx, thread.id, at, false).await?;
    tx.commit().await?;
    st.events
        .publish(Envelope::message(&m, MessageEventKind::MessageSent))
        .await;
    Ok(skip.is_none().then_some(Next::Text(m.id)))
}

#[async_trait]
impl JobHandler<GraphState> for AutoHandler {
    fn kind(&self) -> &'static str {
        AUTO_JOB
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let p: AutoPayload = serde_json::from_str(&job.payload)
            .map_err(|_| ProviderError::InvalidInput("payload".into()))?;
        match write_auto(st, job, &p).await.map_err(unavailable)? {
            Some(Next::Text(id)) => send_row(st, job.tenant_id, id).await,
            Some(Next::Email(id)) => super::email::send(st, job.tenant_id, id).await,
            None => Ok(json!({ "skipped": true })),
        }
    }

    async fn apply(
        &self,
        st: &GraphState,
        tx: &Tx,
        _job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        record(st, tx, result).await
    }

    async fn dead(
        &self,
        st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        err: &ProviderError,
    ) -> Result<(), ApiError> {
        super::email::failed(tx, job.id, err).await?;
        let m = scoped::<message::Entity>(tx.tenant_id())
            .filter(message::Column::JobId.eq(job.id))
            .one(&**tx)
            .await?;
        refused(st, tx, m.map(|m| m.id), err).await
    }
}
