//! Export: a connected staff member's bookings are written to the chosen calendar.
//!
//! Every booking change of a staff member with a connection (or of a booking already
//! exported) enqueues `gcal.export` for that booking in the change's own transaction,
//! keyed by the booking so that a burst of changes costs one write. The job compares
//! what should be in Google (the booking, if it is live and its staff member writes to
//! a calendar) with what we last wrote (`calendar_event_links`) and makes one call:
//!
//! - insert with the deterministic event id [`event_id_for`] (base32hex of the booking
//!   id) — a retried or concurrent insert answers 409 and becomes an update, so a booking
//!   is never in a calendar twice;
//! - update on reschedule (404 → insert);
//! - delete on cancel, or from the old calendar when the staff member or the chosen
//!   calendar changed (404/410 count as deleted).
//!
//! The event carries our booking id in `extendedProperties.private`, so the import skips
//! it (our own bookings already block the time).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::{
    BookingStatus, booking, calendar_connection, calendar_event_link, customer, outbox_message,
    service,
};
use integrations::ProviderError;
use integrations::google_calendar::{
    EventTime, EventWrite, ExtendedProperties, GoogleError, event_id_for,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::google::{CONNECTED, db_unavailable, job_setup, with_token};
use super::sync::BOOKING_PROPERTY;
use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::jobs::{Job, JobHandler};
use crate::lifecycle::{BookingChange, BookingHook, HookOutput};
use crate::state::GraphState;
use crate::util::now;

/// Job kind of a booking export.
pub const EXPORT_JOB: &str = "gcal.export";

/// The export job of booking `id` (coalesced per booking).
pub fn export_job(id: Uuid) -> Job {
    Job::new(EXPORT_JOB, json!({"booking": id.to_string()})).keyed(format!("{EXPORT_JOB}:{id}"))
}

/// Enqueues an export when the booking's staff member (now or before a move) has a
/// connection, or the booking was exported before.
pub struct CalendarHook;

#[async_trait]
impl BookingHook<GraphState> for CalendarHook {
    fn name(&self) -> &'static str {
        "calendar"
    }

    async fn on_booking(
        &self,
        _st: &GraphState,
        tx: &Tx,
        booking: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError> {
        let mut staff = vec![booking.staff_member_id];
        if let BookingChange::Rescheduled { previous } | BookingChange::Reassigned { previous } =
            change
        {
            staff.push(previous.staff_member_id);
        }
        let connected = scoped::<calendar_connection::Entity>(tx.tenant_id())
            .filter(calendar_connection::Column::StaffMemberId.is_in(staff))
            .count(&**tx)
            .await?
            > 0;
        let linked = connected
            || scoped::<calendar_event_link::Entity>(tx.tenant_id())
                .filter(calendar_event_link::Column::BookingId.eq(booking.id))
                .count(&**tx)
                .await?
                > 0;
        Ok(if connected || linked {
            HookOutput::jobs(vec![export_job(booking.id)])
        } else {
            HookOutput::none()
        })
    }
}

fn live(status: BookingStatus) -> bool {
    !matches!(status, BookingStatus::Canceled | BookingStatus::NoShow)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What the export should leave in Google, read in one transaction.
struct Plan {
    link: Option<calendar_event_link::Model>,
    /// `(connection, calendar id, event)` the booking should be written as.
    target: Option<(calendar_connection::Model, String, EventWrite)>,
}

async fn plan(st: &GraphState, tenant_id: Uuid, booking_id: Uuid) -> Result<Plan, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let link = scoped::<calendar_event_link::Entity>(tenant_id)
        .filter(calendar_event_link::Column::BookingId.eq(booking_id))
        .one(&*tx)
        .await?;
    let b = scoped::<booking::Entity>(tenant_id)
        .filter(booking::Column::Id.eq(booking_id))
        .one(&*tx)
        .await?;
    let mut target = None;
    if let Some(b) = b.filter(|b| live(b.status)) {
        let conn = scoped::<calendar_connection::Entity>(tenant_id)
            .filter(calendar_connection::Column::StaffMemberId.eq(b.staff_member_id))
            .filter(calendar_connection::Column::Status.eq(CONNECTED))
            .one(&*tx)
            .await?;
        if let Some((conn, cal)) = conn.and_then(|c| c.write_calendar_id.clone().map(|w| (c, w))) {
            let svc = scoped::<service::Entity>(tenant_id)
                .filter(service::Column::Id.eq(b.service_id))
                .one(&*tx)
                .await?
                .map(|s| s.name)
                .unwrap_or_else(|| "Booking".into());
            let who = scoped::<customer::Entity>(tenant_id)
                .filter(customer::Column::Id.eq(b.customer_id))
                .one(&*tx)
                .await?
                .map(|c| c.name)
                .unwrap_or_default();
            let mut private = serde_json::Map::new();
            private.insert(BOOKING_PROPERTY.into(), Value::String(b.id.to_string()));
            let event = EventWrite {
                id: event_id_for(b.id.as_bytes()),
                summary: if who.is_empty() {
                    svc
                } else {
                    format!("{svc} — {who}")
                },
                description: format!(
                    "Booked with Servicegraph ({}). Booking {}.",
                    b.status.as_str(),
                    b.id
                ),
                location: b.address.clone(),
                start: EventTime {
                    date_time: Some(rfc3339(b.starts_at)),
                    ..Default::default()
                },
                end: EventTime {
                    date_time: Some(rfc3339(b.ends_at)),
                    ..Default::default()
                },
                status: "confirmed".into(),
                extended_properties: ExtendedProperties { private },
            };
            target = Some((conn, cal, event));
        }
    }
    tx.commit().await?;
    Ok(Plan { link, target })
}

fn booking_arg(job: &outbox_message::Model) -> Result<Uuid, ProviderError> {
    serde_json::from_str::<Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("booking")?.as_str()?.parse().ok())
        .ok_or_else(|| ProviderError::InvalidInput("payload".into()))
}

