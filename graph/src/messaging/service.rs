//! Messaging services: threads, sends, settings, templates, usage. Every write is one
//! transaction; an outbound text is a `messages` row and its `sms.send` job, written
//! together.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entities::{
    MessageDirection, MessageKind, MessageStatus, conversation, customer, message,
    message_template, messaging_settings, tenant,
};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::context::RequestCtx;
use crate::customers::service::{CleanCustomer, find_or_create_by_phone};
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::{Envelope, MessageEventKind};
use crate::jobs::{self, Job};
use crate::messaging::templates::{self, QuietHours};
use crate::pagination::{PageArgs, Slice, paginate};
use crate::platform::Plan;
use crate::state::GraphState;
use crate::util::{new_id, normalize_phone, now};

/// Job kind that sends one `messages` row.
pub const SEND_JOB: &str = "sms.send";
/// Longest text, in characters (Twilio: 1,600 per request).
pub const MAX_BODY_CHARS: usize = integrations::sms::MAX_BODY_CHARS;
/// Most reminder offsets a tenant may set.
pub const MAX_REMINDERS: usize = 3;
/// Longest HELP answer, in characters (two SMS segments).
pub const MAX_HELP_CHARS: usize = 320;
/// Default reminder offset, hours before the start.
pub const DEFAULT_REMINDER_HOURS: i32 = 24;

/// A tenant's messaging preferences (the stored row, or the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Whether automatic messages are sent.
    pub automatic: bool,
    /// Quiet hours for automatic messages.
    pub quiet: QuietHours,
    /// Reminder offsets, hours before the start (1–168 each, at most 3).
    pub reminder_hours: Vec<i32>,
    /// Answer to HELP/INFO.
    pub help_text: String,
}

impl Settings {
    /// The defaults for a business named `business`.
    pub fn defaults(business: &str) -> Settings {
        Settings {
            automatic: true,
            quiet: QuietHours::DEFAULT,
            reminder_hours: vec![DEFAULT_REMINDER_HOURS],
            help_text: format!(
                "{business}: reply to this number to reach us. Reply STOP to unsubscribe."
            ),
        }
    }
}

/// The tenant's settings, or the defaults.
pub async fn settings(tx: &Tx, t: &tenant::Model) -> Result<Settings, ApiError> {
    let Some(row) = messaging_settings::Entity::find_by_id(t.id)
        .one(&**tx)
        .await?
    else {
        return Ok(Settings::defaults(&t.name));
    };
    Ok(Settings {
        automatic: row.automatic_messages,
        quiet: QuietHours {
            start_minute: row.quiet_start_minute.clamp(0, 1439) as u32,
            end_minute: row.quiet_end_minute.clamp(0, 1439) as u32,
        },
        reminder_hours: row
            .reminder_hours
            .split(',')
            .filter_map(|h| h.trim().parse().ok())
            .collect(),
        help_text: row.help_text,
    })
}

/// The thread with `phone` (E.164), created when missing, linked to `customer_id` or to
/// the customer with that number — a lead customer is created for an unknown number
/// when `create_lead`. Safe under concurrency (unique tenant + phone).
pub async fn thread_for_phone(
    tx: &Tx,
    phone: &str,
    customer_id: Option<Uuid>,
    create_lead: bool,
) -> Result<conversation::Model, ApiError> {
    let tenant_id = tx.tenant_id();
    if let Some(c) = scoped::<conversation::Entity>(tenant_id)
        .filter(conversation::Column::Phone.eq(phone))
        .one(&**tx)
        .await?
    {
        if c.customer_id.is_none() && customer_id.is_some() {
            return Ok(conversation::ActiveModel {
                customer_id: Set(customer_id),
                ..c.into()
            }
            .update(&**tx)
            .await?);
        }
        return Ok(c);
    }
    let customer_id = match customer_id {
        Some(id) => Some(id),
        None => {
            let known = scoped::<customer::Entity>(tenant_id)
                .filter(customer::Column::Phone.eq(phone))
                .one(&**tx)
                .await?;
            match known {
                Some(c) => Some(c.id),
                None if create_lead => Some(
                    find_or_create_by_phone(
                        tx,
                        CleanCustomer {
                            name: format!("Lead {phone}"),
                            phone: Some(phone.to_string()),
                            email: None,
                            address: None,
                            notes: Some("Lead: created from an inbound text message.".into()),
                        },
                    )
                    .await?
                    .id,
                ),
                None => None,
            }
        }
    };
    let at = now();
    conversation::Entity::insert(conversation::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id),
        phone: Set(phone.to_string()),
        customer_id: Set(customer_id),
        opted_out_at: Set(None),
        unread_count: Set(0),
        last_message_at: Set(at),
        created_at: Set(at),
    })
    .on_conflict_do_nothing_on([conversation::Column::TenantId, conversation::Column::Phone])
    .exec_without_returning(&**tx)
    .await?;
    scoped::<conversation::Entity>(tenant_id)
        .filter(conversation::Column::Phone.eq(phone))
        .one(&**tx)
        .await?
        .ok_or(ApiError::Internal(
            "conversation vanished after upsert".into(),
        ))
}

