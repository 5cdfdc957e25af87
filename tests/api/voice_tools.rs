//! Voice tools over HTTP: `/agent/{slug}/tool-calls` (Vapi and OpenAI shapes),
//! `/agent/{slug}/retell` (signed), `agentTools` and `runAgentTool`.

use std::sync::Arc;

use chrono::{NaiveDate, Weekday};
use serde_json::{Value, json};

use crate::helpers::{
    Options, Owner, TestApp, every_day, next_weekday, slug, spawn_app, spawn_app_with,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;
const ALICE: &str = "+14155550101";
const BOB: &str = "+14155550102";

/// A salon with one service (Haircut, 30 min, $45) and one stylist (Ana, 09:00–17:00
/// every day), an agent key, and a day three or more days ahead.
struct Shop {
    owner: Owner,
    key: String,
    date: NaiveDate,
}

async fn shop(app: &TestApp) -> Shop {
    let owner = app.sign_up_in(&slug("voice"), "America/New_York").await;
    let data = app
        .gql(
            Some(&owner.token),
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { code message } } }",
            json!({"input": {"name": "Haircut", "durationMinutes": 30, "priceCents": 4500}}),
        )
        .await;
    assert!(data["createService"]["service"]["id"].is_string(), "{data}");
    app.create_staff(&owner.token, "Ana", &every_day("09:00", "17:00"))
        .await;
    let key = agent_key(app, &owner).await;
    Shop {
        owner,
        key,
        date: next_weekday(Weekday::Tue, 3),
    }
}

async fn agent_key(app: &TestApp, owner: &Owner) -> String {
    app.create_agent_key(&owner.token, "Vapi").await
}

/// A Vapi `tool-calls` server message from `number`.
fn vapi(calls: &[(&str, &str, Value)], number: Option<&str>) -> Value {
    let list: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| json!({"id": id, "name": name, "arguments": args}))
        .collect();
    json!({"message": {
        "type": "tool-calls",
        "toolCallList": list,
        "call": {"id": "call_1", "customer": {"number": number}},
    }})
}

