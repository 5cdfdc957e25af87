//! Loads everything the slot rules need for one service and a set of staff members over
//! a range of local dates — with a fixed number of queries (tenant, service, staff,
//! qualifications, weekly hours, overrides, time off, bookings), however many staff
//! members or days are involved (no N+1).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use entities::{
    availability_override, booking, calendar_busy_block, service, service_addon, slot_hold,
    staff_member, staff_service, tenant, time_off, working_hours,
};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::rules::{
    Busy, BusyKind, Geo, Interval, Overrides, SlotRules, StaffSchedule, Territory, TravelTimes,
    WeeklyHours, local_instant,
};
use crate::db::{Tx, scoped};
use crate::error::ApiError;

/// One line of what is booked: a service or an add-on, priced for a staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLine {
    /// The service, for service lines.
    pub service_id: Option<Uuid>,
    /// The add-on, for add-on lines.
    pub addon_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Minor units.
    pub price_cents: i64,
}

/// A staff member who can perform the service(s), with their effective price and
/// duration (sums over services — each at the staff member's override or the service's
/// own — and add-ons).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The staff member.
    pub staff: staff_member::Model,
    /// Total price in minor units.
    pub price_cents: i64,
    /// Total duration in minutes.
    pub duration_minutes: i32,
    /// The lines that make up the totals (empty when built from parts).
    pub items: Vec<ItemLine>,
}

/// Why no candidate could be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadRefusal {
    /// No such service in this tenant.
    ServiceNotFound,
    /// The service is archived.
    ServiceInactive,
    /// No such staff member in this tenant.
    StaffNotFound,
    /// The staff member is archived.
    StaffInactive,
    /// The staff member does not perform this service.
    NotQualified,
    /// An add-on does not exist, is archived, or belongs to another service.
    AddonNotFound,
}

/// The loaded world of one availability question.
#[derive(Debug, Clone)]
pub struct ScheduleData {
    /// The tenant.
    pub tenant: tenant::Model,
    /// Its timezone.
    pub tz: Tz,
    /// The service.
    pub service: service::Model,
    /// Qualified, active staff members, by id.
    pub candidates: Vec<Candidate>,
    hours: HashMap<Uuid, WeeklyHours>,
    overrides: HashMap<Uuid, Overrides>,
    busy: HashMap<Uuid, Vec<Busy>>,
    /// When each candidate's most recent booking was made (round-robin assignment).
    pub last_booked: HashMap<Uuid, DateTime<Utc>>,
    /// Where the work would happen (mobile services), from the request.
    pub location: Option<Geo>,
    /// Drive times the rules read: the tenant's estimate until
    /// [`ScheduleData::set_travel`] adds a routing provider's answers.
    pub travel: Arc<TravelTimes>,
    empty_hours: WeeklyHours,
    empty_overrides: Overrides,
}

impl ScheduleData {
    /// Assembles schedule data from parts already in memory (benchmarks, tests, and
    /// callers that cache). `busy` lists must be sorted by start.
    pub fn from_parts(
        tenant: tenant::Model,
        service: service::Model,
        candidates: Vec<Candidate>,
        hours: HashMap<Uuid, WeeklyHours>,
        overrides: HashMap<Uuid, Overrides>,
        busy: HashMap<Uuid, Vec<Busy>>,
    ) -> Result<ScheduleData, ApiError> {
        Ok(ScheduleData {
            tz: tenant_tz(&tenant)?,
            travel: Arc::new(TravelTimes::estimated(estimate_of(&tenant))),
            tenant,
            service,
            candidates,
            hours,
            overrides,
            busy,
            last_booked: HashMap::new(),
            location: None,
            empty_hours: WeeklyHours::default(),
            empty_overrides: Overrides::default(),
        })
    }

    /// An upper bound of the start times the rules would evaluate over `days` days: for
    /// every candidate, its weekly working minutes divided by the slot grid, per started
    /// week. Lets a caller refuse a question before spending the work on it.
    pub fn estimated_starts(&self, days: i64) -> u64 {
        let weeks = (days.max(1) as u64).div_ceil(7);
        let grid = self
            .service
            .slot_interval_minutes
            .unwrap_or(self.tenant.slot_interval_minutes)
            .max(1) as u64;
        self.candidates
            .iter()
            .map(|c| {
                let minutes: u64 = self
                    .hours
                    .get(&c.staff.id)
                    .map(|h| {
                        h.0.iter()
                            .flatten()
                            .map(|(s, e)| (e - s).max(0) as u64)
                            .sum()
                    })
                    .unwrap_or(0);
                minutes.div_ceil(grid) * weeks
            })
            .sum()
    }

