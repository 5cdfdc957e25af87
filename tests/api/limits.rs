//! Rate limits and admission (issue 15): bursts past each limit are refused with
//! `RATE_LIMITED` (`retryAfter`, `Retry-After`) and recover; aliases cannot multiply
//! password guesses; budgets are shared across instances through Redis and fall back to
//! in-process counting when Redis is down; strings with U+0000 are refused.

use std::sync::Arc;
use std::time::Duration;

use graph::limits::Quota;
use serde_json::{Value, json};
use servicegraph::Settings;

use crate::helpers::{Options, PASSWORD, TestApp, every_day, slug, spawn_app, spawn_app_with};

fn quota(count: u32, secs: u64) -> Quota {
    Quota {
        count,
        period: Duration::from_secs(secs),
    }
}

/// A server with small limits, trusting one proxy hop (so tests pick client addresses
/// with `X-Forwarded-For`).
fn tight(adjust: impl Fn(&mut Settings) + Send + Sync + 'static) -> Options {
    Options {
        settings: Some(Arc::new(move |s: &mut Settings| {
            s.limits.trusted_proxy_hops = 1;
            let c = &mut s.limits.config;
            // Long periods where a test counts a burst (a slow machine must not refill
            // the budget mid-burst); short ones where a test waits for recovery.
            c.public_per_ip = quota(3, 6);
            c.auth_per_ip = quota(4, 60);
            c.login_failures = quota(2, 4);
            c.tenant_by_plan = [quota(6, 60); 3];
            c.agent_key = quota(3, 60);
            adjust(s);
        })),
        ..Options::default()
    }
}

