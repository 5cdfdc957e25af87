//! Availability questions: which slots, which days, and why not.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::data::{LoadRefusal, LoadRequest, ScheduleData, load};
use super::rules::{self, Geo, Refusal};
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::state::GraphState;
use crate::util::now;

/// Most slots one answer may hold; a wider question must be narrowed (dates, staff
/// member). A month of one staff member on a 15-minute grid is about 1 000.
pub const MAX_SLOTS_PER_RESPONSE: usize = 5_000;
/// Most (slot, staff member) pairs one answer may hold.
pub const MAX_SLOT_STAFF_PER_RESPONSE: usize = 50_000;
/// Most start times one question may make the rules evaluate (by
/// [`ScheduleData::estimated_starts`]): 50 staff members × 8 hours × a month on a
/// 15-minute grid is about 50 000; a question above this is refused before any work.
pub const MAX_STARTS_PER_QUESTION: u64 = 100_000;

/// A calendar stops at the first free start of each day, so it may cover more.
pub const MAX_STARTS_PER_CALENDAR: u64 = 5 * MAX_STARTS_PER_QUESTION;

fn check_work(data: &ScheduleData, q: &SlotQuery, max: u64) -> Result<(), ApiError> {
    let days = (q.to - q.from).num_days() + 1;
    if data.estimated_starts(days) > max {
        return Err(ApiError::BadUserInput(
            "this question covers too many possible start times: ask for fewer days or one staff member"
                .into(),
        ));
    }
    Ok(())
}

/// Most distinct points (home bases and booking locations, besides the requested
/// location) one question asks the routing provider about; a question touching more
/// uses the built-in estimate (flagged [`TravelSource::EstimateFallback`]). Two star
/// matrices of 100 points are 10 Mapbox requests with `driving`.
pub const MAX_ROUTED_POINTS: usize = 100;

/// Longest wait for the routing provider's answer (all its requests together) before
/// the built-in estimate is used instead.
pub const ROUTING_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// Which drive times an availability answer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TravelSource {
    /// No travel was involved (no location, or nothing to drive from or to).
    NotNeeded,
    /// The built-in estimate: the tenant has no routing provider.
    Estimate,
    /// The tenant's routing provider (Mapbox).
    Provider,
    /// The built-in estimate because the routing provider failed, timed out, or the
    /// question touched more than [`MAX_ROUTED_POINTS`] points.
    EstimateFallback,
}

/// What [`route_travel`] did: the source used and how many requests the provider made
/// (0 when its cache answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TravelReport {
    /// Which drive times were used.
    pub source: TravelSource,
    /// HTTP requests the provider made for this question.
    pub provider_requests: u32,
}

/// Asks the tenant's routing provider, once, for the drive times between the requested
/// location and every point of the question ([`ScheduleData::routing_points`]), and
/// hands them to the rules ([`ScheduleData::set_travel`]). With `n` points and a
/// provider that carries at least `n + 1` points per request, one square matrix;
/// otherwise two star matrices (points → location, location → points). Never fails:
/// without a provider, or when it fails, the rules keep the built-in estimate and the
/// report says so.
pub async fn route_travel(
    st: &GraphState,
    tenant_id: Uuid,
    data: &mut ScheduleData,
) -> TravelReport {
    let report = |source, provider_requests| TravelReport {
        source,
        provider_requests,
    };
    let Some(loc) = data.location else {
        return report(TravelSource::NotNeeded, 0);
    };
    let points = data.routing_points();
    if points.is_empty() {
        return report(TravelSource::NotNeeded, 0);
    }
    let routing = match st.registry.tenant(tenant_id).await {
        Ok(p) => p.routing.clone(),
        Err(e) => {
            tracing::warn!(error = %e, "tenant providers unavailable; travel estimated");
            return report(TravelSource::EstimateFallback, 0);
        }
    };
    if routing.is_built_in() {
        return report(TravelSource::Estimate, 0);
    }
    if points.len() > MAX_ROUTED_POINTS {
        tracing::info!(
            points = points.len(),
            "too many points to route; travel estimated"
        );
        return report(TravelSource::EstimateFallback, 0);
    }
    let mut travel = (*data.travel).clone();
    crate::db::release_request_reads().await;
    let ask = async {
        let all: Vec<integrations::GeoPoint> = std::iter::once(loc)
            .chain(points.iter().copied())
            .map(Geo::point)
            .collect();
        if all.len() <= routing.points_per_request() {
            let m = routing.matrix(&all, &all).await?;
            for (i, p) in points.iter().enumerate() {
                travel.insert(*p, loc, m.get(i + 1, 0).map(|e| e.duration));
                travel.insert(loc, *p, m.get(0, i + 1).map(|e| e.duration));
            }
            Ok::<u32, integrations::ProviderError>(m.requests)
        } else {
            let to = routing.matrix(&all[1..], &all[..1]).await?;
            let from = routing.matrix(&all[..1], &all[1..]).await?;
            for (i, p) in points.iter().enumerate() {
                travel.insert(*p, loc, to.get(i, 0).map(|e| e.duration));
                travel.insert(loc, *p, from.get(0, i).map(|e| e.duration));
            }
            Ok(to.requests + from.requests)
        }
    };
    let span = tracing::info_span!("provider.call", provider = "routing", operation = "matrix");
    match tokio::time::timeout(ROUTING_BUDGET, tracing::Instrument::instrument(ask, span)).await {
        Ok(Ok(requests)) => {
            metrics::counter!("routing_provider_requests_total").increment(u64::from(requests));
            tracing::debug!(
                points = points.len(),
                requests,
                "travel from the routing provider"
            );
            data.set_travel(travel);
            report(TravelSource::Provider, requests)
        }
        Ok(Err(e)) => {
            metrics::counter!("routing_provider_fallbacks_total").increment(1);
            tracing::warn!(error = %e, "routing provider failed; travel estimated");
            report(TravelSource::EstimateFallback, 0)
        }
        Err(_) => {
            metrics::counter!("routing_provider_fallbacks_total").increment(1);
            tracing::warn!("routing provider too slow; travel estimated");
            report(TravelSource::EstimateFallback, 0)
        }
    }
}