    /// The schedule of staff member `id` (empty if unknown).
    pub fn schedule(&self, id: Uuid) -> StaffSchedule<'_> {
        let staff = self
            .candidates
            .iter()
            .find(|c| c.staff.id == id)
            .map(|c| &c.staff);
        StaffSchedule {
            hours: self.hours.get(&id).unwrap_or(&self.empty_hours),
            overrides: self.overrides.get(&id).unwrap_or(&self.empty_overrides),
            busy: self.busy.get(&id).map(Vec::as_slice).unwrap_or(&[]),
            territory: staff.map(territory).unwrap_or_default(),
        }
    }

    /// The rules for booking the service with `c` at `now`.
    pub fn rules(&self, c: &Candidate, now: DateTime<Utc>) -> SlotRules {
        let grid = self
            .service
            .slot_interval_minutes
            .unwrap_or(self.tenant.slot_interval_minutes);
        let notice = self
            .service
            .min_notice_minutes
            .unwrap_or(self.tenant.min_notice_minutes);
        SlotRules {
            tz: self.tz,
            duration: Duration::minutes(i64::from(c.duration_minutes)),
            buffer_before: Duration::minutes(i64::from(self.service.buffer_before_minutes)),
            buffer_after: Duration::minutes(i64::from(self.service.buffer_after_minutes)),
            grid_minutes: i64::from(grid.max(1)),
            now,
            min_notice: Duration::minutes(i64::from(notice)),
            horizon: Duration::days(i64::from(self.tenant.horizon_days)),
            location: self.location,
            travel: self.travel.clone(),
        }
    }

    /// Replaces the drive times the rules read (a routing provider's matrix).
    pub fn set_travel(&mut self, travel: TravelTimes) {
        self.travel = Arc::new(travel);
    }

    /// The distinct points travel is measured from or to, besides the requested
    /// location: the candidates' home bases and the locations of their bookings in the
    /// loaded range, in a stable order.
    pub fn routing_points(&self) -> Vec<Geo> {
        let mut points: Vec<Geo> = self
            .candidates
            .iter()
            .filter_map(|c| territory(&c.staff).home)
            .chain(self.candidates.iter().flat_map(|c| {
                self.busy
                    .get(&c.staff.id)
                    .into_iter()
                    .flatten()
                    .filter(|b| b.kind == BusyKind::Booking)
                    .filter_map(|b| b.location)
            }))
            .filter(|p| Some(*p) != self.location)
            .collect();
        points.sort_unstable();
        points.dedup();
        points
    }

    /// Marks `interval` busy for staff member `id` (a booking made in this transaction).
    pub fn add_booking(&mut self, id: Uuid, interval: Interval) {
        let location = self.location;
        let list = self.busy.entry(id).or_default();
        let b = Busy {
            interval,
            kind: BusyKind::Booking,
            location,
        };
        let at = list.partition_point(|x| *x < b);
        list.insert(at, b);
    }

    /// How many bookings staff member `id` has that overlap `window`.
    pub fn bookings_within(&self, id: Uuid, window: &Interval) -> usize {
        self.busy
            .get(&id)
            .map(|b| {
                b.iter()
                    .filter(|b| {
                        b.kind == BusyKind::Booking && super::rules::overlaps(&b.interval, window)
                    })
                    .count()
            })
            .unwrap_or(0)
    }
}

/// The tenant's built-in travel estimate (detour factor and average speed).
pub fn estimate_of(t: &tenant::Model) -> plugins::HaversineRouting {
    plugins::HaversineRouting {
        detour_factor: t.travel_detour_factor,
        average_speed_kmh: t.travel_speed_kmh,
    }
}

/// A staff member's home base and service area.
pub fn territory(s: &staff_member::Model) -> Territory {
    Territory {
        home: Geo::from_pair(s.home_latitude, s.home_longitude),
        area: Geo::from_pair(s.area_latitude, s.area_longitude)
            .zip(s.area_radius_km)
            .map(|(g, km)| (g, (km.max(0.0) * 1000.0) as u32)),
    }
}

