//! Google Calendar two-way sync (plugin `google_calendar`): per staff member, busy time
//! from the calendars they choose blocks availability, and their bookings appear in the
//! calendar they choose — incrementally, in both directions, never twice.
//!
//! - [`google`]: the platform set-up and a connection's tokens (sealed, refreshed).
//! - [`service`]: connect (OAuth 2.0 code flow with PKCE), callback, calendar choice,
//!   sync now, disconnect (revocation as a job).
//! - [`sync`]: import (full and incremental with `syncToken`, 410 → full), push
//!   channels and notifications, the periodic sync.
//! - [`export`]: the booking hook and the export job (deterministic event ids).

pub mod export;
pub mod google;
pub mod service;
pub mod sync;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{calendar_busy_block, calendar_calendar, calendar_connection};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::scoped;
use crate::error::{ApiError, UserError};
use crate::extensions::Extensions;
use crate::guards::{RoleGuard, USERS};
use crate::state::{GraphState, caller, state};
use crate::util::parse_id;

pub use google::GoogleSetup;

/// Registers the calendar's booking hook, job handlers and periodic sync.
pub fn register(ext: &mut Extensions<GraphState>) {
    export::register(ext);
    sync::register(&mut ext.jobs);
    service::register(&mut ext.jobs);
}

/// One calendar of a connected account.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExternalCalendar {
    /// Google's calendar id.
    pub id: String,
    /// Title.
    pub summary: String,
    /// The account's primary calendar.
    pub primary: bool,
    /// Google's access role: `owner`, `writer`, `reader`, `freeBusyReader`.
    pub access_role: String,
    /// Its events block the staff member's availability.
    pub read_busy: bool,
    /// Bookings are written to it.
    pub write_bookings: bool,
    /// Last completed import (UTC).
    pub last_sync_at: Option<DateTime<Utc>>,
    /// When its push channel expires (UTC); renewed a day before.
    pub channel_expires_at: Option<DateTime<Utc>>,
}

/// Connection state of a staff member's calendar.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CalendarConnectionStatus {
    /// Syncing.
    Connected,
    /// Google refused the grant (revoked by the user, expired): connect again.
    Broken,
}

/// A staff member's connected Google Calendar.
#[derive(SimpleObject, Clone, Debug)]
pub struct CalendarConnection {
    /// The staff member.
    pub staff_member_id: ID,
    /// Always `GOOGLE` for now.
    pub provider: String,
    /// Connected or broken.
    pub status: CalendarConnectionStatus,
    /// The Google account (its primary calendar's id).
    pub account_email: Option<String>,
    /// The account's calendars.
    pub calendars: Vec<ExternalCalendar>,
    /// The calendar bookings are written to, if any.
    pub write_calendar_id: Option<String>,
    /// Last completed sync (UTC).
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Code of the last failure (`invalid_grant`, `rate_limited`, `sync_failed`, …).
    pub last_error: Option<String>,
    /// The earliest expiry of the push channels (UTC).
    pub channel_expires_at: Option<DateTime<Utc>>,
}

impl CalendarConnection {
    fn of(c: calendar_connection::Model, cals: Vec<calendar_calendar::Model>) -> Self {
        let write = c.write_calendar_id.clone();
        CalendarConnection {
            staff_member_id: ID(c.staff_member_id.to_string()),
            provider: "GOOGLE".into(),
            status: if c.status == google::CONNECTED {
                CalendarConnectionStatus::Connected
            } else {
                CalendarConnectionStatus::Broken
            },
            account_email: c.account_email,
            channel_expires_at: cals
                .iter()
                .filter(|k| k.read_busy)
                .filter_map(|k| k.channel_expires_at)
                .min(),
            calendars: cals
                .into_iter()
                .map(|k| ExternalCalendar {
                    write_bookings: write.as_deref() == Some(k.calendar_id.as_str()),
                    id: k.calendar_id,
                    summary: k.summary,
                    primary: k.is_primary,
                    access_role: k.access_role,
                    read_busy: k.read_busy,
                    last_sync_at: k.last_sync_at,
                    channel_expires_at: k.channel_expires_at,
                })
                .collect(),
            write_calendar_id: write,
            last_sync_at: c.last_sync_at,
            last_error: c.last_error,
        }
    }
}

/// Busy time imported from a staff member's calendar (times only).
#[derive(SimpleObject, Clone, Debug)]
pub struct BusyBlock {
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC, exclusive).
    pub ends_at: DateTime<Utc>,
    /// An all-day event.
    pub all_day: bool,
    /// The Google calendar it came from.
    pub calendar_id: String,
}

/// Result of `connectGoogleCalendar`.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct ConnectGoogleCalendarPayload {
    /// Google's consent page: open it in the user's browser. It leads back to
    /// `/oauth/google/callback`, which completes the connection. Valid 10 minutes, once.
    pub url: Option<String>,
    /// Why not.
    pub user_errors: Vec<UserError>,
}

/// Result of calendar mutations.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct CalendarConnectionPayload {
    /// The connection after the change (null after `disconnectGoogleCalendar`).
    pub connection: Option<CalendarConnection>,
    /// Why not.
    pub user_errors: Vec<UserError>,
}

/// Input of `setCalendarSelection`.
#[derive(InputObject, Clone, Debug)]
pub struct CalendarSelectionInput {
    /// The staff member.
    pub staff_member_id: ID,
    /// Calendars whose events block availability (at most 20).
    pub read_calendar_ids: Vec<String>,
    /// The calendar bookings are written to (null: none). Must be writable.
    pub write_calendar_id: Option<String>,
}

