//! The scheduling engine over the API: buffers, breaks, overrides, holidays, time off,
//! notice, horizon, qualifications, explanations, idempotency, rescheduling, customer
//! cancellation, and a randomized concurrent run that must never double-book.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc, Weekday};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, every_day, local, next_weekday, slug, spawn_app, spawn_app_with};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

const WHY: &str = "query($s: ID!, $t: DateTime!, $st: ID) { whyNotAvailable(serviceId: $s, startsAt: $t, staffMemberId: $st) { available reasons staff { staffMemberId available reasons } } }";
const SLOTS: &str = "query($s: ID!, $st: ID, $f: NaiveDate!, $t: NaiveDate!) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $t) { startsAt endsAt staffMemberIds } }";

async fn service_with(app: &TestApp, token: &str, input: Value) -> String {
    let data = app
        .gql(
            Some(token),
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { field code message } } }",
            json!({"input": input}),
        )
        .await;
    assert_eq!(data["createService"]["userErrors"], json!([]), "{data}");
    data["createService"]["service"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn why(
    app: &TestApp,
    token: &str,
    service: &str,
    at: &str,
    staff: Option<&str>,
) -> Vec<String> {
    let v = app
        .gql(
            Some(token),
            WHY,
            json!({"s": service, "t": at, "st": staff}),
        )
        .await;
    let e = &v["whyNotAvailable"];
    let mut reasons: Vec<String> = e["staff"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
        })
        .chain(
            e["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string()),
        )
        .collect();
    reasons.sort();
    reasons.dedup();
    reasons
}

fn starts(v: &Value) -> Vec<DateTime<Utc>> {
    v["availableSlots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            DateTime::parse_from_rfc3339(s["startsAt"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn buffers_breaks_overrides_holidays_and_time_off_shape_availability() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("sched")).await;
    let t = owner.token.as_str();
    let service = service_with(&app, t, json!({"name": "Detail", "durationMinutes": 60, "priceCents": 10000, "bufferAfterMinutes": 30})).await;
    let hours: Vec<(&str, &str, &str)> = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
        .into_iter()
        .flat_map(|d| [(d, "09:00", "12:00"), (d, "13:00", "17:00")])
        .collect();
    let staff = app.create_staff(t, "Pat", &hours).await;
    let customer = app.create_customer(t, "C", "+14155550300").await;
    let wed = next_weekday(Weekday::Wed, 2);
    let booked = app
        .book(t, &service, &staff, &customer, &local(NY, wed, "09:00"))
        .await;
    assert!(booked["booking"].is_object(), "{booked}");

    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": staff, "f": wed, "t": wed}),
        )
        .await;
    let s = starts(&v);
    assert!(
        !s.contains(&at(&local(NY, wed, "10:00"))),
        "inside the after-buffer"
    );
    assert!(!s.contains(&at(&local(NY, wed, "10:15"))));
    assert!(
        s.contains(&at(&local(NY, wed, "10:30"))),
        "first start after buffer"
    );
    assert!(
        !s.contains(&at(&local(NY, wed, "11:30"))),
        "would run into the break"
    );
    assert!(s.contains(&at(&local(NY, wed, "13:00"))));

    assert_eq!(
        why(&app, t, &service, &local(NY, wed, "10:00"), Some(&staff)).await,
        ["BOOKED"]
    );
    assert_eq!(
        why(&app, t, &service, &local(NY, wed, "12:15"), Some(&staff)).await,
        ["BREAK"]
    );
    assert_eq!(
        why(&app, t, &service, &local(NY, wed, "07:00"), Some(&staff)).await,
        ["OUTSIDE_WORKING_HOURS"]
    );
    assert_eq!(
        why(&app, t, &service, &local(NY, wed, "13:05"), Some(&staff)).await,
        ["NOT_ON_SLOT_GRID"]
    );
    let ok = app
        .gql(
            Some(t),
            WHY,
            json!({"s": service, "t": local(NY, wed, "14:00"), "st": staff}),
        )
        .await;
    assert_eq!(ok["whyNotAvailable"]["available"], true);

    // Time off: refuses, and lists bookings it overlaps without touching them.
    let add = "mutation($input: TimeOffInput!) { addTimeOff(input: $input) { timeOff { id } conflictingBookingIds userErrors { code } } }";
    let off = app
        .gql(Some(t), add, json!({"input": {"staffMemberId": staff, "startsAt": local(NY, wed, "14:00"), "endsAt": local(NY, wed, "15:00"), "reason": "dentist"}}))
        .await;
    assert_eq!(off["addTimeOff"]["conflictingBookingIds"], json!([]));
    assert_eq!(
        why(&app, t, &service, &local(NY, wed, "14:30"), Some(&staff)).await,
        ["TIME_OFF"]
    );
    let over = app
        .gql(Some(t), add, json!({"input": {"staffMemberId": staff, "startsAt": local(NY, wed, "08:00"), "endsAt": local(NY, wed, "09:30")}}))
        .await;
    assert_eq!(
        over["addTimeOff"]["conflictingBookingIds"],
        json!([booked["booking"]["id"]])
    );
    let bad = app
        .gql(Some(t), add, json!({"input": {"staffMemberId": staff, "startsAt": local(NY, wed, "15:00"), "endsAt": local(NY, wed, "14:00")}}))
        .await;
    assert_eq!(bad["addTimeOff"]["userErrors"][0]["code"], "INVALID_INPUT");

    // A date override replaces the weekly hours for that date.
    let thu = wed + Duration::days(1);
    let set = "mutation($input: AvailabilityOverrideInput!) { setAvailabilityOverride(input: $input) { availabilityOverride { date intervals { startTime endTime } } userErrors { code field } } }";
    let o = app
        .gql(Some(t), set, json!({"input": {"staffMemberId": staff, "date": thu, "intervals": [{"weekday": "MONDAY", "startTime": "18:00", "endTime": "20:00"}], "note": "late shift"}}))
        .await;
    assert_eq!(
        o["setAvailabilityOverride"]["availabilityOverride"]["intervals"],
        json!([{"startTime": "18:00", "endTime": "20:00"}])
    );
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": staff, "f": thu, "t": thu}),
        )
        .await;
    let s = starts(&v);
    assert_eq!(s.first(), Some(&at(&local(NY, thu, "18:00"))));
    assert_eq!(s.last(), Some(&at(&local(NY, thu, "19:00"))));
    assert_eq!(
        why(&app, t, &service, &local(NY, thu, "10:00"), Some(&staff)).await,
        ["OUTSIDE_WORKING_HOURS"]
    );

    // A business holiday closes the day for everyone; clearing it reopens it.
    let next_wed = wed + Duration::days(7);
    let h = app
        .gql(
            Some(t),
            set,
            json!({"input": {"date": next_wed, "note": "holiday"}}),
        )
        .await;
    assert_eq!(h["setAvailabilityOverride"]["userErrors"], json!([]));
    assert_eq!(
        why(
            &app,
            t,
            &service,
            &local(NY, next_wed, "10:00"),
            Some(&staff)
        )
        .await,
        ["DAY_OFF"]
    );
    let refused = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(NY, next_wed, "10:00"),
        )
        .await;
    assert_eq!(refused["userErrors"][0]["code"], "OUTSIDE_WORKING_HOURS");
    let cal = app
        .gql(
            Some(t),
            "query($s: ID!, $f: NaiveDate!, $t: NaiveDate!) { availabilityCalendar(serviceId: $s, from: $f, to: $t) { date available } }",
            json!({"s": service, "f": wed, "t": next_wed}),
        )
        .await;
    let days = cal["availabilityCalendar"].as_array().unwrap();
    assert_eq!(days.len(), 8);
    let open: Vec<bool> = days
        .iter()
        .map(|d| d["available"].as_bool().unwrap())
        .collect();
    // Wed, Thu (override), Fri open; Sat, Sun closed; Mon, Tue open; next Wed holiday.
    assert_eq!(open, [true, true, true, false, false, true, true, false]);
    let cleared = app
        .gql(Some(t), "mutation($d: NaiveDate!) { clearAvailabilityOverride(date: $d) { userErrors { code } } }", json!({"d": next_wed}))
        .await;
    assert_eq!(
        cleared["clearAvailabilityOverride"]["userErrors"],
        json!([])
    );
    assert_eq!(
        why(
            &app,
            t,
            &service,
            &local(NY, next_wed, "10:00"),
            Some(&staff)
        )
        .await,
        Vec::<String>::new()
    );
    let listed = app
        .gql(Some(t), "query($f: NaiveDate!, $t: NaiveDate!) { availabilityOverrides(from: $f, to: $t) { date note intervals { startTime } } }", json!({"f": wed, "t": next_wed}))
        .await;
    assert_eq!(listed["availabilityOverrides"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn booking_policy_sets_grid_notice_and_horizon() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("policy")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let staff = app.create_staff(t, "S", &every_day("09:00", "17:00")).await;
    let policy = "mutation($input: BookingPolicyInput!) { updateBookingPolicy(input: $input) { tenant { slug } userErrors { field code } } }";
    let bad = app
        .gql(
            Some(t),
            policy,
            json!({"input": {"slotIntervalMinutes": 7, "horizonDays": 0}}),
        )
        .await;
    let codes: Vec<&str> = bad["updateBookingPolicy"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["INVALID_INPUT", "INVALID_INPUT"]);
    let ok = app.gql(Some(t), policy, json!({"input": {"slotIntervalMinutes": 30, "minNoticeMinutes": 2880, "horizonDays": 14}})).await;
    assert_eq!(ok["updateBookingPolicy"]["userErrors"], json!([]));
    let soon = Utc::now().with_timezone(&NY).date_naive() + Duration::days(1);
    assert_eq!(
        why(&app, t, &service, &local(NY, soon, "12:00"), Some(&staff)).await,
        ["MINIMUM_NOTICE"]
    );
    let far = Utc::now().with_timezone(&NY).date_naive() + Duration::days(20);
    assert_eq!(
        why(&app, t, &service, &local(NY, far, "12:00"), Some(&staff)).await,
        ["BEYOND_HORIZON"]
    );
    let mid = Utc::now().with_timezone(&NY).date_naive() + Duration::days(5);
    assert_eq!(
        why(&app, t, &service, &local(NY, mid, "12:15"), Some(&staff)).await,
        ["NOT_ON_SLOT_GRID"]
    );
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": staff, "f": mid, "t": mid}),
        )
        .await;
    assert_eq!(starts(&v).len(), 15, "09:00 … 16:00 every 30 minutes");
    let r = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, soon, "12:00"),
            None,
            "+14155550310",
        )
        .await;
    assert_eq!(r["userErrors"][0]["code"], "MINIMUM_NOTICE");
    let r = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, far, "12:00"),
            None,
            "+14155550311",
        )
        .await;
    assert_eq!(r["userErrors"][0]["code"], "BEYOND_HORIZON");
    // A service can override the grid.
    let fine = service_with(&app, t, json!({"name": "Quick", "durationMinutes": 10, "priceCents": 100, "slotIntervalMinutes": 10})).await;
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": fine, "st": staff, "f": mid, "t": mid}),
        )
        .await;
    assert_eq!(starts(&v).len(), 48, "09:00 … 16:50 every 10 minutes");
}

