//! Availability: which start times can be booked, and by whom.

pub mod rules;
pub mod service;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::loaders::{StaffKey, load_one};
use crate::staff::types::StaffMember;
use crate::state::{caller, state};
use crate::util::parse_id;

/// A bookable start time and the staff members free then.
pub struct AvailableSlot {
    tenant_id: uuid::Uuid,
    slot: service::Slot,
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
    async fn available_slots(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        staff_member_id: Option<ID>,
        #[graphql(desc = "First local date (YYYY-MM-DD).")] from: NaiveDate,
        #[graphql(desc = "Last local date (YYYY-MM-DD), inclusive.")] to: NaiveDate,
    ) -> async_graphql::Result<Vec<AvailableSlot>> {
        let rc = caller(ctx)?;
        let q = service::SlotQuery {
            service_id: parse_id(&service_id, "serviceId")?,
            staff_member_id: staff_member_id
                .as_ref()
                .map(|id| parse_id(id, "staffMemberId"))
                .transpose()?,
            from,
            to,
        };
        let tenant_id = rc.tenant_id;
        Ok(service::available_slots(state(ctx)?, rc, q)
            .await?
            .into_iter()
            .map(|slot| AvailableSlot { tenant_id, slot })
            .collect())
    }
}