/// POSTs `body` to `/agent/{slug}/tool-calls` with `Authorization: Bearer key`.
async fn post(app: &TestApp, slug: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/agent/{slug}/tool-calls", app.address))
        .json(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// One tool call; returns its entry of `results`.
async fn call(
    shop: &Shop,
    app: &TestApp,
    id: &str,
    name: &str,
    args: Value,
    number: &str,
) -> Value {
    let (status, body) = post(
        app,
        &shop.owner.slug,
        Some(&shop.key),
        &vapi(&[(id, name, args)], Some(number)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = body["results"][0].clone();
    assert_eq!(r["toolCallId"], id);
    r
}

fn text(r: &Value) -> String {
    r["result"]
        .as_str()
        .or_else(|| r["error"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn assert_one_line(r: &Value) {
    let t = text(r);
    assert!(!t.is_empty() && !t.contains('\n'), "{r}");
}

async fn bookings(app: &TestApp, owner: &Owner) -> Vec<Value> {
    let data = app
        .gql(
            Some(&owner.token),
            "{ bookings(first: 100) { edges { node { id status source startsAt cancellationReason customer { phone } } } } }",
            json!({}),
        )
        .await;
    data["bookings"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn live(list: &[Value]) -> Vec<&Value> {
    list.iter().filter(|b| b["status"] != "CANCELED").collect()
}

fn appointment_id(message: &str) -> String {
    let at = message.find("id ").expect("an appointment id") + 3;
    message[at..at + 36].to_string()
}

#[tokio::test]
async fn a_caller_checks_books_finds_moves_and_cancels_through_tool_calls() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let date = s.date.format("%Y-%m-%d").to_string();
    let day = s.date.format("%A %B %-d").to_string();

    let r = call(
        &s,
        &app,
        "c1",
        "business_info",
        json!({"topic": "prices"}),
        ALICE,
    )
    .await;
    assert_one_line(&r);
    assert!(text(&r).contains("Haircut (30 minutes, $45.00)"), "{r}");
    let r = call(
        &s,
        &app,
        "c2",
        "business_info",
        json!({"topic": "hours"}),
        ALICE,
    )
    .await;
    assert!(
        text(&r).contains("Monday to Sunday 9:00 AM to 5:00 PM"),
        "{r}"
    );

    let r = call(
        &s,
        &app,
        "c3",
        "check_availability",
        json!({"service": "haircut", "date": date, "time": "14:30", "staff": null}),
        ALICE,
    )
    .await;
    assert_eq!(
        text(&r),
        format!("{day} at 2:30 PM is available for Haircut with Ana.")
    );

    let r = call(
        &s,
        &app,
        "c4",
        "book_appointment",
        json!({"service": "Haircut", "date": date, "time": "14:30", "customer_name": "Alice Moss",
               "customer_phone": null, "staff": "ana", "notes": "first visit"}),
        ALICE,
    )
    .await;
    assert_one_line(&r);
    let booked = text(&r);
    assert!(
        booked.starts_with(&format!(
            "Booked: Haircut on {day} at 2:30 PM with Ana, $45.00."
        )),
        "{r}"
    );
    let id = appointment_id(&booked);
    let list = bookings(&app, &s.owner).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["source"], "AGENT");
    assert_eq!(list[0]["customer"]["phone"], ALICE);
    assert_eq!(list[0]["id"], id.as_str());

    // The OpenAI form: `toolCalls` with a JSON string of arguments, and `x-vapi-secret`.
    let body = json!({"message": {"type": "tool-calls", "toolCalls": [
        {"id": "c5", "type": "function", "function": {"name": "find_appointments", "arguments": "{\"customer_phone\": null}"}},
    ], "call": {"customer": {"number": "(415) 555-0101"}}}});
    let resp = app
        .http
        .post(format!("{}/agent/{}/tool-calls", app.address, s.owner.slug))
        .header("x-vapi-secret", &s.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found: Value = resp.json().await.unwrap();
    let f = text(&found["results"][0]);
    assert!(
        f.starts_with("You have one upcoming appointment: Haircut on"),
        "{f}"
    );
    assert!(f.contains(&id), "{f}");

    let r = call(
        &s,
        &app,
        "c6",
        "reschedule_appointment",
        json!({"appointment_id": id, "date": date, "time": "10:00"}),
        ALICE,
    )
    .await;
    assert_eq!(
        text(&r),
        format!("Done: your appointment is now Haircut on {day} at 10:00 AM with Ana.")
    );
    let r = call(
        &s,
        &app,
        "c7",
        "cancel_appointment",
        json!({"appointment_id": id, "reason": "sick"}),
        ALICE,
    )
    .await;
    assert_eq!(
        text(&r),
        format!("Your Haircut on {day} at 10:00 AM with Ana is canceled.")
    );
    let list = bookings(&app, &s.owner).await;
    assert_eq!(list[0]["status"], "CANCELED");
    assert_eq!(list[0]["cancellationReason"], "sick");

    let r = call(
        &s,
        &app,
        "c8",
        "transfer_to_human",
        json!({"reason": "wants a person"}),
        ALICE,
    )
    .await;
    assert_eq!(text(&r), "Transferring you to a member of the team now.");
}

#[tokio::test]
async fn the_same_tool_call_sent_twice_at_once_books_once_and_repeats_answer_the_same() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let args = json!({"service": "Haircut", "date": s.date.format("%Y-%m-%d").to_string(),
        "time": "11:00", "customer_name": "Alice", "customer_phone": null, "staff": null, "notes": null});
    let body = vapi(
        &[("call_dup", "book_appointment", args.clone())],
        Some(ALICE),
    );
    let (a, b) = tokio::join!(
        post(&app, &s.owner.slug, Some(&s.key), &body),
        post(&app, &s.owner.slug, Some(&s.key), &body)
    );
    assert_eq!(a.0, 200);
    assert_eq!(b.0, 200);
    assert_eq!(a.1, b.1);
    assert!(text(&a.1["results"][0]).starts_with("Booked:"), "{}", a.1);
    let again = post(&app, &s.owner.slug, Some(&s.key), &body).await;
    assert_eq!(again.1, a.1);
    assert_eq!(live(&bookings(&app, &s.owner).await).len(), 1);

    // The same id with other arguments is refused, and books nothing.
    let mut other = args.clone();
    other["time"] = json!("12:00");
    let r = call(&s, &app, "call_dup", "book_appointment", other, ALICE).await;
    assert!(text(&r).contains("already used"), "{r}");
    assert!(r.get("error").is_some());
    assert_eq!(live(&bookings(&app, &s.owner).await).len(), 1);
}

#[tokio::test]
async fn two_callers_racing_for_one_slot_book_once_and_the_other_hears_alternatives() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let date = s.date.format("%Y-%m-%d").to_string();
    let book = |name: &str| {
        json!({"service": "Haircut", "date": date, "time": "13:00", "customer_name": name,
            "customer_phone": null, "staff": "Ana", "notes": null})
    };
    let (a, b) = tokio::join!(
        call(&s, &app, "race_a", "book_appointment", book("Alice"), ALICE),
        call(&s, &app, "race_b", "book_appointment", book("Bob"), BOB)
    );
    let texts = [text(&a), text(&b)];
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("Booked:")).count(),
        1,
        "{texts:?}"
    );
    let loser = texts.iter().find(|t| !t.starts_with("Booked:")).unwrap();
    assert!(
        loser.contains("already taken")
            && loser.contains("The nearest free times that day are 12:15 PM, 12:30 PM and 1:30 PM"),
        "{loser}"
    );
    assert_eq!(live(&bookings(&app, &s.owner).await).len(), 1);
}

#[tokio::test]
async fn keys_of_another_business_unknown_slugs_and_user_tokens_get_the_same_401() {
    let app = spawn_app().await;
    let a = shop(&app).await;
    let b = shop(&app).await;
    let body = vapi(
        &[("x1", "business_info", json!({"topic": null}))],
        Some(ALICE),
    );
    let refused = json!({"errors": [{"message": "a valid agent key of this business is required",
        "extensions": {"code": "UNAUTHENTICATED"}}]});
    for (slug, key) in [
        (b.owner.slug.as_str(), Some(a.key.as_str())),
        ("no-such-business", Some(a.key.as_str())),
        (b.owner.slug.as_str(), None),
        (b.owner.slug.as_str(), Some(b.owner.token.as_str())),
        (b.owner.slug.as_str(), Some("sgk_not-a-key")),
    ] {
        let (status, resp) = post(&app, slug, key, &body).await;
        assert_eq!(status, 401, "{slug}");
        assert_eq!(resp, refused);
    }
    // Revoked keys stop working.
    let (status, _) = post(&app, &a.owner.slug, Some(&a.key), &body).await;
    assert_eq!(status, 200);
    let keys = app
        .gql(Some(&a.owner.token), "{ agentKeys { id } }", json!({}))
        .await;
    let id = keys["agentKeys"][0]["id"].as_str().unwrap();
    app.gql(
        Some(&a.owner.token),
        "mutation($id: ID!) { revokeAgentKey(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    let (status, _) = post(&app, &a.owner.slug, Some(&a.key), &body).await;
    assert_eq!(status, 401);
    // Nothing of B was touched by A's key.
    assert!(bookings(&app, &b.owner).await.is_empty());
}

#[tokio::test]
async fn a_caller_cannot_see_or_change_another_numbers_appointment() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let date = s.date.format("%Y-%m-%d").to_string();
    let r = call(
        &s,
        &app,
        "own1",
        "book_appointment",
        json!({"service": "Haircut", "date": date, "time": "09:30", "customer_name": "Alice",
            "customer_phone": null, "staff": null, "notes": null}),
        ALICE,
    )
    .await;
    let id = appointment_id(&text(&r));

    let r = call(
        &s,
        &app,
        "b1",
        "find_appointments",
        json!({"customer_phone": null}),
        BOB,
    )
    .await;
    assert_eq!(
        text(&r),
        "I don't see any upcoming appointments for this number."
    );
    let r = call(
        &s,
        &app,
        "b2",
        "find_appointments",
        json!({"customer_phone": ALICE}),
        BOB,
    )
    .await;
    assert!(r["error"].as_str().unwrap().contains("for privacy"), "{r}");
    let r = call(
        &s,
        &app,
        "b3",
        "cancel_appointment",
        json!({"appointment_id": id, "reason": null}),
        BOB,
    )
    .await;
    assert_eq!(
        r["error"],
        "I couldn't find that appointment for the number you are calling from"
    );
    let r = call(
        &s,
        &app,
        "b4",
        "reschedule_appointment",
        json!({"appointment_id": id, "date": date, "time": "15:00"}),
        BOB,
    )
    .await;
    assert!(r.get("error").is_some(), "{r}");
    // A withheld number cannot look up or change anything either.
    let (_, body) = post(
        &app,
        &s.owner.slug,
        Some(&s.key),
        &vapi(
            &[(
                "w1",
                "cancel_appointment",
                json!({"appointment_id": id, "reason": null}),
            )],
            None,
        ),
    )
    .await;
    assert!(body["results"][0]["error"].is_string(), "{body}");
    // Another tenant's ids spoken aloud are not found either.
    let other = shop(&app).await;
    let (_, body) = post(
        &app,
        &other.owner.slug,
        Some(&other.key),
        &vapi(
            &[(
                "t1",
                "cancel_appointment",
                json!({"appointment_id": id, "reason": null}),
            )],
            Some(ALICE),
        ),
    )
    .await;
    assert!(body["results"][0]["error"].is_string(), "{body}");

    let list = bookings(&app, &s.owner).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "CONFIRMED");
    assert_eq!(
        list[0]["startsAt"],
        crate::helpers::local(NY, s.date, "09:30")
    );
}

#[tokio::test]
async fn abuse_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let date = s.date.format("%Y-%m-%d").to_string();
    let slug = s.owner.slug.clone();

    // Oversized body.
    let big = json!({"message": {"type": "tool-calls", "toolCallList": [], "pad": "x".repeat(300 * 1024)}});
    let (status, body) = post(&app, &slug, Some(&s.key), &big).await;
    assert_eq!(status, 413, "{body}");
    // Not JSON.
    let resp = app
        .http
        .post(format!("{}/agent/{slug}/tool-calls", app.address))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    // Too many tool calls in one request: nothing runs.
    let calls: Vec<(String, Value)> = (0..11)
        .map(|i| {
            (
                format!("many{i}"),
                json!({"service": "Haircut", "date": date, "time": format!("{:02}:00", 9 + i % 8),
                    "customer_name": "Spam", "customer_phone": null, "staff": null, "notes": null}),
            )
        })
        .collect();
    let list: Vec<(&str, &str, Value)> = calls
        .iter()
        .map(|(id, a)| (id.as_str(), "book_appointment", a.clone()))
        .collect();
    let (status, body) = post(&app, &slug, Some(&s.key), &vapi(&list, Some(ALICE))).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10")
    );
    // Unknown tool, malformed and smuggled arguments: error strings, in order.
    let body = json!({"message": {"type": "tool-calls", "toolCallList": [
        {"id": "u1", "name": "delete_all_bookings", "arguments": {}},
        {"id": "u2", "name": "book_appointment", "arguments": {"service": "Haircut", "date": date}},
        {"id": "u3", "name": "book_appointment", "arguments": "{not json"},
        {"id": "u4", "name": "book_appointment", "arguments": {"service": "Haircut", "date": "next tuesday",
            "time": "2pm", "customer_name": "X", "customer_phone": null, "staff": null, "notes": null}},
        {"id": "u5", "name": "cancel_appointment", "arguments": {"appointment_id": "1 OR 1=1", "reason": null, "tenant": "other"}},
        {"id": "u6", "name": "check_availability", "arguments": {"service": "Massage", "date": date, "time": null, "staff": null}},
        {"id": "u7", "arguments": {}},
    ], "call": {"customer": {"number": ALICE}}}});
    let (status, body) = post(&app, &slug, Some(&s.key), &body).await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["toolCallId"], format!("u{}", i + 1));
        assert!(r["error"].is_string() && r.get("result").is_none(), "{r}");
        assert_one_line(r);
    }
    assert!(text(&results[0]).starts_with("unknown tool"));
    assert!(
        text(&results[1]).contains("missing field `time`"),
        "{}",
        results[1]
    );
    assert!(text(&results[3]).contains("YYYY-MM-DD"), "{}", results[3]);
    assert!(
        text(&results[4]).contains("unknown field `tenant`"),
        "{}",
        results[4]
    );
    assert!(
        text(&results[5]).contains("the choices are Haircut"),
        "{}",
        results[5]
    );
    assert!(bookings(&app, &s.owner).await.is_empty());
}