#[tokio::test]
async fn staff_services_qualify_and_override_price_and_duration() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("quals")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let ann = app
        .create_staff(t, "Ann", &every_day("09:00", "17:00"))
        .await;
    let bob = app
        .create_staff(t, "Bob", &every_day("09:00", "17:00"))
        .await;
    let set = "mutation($st: ID!, $services: [StaffServiceInput!]!) { setStaffServices(staffMemberId: $st, services: $services) { services { serviceId priceCents durationMinutes } userErrors { code } } }";
    let r = app.gql(Some(t), set, json!({"st": ann, "services": [{"serviceId": service, "priceCents": 9999, "durationMinutes": 90}]})).await;
    assert_eq!(r["setStaffServices"]["services"][0]["priceCents"], 9999);
    let missing = app
        .gql(
            Some(t),
            set,
            json!({"st": ann, "services": [{"serviceId": uuid::Uuid::now_v7().to_string()}]}),
        )
        .await;
    assert_eq!(
        missing["setStaffServices"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let day = next_weekday(Weekday::Tue, 2);
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": null, "f": day, "t": day}),
        )
        .await;
    let slots = v["availableSlots"].as_array().unwrap();
    assert!(
        slots.iter().all(|s| s["staffMemberIds"] == json!([ann])),
        "only Ann performs it"
    );
    let first = &slots[0];
    assert_eq!(
        at(first["endsAt"].as_str().unwrap()) - at(first["startsAt"].as_str().unwrap()),
        Duration::minutes(90)
    );
    let customer = app.create_customer(t, "C", "+14155550320").await;
    let refused = app
        .book(t, &service, &bob, &customer, &local(NY, day, "10:00"))
        .await;
    assert_eq!(refused["userErrors"][0]["code"], "STAFF_NOT_QUALIFIED");
    let public = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "10:00"),
            None,
            "+14155550321",
        )
        .await;
    let id = public["booking"]["id"].as_str().unwrap();
    let b = app
        .gql(Some(t), "query($id: ID!) { booking(id: $id) { priceCents durationMinutes assignmentReason staffMember { name } } }", json!({"id": id}))
        .await;
    assert_eq!(b["booking"]["priceCents"], 9999);
    assert_eq!(b["booking"]["durationMinutes"], 90);
    assert_eq!(b["booking"]["staffMember"]["name"], "Ann");
    assert!(
        b["booking"]["assignmentReason"]
            .as_str()
            .unwrap()
            .contains("auto-assigned")
    );
}