/// Start of the calendar month (UTC) containing `at`.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(at)
}

/// Outbound texts this month (UTC) that count against the quota: those a delivering
/// provider took (not skipped, not logged) and, with `include_queued` (the tenant's
/// provider delivers), those still waiting in the queue.
pub async fn used_this_month(tx: &Tx, include_queued: bool) -> Result<u64, ApiError> {
    let mut excluded = vec![MessageStatus::Skipped, MessageStatus::Logged];
    if !include_queued {
        excluded.push(MessageStatus::Queued);
    }
    Ok(scoped::<message::Entity>(tx.tenant_id())
        .filter(message::Column::Direction.eq(MessageDirection::Outbound))
        .filter(message::Column::Kind.ne(MessageKind::Keyword))
        .filter(message::Column::CreatedAt.gte(month_start(now())))
        .filter(message::Column::Status.is_not_in(excluded))
        .count(&**tx)
        .await?)
}

/// The monthly quota of the tenant's plan.
pub fn quota_of(st: &GraphState, t: &tenant::Model) -> i64 {
    st.platform.sms.quota(Plan::parse(&t.plan))
}

/// Whether the tenant's SMS provider really sends (Twilio) rather than logs.
pub async fn delivers(st: &GraphState, tenant_id: Uuid) -> bool {
    match st.registry.tenant(tenant_id).await {
        Ok(p) => p.sms.as_ref().is_some_and(|s| s.delivers()),
        Err(_) => false,
    }
}

/// A new message row of `thread` with no links (booking, job, user, media) and no
/// provider id yet; callers set what applies before inserting.
pub fn new_row(
    tenant_id: Uuid,
    thread: Uuid,
    direction: MessageDirection,
    kind: MessageKind,
    body: String,
    status: MessageStatus,
) -> message::ActiveModel {
    let at = now();
    message::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id),
        conversation_id: Set(thread),
        direction: Set(direction),
        body: Set(body),
        status: Set(status),
        kind: Set(kind),
        provider_sid: Set(None),
        error_code: Set(None),
        booking_id: Set(None),
        job_id: Set(None),
        sent_by_user_id: Set(None),
        media_urls: Set(None),
        send_started_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// Inserts a manual outbound text in `thread`, written by `user_id`, with its send job.
async fn queue_manual(
    tx: &Tx,
    thread: &conversation::Model,
    body: String,
    user_id: Option<Uuid>,
) -> Result<message::Model, ApiError> {
    let mut row = new_row(
        tx.tenant_id(),
        thread.id,
        MessageDirection::Outbound,
        MessageKind::Manual,
        body,
        MessageStatus::Queued,
    );
    let id = *row.id.as_ref();
    let at = *row.created_at.as_ref();
    row.sent_by_user_id = Set(user_id);
    let job = Job::new(SEND_JOB, json!({ "message_id": id }));
    row.job_id = Set(Some(jobs::enqueue(tx, job).await?));
    let m = row.insert(&**tx).await?;
    touch(tx, thread.id, at, false).await?;
    Ok(m)
}

