//! Team dispatch (issue 11): `dispatchDay` / `applyDispatch` — who does which booking.
//! The last test plans 6 staff members and 60 bookings on real Towson, MD addresses
//! (`../shared/data/geo/`, else the same file shipped in `routing/tests/data/geo/`,
//! public domain) and prints the team's drive against the booking order and a
//! nearest-neighbour baseline.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use serde_json::{Value, json};

use crate::helpers::{Owner, TestApp, every_day, local, next_weekday, slug, spawn_app};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// About 8.6 km east and west of central Towson.
const EAST: (f64, f64) = (39.4015, -76.5019);
const WEST: (f64, f64) = (39.4015, -76.7019);

const DISPATCH: &str = "query($d: NaiveDate!, $w: Int) { dispatchDay(date: $d, arrivalWindowMinutes: $w) { date token summary savedMinutes savedKilometres travelSource unlocatedBookingIds proposed { driveSeconds kilometres } current { driveSeconds kilometres } moves { booking { id } fromStaffMemberId toStaffMemberId } unplanned { booking { id } reason } routes { staffMember { id name } proposed { driveSeconds } current { driveSeconds } stops { position plannedArrivalAt plannedDepartureAt windowStart windowEnd driveMinutes booking { id startsAt endsAt service { id } } } } } }";

const APPLY: &str = "mutation($d: NaiveDate!, $t: String!, $w: Int) { applyDispatch(date: $d, token: $t, arrivalWindowMinutes: $w) { plan { token moves { booking { id } toStaffMemberId } } userErrors { code message } } }";

