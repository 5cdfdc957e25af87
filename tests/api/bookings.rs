//! Booking creation, concurrency, lifecycle.

use chrono::Weekday;
use futures::future::join_all;
use serde_json::json;

use crate::helpers::{every_day, local, next_weekday, slug, spawn_app};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

#[tokio::test]
async fn a_hundred_concurrent_public_bookings_of_one_slot_make_exactly_one() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("race")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Solo", &every_day("09:00", "17:00"))
        .await;
    let starts = local(NY, next_weekday(Weekday::Tue, 2), "10:00");
    let calls = (0..100).map(|i| {
        let (app, s, service, staff, starts) = (&app, &owner.slug, &service, &staff, &starts);
        async move {
            app.public_book(
                s,
                service,
                starts,
                Some(staff),
                &format!("+1415555{:04}", 2000 + i),
            )
            .await
        }
    });
    let results = join_all(calls).await;
    let booked = results.iter().filter(|p| p["booking"].is_object()).count();
    let refused: Vec<_> = results.iter().filter(|p| p["booking"].is_null()).collect();
    assert_eq!(booked, 1, "exactly one booking");
    assert_eq!(refused.len(), 99);
    for p in refused {
        assert_eq!(p["userErrors"][0]["code"], "SLOT_UNAVAILABLE", "{p}");
    }
    let list = app
        .gql(
            Some(&owner.token),
            "{ bookings { totalCount } customers { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(list["bookings"]["totalCount"], 1, "one row");
    assert_eq!(
        list["customers"]["totalCount"], 1,
        "refused calls left no customer behind"
    );
}

#[tokio::test]
async fn concurrent_any_staff_bookings_fill_each_staff_member_once() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("any")).await;
    let service = app.create_service(&owner.token, 60).await;
    for name in ["Ann", "Bob", "Cid"] {
        app.create_staff(&owner.token, name, &every_day("09:00", "17:00"))
            .await;
    }
    let starts = local(NY, next_weekday(Weekday::Wed, 2), "13:00");
    let calls = (0..30).map(|i| {
        let (app, s, service, starts) = (&app, &owner.slug, &service, &starts);
        async move {
            app.public_book(
                s,
                service,
                starts,
                None,
                &format!("+1415555{:04}", 3000 + i),
            )
            .await
        }
    });
    let results = join_all(calls).await;
    let booked = results.iter().filter(|p| p["booking"].is_object()).count();
    assert_eq!(booked, 3, "one per staff member");
    for p in results.iter().filter(|p| p["booking"].is_null()) {
        assert_eq!(p["userErrors"][0]["code"], "SLOT_UNAVAILABLE", "{p}");
    }
}

#[tokio::test]
async fn overlaps_are_refused_and_back_to_back_is_fine() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("overlap")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "S", &every_day("09:00", "17:00"))
        .await;
    let customer = app.create_customer(&owner.token, "C", "+14155550130").await;
    let day = next_weekday(Weekday::Mon, 2);
    let t = &owner.token;
    let first = app
        .book(t, &service, &staff, &customer, &local(NY, day, "10:00"))
        .await;
    assert!(first["booking"].is_object(), "{first}");
    let after = app
        .book(t, &service, &staff, &customer, &local(NY, day, "11:00"))
        .await;
    assert!(after["booking"].is_object(), "back-to-back after: {after}");
    let before = app
        .book(t, &service, &staff, &customer, &local(NY, day, "09:00"))
        .await;
    assert!(
        before["booking"].is_object(),
        "back-to-back before: {before}"
    );
    let clash = app
        .book(t, &service, &staff, &customer, &local(NY, day, "10:30"))
        .await;
    assert_eq!(clash["userErrors"][0]["code"], "SLOT_UNAVAILABLE");
    assert_eq!(
        clash["userErrors"][0]["field"],
        json!(["input", "startsAt"])
    );
    // Operators may book off the 15-minute grid; the public may not.
    let off_grid = app
        .book(t, &service, &staff, &customer, &local(NY, day, "14:05"))
        .await;
    assert!(off_grid["booking"].is_object(), "{off_grid}");
    let public_off_grid = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "15:10"),
            Some(&staff),
            "+14155550131",
        )
        .await;
    assert_eq!(public_off_grid["userErrors"][0]["code"], "NOT_ON_SLOT_GRID");
    let late = app
        .book(t, &service, &staff, &customer, &local(NY, day, "16:30"))
        .await;
    assert_eq!(late["userErrors"][0]["code"], "OUTSIDE_WORKING_HOURS");
    let past = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(
                NY,
                next_weekday(Weekday::Mon, 0) - chrono::Duration::days(7),
                "10:00",
            ),
        )
        .await;
    assert_eq!(past["userErrors"][0]["code"], "IN_THE_PAST");
    let count = app
        .gql(Some(t), "{ bookings { totalCount } }", json!({}))
        .await;
    assert_eq!(count["bookings"]["totalCount"], 4);
}