/// Moves a thread's `last_message_at` to `at` and, for an inbound text, bumps its
/// unread count.
pub async fn touch(tx: &Tx, thread: Uuid, at: DateTime<Utc>, unread: bool) -> Result<(), ApiError> {
    let mut q = conversation::Entity::update_many()
        .col_expr(conversation::Column::LastMessageAt, Expr::value(at))
        .filter(conversation::Column::TenantId.eq(tx.tenant_id()))
        .filter(conversation::Column::Id.eq(thread));
    if unread {
        q = q.col_expr(
            conversation::Column::UnreadCount,
            Expr::col(conversation::Column::UnreadCount).add(1),
        );
    }
    q.exec(&**tx).await?;
    Ok(())
}

/// Sets or clears a thread's opt-out.
pub async fn set_opt_out(tx: &Tx, thread: Uuid, out: bool) -> Result<(), ApiError> {
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::OptedOutAt,
            Expr::value(if out { Some(now()) } else { None }),
        )
        .filter(conversation::Column::TenantId.eq(tx.tenant_id()))
        .filter(conversation::Column::Id.eq(thread))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// What `sendMessage` is asked.
#[derive(Debug, Clone)]
pub struct SendInput {
    /// The thread, or …
    pub conversation_id: Option<Uuid>,
    /// … the customer (their phone number's thread).
    pub customer_id: Option<Uuid>,
    /// The text.
    pub body: String,
}

/// `sendMessage`: queues a manual text. User errors: `INVALID_INPUT` (body, neither or
/// both targets), `NOT_FOUND`, `INVALID_PHONE` (the customer has no mobile number),
/// `RECIPIENT_OPTED_OUT`, `QUOTA_EXCEEDED`.
pub async fn send_manual(
    st: &GraphState,
    rc: &RequestCtx,
    input: SendInput,
) -> Result<Outcome<message::Model>, ApiError> {
    let body = input.body.trim().to_string();
    let chars = body.chars().count();
    if chars == 0 || chars > MAX_BODY_CHARS {
        return Ok(Err(vec![UserError::new(
            Some("body"),
            C::InvalidInput,
            format!("a text has 1–{MAX_BODY_CHARS} characters"),
        )]));
    }
    let delivers = delivers(st, rc.tenant_id).await;
    let tx = st.db.write(rc.tenant_id).await?;
    let thread = match (input.conversation_id, input.customer_id) {
        (Some(id), None) => {
            scoped::<conversation::Entity>(rc.tenant_id)
                .filter(conversation::Column::Id.eq(id))
                .one(&*tx)
                .await?
        }
        (None, Some(cid)) => {
            let Some(c) = scoped::<customer::Entity>(rc.tenant_id)
                .filter(customer::Column::Id.eq(cid))
                .one(&*tx)
                .await?
            else {
                return Ok(Err(vec![UserError::new(
                    Some("customerId"),
                    C::NotFound,
                    "no such customer",
                )]));
            };
            let Some(phone) = c.phone.as_deref().and_then(normalize_phone) else {
                return Ok(Err(vec![UserError::new(
                    Some("customerId"),
                    C::InvalidPhone,
                    "the customer has no phone number to text",
                )]));
            };
            Some(thread_for_phone(&tx, &phone, Some(c.id), false).await?)
        }
        _ => {
            return Ok(Err(vec![UserError::new(
                Some("conversationId"),
                C::InvalidInput,
                "give either conversationId or customerId",
            )]));
        }
    };
    let Some(thread) = thread else {
        return Ok(Err(vec![UserError::new(
            Some("conversationId"),
            C::NotFound,
            "no such conversation",
        )]));
    };
    if thread.opted_out_at.is_some() {
        return Ok(Err(vec![UserError::new(
            None,
            C::RecipientOptedOut,
            "this number replied STOP; it can text START to receive messages again",
        )]));
    }
    if delivers {
        let t = tx.tenant().await?;
        let quota = quota_of(st, &t);
        if used_this_month(&tx, true).await? as i64 >= quota {
            return Ok(Err(vec![UserError::new(
                None,
                C::QuotaExceeded,
                format!("this month's {quota} texts are used; upgrade the plan for more"),
            )]));
        }
    }
    let m = queue_manual(&tx, &thread, body, rc.user_id()).await?;
    tx.commit().await?;
    jobs::wake(st);
    st.events
        .publish(Envelope::message(&m, MessageEventKind::MessageSent))
        .await;
    Ok(Ok(m))
}

