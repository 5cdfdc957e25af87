//! Availability: which start times can be booked, and by whom.

pub mod data;
pub mod rules;
pub mod service;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::geo::{GeoInput, geo_arg};
use crate::loaders::{StaffKey, load_one};
use crate::staff::types::StaffMember;
use crate::state::{caller, state};
use crate::util::parse_id;

/// A bookable start time and the staff members free then.
pub struct AvailableSlot {
    tenant_id: uuid::Uuid,
    slot: service::Slot,
    travel: service::TravelSource,
}

/// Which drive times an availability answer used for the travel rules (mobile
/// services: getting to the job from the previous one or from home, and on to the
/// next).
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TravelTimeSource {
    /// No travel was involved (no `location`, or nothing to drive from or to).
    NotNeeded,
    /// The built-in estimate (great-circle distance × the tenant's detour factor ÷ its
    /// average speed): the tenant has no routing provider.
    Estimate,
    /// Real drive times from the tenant's routing provider (plugin `mapbox`).
    Provider,
    /// The built-in estimate because the routing provider failed or timed out, or the
    /// question touched more than 100 locations; the answer may differ from real
    /// drive times.
    EstimateFallback,
}

impl From<service::TravelSource> for TravelTimeSource {
    fn from(s: service::TravelSource) -> Self {
        use service::TravelSource as S;
        match s {
            S::NotNeeded => TravelTimeSource::NotNeeded,
            S::Estimate => TravelTimeSource::Estimate,
            S::Provider => TravelTimeSource::Provider,
            S::EstimateFallback => TravelTimeSource::EstimateFallback,
        }
    }
}

/// A bookable start time and the staff members free then.
#[Object]
impl AvailableSlot {
    /// Start (UTC).
    async fn starts_at(&self) -> DateTime<Utc> {
        self.slot.starts_at
    }
    /// End (UTC) = start + service duration.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.slot.ends_at
    }
    /// Ids of the qualified staff members free for the whole slot.
    async fn staff_member_ids(&self) -> Vec<ID> {
        self.slot
            .staff_member_ids
            .iter()
            .map(|id| ID(id.to_string()))
            .collect()
    }
    /// Which drive times decided this slot's travel rules (the same for every slot of
    /// one answer).
    async fn travel_time_source(&self) -> TravelTimeSource {
        self.travel.into()
    }
    /// The qualified staff members free for the whole slot.
    async fn staff_members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<StaffMember>> {
        let mut out = Vec::with_capacity(self.slot.staff_member_ids.len());
        for id in &self.slot.staff_member_ids {
            out.push(StaffMember(
                load_one(ctx, StaffKey(self.tenant_id, *id), "staff member").await?,
            ));
        }
        Ok(out)
    }
}

/// A bookable start time, as shown on the public booking page.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicSlot {
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC).
    pub ends_at: DateTime<Utc>,
}

/// Why a start time can or cannot be booked.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AvailabilityReason {
    /// The start has passed.
    InThePast,
    /// Sooner than the minimum notice.
    MinimumNotice,
    /// Further ahead than the booking horizon.
    BeyondHorizon,
    /// Not a working day (weekly day off, date override or business holiday).
    DayOff,
    /// Before opening or after closing.
    OutsideWorkingHours,
    /// During a break between two working windows.
    Break,
    /// Not on the service's slot grid.
    NotOnSlotGrid,
    /// Another booking (or its buffer) is in the way.
    Booked,
    /// The staff member has time off.
    TimeOff,
    /// The staff member's connected calendar (Google Calendar) has an event then.
    CalendarBusy,
    /// The slot is held for someone else for a few minutes.
    Held,
    /// The location is outside the staff member's service area.
    OutsideServiceArea,
    /// Not enough time to drive there from the previous job (or home base), or on to
    /// the next one.
    Travel,
    /// The service is archived.
    ServiceInactive,
    /// The staff member is archived.
    StaffInactive,
    /// The staff member does not perform this service.
    NotQualified,
}