/// A staff member working `hours` every day, home base at `home` (or none).
async fn staff(
    app: &TestApp,
    token: &str,
    name: &str,
    hours: (&'static str, &'static str),
    home: Option<(f64, f64)>,
) -> String {
    let weekly: Vec<Value> = every_day(hours.0, hours.1)
        .iter()
        .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
        .collect();
    let mut input = json!({"name": name, "weeklyHours": weekly});
    if let Some((lat, lng)) = home {
        input["homeBase"] = json!({"latitude": lat, "longitude": lng});
    }
    let created = app
        .gql(
            Some(token),
            "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { code field } } }",
            json!({ "input": input }),
        )
        .await;
    created["createStaffMember"]["staffMember"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string()
}

async fn set_home(app: &TestApp, token: &str, staff: &str, at: (f64, f64)) {
    let v = app
        .gql(
            Some(token),
            "mutation($id: ID!, $input: UpdateStaffMemberInput!) { updateStaffMember(id: $id, input: $input) { userErrors { code } } }",
            json!({"id": staff, "input": {"homeBase": {"latitude": at.0, "longitude": at.1}}}),
        )
        .await;
    assert_eq!(v["updateStaffMember"]["userErrors"], json!([]), "{v}");
}

/// Books `service` at local `time` on `day` at `at`, with `staff` or (None) whoever the
/// system assigns; returns the booking (id, staff member id) or the refusal code.
#[allow(clippy::too_many_arguments)]
async fn book(
    app: &TestApp,
    token: &str,
    service: &str,
    staff: Option<&str>,
    day: NaiveDate,
    time: &str,
    at: (f64, f64),
    phone: &str,
) -> Result<(String, String), String> {
    let v = app
        .gql(
            Some(token),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id staffMember { id } } userErrors { code message } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, time), "customer": {"name": format!("Customer {phone}"), "phone": phone}, "location": {"latitude": at.0, "longitude": at.1}}}),
        )
        .await;
    let b = &v["createBooking"]["booking"];
    match (b["id"].as_str(), b["staffMember"]["id"].as_str()) {
        (Some(id), Some(s)) => Ok((id.to_string(), s.to_string())),
        _ => Err(v["createBooking"]["userErrors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()),
    }
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an instant: {v}"))
        .with_timezone(&Utc)
}

async fn staff_of(app: &TestApp, token: &str, booking: &str) -> (String, Value) {
    let v = app
        .gql(
            Some(token),
            "query($id: ID!) { booking(id: $id) { staffMember { id } assignmentReason plannedArrivalAt routePosition } }",
            json!({ "id": booking }),
        )
        .await;
    (
        v["booking"]["staffMember"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string(),
        v["booking"].clone(),
    )
}

/// Checks a plan independently of the solver: every booking exactly once (a route or
/// unplanned), arrivals inside their windows and working hours `open`–`close`, legs in
/// order with time to drive, no two overlapping bookings on one staff member, and
/// `allowed(booking, staff)` for every placement.
fn assert_feasible(
    plan: &Value,
    bookings: &[String],
    open: DateTime<Utc>,
    close: DateTime<Utc>,
    allowed: impl Fn(&Value, &str) -> bool,
) {
    let mut seen: Vec<String> = Vec::new();
    for r in plan["routes"].as_array().unwrap() {
        let staff = r["staffMember"]["id"].as_str().unwrap();
        let mut last_departure: Option<DateTime<Utc>> = None;
        let mut booked: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for s in r["stops"].as_array().unwrap() {
            let b = &s["booking"];
            seen.push(b["id"].as_str().unwrap().to_string());
            assert!(allowed(b, staff), "{s} may not go to {staff}");
            let (arrival, departure) = (
                instant(&s["plannedArrivalAt"]),
                instant(&s["plannedDepartureAt"]),
            );
            assert!(
                instant(&s["windowStart"]) <= arrival && arrival <= instant(&s["windowEnd"]),
                "arrival outside the window: {s}"
            );
            assert_eq!(instant(&s["windowStart"]), instant(&b["startsAt"]), "{s}");
            assert!(arrival >= open && departure <= close, "outside hours: {s}");
            let length = instant(&b["endsAt"]) - instant(&b["startsAt"]);
            assert_eq!(departure - arrival, length, "{s}");
            if let Some(prev) = last_departure {
                // Drive minutes are rounded: allow 30 s.
                let drive = Duration::seconds(s["driveMinutes"].as_i64().unwrap() * 60 - 30);
                assert!(arrival >= prev + drive, "no time to drive: {s}");
            }
            last_departure = Some(departure);
            booked.push((instant(&b["startsAt"]), instant(&b["endsAt"])));
        }
        booked.sort();
        for w in booked.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlapping bookings on {staff}: {w:?}");
        }
    }
    for u in plan["unplanned"].as_array().unwrap() {
        seen.push(u["booking"]["id"].as_str().unwrap().to_string());
    }
    seen.sort();
    let mut want = bookings.to_vec();
    want.sort();
    assert_eq!(seen, want, "every booking exactly once");
}

/// Two staff members with bookings at the same times on the wrong side of town: the plan
/// swaps them (one transaction, which PostgreSQL's deferred overlap check allows), keeps
/// the booking whose staff member was chosen by hand, and never gives a booking to the
/// staff member who does not perform its service.
#[tokio::test]
async fn dispatch_swaps_auto_assigned_bookings_to_the_staff_member_next_door_and_keeps_the_rest() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("dispatch")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let a = staff(&app, t, "Avery", ("08:00", "18:00"), None).await;
    let b = staff(&app, t, "Blake", ("08:00", "18:00"), None).await;
    // Right in the middle, but performs another service only.
    let other = app.create_service(t, 30).await;
    let c = staff(
        &app,
        t,
        "Casey",
        ("08:00", "18:00"),
        Some((39.4015, -76.6019)),
    )
    .await;
    for (s, svc) in [(&a, &service), (&b, &service), (&c, &other)] {
        let v = app
            .gql(
                Some(t),
                "mutation($st: ID!, $services: [StaffServiceInput!]!) { setStaffServices(staffMemberId: $st, services: $services) { userErrors { code } } }",
                json!({"st": s, "services": [{"serviceId": svc}]}),
            )
            .await;
        assert_eq!(v["setStaffServices"]["userErrors"], json!([]), "{v}");
    }
    let day = next_weekday(Weekday::Tue, 2);
    // Auto-assigned at 09:00 (one each), 11:00 (one each), and one chosen by hand.
    let mut auto = Vec::new();
    for (i, (time, at)) in [
        ("09:00", EAST),
        ("09:00", WEST),
        ("11:00", EAST),
        ("11:00", WEST),
    ]
    .into_iter()
    .enumerate()
    {
        auto.push(
            book(
                &app,
                t,
                &service,
                None,
                day,
                time,
                at,
                &format!("+1415555071{i}"),
            )
            .await
            .unwrap(),
        );
    }
    let by_hand = book(
        &app,
        t,
        &service,
        Some(&a),
        day,
        "14:00",
        WEST,
        "+14155550719",
    )
    .await
    .unwrap();
    // Each home base goes where the other staff member's bookings are.
    let east_owner = auto[0].1.clone();
    let west_owner = auto[1].1.clone();
    assert_ne!(east_owner, west_owner, "least busy spreads the 09:00 pair");
    set_home(&app, t, &east_owner, WEST).await;
    set_home(&app, t, &west_owner, EAST).await;

    let v = app.gql(Some(t), DISPATCH, json!({"d": day, "w": 0})).await;
    let plan = &v["dispatchDay"];
    let ids: Vec<String> = auto
        .iter()
        .map(|(id, _)| id.clone())
        .chain([by_hand.0.clone()])
        .collect();
    let (open, close) = (
        instant(&json!(local(NY, day, "08:00"))),
        instant(&json!(local(NY, day, "18:00"))),
    );
    assert_feasible(plan, &ids, open, close, |b, s| {
        b["service"]["id"] == service.as_str() && s != c || b["service"]["id"] == other.as_str()
    });
    assert_eq!(plan["unplanned"], json!([]), "{plan}");
    let moves = plan["moves"].as_array().unwrap();
    assert!(moves.len() >= 2, "{plan}");
    assert!(
        moves
            .iter()
            .all(|m| m["booking"]["id"] != by_hand.0.as_str()),
        "a booking whose staff member was chosen by hand stays: {plan}"
    );
    let proposed = plan["proposed"]["driveSeconds"].as_i64().unwrap();
    let current = plan["current"]["driveSeconds"].as_i64().unwrap();
    assert!(proposed < current, "{plan}");
    assert!(
        plan["summary"].as_str().unwrap().starts_with("saves "),
        "{plan}"
    );

    let token = plan["token"].as_str().unwrap();
    let applied = app
        .gql(Some(t), APPLY, json!({"d": day, "t": token, "w": 0}))
        .await;
    assert_eq!(
        applied["applyDispatch"]["userErrors"],
        json!([]),
        "{applied}"
    );
    for m in moves {
        let (now, row) = staff_of(&app, t, m["booking"]["id"].as_str().unwrap()).await;
        assert_eq!(now, m["toStaffMemberId"].as_str().unwrap(), "{row}");
        assert!(
            row["assignmentReason"]
                .as_str()
                .unwrap()
                .starts_with("dispatched by applyDispatch"),
            "{row}"
        );
        assert!(row["routePosition"].is_i64(), "{row}");
    }
    // East bookings now belong to the staff member living east.
    for (id, _) in auto.iter().step_by(2) {
        assert_eq!(staff_of(&app, t, id).await.0, west_owner);
    }
    assert_eq!(staff_of(&app, t, &by_hand.0).await.0, a);
    // Planning again proposes nothing more to move.
    let again = app.gql(Some(t), DISPATCH, json!({"d": day, "w": 0})).await;
    assert_eq!(again["dispatchDay"]["moves"], json!([]), "{again}");
}

