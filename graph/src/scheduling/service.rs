//! Scheduling settings rules. Every change is validated whole and written in one
//! transaction.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::{
    availability_override, booking, service, staff_member, staff_service, tenant, time_off,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::{AvailabilityOverrideInput, BookingPolicyInput, StaffServiceInput, TimeOffInput};
use crate::catalog::service::{GRIDS, MAX_NOTICE_MINUTES};
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::staff::service::validate_schedule;
use crate::staff::types::WorkingIntervalInput;
use crate::state::GraphState;
use crate::util::{new_id, now, parse_input_id};

/// Longest time off, days.
pub const MAX_TIME_OFF_DAYS: i64 = 366;

/// Updates the tenant's booking policy.
pub async fn update_policy(
    st: &GraphState,
    rc: &RequestCtx,
    input: BookingPolicyInput,
) -> Result<Outcome<tenant::Model>, ApiError> {
    let mut errors = Vec::new();
    let mut bad = |ok: bool, field: &str, msg: &str| {
        if !ok {
            errors.push(UserError::new(Some(field), C::InvalidInput, msg));
        }
    };
    if let Some(g) = input.slot_interval_minutes {
        bad(
            GRIDS.contains(&g),
            "slotIntervalMinutes",
            "slot interval must be 5, 10, 15, 20, 30 or 60",
        );
    }
    if let Some(n) = input.min_notice_minutes {
        bad(
            (0..=MAX_NOTICE_MINUTES).contains(&n),
            "minNoticeMinutes",
            "minimum notice is 0–43200 minutes",
        );
    }
    if let Some(h) = input.horizon_days {
        bad(
            (1..=731).contains(&h),
            "horizonDays",
            "horizon is 1–731 days",
        );
    }
    if let Some(c) = input.cancellation_notice_hours {
        bad(
            (0..=720).contains(&c),
            "cancellationNoticeHours",
            "cancellation notice is 0–720 hours",
        );
    }
    if let Some(d) = input.travel_detour_factor {
        bad(
            (1.0..=3.0).contains(&d),
            "travelDetourFactor",
            "detour factor is 1–3",
        );
    }
    if let Some(v) = input.travel_speed_kmh {
        bad(
            (5.0..=130.0).contains(&v),
            "travelSpeedKmh",
            "average speed is 5–130 km/h",
        );
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let t = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let mut am = t.into_active_model();
    if let Some(v) = input.slot_interval_minutes {
        am.slot_interval_minutes = Set(v);
    }
    if let Some(v) = input.min_notice_minutes {
        am.min_notice_minutes = Set(v);
    }
    if let Some(v) = input.horizon_days {
        am.horizon_days = Set(v);
    }
    if let Some(v) = input.cancellation_notice_hours {
        am.cancellation_notice_hours = Set(v);
    }
    if let Some(v) = input.assignment_policy {
        am.assignment_policy = Set(v.as_str().into());
    }
    if let Some(v) = input.travel_detour_factor {
        am.travel_detour_factor = Set(v);
    }
    if let Some(v) = input.travel_speed_kmh {
        am.travel_speed_kmh = Set(v);
    }
    let t = am.update(&*tx).await?;
    tx.commit().await?;
    Ok(Ok(t))
}

async fn staff_exists(tx: &Tx, id: Uuid) -> Result<bool, ApiError> {
    Ok(scoped::<staff_member::Entity>(tx.tenant_id())
        .filter(staff_member::Column::Id.eq(id))
        .one(&**tx)
        .await?
        .is_some())
}

fn range_ok(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    if to < from || (to - from).num_days() > 366 {
        return Err(ApiError::BadUserInput(
            "dates must be in order and at most 366 days apart".into(),
        ));
    }
    Ok(())
}

/// Override rows between two dates (holidays always included), by date and staff.
pub async fn list_overrides(
    st: &GraphState,
    rc: &RequestCtx,
    from: NaiveDate,
    to: NaiveDate,
    staff: Option<Uuid>,
) -> Result<Vec<availability_override::Model>, ApiError> {
    range_ok(from, to)?;
    let tx = st.db.read(rc.tenant_id).await?;
    let mut q = scoped::<availability_override::Entity>(rc.tenant_id)
        .filter(availability_override::Column::Date.between(from, to))
        .order_by_asc(availability_override::Column::Date)
        .order_by_asc(availability_override::Column::StaffMemberId)
        .order_by_asc(availability_override::Column::StartMinute);
    if let Some(s) = staff {
        q = q.filter(
            Condition::any()
                .add(availability_override::Column::StaffMemberId.eq(s))
                .add(availability_override::Column::StaffMemberId.is_null()),
        );
    }
    let rows = q.all(&*tx).await?;
    tx.commit().await?;
    Ok(rows)
}

async fn delete_override_rows(
    tx: &Tx,
    staff: Option<Uuid>,
    date: NaiveDate,
) -> Result<(), ApiError> {
    let mut q = availability_override::Entity::delete_many()
        .filter(availability_override::Column::TenantId.eq(tx.tenant_id()))
        .filter(availability_override::Column::Date.eq(date));
    q = match staff {
        Some(s) => q.filter(availability_override::Column::StaffMemberId.eq(s)),
        None => q.filter(availability_override::Column::StaffMemberId.is_null()),
    };
    q.exec(&**tx).await?;
    Ok(())
}

/// Replaces the override of one date.
pub async fn set_override(
    st: &GraphState,
    rc: &RequestCtx,
    input: AvailabilityOverrideInput,
) -> Result<Outcome<Vec<availability_override::Model>>, ApiError> {
    let staff = match input
        .staff_member_id
        .as_ref()
        .map(|s| parse_input_id(s, "staffMemberId", "staff member"))
    {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Ok(Err(vec![e])),
        None => None,
    };
    if staff.is_none() && !input.intervals.is_empty() {
        return Ok(Err(vec![UserError::new(
            Some("intervals"),
            C::InvalidInput,
            "a business holiday closes the whole day: give no intervals",
        )]));
    }
    // Validate times with the weekly-schedule rules (weekday ignored: force one day).
    let same_day: Vec<WorkingIntervalInput> = input
        .intervals
        .iter()
        .map(|i| WorkingIntervalInput {
            weekday: crate::staff::types::Weekday::Monday,
            ..i.clone()
        })
        .collect();
    let spans = match validate_schedule(&same_day) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let note = input
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let tx = st.db.write(rc.tenant_id).await?;
    if let Some(s) = staff
        && !staff_exists(&tx, s).await?
    {
        return Ok(Err(vec![UserError::new(
            Some("staffMemberId"),
            C::NotFound,
            "staff member not found",
        )]));
    }
    delete_override_rows(&tx, staff, input.date).await?;
    let rows: Vec<(Option<i32>, Option<i32>)> = if spans.is_empty() {
        vec![(None, None)]
    } else {
        spans.iter().map(|(_, s, e)| (Some(*s), Some(*e))).collect()
    };
    let mut out = Vec::new();
    for (s, e) in rows {
        out.push(
            availability_override::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(rc.tenant_id),
                staff_member_id: Set(staff),
                date: Set(input.date),
                start_minute: Set(s),
                end_minute: Set(e),
                note: Set(note.clone()),
            }
            .insert(&*tx)
            .await?,
        );
    }
    tx.commit().await?;
    Ok(Ok(out))
}