/// Threads of the tenant, most recent first.
pub async fn conversations(
    st: &GraphState,
    rc: &RequestCtx,
    unread_only: bool,
    args: PageArgs,
) -> Result<Slice<conversation::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let mut q = scoped::<conversation::Entity>(rc.tenant_id)
        .order_by_desc(conversation::Column::LastMessageAt)
        .order_by_desc(conversation::Column::Id);
    if unread_only {
        q = q.filter(conversation::Column::UnreadCount.gt(0));
    }
    let page = paginate(&*tx, q, args).await?;
    tx.commit().await?;
    Ok(page)
}

/// One thread. Errors: `NOT_FOUND`.
pub async fn conversation(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<conversation::Model, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let c = scoped::<conversation::Entity>(rc.tenant_id)
        .filter(conversation::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    tx.commit().await?;
    Ok(c)
}

/// Messages of a thread, oldest first.
pub async fn messages(
    st: &GraphState,
    tenant_id: Uuid,
    thread: Uuid,
    args: PageArgs,
) -> Result<Slice<message::Model>, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let q = scoped::<message::Entity>(tenant_id)
        .filter(message::Column::ConversationId.eq(thread))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id);
    let page = paginate(&*tx, q, args).await?;
    tx.commit().await?;
    Ok(page)
}

/// The newest message of a thread.
pub async fn last_message(
    st: &GraphState,
    tenant_id: Uuid,
    thread: Uuid,
) -> Result<Option<message::Model>, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let m = scoped::<message::Entity>(tenant_id)
        .filter(message::Column::ConversationId.eq(thread))
        .order_by_desc(message::Column::CreatedAt)
        .order_by_desc(message::Column::Id)
        .one(&*tx)
        .await?;
    tx.commit().await?;
    Ok(m)
}

/// `markConversationRead`: zero unread. Errors: `NOT_FOUND`.
pub async fn mark_read(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<conversation::Model, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let c = scoped::<conversation::Entity>(rc.tenant_id)
        .filter(conversation::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let c = conversation::ActiveModel {
        unread_count: Set(0),
        ..c.into()
    }
    .update(&*tx)
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// The tenant's settings (read).
pub async fn read_settings(st: &GraphState, rc: &RequestCtx) -> Result<Settings, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let t = tx.tenant().await?;
    let s = settings(&tx, &t).await?;
    tx.commit().await?;
    Ok(s)
}

/// Changes to the settings (unset fields keep their value).
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    /// Whether automatic messages are sent.
    pub automatic: Option<bool>,
    /// Quiet hours start, `HH:MM` local.
    pub quiet_start: Option<String>,
    /// Quiet hours end, `HH:MM` local.
    pub quiet_end: Option<String>,
    /// Reminder offsets, hours.
    pub reminder_hours: Option<Vec<i32>>,
    /// HELP answer.
    pub help_text: Option<String>,
}