/// Calendar queries.
#[derive(Default)]
pub struct CalendarQuery;

/// Calendar queries.
#[Object]
impl CalendarQuery {
    /// A staff member's calendar connection (null when not connected). Owners and
    /// managers for anyone, technicians for themselves. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn calendar_connection(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
    ) -> async_graphql::Result<Option<CalendarConnection>> {
        let rc = caller(ctx)?;
        let id = parse_id(&staff_member_id, "staffMemberId")?;
        Ok(service::status(state(ctx)?, rc, id)
            .await?
            .map(|(c, k)| CalendarConnection::of(c, k)))
    }

    /// Busy time imported from a staff member's calendars over `[from, to)` (UTC, at
    /// most 62 days), by start; at most 500. Same access as `calendarConnection`.
    /// Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn busy_blocks(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> async_graphql::Result<Vec<BusyBlock>> {
        let rc = caller(ctx)?;
        let id = parse_id(&staff_member_id, "staffMemberId")?;
        if to <= from || to - from > chrono::Duration::days(62) {
            return Err(ApiError::BadUserInput("from < to, at most 62 days apart".into()).into());
        }
        // Same rule as the connection itself.
        service::status(state(ctx)?, rc, id).await?;
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let rows = scoped::<calendar_busy_block::Entity>(rc.tenant_id)
            .filter(calendar_busy_block::Column::StaffMemberId.eq(id))
            .filter(calendar_busy_block::Column::StartsAt.lt(to))
            .filter(calendar_busy_block::Column::EndsAt.gt(from))
            .order_by_asc(calendar_busy_block::Column::StartsAt)
            .limit(500)
            .all(&*tx)
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|b| BusyBlock {
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                all_day: b.all_day,
                calendar_id: b.calendar_id,
            })
            .collect())
    }
}

/// Calendar mutations.
#[derive(Default)]
pub struct CalendarMutation;

async fn reload(
    ctx: &Context<'_>,
    staff_member_id: uuid::Uuid,
) -> async_graphql::Result<Option<CalendarConnection>> {
    let rc = caller(ctx)?;
    Ok(service::status(state(ctx)?, rc, staff_member_id)
        .await?
        .map(|(c, k)| CalendarConnection::of(c, k)))
}

/// Calendar mutations.
#[Object]
impl CalendarMutation {
    /// Starts connecting a staff member's Google Calendar (OAuth 2.0 with PKCE, offline
    /// access): returns the consent URL. Owners and managers for anyone, technicians for
    /// themselves. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `FEATURE_UNAVAILABLE` (no
    /// Google OAuth client on this server). User errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn connect_google_calendar(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
    ) -> async_graphql::Result<ConnectGoogleCalendarPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&staff_member_id, "staffMemberId")?;
        Ok(match service::connect(state(ctx)?, rc, id).await? {
            Ok(url) => ConnectGoogleCalendarPayload {
                url: Some(url),
                user_errors: vec![],
            },
            Err(user_errors) => ConnectGoogleCalendarPayload {
                url: None,
                user_errors,
            },
        })
    }

    /// Chooses the calendars read for busy time and the one bookings are written to.
    /// Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `FEATURE_UNAVAILABLE`. User errors:
    /// `NOT_FOUND` (not connected), `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn set_calendar_selection(
        &self,
        ctx: &Context<'_>,
        input: CalendarSelectionInput,
    ) -> async_graphql::Result<CalendarConnectionPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&input.staff_member_id, "staffMemberId")?;
        let outcome = service::select(
            state(ctx)?,
            rc,
            id,
            &input.read_calendar_ids,
            input.write_calendar_id.as_deref(),
        )
        .await?;
        payload(ctx, id, outcome).await
    }

    /// Syncs a staff member's calendars now (incremental; a full sync when Google asks).
    /// The import runs as a job: poll `calendarConnection.lastSyncAt`. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `FEATURE_UNAVAILABLE`. User errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn sync_calendar_now(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
    ) -> async_graphql::Result<CalendarConnectionPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&staff_member_id, "staffMemberId")?;
        let outcome = service::sync_now(state(ctx)?, rc, id).await?;
        payload(ctx, id, outcome).await
    }

    /// Disconnects a staff member's calendar: imported busy time is removed at once, the
    /// grant is revoked at Google (a job). Events already written stay in the calendar.
    /// Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn disconnect_google_calendar(
        &self,
        ctx: &Context<'_>,
        staff_member_id: ID,
    ) -> async_graphql::Result<CalendarConnectionPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&staff_member_id, "staffMemberId")?;
        Ok(match service::disconnect(state(ctx)?, rc, id).await? {
            Ok(()) => CalendarConnectionPayload::default(),
            Err(user_errors) => CalendarConnectionPayload {
                connection: None,
                user_errors,
            },
        })
    }
}

async fn payload(
    ctx: &Context<'_>,
    id: uuid::Uuid,
    outcome: crate::error::Outcome<()>,
) -> async_graphql::Result<CalendarConnectionPayload> {
    Ok(match outcome {
        Ok(()) => CalendarConnectionPayload {
            connection: reload(ctx, id).await?,
            user_errors: vec![],
        },
        Err(user_errors) => CalendarConnectionPayload {
            connection: None,
            user_errors,
        },
    })
}
