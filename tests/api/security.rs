//! Abuse tests of issue 15's "should fix" findings: anonymous callers cannot hold a
//! tenant's calendar hostage, cannot steer a booking to a stored customer's address,
//! cannot reuse another caller's idempotency key (see `scheduling.rs`), and cannot learn
//! whether an email has accounts from `logIn`; oversized strings, lists and prices are
//! refused; technicians read only their own home base; production refuses unsafe settings.

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

/// Issue 15, "small" and "Int is 32-bit": oversized strings, lists and amounts are refused
/// with a clear error, and nothing is written.
#[tokio::test]
async fn oversized_strings_lists_and_amounts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("big")).await;
    let t = Some(owner.token.as_str());

    // A 10,000-character business name (the body limit is 1 MiB): refused, no account.
    let s = slug("bigname");
    let email = format!("owner@{s}.example.com");
    let data = app
        .gql(
            None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken userErrors { field code } } }",
            json!({"input": {"businessName": "B".repeat(10_000), "slug": s, "timezone": "America/New_York", "email": email, "password": PASSWORD}}),
        )
        .await;
    assert!(data["signUp"]["accessToken"].is_null(), "{data}");
    assert_eq!(
        data["signUp"]["userErrors"][0]["field"],
        json!(["input", "businessName"]),
        "{data}"
    );
    assert!(app.log_in(&email, PASSWORD, None).await["accessToken"].is_null());

    // Prices: 99,999,999,999 (past 2^31 − 1) and $100,000.01 are both refused by the rule.
    let create = "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { field code } } }";
    for cents in [99_999_999_999_i64, 10_000_001] {
        let data = app
            .gql(
                t,
                create,
                json!({"input": {"name": "Huge", "durationMinutes": 30, "priceCents": cents}}),
            )
            .await;
        assert_eq!(data["createService"]["service"], Value::Null, "{data}");
        assert_eq!(
            data["createService"]["userErrors"][0]["field"],
            json!(["input", "priceCents"]),
            "{data}"
        );
    }
    let data = app.gql(t, "{ services { totalCount } }", json!({})).await;
    assert_eq!(data["services"]["totalCount"], 0, "{data}");

    // Bookings: more than 10 further services, a repeated id, 2,001-character notes.
    let service = app.create_service(&owner.token, 30).await;
    let staff = app
        .create_staff(&owner.token, "Sam", &every_day("08:00", "18:00"))
        .await;
    let customer = app
        .create_customer(&owner.token, "Cara", "+14155550111")
        .await;
    let day = next_weekday(chrono::Weekday::Wed, 2);
    let starts = local(NY, day, "10:00");
    let book = "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { field code } } }";
    let base = json!({"serviceId": service, "staffMemberId": staff, "customerId": customer, "startsAt": starts});
    let with = |extra: Value| {
        let mut input = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        json!({"input": input})
    };
    let eleven: Vec<String> = (0..11).map(|_| service.clone()).collect();
    assert_eq!(
        app.gql_error_code(t, book, with(json!({"additionalServiceIds": eleven})))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.gql_error_code(
            t,
            book,
            with(json!({"additionalServiceIds": [service, service]}))
        )
        .await,
        "BAD_USER_INPUT"
    );
    let data = app
        .gql(t, book, with(json!({"notes": "n".repeat(2001)})))
        .await;
    assert_eq!(data["createBooking"]["booking"], Value::Null, "{data}");
    assert_eq!(
        data["createBooking"]["userErrors"][0]["field"],
        json!(["input", "notes"]),
        "{data}"
    );
    let data = app.gql(t, "{ bookings { totalCount } }", json!({})).await;
    assert_eq!(data["bookings"]["totalCount"], 0, "{data}");

    // The control: the same booking within the bounds is made.
    let data = app
        .gql(t, book, with(json!({"notes": "n".repeat(2000)})))
        .await;
    assert!(data["createBooking"]["booking"]["id"].is_string(), "{data}");
}