/// A plan goes stale when the day changes, and then nothing is applied; only owners
/// and managers dispatch; sizes are bounded.
#[tokio::test]
async fn a_stale_dispatch_plan_changes_nothing_and_technicians_may_not_dispatch() {
    let app = spawn_app().await;
    let owner: Owner = app.sign_up(&slug("stale")).await;
    let t = owner.token.as_str();
    let service = app.create_service(t, 60).await;
    let a = staff(&app, t, "Avery", ("08:00", "18:00"), Some(WEST)).await;
    let _b = staff(&app, t, "Blake", ("08:00", "18:00"), Some(EAST)).await;
    let day = next_weekday(Weekday::Thu, 2);
    let first = book(&app, t, &service, None, day, "09:00", EAST, "+14155550720")
        .await
        .unwrap();
    let v = app.gql(Some(t), DISPATCH, json!({"d": day, "w": 0})).await;
    let token = v["dispatchDay"]["token"].as_str().unwrap().to_string();
    book(
        &app,
        t,
        &service,
        Some(&a),
        day,
        "13:00",
        WEST,
        "+14155550721",
    )
    .await
    .unwrap();
    let refused = app
        .gql(Some(t), APPLY, json!({"d": day, "t": token, "w": 0}))
        .await;
    assert_eq!(
        refused["applyDispatch"]["userErrors"][0]["code"], "STALE_PLAN",
        "{refused}"
    );
    assert_eq!(refused["applyDispatch"]["plan"], Value::Null);
    let (now, row) = staff_of(&app, t, &first.0).await;
    assert_eq!(now, first.1, "nothing moved");
    assert_eq!(row["routePosition"], Value::Null);
    // A made-up token is stale too.
    let made_up = app
        .gql(
            Some(t),
            APPLY,
            json!({"d": day, "t": "0".repeat(64), "w": 0}),
        )
        .await;
    assert_eq!(
        made_up["applyDispatch"]["userErrors"][0]["code"],
        "STALE_PLAN"
    );
    // Window bounds.
    for w in [-1, 1441] {
        assert_eq!(
            app.gql_error_code(Some(t), DISPATCH, json!({"d": day, "w": w}))
                .await,
            "BAD_USER_INPUT"
        );
    }
    // Technicians plan their own route, not the team's.
    let (_, tech) = app
        .create_user(&owner, "tech@stale.example.com", "TECHNICIAN")
        .await;
    assert_eq!(
        app.gql_error_code(Some(&tech), DISPATCH, json!({"d": day, "w": 0}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(
            Some(&tech),
            APPLY,
            json!({"d": day, "t": "0".repeat(64), "w": 0})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(None, DISPATCH, json!({"d": day, "w": 0}))
            .await,
        "UNAUTHENTICATED"
    );
    // Another tenant sees none of this tenant's bookings in its plan.
    let other = app.sign_up(&slug("stale2")).await;
    let theirs = app
        .gql(Some(&other.token), DISPATCH, json!({"d": day, "w": 0}))
        .await;
    assert_eq!(theirs["dispatchDay"]["routes"], json!([]), "{theirs}");
}

/// The real addresses: Towson, MD (Baltimore County address points, public domain).
fn towson_points() -> Vec<(f64, f64)> {
    let shared = std::path::Path::new("../shared/data/geo/towson_md_address_points.csv");
    let sample = std::path::Path::new("routing/tests/data/geo/towson_md_address_points.csv");
    let text = std::fs::read_to_string(shared)
        .or_else(|_| std::fs::read_to_string(sample))
        .expect("Towson address points");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (lat, lng) = (col("latitude"), col("longitude"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(lat)?.parse().ok()?, f.get(lng)?.parse().ok()?))
        })
        .collect()
}

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Drive seconds of the built-in estimate (great circle × 1.3 ÷ 40 km/h, the tenant
/// defaults) between two points.
fn drive(a: (f64, f64), b: (f64, f64)) -> i64 {
    let (d, _) = ::routing::geo::estimate_matrices(
        &[a, b],
        ::routing::geo::DEFAULT_DETOUR,
        ::routing::geo::DEFAULT_SPEED_KMH,
    );
    d.get(0, 1)
}

/// A booking of the Towson day, for the baseline.
struct Visit {
    id: String,
    at: (f64, f64),
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ceramic: bool,
}

/// Solomon's time-oriented nearest neighbour, all staff members in parallel: bookings
/// by start; each goes to the qualified staff member who reaches it with the least drive
/// inside its arrival window, without overlapping their previous booking and finishing
/// by `close`. Returns total drive seconds (home to home) and how many found nobody.
fn nearest_neighbour(
    homes: &[(f64, f64)],
    ceramic_staff: usize,
    visits: &[Visit],
    window: Duration,
    open: DateTime<Utc>,
    close: DateTime<Utc>,
) -> (i64, usize) {
    let mut at: Vec<(f64, f64)> = homes.to_vec();
    let mut free: Vec<DateTime<Utc>> = vec![open; homes.len()];
    let mut reserved_until: Vec<DateTime<Utc>> = vec![open; homes.len()];
    let (mut total, mut missed) = (0_i64, 0_usize);
    let mut order: Vec<&Visit> = visits.iter().collect();
    order.sort_by_key(|v| v.start);
    for v in order {
        let best = (0..homes.len())
            .filter(|s| !v.ceramic || *s < ceramic_staff)
            .filter_map(|s| {
                let d = drive(at[s], v.at);
                let arrival = (free[s] + Duration::seconds(d)).max(v.start);
                let ok = arrival <= v.start + window
                    && reserved_until[s] <= v.start
                    && arrival + (v.end - v.start) <= close;
                ok.then_some((d, s, arrival))
            })
            .min_by_key(|(d, s, _)| (*d, *s));
        match best {
            Some((d, s, arrival)) => {
                total += d;
                at[s] = v.at;
                free[s] = arrival + (v.end - v.start);
                reserved_until[s] = v.end;
            }
            None => missed += 1,
        }
    }
    for (s, home) in homes.iter().enumerate() {
        total += drive(at[s], *home);
    }
    (total, missed)
}

fn hm(seconds: i64) -> String {
    format!("{} h {:02} min", seconds / 3600, (seconds % 3600 + 30) / 60)
}

/// 6 staff members and 60 bookings on real addresses, booked "any staff member" the way
/// an office takes calls (the system assigns the least busy free one), then planned
/// with `dispatchDay`: every booking placed, the plan feasible by an independent check,
/// ceramic coatings only with the three staff members who do them, and less drive than
/// both the booking order and a nearest-neighbour baseline; applied in one transaction.
#[tokio::test]
async fn towson_six_staff_members_sixty_bookings_are_dispatched_feasibly_with_less_drive() {
    let app = spawn_app().await;
    let owner = app.sign_up_in(&slug("towson"), "America/New_York").await;
    let t = owner.token.as_str();
    let detail = app.create_service(t, 30).await;
    let ceramic = app.create_service(t, 90).await;
    let mut points = towson_points();
    assert!(points.len() >= 66, "{} points", points.len());
    let mut rng = Rng(20_261_203);
    for i in (1..points.len()).rev() {
        points.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let homes: Vec<(f64, f64)> = points[..6].to_vec();
    let mut team = Vec::new();
    for (k, home) in homes.iter().enumerate() {
        let s = staff(
            &app,
            t,
            &format!("Staff {}", k + 1),
            ("07:30", "18:30"),
            Some(*home),
        )
        .await;
        let mut services = vec![json!({"serviceId": detail})];
        if k < 3 {
            services.push(json!({"serviceId": ceramic}));
        }
        let v = app
            .gql(
                Some(t),
                "mutation($st: ID!, $services: [StaffServiceInput!]!) { setStaffServices(staffMemberId: $st, services: $services) { userErrors { code } } }",
                json!({"st": s, "services": services}),
            )
            .await;
        assert_eq!(v["setStaffServices"]["userErrors"], json!([]), "{v}");
        team.push(s);
    }
    let ceramic_staff: HashSet<String> = team[..3].iter().cloned().collect();
    let day = next_weekday(Weekday::Wed, 3);
    let open = instant(&json!(local(NY, day, "07:30")));
    let close = instant(&json!(local(NY, day, "18:30")));
    // 60 calls: a 30-minute detail (85%) or a 90-minute ceramic coating (15%), asked
    // for at a random quarter hour 08:00–17:00; when refused, the office offers the next
    // quarter hour, round the day.
    let mut visits: Vec<Visit> = Vec::new();
    let mut refused = 0;
    const STARTS: i64 = 37;
    for k in 0..60 {
        let at = points[6 + k];
        let is_ceramic = rng.below(100) < 15;
        let first = rng.below(STARTS as u64) as i64;
        let mut booked = None;
        for step in 0..STARTS {
            let minutes = 8 * 60 + ((first + step) % STARTS) * 15;
            let time = format!("{:02}:{:02}", minutes / 60, minutes % 60);
            let svc = if is_ceramic { &ceramic } else { &detail };
            let phone = format!("+1410555{:04}", 1000 + k);
            match book(&app, t, svc, None, day, &time, at, &phone).await {
                Ok((id, _)) => {
                    booked = Some((id, time));
                    break;
                }
                Err(_) => refused += 1,
            }
        }
        if let Some((id, time)) = booked {
            let start = instant(&json!(local(NY, day, &time)));
            let length = Duration::minutes(if is_ceramic { 90 } else { 30 });
            visits.push(Visit {
                id,
                at,
                start,
                end: start + length,
                ceramic: is_ceramic,
            });
        }
    }
    assert!(visits.len() >= 50, "only {} of 60 booked", visits.len());
    let ceramic_ids: HashSet<String> = visits
        .iter()
        .filter(|v| v.ceramic)
        .map(|v| v.id.clone())
        .collect();
    let ids: Vec<String> = visits.iter().map(|v| v.id.clone()).collect();

    let window = 120;
    let v = app
        .gql(Some(t), DISPATCH, json!({"d": day, "w": window}))
        .await;
    let plan = &v["dispatchDay"];
    assert_feasible(plan, &ids, open, close, |b, s| {
        !ceramic_ids.contains(b["id"].as_str().unwrap()) || ceramic_staff.contains(s)
    });
    assert_eq!(plan["unplanned"], json!([]), "{}", plan["unplanned"]);
    assert_eq!(plan["travelSource"], "ESTIMATE");
    let proposed = plan["proposed"]["driveSeconds"].as_i64().unwrap();
    let current = plan["current"]["driveSeconds"].as_i64().unwrap();
    let (nn, nn_missed) =
        nearest_neighbour(&homes, 3, &visits, Duration::minutes(window), open, close);
    let moves = plan["moves"].as_array().unwrap().len();
    println!(
        "Towson dispatchDay: {} bookings ({refused} refusals while booking), booking order {} · nearest neighbour {} ({nn_missed} unplaced) · dispatchDay {} ({moves} moves; {})",
        visits.len(),
        hm(current),
        hm(nn),
        hm(proposed),
        plan["summary"].as_str().unwrap()
    );
    assert!(proposed < current, "{}", plan["summary"]);
    assert!(
        proposed <= nn,
        "ours {proposed} s vs nearest neighbour {nn} s"
    );

    let applied = app
        .gql(
            Some(t),
            APPLY,
            json!({"d": day, "t": plan["token"], "w": window}),
        )
        .await;
    assert_eq!(
        applied["applyDispatch"]["userErrors"],
        json!([]),
        "{applied}"
    );
    // The database holds the plan: every booking with its planned staff member.
    let planned: HashMap<String, String> = plan["routes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let s = r["staffMember"]["id"].as_str().unwrap().to_string();
            r["stops"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |st| (st["booking"]["id"].as_str().unwrap().to_string(), s.clone()))
        })
        .collect();
    for id in ids.iter().take(12) {
        assert_eq!(staff_of(&app, t, id).await.0, planned[id]);
    }
}