/// Longest range one `availableSlots` query may cover, in days.
pub const MAX_RANGE_DAYS: i64 = 62;
/// Longest range one `availabilityCalendar` query may cover, in days.
pub const MAX_CALENDAR_DAYS: i64 = 366;

/// What is asked.
#[derive(Debug, Clone)]
pub struct SlotQuery {
    /// The service.
    pub service_id: Uuid,
    /// One staff member, or all qualified active ones.
    pub staff_member_id: Option<Uuid>,
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// Where the work would happen (mobile services).
    pub location: Option<super::rules::Geo>,
    /// Further services in the same visit (durations add up).
    pub extra_service_ids: Vec<Uuid>,
    /// Add-ons (durations add up).
    pub addon_ids: Vec<Uuid>,
}

impl SlotQuery {
    /// Builds a query from GraphQL arguments. Errors: `BAD_USER_INPUT` for malformed ids
    /// or coordinates.
    pub fn from_args(
        service_id: &async_graphql::ID,
        staff_member_id: Option<&async_graphql::ID>,
        from: NaiveDate,
        to: NaiveDate,
        location: Option<super::GeoInput>,
        additional_service_ids: &[async_graphql::ID],
        addon_ids: &[async_graphql::ID],
    ) -> Result<SlotQuery, ApiError> {
        Ok(SlotQuery {
            service_id: crate::util::parse_id(service_id, "serviceId")?,
            staff_member_id: staff_member_id
                .map(|id| crate::util::parse_id(id, "staffMemberId"))
                .transpose()?,
            from,
            to,
            location: super::geo_arg(location)?,
            extra_service_ids: crate::util::parse_id_list(
                additional_service_ids,
                "additionalServiceIds",
                crate::util::MAX_EXTRA_SERVICES,
            )?,
            addon_ids: crate::util::parse_id_list(addon_ids, "addonIds", crate::util::MAX_ADDONS)?,
        })
    }
}

/// One bookable start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC).
    pub ends_at: DateTime<Utc>,
    /// Staff members free for the whole slot (buffers included), by id.
    pub staff_member_ids: Vec<Uuid>,
}

fn check_range(q: &SlotQuery, max: i64) -> Result<(), ApiError> {
    if q.to < q.from {
        return Err(ApiError::BadUserInput("`to` is before `from`".into()));
    }
    if (q.to - q.from).num_days() >= max {
        return Err(ApiError::BadUserInput(format!(
            "at most {max} days per query"
        )));
    }
    Ok(())
}

/// Maps a load refusal of a read-only question: unknown ids are `NOT_FOUND`; archived
/// or unqualified yield no slots (`None`).
fn readable(r: LoadRefusal) -> Result<(), ApiError> {
    match r {
        LoadRefusal::ServiceNotFound => Err(ApiError::NotFound("service")),
        LoadRefusal::StaffNotFound => Err(ApiError::NotFound("staff member")),
        LoadRefusal::AddonNotFound => Err(ApiError::NotFound("add-on")),
        LoadRefusal::ServiceInactive | LoadRefusal::StaffInactive | LoadRefusal::NotQualified => {
            Ok(())
        }
    }
}

async fn load_for(
    st: &GraphState,
    rc: &RequestCtx,
    q: &SlotQuery,
) -> Result<Option<ScheduleData>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let data = load(
        &tx,
        LoadRequest {
            location: q.location,
            extra_service_ids: &q.extra_service_ids,
            addon_ids: &q.addon_ids,
            ..LoadRequest::new(q.service_id, q.staff_member_id, q.from, q.to)
        },
    )
    .await?;
    tx.commit().await?;
    match data {
        Ok(d) => Ok(Some(d)),
        Err(r) => readable(r).map(|()| None),
    }
}

