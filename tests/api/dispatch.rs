//! Routing and dispatch (issue 11): `optimizeRoute`, `applyRoute`, `routeUpdated`.

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use serde_json::{Value, json};

use crate::helpers::{
    Owner, TestApp, every_day, local, next_json, next_weekday, slug, spawn_app, subscribe_to,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// Towson, MD: the home base, halfway between the two clusters.
const HOME: (f64, f64) = (39.4015, -76.6019);
/// About 8.6 km east and west of home.
const EAST: (f64, f64) = (39.4015, -76.5019);
const WEST: (f64, f64) = (39.4015, -76.7019);

const PLAN: &str = "query($s: ID!, $d: NaiveDate!, $w: Int) { optimizeRoute(staffMemberId: $s, date: $d, arrivalWindowMinutes: $w) { staffMemberId date token summary savedMinutes savedKilometres exact currentFeasible travelSource unlocatedBookingIds proposed { driveMinutes driveSeconds kilometres } current { driveMinutes driveSeconds kilometres } unplanned { booking { id } reason } stops { position plannedArrivalAt plannedDepartureAt windowStart windowEnd driveMinutes kilometres located booking { id startsAt endsAt } } } }";

const APPLY: &str = "mutation($s: ID!, $d: NaiveDate!, $t: String!, $w: Int) { applyRoute(staffMemberId: $s, date: $d, token: $t, arrivalWindowMinutes: $w) { plan { token stops { position plannedArrivalAt booking { id } } } userErrors { code message } } }";

/// A mobile staff member working 08:00–18:00 every day, home base in Towson.
async fn van(app: &TestApp, token: &str, name: &str) -> String {
    let weekly: Vec<Value> = every_day("08:00", "18:00")
        .iter()
        .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
        .collect();
    let created = app
        .gql(
            Some(token),
            "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { code field } } }",
            json!({"input": {"name": name, "weeklyHours": weekly, "homeBase": {"latitude": HOME.0, "longitude": HOME.1}, "serviceArea": {"latitude": HOME.0, "longitude": HOME.1, "radiusKm": 40.0}}}),
        )
        .await;
    created["createStaffMember"]["staffMember"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string()
}

/// Books `service` with `staff` at local `time` of `day` at `at`; returns the booking id.
#[allow(clippy::too_many_arguments)]
async fn book_at(
    app: &TestApp,
    token: &str,
    service: &str,
    staff: &str,
    day: NaiveDate,
    time: &str,
    at: (f64, f64),
    phone: &str,
) -> String {
    let v = app
        .gql(
            Some(token),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { code message } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, time), "customer": {"name": format!("Customer {phone}"), "phone": phone}, "location": {"latitude": at.0, "longitude": at.1}}}),
        )
        .await;
    v["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{time}: {v}"))
        .to_string()
}

