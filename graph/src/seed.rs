//! The demo tenant that `cargo run` creates on first start (and `seed-demo` on demand):
//! slug `demo`, a mobile detailing business in America/New_York with four services, two
//! staff members (one linked to a technician login), three customers and a few upcoming
//! bookings. The demo logins are public knowledge, not secrets: see README.

use chrono::{Duration, Utc};

use crate::auth::service as auth;
use crate::auth::types::{CreateUserInput, SignUpInput};
use crate::availability::service::{SlotQuery, available_slots};
use crate::bookings::service::{CustomerChoice, NewBooking, create as create_booking};
use crate::bookings::types::{BookingSource, BookingStatus};
use crate::catalog::service as catalog;
use crate::catalog::types::CreateServiceInput;
use crate::context::{Principal, RequestCtx, Role};
use crate::customers::service as customers;
use crate::customers::types::CustomerInput;
use crate::error::ApiError;
use crate::staff::service as staff;
use crate::staff::types::{CreateStaffMemberInput, Weekday, WorkingIntervalInput};
use crate::state::GraphState;

/// Slug of the demo tenant.
pub const DEMO_SLUG: &str = "demo";
/// Demo owner login.
pub const DEMO_OWNER_EMAIL: &str = "owner@demo.servicegraph.dev";
/// Demo technician login.
pub const DEMO_TECH_EMAIL: &str = "tech@demo.servicegraph.dev";
/// Password of both demo logins (documented in the README; demo data, not a secret).
pub const DEMO_PASSWORD: &str = "demo-password";

fn failed(what: &str) -> ApiError {
    ApiError::Internal(format!("demo seed: {what} refused"))
}

fn hours(days: &[Weekday], spans: &[(&str, &str)]) -> Vec<WorkingIntervalInput> {
    days.iter()
        .flat_map(|d| {
            spans.iter().map(move |(s, e)| WorkingIntervalInput {
                weekday: *d,
                start_time: (*s).into(),
                end_time: (*e).into(),
            })
        })
        .collect()
}

/// Creates the demo tenant unless slug `demo` exists. Returns whether it was created.
pub async fn seed_demo(st: &GraphState) -> Result<bool, ApiError> {
    if st.db.tenant_id_by_slug(DEMO_SLUG).await?.is_some() {
        return Ok(false);
    }
    let session = auth::sign_up(
        st,
        SignUpInput {
            business_name: "Demo Mobile Detailing".into(),
            slug: Some(DEMO_SLUG.into()),
            timezone: "America/New_York".into(),
            currency: Some("USD".into()),
            email: DEMO_OWNER_EMAIL.into(),
            password: DEMO_PASSWORD.into(),
            name: Some("Dana Demo".into()),
        },
    )
    .await?
    .map_err(|_| failed("sign-up"))?;
    let rc = RequestCtx {
        tenant_id: session.tenant.id,
        principal: Principal::User {
            user_id: session.user.id,
            role: Role::Owner,
            staff_member_id: None,
        },
        request_id: "seed".into(),
    };
    let tech = auth::create_user(
        st,
        &rc,
        CreateUserInput {
            email: DEMO_TECH_EMAIL.into(),
            name: "Sam Chen".into(),
            password: DEMO_PASSWORD.into(),
            role: Role::Technician,
        },
    )
    .await?
    .map_err(|_| failed("technician"))?;

    let mut services = Vec::new();
    for (i, (name, desc, minutes, cents)) in [
        (
            "Exterior Wash & Wax",
            "Hand wash, clay bar and carnauba wax.",
            60,
            8_900,
        ),
        (
            "Interior Detail",
            "Vacuum, shampoo, leather and glass.",
            90,
            12_900,
        ),
        (
            "Full Detail",
            "Interior and exterior, inside and out.",
            180,
            24_900,
        ),
        (
            "Ceramic Coating",
            "Paint correction and a 2-year ceramic coat.",
            240,
            59_900,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let s = catalog::create(
            st,
            &rc,
            CreateServiceInput {
                name: name.into(),
                description: Some(desc.into()),
                duration_minutes: minutes,
                price_cents: cents,
                active: Some(true),
                display_order: Some(i as i32),
                buffer_before_minutes: Some(0),
                buffer_after_minutes: Some(15),
                slot_interval_minutes: None,
                min_notice_minutes: None,
            },
        )
        .await?
        .map_err(|_| failed("service"))?;
        services.push(s);
    }

    use Weekday::*;
    let alex = staff::create(
        st,
        &rc,
        CreateStaffMemberInput {
            name: "Alex Rivera".into(),
            user_id: None,
            active: Some(true),
            weekly_hours: hours(
                &[Monday, Tuesday, Wednesday, Thursday, Friday],
                &[("08:00", "12:00"), ("13:00", "17:00")],
            ),
            home_base: None,
            service_area: None,
        },
    )
    .await?
    .map_err(|_| failed("staff member"))?;
    let sam = staff::create(
        st,
        &rc,
        CreateStaffMemberInput {
            name: "Sam Chen".into(),
            user_id: Some(async_graphql::ID(tech.id.to_string())),
            active: Some(true),
            weekly_hours: hours(
                &[Tuesday, Wednesday, Thursday, Friday, Saturday],
                &[("09:00", "18:00")],
            ),
            home_base: None,
            service_area: None,
        },
    )
    .await?
    .map_err(|_| failed("staff member"))?;

    let mut people = Vec::new();
    for (name, phone, email, address) in [
        (
            "Ana Souza",
            "+14155550101",
            "ana@example.com",
            "12 Elm St, Brooklyn, NY",
        ),
        (
            "Ben O'Neil",
            "+14155550102",
            "ben@example.com",
            "48 Ocean Ave, Queens, NY",
        ),
        (
            "Chloé Martin",
            "+14155550103",
            "chloe@example.com",
            "7 Park Pl, Hoboken, NJ",
        ),
    ] {
        let c = customers::create(
            st,
            &rc,
            CustomerInput {
                name: name.into(),
                phone: Some(phone.into()),
                email: Some(email.into()),
                address: Some(address.into()),
                notes: None,
            },
        )
        .await?
        .map_err(|_| failed("customer"))?;
        people.push(c);
    }

    // A few upcoming bookings: the first free slot of a service, a day apart.
    let today = Utc::now().date_naive();
    for (i, (customer, service, member)) in [
        (&people[0], &services[2], &alex),
        (&people[1], &services[0], &sam),
        (&people[2], &services[1], &sam),
    ]
    .into_iter()
    .enumerate()
    {
        let from = today + Duration::days(1 + i as i64);
        let slots = available_slots(
            st,
            &rc,
            SlotQuery {
                service_id: service.id,
                staff_member_id: Some(member.id),
                from,
                to: from + Duration::days(7),
                location: None,
                extra_service_ids: vec![],
                addon_ids: vec![],
            },
        )
        .await?;
        let Some(slot) = slots.0.first() else {
            continue;
        };
        create_booking(
            st,
            &rc,
            NewBooking {
                collect_deposit: false,
                service_id: service.id,
                staff_member_id: Some(member.id),
                starts_at: slot.starts_at,
                customer: CustomerChoice::Existing(customer.id),
                address: None,
                notes: Some("Seeded demo booking".into()),
                status: BookingStatus::Confirmed,
                source: BookingSource::Platform,
                idempotency_key: None,
                hold_token: None,
                location: None,
                extra_service_ids: vec![],
                addon_ids: vec![],
            },
        )
        .await?
        .map_err(|_| failed("booking"))?;
    }
    Ok(true)
}