impl From<rules::Refusal> for AvailabilityReason {
    fn from(r: rules::Refusal) -> Self {
        use rules::Refusal as R;
        match r {
            R::InThePast => AvailabilityReason::InThePast,
            R::MinimumNotice => AvailabilityReason::MinimumNotice,
            R::BeyondHorizon => AvailabilityReason::BeyondHorizon,
            R::DayOff => AvailabilityReason::DayOff,
            R::OutsideWorkingHours => AvailabilityReason::OutsideWorkingHours,
            R::Break => AvailabilityReason::Break,
            R::NotOnGrid => AvailabilityReason::NotOnSlotGrid,
            R::Booked => AvailabilityReason::Booked,
            R::TimeOff => AvailabilityReason::TimeOff,
            R::CalendarBusy => AvailabilityReason::CalendarBusy,
            R::Held => AvailabilityReason::Held,
            R::OutsideServiceArea => AvailabilityReason::OutsideServiceArea,
            R::Travel => AvailabilityReason::Travel,
        }
    }
}

/// The verdict for one staff member.
#[derive(SimpleObject, Clone, Debug)]
pub struct StaffAvailability {
    /// The staff member.
    pub staff_member_id: ID,
    /// True when this staff member can take the booking.
    pub available: bool,
    /// Why not (empty when available).
    pub reasons: Vec<AvailabilityReason>,
}

/// Answer of `whyNotAvailable`.
#[derive(SimpleObject, Clone, Debug)]
pub struct AvailabilityExplanation {
    /// True when at least one staff member can take the booking.
    pub available: bool,
    /// Reasons that apply to the service or the named staff member as a whole.
    pub reasons: Vec<AvailabilityReason>,
    /// Per qualified staff member, the verdict.
    pub staff: Vec<StaffAvailability>,
    /// Which drive times decided the travel rules.
    pub travel_time_source: TravelTimeSource,
}

/// One day of `availabilityCalendar`.
#[derive(SimpleObject, Clone, Debug)]
pub struct AvailabilityDay {
    /// Local date in the tenant's timezone.
    pub date: NaiveDate,
    /// True when at least one slot is free that day.
    pub available: bool,
    /// Which drive times decided the travel rules (the same for every day of one
    /// answer).
    pub travel_time_source: TravelTimeSource,
}

/// Availability queries.
#[derive(Default)]
pub struct AvailabilityQuery;