#[tokio::test]
async fn lifecycle_allows_only_legal_transitions_and_cancel_frees_the_slot() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("life")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "S", &every_day("09:00", "17:00"))
        .await;
    let customer = app.create_customer(&owner.token, "C", "+14155550140").await;
    let when = local(NY, next_weekday(Weekday::Tue, 2), "09:00");
    let t = &owner.token;
    let b = app.book(t, &service, &staff, &customer, &when).await;
    let id = b["booking"]["id"].as_str().unwrap().to_string();
    let set = "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { booking { status } userErrors { code field } } }";
    let appr = &app;
    let step = |s: &'static str| {
        let id = id.clone();
        async move {
            appr.gql(Some(t), set, json!({"id": id, "s": s})).await["setBookingStatus"].clone()
        }
    };
    assert_eq!(
        step("COMPLETED").await["userErrors"][0]["code"],
        "INVALID_STATUS_TRANSITION"
    );
    assert_eq!(
        step("IN_PROGRESS").await["booking"]["status"],
        "IN_PROGRESS"
    );
    assert_eq!(
        step("CANCELED").await["userErrors"][0]["code"],
        "INVALID_STATUS_TRANSITION"
    );
    assert_eq!(step("COMPLETED").await["booking"]["status"], "COMPLETED");
    assert_eq!(
        step("NO_SHOW").await["userErrors"][0]["code"],
        "INVALID_STATUS_TRANSITION"
    );

    let second = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(NY, next_weekday(Weekday::Tue, 2), "11:00"),
        )
        .await;
    let second_id = second["booking"]["id"].as_str().unwrap();
    let clash = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(NY, next_weekday(Weekday::Tue, 2), "11:30"),
        )
        .await;
    assert_eq!(clash["userErrors"][0]["code"], "SLOT_UNAVAILABLE");
    let canceled = app
        .gql(
            Some(t),
            "mutation($id: ID!, $r: String) { cancelBooking(id: $id, reason: $r) { booking { status cancellationReason } } }",
            json!({"id": second_id, "r": "Customer asked by email"}),
        )
        .await;
    assert_eq!(canceled["cancelBooking"]["booking"]["status"], "CANCELED");
    assert_eq!(
        canceled["cancelBooking"]["booking"]["cancellationReason"],
        "Customer asked by email"
    );
    let retry = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(NY, next_weekday(Weekday::Tue, 2), "11:30"),
        )
        .await;
    assert!(
        retry["booking"].is_object(),
        "canceled slot is free: {retry}"
    );
}

#[tokio::test]
async fn bad_public_input_is_a_typed_error_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("badin")).await;
    let service = app.create_service(&owner.token, 60).await;
    app.create_staff(&owner.token, "S", &every_day("09:00", "17:00"))
        .await;
    let when = local(NY, next_weekday(Weekday::Tue, 2), "10:00");
    let bad_phone = app
        .public_book(&owner.slug, &service, &when, None, "12")
        .await;
    assert_eq!(bad_phone["userErrors"][0]["code"], "INVALID_PHONE");
    assert_eq!(
        bad_phone["userErrors"][0]["field"],
        json!(["input", "customer", "phone"])
    );
    let bad_slug = app
        .public_book("no-such-tenant", &service, &when, None, "+14155550150")
        .await;
    assert_eq!(bad_slug["userErrors"][0]["code"], "NOT_FOUND");
    let bad_service = app
        .public_book(&owner.slug, "not-a-uuid", &when, None, "+14155550150")
        .await;
    assert_eq!(bad_service["userErrors"][0]["code"], "NOT_FOUND");
    let counts = app
        .gql(
            Some(&owner.token),
            "{ bookings { totalCount } customers { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(counts["bookings"]["totalCount"], 0);
    assert_eq!(counts["customers"]["totalCount"], 0);
    // A returning customer is found by phone, not duplicated.
    let one = app
        .public_book(&owner.slug, &service, &when, None, "(415) 555-0150")
        .await;
    assert!(one["booking"].is_object(), "{one}");
    let two = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, next_weekday(Weekday::Tue, 2), "12:00"),
            None,
            "+1 415 555 0150",
        )
        .await;
    assert!(two["booking"].is_object(), "{two}");
    let counts = app
        .gql(
            Some(&owner.token),
            "{ customers { totalCount edges { node { phone } } } }",
            json!({}),
        )
        .await;
    assert_eq!(counts["customers"]["totalCount"], 1);
    assert_eq!(
        counts["customers"]["edges"][0]["node"]["phone"],
        "+14155550150"
    );
}

