//! Connecting, configuring and disconnecting a staff member's Google Calendar.
//!
//! - [`connect`]: a consent URL (PKCE S256, `state` = 32 random bytes, bound to the user
//!   and the staff member, single use, 10 minutes). Only the `state`'s SHA-256 is stored,
//!   with the verifier sealed; the callback finds its tenant through the routing table.
//! - [`complete`]: the OAuth callback: the code exchange, the calendar list, the
//!   connection (refresh token sealed), a first full sync and push channels.
//! - [`select`]: which calendars are read for busy time and which one bookings go to.
//! - [`disconnect`]: removes the connection and its busy blocks at once; revoking the
//!   grant and stopping channels at Google is a job (`gcal.revoke`).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entities::{
    calendar_busy_block, calendar_calendar, calendar_connection, calendar_event_link,
    calendar_oauth_state, outbox_message, staff_member,
};
use integrations::ProviderError;
use integrations::google_calendar::GoogleError;
use rand::RngCore;
use sea_orm::prelude::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::google::{self, CONNECTED, setup};
use super::sync::{CHANNEL_ROUTE, enqueue_refresh, sync_job, watch_job};
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode};
use crate::jobs::{self, Job, JobHandler};
use crate::routes;
use crate::state::GraphState;
use crate::util::{new_id, now};

/// Route provider of pending consent `state` hashes.
pub const STATE_ROUTE: &str = "google_oauth_state";
/// Job kind that revokes a disconnected grant.
pub const REVOKE_JOB: &str = "gcal.revoke";
/// Most calendars a staff member may read for busy time.
pub const MAX_READ_CALENDARS: usize = 20;

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Whether `rc` may manage staff member `staff_member_id`'s calendar: owners and
/// managers any staff member's, a technician only their own.
fn may_manage(rc: &RequestCtx, staff_member_id: Uuid) -> Result<(), ApiError> {
    match rc.technician_scope() {
        None if rc.user_id().is_some() => Ok(()),
        Some(Some(own)) if own == staff_member_id => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only owners, managers and the staff member themself manage this calendar".into(),
        )),
    }
}

async fn staff_exists(tx: &Tx, id: Uuid) -> Result<bool, ApiError> {
    Ok(scoped::<staff_member::Entity>(tx.tenant_id())
        .filter(staff_member::Column::Id.eq(id))
        .one(&**tx)
        .await?
        .is_some())
}

fn not_found() -> Vec<UserError> {
    vec![UserError::new(
        Some("staffMemberId"),
        UserErrorCode::NotFound,
        "no such staff member",
    )]
}

/// Starts connecting `staff_member_id`'s Google Calendar: returns Google's consent URL.
/// Errors: `FEATURE_UNAVAILABLE` (no Google OAuth client configured), `FORBIDDEN`.
/// User errors: `NOT_FOUND`.
pub async fn connect(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
) -> Result<Outcome<String>, ApiError> {
    let setup = setup(st)?;
    may_manage(rc, staff_member_id)?;
    let user_id = rc
        .user_id()
        .ok_or_else(|| ApiError::Forbidden("users only".into()))?;
    let tx = st.db.write(rc.tenant_id).await?;
    if !staff_exists(&tx, staff_member_id).await? {
        return Ok(Err(not_found()));
    }
    // Expired states of the tenant go first (and their routes).
    for old in scoped::<calendar_oauth_state::Entity>(rc.tenant_id)
        .filter(calendar_oauth_state::Column::ExpiresAt.lt(now()))
        .all(&*tx)
        .await?
    {
        routes::remove(&tx, STATE_ROUTE, &old.state_hash).await?;
        calendar_oauth_state::Entity::delete_many()
            .filter(calendar_oauth_state::Column::TenantId.eq(rc.tenant_id))
            .filter(calendar_oauth_state::Column::StateHash.eq(old.state_hash))
            .exec(&*tx)
            .await?;
    }
    let state = random_b64(32);
    let verifier = random_b64(48);
    let hash = sha256_hex(&state);
    let sealed = google::seal(st, rc.tenant_id, staff_member_id, &hash, &verifier)?;
    calendar_oauth_state::ActiveModel {
        state_hash: Set(hash.clone()),
        tenant_id: Set(rc.tenant_id),
        user_id: Set(user_id),
        staff_member_id: Set(staff_member_id),
        verifier_sealed: Set(sealed),
        expires_at: Set(now()
            + chrono::Duration::from_std(setup.state_ttl).unwrap_or(chrono::Duration::minutes(10))),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await?;
    routes::add(&tx, STATE_ROUTE, &hash).await?;
    let url = setup
        .oauth
        .consent_url(&state, &verifier, None)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tx.commit().await?;
    Ok(Ok(url))
}

/// Why a callback did not connect a calendar (shown on the callback page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Unknown, used or expired `state`.
    #[error("this link has expired or was already used; start again from the app")]
    InvalidState,
    /// The user declined on Google's consent page.
    #[error("access was not granted")]
    Denied,
    /// Google did not return a refresh token or the code was refused.
    #[error("Google did not grant offline access; start again from the app")]
    Refused,
    /// Google or our database is unavailable.
    #[error("something went wrong; try again in a minute")]
    Unavailable,
}