/// Removes the override of one date.
pub async fn clear_override(
    st: &GraphState,
    rc: &RequestCtx,
    staff: Option<Uuid>,
    date: NaiveDate,
) -> Result<(), ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    delete_override_rows(&tx, staff, date).await?;
    tx.commit().await?;
    Ok(())
}

/// Time off overlapping `[from, to)`; technicians only their own.
pub async fn list_time_off(
    st: &GraphState,
    rc: &RequestCtx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    staff: Option<Uuid>,
) -> Result<Vec<time_off::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let mut q = scoped::<time_off::Entity>(rc.tenant_id)
        .filter(time_off::Column::StartsAt.lt(to))
        .filter(time_off::Column::EndsAt.gt(from))
        .order_by_asc(time_off::Column::StartsAt);
    if let Some(s) = staff {
        q = q.filter(time_off::Column::StaffMemberId.eq(s));
    }
    if let Some(own) = rc.technician_scope() {
        q = q.filter(time_off::Column::StaffMemberId.eq(own.unwrap_or(Uuid::nil())));
    }
    let rows = q.all(&*tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Adds time off; returns it and the ids of bookings it overlaps.
pub async fn add_time_off(
    st: &GraphState,
    rc: &RequestCtx,
    input: TimeOffInput,
) -> Result<Outcome<(time_off::Model, Vec<Uuid>)>, ApiError> {
    let staff = match parse_input_id(&input.staff_member_id, "staffMemberId", "staff member") {
        Ok(s) => s,
        Err(e) => return Ok(Err(vec![e])),
    };
    if input.ends_at <= input.starts_at
        || input.ends_at - input.starts_at > Duration::days(MAX_TIME_OFF_DAYS)
    {
        return Ok(Err(vec![UserError::new(
            Some("endsAt"),
            C::InvalidInput,
            "endsAt must be after startsAt and at most 366 days later",
        )]));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    if !staff_exists(&tx, staff).await? {
        return Ok(Err(vec![UserError::new(
            Some("staffMemberId"),
            C::NotFound,
            "staff member not found",
        )]));
    }
    let t = time_off::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        staff_member_id: Set(staff),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        reason: Set(input
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await?;
    let conflicts = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::StaffMemberId.eq(staff))
        .filter(booking::Column::Status.is_in(["PENDING", "CONFIRMED"]))
        .filter(booking::Column::StartsAt.lt(input.ends_at))
        .filter(booking::Column::EndsAt.gt(input.starts_at))
        .order_by_asc(booking::Column::StartsAt)
        .all(&*tx)
        .await?
        .into_iter()
        .map(|b| b.id)
        .collect();
    tx.commit().await?;
    Ok(Ok((t, conflicts)))
}

/// Deletes time off. Errors: `NOT_FOUND`.
pub async fn delete_time_off(st: &GraphState, rc: &RequestCtx, id: Uuid) -> Result<(), ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let res = time_off::Entity::delete_many()
        .filter(time_off::Column::TenantId.eq(rc.tenant_id))
        .filter(time_off::Column::Id.eq(id))
        .exec(&*tx)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound("time off"));
    }
    tx.commit().await?;
    Ok(())
}