/// The node names of a connection page, in order.
fn names(page: &serde_json::Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lists_are_relay_connections_capped_at_one_hundred() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("page")).await;
    for i in 0..5 {
        app.create_customer(
            &owner.token,
            &format!("Customer {i}"),
            &format!("+1415555{:04}", 4000 + i),
        )
        .await;
    }
    let q = "query($f: Int, $a: String, $l: Int, $b: String) { customers(first: $f, after: $a, last: $l, before: $b) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { name } } } }";
    let t = Some(owner.token.as_str());
    let p1 = app.gql(t, q, json!({"f": 2})).await["customers"].clone();
    assert_eq!(p1["totalCount"], 5);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(names(&p1), ["Customer 0", "Customer 1"]);
    let p2 = app
        .gql(t, q, json!({"f": 2, "a": p1["pageInfo"]["endCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&p2), ["Customer 2", "Customer 3"]);
    let p3 = app
        .gql(t, q, json!({"f": 2, "a": p2["pageInfo"]["endCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&p3), ["Customer 4"]);
    assert_eq!(p3["pageInfo"]["hasNextPage"], false);
    let back = app
        .gql(t, q, json!({"l": 2, "b": p3["edges"][0]["cursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&back), ["Customer 2", "Customer 3"]);
    assert_eq!(
        app.gql_error_code(t, q, json!({"f": 101})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.gql_error_code(t, q, json!({"f": 1, "a": "garbage"}))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn keyset_pages_are_stable_under_inserts() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("keyset")).await;
    let t = Some(owner.token.as_str());
    for i in 0..6 {
        app.create_customer(
            &owner.token,
            &format!("Customer {i}"),
            &format!("+1415555{:04}", 5000 + i),
        )
        .await;
    }
    let q = "query($f: Int, $a: String, $l: Int, $b: String) { customers(first: $f, after: $a, last: $l, before: $b) { pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { name } } } }";
    let p1 = app.gql(t, q, json!({"f": 3})).await["customers"].clone();
    assert_eq!(names(&p1), ["Customer 0", "Customer 1", "Customer 2"]);
    // Rows inserted before the cursor do not shift the next page (an offset would repeat
    // "Customer 2"); rows inserted after it appear in order.
    app.create_customer(&owner.token, "Aaron Early", "+14155556001")
        .await;
    app.create_customer(&owner.token, "Customer 3b", "+14155556002")
        .await;
    let p2 = app
        .gql(t, q, json!({"f": 3, "a": p1["pageInfo"]["endCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&p2), ["Customer 3", "Customer 3b", "Customer 4"]);
    assert_eq!(p2["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(p2["pageInfo"]["hasNextPage"], true);
    let p3 = app
        .gql(t, q, json!({"f": 3, "a": p2["pageInfo"]["endCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&p3), ["Customer 5"]);
    assert_eq!(p3["pageInfo"]["hasNextPage"], false);
    // `after` the last item is an empty page.
    let end = app
        .gql(t, q, json!({"f": 3, "a": p3["pageInfo"]["endCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&end), Vec::<String>::new());
    assert_eq!(end["pageInfo"]["hasNextPage"], false);
    // Backward from the end: the last three before "Customer 5".
    let back = app
        .gql(t, q, json!({"l": 3, "b": p3["edges"][0]["cursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&back), ["Customer 3", "Customer 3b", "Customer 4"]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    // A bookings cursor is not a customers cursor, and vice versa for offsets.
    let bq = "query($a: String) { bookings(first: 2, after: $a) { edges { cursor } } }";
    assert_eq!(
        app.gql_error_code(t, q, json!({"f": 1, "a": "bzoy"})).await,
        "BAD_USER_INPUT"
    );
    let offset_cursor =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, "o:3");
    assert_eq!(
        app.gql_error_code(t, bq, json!({"a": offset_cursor})).await,
        "BAD_USER_INPUT"
    );
}