const PUBLIC_BOOK_KEY: &str = "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id cancellationToken } userErrors { code } } }";

#[tokio::test]
async fn idempotency_keys_return_the_first_result() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("idem")).await;
    let service = app.create_service(&owner.token, 60).await;
    app.create_staff(&owner.token, "S", &every_day("09:00", "17:00"))
        .await;
    let day = next_weekday(Weekday::Thu, 2);
    let input = |time: &str, key: &str, phone: &str| json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": local(NY, day, time), "customer": {"name": "Voice caller", "phone": phone}, "idempotencyKey": key}});
    // Twenty concurrent retries of one tool call: one booking, the same answer.
    let calls = (0..20).map(|_| {
        app.gql(
            None,
            PUBLIC_BOOK_KEY,
            input("10:00", "call-123", "+14155550330"),
        )
    });
    let results = join_all(calls).await;
    let ids: HashSet<String> = results
        .iter()
        .map(|r| {
            r["publicCreateBooking"]["booking"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    let count = app
        .gql(Some(&owner.token), "{ bookings { totalCount } }", json!({}))
        .await;
    assert_eq!(count["bookings"]["totalCount"], 1);
    // A refusal is remembered too: the same request again returns the first answer.
    let first = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            input("20:00", "call-456", "+14155550331"),
        )
        .await;
    assert_eq!(
        first["publicCreateBooking"]["userErrors"][0]["code"],
        "OUTSIDE_WORKING_HOURS"
    );
    let again = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            input("20:00", "call-456", "+14155550331"),
        )
        .await;
    assert_eq!(
        again["publicCreateBooking"]["userErrors"][0]["code"],
        "OUTSIDE_WORKING_HOURS"
    );
    // The same key with another request is refused (as Stripe does) and books nothing.
    let other = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            input("11:00", "call-456", "+14155550331"),
        )
        .await;
    assert_eq!(
        other["publicCreateBooking"]["userErrors"][0]["code"],
        "IDEMPOTENCY_KEY_REUSED"
    );
    assert_eq!(other["publicCreateBooking"]["booking"], Value::Null);
    // Keys belong to their caller: an operator's key does not hand its booking to an
    // anonymous caller who sends the same key.
    let customer = app
        .create_customer(&owner.token, "Op Customer", "+14155550332")
        .await;
    let staff_id = app
        .gql(
            Some(&owner.token),
            "{ staffMembers { edges { node { id } } } }",
            json!({}),
        )
        .await["staffMembers"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = app
        .gql(
            Some(&owner.token),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { code } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff_id, "customerId": customer,
                "startsAt": local(NY, day, "13:00"), "idempotencyKey": "shared-key-1"}}),
        )
        .await;
    let op_id = op["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let anon = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            input("14:00", "shared-key-1", "+14155550333"),
        )
        .await;
    let anon_id = anon["publicCreateBooking"]["booking"]["id"]
        .as_str()
        .unwrap_or("none");
    assert_ne!(anon_id, op_id, "{anon}");
    // A new key books normally.
    let fresh = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            input("11:00", "call-789", "+14155550331"),
        )
        .await;
    assert!(fresh["publicCreateBooking"]["booking"].is_object());
}