impl From<sea_orm::DbErr> for CallbackError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for CallbackError {
    fn from(e: ApiError) -> Self {
        tracing::warn!(error = ?e, "calendar callback");
        CallbackError::Unavailable
    }
}

/// Completes the OAuth callback `GET /oauth/google/callback?state&code[&error]`:
/// consumes the `state` (single use), exchanges the code with its PKCE verifier, lists
/// the calendars, stores the connection (the primary calendar read for busy time and
/// written to, when writable) and enqueues the first full sync and push channels.
/// Returns the staff member connected.
pub async fn complete(
    st: &GraphState,
    state: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Uuid, CallbackError> {
    let setup = setup(st).map_err(|_| CallbackError::Unavailable)?;
    if state.is_empty() || state.len() > 128 {
        return Err(CallbackError::InvalidState);
    }
    let hash = sha256_hex(state);
    let tenant_id = routes::tenant_by_route(&st.db, STATE_ROUTE, &hash)
        .await?
        .ok_or(CallbackError::InvalidState)?;
    // Consume the state first: a replayed callback finds nothing.
    let tx = st.db.write(tenant_id).await?;
    let row = scoped::<calendar_oauth_state::Entity>(tenant_id)
        .filter(calendar_oauth_state::Column::StateHash.eq(&hash))
        .one(&*tx)
        .await?
        .ok_or(CallbackError::InvalidState)?;
    calendar_oauth_state::Entity::delete_many()
        .filter(calendar_oauth_state::Column::TenantId.eq(tenant_id))
        .filter(calendar_oauth_state::Column::StateHash.eq(&hash))
        .exec(&*tx)
        .await?;
    routes::remove(&tx, STATE_ROUTE, &hash).await?;
    tx.commit().await?;
    if row.expires_at < now() {
        return Err(CallbackError::InvalidState);
    }
    if error.is_some() {
        return Err(CallbackError::Denied);
    }
    let code = code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(CallbackError::Refused)?;
    let verifier = google::open(
        st,
        tenant_id,
        row.staff_member_id,
        &hash,
        &row.verifier_sealed,
    )?;
    let tokens = match setup.oauth.exchange_code(code, &verifier).await {
        Ok(t) => t,
        Err(GoogleError::GrantRevoked)
        | Err(GoogleError::Provider(ProviderError::Rejected { .. })) => {
            return Err(CallbackError::Refused);
        }
        Err(e) => {
            tracing::warn!(error = %e, "calendar callback: code exchange failed");
            return Err(CallbackError::Unavailable);
        }
    };
    let refresh = tokens.refresh_token.clone().ok_or(CallbackError::Refused)?;
    let calendars = setup
        .api
        .calendars(&tokens.access_token)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "calendar callback: calendar list failed");
            CallbackError::Unavailable
        })?;

    let tx = st.db.write(tenant_id).await?;
    if !staff_exists(&tx, row.staff_member_id).await? {
        return Err(CallbackError::InvalidState);
    }
    let existing = scoped::<calendar_connection::Entity>(tenant_id)
        .filter(calendar_connection::Column::StaffMemberId.eq(row.staff_member_id))
        .one(&*tx)
        .await?;
    let conn_id = existing.as_ref().map(|c| c.id).unwrap_or_else(new_id);
    let primary = calendars.iter().find(|c| c.primary);
    let writable = |role: &str| role == "owner" || role == "writer";
    let write_id = primary
        .filter(|c| writable(&c.access_role))
        .map(|c| c.id.clone());
    let expires = now() + chrono::Duration::seconds(tokens.expires_in.clamp(0, 86_400));
    let at = now();
    let model = calendar_connection::ActiveModel {
        id: Set(conn_id),
        tenant_id: Set(tenant_id),
        staff_member_id: Set(row.staff_member_id),
        status: Set(CONNECTED.into()),
        account_email: Set(primary.map(|c| c.id.clone()).filter(|e| e.len() <= 320)),
        refresh_token_sealed: Set(google::seal(st, tenant_id, conn_id, "refresh", &refresh)?),
        access_token_sealed: Set(Some(google::seal(
            st,
            tenant_id,
            conn_id,
            "access",
            &tokens.access_token,
        )?)),
        access_token_expires_at: Set(Some(expires)),
        write_calendar_id: Set(write_id),
        last_sync_at: Set(None),
        last_error: Set(None),
        connected_by_user_id: Set(Some(row.user_id)),
        created_at: Set(existing.as_ref().map(|c| c.created_at).unwrap_or(at)),
        updated_at: Set(at),
    };
    if existing.is_some() {
        model.update(&*tx).await?;
    } else {
        model.insert(&*tx).await?;
    }
    let known = scoped::<calendar_calendar::Entity>(tenant_id)
        .filter(calendar_calendar::Column::ConnectionId.eq(conn_id))
        .all(&*tx)
        .await?;
    for c in calendars.iter().filter(|c| c.id.len() <= 255).take(250) {
        let summary: String = c.summary.chars().take(255).collect();
        let role: String = c.access_role.chars().take(32).collect();
        let tz = c.time_zone.clone().filter(|z| z.len() <= 64);
        match known.iter().find(|k| k.calendar_id == c.id) {
            Some(k) => {
                calendar_calendar::Entity::update_many()
                    .col_expr(calendar_calendar::Column::Summary, Expr::value(summary))
                    .col_expr(calendar_calendar::Column::IsPrimary, Expr::value(c.primary))
                    .col_expr(calendar_calendar::Column::AccessRole, Expr::value(role))
                    .col_expr(calendar_calendar::Column::TimeZone, Expr::value(tz))
                    .col_expr(calendar_calendar::Column::UpdatedAt, Expr::value(at))
                    .filter(calendar_calendar::Column::TenantId.eq(tenant_id))
                    .filter(calendar_calendar::Column::Id.eq(k.id))
                    .exec(&*tx)
                    .await?;
            }
            None => {
                calendar_calendar::ActiveModel {
                    id: Set(new_id()),
                    tenant_id: Set(tenant_id),
                    connection_id: Set(conn_id),
                    calendar_id: Set(c.id.clone()),
                    summary: Set(summary),
                    is_primary: Set(c.primary),
                    access_role: Set(role),
                    time_zone: Set(tz),
                    read_busy: Set(c.primary),
                    sync_token: Set(None),
                    last_full_sync_at: Set(None),
                    last_sync_at: Set(None),
                    channel_id: Set(None),
                    channel_resource_id: Set(None),
                    channel_token_hash: Set(None),
                    channel_expires_at: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                }
                .insert(&*tx)
                .await?;
            }
        }
    }
    for cal in scoped::<calendar_calendar::Entity>(tenant_id)
        .filter(calendar_calendar::Column::ConnectionId.eq(conn_id))
        .filter(calendar_calendar::Column::ReadBusy.eq(true))
        .all(&*tx)
        .await?
    {
        jobs::enqueue(&tx, sync_job(cal.id, true)).await?;
        jobs::enqueue(&tx, watch_job(cal.id)).await?;
    }
    tx.commit().await?;
    jobs::wake(st);
    Ok(row.staff_member_id)
}

