//! Recurring bookings: an RFC 5545 `RRULE` expanded in the tenant's timezone (wall-clock
//! time kept across DST) with the `rrule` crate; every occurrence is checked with the
//! booking rules, and the result says which were booked and which were refused, and why.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entities::{booking, customer, tenant};
use rrule::RRuleSet;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::service::{CustomerChoice, accepts_bookings, assign_for, load_error, refusal_error};
use super::types::{BookingSource, BookingStatus};
use crate::availability::data::{LoadRequest, load, tenant_tz};
use crate::availability::rules;
use crate::context::RequestCtx;
use crate::customers::service::find_or_create_by_phone;
use crate::db::{WriteConflict, scoped, write_conflict};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::events::{BookingEventKind, Envelope};
use crate::lifecycle::{AfterCommit, BookingChange};
use crate::state::GraphState;
use crate::util::{new_id, now};

/// Most occurrences one series may have (two years of weekly visits).
pub const MAX_OCCURRENCES: u16 = 104;

/// A validated recurring booking request.
#[derive(Debug, Clone)]
pub struct RecurringRequest {
    /// Service.
    pub service_id: Uuid,
    /// Staff member, or `None` to assign each occurrence.
    pub staff_member_id: Option<Uuid>,
    /// First occurrence (UTC); its local wall-clock time repeats.
    pub starts_at: DateTime<Utc>,
    /// `RRULE` value, e.g. `FREQ=WEEKLY;INTERVAL=2;COUNT=6` (COUNT or UNTIL required).
    pub rrule: String,
    /// Customer.
    pub customer: CustomerChoice,
    /// Address.
    pub address: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Book nothing unless every occurrence can be booked.
    pub all_or_nothing: bool,
    /// Where the work happens (mobile services).
    pub location: Option<rules::Geo>,
}

/// One occurrence's outcome.
#[derive(Debug, Clone)]
pub struct OccurrenceResult {
    /// When it would start.
    pub starts_at: DateTime<Utc>,
    /// The booking, or why not.
    pub outcome: Outcome<booking::Model>,
}

/// Expands `rule` from `first` in `tz`. User error `INVALID_INPUT` when the rule does
/// not parse, has neither COUNT nor UNTIL, or yields more than [`MAX_OCCURRENCES`].
pub fn expand(rule: &str, first: DateTime<Utc>, tz: Tz) -> Result<Vec<DateTime<Utc>>, UserError> {
    let bad = |m: String| UserError::new(Some("recurrence"), C::InvalidInput, m);
    let rule = rule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    let upper = rule.to_ascii_uppercase();
    if !(upper.contains("COUNT=") || upper.contains("UNTIL=")) {
        return Err(bad("the recurrence needs COUNT or UNTIL".into()));
    }
    if rule.contains('\n') || upper.contains("DTSTART") {
        return Err(bad(
            "give only the RRULE value, e.g. FREQ=WEEKLY;COUNT=4".into()
        ));
    }
    let local = first.with_timezone(&tz);
    let text = format!(
        "DTSTART;TZID={}:{}\nRRULE:{}",
        tz.name(),
        local.format("%Y%m%dT%H%M%S"),
        rule
    );
    let set: RRuleSet = text
        .parse()
        .map_err(|e: rrule::RRuleError| bad(format!("invalid RRULE: {e}")))?;
    let result = set.all(MAX_OCCURRENCES + 1);
    if result.dates.len() > usize::from(MAX_OCCURRENCES) {
        return Err(bad(format!("at most {MAX_OCCURRENCES} occurrences")));
    }
    Ok(result.dates.iter().map(|d| d.with_timezone(&Utc)).collect())
}

