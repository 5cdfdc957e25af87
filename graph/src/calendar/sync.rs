//! Import: events of the calendars a staff member reads become busy blocks.
//!
//! - `gcal.sync` (one job per calendar, coalesced by its dedupe key): a full sync lists
//!   `[now − 1 day, now + window)` with `singleEvents=true` (recurring events arrive as
//!   instances) following `nextPageToken`, and replaces the calendar's busy blocks with
//!   what it found; an incremental sync sends the stored `syncToken` and applies the
//!   changes. `nextSyncToken` comes on the last page only and is stored when the whole
//!   listing has been applied. `410 Gone` drops the token and syncs fully (our own data —
//!   bookings, exported events — is not touched).
//! - Ignored: cancelled events (removed), `transparency: transparent` (shown as free),
//!   events the owner declined, and our own exported bookings
//!   (`extendedProperties.private.servicegraphBookingId`). Timed events carry their
//!   offset; all-day events (`date`, end exclusive) run from local midnight to local
//!   midnight in the calendar's zone.
//! - The apply step runs under the tenant's schedule lock, the same lock a booking takes
//!   to check availability: a booking either commits before the import (and the import
//!   records the event anyway: it is the operator's own), or sees the busy block.
//! - `gcal.watch` opens (or renews, or stops) a calendar's push channel; the periodic job
//!   `calendar.sync` (every 15 minutes) enqueues an incremental sync per calendar and
//!   renews channels that expire within a day, so a missed notification costs at most
//!   one period.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use entities::{calendar_busy_block, calendar_calendar, calendar_connection, outbox_message};
use integrations::ProviderError;
use integrations::google_calendar::{Event, EventTime, EventsQuery, GoogleError, WatchRequest};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Set, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::google::{self, CONNECTED, db_unavailable, job_setup, with_token};
use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::jobs::{self, Job, JobHandler, PeriodicJob};
use crate::routes;
use crate::state::GraphState;
use crate::util::{new_id, now};

/// Job kind of a calendar import.
pub const SYNC_JOB: &str = "gcal.sync";
/// Job kind of a push channel (open, renew, stop).
pub const WATCH_JOB: &str = "gcal.watch";
/// Route provider of push channel ids.
pub const CHANNEL_ROUTE: &str = "google_channel";
/// Private extended property marking our exported bookings.
pub const BOOKING_PROPERTY: &str = "servicegraphBookingId";
/// Most pages one sync reads (250 events each): a runaway calendar stops here and the
/// next sync continues from a fresh full listing.
const MAX_PAGES: usize = 200;

/// The import job of calendar row `calendar_row_id` (coalesced per calendar).
pub fn sync_job(calendar_row_id: Uuid, full: bool) -> Job {
    Job::new(
        SYNC_JOB,
        json!({"calendar": calendar_row_id.to_string(), "full": full}),
    )
    .keyed(format!("{SYNC_JOB}:{calendar_row_id}"))
}

/// The channel job of calendar row `calendar_row_id` (coalesced per calendar).
pub fn watch_job(calendar_row_id: Uuid) -> Job {
    Job::new(WATCH_JOB, json!({"calendar": calendar_row_id.to_string()}))
        .keyed(format!("{WATCH_JOB}:{calendar_row_id}"))
}

fn calendar_arg(job: &outbox_message::Model) -> Result<(Uuid, bool), ProviderError> {
    let v: Value = serde_json::from_str(&job.payload)
        .map_err(|_| ProviderError::InvalidInput("payload".into()))?;
    let id = v
        .get("calendar")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ProviderError::InvalidInput("payload".into()))?;
    Ok((id, v.get("full").and_then(Value::as_bool).unwrap_or(false)))
}

async fn load_pair(
    st: &GraphState,
    tenant_id: Uuid,
    calendar_row_id: Uuid,
) -> Result<Option<(calendar_calendar::Model, calendar_connection::Model)>, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let cal = scoped::<calendar_calendar::Entity>(tenant_id)
        .filter(calendar_calendar::Column::Id.eq(calendar_row_id))
        .one(&*tx)
        .await?;
    let pair = match cal {
        Some(cal) => scoped::<calendar_connection::Entity>(tenant_id)
            .filter(calendar_connection::Column::Id.eq(cal.connection_id))
            .one(&*tx)
            .await?
            .map(|c| (cal, c)),
        None => None,
    };
    tx.commit().await?;
    Ok(pair)
}

