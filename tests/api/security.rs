//! Abuse tests of issue 15's "should fix" findings: anonymous callers cannot hold a
//! tenant's calendar hostage, cannot steer a booking to a stored customer's address,
//! cannot reuse another caller's idempotency key (see `scheduling.rs`), and cannot learn
//! whether an email has accounts from `logIn`.

use std::sync::Arc;

use serde_json::{Value, json};
use servicegraph::Settings;

use crate::helpers::{
    Options, PASSWORD, TestApp, every_day, local, next_weekday, slug, spawn_app, spawn_app_with,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

const HOLD: &str = "mutation($slug: String!, $input: HoldSlotInput!) { publicHoldSlot(tenantSlug: $slug, input: $input) { hold { id } userErrors { code } } }";

async fn hold_as(app: &TestApp, ip: &str, slug: &str, service: &str, starts: &str) -> Value {
    let resp = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("x-forwarded-for", ip)
        .json(&json!({"query": HOLD, "variables": {"slug": slug, "input": {"serviceId": service, "startsAt": starts, "ttlMinutes": 30}}}))
        .send()
        .await
        .unwrap();
    resp.json::<Value>().await.unwrap()["data"]["publicHoldSlot"].clone()
}

#[tokio::test]
async fn anonymous_callers_cannot_hold_a_whole_calendar() {
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut Settings| {
            s.limits.trusted_proxy_hops = 1;
            s.limits.config.public_holds_per_client = 2;
            s.limits.config.public_holds_per_tenant = 4;
        })),
        ..Options::default()
    })
    .await;
    let owner = app.sign_up(&slug("hostage")).await;
    let service = app.create_service(&owner.token, 30).await;
    for name in ["A", "B"] {
        app.create_staff(&owner.token, name, &every_day("09:00", "17:00"))
            .await;
    }
    let day = next_weekday(chrono::Weekday::Mon, 3);
    let at = |h: u32| local(NY, day, &format!("{h:02}:00"));
    // One client: two holds, the third refused.
    assert!(hold_as(&app, "198.51.100.1", &owner.slug, &service, &at(9)).await["hold"].is_object());
    assert!(
        hold_as(&app, "198.51.100.1", &owner.slug, &service, &at(10)).await["hold"].is_object()
    );
    let third = hold_as(&app, "198.51.100.1", &owner.slug, &service, &at(11)).await;
    assert_eq!(
        third["userErrors"][0]["code"], "HOLD_LIMIT_REACHED",
        "{third}"
    );
    // Other clients, until the tenant's anonymous budget of four is used.
    assert!(
        hold_as(&app, "198.51.100.2", &owner.slug, &service, &at(11)).await["hold"].is_object()
    );
    assert!(
        hold_as(&app, "198.51.100.3", &owner.slug, &service, &at(12)).await["hold"].is_object()
    );
    let fifth = hold_as(&app, "198.51.100.4", &owner.slug, &service, &at(13)).await;
    assert_eq!(
        fifth["userErrors"][0]["code"], "HOLD_LIMIT_REACHED",
        "{fifth}"
    );
    // Staff are not limited by anonymous holds, and most of the day is still free.
    let staff_hold = app
        .gql(
            Some(&owner.token),
            "mutation($input: HoldSlotInput!) { holdSlot(input: $input) { hold { id } userErrors { code } } }",
            json!({"input": {"serviceId": service, "startsAt": at(14), "ttlMinutes": 5}}),
        )
        .await;
    assert!(staff_hold["holdSlot"]["hold"].is_object(), "{staff_hold}");
    let slots = app
        .gql(
            Some(&owner.token),
            "query($s: ID!, $d: NaiveDate!) { availableSlots(serviceId: $s, from: $d, to: $d) { startsAt } }",
            json!({"s": service, "d": day.to_string()}),
        )
        .await;
    assert!(
        slots["availableSlots"].as_array().unwrap().len() > 20,
        "{slots}"
    );
}

#[tokio::test]
async fn a_public_booking_never_borrows_a_stored_customers_address_or_name() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("borrow")).await;
    let t = &owner.token;
    let service = app.create_service(t, 60).await;
    let staff = app
        .create_staff(t, "Kai", &every_day("09:00", "17:00"))
        .await;
    // The real customer, with a home address on file.
    let created = app
        .gql(
            Some(t),
            "mutation($input: CustomerInput!) { createCustomer(input: $input) { customer { id } } }",
            json!({"input": {"name": "Real Person", "phone": "+14155550150", "address": "1 Private Lane"}}),
        )
        .await;
    assert!(created["createCustomer"]["customer"].is_object());
    // A stranger books with that phone number and another name, giving no address.
    let day = next_weekday(chrono::Weekday::Wed, 2);
    let booked = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "10:00"),
            Some(&staff),
            "+14155550150",
        )
        .await;
    let id = booked["booking"]["id"].as_str().unwrap().to_string();
    let view = app
        .gql(
            Some(t),
            "query($id: ID!) { booking(id: $id) { address notes customer { name address } } }",
            json!({"id": id}),
        )
        .await["booking"]
        .clone();
    assert_eq!(view["address"], Value::Null, "{view}");
    assert!(
        view["notes"]
            .as_str()
            .unwrap_or("")
            .contains("Test Customer"),
        "{view}"
    );
    // The stored customer is unchanged.
    assert_eq!(view["customer"]["name"], "Real Person");
    assert_eq!(view["customer"]["address"], "1 Private Lane");
    // Operators still get the stored address by default.
    let customer_id = app
        .gql(
            Some(t),
            "{ customers(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await["customers"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = app
        .book(t, &service, &staff, &customer_id, &local(NY, day, "14:00"))
        .await;
    let op_view = app
        .gql(
            Some(t),
            "query($id: ID!) { booking(id: $id) { address } }",
            json!({"id": op["booking"]["id"]}),
        )
        .await;
    assert_eq!(op_view["booking"]["address"], "1 Private Lane");
}

#[tokio::test]
async fn log_in_reveals_nothing_without_the_password_and_a_squatter_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("victim")).await;
    // Somebody signs up a second business with the owner's email (no verification yet).
    let squat = app
        .gql(
            None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken userErrors { code } } }",
            json!({"input": {"businessName": "Squatter", "slug": slug("squat"), "timezone": "America/New_York",
                "email": owner.email, "password": "a different long password"}}),
        )
        .await;
    assert!(squat["signUp"]["accessToken"].is_string(), "{squat}");
    // Wrong password: the same answer as for an email nobody has.
    let wrong = app
        .log_in(&owner.email, "not the password at all", None)
        .await;
    let nobody = app
        .log_in("nobody-here@example.com", "not the password at all", None)
        .await;
    assert_eq!(wrong["userErrors"], nobody["userErrors"]);
    assert_eq!(wrong["userErrors"][0]["code"], "INVALID_CREDENTIALS");
    // The real owner still logs in without a slug, into their own business.
    let me = app.log_in(&owner.email, PASSWORD, None).await;
    let token = me["accessToken"].as_str().expect("logged in").to_string();
    let who = app
        .gql(Some(&token), "{ me { tenant { slug } } }", json!({}))
        .await;
    assert_eq!(who["me"]["tenant"]["slug"], owner.slug.as_str());
}