/// Books every occurrence it can (or none, with `all_or_nothing`) in one transaction.
/// Returns the series id and per-occurrence results. User errors (whole request):
/// `INVALID_INPUT`, `NOT_FOUND`, `SERVICE_INACTIVE`, `STAFF_INACTIVE`,
/// `STAFF_NOT_QUALIFIED`, `TENANT_NOT_ACCEPTING_BOOKINGS`, `SERIES_INCOMPLETE`
/// (all-or-nothing and some occurrence refused; the per-occurrence reasons are given).
pub async fn create_recurring(
    st: &GraphState,
    rc: &RequestCtx,
    req: RecurringRequest,
) -> Result<(Option<Uuid>, Vec<OccurrenceResult>, Vec<UserError>), ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    st.db.lock_schedule(&tx).await?;
    let t = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    if !accepts_bookings(&t) {
        let e = UserError::new(
            None,
            C::TenantNotAcceptingBookings,
            "this business is not taking new bookings",
        );
        return Ok((None, vec![], vec![e]));
    }
    let tz = tenant_tz(&t)?;
    let starts = match expand(&req.rrule, req.starts_at, tz) {
        Ok(s) => s,
        Err(e) => return Ok((None, vec![], vec![e])),
    };
    let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
        let e = UserError::new(
            Some("recurrence"),
            C::InvalidInput,
            "the recurrence has no occurrence",
        );
        return Ok((None, vec![], vec![e]));
    };
    let mut data = match load(
        &tx,
        LoadRequest {
            location: req.location,
            ..LoadRequest::new(
                req.service_id,
                req.staff_member_id,
                first.date_naive() - Duration::days(1),
                last.date_naive() + Duration::days(1),
            )
        },
    )
    .await?
    {
        Ok(d) => d,
        Err(r) => return Ok((None, vec![], vec![load_error(r)])),
    };
    crate::availability::service::route_travel(st, rc.tenant_id, &mut data).await;
    let cust = match &req.customer {
        CustomerChoice::Existing(id) => match scoped::<customer::Entity>(rc.tenant_id)
            .filter(customer::Column::Id.eq(*id))
            .one(&*tx)
            .await?
        {
            Some(c) => c,
            None => {
                let e = UserError::new(Some("customerId"), C::NotFound, "customer not found");
                return Ok((None, vec![], vec![e]));
            }
        },
        CustomerChoice::Details(c) => find_or_create_by_phone(&tx, c.clone()).await?,
    };
    let series = new_id();
    let mut results = Vec::with_capacity(starts.len());
    let mut after = AfterCommit::default();
    let at = now();
    for start in starts {
        let plan =
            assign_for(&data, start, false, req.staff_member_id.is_some()).map(|(c, reason)| {
                (
                    c.staff.id,
                    c.price_cents,
                    data.rules(c, at),
                    reason,
                    c.items.clone(),
                )
            });
        let (staff_id, price, r, reason, items) = match plan {
            Ok(p) => p,
            Err(refusal) => {
                results.push(OccurrenceResult {
                    starts_at: start,
                    outcome: Err(vec![refusal_error(refusal)]),
                });
                continue;
            }
        };
        let blocked = rules::blocked_interval(&r, start);
        let inserted = booking::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(rc.tenant_id),
            customer_id: Set(cust.id),
            service_id: Set(data.service.id),
            staff_member_id: Set(staff_id),
            starts_at: Set(start),
            ends_at: Set(start + r.duration),
            blocked_from: Set(blocked.start),
            blocked_until: Set(blocked.end),
            status: Set(BookingStatus::Confirmed),
            address: Set(req.address.clone().or(cust.address.clone())),
            price_cents: Set(price),
            currency: Set(data.tenant.currency.clone()),
            source: Set(BookingSource::Platform),
            notes: Set(req.notes.clone()),
            assignment_reason: Set(reason),
            cancellation_token_hash: Set(None),
            series_id: Set(Some(series)),
            latitude: Set(req.location.map(|g| g.point().lat)),
            longitude: Set(req.location.map(|g| g.point().lng)),
            deposit_expires_at: Set(None),
            planned_arrival_at: Set(None),
            route_position: Set(None),
            cancellation_reason: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&*tx)
        .await;
        match inserted {
            Ok(mut b) => {
                super::service::insert_items(&tx, &b, &items).await?;
                let change = BookingChange::Created {
                    collect_deposit: false,
                };
                after = after.merge(crate::lifecycle::run_hooks(st, &tx, &mut b, &change).await?);
                data.add_booking(staff_id, blocked);
                results.push(OccurrenceResult {
                    starts_at: start,
                    outcome: Ok(b),
                });
            }
            // Cannot happen under the schedule lock; if it does, refuse the whole call.
            Err(e) if write_conflict(&e) == Some(WriteConflict::Overlap) => {
                return Ok((None, vec![], vec![refusal_error(rules::Refusal::Booked)]));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let refused = results.iter().filter(|r| r.outcome.is_err()).count();
    if req.all_or_nothing && refused > 0 {
        drop(tx);
        let unbooked = results
            .into_iter()
            .map(|r| OccurrenceResult {
                starts_at: r.starts_at,
                outcome: match r.outcome {
                    Ok(_) => Err(vec![]),
                    Err(e) => Err(e),
                },
            })
            .collect();
        let e = UserError::new(
            Some("recurrence"),
            C::SeriesIncomplete,
            format!("{refused} occurrence(s) cannot be booked; nothing was booked"),
        );
        return Ok((None, unbooked, vec![e]));
    }
    tx.commit().await?;
    after.run(st).await;
    for r in &results {
        if let Ok(b) = &r.outcome {
            st.events
                .publish(Envelope::booking(b, BookingEventKind::Created))
                .await;
        }
    }
    Ok((Some(series), results, vec![]))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn weekly_keeps_wall_clock_across_dst() {
        let ny = chrono_tz::America::New_York;
        // Mondays 10:00 from 2027-03-01 (EST) across the 2027-03-14 switch to EDT.
        let first = ny
            .with_ymd_and_hms(2027, 3, 1, 10, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let occ = expand("FREQ=WEEKLY;COUNT=4", first, ny).unwrap();
        assert_eq!(occ.len(), 4);
        for o in &occ {
            assert_eq!(
                o.with_timezone(&ny).format("%a %H:%M").to_string(),
                "Mon 10:00"
            );
        }
        assert_eq!(occ[1] - occ[0], Duration::days(7));
        assert_eq!(occ[2] - occ[1], Duration::days(7) - Duration::hours(1));
    }

    #[test]
    fn biweekly_monthly_until_and_limits() {
        let ny = chrono_tz::America::New_York;
        let first = ny
            .with_ymd_and_hms(2027, 1, 15, 9, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            expand("FREQ=WEEKLY;INTERVAL=2;COUNT=3", first, ny).unwrap()[2] - first,
            Duration::days(28)
        );
        let monthly = expand("RRULE:FREQ=MONTHLY;UNTIL=20270616T000000Z", first, ny).unwrap();
        assert_eq!(monthly.len(), 6);
        assert!(expand("FREQ=WEEKLY", first, ny).is_err(), "needs an end");
        assert!(
            expand("FREQ=DAILY;COUNT=500", first, ny).is_err(),
            "too many"
        );
        assert!(expand("FREQ=SOMETIMES;COUNT=2", first, ny).is_err());
        assert!(expand("FREQ=DAILY;COUNT=2\nRRULE:FREQ=DAILY;COUNT=3", first, ny).is_err());
    }
}