/// Parses a tenant's stored timezone.
pub fn tenant_tz(t: &tenant::Model) -> Result<Tz, ApiError> {
    t.timezone
        .parse::<Tz>()
        .map_err(|_| ApiError::Internal(format!("tenant {} has bad timezone", t.id)))
}

/// The UTC range covered by local dates `from..=to` in `tz`.
pub fn date_range_utc(tz: Tz, from: NaiveDate, to: NaiveDate) -> Option<Interval> {
    let start = local_instant(tz, from, 0, false)?;
    let end = local_instant(tz, to.succ_opt()?, 0, false)?;
    Some(Interval::new(start, end))
}

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadRequest<'a> {
    /// The service.
    pub service_id: Uuid,
    /// One staff member, or every qualified active one.
    pub staff_member_id: Option<Uuid>,
    /// Staff members to leave out (lost races).
    pub excluded: &'a [Uuid],
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// A booking to ignore as busy (when rescheduling it).
    pub ignore_booking: Option<Uuid>,
    /// A hold to ignore as busy (when converting it into a booking).
    pub ignore_hold: Option<Uuid>,
    /// Where the work would happen (mobile services).
    pub location: Option<Geo>,
    /// Further services performed in the same visit, after the main one.
    pub extra_service_ids: &'a [Uuid],
    /// Add-ons of the booked services.
    pub addon_ids: &'a [Uuid],
}