/// POSTs as client `ip`; returns `(status, Retry-After, body)`.
async fn post_as(
    app: &TestApp,
    ip: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Option<u64>, Value) {
    let mut req = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("x-forwarded-for", ip)
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, resp.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

const TENANT: &str = "query($s: String!) { publicTenant(slug: $s) { name } }";

/// Waits out a refusal's `retryAfter`.
async fn wait_out(body: &Value) {
    let secs = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!((1..=5).contains(&secs), "{body}");
    tokio::time::sleep(Duration::from_millis(secs * 1000 + 100)).await;
}

#[tokio::test]
async fn anonymous_bursts_are_refused_per_client_and_recover() {
    let app = spawn_app_with(tight(|_| {})).await;
    let owner = app.sign_up(&slug("limits")).await;
    let vars = json!({"s": owner.slug});
    for _ in 0..3 {
        let (s, _, body) = post_as(&app, "198.51.100.7", None, TENANT, vars.clone()).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, retry, body) = post_as(&app, "198.51.100.7", None, TENANT, vars.clone()).await;
    assert_eq!(s, 429, "{body}");
    assert_eq!(code(&body), "RATE_LIMITED");
    assert_eq!(body["data"], Value::Null, "nothing ran: {body}");
    assert_eq!(
        retry,
        body["errors"][0]["extensions"]["retryAfter"].as_u64()
    );
    // Another client is not affected.
    let (s, _, _) = post_as(&app, "203.0.113.9", None, TENANT, vars.clone()).await;
    assert_eq!(s, 200);
    // Aliases count one by one: four lookups in one request exceed a budget of three.
    let aliased = "query($s: String!) { a: publicTenant(slug: $s) { name } b: publicTenant(slug: $s) { name } c: publicTenant(slug: $s) { name } d: publicTenant(slug: $s) { name } }";
    let (s, _, body) = post_as(&app, "203.0.113.50", None, aliased, vars.clone()).await;
    assert_eq!((s, code(&body)), (429, "RATE_LIMITED"), "{body}");
    // After the wait the first client is served again.
    wait_out(&body).await;
    let (s, _, body) = post_as(&app, "198.51.100.7", None, TENANT, vars).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn password_guessing_is_limited_per_operation_per_client_and_per_account() {
    let app = spawn_app_with(tight(|_| {})).await;
    let owner = app.sign_up(&slug("guess")).await;
    let login = "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { accessToken userErrors { code } } }";

    // One request, many aliases: refused before any password is checked.
    let aliased = "mutation($e: String!) { a: logIn(input: {email: $e, password: \"guess-one-1\"}) { accessToken } b: logIn(input: {email: $e, password: \"guess-two-2\"}) { accessToken } }";
    let (s, _, body) = post_as(&app, "192.0.2.1", None, aliased, json!({"e": owner.email})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(s, 200);
    assert_eq!(body["data"], Value::Null);
    let mixed = "mutation($e: String!) { logIn(input: {email: $e, password: \"x-guess-1\"}) { accessToken } refreshToken(refreshToken: \"nope\") { accessToken } }";
    let (_, _, body) = post_as(&app, "192.0.2.1", None, mixed, json!({"e": owner.email})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // Two wrong passwords for the account, then even the right one waits.
    for ip in ["192.0.2.2", "192.0.2.3"] {
        let (s, _, body) = post_as(
            &app,
            ip,
            None,
            login,
            json!({"e": owner.email, "p": "wrong password!"}),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            body["data"]["logIn"]["userErrors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
    let (s, retry, body) = post_as(
        &app,
        "192.0.2.4",
        None,
        login,
        json!({"e": owner.email, "p": PASSWORD}),
    )
    .await;
    assert_eq!((s, code(&body)), (429, "RATE_LIMITED"), "{body}");
    assert!(retry.is_some());
    // An email that has no account is limited the same way (nothing revealed).
    for _ in 0..2 {
        post_as(
            &app,
            "192.0.2.5",
            None,
            login,
            json!({"e": "nobody@example.com", "p": "wrong password!"}),
        )
        .await;
    }
    let (_, _, body) = post_as(
        &app,
        "192.0.2.6",
        None,
        login,
        json!({"e": "nobody@example.com", "p": "wrong password!"}),
    )
    .await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    wait_out(&body).await;
    let (s, _, body) = post_as(
        &app,
        "192.0.2.4",
        None,
        login,
        json!({"e": owner.email, "p": PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["data"]["logIn"]["accessToken"].is_string(), "{body}");

    // Per client: a fifth credential call from one address within the period is refused.
    let mut last = Value::Null;
    for _ in 0..5 {
        let (_, _, body) = post_as(
            &app,
            "192.0.2.9",
            None,
            login,
            json!({"e": "someone@example.com", "p": "whatever-it-is"}),
        )
        .await;
        last = body;
    }
    assert_eq!(code(&last), "RATE_LIMITED", "{last}");
}

#[tokio::test]
async fn tenants_and_agent_keys_have_their_own_budgets() {
    let app = spawn_app_with(tight(|_| {})).await;
    let a = app.sign_up(&slug("budget-a")).await;
    let b = app.sign_up(&slug("budget-b")).await;
    let me = "{ me { user { email } } }";
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            post_as(&app, "192.0.2.20", Some(&a.token), me, json!({}))
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429]);
    // Tenant B (same client address) is unaffected.
    assert_eq!(
        post_as(&app, "192.0.2.20", Some(&b.token), me, json!({}))
            .await
            .0,
        200
    );

    let created = app
        .gql(
            Some(&b.token),
            "mutation { createAgentKey(name: \"Phone\") { key } }",
            json!({}),
        )
        .await;
    let key = created["createAgentKey"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let services = "{ services(first: 5) { totalCount } }";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            post_as(&app, "192.0.2.21", Some(&key), services, json!({}))
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn two_instances_share_one_budget_through_redis() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("skipped: set TEST_REDIS_URL to run");
        return;
    };
    if redis.is_empty() {
        return;
    }
    let channel = format!("sg-test:{}", uuid::Uuid::new_v4());
    let first = spawn_app_with(Options {
        redis_channel: Some(channel.clone()),
        ..tight(|_| {})
    })
    .await;
    let second = spawn_app_with(Options {
        redis_channel: Some(channel),
        database: Some((first.settings.database.url.clone(), first.owner_url.clone())),
        ..tight(|_| {})
    })
    .await;
    let owner = first.sign_up(&slug("shared")).await;
    let vars = json!({"s": owner.slug});
    for app in [&first, &second, &first] {
        assert_eq!(
            post_as(app, "198.51.100.77", None, TENANT, vars.clone())
                .await
                .0,
            200
        );
    }
    // The budget of 3 is spent across both instances.
    let (s, _, body) = post_as(&second, "198.51.100.77", None, TENANT, vars).await;
    assert_eq!((s, code(&body)), (429, "RATE_LIMITED"), "{body}");
}

#[tokio::test]
async fn with_redis_down_limits_count_in_process_and_bookings_still_work() {
    // Nothing listens on port 1: every Redis call fails.
    let app = spawn_app_with(tight(|s| {
        s.limits.redis_url = Some("redis://127.0.0.1:1".into());
        // A budget that does not refill while a loaded machine runs the burst (3 per 6 s
        // gave a token back every 2 s, and a slow run saw [200, 200, 200]).
        s.limits.config.public_per_ip = quota(3, 600);
    }))
    .await;
    let owner = app.sign_up(&slug("noredis")).await;
    let service = app.create_service(&owner.token, 60).await;
    app.create_staff(&owner.token, "Ray", &every_day("08:00", "18:00"))
        .await;
    let day = crate::helpers::next_weekday(chrono::Weekday::Tue, 2);
    let starts = crate::helpers::local(chrono_tz::America::New_York, day, "10:00");
    let book = "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id status } userErrors { code } } }";
    let (s, _, body) = post_as(
        &app,
        "198.51.100.90",
        None,
        book,
        json!({"input": {"tenantSlug": owner.slug, "serviceId": service, "startsAt": starts, "customer": {"name": "Ana", "phone": "+14155550191"}}}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["data"]["publicCreateBooking"]["booking"]["status"], "CONFIRMED",
        "{body}"
    );
    // Limits still apply, counted in this process.
    let vars = json!({"s": owner.slug});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            post_as(&app, "198.51.100.90", None, TENANT, vars.clone())
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn strings_with_nul_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("nul")).await;
    // In the query text (an escape), anonymously.
    let (status, body) = app
        .post(
            None,
            "{ publicTenant(slug: \"demo\\u0000\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // In variables, authenticated: no customer is created.
    let create = "mutation($input: CustomerInput!) { createCustomer(input: $input) { customer { id } userErrors { code } } }";
    for input in [
        json!({"name": "Ana\u{0}", "phone": "+14155550192"}),
        json!({"name": "Ana", "phone": "+14155550192", "notes": "x\u{0}y"}),
    ] {
        let (_, body) = app
            .post(Some(&owner.token), create, json!({"input": input}))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["data"], Value::Null);
    }
    let (_, body) = app
        .post(
            None,
            "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }",
            json!({"i": {"email": "owner\u{0}@x.com", "password": "whatever-123"}}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let list = app
        .gql(
            Some(&owner.token),
            "{ customers(first: 10) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(list["customers"]["totalCount"], 0);
}

#[tokio::test]
async fn agents_cannot_set_booking_statuses() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("agentstatus")).await;
    let t = &owner.token;
    let service = app.create_service(t, 60).await;
    let staff = app
        .create_staff(t, "Lee", &every_day("08:00", "18:00"))
        .await;
    let customer = app.create_customer(t, "Bo", "+14155550193").await;
    let day = crate::helpers::next_weekday(chrono::Weekday::Thu, 2);
    let booked = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &crate::helpers::local(chrono_tz::America::New_York, day, "09:00"),
        )
        .await;
    let id = booked["booking"]["id"].as_str().unwrap().to_string();
    let key = app.create_agent_key(t, "Phone").await;
    for status in ["CANCELED", "NO_SHOW", "IN_PROGRESS"] {
        let code = app
            .gql_error_code(
                Some(&key),
                "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { booking { status } } }",
                json!({"id": id, "s": status}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN", "{status}");
    }
    let b = app
        .gql(
            Some(t),
            "query($id: ID!) { booking(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b["booking"]["status"], "CONFIRMED");
}

/// Issue 15, finding 5: a tenant with 40 staff members around the clock and a 5-minute
/// service; one anonymous request asking for many two-month slot searches is refused
/// before it runs, and every answer stays bounded.
#[tokio::test]
async fn costly_slot_searches_are_refused_before_they_run() {
    let app = spawn_app_with(crate::helpers::without_rate_limits()).await;
    let owner = app.sign_up(&slug("costly")).await;
    let t = &owner.token;
    let service = app
        .gql(
            Some(t),
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }",
            json!({"input": {"name": "Quick look", "durationMinutes": 5, "priceCents": 500}}),
        )
        .await["createService"]["service"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(t),
        "mutation { updateBookingPolicy(input: {slotIntervalMinutes: 5}) { userErrors { code } } }",
        json!({}),
    )
    .await;
    for i in 0..40 {
        app.create_staff(t, &format!("Staff {i}"), &every_day("00:00", "23:59"))
            .await;
    }
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(2);
    let (from, to) = (
        day.to_string(),
        (day + chrono::Duration::days(61)).to_string(),
    );
    let field = |alias: usize| {
        format!(
            "s{alias}: publicAvailableSlots(tenantSlug: $slug, serviceId: $svc, from: \"{from}\", to: \"{to}\") {{ startsAt endsAt }}"
        )
    };
    let vars = json!({"slug": owner.slug, "svc": service});
    let run = |n: usize, extra: &str| {
        let fields: Vec<String> = (0..n).map(field).collect();
        format!(
            "query($slug: String!, $svc: ID!) {{ {} {extra} }}",
            fields.join(" ")
        )
    };
    // A hundred aliases: refused outright (root-field cap), nothing ran.
    let (_, body) = app.post(None, &run(100, ""), vars.clone()).await;
    assert_eq!(
        code(&body),
        "BAD_USER_INPUT",
        "{}",
        &body.to_string()[..300.min(body.to_string().len())]
    );
    assert_eq!(body["data"], Value::Null);
    // Twenty two-month searches with a heavier selection: over the complexity budget.
    let heavy = run(20, "").replace(
        "{ startsAt endsAt }",
        "{ startsAt endsAt staffMembers { name weeklyHours { weekday startTime endTime } } }",
    );
    let (_, body) = app.post(None, &heavy, vars.clone()).await;
    assert_eq!(
        body["data"],
        Value::Null,
        "{}",
        &body.to_string()[..300.min(body.to_string().len())]
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("complex"),
        "{}",
        body["errors"][0]
    );
    // One two-month search that passes the budget: 40 staff members × 62 days × 288
    // starts would be evaluated (and 17 856 slots × 40 sent); refused with a hint before
    // any of that work.
    let (_, body) = app.post(None, &run(1, ""), vars.clone()).await;
    assert_eq!(
        code(&body),
        "BAD_USER_INPUT",
        "{}",
        &body.to_string()[..300.min(body.to_string().len())]
    );
    assert!(body.to_string().len() < 2_000);
    // A narrow question is answered.
    let one_day = format!(
        "query($slug: String!, $svc: ID!) {{ publicAvailableSlots(tenantSlug: $slug, serviceId: $svc, from: \"{from}\", to: \"{from}\") {{ startsAt }} }}"
    );
    let (status, body) = app.post(None, &one_day, vars).await;
    assert_eq!(status, 200);
    let n = body["data"]["publicAvailableSlots"]
        .as_array()
        .map(Vec::len);
    assert!(n.is_some_and(|n| n > 200), "{:?}", body["errors"]);
}
