//! Role rules: owners and managers run the business; technicians see and change only
//! their own bookings.

use chrono::Weekday;
use serde_json::json;

use crate::helpers::{every_day, local, next_weekday, slug, spawn_app};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

#[tokio::test]
async fn technicians_see_and_change_only_their_own_bookings() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("roles")).await;
    let (tech_user, tech) = app
        .create_user(&owner, "tech@example.com", "TECHNICIAN")
        .await;
    let service = app.create_service(&owner.token, 60).await;
    let hours = every_day("09:00", "17:00");
    let mine = app
        .create_staff_linked(&owner.token, "Tina Tech", &hours, Some(&tech_user))
        .await;
    let other = app.create_staff(&owner.token, "Olga Other", &hours).await;
    let customer = app
        .create_customer(&owner.token, "Cust", "+14155550123")
        .await;
    let day = next_weekday(Weekday::Wed, 2);
    let my_booking = app
        .book(
            &owner.token,
            &service,
            &mine,
            &customer,
            &local(NY, day, "10:00"),
        )
        .await;
    let other_booking = app
        .book(
            &owner.token,
            &service,
            &other,
            &customer,
            &local(NY, day, "10:00"),
        )
        .await;
    let my_id = my_booking["booking"]["id"].as_str().unwrap();
    let other_id = other_booking["booking"]["id"].as_str().unwrap();

    let me = app
        .gql(
            Some(&tech),
            "{ me { user { role } staffMemberId } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["user"]["role"], "TECHNICIAN");
    assert_eq!(me["me"]["staffMemberId"], mine.as_str());

    let list = app
        .gql(
            Some(&tech),
            "{ bookings { totalCount edges { node { id customer { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["bookings"]["totalCount"], 1);
    assert_eq!(list["bookings"]["edges"][0]["node"]["id"], my_id);
    // Even asking for the other staff member's bookings explicitly yields nothing.
    let filtered = app
        .gql(
            Some(&tech),
            "query($s: ID!) { bookings(staffMemberId: $s) { totalCount } }",
            json!({"s": other}),
        )
        .await;
    assert_eq!(filtered["bookings"]["totalCount"], 0);

    let q = "query($id: ID!) { booking(id: $id) { id } }";
    assert_eq!(
        app.gql_error_code(Some(&tech), q, json!({"id": other_id}))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql(Some(&tech), q, json!({"id": my_id})).await["booking"]["id"],
        my_id
    );

    let set = "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { booking { status } userErrors { code } } }";
    assert_eq!(
        app.gql_error_code(
            Some(&tech),
            set,
            json!({"id": other_id, "s": "IN_PROGRESS"})
        )
        .await,
        "NOT_FOUND"
    );
    let started = app
        .gql(Some(&tech), set, json!({"id": my_id, "s": "IN_PROGRESS"}))
        .await;
    assert_eq!(
        started["setBookingStatus"]["booking"]["status"],
        "IN_PROGRESS"
    );
    assert_eq!(
        app.gql_error_code(Some(&tech), set, json!({"id": my_id, "s": "CANCELED"}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(
            Some(&tech),
            "mutation($id: ID!) { cancelBooking(id: $id) { userErrors { code } } }",
            json!({"id": my_id})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(Some(&tech), "mutation { createService(input: {name: \"X\", durationMinutes: 30, priceCents: 1}) { userErrors { code } } }", json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(Some(&tech), "{ customers { totalCount } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(
            Some(&tech),
            "mutation { createCustomer(input: {name: \"X\"}) { userErrors { code } } }",
            json!({})
        )
        .await,
        "FORBIDDEN"
    );
    // The other booking is untouched.
    let other_now = app
        .gql(
            Some(&owner.token),
            q.replace("{ id }", "{ id status }").as_str(),
            json!({"id": other_id}),
        )
        .await;
    assert_eq!(other_now["booking"]["status"], "CONFIRMED");
}

#[tokio::test]
async fn managers_manage_the_catalog_but_only_add_technicians() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("mgr")).await;
    let (_, manager) = app
        .create_user(&owner, "manager@example.com", "MANAGER")
        .await;
    let created = app
        .gql(Some(&manager), "mutation { createService(input: {name: \"Wash\", durationMinutes: 30, priceCents: 2500}) { service { id name } userErrors { code } } }", json!({}))
        .await;
    assert_eq!(created["createService"]["service"]["name"], "Wash");
    let add = "mutation($r: Role!, $e: String!) { createUser(input: {email: $e, name: \"N\", password: \"long enough pw\", role: $r}) { user { role } userErrors { code } } }";
    assert_eq!(
        app.gql_error_code(
            Some(&manager),
            add,
            json!({"r": "MANAGER", "e": "m2@example.com"})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(
            Some(&manager),
            add,
            json!({"r": "OWNER", "e": "o2@example.com"})
        )
        .await,
        "FORBIDDEN"
    );
    let tech = app
        .gql(
            Some(&manager),
            add,
            json!({"r": "TECHNICIAN", "e": "t2@example.com"}),
        )
        .await;
    assert_eq!(tech["createUser"]["user"]["role"], "TECHNICIAN");
    let dup = app
        .gql(
            Some(&manager),
            add,
            json!({"r": "TECHNICIAN", "e": "t2@example.com"}),
        )
        .await;
    assert_eq!(dup["createUser"]["userErrors"][0]["code"], "EMAIL_TAKEN");
}