fn minute_of(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `updateMessagingSettings`. User errors: `INVALID_INPUT` per field.
pub async fn update_settings(
    st: &GraphState,
    rc: &RequestCtx,
    input: SettingsInput,
) -> Result<Outcome<Settings>, ApiError> {
    let mut errors = Vec::new();
    let start = input.quiet_start.as_deref().map(minute_of);
    let end = input.quiet_end.as_deref().map(minute_of);
    if matches!(start, Some(None)) {
        errors.push(UserError::new(
            Some("quietHoursStart"),
            C::InvalidInput,
            "use HH:MM, 00:00–23:59",
        ));
    }
    if matches!(end, Some(None)) {
        errors.push(UserError::new(
            Some("quietHoursEnd"),
            C::InvalidInput,
            "use HH:MM, 00:00–23:59",
        ));
    }
    if let Some(h) = &input.reminder_hours
        && (h.len() > MAX_REMINDERS || h.iter().any(|h| !(1..=168).contains(h)))
    {
        errors.push(UserError::new(
            Some("reminderHours"),
            C::InvalidInput,
            format!("at most {MAX_REMINDERS} reminders, each 1–168 hours before the start"),
        ));
    }
    if let Some(t) = &input.help_text
        && (t.trim().is_empty() || t.chars().count() > MAX_HELP_CHARS)
    {
        errors.push(UserError::new(
            Some("helpText"),
            C::InvalidInput,
            format!("1–{MAX_HELP_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let t = tx.tenant().await?;
    let mut s = settings(&tx, &t).await?;
    if let Some(a) = input.automatic {
        s.automatic = a;
    }
    if let Some(Some(m)) = start {
        s.quiet.start_minute = m;
    }
    if let Some(Some(m)) = end {
        s.quiet.end_minute = m;
    }
    if let Some(mut h) = input.reminder_hours {
        h.sort_unstable_by(|a, b| b.cmp(a));
        h.dedup();
        s.reminder_hours = h;
    }
    if let Some(text) = input.help_text {
        s.help_text = text.trim().to_string();
    }
    let row = messaging_settings::ActiveModel {
        tenant_id: Set(rc.tenant_id),
        automatic_messages: Set(s.automatic),
        quiet_start_minute: Set(s.quiet.start_minute as i32),
        quiet_end_minute: Set(s.quiet.end_minute as i32),
        reminder_hours: Set(s
            .reminder_hours
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
        help_text: Set(s.help_text.clone()),
        updated_at: Set(now()),
    };
    messaging_settings::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(messaging_settings::Column::TenantId)
                .update_columns([
                    messaging_settings::Column::AutomaticMessages,
                    messaging_settings::Column::QuietStartMinute,
                    messaging_settings::Column::QuietEndMinute,
                    messaging_settings::Column::ReminderHours,
                    messaging_settings::Column::HelpText,
                    messaging_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(s))
}

/// The body of automatic message `kind` for the tenant: its own template or the
/// default.
pub async fn template(tx: &Tx, kind: MessageKind) -> Result<Option<String>, ApiError> {
    let own = scoped::<message_template::Entity>(tx.tenant_id())
        .filter(message_template::Column::Kind.eq(kind))
        .one(&**tx)
        .await?;
    Ok(own
        .map(|t| t.body)
        .or_else(|| templates::default_body(kind).map(str::to_string)))
}

/// Every automatic kind with its body and whether it is the tenant's own.
pub async fn list_templates(
    st: &GraphState,
    rc: &RequestCtx,
) -> Result<Vec<(MessageKind, String, bool)>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let own = scoped::<message_template::Entity>(rc.tenant_id)
        .all(&*tx)
        .await?;
    tx.commit().await?;
    Ok(AUTOMATIC
        .iter()
        .filter_map(|k| {
            let mine = own.iter().find(|t| t.kind == *k);
            match mine {
                Some(t) => Some((*k, t.body.clone(), true)),
                None => templates::default_body(*k).map(|b| (*k, b.to_string(), false)),
            }
        })
        .collect())
}

/// The kinds of automatic message.
pub const AUTOMATIC: &[MessageKind] = &[
    MessageKind::Confirmation,
    MessageKind::Reminder,
    MessageKind::OnTheWay,
    MessageKind::Rescheduled,
    MessageKind::Canceled,
    MessageKind::PaymentDue,
];

/// `setMessageTemplate`: sets (or, with no body, resets to the default) the template of
/// an automatic kind. User errors: `INVALID_INPUT`.
pub async fn set_template(
    st: &GraphState,
    rc: &RequestCtx,
    kind: MessageKind,
    body: Option<String>,
) -> Result<Outcome<(MessageKind, String, bool)>, ApiError> {
    if !AUTOMATIC.contains(&kind) {
        return Ok(Err(vec![UserError::new(
            Some("kind"),
            C::InvalidInput,
            "only automatic messages have templates",
        )]));
    }
    if let Some(b) = &body
        && let Err(e) = templates::check(b)
    {
        return Ok(Err(vec![UserError::new(Some("body"), C::InvalidInput, e)]));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    message_template::Entity::delete_many()
        .filter(message_template::Column::TenantId.eq(rc.tenant_id))
        .filter(message_template::Column::Kind.eq(kind))
        .exec(&*tx)
        .await?;
    let out = match body {
        Some(b) => {
            let b = b.trim().to_string();
            message_template::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(rc.tenant_id),
                kind: Set(kind),
                body: Set(b.clone()),
                updated_at: Set(now()),
            }
            .insert(&*tx)
            .await?;
            (kind, b, true)
        }
        None => (
            kind,
            templates::default_body(kind)
                .unwrap_or_default()
                .to_string(),
            false,
        ),
    };
    tx.commit().await?;
    Ok(Ok(out))
}

/// This month's texts: used, quota, and whether the provider really delivers.
pub async fn usage(st: &GraphState, rc: &RequestCtx) -> Result<(u64, i64, bool), ApiError> {
    let delivers = delivers(st, rc.tenant_id).await;
    let tx = st.db.read(rc.tenant_id).await?;
    let t = tx.tenant().await?;
    let used = used_this_month(&tx, delivers).await?;
    tx.commit().await?;
    Ok((used, quota_of(st, &t), delivers))
}

/// The on-the-way text of booking `id` (one per booking: a later one replaces it).
fn on_the_way_job(id: Uuid) -> Job {
    Job::new(
        crate::messaging::delivery::AUTO_JOB,
        json!(crate::messaging::delivery::AutoPayload {
            booking_id: id,
            kind: MessageKind::OnTheWay,
            hours: None,
        }),
    )
    .keyed(crate::messaging::hooks::key(
        MessageKind::OnTheWay,
        id,
        None,
    ))
}

/// Schedules `b`'s on-the-way text for `leave_at` (when the staff member sets off for
/// it on an applied route; the text carries the planned arrival as `{eta}`), in `tx`,
/// replacing an earlier one. Nothing is queued — `Ok(false)` — when the tenant turned
/// automatic messages off, `leave_at` has passed, or `b` is not `CONFIRMED`.
pub async fn schedule_on_the_way(
    tx: &Tx,
    b: &entities::booking::Model,
    leave_at: DateTime<Utc>,
) -> Result<bool, ApiError> {
    if b.status != entities::BookingStatus::Confirmed || leave_at <= now() {
        return Ok(false);
    }
    let t = tx.tenant().await?;
    if !settings(tx, &t).await?.automatic {
        return Ok(false);
    }
    jobs::enqueue(tx, on_the_way_job(b.id).at(leave_at)).await?;
    Ok(true)
}

/// `notifyOnTheWay`: texts the booking's customer that the staff member is on the way
/// (now, not held by quiet hours: someone is driving there). Technicians only for their
/// own bookings. Errors: `NOT_FOUND` (not the tenant's, or another technician's).
/// User errors: `INVALID_STATUS_TRANSITION` (only `CONFIRMED` or `IN_PROGRESS`
/// bookings), `INVALID_PHONE` (the customer has no number).
pub async fn notify_on_the_way(
    st: &GraphState,
    rc: &RequestCtx,
    booking_id: Uuid,
) -> Result<Outcome<()>, ApiError> {
    use entities::{BookingStatus, booking};
    let tx = st.db.write(rc.tenant_id).await?;
    let b = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(booking_id))
        .one(&*tx)
        .await?
        .filter(|b| match rc.technician_scope() {
            Some(scope) => scope == Some(b.staff_member_id),
            None => true,
        })
        .ok_or(ApiError::NotFound("booking"))?;
    if !matches!(
        b.status,
        BookingStatus::Confirmed | BookingStatus::InProgress
    ) {
        return Ok(Err(vec![UserError::new(
            Some("bookingId"),
            C::InvalidStatusTransition,
            "only confirmed or in-progress bookings",
        )]));
    }
    let phone = scoped::<customer::Entity>(rc.tenant_id)
        .filter(customer::Column::Id.eq(b.customer_id))
        .one(&*tx)
        .await?
        .and_then(|c| c.phone)
        .and_then(|p| normalize_phone(&p));
    if phone.is_none() {
        return Ok(Err(vec![UserError::new(
            Some("bookingId"),
            C::InvalidPhone,
            "the customer has no phone number to text",
        )]));
    }
    jobs::enqueue(&tx, on_the_way_job(b.id)).await?;
    tx.commit().await?;
    jobs::wake(st);
    Ok(Ok(()))
}