/// The staff member's connection and calendars, if connected (or broken).
pub async fn status(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
) -> Result<Option<(calendar_connection::Model, Vec<calendar_calendar::Model>)>, ApiError> {
    may_manage(rc, staff_member_id)?;
    let tx = st.db.read(rc.tenant_id).await?;
    let conn = scoped::<calendar_connection::Entity>(rc.tenant_id)
        .filter(calendar_connection::Column::StaffMemberId.eq(staff_member_id))
        .one(&*tx)
        .await?;
    let out = match conn {
        Some(c) => {
            let cals = scoped::<calendar_calendar::Entity>(rc.tenant_id)
                .filter(calendar_calendar::Column::ConnectionId.eq(c.id))
                .all(&*tx)
                .await?;
            Some((c, cals))
        }
        None => None,
    };
    tx.commit().await?;
    Ok(out)
}

async fn connection_of(
    tx: &Tx,
    staff_member_id: Uuid,
) -> Result<Option<calendar_connection::Model>, ApiError> {
    Ok(scoped::<calendar_connection::Entity>(tx.tenant_id())
        .filter(calendar_connection::Column::StaffMemberId.eq(staff_member_id))
        .one(&**tx)
        .await?)
}

fn not_connected() -> Vec<UserError> {
    vec![UserError::new(
        Some("staffMemberId"),
        UserErrorCode::NotFound,
        "this staff member has no connected calendar",
    )]
}