impl<'a> LoadRequest<'a> {
    /// Everything about `service_id` (one staff member or all) between local dates
    /// `from` and `to`; nothing excluded or ignored, no location, no extras.
    pub fn new(
        service_id: Uuid,
        staff_member_id: Option<Uuid>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Self {
        LoadRequest {
            service_id,
            staff_member_id,
            excluded: &[],
            from,
            to,
            ignore_booking: None,
            ignore_hold: None,
            location: None,
            extra_service_ids: &[],
            addon_ids: &[],
        }
    }

    /// What is needed to judge one start instant: its UTC date ± 1 day covers its local
    /// date in every timezone (offsets are within ±14 h).
    pub fn around(service_id: Uuid, staff_member_id: Option<Uuid>, start: DateTime<Utc>) -> Self {
        let date = start.date_naive();
        LoadRequest::new(
            service_id,
            staff_member_id,
            date - Duration::days(1),
            date + Duration::days(1),
        )
    }
}

/// Loads the schedule data in the transaction's tenant.
pub async fn load(
    tx: &Tx,
    req: LoadRequest<'_>,
) -> Result<Result<ScheduleData, LoadRefusal>, ApiError> {
    let tenant_id = tx.tenant_id();
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(&**tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let tz = tenant_tz(&tenant)?;
    let Some(service) = scoped::<service::Entity>(tenant_id)
        .filter(service::Column::Id.eq(req.service_id))
        .one(&**tx)
        .await?
    else {
        return Ok(Err(LoadRefusal::ServiceNotFound));
    };
    if !service.active {
        return Ok(Err(LoadRefusal::ServiceInactive));
    }
    let mut staff_q =
        scoped::<staff_member::Entity>(tenant_id).order_by_asc(staff_member::Column::Id);
    staff_q = match req.staff_member_id {
        Some(id) => staff_q.filter(staff_member::Column::Id.eq(id)),
        None => staff_q
            .filter(staff_member::Column::Active.eq(true))
            .filter(staff_member::Column::Id.is_not_in(req.excluded.iter().copied())),
    };
    let staff = staff_q.all(&**tx).await?;
    if let Some(id) = req.staff_member_id {
        match staff.iter().find(|s| s.id == id) {
            None => return Ok(Err(LoadRefusal::StaffNotFound)),
            Some(s) if !s.active => return Ok(Err(LoadRefusal::StaffInactive)),
            Some(_) => {}
        }
    }
    // The services of the visit: the main one first.
    let mut services = vec![service.clone()];
    if !req.extra_service_ids.is_empty() {
        let extra = scoped::<service::Entity>(tenant_id)
            .filter(service::Column::Id.is_in(req.extra_service_ids.iter().copied()))
            .all(&**tx)
            .await?;
        for id in req.extra_service_ids {
            match extra.iter().find(|s| s.id == *id) {
                None => return Ok(Err(LoadRefusal::ServiceNotFound)),
                Some(s) if !s.active => return Ok(Err(LoadRefusal::ServiceInactive)),
                Some(s) => services.push(s.clone()),
            }
        }
    }
    let service_ids: Vec<Uuid> = services.iter().map(|s| s.id).collect();
    let addons = if req.addon_ids.is_empty() {
        Vec::new()
    } else {
        scoped::<service_addon::Entity>(tenant_id)
            .filter(service_addon::Column::Id.is_in(req.addon_ids.iter().copied()))
            .all(&**tx)
            .await?
    };
    let mut addon_lines = Vec::new();
    for id in req.addon_ids {
        match addons.iter().find(|a| a.id == *id) {
            Some(a) if a.active && service_ids.contains(&a.service_id) => {
                addon_lines.push(ItemLine {
                    service_id: None,
                    addon_id: Some(a.id),
                    name: a.name.clone(),
                    duration_minutes: a.duration_minutes,
                    price_cents: a.price_cents,
                })
            }
            _ => return Ok(Err(LoadRefusal::AddonNotFound)),
        }
    }
    let qualifications: HashMap<(Uuid, Uuid), staff_service::Model> =
        scoped::<staff_service::Entity>(tenant_id)
            .filter(staff_service::Column::ServiceId.is_in(service_ids.iter().copied()))
            .all(&**tx)
            .await?
            .into_iter()
            .map(|q| ((q.service_id, q.staff_member_id), q))
            .collect();
    let restricted: std::collections::HashSet<Uuid> =
        qualifications.keys().map(|(svc, _)| *svc).collect();
    let candidates: Vec<Candidate> = staff
        .into_iter()
        .filter_map(|s| {
            let mut items = Vec::with_capacity(services.len() + addon_lines.len());
            for svc in &services {
                let q = qualifications.get(&(svc.id, s.id));
                if restricted.contains(&svc.id) && q.is_none() {
                    return None;
                }
                items.push(ItemLine {
                    service_id: Some(svc.id),
                    addon_id: None,
                    name: svc.name.clone(),
                    duration_minutes: q
                        .and_then(|q| q.duration_minutes)
                        .unwrap_or(svc.duration_minutes),
                    price_cents: q.and_then(|q| q.price_cents).unwrap_or(svc.price_cents),
                });
            }
            items.extend(addon_lines.iter().cloned());
            Some(Candidate {
                price_cents: items.iter().map(|i| i.price_cents).sum(),
                duration_minutes: items.iter().map(|i| i.duration_minutes).sum(),
                items,
                staff: s,
            })
        })
        .collect();
    if req.staff_member_id.is_some() && candidates.is_empty() {
        return Ok(Err(LoadRefusal::NotQualified));
    }
    let ids: Vec<Uuid> = candidates.iter().map(|c| c.staff.id).collect();
    let range = date_range_utc(tz, req.from, req.to)
        .ok_or_else(|| ApiError::BadUserInput("date out of range".into()))?;
    // Busy intervals that can touch a slot in range: widen by the longest buffers.
    let widen = Duration::minutes(i64::from(
        service
            .buffer_before_minutes
            .max(service.buffer_after_minutes)
            + 24 * 60,
    ));
    let (from_utc, to_utc) = (range.start - widen, range.end + widen);

    let mut hours_rows: HashMap<Uuid, Vec<(i16, i32, i32)>> = HashMap::new();
    for r in scoped::<working_hours::Entity>(tenant_id)
        .filter(working_hours::Column::StaffMemberId.is_in(ids.iter().copied()))
        .all(&**tx)
        .await?
    {
        hours_rows.entry(r.staff_member_id).or_default().push((
            r.weekday,
            r.start_minute,
            r.end_minute,
        ));
    }
    let override_rows = scoped::<availability_override::Entity>(tenant_id)
        .filter(availability_override::Column::Date.between(req.from, req.to))
        .filter(
            Condition::any()
                .add(availability_override::Column::StaffMemberId.is_null())
                .add(availability_override::Column::StaffMemberId.is_in(ids.iter().copied())),
        )
        .all(&**tx)
        .await?;
    let holidays: Vec<NaiveDate> = override_rows
        .iter()
        .filter(|o| o.staff_member_id.is_none())
        .map(|o| o.date)
        .collect();
    let mut busy: HashMap<Uuid, Vec<Busy>> = HashMap::new();
    for t in scoped::<time_off::Entity>(tenant_id)
        .filter(time_off::Column::StaffMemberId.is_in(ids.iter().copied()))
        .filter(time_off::Column::StartsAt.lt(to_utc))
        .filter(time_off::Column::EndsAt.gt(from_utc))
        .all(&**tx)
        .await?
    {
        busy.entry(t.staff_member_id).or_default().push(Busy::new(
            Interval::new(t.starts_at, t.ends_at),
            BusyKind::TimeOff,
        ));
    }
    for c in scoped::<calendar_busy_block::Entity>(tenant_id)
        .filter(calendar_busy_block::Column::StaffMemberId.is_in(ids.iter().copied()))
        .filter(calendar_busy_block::Column::StartsAt.lt(to_utc))
        .filter(calendar_busy_block::Column::EndsAt.gt(from_utc))
        .all(&**tx)
        .await?
    {
        busy.entry(c.staff_member_id).or_default().push(Busy::new(
            Interval::new(c.starts_at, c.ends_at),
            BusyKind::Calendar,
        ));
    }
    let mut bq = scoped::<booking::Entity>(tenant_id)
        .filter(booking::Column::StaffMemberId.is_in(ids.iter().copied()))
        .filter(booking::Column::Status.ne("CANCELED"))
        .filter(booking::Column::BlockedFrom.lt(to_utc))
        .filter(booking::Column::BlockedUntil.gt(from_utc));
    if let Some(skip) = req.ignore_booking {
        bq = bq.filter(booking::Column::Id.ne(skip));
    }
    for b in bq.all(&**tx).await? {
        busy.entry(b.staff_member_id).or_default().push(Busy {
            interval: Interval::new(b.blocked_from, b.blocked_until),
            kind: BusyKind::Booking,
            location: Geo::from_pair(b.latitude, b.longitude),
        });
    }
    let mut hq = scoped::<slot_hold::Entity>(tenant_id)
        .filter(slot_hold::Column::StaffMemberId.is_in(ids.iter().copied()))
        .filter(slot_hold::Column::ExpiresAt.gt(crate::util::now()))
        .filter(slot_hold::Column::BlockedFrom.lt(to_utc))
        .filter(slot_hold::Column::BlockedUntil.gt(from_utc));
    if let Some(skip) = req.ignore_hold {
        hq = hq.filter(slot_hold::Column::Id.ne(skip));
    }
    for h in hq.all(&**tx).await? {
        busy.entry(h.staff_member_id).or_default().push(Busy::new(
            Interval::new(h.blocked_from, h.blocked_until),
            BusyKind::Hold,
        ));
    }
    for list in busy.values_mut() {
        list.sort_unstable();
    }
    let overrides = ids
        .iter()
        .map(|id| {
            let rows = override_rows
                .iter()
                .filter(|o| o.staff_member_id == Some(*id))
                .map(|o| (o.date, o.start_minute.zip(o.end_minute)));
            (*id, Overrides::from_rows(rows, holidays.iter().copied()))
        })
        .collect();
    let mut last_booked = HashMap::new();
    if tenant.assignment_policy == "ROUND_ROBIN" && ids.len() > 1 {
        use sea_orm::QuerySelect;
        let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = scoped::<booking::Entity>(tenant_id)
            .select_only()
            .column(booking::Column::StaffMemberId)
            .column_as(booking::Column::CreatedAt.max(), "last")
            .filter(booking::Column::StaffMemberId.is_in(ids.iter().copied()))
            .filter(booking::Column::Status.ne("CANCELED"))
            .group_by(booking::Column::StaffMemberId)
            .into_tuple()
            .all(&**tx)
            .await?;
        last_booked = rows
            .into_iter()
            .filter_map(|(s, t)| Some((s, t?)))
            .collect();
    }
    Ok(Ok(ScheduleData {
        travel: Arc::new(TravelTimes::estimated(estimate_of(&tenant))),
        tenant,
        tz,
        service,
        candidates,
        last_booked,
        location: req.location,
        hours: hours_rows
            .into_iter()
            .map(|(k, v)| (k, WeeklyHours::from_rows(v)))
            .collect(),
        overrides,
        busy,
        empty_hours: WeeklyHours::default(),
        empty_overrides: Overrides::from_rows([], holidays),
    }))
}
