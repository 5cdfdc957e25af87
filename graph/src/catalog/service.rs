//! Catalog rules.

use entities::service;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::types::{CreateServiceInput, UpdateServiceInput};
use crate::context::RequestCtx;
use crate::db::scoped;
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::pagination::{PageArgs, Slice, paginate};
use crate::state::GraphState;
use crate::util::{new_id, now};

/// Slot grids a tenant or service may use, in minutes.
pub const GRIDS: [i32; 6] = [5, 10, 15, 20, 30, 60];
/// Longest minimum notice: 30 days, in minutes.
pub const MAX_NOTICE_MINUTES: i32 = 30 * 24 * 60;

fn validate_scheduling(
    buffer_before: Option<i32>,
    buffer_after: Option<i32>,
    grid: Option<i32>,
    notice: Option<i32>,
    errors: &mut Vec<UserError>,
) {
    for (v, field) in [
        (buffer_before, "bufferBeforeMinutes"),
        (buffer_after, "bufferAfterMinutes"),
    ] {
        if v.is_some_and(|b| !(0..=720).contains(&b)) {
            errors.push(UserError::new(
                Some(field),
                C::InvalidInput,
                "buffers are 0–720 minutes",
            ));
        }
    }
    if grid.is_some_and(|g| g != 0 && !GRIDS.contains(&g)) {
        errors.push(UserError::new(
            Some("slotIntervalMinutes"),
            C::InvalidInput,
            "slot interval must be 5, 10, 15, 20, 30 or 60 minutes",
        ));
    }
    if notice.is_some_and(|n| n != -1 && !(0..=MAX_NOTICE_MINUTES).contains(&n)) {
        errors.push(UserError::new(
            Some("minNoticeMinutes"),
            C::InvalidInput,
            "minimum notice is 0–43200 minutes",
        ));
    }
}

fn validate(name: Option<&str>, duration: Option<i32>, price: Option<i64>) -> Vec<UserError> {
    let mut errors = Vec::new();
    if let Some(n) = name
        && (n.trim().is_empty() || n.chars().count() > 200)
    {
        errors.push(UserError::new(
            Some("name"),
            C::InvalidInput,
            "name must be 1–200 characters",
        ));
    }
    if let Some(d) = duration
        && !(5..=1440).contains(&d)
    {
        errors.push(UserError::new(
            Some("durationMinutes"),
            C::InvalidInput,
            "duration must be 5–1440 minutes",
        ));
    }
    if let Some(p) = price
        && !(0..=MAX_PRICE_CENTS).contains(&p)
    {
        errors.push(UserError::new(
            Some("priceCents"),
            C::InvalidInput,
            format!("price must be 0–{MAX_PRICE_CENTS} cents"),
        ));
    }
    errors
}

/// Highest price of one service, add-on or staff override, in cents (100 000.00 in the
/// tenant's currency). With at most [`crate::util::MAX_EXTRA_SERVICES`] extra services
/// and [`crate::util::MAX_ADDONS`] add-ons, a booking's total stays below 2³¹ − 1, the
/// largest GraphQL `Int`.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;

/// Lists services (active only unless `include_archived`).
pub async fn list(
    conn: &impl ConnectionTrait,
    rc: &RequestCtx,
    include_archived: bool,
    args: PageArgs,
) -> Result<Slice<service::Model>, ApiError> {
    let mut q = scoped::<service::Entity>(rc.tenant_id)
        .order_by_asc(service::Column::DisplayOrder)
        .order_by_asc(service::Column::Name)
        .order_by_asc(service::Column::Id);
    if !include_archived {
        q = q.filter(service::Column::Active.eq(true));
    }
    paginate(conn, q, args).await
}

/// One service. Errors: `NOT_FOUND`.
pub async fn get(st: &GraphState, rc: &RequestCtx, id: Uuid) -> Result<service::Model, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let s = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("service"))?;
    tx.commit().await?;
    Ok(s)
}