#[tokio::test]
async fn customers_reschedule_and_cancel_with_their_token_within_policy() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("resched")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let staff = app.create_staff(t, "S", &every_day("09:00", "17:00")).await;
    let day = Utc::now().with_timezone(&NY).date_naive() + Duration::days(5);
    let b = app
        .gql(None, PUBLIC_BOOK_KEY, json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": local(NY, day, "10:00"), "customer": {"name": "Ana", "phone": "+14155550340"}}}))
        .await;
    let id = b["publicCreateBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = b["publicCreateBooking"]["booking"]["cancellationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let resched = "mutation($slug: String!, $id: ID!, $tok: String!, $t: DateTime!) { publicRescheduleBooking(tenantSlug: $slug, bookingId: $id, cancellationToken: $tok, startsAt: $t) { booking { startsAt } userErrors { code } } }";
    let wrong = app
        .gql(
            None,
            resched,
            json!({"slug": owner.slug, "id": id, "tok": "ct_nope", "t": local(NY, day, "12:00")}),
        )
        .await;
    assert_eq!(
        wrong["publicRescheduleBooking"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let moved = app
        .gql(
            None,
            resched,
            json!({"slug": owner.slug, "id": id, "tok": token, "t": local(NY, day, "12:00")}),
        )
        .await;
    assert_eq!(
        at(moved["publicRescheduleBooking"]["booking"]["startsAt"]
            .as_str()
            .unwrap()),
        at(&local(NY, day, "12:00"))
    );
    // The old time is free again, the new one taken.
    let other = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "10:00"),
            Some(&staff),
            "+14155550341",
        )
        .await;
    assert!(other["booking"].is_object(), "{other}");
    let clash = app
        .gql(Some(t), "mutation($id: ID!, $t: DateTime!) { rescheduleBooking(id: $id, startsAt: $t) { userErrors { code } } }", json!({"id": other["booking"]["id"], "t": local(NY, day, "12:30")}))
        .await;
    assert_eq!(
        clash["rescheduleBooking"]["userErrors"][0]["code"],
        "SLOT_UNAVAILABLE"
    );
    // Policy: no customer changes within 7 days of the start.
    app.gql(Some(t), "mutation { updateBookingPolicy(input: {cancellationNoticeHours: 168}) { userErrors { code } } }", json!({})).await;
    let cancel = "mutation($slug: String!, $id: ID!, $tok: String!, $r: String) { publicCancelBooking(tenantSlug: $slug, bookingId: $id, cancellationToken: $tok, reason: $r) { booking { status } userErrors { code field } } }";
    let late = app
        .gql(
            None,
            cancel,
            json!({"slug": owner.slug, "id": id, "tok": token}),
        )
        .await;
    assert_eq!(
        late["publicCancelBooking"]["userErrors"][0]["code"],
        "CANCELLATION_WINDOW_PASSED"
    );
    app.gql(Some(t), "mutation { updateBookingPolicy(input: {cancellationNoticeHours: 24}) { userErrors { code } } }", json!({})).await;
    // A reason longer than 500 characters is refused and cancels nothing.
    let long = app
        .gql(
            None,
            cancel,
            json!({"slug": owner.slug, "id": id, "tok": token, "r": "x".repeat(501)}),
        )
        .await;
    assert_eq!(
        long["publicCancelBooking"]["userErrors"][0],
        json!({"code": "INVALID_INPUT", "field": ["input", "reason"]})
    );
    let read = "query($id: ID!) { booking(id: $id) { status cancellationReason } }";
    let still = app.gql(Some(t), read, json!({"id": id})).await;
    assert_eq!(still["booking"]["status"], "CONFIRMED", "{still}");
    let done = app
        .gql(
            None,
            cancel,
            json!({"slug": owner.slug, "id": id, "tok": token, "r": "  Car broke\n\tdown  "}),
        )
        .await;
    assert_eq!(done["publicCancelBooking"]["booking"]["status"], "CANCELED");
    // The business sees the customer's reason, on one line.
    let seen = app.gql(Some(t), read, json!({"id": id})).await;
    assert_eq!(seen["booking"]["cancellationReason"], "Car broke down");
    let twice = app
        .gql(
            None,
            cancel,
            json!({"slug": owner.slug, "id": id, "tok": token}),
        )
        .await;
    assert_eq!(
        twice["publicCancelBooking"]["userErrors"][0]["code"],
        "INVALID_STATUS_TRANSITION"
    );
}

/// xorshift64*: a deterministic pseudo-random stream for reproducible runs.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[tokio::test]
async fn randomized_concurrent_operations_never_double_book() {
    // 2 080 operations in seconds: a load test of the booking rules, not of the limits.
    let app = spawn_app_with(crate::helpers::without_rate_limits()).await;
    let owner = app.sign_up(&slug("chaos")).await;
    let t = owner.token.clone();
    let service = service_with(&app, &t, json!({"name": "Job", "durationMinutes": 45, "priceCents": 100, "bufferBeforeMinutes": 15, "bufferAfterMinutes": 15})).await;
    let mut staff = Vec::new();
    for name in ["A", "B", "C"] {
        staff.push(
            app.create_staff(&t, name, &every_day("08:00", "18:00"))
                .await,
        );
    }
    let day = next_weekday(Weekday::Mon, 2);
    const CLIENTS: u64 = 8;
    const OPS: u64 = 260;
    let successes = std::sync::Mutex::new(HashSet::<String>::new());
    let clients = (0..CLIENTS).map(|c| {
        let (app, t, service, staff, owner, successes) = (&app, &t, &service, &staff, &owner, &successes);
        async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
            let mut mine: Vec<String> = Vec::new();
            for i in 0..OPS {
                let minute = 8 * 60 + rng.next(40) * 15;
                let time = format!("{:02}:{:02}", minute / 60, minute % 60);
                let when = local(NY, day + Duration::days(rng.next(2) as i64), &time);
                match rng.next(10) {
                    0..=5 => {
                        let phone = format!("+1415555{:04}", 1000 + c * OPS + i);
                        let st = (rng.next(4) < 3).then(|| staff[rng.next(3) as usize].as_str());
                        let r = app.public_book(&owner.slug, service, &when, st, &phone).await;
                        if let Some(id) = r["booking"]["id"].as_str() {
                            mine.push(id.to_string());
                            successes.lock().unwrap().insert(phone);
                        } else {
                            let code = r["userErrors"][0]["code"].as_str().unwrap().to_string();
                            assert!(["SLOT_UNAVAILABLE", "OUTSIDE_WORKING_HOURS"].contains(&code.as_str()), "{r}");
                        }
                    }
                    6..=7 if !mine.is_empty() => {
                        let id = &mine[rng.next(mine.len() as u64) as usize];
                        let r = app
                            .gql(Some(t), "mutation($id: ID!, $t: DateTime!) { rescheduleBooking(id: $id, startsAt: $t) { booking { id } userErrors { code } } }", json!({"id": id, "t": when}))
                            .await;
                        let p = &r["rescheduleBooking"];
                        if p["booking"].is_null() {
                            let code = p["userErrors"][0]["code"].as_str().unwrap();
                            assert!(["SLOT_UNAVAILABLE", "OUTSIDE_WORKING_HOURS", "INVALID_STATUS_TRANSITION"].contains(&code), "{r}");
                        }
                    }
                    8 if !mine.is_empty() => {
                        let id = mine.swap_remove(rng.next(mine.len() as u64) as usize);
                        let r = app.gql(Some(t), "mutation($id: ID!) { cancelBooking(id: $id) { booking { status } userErrors { code } } }", json!({"id": id})).await;
                        assert_eq!(r["cancelBooking"]["booking"]["status"], "CANCELED", "{r}");
                    }
                    9 if rng.next(2) == 0 => {
                        let h = app
                            .gql(None, HOLD, json!({"slug": owner.slug, "input": {"serviceId": service, "startsAt": when}}))
                            .await;
                        let p = &h["publicHoldSlot"];
                        match p["hold"]["holdToken"].as_str() {
                            Some(token) if rng.next(2) == 0 => {
                                let phone = format!("+1415555{:04}", 1000 + c * OPS + i);
                                let r = app
                                    .gql(None, PUBLIC_BOOK_KEY, json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": when, "customer": {"name": "Held", "phone": phone}, "holdToken": token}}))
                                    .await;
                                let id = r["publicCreateBooking"]["booking"]["id"].as_str().unwrap_or_else(|| panic!("held slot must book: {r}"));
                                mine.push(id.to_string());
                                successes.lock().unwrap().insert(phone);
                            }
                            Some(_) => {}
                            None => {
                                let code = p["userErrors"][0]["code"].as_str().unwrap();
                                assert!(["SLOT_UNAVAILABLE", "OUTSIDE_WORKING_HOURS"].contains(&code), "{h}");
                            }
                        }
                    }
                    _ => {
                        let v = app.gql(None, "query($slug: String!, $s: ID!, $f: NaiveDate!) { publicAvailableSlots(tenantSlug: $slug, serviceId: $s, from: $f, to: $f) { startsAt } }", json!({"slug": owner.slug, "s": service, "f": day})).await;
                        assert!(v["publicAvailableSlots"].is_array());
                    }
                }
            }
            mine
        }
    });
    // The bookings each client made and did not cancel: exactly what must be active now.
    let kept: HashSet<String> = join_all(clients).await.into_iter().flatten().collect();

    // Every active booking's blocked interval is disjoint from the others of its staff.
    type Spans = Vec<(DateTime<Utc>, DateTime<Utc>)>;
    let mut by_staff: HashMap<String, Spans> = HashMap::new();
    let mut after: Option<String> = None;
    let mut active = HashSet::new();
    loop {
        let page = app
            .gql(Some(&t), "query($a: String) { bookings(first: 100, after: $a, status: [PENDING, CONFIRMED]) { pageInfo { hasNextPage endCursor } edges { node { id blockedFrom blockedUntil staffMember { id } } } } }", json!({"a": after}))
            .await;
        for e in page["bookings"]["edges"].as_array().unwrap() {
            let n = &e["node"];
            active.insert(n["id"].as_str().unwrap().to_string());
            by_staff
                .entry(n["staffMember"]["id"].as_str().unwrap().to_string())
                .or_default()
                .push((
                    at(n["blockedFrom"].as_str().unwrap()),
                    at(n["blockedUntil"].as_str().unwrap()),
                ));
        }
        if page["bookings"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["bookings"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
    println!(
        "randomized run: {} operations from {CLIENTS} clients, {} active bookings, {} booked in all",
        CLIENTS * OPS,
        active.len(),
        successes.lock().unwrap().len()
    );
    // How many stay active at the end is an equilibrium of books and cancels (10–21 seen);
    // what must hold exactly is that every booking made and not canceled is active, and
    // nothing else is.
    assert!(
        successes.lock().unwrap().len() > 50,
        "the run should book a fair amount"
    );
    assert_eq!(
        active, kept,
        "active bookings are those made and not canceled"
    );
    for (staff_id, mut list) in by_staff {
        list.sort();
        for w in list.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlap for {staff_id}: {w:?}");
        }
    }
    // Refused bookings left no trace: one customer per successful phone.
    let customers = app
        .gql(Some(&t), "{ customers { totalCount } }", json!({}))
        .await;
    assert_eq!(
        customers["customers"]["totalCount"],
        successes.lock().unwrap().len()
    );
}

const HOLD: &str = "mutation($slug: String!, $input: HoldSlotInput!) { publicHoldSlot(tenantSlug: $slug, input: $input) { hold { id holdToken expiresAt staffMemberId } userErrors { code field } } }";

#[tokio::test]
async fn holds_block_others_expire_and_convert_into_bookings() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("holds")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let staff = app
        .create_staff(t, "Solo", &every_day("09:00", "17:00"))
        .await;
    let day = next_weekday(Weekday::Tue, 2);
    let ten = local(NY, day, "10:00");
    let h = app
        .gql(None, HOLD, json!({"slug": owner.slug, "input": {"serviceId": service, "staffMemberId": staff, "startsAt": ten}}))
        .await;
    let hold = &h["publicHoldSlot"]["hold"];
    let token = hold["holdToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{h}"))
        .to_string();
    let expires = at(hold["expiresAt"].as_str().unwrap());
    assert!(
        expires > Utc::now() + Duration::minutes(4) && expires <= Utc::now() + Duration::minutes(5)
    );
    // Others cannot take it, and are told why.
    let other = app
        .public_book(&owner.slug, &service, &ten, Some(&staff), "+14155550350")
        .await;
    assert_eq!(other["userErrors"][0]["code"], "SLOT_UNAVAILABLE");
    assert_eq!(why(&app, t, &service, &ten, Some(&staff)).await, ["HELD"]);
    let again = app
        .gql(
            None,
            HOLD,
            json!({"slug": owner.slug, "input": {"serviceId": service, "startsAt": ten}}),
        )
        .await;
    assert_eq!(
        again["publicHoldSlot"]["userErrors"][0]["code"],
        "SLOT_UNAVAILABLE"
    );
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": staff, "f": day, "t": day}),
        )
        .await;
    assert!(!starts(&v).contains(&at(&ten)));
    // The holder books it with the token; the hold is gone afterwards.
    let booked = app
        .gql(
            None,
            PUBLIC_BOOK_KEY,
            json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": ten, "customer": {"name": "Holder", "phone": "+14155550351"}, "holdToken": token}}),
        )
        .await;
    assert!(
        booked["publicCreateBooking"]["booking"].is_object(),
        "{booked}"
    );
    let release = "mutation($slug: String!, $tok: String!) { publicReleaseHold(tenantSlug: $slug, holdToken: $tok) { userErrors { code } } }";
    let gone = app
        .gql(None, release, json!({"slug": owner.slug, "tok": token}))
        .await;
    assert_eq!(
        gone["publicReleaseHold"]["userErrors"][0]["code"],
        "HOLD_EXPIRED"
    );
    let reuse = app
        .gql(None, PUBLIC_BOOK_KEY, json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": local(NY, day, "12:00"), "customer": {"name": "Holder", "phone": "+14155550351"}, "holdToken": token}}))
        .await;
    assert_eq!(
        reuse["publicCreateBooking"]["userErrors"][0]["code"],
        "HOLD_EXPIRED"
    );

    // A hold that lapses frees the slot by itself.
    let noon = local(NY, day, "13:00");
    let h = app
        .gql(None, HOLD, json!({"slug": owner.slug, "input": {"serviceId": service, "startsAt": noon, "ttlMinutes": 1}}))
        .await;
    assert!(h["publicHoldSlot"]["hold"].is_object(), "{h}");
    let tenant: uuid::Uuid = owner.tenant_id.parse().unwrap();
    let tx = app.state.db.write(tenant).await.unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    entities::slot_hold::Entity::update_many()
        .col_expr(
            entities::slot_hold::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::seconds(1)),
        )
        .filter(entities::slot_hold::Column::TenantId.eq(tenant))
        .exec(&*tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after = app
        .public_book(&owner.slug, &service, &noon, Some(&staff), "+14155550352")
        .await;
    assert!(
        after["booking"].is_object(),
        "expired hold blocks nothing: {after}"
    );
    let bad = app
        .gql(None, HOLD, json!({"slug": owner.slug, "input": {"serviceId": service, "startsAt": local(NY, day, "15:00"), "ttlMinutes": 90}}))
        .await;
    assert_eq!(
        bad["publicHoldSlot"]["userErrors"][0]["code"],
        "INVALID_INPUT"
    );
}

#[tokio::test]
async fn any_staff_assignment_follows_the_tenant_policy_and_is_explained() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("assign")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 30).await;
    let mut staff = Vec::new();
    for name in ["A", "B", "C"] {
        staff.push(
            app.create_staff(t, name, &every_day("09:00", "17:00"))
                .await,
        );
    }
    staff.sort(); // ties break by id
    let day = next_weekday(Weekday::Wed, 2);
    let book = |time: &'static str, phone: &'static str| {
        let (app, owner, service) = (&app, &owner, &service);
        async move {
            let r = app
                .public_book(&owner.slug, service, &local(NY, day, time), None, phone)
                .await;
            let id = r["booking"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string();
            let b = app
                .gql(
                    Some(&owner.token),
                    "query($id: ID!) { booking(id: $id) { staffMember { id } assignmentReason } }",
                    json!({"id": id}),
                )
                .await;
            (
                b["booking"]["staffMember"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                b["booking"]["assignmentReason"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        }
    };
    // Least busy (default): fewest bookings that day, ties by id.
    let (s1, why1) = book("09:00", "+14155550360").await;
    assert_eq!(s1, staff[0]);
    assert!(why1.contains("least busy"), "{why1}");
    let (s2, _) = book("11:00", "+14155550361").await;
    assert_eq!(s2, staff[1]);
    let (s3, _) = book("13:00", "+14155550362").await;
    assert_eq!(s3, staff[2]);
    // Round robin: least recently booked first.
    app.gql(Some(t), "mutation { updateBookingPolicy(input: {assignmentPolicy: ROUND_ROBIN}) { tenant { assignmentPolicy } } }", json!({}))
        .await;
    let (r1, why) = book("15:00", "+14155550363").await;
    assert_eq!(r1, staff[0], "A was booked longest ago");
    assert!(why.contains("round robin"), "{why}");
    let (r2, _) = book("15:30", "+14155550364").await;
    assert_eq!(r2, staff[1]);
    let (r3, _) = book("16:00", "+14155550365").await;
    assert_eq!(r3, staff[2]);
}

const RECUR: &str = "mutation($input: CreateRecurringBookingInput!) { createRecurringBooking(input: $input) { seriesId bookedCount occurrences { startsAt booking { id seriesId } userErrors { code } } userErrors { code field } } }";

#[tokio::test]
async fn recurring_bookings_check_every_occurrence() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("recur")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let staff = app.create_staff(t, "S", &every_day("09:00", "17:00")).await;
    let customer = app.create_customer(t, "Weekly Wash", "+14155550370").await;
    let first = next_weekday(Weekday::Mon, 2);
    let third = first + Duration::days(14);
    let taken = app
        .book(t, &service, &staff, &customer, &local(NY, third, "10:00"))
        .await;
    assert!(taken["booking"].is_object());
    let set = "mutation($input: AvailabilityOverrideInput!) { setAvailabilityOverride(input: $input) { userErrors { code } } }";
    app.gql(
        Some(t),
        set,
        json!({"input": {"date": first + Duration::days(28), "note": "holiday"}}),
    )
    .await;
    let input = |all: bool| json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, first, "10:00"), "recurrence": "FREQ=WEEKLY;COUNT=6", "customerId": customer, "allOrNothing": all}});
    // All or nothing: refused as a whole, nothing booked.
    let none = app.gql(Some(t), RECUR, input(true)).await["createRecurringBooking"].clone();
    assert_eq!(none["userErrors"][0]["code"], "SERIES_INCOMPLETE");
    assert_eq!(none["bookedCount"], 0);
    let count = app
        .gql(Some(t), "{ bookings { totalCount } }", json!({}))
        .await;
    assert_eq!(count["bookings"]["totalCount"], 1);
    // Best effort: books what it can and says why not for the rest.
    let p = app.gql(Some(t), RECUR, input(false)).await["createRecurringBooking"].clone();
    assert_eq!(p["bookedCount"], 4, "{p}");
    let occ = p["occurrences"].as_array().unwrap();
    assert_eq!(occ.len(), 6);
    assert_eq!(occ[2]["userErrors"][0]["code"], "SLOT_UNAVAILABLE");
    assert_eq!(occ[4]["userErrors"][0]["code"], "OUTSIDE_WORKING_HOURS");
    for (i, o) in occ.iter().enumerate() {
        let expected = at(&local(NY, first + Duration::days(7 * i as i64), "10:00"));
        assert_eq!(
            at(o["startsAt"].as_str().unwrap()),
            expected,
            "wall-clock 10:00 every week"
        );
        if o["booking"].is_object() {
            assert_eq!(o["booking"]["seriesId"], p["seriesId"]);
        }
    }
    let bad = app
        .gql(Some(t), RECUR, json!({"input": {"serviceId": service, "startsAt": local(NY, first, "10:00"), "recurrence": "FREQ=WEEKLY", "customerId": customer}}))
        .await;
    assert_eq!(
        bad["createRecurringBooking"]["userErrors"][0]["code"],
        "INVALID_INPUT"
    );
    let count = app
        .gql(Some(t), "{ bookings { totalCount } }", json!({}))
        .await;
    assert_eq!(count["bookings"]["totalCount"], 5);
}