fn google(e: GoogleError) -> ProviderError {
    ProviderError::from(e)
}

/// `gcal.export`: writes one booking's event (insert, update or delete).
pub struct ExportHandler;

#[async_trait]
impl JobHandler<GraphState> for ExportHandler {
    fn kind(&self) -> &'static str {
        EXPORT_JOB
    }

    async fn call(
        &self,
        st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let booking_id = booking_arg(job)?;
        let setup = job_setup(st)?;
        let Plan { link, target } = plan(st, job.tenant_id, booking_id)
            .await
            .map_err(db_unavailable)?;
        let api = setup.api.clone();
        // Remove the event where it no longer belongs.
        if let Some(l) = &link {
            let moved = target
                .as_ref()
                .is_none_or(|(c, cal, _)| c.id != l.connection_id || *cal != l.calendar_id);
            if moved {
                let (cal, ev) = (l.calendar_id.clone(), l.event_id.clone());
                match with_token(st, job.tenant_id, l.connection_id, |t| {
                    let (api, cal, ev) = (api.clone(), cal.clone(), ev.clone());
                    async move { api.delete_event(&t, &cal, &ev).await }
                })
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(google(e)),
                    // The old connection is gone or broken: nothing more we can delete.
                    Err(ProviderError::Rejected { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let Some((conn, cal, event)) = target else {
            return Ok(json!({"removed": true}));
        };
        let same_place = link
            .as_ref()
            .is_some_and(|l| l.connection_id == conn.id && l.calendar_id == cal);
        let wrote = with_token(st, job.tenant_id, conn.id, |t| {
            let (api, cal, event) = (api.clone(), cal.clone(), event.clone());
            async move {
                if same_place {
                    match api.update_event(&t, &cal, &event).await {
                        Err(GoogleError::NotFound) | Err(GoogleError::Gone) => {
                            api.insert_event(&t, &cal, &event).await
                        }
                        other => other,
                    }
                } else {
                    match api.insert_event(&t, &cal, &event).await {
                        // Already there (a retried or concurrent insert, or an event
                        // deleted in Google, whose id stays taken): write it instead.
                        Err(GoogleError::Conflict) => api.update_event(&t, &cal, &event).await,
                        other => other,
                    }
                }
            }
        })
        .await?;
        wrote.map_err(google)?;
        Ok(json!({
            "connection": conn.id.to_string(),
            "calendar": cal,
            "event": event.id,
            "starts_at": event.start.date_time,
            "ends_at": event.end.date_time,
        }))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        tx: &Tx,
        job: &outbox_message::Model,
        result: &Value,
    ) -> Result<(), ApiError> {
        let booking_id = booking_arg(job).map_err(|e| ApiError::Internal(e.to_string()))?;
        calendar_event_link::Entity::delete_many()
            .filter(calendar_event_link::Column::TenantId.eq(tx.tenant_id()))
            .filter(calendar_event_link::Column::BookingId.eq(booking_id))
            .exec(&**tx)
            .await?;
        if result.get("removed").is_some() {
            return Ok(());
        }
        let text = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
        let time = |k: &str| {
            DateTime::parse_from_rfc3339(text(k))
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::Internal("export result".into()))
        };
        let connection: Uuid = text("connection")
            .parse()
            .map_err(|_| ApiError::Internal("export result".into()))?;
        calendar_event_link::Entity::insert(calendar_event_link::ActiveModel {
            booking_id: Set(booking_id),
            tenant_id: Set(tx.tenant_id()),
            connection_id: Set(connection),
            calendar_id: Set(text("calendar").into()),
            event_id: Set(text("event").into()),
            starts_at: Set(time("starts_at")?),
            ends_at: Set(time("ends_at")?),
            updated_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(calendar_event_link::Column::BookingId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&**tx)
        .await?;
        Ok(())
    }
}

/// Registers the export hook and handler.
pub fn register(ext: &mut crate::extensions::Extensions<GraphState>) {
    ext.booking_hooks.register(Arc::new(CalendarHook));
    ext.jobs.register(Arc::new(ExportHandler));
}