/// One imported change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Google's event id.
    pub id: String,
    /// Busy time `[start, end)` (UTC) and whether it is all-day; `None`: not busy
    /// (deleted, free, declined, ours).
    pub busy: Option<(DateTime<Utc>, DateTime<Utc>, bool)>,
}

fn local_midnight(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    // Midnight may not exist (a DST gap at 00:00, e.g. America/Santiago): take the first
    // instant of the day.
    (0..=120).step_by(30).find_map(|m| {
        let t = date.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(m);
        tz.from_local_datetime(&t)
            .earliest()
            .map(|d| d.with_timezone(&Utc))
    })
}

fn instant(t: &EventTime, tz: Tz) -> Option<(DateTime<Utc>, bool)> {
    if let Some(dt) = &t.date_time {
        return DateTime::parse_from_rfc3339(dt)
            .ok()
            .map(|d| (d.with_timezone(&Utc), false));
    }
    let date = NaiveDate::parse_from_str(t.date.as_deref()?, "%Y-%m-%d").ok()?;
    local_midnight(tz, date).map(|d| (d, true))
}

/// What an event means for availability, in calendar zone `tz` (all-day events).
pub fn change_of(e: &Event, tz: Tz) -> Change {
    let busy = if e.status == "cancelled"
        || e.transparency.as_deref() == Some("transparent")
        || e.declined_by_self()
        || e.private_property(BOOKING_PROPERTY).is_some()
    {
        None
    } else {
        match (
            e.start.as_ref().and_then(|s| instant(s, tz)),
            e.end.as_ref().and_then(|s| instant(s, tz)),
        ) {
            (Some((s, all_day)), Some((end, _))) if end > s => Some((s, end, all_day)),
            _ => None,
        }
    };
    Change {
        id: e.id.clone(),
        busy,
    }
}

/// The result of listing one calendar.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listing {
    full: bool,
    sync_token: Option<String>,
    changes: Vec<Change>,
    time_zone: Option<String>,
}

async fn list(
    st: &GraphState,
    cal: &calendar_calendar::Model,
    conn: &calendar_connection::Model,
    full: bool,
) -> Result<Result<Listing, GoogleError>, ProviderError> {
    let setup = job_setup(st)?;
    let query = match (&cal.sync_token, full) {
        (Some(t), false) => EventsQuery::Since(t.clone()),
        _ => {
            let from = now() - chrono::Duration::days(1);
            let to = now() + chrono::Duration::days(setup.sync_window_days);
            EventsQuery::Window {
                time_min: from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                time_max: to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        }
    };
    let mut out = Listing {
        full: matches!(query, EventsQuery::Window { .. }),
        sync_token: None,
        changes: Vec::new(),
        time_zone: cal.time_zone.clone(),
    };
    let mut page: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let api = setup.api.clone();
        let (q, p, cid) = (query.clone(), page.clone(), cal.calendar_id.clone());
        let res = with_token(st, conn.tenant_id, conn.id, move |token| {
            let (api, q, p, cid) = (api.clone(), q.clone(), p.clone(), cid.clone());
            async move { api.events(&token, &cid, &q, p.as_deref()).await }
        })
        .await?;
        let got = match res {
            Ok(g) => g,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(z) = got.time_zone {
            out.time_zone = Some(z);
        }
        let tz: Tz = out
            .time_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        out.changes
            .extend(got.items.iter().map(|e| change_of(e, tz)));
        match got.next_page_token {
            Some(p) => page = Some(p),
            None => {
                out.sync_token = got.next_sync_token;
                return Ok(Ok(out));
            }
        }
    }
    // Too many pages: apply nothing and drop the token so the next run starts over.
    Ok(Err(GoogleError::Gone))
}

/// `gcal.sync`: imports one calendar's events as busy blocks.
pub struct SyncHandler;

#[async_trait]
impl JobHandler<GraphState> for SyncHandler {
    fn kind(&self) -> &'static str {
        SYNC_JOB
    }

    fn locks_schedule(&self) -> bool {
        true
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let (row, full) = calendar_arg(job)?;
        let Some((cal, conn)) = load_pair(st, job.tenant_id, row)
            .await
            .map_err(db_unavailable)?
        else {
            return Ok(json!({"skipped": "calendar removed"}));
        };
        if conn.status != CONNECTED || !cal.read_busy {
            return Ok(json!({"skipped": "not read"}));
        }
        let listing = match list(st, &cal, &conn, full).await? {
            Ok(l) => l,
            // The sync token expired: start over with a full listing.
            Err(GoogleError::Gone) if !full => match list(st, &cal, &conn, true).await? {
                Ok(l) => l,
                Err(e) => return Err(fail(st, &conn, e).await),
            },
            Err(e) => return Err(fail(st, &conn, e).await),
        };
        google::record(st, conn.tenant_id, conn.id, None)
            .await
            .map_err(db_unavailable)?;
        serde_json::to_value(&listing).map_err(|_| ProviderError::InvalidInput("listing".into()))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        if result.get("skipped").is_some() {
            return Ok(());
        }
        let listing: Listing = serde_json::from_value(result.clone())
            .map_err(|e| ApiError::Internal(format!("sync result: {e}")))?;
        let (row, _) = calendar_arg(job).map_err(|e| ApiError::Internal(e.to_string()))?;
        apply_listing(tx, row, listing).await
    }
}