/// Chooses the calendars read for busy time (`read`, at most [`MAX_READ_CALENDARS`])
/// and the one bookings are written to (`write`, `None`: none; must be `owner` or
/// `writer`). Newly read calendars get a full sync and a channel; calendars no longer
/// read lose their busy blocks and channel. Errors: `FORBIDDEN`. User errors:
/// `NOT_FOUND` (not connected), `INVALID_INPUT` (unknown or read-only calendar).
pub async fn select(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
    read: &[String],
    write: Option<&str>,
) -> Result<Outcome<()>, ApiError> {
    setup(st)?;
    may_manage(rc, staff_member_id)?;
    if read.len() > MAX_READ_CALENDARS {
        return Ok(Err(vec![UserError::new(
            Some("readCalendarIds"),
            UserErrorCode::InvalidInput,
            format!("at most {MAX_READ_CALENDARS} calendars"),
        )]));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let Some(conn) = connection_of(&tx, staff_member_id).await? else {
        return Ok(Err(not_connected()));
    };
    let cals = scoped::<calendar_calendar::Entity>(rc.tenant_id)
        .filter(calendar_calendar::Column::ConnectionId.eq(conn.id))
        .all(&*tx)
        .await?;
    if let Some(bad) = read
        .iter()
        .find(|r| !cals.iter().any(|c| &c.calendar_id == *r))
    {
        let shown: String = bad.chars().take(64).collect();
        return Ok(Err(vec![UserError::new(
            Some("readCalendarIds"),
            UserErrorCode::InvalidInput,
            format!("no calendar {shown:?} in this account"),
        )]));
    }
    if let Some(w) = write
        && !cals
            .iter()
            .any(|c| c.calendar_id == w && (c.access_role == "owner" || c.access_role == "writer"))
    {
        return Ok(Err(vec![UserError::new(
            Some("writeCalendarId"),
            UserErrorCode::InvalidInput,
            "not a calendar of this account that bookings can be written to",
        )]));
    }
    for c in &cals {
        let wanted = read.contains(&c.calendar_id);
        if wanted == c.read_busy {
            continue;
        }
        let mut q = calendar_calendar::Entity::update_many()
            .col_expr(calendar_calendar::Column::ReadBusy, Expr::value(wanted))
            .col_expr(calendar_calendar::Column::UpdatedAt, Expr::value(now()));
        if !wanted {
            q = q.col_expr(
                calendar_calendar::Column::SyncToken,
                Expr::value(Option::<String>::None),
            );
            calendar_busy_block::Entity::delete_many()
                .filter(calendar_busy_block::Column::TenantId.eq(rc.tenant_id))
                .filter(calendar_busy_block::Column::ConnectionId.eq(conn.id))
                .filter(calendar_busy_block::Column::CalendarId.eq(&c.calendar_id))
                .exec(&*tx)
                .await?;
        } else {
            jobs::enqueue(&tx, sync_job(c.id, true)).await?;
        }
        q.filter(calendar_calendar::Column::TenantId.eq(rc.tenant_id))
            .filter(calendar_calendar::Column::Id.eq(c.id))
            .exec(&*tx)
            .await?;
        jobs::enqueue(&tx, watch_job(c.id)).await?;
    }
    if conn.write_calendar_id.as_deref() != write {
        calendar_connection::Entity::update_many()
            .col_expr(
                calendar_connection::Column::WriteCalendarId,
                Expr::value(write.map(str::to_string)),
            )
            .col_expr(calendar_connection::Column::UpdatedAt, Expr::value(now()))
            .filter(calendar_connection::Column::TenantId.eq(rc.tenant_id))
            .filter(calendar_connection::Column::Id.eq(conn.id))
            .exec(&*tx)
            .await?;
        // Move the staff member's upcoming bookings to the new calendar (or out).
        use entities::booking;
        for b in scoped::<booking::Entity>(rc.tenant_id)
            .filter(booking::Column::StaffMemberId.eq(staff_member_id))
            .filter(booking::Column::EndsAt.gt(now()))
            .filter(booking::Column::Status.ne("CANCELED"))
            .all(&*tx)
            .await?
        {
            jobs::enqueue(&tx, super::export::export_job(b.id)).await?;
        }
    }
    tx.commit().await?;
    jobs::wake(st);
    Ok(Ok(()))
}

/// Enqueues an incremental sync of every calendar the staff member reads (and channel
/// renewals that are due). Errors: `FEATURE_UNAVAILABLE`, `FORBIDDEN`. User errors:
/// `NOT_FOUND` (not connected, or broken: connect again).
pub async fn sync_now(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
) -> Result<Outcome<()>, ApiError> {
    setup(st)?;
    may_manage(rc, staff_member_id)?;
    let tx = st.db.write(rc.tenant_id).await?;
    let Some(conn) = connection_of(&tx, staff_member_id)
        .await?
        .filter(|c| c.status == CONNECTED)
    else {
        return Ok(Err(not_connected()));
    };
    enqueue_refresh(&tx, conn.id).await?;
    tx.commit().await?;
    jobs::wake(st);
    Ok(Ok(()))
}

/// Disconnects: the connection, its calendars, busy blocks and export links go at once
/// (events already written stay in the user's calendar); `gcal.revoke` then stops the
/// channels and revokes the grant at Google. Errors: `FORBIDDEN`. User errors:
/// `NOT_FOUND`.
pub async fn disconnect(
    st: &GraphState,
    rc: &RequestCtx,
    staff_member_id: Uuid,
) -> Result<Outcome<()>, ApiError> {
    may_manage(rc, staff_member_id)?;
    let tx = st.db.write(rc.tenant_id).await?;
    let Some(conn) = connection_of(&tx, staff_member_id).await? else {
        return Ok(Err(not_connected()));
    };
    let cals = scoped::<calendar_calendar::Entity>(rc.tenant_id)
        .filter(calendar_calendar::Column::ConnectionId.eq(conn.id))
        .all(&*tx)
        .await?;
    let mut channels = Vec::new();
    for c in &cals {
        if let (Some(id), Some(res)) = (c.channel_id, &c.channel_resource_id) {
            routes::remove(&tx, CHANNEL_ROUTE, &id.to_string()).await?;
            channels.push(json!({"id": id.to_string(), "resource_id": res}));
        }
        jobs::cancel(&tx, &format!("{}:{}", super::sync::SYNC_JOB, c.id)).await?;
        jobs::cancel(&tx, &format!("{}:{}", super::sync::WATCH_JOB, c.id)).await?;
    }
    let refresh = google::open(
        st,
        rc.tenant_id,
        conn.id,
        "refresh",
        &conn.refresh_token_sealed,
    )?;
    // The job gets its own sealed copy: the connection row is gone by then.
    let job_id = new_id();
    let sealed = google::seal(st, rc.tenant_id, job_id, "revoke", &refresh)?;
    calendar_busy_block::Entity::delete_many()
        .filter(calendar_busy_block::Column::TenantId.eq(rc.tenant_id))
        .filter(calendar_busy_block::Column::ConnectionId.eq(conn.id))
        .exec(&*tx)
        .await?;
    calendar_event_link::Entity::delete_many()
        .filter(calendar_event_link::Column::TenantId.eq(rc.tenant_id))
        .filter(calendar_event_link::Column::ConnectionId.eq(conn.id))
        .exec(&*tx)
        .await?;
    calendar_calendar::Entity::delete_many()
        .filter(calendar_calendar::Column::TenantId.eq(rc.tenant_id))
        .filter(calendar_calendar::Column::ConnectionId.eq(conn.id))
        .exec(&*tx)
        .await?;
    calendar_connection::Entity::delete_many()
        .filter(calendar_connection::Column::TenantId.eq(rc.tenant_id))
        .filter(calendar_connection::Column::Id.eq(conn.id))
        .exec(&*tx)
        .await?;
    if st.platform.google_calendar.is_some() {
        jobs::enqueue(
            &tx,
            Job::new(
                REVOKE_JOB,
                json!({"seal_id": job_id.to_string(), "token": sealed, "channels": channels}),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    jobs::wake(st);
    Ok(Ok(()))
}

/// `gcal.revoke`: stops a disconnected account's channels and revokes its grant.
pub struct RevokeHandler;

#[async_trait]
impl JobHandler<GraphState> for RevokeHandler {
    fn kind(&self) -> &'static str {
        REVOKE_JOB
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let setup = super::google::job_setup(st)?;
        let v: Value = serde_json::from_str(&job.payload)
            .map_err(|_| ProviderError::InvalidInput("payload".into()))?;
        let seal_id: Uuid = v
            .get("seal_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ProviderError::InvalidInput("payload".into()))?;
        let stored = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::InvalidInput("payload".into()))?;
        let refresh = google::open(st, job.tenant_id, seal_id, "revoke", stored)
            .map_err(|_| ProviderError::InvalidInput("sealed token".into()))?;
        // Channels need an access token; a grant already revoked has none to give.
        if let Ok(tokens) = setup.oauth.refresh(&refresh).await {
            for c in v
                .get("channels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(id), Some(res)) = (
                    c.get("id").and_then(Value::as_str),
                    c.get("resource_id").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if let Err(e) = setup.api.stop_channel(&tokens.access_token, id, res).await {
                    tracing::debug!(error = %e, "calendar: stopping a channel on disconnect");
                }
            }
        }
        setup
            .oauth
            .revoke(&refresh)
            .await
            .map_err(ProviderError::from)?;
        Ok(json!({"revoked": true}))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        _tx: &Tx,
        _job: &outbox_message::Model,
        _result: &Value,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Registers the revoke handler.
pub fn register(jobs: &mut crate::jobs::JobRegistry<GraphState>) {
    jobs.register(Arc::new(RevokeHandler));
}
