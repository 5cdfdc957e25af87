//! Staff rules: schedules are validated whole and replaced in one transaction.

use entities::{staff_member, user, working_hours};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::types::{
    CreateStaffMemberInput, UpdateStaffMemberInput, WorkingIntervalInput, parse_minute,
};
use crate::context::RequestCtx;
use crate::db::{Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::pagination::{PageArgs, Slice, paginate};
use crate::state::GraphState;
use crate::util::{new_id, now, parse_input_id};

/// A validated schedule: `(weekday index, start minute, end minute)`.
pub type Schedule = Vec<(i16, i32, i32)>;

/// Validates a weekly schedule: `HH:MM` times, start before end, no overlap within a day.
pub fn validate_schedule(items: &[WorkingIntervalInput]) -> Result<Schedule, Vec<UserError>> {
    let mut errors = Vec::new();
    let mut out: Schedule = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let field = format!("weeklyHours.{i}");
        match (parse_minute(&it.start_time), parse_minute(&it.end_time)) {
            (Some(s), Some(e)) if s < e => out.push((it.weekday.index(), s, e)),
            (Some(_), Some(_)) => errors.push(UserError::new(
                Some(&field),
                C::InvalidInput,
                "endTime must be after startTime",
            )),
            _ => errors.push(UserError::new(
                Some(&field),
                C::InvalidInput,
                "times must be HH:MM between 00:00 and 24:00",
            )),
        }
    }
    out.sort();
    for w in out.windows(2) {
        if w[0].0 == w[1].0 && w[1].1 < w[0].2 {
            errors.push(UserError::new(
                Some("weeklyHours"),
                C::InvalidInput,
                "working intervals of one day overlap",
            ));
            break;
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

async fn check_user(tx: &Tx, id: &async_graphql::ID) -> Result<Result<Uuid, UserError>, ApiError> {
    let uid = match parse_input_id(id, "userId", "user") {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let exists = scoped::<user::Entity>(tx.tenant_id())
        .filter(user::Column::Id.eq(uid))
        .one(&**tx)
        .await?
        .is_some();
    Ok(if exists {
        Ok(uid)
    } else {
        Err(UserError::new(
            Some("userId"),
            C::NotFound,
            "user not found",
        ))
    })
}

async fn replace_hours(tx: &Tx, staff_id: Uuid, schedule: &Schedule) -> Result<(), ApiError> {
    working_hours::Entity::delete_many()
        .filter(working_hours::Column::TenantId.eq(tx.tenant_id()))
        .filter(working_hours::Column::StaffMemberId.eq(staff_id))
        .exec(&**tx)
        .await?;
    if schedule.is_empty() {
        return Ok(());
    }
    let rows = schedule.iter().map(|(d, s, e)| working_hours::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        staff_member_id: Set(staff_id),
        weekday: Set(*d),
        start_minute: Set(*s),
        end_minute: Set(*e),
    });
    working_hours::Entity::insert_many(rows).exec(&**tx).await?;
    Ok(())
}

fn check_places(
    home: Option<&crate::geo::GeoInput>,
    area: Option<&super::types::ServiceArea>,
    errors: &mut Vec<UserError>,
) {
    if home.is_some_and(|h| h.geo().is_err()) {
        errors.push(UserError::new(
            Some("homeBase"),
            C::InvalidInput,
            "coordinates out of range",
        ));
    }
    if let Some(a) = area
        && (crate::availability::rules::Geo::from_degrees(a.latitude, a.longitude).is_none()
            || !(0.1..=500.0).contains(&a.radius_km))
    {
        errors.push(UserError::new(
            Some("serviceArea"),
            C::InvalidInput,
            "service area needs valid coordinates and a radius of 0.1–500 km",
        ));
    }
}

fn check_name(name: &str, errors: &mut Vec<UserError>) {
    if name.trim().is_empty() || name.chars().count() > 200 {
        errors.push(UserError::new(
            Some("name"),
            C::InvalidInput,
            "name must be 1–200 characters",
        ));
    }
}

/// Lists staff members.
pub async fn list(
    conn: &impl ConnectionTrait,
    rc: &RequestCtx,
    include_archived: bool,
    args: PageArgs,
) -> Result<Slice<staff_member::Model>, ApiError> {
    let mut q = scoped::<staff_member::Entity>(rc.tenant_id)
        .order_by_asc(staff_member::Column::Name)
        .order_by_asc(staff_member::Column::Id);
    if !include_archived {
        q = q.filter(staff_member::Column::Active.eq(true));
    }
    paginate(conn, q, args).await
}

/// One staff member. Errors: `NOT_FOUND`.
pub async fn get(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<staff_member::Model, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let s = scoped::<staff_member::Entity>(rc.tenant_id)
        .filter(staff_member::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("staff member"))?;
    tx.commit().await?;
    Ok(s)
}

/// Creates a staff member and their schedule in one transaction.
pub async fn create(
    st: &GraphState,
    rc: &RequestCtx,
    input: CreateStaffMemberInput,
) -> Result<Outcome<staff_member::Model>, ApiError> {
    let mut errors = Vec::new();
    check_name(&input.name, &mut errors);
    check_places(
        input.home_base.as_ref(),
        input.service_area.as_ref(),
        &mut errors,
    );
    let schedule = match validate_schedule(&input.weekly_hours) {
        Ok(s) => s,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let user_id = match &input.user_id {
        Some(id) => match check_user(&tx, id).await? {
            Ok(u) => Some(u),
            Err(e) => return Ok(Err(vec![e])),
        },
        None => None,
    };
    let s = staff_member::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        name: Set(input.name.trim().to_string()),
        user_id: Set(user_id),
        active: Set(input.active.unwrap_or(true)),
        home_latitude: Set(input.home_base.map(|h| h.latitude)),
        home_longitude: Set(input.home_base.map(|h| h.longitude)),
        area_latitude: Set(input.service_area.map(|a| a.latitude)),
        area_longitude: Set(input.service_area.map(|a| a.longitude)),
        area_radius_km: Set(input.service_area.map(|a| a.radius_km)),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await;
    let s = match s {
        Ok(s) => s,
        Err(e) if crate::db::write_conflict(&e) == Some(crate::db::WriteConflict::Unique) => {
            return Ok(Err(vec![UserError::new(
                Some("userId"),
                C::InvalidInput,
                "this user is already linked to another staff member",
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    replace_hours(&tx, s.id, &schedule).await?;
    tx.commit().await?;
    Ok(Ok(s))
}

/// Updates a staff member. Errors: `NOT_FOUND`.
pub async fn update(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    input: UpdateStaffMemberInput,
) -> Result<Outcome<staff_member::Model>, ApiError> {
    let mut errors = Vec::new();
    if let Some(n) = &input.name {
        check_name(n, &mut errors);
    }
    check_places(
        input.home_base.as_ref(),
        input.service_area.as_ref(),
        &mut errors,
    );
    let schedule = match input.weekly_hours.as_deref().map(validate_schedule) {
        Some(Ok(s)) => Some(s),
        Some(Err(mut e)) => {
            errors.append(&mut e);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<staff_member::Entity>(rc.tenant_id)
        .filter(staff_member::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("staff member"))?;
    let mut am = current.into_active_model();
    if let Some(n) = input.name {
        am.name = Set(n.trim().to_string());
    }
    if let Some(a) = input.active {
        am.active = Set(a);
    }
    if let Some(h) = input.home_base {
        am.home_latitude = Set(Some(h.latitude));
        am.home_longitude = Set(Some(h.longitude));
    }
    if let Some(a) = input.service_area {
        am.area_latitude = Set(Some(a.latitude));
        am.area_longitude = Set(Some(a.longitude));
        am.area_radius_km = Set(Some(a.radius_km));
    }
    if let Some(uid) = &input.user_id {
        match check_user(&tx, uid).await? {
            Ok(u) => am.user_id = Set(Some(u)),
            Err(e) => return Ok(Err(vec![e])),
        }
    }
    let s = am.update(&*tx).await;
    let s = match s {
        Ok(s) => s,
        Err(e) if crate::db::write_conflict(&e) == Some(crate::db::WriteConflict::Unique) => {
            return Ok(Err(vec![UserError::new(
                Some("userId"),
                C::InvalidInput,
                "this user is already linked to another staff member",
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(schedule) = schedule {
        replace_hours(&tx, s.id, &schedule).await?;
    }
    tx.commit().await?;
    Ok(Ok(s))
}