/// A day booked in the worst order: east, west, east, west, east.
async fn zigzag_day(app: &TestApp, owner: &Owner) -> (String, String, NaiveDate, Vec<String>) {
    let t = owner.token.as_str();
    let service = app.create_service(t, 45).await;
    let staff = van(app, t, "Van 1").await;
    let day = next_weekday(Weekday::Wed, 2);
    let mut ids = Vec::new();
    for (i, (time, at)) in [
        ("08:30", EAST),
        ("10:00", WEST),
        ("11:30", EAST),
        ("13:00", WEST),
        ("14:30", EAST),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            book_at(
                app,
                t,
                &service,
                &staff,
                day,
                time,
                at,
                &format!("+1415555061{i}"),
            )
            .await,
        );
    }
    (service, staff, day, ids)
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an instant: {v}"))
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_zigzag_day_gets_a_shorter_order_with_every_arrival_inside_its_window_and_hours() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("route")).await;
    let (_, staff, day, ids) = zigzag_day(&app, &owner).await;
    let v = app
        .gql(
            Some(&owner.token),
            PLAN,
            json!({"s": staff, "d": day, "w": 240}),
        )
        .await;
    let p = &v["optimizeRoute"];
    assert_eq!(p["exact"], true, "{p}");
    assert_eq!(p["travelSource"], "ESTIMATE");
    assert_eq!(p["currentFeasible"], true, "{p}");
    let proposed = p["proposed"]["driveSeconds"].as_i64().unwrap();
    let current = p["current"]["driveSeconds"].as_i64().unwrap();
    assert!(proposed < current, "{p}");
    assert!(p["savedMinutes"].as_i64().unwrap() > 0, "{p}");
    assert!(p["savedKilometres"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["summary"].as_str().unwrap().starts_with("saves "), "{p}");
    let stops = p["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 5);
    let mut seen: Vec<String> = stops
        .iter()
        .map(|s| s["booking"]["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want, "every booking is planned once");
    let (open, close) = (
        instant(&json!(local(NY, day, "08:00"))),
        instant(&json!(local(NY, day, "18:00"))),
    );
    let mut last_departure = open;
    for s in stops {
        let arrival = instant(&s["plannedArrivalAt"]);
        let departure = instant(&s["plannedDepartureAt"]);
        let starts = instant(&s["booking"]["startsAt"]);
        assert_eq!(instant(&s["windowStart"]), starts, "{s}");
        assert!(
            instant(&s["windowEnd"]) <= starts + Duration::minutes(240),
            "{s}"
        );
        assert!(
            arrival >= starts && arrival <= instant(&s["windowEnd"]),
            "{s}"
        );
        assert!(arrival >= open && departure <= close, "{s}");
        assert!(arrival >= last_departure, "stops do not overlap: {s}");
        last_departure = departure;
    }
    // The order visits each side once per crossing at most: fewer crossings than booked.
    assert_ne!(
        stops
            .iter()
            .map(|s| s["booking"]["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        ids
    );
}

#[tokio::test]
async fn apply_route_writes_planned_arrivals_and_a_stale_token_is_refused() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("apply")).await;
    let t = owner.token.as_str();
    let (service, staff, day, ids) = zigzag_day(&app, &owner).await;
    let plan = app
        .gql(Some(t), PLAN, json!({"s": staff, "d": day, "w": 240}))
        .await;
    let token = plan["optimizeRoute"]["token"].as_str().unwrap().to_string();
    let mut ws = subscribe_to(
        &app,
        t,
        &format!("subscription {{ routeUpdated(date: \"{day}\") {{ staffMemberId date }} }}"),
    )
    .await;
    let applied = app
        .gql(
            Some(t),
            APPLY,
            json!({"s": staff, "d": day, "t": token, "w": 240}),
        )
        .await;
    assert_eq!(applied["applyRoute"]["userErrors"], json!([]), "{applied}");
    let event = next_json(&mut ws).await;
    assert_eq!(
        event["payload"]["data"]["routeUpdated"]["staffMemberId"], staff,
        "{event}"
    );
    for s in plan["optimizeRoute"]["stops"].as_array().unwrap() {
        let b = app
            .gql(
                Some(t),
                "query($id: ID!) { booking(id: $id) { plannedArrivalAt routePosition } }",
                json!({"id": s["booking"]["id"]}),
            )
            .await;
        assert_eq!(
            instant(&b["booking"]["plannedArrivalAt"]),
            instant(&s["plannedArrivalAt"])
        );
        assert_eq!(b["booking"]["routePosition"], s["position"]);
    }
    // A new plan, then another booking: the plan is stale and nothing changes.
    let plan = app
        .gql(Some(t), PLAN, json!({"s": staff, "d": day, "w": 240}))
        .await;
    let token = plan["optimizeRoute"]["token"].as_str().unwrap().to_string();
    book_at(
        &app,
        t,
        &service,
        &staff,
        day,
        "16:30",
        WEST,
        "+14155550699",
    )
    .await;
    let refused = app
        .gql(
            Some(t),
            APPLY,
            json!({"s": staff, "d": day, "t": token, "w": 240}),
        )
        .await;
    assert_eq!(
        refused["applyRoute"]["userErrors"][0]["code"], "STALE_PLAN",
        "{refused}"
    );
    assert_eq!(refused["applyRoute"]["plan"], Value::Null);
    let b = app
        .gql(
            Some(t),
            "query($id: ID!) { booking(id: $id) { routePosition } }",
            json!({"id": ids[0]}),
        )
        .await;
    assert!(b["booking"]["routePosition"].is_i64(), "{b}");
}

#[tokio::test]
async fn technicians_plan_only_their_own_day_and_other_tenants_ids_are_not_found() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("techroute")).await;
    let (_, staff, day, _) = zigzag_day(&app, &owner).await;
    let (user, tech) = app
        .create_user(&owner, "tech@techroute.example.com", "TECHNICIAN")
        .await;
    let own = app
        .create_staff_linked(
            &owner.token,
            "Tech",
            &every_day("08:00", "18:00"),
            Some(&user),
        )
        .await;
    assert_eq!(
        app.gql_error_code(Some(&tech), PLAN, json!({"s": staff, "d": day, "w": 120}))
            .await,
        "FORBIDDEN"
    );
    let mine = app
        .gql(Some(&tech), PLAN, json!({"s": own, "d": day, "w": 120}))
        .await;
    assert_eq!(mine["optimizeRoute"]["stops"], json!([]), "{mine}");
    assert_eq!(mine["optimizeRoute"]["savedMinutes"], 0);
    let other = app.sign_up(&slug("otherroute")).await;
    assert_eq!(
        app.gql_error_code(
            Some(&other.token),
            PLAN,
            json!({"s": staff, "d": day, "w": 120})
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql_error_code(
            Some(&other.token),
            APPLY,
            json!({"s": staff, "d": day, "t": "x", "w": 120})
        )
        .await,
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn a_booking_without_a_location_keeps_its_time_and_is_reported() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("unlocated")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 45).await;
    let staff = van(&app, t, "Van 1").await;
    let day = next_weekday(Weekday::Thu, 2);
    book_at(
        &app,
        t,
        &service,
        &staff,
        day,
        "09:00",
        EAST,
        "+14155550620",
    )
    .await;
    let customer = app.create_customer(t, "In shop", "+14155550621").await;
    let shop = app
        .book(t, &service, &staff, &customer, &local(NY, day, "12:00"))
        .await;
    let shop = shop["booking"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{shop}"))
        .to_string();
    book_at(
        &app,
        t,
        &service,
        &staff,
        day,
        "14:00",
        WEST,
        "+14155550622",
    )
    .await;
    let v = app
        .gql(Some(t), PLAN, json!({"s": staff, "d": day, "w": 120}))
        .await;
    let p = &v["optimizeRoute"];
    assert_eq!(p["unlocatedBookingIds"], json!([shop]), "{p}");
    let stop = p["stops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["booking"]["id"] == shop)
        .unwrap_or_else(|| panic!("{p}"));
    assert_eq!(stop["located"], false);
    assert_eq!(
        instant(&stop["plannedArrivalAt"]),
        instant(&json!(local(NY, day, "12:00")))
    );
    assert_eq!(stop["driveMinutes"], 0);
}

/// Applying a route schedules each confirmed customer's on-the-way text for when the
/// staff member sets off for them (the outbox, in the route's own transaction); with
/// `notifyCustomers: false` none.
#[tokio::test]
async fn applying_a_route_schedules_on_the_way_texts_for_when_the_staff_member_sets_off() {
    use entities::outbox_message;
    use graph::db::scoped;
    use sea_orm::{ColumnTrait, QueryFilter};

    let app = spawn_app().await;
    let owner = app.sign_up(&slug("otw")).await;
    let t = owner.token.as_str();
    let (_, staff, day, ids) = zigzag_day(&app, &owner).await;
    let plan = app
        .gql(Some(t), PLAN, json!({"s": staff, "d": day, "w": 240}))
        .await;
    let token = plan["optimizeRoute"]["token"].as_str().unwrap().to_string();
    const NOTIFY: &str = "mutation($s: ID!, $d: NaiveDate!, $t: String!, $w: Int, $n: Boolean) { applyRoute(staffMemberId: $s, date: $d, token: $t, arrivalWindowMinutes: $w, notifyCustomers: $n) { onTheWayTexts userErrors { code } } }";
    let quiet = app
        .gql(
            Some(t),
            NOTIFY,
            json!({"s": staff, "d": day, "t": token, "w": 240, "n": false}),
        )
        .await;
    assert_eq!(quiet["applyRoute"]["onTheWayTexts"], 0, "{quiet}");
    let tenant = uuid::Uuid::parse_str(&owner.tenant_id).unwrap();
    let rows = || async {
        let tx = app.state.db.read(tenant).await.unwrap();
        let mut out = Vec::new();
        for id in &ids {
            out.push(
                scoped::<outbox_message::Entity>(tenant)
                    .filter(outbox_message::Column::DedupeKey.eq(format!("sms:ontheway:{id}")))
                    .one(&*tx)
                    .await
                    .unwrap(),
            );
        }
        tx.commit().await.unwrap();
        out
    };
    assert!(rows().await.iter().all(Option::is_none));
    let applied = app
        .gql(
            Some(t),
            NOTIFY,
            json!({"s": staff, "d": day, "t": token, "w": 240, "n": true}),
        )
        .await;
    assert_eq!(applied["applyRoute"]["onTheWayTexts"], 5, "{applied}");
    let stops = plan["optimizeRoute"]["stops"].as_array().unwrap();
    for (id, row) in ids.iter().zip(rows().await) {
        let row = row.unwrap_or_else(|| panic!("no on-the-way text for {id}"));
        let stop = stops
            .iter()
            .find(|s| s["booking"]["id"] == id.as_str())
            .unwrap();
        let arrival = instant(&stop["plannedArrivalAt"]);
        let leave = arrival - Duration::minutes(stop["driveMinutes"].as_i64().unwrap());
        // Sent when the staff member sets off: before the arrival by the drive (and any
        // wait), rounded minutes aside.
        assert!(row.next_attempt_at <= arrival, "{row:?}: {stop}");
        assert!(
            row.next_attempt_at <= leave + Duration::seconds(30),
            "{row:?} vs {leave}: {stop}"
        );
        assert_eq!(row.kind, graph::messaging::delivery::AUTO_JOB, "{row:?}");
    }
}

/// A split shift (08:00–12:00 and 13:00–18:00): the proposed order never plans work in
/// the lunch gap, although going east, east, then west would drive less if it could.
#[tokio::test]
async fn a_split_shift_keeps_its_break_free_of_work() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("split")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 30).await;
    let mut weekly = Vec::new();
    for (d, _, _) in every_day("08:00", "18:00") {
        weekly.push(json!({"weekday": d, "startTime": "08:00", "endTime": "12:00"}));
        weekly.push(json!({"weekday": d, "startTime": "13:00", "endTime": "18:00"}));
    }
    let created = app
        .gql(
            Some(t),
            "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } } }",
            json!({"input": {"name": "Split", "weeklyHours": weekly, "homeBase": {"latitude": WEST.0, "longitude": WEST.1}}}),
        )
        .await;
    let staff = created["createStaffMember"]["staffMember"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let day = next_weekday(Weekday::Thu, 2);
    for (i, (time, at)) in [("08:45", EAST), ("10:00", WEST), ("11:15", EAST)]
        .into_iter()
        .enumerate()
    {
        book_at(
            &app,
            t,
            &service,
            &staff,
            day,
            time,
            at,
            &format!("+1415555062{i}"),
        )
        .await;
    }
    let v = app
        .gql(Some(t), PLAN, json!({"s": staff, "d": day, "w": 240}))
        .await;
    let p = &v["optimizeRoute"];
    assert_eq!(p["unplanned"], json!([]), "{p}");
    let (lunch, back) = (
        instant(&json!(local(NY, day, "12:00"))),
        instant(&json!(local(NY, day, "13:00"))),
    );
    let stops = p["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 3, "{p}");
    for s in stops {
        let (a, d) = (
            instant(&s["plannedArrivalAt"]),
            instant(&s["plannedDepartureAt"]),
        );
        assert!(d <= lunch || a >= back, "work in the lunch gap: {s}");
    }
}