/// The services staff member `staff` performs. Errors: `NOT_FOUND`.
pub async fn list_staff_services(
    st: &GraphState,
    rc: &RequestCtx,
    staff: Uuid,
) -> Result<Vec<staff_service::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    if !staff_exists(&tx, staff).await? {
        return Err(ApiError::NotFound("staff member"));
    }
    let rows = scoped::<staff_service::Entity>(rc.tenant_id)
        .filter(staff_service::Column::StaffMemberId.eq(staff))
        .all(&*tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Replaces the services of a staff member. Errors: `NOT_FOUND` (staff member).
pub async fn set_staff_services(
    st: &GraphState,
    rc: &RequestCtx,
    staff: Uuid,
    items: Vec<StaffServiceInput>,
) -> Result<Outcome<Vec<staff_service::Model>>, ApiError> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let field = format!("services.{i}");
        match parse_input_id(&it.service_id, &format!("{field}.serviceId"), "service") {
            Ok(id) => parsed.push((id, it.price_cents, it.duration_minutes)),
            Err(e) => errors.push(e),
        }
        if it
            .price_cents
            .is_some_and(|p| !(0..=crate::catalog::service::MAX_PRICE_CENTS).contains(&p))
        {
            errors.push(UserError::new(
                Some(&field),
                C::InvalidInput,
                format!(
                    "price must be 0–{} cents",
                    crate::catalog::service::MAX_PRICE_CENTS
                ),
            ));
        }
        if it
            .duration_minutes
            .is_some_and(|d| !(5..=1440).contains(&d))
        {
            errors.push(UserError::new(
                Some(&field),
                C::InvalidInput,
                "duration must be 5–1440 minutes",
            ));
        }
    }
    let mut ids: Vec<Uuid> = parsed.iter().map(|p| p.0).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != parsed.len() {
        errors.push(UserError::new(
            Some("services"),
            C::InvalidInput,
            "a service is listed twice",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    if !staff_exists(&tx, staff).await? {
        return Err(ApiError::NotFound("staff member"));
    }
    let known = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.is_in(ids.iter().copied()))
        .all(&*tx)
        .await?;
    if known.len() != ids.len() {
        return Ok(Err(vec![UserError::new(
            Some("services"),
            C::NotFound,
            "service not found",
        )]));
    }
    staff_service::Entity::delete_many()
        .filter(staff_service::Column::TenantId.eq(rc.tenant_id))
        .filter(staff_service::Column::StaffMemberId.eq(staff))
        .exec(&*tx)
        .await?;
    let mut out = Vec::new();
    for (service_id, price, duration) in parsed {
        out.push(
            staff_service::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(rc.tenant_id),
                staff_member_id: Set(staff),
                service_id: Set(service_id),
                price_cents: Set(price),
                duration_minutes: Set(duration),
            }
            .insert(&*tx)
            .await?,
        );
    }
    tx.commit().await?;
    Ok(Ok(out))
}