#[tokio::test]
async fn mobile_bookings_respect_service_areas_and_travel_time() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("mobile")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let weekly: Vec<Value> = every_day("08:00", "18:00")
        .iter()
        .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
        .collect();
    // Towson, MD (shared/data/geo): home base and a 25 km service area.
    let created = app
        .gql(
            Some(t),
            "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id homeBase { latitude } serviceArea { radiusKm } } userErrors { code field } } }",
            json!({"input": {"name": "Van 1", "weeklyHours": weekly, "homeBase": {"latitude": 39.4015, "longitude": -76.6019}, "serviceArea": {"latitude": 39.4015, "longitude": -76.6019, "radiusKm": 25.0}}}),
        )
        .await;
    let staff = created["createStaffMember"]["staffMember"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        created["createStaffMember"]["staffMember"]["serviceArea"]["radiusKm"],
        25.0
    );
    let day = next_weekday(Weekday::Wed, 2);
    let near = json!({"latitude": 39.4143, "longitude": -76.5966}); // ~1.5 km away
    let north = json!({"latitude": 39.5815, "longitude": -76.6019}); // ~20 km north
    let far = json!({"latitude": 39.2904, "longitude": -76.0}); // ~53 km east
    let why_at = |time: &'static str, loc: Value| {
        let (app, service, staff) = (&app, &service, &staff);
        async move {
            let v = app
                .gql(
                    Some(t),
                    "query($s: ID!, $t: DateTime!, $st: ID, $l: GeoInput) { whyNotAvailable(serviceId: $s, startsAt: $t, staffMemberId: $st, location: $l) { staff { reasons } } }",
                    json!({"s": service, "t": local(NY, day, time), "st": staff, "l": loc}),
                )
                .await;
            v["whyNotAvailable"]["staff"][0]["reasons"].clone()
        }
    };
    assert_eq!(
        why_at("10:00", far.clone()).await,
        json!(["OUTSIDE_SERVICE_AREA"])
    );
    let refused = app
        .gql(
            Some(t),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { code } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, "10:00"), "customer": {"name": "Far", "phone": "+14155550380"}, "location": far}}),
        )
        .await;
    assert_eq!(
        refused["createBooking"]["userErrors"][0]["code"],
        "OUTSIDE_SERVICE_AREA"
    );
    // Book a job near home at 10:00; a job 20 km north cannot start right after it.
    let booked = app
        .gql(
            Some(t),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id latitude longitude } userErrors { code } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, "10:00"), "customer": {"name": "Near", "phone": "+14155550381"}, "location": near}}),
        )
        .await;
    assert_eq!(
        booked["createBooking"]["booking"]["latitude"], 39.4143,
        "{booked}"
    );
    assert_eq!(why_at("11:00", north.clone()).await, json!(["TRAVEL"]));
    assert_eq!(
        why_at("11:00", near.clone()).await,
        json!([]),
        "same place: no travel"
    );
    let slots = app
        .gql(
            Some(t),
            "query($s: ID!, $st: ID, $f: NaiveDate!, $l: GeoInput) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $f, location: $l) { startsAt } }",
            json!({"s": service, "st": staff, "f": day, "l": north}),
        )
        .await;
    let first_after = starts(&slots)
        .into_iter()
        .find(|s| *s >= at(&local(NY, day, "11:00")))
        .unwrap();
    assert_eq!(
        first_after,
        at(&local(NY, day, "11:45")),
        "11:00 + about 40 minutes of driving"
    );
    let public = app
        .gql(
            None,
            "query($slug: String!, $s: ID!, $f: NaiveDate!, $l: GeoInput) { publicAvailableSlots(tenantSlug: $slug, serviceId: $s, from: $f, to: $f, location: $l) { startsAt } }",
            json!({"slug": owner.slug, "s": service, "f": day, "l": far}),
        )
        .await;
    assert_eq!(public["publicAvailableSlots"], json!([]));
}