/// Issue 15, "small": a technician reads the team but only its own home base (often a
/// home address); owners and managers read all of them.
#[tokio::test]
async fn technicians_read_only_their_own_home_base() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("home")).await;
    let weekly: Vec<Value> = every_day("08:00", "18:00")
        .iter()
        .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
        .collect();
    let create = "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { code } } }";
    let (tech_user, tech_token) = app
        .create_user(
            &owner,
            &format!("tech@{}.example.com", owner.slug),
            "TECHNICIAN",
        )
        .await;
    let (_, manager_token) = app
        .create_user(
            &owner,
            &format!("mgr@{}.example.com", owner.slug),
            "MANAGER",
        )
        .await;
    let mut ids = Vec::new();
    for (name, user, lat) in [
        ("Van 1", None, 39.40),
        ("Van 2", Some(tech_user.as_str()), 39.50),
    ] {
        let data = app
            .gql(
                Some(&owner.token),
                create,
                json!({"input": {"name": name, "weeklyHours": weekly, "userId": user, "homeBase": {"latitude": lat, "longitude": -76.6}}}),
            )
            .await;
        ids.push(
            data["createStaffMember"]["staffMember"]["id"]
                .as_str()
                .expect("staff id")
                .to_string(),
        );
    }
    let read = |token: String| {
        let app = &app;
        async move {
            let data = app
                .gql(
                    Some(&token),
                    "{ staffMembers(first: 10) { edges { node { id homeBase { latitude } } } } }",
                    json!({}),
                )
                .await;
            data["staffMembers"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| {
                    (
                        e["node"]["id"].as_str().unwrap_or_default().to_string(),
                        e["node"]["homeBase"]["latitude"].as_f64(),
                    )
                })
                .collect::<std::collections::HashMap<_, _>>()
        }
    };
    let tech = read(tech_token).await;
    assert_eq!(tech.len(), 2, "the technician sees the team");
    assert_eq!(
        tech[&ids[0]], None,
        "another staff member's home base is hidden"
    );
    assert_eq!(tech[&ids[1]], Some(39.50), "its own is shown");
    for token in [manager_token, owner.token.clone()] {
        let seen = read(token).await;
        assert_eq!(seen[&ids[0]], Some(39.40));
        assert_eq!(seen[&ids[1]], Some(39.50));
    }
}

/// Starts the release binary with `APP_ENV=production` and valid secrets plus `extra`;
/// returns `Ok(port)` once `/health` answers, or `Err(stderr)` if it exits first.
async fn start_production(extra: &[(&str, String)]) -> Result<(std::process::Child, u16), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_servicegraph"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ENV", "production")
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", "j".repeat(48))
        .env(
            "ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the server binary");
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read;
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("{status}: {err}"));
        }
        if http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((child, port));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("the server neither started nor exited within 60 s");
}

/// Issue 15: production refuses settings that would be unsafe there, with a message that
/// names the variable; with safe settings it starts (so the refusals are the rule's).
#[tokio::test]
async fn production_refuses_unsafe_settings_at_start() {
    let refused = |extra: Vec<(&'static str, String)>, says: &'static str| async move {
        match start_production(&extra).await {
            Ok((mut child, _)) => {
                let _ = child.kill();
                panic!("started with {extra:?}");
            }
            Err(stderr) => assert!(stderr.contains(says), "{extra:?}: {stderr}"),
        }
    };
    refused(
        vec![("JWT_SECRET", "s".repeat(31))],
        "JWT_SECRET must be at least 32 bytes",
    )
    .await;
    refused(
        vec![("SEED_DEMO", "true".into())],
        "SEED_DEMO=true is refused",
    )
    .await;
    refused(
        vec![("RATE_LIMITS", "off".into())],
        "RATE_LIMITS_OFF_IN_PRODUCTION",
    )
    .await;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        // The CI's PostgreSQL user is a superuser: row-level security would not apply.
        refused(vec![("DATABASE_URL", admin)], "superuser or BYPASSRLS").await;
    }

    // The control: the same settings otherwise start, without suggestions or playground.
    let (mut child, port) = start_production(&[]).await.expect("production starts");
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({"query": "{ publicTenan(slug: \"x\") { name } }"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("publicTenan"), "{body}");
    assert!(
        !message.contains("Did you mean"),
        "no suggestions in production: {body}"
    );
    let playground = http
        .get(format!("http://127.0.0.1:{port}/playground"))
        .send()
        .await
        .expect("get");
    assert_eq!(playground.status().as_u16(), 404);
    let _ = child.kill();
    let _ = child.wait();
}
