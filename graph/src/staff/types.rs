//! GraphQL types of staff members and schedules.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use entities::{staff_member, working_hours};

use crate::error::{Outcome, UserError};
use crate::loaders::{HoursKey, Loaders};

/// Day of the week (ISO 8601 order).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// 0 = Monday … 6 = Sunday (as stored).
    pub fn index(self) -> i16 {
        self as i16
    }

    /// From the stored index.
    pub fn from_index(i: i16) -> Option<Weekday> {
        use Weekday::*;
        [
            Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
        ]
        .get(usize::try_from(i).ok()?)
        .copied()
    }
}

/// Formats minutes after midnight as `HH:MM` (`24:00` for 1440).
pub fn format_minute(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Parses `HH:MM` (00:00–24:00) into minutes after midnight.
pub fn parse_minute(s: &str) -> Option<i32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    ((0..24).contains(&h) && (0..60).contains(&m) || total == 1440).then_some(total)
}

/// One working interval of a weekly schedule, local wall-clock time in the tenant's
/// timezone.
#[derive(SimpleObject, Clone, Debug)]
pub struct WorkingInterval {
    /// Day of the week.
    pub weekday: Weekday,
    /// Start, `HH:MM` local time.
    pub start_time: String,
    /// End, `HH:MM` local time (exclusive; `24:00` = midnight).
    pub end_time: String,
}

impl From<&working_hours::Model> for WorkingInterval {
    fn from(m: &working_hours::Model) -> Self {
        WorkingInterval {
            weekday: Weekday::from_index(m.weekday).unwrap_or(Weekday::Monday),
            start_time: format_minute(m.start_minute),
            end_time: format_minute(m.end_minute),
        }
    }
}

/// One working interval to set.
#[derive(InputObject, Clone, Debug)]
pub struct WorkingIntervalInput {
    /// Day of the week.
    pub weekday: Weekday,
    /// Start, `HH:MM` local time.
    pub start_time: String,
    /// End, `HH:MM` local time, after the start (`24:00` allowed).
    pub end_time: String,
}

/// A person whose time can be booked.
#[derive(Clone)]
pub struct StaffMember(pub staff_member::Model);

/// A person whose time can be booked.
#[Object]
impl StaffMember {
    /// Staff member id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// False once archived: not bookable.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The linked user account, if any.
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.map(|u| ID(u.to_string()))
    }
    /// Where the working day starts (mobile work) — often a home address: shown to
    /// owners, managers and the staff member's own user only (null for others).
    async fn home_base(&self, ctx: &Context<'_>) -> Option<GeoPoint> {
        let rc = crate::state::caller(ctx).ok()?;
        let allowed = match rc.role() {
            Some(crate::context::Role::Owner | crate::context::Role::Manager) => true,
            Some(crate::context::Role::Technician) => {
                rc.technician_scope() == Some(Some(self.0.id))
            }
            None => false,
        };
        if !allowed {
            return None;
        }
        Some(GeoPoint {
            latitude: self.0.home_latitude?,
            longitude: self.0.home_longitude?,
        })
    }
    /// The service area for mobile bookings; null = anywhere.
    async fn service_area(&self) -> Option<ServiceArea> {
        Some(ServiceArea {
            latitude: self.0.area_latitude?,
            longitude: self.0.area_longitude?,
            radius_km: self.0.area_radius_km?,
        })
    }
    /// Weekly working hours, by weekday then start.
    async fn weekly_hours(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkingInterval>> {
        let loader = ctx.data::<Loaders>()?;
        let rows = loader
            .load_one(HoursKey(self.0.tenant_id, self.0.id))
            .await
            .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
            .unwrap_or_default();
        Ok(rows.iter().map(WorkingInterval::from).collect())
    }
}

/// A service area: a centre and a radius.
#[derive(InputObject, SimpleObject, Debug, Clone, Copy)]
#[graphql(input_name = "ServiceAreaInput")]
pub struct ServiceArea {
    /// Centre latitude, WGS 84 degrees.
    pub latitude: f64,
    /// Centre longitude, WGS 84 degrees.
    pub longitude: f64,
    /// Radius in km (0.1–500).
    pub radius_km: f64,
}

/// A point, as shown for home bases.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct GeoPoint {
    /// Latitude, WGS 84 degrees.
    pub latitude: f64,
    /// Longitude, WGS 84 degrees.
    pub longitude: f64,
}

/// Input of `createStaffMember`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateStaffMemberInput {
    /// Display name, 1–200 characters.
    pub name: String,
    /// A user of this tenant to link (a technician who logs in).
    pub user_id: Option<ID>,
    /// Bookable; default true.
    pub active: Option<bool>,
    /// Weekly schedule; intervals of one day must not overlap.
    #[graphql(default)]
    pub weekly_hours: Vec<WorkingIntervalInput>,
    /// Where the working day starts (mobile work): the first job of each working window
    /// must be reachable from here in time.
    pub home_base: Option<crate::geo::GeoInput>,
    /// Mobile bookings outside this area are refused (`OUTSIDE_SERVICE_AREA`).
    pub service_area: Option<ServiceArea>,
}

/// Input of `updateStaffMember`: omitted fields are unchanged.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateStaffMemberInput {
    /// Display name, 1–200 characters.
    pub name: Option<String>,
    /// A user of this tenant to link.
    pub user_id: Option<ID>,
    /// Bookable.
    pub active: Option<bool>,
    /// Replaces the whole weekly schedule.
    pub weekly_hours: Option<Vec<WorkingIntervalInput>>,
    /// Where the working day starts (mobile work).
    pub home_base: Option<crate::geo::GeoInput>,
    /// The service area.
    pub service_area: Option<ServiceArea>,
}

/// Result of staff mutations.
#[derive(SimpleObject, Default)]
pub struct StaffMemberPayload {
    /// The staff member after the change.
    pub staff_member: Option<StaffMember>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

impl From<Outcome<staff_member::Model>> for StaffMemberPayload {
    fn from(o: Outcome<staff_member::Model>) -> Self {
        match o {
            Ok(s) => StaffMemberPayload {
                staff_member: Some(StaffMember(s)),
                user_errors: vec![],
            },
            Err(user_errors) => StaffMemberPayload {
                staff_member: None,
                user_errors,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn minutes() {
        assert_eq!(parse_minute("09:30"), Some(570));
        assert_eq!(parse_minute("24:00"), Some(1440));
        assert_eq!(parse_minute("24:01"), None);
        assert_eq!(parse_minute("9:30"), None);
        assert_eq!(parse_minute("12:60"), None);
        assert_eq!(format_minute(570), "09:30");
        assert_eq!(Weekday::from_index(6), Some(Weekday::Sunday));
        assert_eq!(Weekday::Wednesday.index(), 2);
    }
}