/// Availability queries.
#[Object]
impl AvailabilityQuery {
    /// Start times on a 15-minute grid at which `serviceId` can be booked, between the
    /// local dates `from` and `to` (both inclusive, in the tenant's timezone, at most 62
    /// days), honouring weekly hours, service duration, existing bookings and DST. Only
    /// future starts. With `staffMemberId` only that staff member; otherwise every
    /// active one. Errors: `UNAUTHENTICATED`, `NOT_FOUND`, `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::slots(from, to, child_complexity)")]
    async fn available_slots(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        staff_member_id: Option<ID>,
        #[graphql(desc = "First local date (YYYY-MM-DD).")] from: NaiveDate,
        #[graphql(desc = "Last local date (YYYY-MM-DD), inclusive.")] to: NaiveDate,
        #[graphql(desc = "Job location (mobile services): applies service areas and travel time.")]
        location: Option<GeoInput>,
        #[graphql(
            default,
            desc = "Further services in the same visit (durations add up)."
        )]
        additional_service_ids: Vec<ID>,
        #[graphql(default, desc = "Add-ons of the booked services (durations add up).")]
        addon_ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<AvailableSlot>> {
        let rc = caller(ctx)?;
        let q = service::SlotQuery::from_args(
            &service_id,
            staff_member_id.as_ref(),
            from,
            to,
            location,
            &additional_service_ids,
            &addon_ids,
        )?;
        let tenant_id = rc.tenant_id;
        let (slots, report) = service::available_slots(state(ctx)?, rc, q).await?;
        Ok(slots
            .into_iter()
            .map(|slot| AvailableSlot {
                tenant_id,
                slot,
                travel: report.source,
            })
            .collect())
    }

    /// For each local date from `from` to `to` (inclusive, at most 366 days), whether
    /// any slot is free — for date pickers. Same rules as `availableSlots`. Errors:
    /// `UNAUTHENTICATED`, `NOT_FOUND`, `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::range(from, to, child_complexity)")]
    async fn availability_calendar(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        staff_member_id: Option<ID>,
        #[graphql(desc = "First local date (YYYY-MM-DD).")] from: NaiveDate,
        #[graphql(desc = "Last local date (YYYY-MM-DD), inclusive.")] to: NaiveDate,
        #[graphql(desc = "Job location (mobile services).")] location: Option<GeoInput>,
        #[graphql(default, desc = "Further services in the same visit.")]
        additional_service_ids: Vec<ID>,
        #[graphql(default, desc = "Add-ons of the booked services.")] addon_ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<AvailabilityDay>> {
        let rc = caller(ctx)?;
        let q = service::SlotQuery::from_args(
            &service_id,
            staff_member_id.as_ref(),
            from,
            to,
            location,
            &additional_service_ids,
            &addon_ids,
        )?;
        let (days, report) = service::available_days(state(ctx)?, rc, q).await?;
        Ok(from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|date| AvailabilityDay {
                date,
                available: days.binary_search(&date).is_ok(),
                travel_time_source: report.source.into(),
            })
            .collect())
    }

    /// Explains whether `serviceId` can start at `startsAt` (with `staffMemberId`, or
    /// each qualified staff member), using the booking rules: outside hours, break, day
    /// off, booked, time off, notice, horizon, grid. Errors: `UNAUTHENTICATED`,
    /// `NOT_FOUND`.
    async fn why_not_available(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        #[graphql(desc = "The start to explain (RFC 3339).")] starts_at: DateTime<Utc>,
        staff_member_id: Option<ID>,
        #[graphql(desc = "Job location (mobile services).")] location: Option<GeoInput>,
    ) -> async_graphql::Result<AvailabilityExplanation> {
        let rc = caller(ctx)?;
        let service_id = parse_id(&service_id, "serviceId")?;
        let staff = staff_member_id
            .as_ref()
            .map(|id| parse_id(id, "staffMemberId"))
            .transpose()?;
        use crate::availability::data::LoadRefusal as L;
        Ok(
            match service::why_not_available(
                state(ctx)?,
                rc,
                service_id,
                staff,
                starts_at,
                geo_arg(location)?,
            )
            .await?
            {
                service::Explanation::Unbookable(r) => AvailabilityExplanation {
                    available: false,
                    reasons: vec![match r {
                        L::ServiceInactive | L::ServiceNotFound | L::AddonNotFound => {
                            AvailabilityReason::ServiceInactive
                        }
                        L::StaffInactive | L::StaffNotFound => AvailabilityReason::StaffInactive,
                        L::NotQualified => AvailabilityReason::NotQualified,
                    }],
                    staff: vec![],
                    travel_time_source: TravelTimeSource::NotNeeded,
                },
                service::Explanation::PerStaff(list, report) => AvailabilityExplanation {
                    travel_time_source: report.source.into(),
                    available: list.iter().any(|v| v.reasons.is_empty()),
                    reasons: vec![],
                    staff: list
                        .into_iter()
                        .map(|v| StaffAvailability {
                            staff_member_id: ID(v.staff_member_id.to_string()),
                            available: v.reasons.is_empty(),
                            reasons: v
                                .reasons
                                .into_iter()
                                .map(AvailabilityReason::from)
                                .collect(),
                        })
                        .collect(),
                },
            },
        )
    }
}