#[tokio::test]
async fn add_ons_and_several_services_add_up_in_one_visit() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("addons")).await;
    let t = owner.token.as_str();
    let wash = service_with(
        &app,
        t,
        json!({"name": "Wash", "durationMinutes": 60, "priceCents": 5000}),
    )
    .await;
    let interior = service_with(
        &app,
        t,
        json!({"name": "Interior", "durationMinutes": 90, "priceCents": 8000}),
    )
    .await;
    let addon = "mutation($s: ID!, $input: ServiceAddonInput!) { createServiceAddon(serviceId: $s, input: $input) { addon { id } userErrors { code } } }";
    let pet = app.gql(Some(t), addon, json!({"s": interior, "input": {"name": "Pet hair", "durationMinutes": 30, "priceCents": 4000}})).await;
    let pet = pet["createServiceAddon"]["addon"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let wax = app
        .gql(
            Some(t),
            addon,
            json!({"s": wash, "input": {"name": "Wax", "durationMinutes": 15, "priceCents": 1500}}),
        )
        .await;
    let wax = wax["createServiceAddon"]["addon"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = app
        .gql(
            Some(t),
            "query($s: ID!) { service(id: $s) { addons { name durationMinutes } } }",
            json!({"s": interior}),
        )
        .await;
    assert_eq!(
        listed["service"]["addons"],
        json!([{"name": "Pet hair", "durationMinutes": 30}])
    );
    let a = app.create_staff(t, "A", &every_day("09:00", "17:00")).await;
    let b = app.create_staff(t, "B", &every_day("09:00", "17:00")).await;
    // A does both services; B only washes.
    let assign = "mutation($st: ID!, $s: [StaffServiceInput!]!) { setStaffServices(staffMemberId: $st, services: $s) { userErrors { code } } }";
    app.gql(
        Some(t),
        assign,
        json!({"st": a, "s": [{"serviceId": wash}, {"serviceId": interior}]}),
    )
    .await;
    app.gql(
        Some(t),
        assign,
        json!({"st": b, "s": [{"serviceId": wash}]}),
    )
    .await;
    let day = next_weekday(Weekday::Thu, 2);
    let v = app
        .gql(
            Some(t),
            "query($s: ID!, $f: NaiveDate!, $x: [ID!], $ad: [ID!]) { availableSlots(serviceId: $s, from: $f, to: $f, additionalServiceIds: $x, addonIds: $ad) { startsAt endsAt staffMemberIds } }",
            json!({"s": wash, "f": day, "x": [interior], "ad": [pet]}),
        )
        .await;
    let slots = v["availableSlots"].as_array().unwrap();
    assert_eq!(slots.len(), 21, "09:00 … 14:00 for a 3-hour visit");
    assert!(
        slots.iter().all(|s| s["staffMemberIds"] == json!([a])),
        "only A does both"
    );
    let first = &slots[0];
    assert_eq!(
        at(first["endsAt"].as_str().unwrap()) - at(first["startsAt"].as_str().unwrap()),
        Duration::minutes(180)
    );
    let book = "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id priceCents } userErrors { code field } } }";
    let r = app
        .gql(None, book, json!({"input": {"tenantSlug": owner.slug, "serviceId": wash, "startsAt": local(NY, day, "09:00"), "customer": {"name": "Full", "phone": "+14155550390"}, "additionalServiceIds": [interior], "addonIds": [pet]}}))
        .await;
    assert_eq!(
        r["publicCreateBooking"]["booking"]["priceCents"], 17000,
        "{r}"
    );
    let id = r["publicCreateBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = "query($id: ID!) { booking(id: $id) { startsAt endsAt durationMinutes staffMember { id } items { name durationMinutes priceCents } } }";
    let got = app.gql(Some(t), q, json!({"id": id})).await;
    assert_eq!(got["booking"]["durationMinutes"], 180);
    assert_eq!(got["booking"]["staffMember"]["id"], a.as_str());
    assert_eq!(
        got["booking"]["items"],
        json!([
            {"name": "Wash", "durationMinutes": 60, "priceCents": 5000},
            {"name": "Interior", "durationMinutes": 90, "priceCents": 8000},
            {"name": "Pet hair", "durationMinutes": 30, "priceCents": 4000}
        ])
    );
    // Moving the visit keeps its length.
    let moved = app
        .gql(Some(t), "mutation($id: ID!, $t: DateTime!) { rescheduleBooking(id: $id, startsAt: $t) { booking { durationMinutes } userErrors { code } } }", json!({"id": id, "t": local(NY, day, "13:00")}))
        .await;
    assert_eq!(
        moved["rescheduleBooking"]["booking"]["durationMinutes"], 180,
        "{moved}"
    );
    // An add-on of a service that is not booked is refused.
    let wrong = app
        .gql(None, book, json!({"input": {"tenantSlug": owner.slug, "serviceId": interior, "startsAt": local(NY, day, "09:00"), "customer": {"name": "X", "phone": "+14155550391"}, "addonIds": [wax]}}))
        .await;
    assert_eq!(
        wrong["publicCreateBooking"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    assert_eq!(
        wrong["publicCreateBooking"]["userErrors"][0]["field"],
        json!(["input", "addonIds"])
    );
}

#[tokio::test]
async fn voice_agents_book_reschedule_and_cancel_under_customer_rules() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("agent")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let staff = app.create_staff(t, "S", &every_day("09:00", "17:00")).await;
    let created = app
        .gql(Some(t), "mutation { createAgentKey(name: \"Phone assistant\") { key agentKey { id keyPrefix } userErrors { code } } }", json!({}))
        .await;
    let key = created["createAgentKey"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = created["createAgentKey"]["agentKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        key.starts_with(
            created["createAgentKey"]["agentKey"]["keyPrefix"]
                .as_str()
                .unwrap()
        )
    );
    let listed = app
        .gql(Some(t), "{ agentKeys { name revokedAt } }", json!({}))
        .await;
    assert_eq!(
        listed["agentKeys"],
        json!([{"name": "Phone assistant", "revokedAt": null}])
    );
    let k = Some(key.as_str());
    // The agent finds slots and books for a caller: source AGENT, grid enforced.
    let day = Utc::now().with_timezone(&NY).date_naive() + Duration::days(4);
    let create = "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id source } userErrors { code } } }";
    let off_grid = app
        .gql(k, create, json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, "10:05"), "customer": {"name": "Caller", "phone": "+14155550400"}}}))
        .await;
    assert_eq!(
        off_grid["createBooking"]["userErrors"][0]["code"],
        "NOT_ON_SLOT_GRID"
    );
    let booked = app
        .gql(k, create, json!({"input": {"serviceId": service, "startsAt": local(NY, day, "10:00"), "customer": {"name": "Caller", "phone": "+14155550400"}, "idempotencyKey": "call-1/tool-3"}}))
        .await;
    assert_eq!(
        booked["createBooking"]["booking"]["source"], "AGENT",
        "{booked}"
    );
    let id = booked["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = app
        .gql(
            k,
            "{ customers(search: \"0400\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(found["customers"]["totalCount"], 1);
    // Under the cancellation policy, like the customer would be.
    app.gql(Some(t), "mutation { updateBookingPolicy(input: {cancellationNoticeHours: 168}) { userErrors { code } } }", json!({})).await;
    let resched = "mutation($id: ID!, $t: DateTime!) { rescheduleBooking(id: $id, startsAt: $t) { booking { startsAt } userErrors { code } } }";
    let late = app
        .gql(k, resched, json!({"id": id, "t": local(NY, day, "12:00")}))
        .await;
    assert_eq!(
        late["rescheduleBooking"]["userErrors"][0]["code"],
        "CANCELLATION_WINDOW_PASSED"
    );
    let cancel =
        "mutation($id: ID!) { cancelBooking(id: $id) { booking { status } userErrors { code } } }";
    let no = app.gql(k, cancel, json!({"id": id})).await;
    assert_eq!(
        no["cancelBooking"]["userErrors"][0]["code"],
        "CANCELLATION_WINDOW_PASSED"
    );
    app.gql(Some(t), "mutation { updateBookingPolicy(input: {cancellationNoticeHours: 2}) { userErrors { code } } }", json!({})).await;
    let moved = app
        .gql(k, resched, json!({"id": id, "t": local(NY, day, "12:00")}))
        .await;
    assert_eq!(
        at(moved["rescheduleBooking"]["booking"]["startsAt"]
            .as_str()
            .unwrap()),
        at(&local(NY, day, "12:00"))
    );
    let done = app.gql(k, cancel, json!({"id": id})).await;
    assert_eq!(done["cancelBooking"]["booking"]["status"], "CANCELED");
    // Agents do not run the business.
    assert_eq!(
        app.gql_error_code(k, "mutation { createService(input: {name: \"X\", durationMinutes: 30, priceCents: 1}) { userErrors { code } } }", json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(k, "{ agentKeys { name } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    // Revoked keys stop working at once; forged ones never did.
    app.gql(
        Some(t),
        "mutation($id: ID!) { revokeAgentKey(id: $id) { revokedAt } }",
        json!({"id": key_id}),
    )
    .await;
    let (status, _) = app.post(k, "{ bookings { totalCount } }", json!({})).await;
    assert_eq!(status, 401);
    let forged = format!(
        "sgk_{}_{}",
        owner.tenant_id.replace('-', ""),
        "A".repeat(43)
    );
    let (status, _) = app
        .post(Some(&forged), "{ bookings { totalCount } }", json!({}))
        .await;
    assert_eq!(status, 401);
}