/// Records a failed call: the connection's last error; rate limits and outages are
/// retried by the queue.
async fn fail(st: &GraphState, conn: &calendar_connection::Model, e: GoogleError) -> ProviderError {
    let code = match &e {
        GoogleError::RateLimited => "rate_limited",
        GoogleError::NotFound => "calendar_not_found",
        GoogleError::GrantRevoked => "invalid_grant",
        _ => "sync_failed",
    };
    if let Err(err) = google::record(st, conn.tenant_id, conn.id, Some(code)).await {
        tracing::warn!(error = ?err, "calendar: recording a sync failure");
    }
    ProviderError::from(e)
}

async fn apply_listing(tx: &Tx, row: Uuid, listing: Listing) -> Result<(), ApiError> {
    let tenant_id = tx.tenant_id();
    // Re-read under the lock: the calendar may have been deselected or disconnected
    // while Google answered.
    let Some(cal) = scoped::<calendar_calendar::Entity>(tenant_id)
        .filter(calendar_calendar::Column::Id.eq(row))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    let Some(conn) = scoped::<calendar_connection::Entity>(tenant_id)
        .filter(calendar_connection::Column::Id.eq(cal.connection_id))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    if !cal.read_busy || conn.status != CONNECTED {
        return Ok(());
    }
    let at = now();
    if listing.full {
        let keep: BTreeSet<&str> = listing
            .changes
            .iter()
            .filter(|c| c.busy.is_some())
            .map(|c| c.id.as_str())
            .collect();
        let existing = scoped::<calendar_busy_block::Entity>(tenant_id)
            .filter(calendar_busy_block::Column::ConnectionId.eq(conn.id))
            .filter(calendar_busy_block::Column::CalendarId.eq(&cal.calendar_id))
            .all(&**tx)
            .await?;
        let gone: Vec<Uuid> = existing
            .iter()
            .filter(|b| !keep.contains(b.event_id.as_str()))
            .map(|b| b.id)
            .collect();
        for chunk in gone.chunks(500) {
            calendar_busy_block::Entity::delete_many()
                .filter(calendar_busy_block::Column::TenantId.eq(tenant_id))
                .filter(calendar_busy_block::Column::Id.is_in(chunk.iter().copied()))
                .exec(&**tx)
                .await?;
        }
    }
    for c in &listing.changes {
        match c.busy {
            Some((s, e, all_day)) => {
                calendar_busy_block::Entity::insert(calendar_busy_block::ActiveModel {
                    id: Set(new_id()),
                    tenant_id: Set(tenant_id),
                    staff_member_id: Set(conn.staff_member_id),
                    connection_id: Set(conn.id),
                    calendar_id: Set(cal.calendar_id.clone()),
                    event_id: Set(c.id.clone()),
                    starts_at: Set(s),
                    ends_at: Set(e),
                    all_day: Set(all_day),
                    updated_at: Set(at),
                })
                .on_conflict(
                    OnConflict::columns([
                        calendar_busy_block::Column::ConnectionId,
                        calendar_busy_block::Column::CalendarId,
                        calendar_busy_block::Column::EventId,
                    ])
                    .update_columns([
                        calendar_busy_block::Column::StartsAt,
                        calendar_busy_block::Column::EndsAt,
                        calendar_busy_block::Column::AllDay,
                        calendar_busy_block::Column::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&**tx)
                .await?;
            }
            None => {
                calendar_busy_block::Entity::delete_many()
                    .filter(calendar_busy_block::Column::TenantId.eq(tenant_id))
                    .filter(calendar_busy_block::Column::ConnectionId.eq(conn.id))
                    .filter(calendar_busy_block::Column::CalendarId.eq(&cal.calendar_id))
                    .filter(calendar_busy_block::Column::EventId.eq(&c.id))
                    .exec(&**tx)
                    .await?;
            }
        }
    }
    let mut q = calendar_calendar::Entity::update_many()
        .col_expr(
            calendar_calendar::Column::SyncToken,
            Expr::value(listing.sync_token),
        )
        .col_expr(calendar_calendar::Column::LastSyncAt, Expr::value(Some(at)))
        .col_expr(calendar_calendar::Column::UpdatedAt, Expr::value(at));
    if listing.full {
        q = q.col_expr(
            calendar_calendar::Column::LastFullSyncAt,
            Expr::value(Some(at)),
        );
    }
    if let Some(z) = listing.time_zone.filter(|z| z.len() <= 64) {
        q = q.col_expr(calendar_calendar::Column::TimeZone, Expr::value(Some(z)));
    }
    q.filter(calendar_calendar::Column::TenantId.eq(tenant_id))
        .filter(calendar_calendar::Column::Id.eq(cal.id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// SHA-256 (hex) of a channel token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `gcal.watch`: opens a push channel for a calendar that is read (stopping the one it
/// replaces), or stops the channel of a calendar that no longer is.
pub struct WatchHandler;

#[async_trait]
impl JobHandler<GraphState> for WatchHandler {
    fn kind(&self) -> &'static str {
        WATCH_JOB
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let (row, _) = calendar_arg(job)?;
        let setup = job_setup(st)?;
        let Some((cal, conn)) = load_pair(st, job.tenant_id, row)
            .await
            .map_err(db_unavailable)?
        else {
            return Ok(json!({"skipped": "calendar removed"}));
        };
        if conn.status != CONNECTED {
            return Ok(json!({"skipped": "disconnected"}));
        }
        let old = cal.channel_id.zip(cal.channel_resource_id.clone());
        let mut out = json!({"old": old.as_ref().map(|(id, _)| id.to_string())});
        if cal.read_busy {
            let token = {
                use rand::RngCore;
                let mut b = [0u8; 32];
                rand::rng().fill_bytes(&mut b);
                hex::encode(b)
            };
            let req = WatchRequest {
                id: Uuid::new_v4().to_string(),
                address: setup.webhook_address.clone(),
                token: token.clone(),
                ttl_secs: setup.channel_ttl.as_secs(),
            };
            let api = setup.api.clone();
            let cid = cal.calendar_id.clone();
            let channel = match with_token(st, conn.tenant_id, conn.id, |t| {
                let (api, cid, req) = (api.clone(), cid.clone(), req.clone());
                async move { api.watch(&t, &cid, &req).await }
            })
            .await?
            {
                Ok(c) => c,
                Err(e) => return Err(fail(st, &conn, e).await),
            };
            let expires = channel
                .expiration
                .as_deref()
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .unwrap_or_else(|| {
                    now() + chrono::Duration::seconds(setup.channel_ttl.as_secs() as i64)
                });
            out["new"] = json!({
                "id": req.id,
                "resource_id": channel.resource_id,
                "token_hash": token_hash(&token),
                "expires_at": expires,
            });
        }
        if let Some((old_id, resource)) = old {
            let api = setup.api.clone();
            let stopped = with_token(st, conn.tenant_id, conn.id, |t| {
                let (api, resource) = (api.clone(), resource.clone());
                async move { api.stop_channel(&t, &old_id.to_string(), &resource).await }
            })
            .await;
            if !matches!(stopped, Ok(Ok(()))) {
                // It expires by itself; its notifications find no route.
                tracing::debug!("calendar: stopping an old channel failed");
            }
        }
        Ok(out)
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        if result.get("skipped").is_some() {
            return Ok(());
        }
        let (row, _) = calendar_arg(job).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(old) = result.get("old").and_then(Value::as_str) {
            routes::remove(tx, CHANNEL_ROUTE, old).await?;
        }
        let new = result.get("new");
        let id: Option<Uuid> = new
            .and_then(|n| n.get("id"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let text = |k: &str| {
            new.and_then(|n| n.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let expires: Option<DateTime<Utc>> = new
            .and_then(|n| n.get("expires_at"))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        if let Some(id) = id {
            routes::add(tx, CHANNEL_ROUTE, &id.to_string()).await?;
        }
        calendar_calendar::Entity::update_many()
            .col_expr(calendar_calendar::Column::ChannelId, Expr::value(id))
            .col_expr(
                calendar_calendar::Column::ChannelResourceId,
                Expr::value(text("resource_id").filter(|r| r.len() <= 255)),
            )
            .col_expr(
                calendar_calendar::Column::ChannelTokenHash,
                Expr::value(text("token_hash")),
            )
            .col_expr(
                calendar_calendar::Column::ChannelExpiresAt,
                Expr::value(expires),
            )
            .col_expr(calendar_calendar::Column::UpdatedAt, Expr::value(now()))
            .filter(calendar_calendar::Column::TenantId.eq(tx.tenant_id()))
            .filter(calendar_calendar::Column::Id.eq(row))
            .exec(&**tx)
            .await?;
        Ok(())
    }
}

/// What a push notification led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// An incremental sync was enqueued (or one was already pending).
    Enqueued,
    /// The channel's first `sync` message: nothing to do.
    SyncMessage,
    /// No such channel (stopped, expired, or never ours).
    UnknownChannel,
    /// The channel token does not match.
    BadToken,
}

/// Handles `POST /webhooks/google-calendar`: finds the channel's tenant through the
/// routing table, checks `X-Goog-Channel-Token` against the stored hash (constant
/// time), ignores `sync`, and enqueues one incremental sync of that calendar (a
/// pending one is replaced, so a burst of notifications costs one sync).
pub async fn push(
    st: &GraphState,
    channel_id: &str,
    token: &str,
    resource_state: &str,
) -> Result<Push, ApiError> {
    let Ok(channel) = channel_id.parse::<Uuid>() else {
        return Ok(Push::UnknownChannel);
    };
    let Some(tenant_id) =
        routes::tenant_by_route(&st.db, CHANNEL_ROUTE, &channel.to_string()).await?
    else {
        return Ok(Push::UnknownChannel);
    };
    let tx = st.db.write(tenant_id).await?;
    let Some(cal) = scoped::<calendar_calendar::Entity>(tenant_id)
        .filter(calendar_calendar::Column::ChannelId.eq(channel))
        .one(&*tx)
        .await?
    else {
        return Ok(Push::UnknownChannel);
    };
    let expected = cal.channel_token_hash.clone().unwrap_or_default();
    let got = token_hash(token);
    if expected.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            got.as_bytes(),
        ))
    {
        return Ok(Push::BadToken);
    }
    if resource_state == "sync" {
        return Ok(Push::SyncMessage);
    }
    jobs::enqueue(&tx, sync_job(cal.id, false)).await?;
    tx.commit().await?;
    jobs::wake(st);
    Ok(Push::Enqueued)
}

/// `(tenant_id, connection id)` of every connected account, across tenants (PostgreSQL:
/// `app_calendar_connections`, `SECURITY DEFINER`).
async fn connections(st: &GraphState) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
    let conn = st.db.connection();
    if st.db.backend() == DatabaseBackend::Postgres {
        let rows = conn
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT tenant_id, id FROM app_calendar_connections()",
            ))
            .await?;
        return rows
            .iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?)))
            .collect();
    }
    use sea_orm::QuerySelect;
    Ok(calendar_connection::Entity::find()
        .select_only()
        .column(calendar_connection::Column::TenantId)
        .column(calendar_connection::Column::Id)
        .filter(calendar_connection::Column::Status.eq(CONNECTED))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Enqueues, for every read calendar of `connection_id`, an incremental sync and — when
/// its channel is missing or expires within a day — a channel renewal. Returns how many
/// jobs.
pub async fn enqueue_refresh(tx: &Tx, connection_id: Uuid) -> Result<usize, ApiError> {
    let soon = now() + chrono::Duration::days(1);
    let mut n = 0;
    for cal in scoped::<calendar_calendar::Entity>(tx.tenant_id())
        .filter(calendar_calendar::Column::ConnectionId.eq(connection_id))
        .filter(calendar_calendar::Column::ReadBusy.eq(true))
        .all(&**tx)
        .await?
    {
        jobs::enqueue(tx, sync_job(cal.id, false)).await?;
        n += 1;
        if cal.channel_expires_at.is_none_or(|e| e < soon) {
            jobs::enqueue(tx, watch_job(cal.id)).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Periodic `calendar.sync`: the net under missed push notifications.
pub struct PeriodicSync;

#[async_trait]
impl PeriodicJob<GraphState> for PeriodicSync {
    fn name(&self) -> &'static str {
        "calendar.sync"
    }

    fn interval(&self) -> std::time::Duration {
        // The interval is fixed at registration; the set-up's value is read at start.
        PERIOD
            .get()
            .copied()
            .unwrap_or(std::time::Duration::from_secs(900))
    }

    async fn run(&self, st: &GraphState, _scheduled_for: DateTime<Utc>) -> Result<usize, ApiError> {
        if st.platform.google_calendar.is_none() {
            return Ok(0);
        }
        let mut n = 0;
        for (tenant_id, id) in connections(st).await? {
            let tx = st.db.write(tenant_id).await?;
            n += enqueue_refresh(&tx, id).await?;
            tx.commit().await?;
        }
        if n > 0 {
            jobs::wake(st);
        }
        Ok(n)
    }
}

/// The periodic sync interval, set once from the platform set-up at registration.
pub static PERIOD: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

/// Registers the import handlers and the periodic sync.
pub fn register(jobs: &mut crate::jobs::JobRegistry<GraphState>) {
    jobs.register(Arc::new(SyncHandler));
    jobs.register(Arc::new(WatchHandler));
    jobs.register_periodic(Arc::new(PeriodicSync));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn timed(id: &str, s: &str, e: &str) -> Event {
        Event {
            id: id.into(),
            status: "confirmed".into(),
            start: Some(EventTime {
                date_time: Some(s.into()),
                ..Default::default()
            }),
            end: Some(EventTime {
                date_time: Some(e.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn timed_events_keep_their_offsets_across_dst() {
        // 2026-11-01 01:30 EDT (-04:00) to 01:30 EST (-05:00): the same wall-clock time,
        // one hour of real time.
        let c = change_of(
            &timed(
                "e",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:30:00-05:00",
            ),
            chrono_tz::America::New_York,
        );
        let (s, e, all_day) = c.busy.unwrap();
        assert_eq!(e - s, chrono::Duration::hours(1));
        assert!(!all_day);
    }

    #[test]
    fn all_day_events_span_local_days() {
        let e = Event {
            id: "d".into(),
            status: "confirmed".into(),
            start: Some(EventTime {
                date: Some("2026-03-08".into()),
                ..Default::default()
            }),
            end: Some(EventTime {
                date: Some("2026-03-09".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (s, end, all_day) = change_of(&e, chrono_tz::America::New_York).busy.unwrap();
        assert!(all_day);
        assert_eq!(s.to_rfc3339(), "2026-03-08T05:00:00+00:00");
        // Spring forward: the local day has 23 hours.
        assert_eq!(end - s, chrono::Duration::hours(23));
    }

    #[test]
    fn free_declined_cancelled_and_own_events_are_not_busy() {
        let base = timed("x", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z");
        assert!(change_of(&base, chrono_tz::UTC).busy.is_some());
        let mut free = base.clone();
        free.transparency = Some("transparent".into());
        let mut cancelled = base.clone();
        cancelled.status = "cancelled".into();
        let mut declined = base.clone();
        declined.attendees = vec![integrations::google_calendar::Attendee {
            is_self: true,
            response_status: "declined".into(),
        }];
        let mut ours = base.clone();
        let mut props = integrations::google_calendar::ExtendedProperties::default();
        props
            .private
            .insert(BOOKING_PROPERTY.into(), Value::String("b".into()));
        ours.extended_properties = Some(props);
        for e in [free, cancelled, declined, ours] {
            assert_eq!(change_of(&e, chrono_tz::UTC).busy, None, "{e:?}");
        }
    }
}