#[tokio::test]
async fn agent_keys_are_rate_limited_per_tool_call() {
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut servicegraph::Settings| {
            s.limits.config.agent_key = graph::limits::Quota {
                count: 3,
                period: std::time::Duration::from_secs(60),
            };
        })),
        ..Options::default()
    })
    .await;
    let s = shop(&app).await;
    let info = |id: &'static str| (id, "business_info", json!({"topic": null}));
    let (status, _) = post(
        &app,
        &s.owner.slug,
        Some(&s.key),
        &vapi(&[info("r1"), info("r2")], None),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &app,
        &s.owner.slug,
        Some(&s.key),
        &vapi(&[info("r3")], None),
    )
    .await;
    assert_eq!(status, 200);
    let resp = app
        .http
        .post(format!("{}/agent/{}/tool-calls", app.address, s.owner.slug))
        .bearer_auth(&s.key)
        .json(&vapi(&[info("r4")], None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn agent_tools_are_strict_openai_function_tools_for_agents_and_owners() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let q = "{ agentTools }";
    let as_agent = app.gql(Some(&s.key), q, json!({})).await["agentTools"].clone();
    let as_owner = app.gql(Some(&s.owner.token), q, json!({})).await["agentTools"].clone();
    assert_eq!(as_agent, as_owner);
    let tools = as_agent.as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "check_availability",
            "book_appointment",
            "find_appointments",
            "reschedule_appointment",
            "cancel_appointment",
            "business_info",
            "transfer_to_human"
        ]
    );
    for t in tools {
        assert_eq!(t["type"], "function");
        assert_eq!(t["strict"], true);
        assert!(!t["description"].as_str().unwrap().is_empty());
        let p = &t["parameters"];
        assert_eq!(p["type"], "object");
        assert_eq!(p["additionalProperties"], false);
        let props = p["properties"].as_object().unwrap();
        let required: Vec<&str> = p["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut req = required.clone();
        req.sort_unstable();
        assert_eq!(keys, req, "{}", t["name"]);
        for (k, v) in props {
            let ty = &v["type"];
            assert!(
                ty == "string" || ty == &json!(["string", "null"]),
                "{k}: {ty}"
            );
            assert!(
                v["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{k}"
            );
        }
    }
    // The descriptions are the SDL's: one source.
    let sdl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/schema.graphql"
    ))
    .unwrap();
    let sdl_words = sdl.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(sdl_words.contains(tools[1]["description"].as_str().unwrap()));
    // Managers and anonymous callers get nothing.
    let (_, manager) = app
        .create_user(&s.owner, "m@voice.example.com", "MANAGER")
        .await;
    assert_eq!(
        app.gql_error_code(Some(&manager), q, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(None, q, json!({})).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn run_agent_tool_runs_the_same_tools_over_graphql_for_agents_only() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let m =
        "mutation($input: RunAgentToolInput!) { runAgentTool(input: $input) { ok message data } }";
    let input = json!({"toolCallId": "g1", "callerPhone": ALICE, "bookAppointment": {
        "service": "Haircut", "date": s.date.format("%Y-%m-%d").to_string(), "time": "15:00",
        "customer_name": "Alice"}});
    let r = app.gql(Some(&s.key), m, json!({"input": input})).await["runAgentTool"].clone();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["data"]["booked"], true);
    assert_eq!(r["data"]["appointment"]["time"], "15:00");
    // The same id again over HTTP: the stored answer, no second booking.
    let again = app.gql(Some(&s.key), m, json!({"input": input})).await["runAgentTool"].clone();
    assert_eq!(again, r);
    assert_eq!(live(&bookings(&app, &s.owner).await).len(), 1);
    let two = json!({"businessInfo": {"topic": null}, "transferToHuman": {"reason": null}});
    assert_eq!(
        app.gql_error_code(Some(&s.key), m, json!({"input": two}))
            .await,
        "BAD_USER_INPUT"
    );
    let info = json!({"businessInfo": {"topic": "hours"}});
    assert_eq!(
        app.gql_error_code(Some(&s.owner.token), m, json!({"input": info}))
            .await,
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn retell_functions_need_the_tenants_retell_signature_and_retries_book_once() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let date = s.date.format("%Y-%m-%d").to_string();
    let url = format!("{}/agent/{}/retell", app.address, s.owner.slug);
    let body = json!({"name": "book_appointment",
        "call": {"call_id": "call_r1", "direction": "inbound", "from_number": BOB, "to_number": "+14155550000"},
        "args": {"service": "Haircut", "date": date, "time": "16:00", "customer_name": "Bob",
            "customer_phone": null, "staff": null, "notes": null}})
    .to_string();
    let send = |sig: Option<String>| {
        let mut req = app
            .http
            .post(&url)
            .bearer_auth(&s.key)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(sig) = sig {
            req = req.header("x-retell-signature", sig);
        }
        req.send()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    // Without the plugin, nothing is accepted.
    let sig = integrations::retell::sign("retell-key-1", body.as_bytes(), now_ms);
    assert_eq!(send(Some(sig.clone())).await.unwrap().status(), 401);
    let data = app
        .gql(
            Some(&s.owner.token),
            "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id enabled } userErrors { field code message } } }",
            json!({"input": {"pluginId": "retell", "config": {"apiKey": "retell-key-1"}, "enabled": true}}),
        )
        .await;
    assert_eq!(data["configurePlugin"]["userErrors"], json!([]), "{data}");
    // Unsigned, signed with another key, or stale: 401.
    assert_eq!(send(None).await.unwrap().status(), 401);
    let forged = integrations::retell::sign("another-key", body.as_bytes(), now_ms);
    assert_eq!(send(Some(forged)).await.unwrap().status(), 401);
    let stale = integrations::retell::sign("retell-key-1", body.as_bytes(), now_ms - 600_000);
    assert_eq!(send(Some(stale)).await.unwrap().status(), 401);
    assert!(bookings(&app, &s.owner).await.is_empty());
    // Signed: booked for the caller; Retell's retry of the same request books nothing more.
    let first = send(Some(sig.clone())).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert!(
        first["result"].as_str().unwrap().starts_with("Booked:"),
        "{first}"
    );
    assert_eq!(first["data"]["booked"], true);
    let retry: Value = send(Some(sig)).await.unwrap().json().await.unwrap();
    assert_eq!(retry, first);
    let list = bookings(&app, &s.owner).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["customer"]["phone"], BOB);
    assert_eq!(list[0]["source"], "AGENT");
}