/// Creates a service.
pub async fn create(
    st: &GraphState,
    rc: &RequestCtx,
    input: CreateServiceInput,
) -> Result<Outcome<service::Model>, ApiError> {
    let mut errors = validate(
        Some(&input.name),
        Some(input.duration_minutes),
        Some(input.price_cents),
    );
    validate_scheduling(
        input.buffer_before_minutes,
        input.buffer_after_minutes,
        input.slot_interval_minutes,
        input.min_notice_minutes,
        &mut errors,
    );
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let s = service::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        name: Set(input.name.trim().to_string()),
        description: Set(input.description.filter(|d| !d.trim().is_empty())),
        duration_minutes: Set(input.duration_minutes),
        price_cents: Set(input.price_cents),
        active: Set(input.active.unwrap_or(true)),
        display_order: Set(input.display_order.unwrap_or(0)),
        buffer_before_minutes: Set(input.buffer_before_minutes.unwrap_or(0)),
        buffer_after_minutes: Set(input.buffer_after_minutes.unwrap_or(0)),
        slot_interval_minutes: Set(input.slot_interval_minutes.filter(|g| *g != 0)),
        min_notice_minutes: Set(input.min_notice_minutes.filter(|n| *n != -1)),
        deposit_policy: Set(None),
        deposit_value: Set(None),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(s))
}

/// Updates a service. Errors: `NOT_FOUND`.
pub async fn update(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    input: UpdateServiceInput,
) -> Result<Outcome<service::Model>, ApiError> {
    let errors = validate(
        input.name.as_deref(),
        input.duration_minutes,
        input.price_cents,
    );
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("service"))?;
    let mut am = current.into_active_model();
    if let Some(n) = input.name {
        am.name = Set(n.trim().to_string());
    }
    if let Some(d) = input.description {
        am.description = Set(Some(d).filter(|d| !d.trim().is_empty()));
    }
    if let Some(d) = input.duration_minutes {
        am.duration_minutes = Set(d);
    }
    if let Some(p) = input.price_cents {
        am.price_cents = Set(p);
    }
    if let Some(a) = input.active {
        am.active = Set(a);
    }
    if let Some(o) = input.display_order {
        am.display_order = Set(o);
    }
    if let Some(b) = input.buffer_before_minutes {
        am.buffer_before_minutes = Set(b);
    }
    if let Some(b) = input.buffer_after_minutes {
        am.buffer_after_minutes = Set(b);
    }
    if let Some(g) = input.slot_interval_minutes {
        am.slot_interval_minutes = Set((g != 0).then_some(g));
    }
    if let Some(n) = input.min_notice_minutes {
        am.min_notice_minutes = Set((n != -1).then_some(n));
    }
    let s = am.update(&*tx).await?;
    tx.commit().await?;
    Ok(Ok(s))
}

/// Adds an add-on to a service. Errors: `NOT_FOUND` (service). User errors:
/// `INVALID_INPUT`.
pub async fn create_addon(
    st: &GraphState,
    rc: &RequestCtx,
    service_id: Uuid,
    input: super::types::ServiceAddonInput,
) -> Result<Outcome<entities::service_addon::Model>, ApiError> {
    let mut errors = validate(Some(&input.name), None, Some(input.price_cents));
    if !(0..=720).contains(&input.duration_minutes) {
        errors.push(UserError::new(
            Some("durationMinutes"),
            C::InvalidInput,
            "an add-on adds 0–720 minutes",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = st.db.write(rc.tenant_id).await?;
    scoped::<service::Entity>(rc.tenant_id)
        .filter(service::Column::Id.eq(service_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("service"))?;
    let a = entities::service_addon::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        service_id: Set(service_id),
        name: Set(input.name.trim().to_string()),
        duration_minutes: Set(input.duration_minutes),
        price_cents: Set(input.price_cents),
        active: Set(true),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(a))
}

/// Archives an add-on (existing bookings keep their lines). Errors: `NOT_FOUND`.
pub async fn archive_addon(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<entities::service_addon::Model, ApiError> {
    use entities::service_addon;
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<service_addon::Entity>(rc.tenant_id)
        .filter(service_addon::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("add-on"))?;
    let mut am = current.into_active_model();
    am.active = Set(false);
    let a = am.update(&*tx).await?;
    tx.commit().await?;
    Ok(a)
}
