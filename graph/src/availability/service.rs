//! Loads what the slot rules need (two bounded queries besides the tenant and service:
//! weekly hours of the staff set, and their bookings in the range) and runs them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::{service, staff_member, tenant};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::rules::{self, DEFAULT_GRID_MINUTES, Interval, SlotRules, WeeklyHours};
use crate::bookings::service::{load_busy, load_hours, tenant_tz};
use crate::context::RequestCtx;
use crate::db::scoped;
use crate::error::ApiError;
use crate::state::GraphState;
use crate::util::now;

/// Longest range one availability query may cover, in days.
pub const MAX_RANGE_DAYS: i64 = 62;

/// What is asked.
#[derive(Debug, Clone)]
pub struct SlotQuery {
    /// The service.
    pub service_id: Uuid,
    /// One staff member, or all active ones.
    pub staff_member_id: Option<Uuid>,
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
}

/// One bookable start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC).
    pub ends_at: DateTime<Utc>,
    /// Staff members free for the whole slot, by id.
    pub staff_member_ids: Vec<Uuid>,
}

/// Computes bookable slots. Errors: `BAD_USER_INPUT` (range reversed or longer than
/// [`MAX_RANGE_DAYS`]), `NOT_FOUND` (service or staff member). An archived service or
/// staff member has no slots.
pub async fn available_slots(
    st: &GraphState,
    rc: &RequestCtx,
    q: SlotQuery,
) -> Result<Vec<Slot>, ApiError> {
    if q.to < q.from {
        return Err(ApiError::BadUserInput("`to` is before `from`".into()));
    }
    if (q.to - q.from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::BadUserInput(format!(
            "at most {MAX_RANGE_DAYS} days per query"
        )));
    }
    let tx = st.db.read(rc.tenant_id).await?;
    let tenant = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let tz = tenant_tz(&tenant)?;
    let svc = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(q.service_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("service"))?;
    let mut staff_q = scoped::<staff_member::Entity>(rc.tenant_id)
        .filter(staff_member::Column::Active.eq(true))
        .order_by_asc(staff_member::Column::Id);
    if let Some(id) = q.staff_member_id {
        let exists = scoped::<staff_member::Entity>(rc.tenant_id)
            .filter(staff_member::Column::Id.eq(id))
            .one(&*tx)
            .await?
            .is_some();
        if !exists {
            return Err(ApiError::NotFound("staff member"));
        }
        staff_q = staff_q.filter(staff_member::Column::Id.eq(id));
    }
    if !svc.active {
        return Ok(vec![]);
    }
    let staff: Vec<Uuid> = staff_q.all(&*tx).await?.into_iter().map(|s| s.id).collect();
    if staff.is_empty() {
        return Ok(vec![]);
    }
    let range_start = rules::local_instant(tz, q.from, 0, false)
        .ok_or_else(|| ApiError::BadUserInput("`from` is out of range".into()))?;
    let range_end =
        q.to.succ_opt()
            .and_then(|d| rules::local_instant(tz, d, 0, false))
            .ok_or_else(|| ApiError::BadUserInput("`to` is out of range".into()))?;
    let hours = load_hours(&tx, &staff).await?;
    let busy = load_busy(&tx, &staff, range_start, range_end).await?;
    tx.commit().await?;

    let duration = Duration::minutes(i64::from(svc.duration_minutes));
    let slot_rules = SlotRules {
        tz,
        duration,
        grid_minutes: DEFAULT_GRID_MINUTES,
        not_before: now(),
    };
    let empty = WeeklyHours::default();
    let mut merged: BTreeMap<DateTime<Utc>, Vec<Uuid>> = BTreeMap::new();
    for id in &staff {
        let mine: Vec<Interval> = busy
            .iter()
            .filter(|b| b.staff_member_id == *id)
            .map(|b| Interval::new(b.starts_at, b.ends_at))
            .collect();
        for t in rules::slots(
            &slot_rules,
            hours.get(id).unwrap_or(&empty),
            &mine,
            q.from,
            q.to,
        ) {
            merged.entry(t).or_default().push(*id);
        }
    }
    Ok(merged
        .into_iter()
        .map(|(starts_at, staff_member_ids)| Slot {
            starts_at,
            ends_at: starts_at + duration,
            staff_member_ids,
        })
        .collect())
}