/// Computes bookable slots, with drive times from the tenant's routing provider when
/// a location is given ([`route_travel`]; the report says which source was used).
/// Errors: `BAD_USER_INPUT` (range reversed or longer than [`MAX_RANGE_DAYS`]),
/// `NOT_FOUND` (service or staff member). An archived service or staff member, or one
/// who does not perform the service, has no slots.
pub async fn available_slots(
    st: &GraphState,
    rc: &RequestCtx,
    q: SlotQuery,
) -> Result<(Vec<Slot>, TravelReport), ApiError> {
    check_range(&q, MAX_RANGE_DAYS)?;
    let Some(mut data) = load_for(st, rc, &q).await? else {
        return Ok((vec![], route_none()));
    };
    check_work(&data, &q, MAX_STARTS_PER_QUESTION)?;
    let report = route_travel(st, rc.tenant_id, &mut data).await;
    let slots = compute_slots(&data, now(), q.from, q.to);
    let pairs: usize = slots.iter().map(|s| s.staff_member_ids.len()).sum();
    if slots.len() > MAX_SLOTS_PER_RESPONSE || pairs > MAX_SLOT_STAFF_PER_RESPONSE {
        return Err(ApiError::BadUserInput(format!(
            "more than {MAX_SLOTS_PER_RESPONSE} slots: ask for fewer days or one staff member"
        )));
    }
    Ok((slots, report))
}

fn route_none() -> TravelReport {
    TravelReport {
        source: TravelSource::NotNeeded,
        provider_requests: 0,
    }
}

/// The pure part of [`available_slots`]: every candidate's slots merged by
/// `(start, end)`.
pub fn compute_slots(
    data: &ScheduleData,
    at: DateTime<Utc>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Slot> {
    let mut merged: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<Uuid>> = BTreeMap::new();
    for c in &data.candidates {
        let r = data.rules(c, at);
        let sched = data.schedule(c.staff.id);
        for t in rules::slots(&r, &sched, from, to) {
            merged
                .entry((t, t + r.duration))
                .or_default()
                .push(c.staff.id);
        }
    }
    merged
        .into_iter()
        .map(|((starts_at, ends_at), staff_member_ids)| Slot {
            starts_at,
            ends_at,
            staff_member_ids,
        })
        .collect()
}

/// Local dates between `from` and `to` (inclusive, at most [`MAX_CALENDAR_DAYS`]) on
/// which at least one slot exists. Errors as [`available_slots`].
pub async fn available_days(
    st: &GraphState,
    rc: &RequestCtx,
    q: SlotQuery,
) -> Result<(Vec<NaiveDate>, TravelReport), ApiError> {
    check_range(&q, MAX_CALENDAR_DAYS)?;
    let Some(mut data) = load_for(st, rc, &q).await? else {
        return Ok((vec![], route_none()));
    };
    check_work(&data, &q, MAX_STARTS_PER_CALENDAR)?;
    let report = route_travel(st, rc.tenant_id, &mut data).await;
    let at = now();
    let mut days = std::collections::BTreeSet::new();
    for c in &data.candidates {
        let r = data.rules(c, at);
        days.extend(rules::days_with_slots(
            &r,
            &data.schedule(c.staff.id),
            q.from,
            q.to,
        ));
    }
    Ok((days.into_iter().collect(), report))
}

/// Why a start is not available, for one staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffVerdict {
    /// The staff member.
    pub staff_member_id: Uuid,
    /// Reasons; empty = available.
    pub reasons: Vec<Refusal>,
}

/// Result of [`why_not_available`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// The service or staff member cannot be booked at all.
    Unbookable(LoadRefusal),
    /// Per qualified staff member, the reasons, and the drive times used.
    PerStaff(Vec<StaffVerdict>, TravelReport),
}

/// Explains why `starts_at` can or cannot be booked for the service (with one staff
/// member or each qualified one), using the same rules as booking (grid included).
/// Errors: `NOT_FOUND` (service or staff member).
pub async fn why_not_available(
    st: &GraphState,
    rc: &RequestCtx,
    service_id: Uuid,
    staff_member_id: Option<Uuid>,
    starts_at: DateTime<Utc>,
    location: Option<super::rules::Geo>,
) -> Result<Explanation, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let data = load(
        &tx,
        LoadRequest {
            location,
            ..LoadRequest::around(service_id, staff_member_id, starts_at)
        },
    )
    .await?;
    tx.commit().await?;
    let mut data = match data {
        Ok(d) => d,
        Err(r) => {
            readable(r)?;
            return Ok(Explanation::Unbookable(r));
        }
    };
    let report = route_travel(st, rc.tenant_id, &mut data).await;
    let at = now();
    Ok(Explanation::PerStaff(
        data.candidates
            .iter()
            .map(|c| StaffVerdict {
                staff_member_id: c.staff.id,
                reasons: rules::evaluate(
                    &data.rules(c, at),
                    &data.schedule(c.staff.id),
                    starts_at,
                    true,
                ),
            })
            .collect(),
        report,
    ))
}
