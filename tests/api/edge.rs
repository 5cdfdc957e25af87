//! The HTTP and WebSocket edge: GET rules, limits, health, subscriptions (and Redis
//! fan-out across two server instances).

use std::time::Duration;

use chrono::Weekday;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    Options, TestApp, Ws, every_day, local, next_json, next_weekday, slug, spawn_app,
    spawn_app_with, subscribe_to,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("get")).await;
    let ok = app
        .http
        .get(
            reqwest::Url::parse_with_params(
                &format!("{}/graphql", app.address),
                &[(
                    "query",
                    format!("{{ publicTenant(slug: \"{}\") {{ slug }} }}", owner.slug),
                )],
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["data"]["publicTenant"]["slug"], owner.slug.as_str());
    let refused = app
        .http
        .get(
            reqwest::Url::parse_with_params(
                &format!("{}/graphql", app.address),
                &[(
                    "query",
                    format!(
                        "mutation {{ logOut(refreshToken: \"{}\") {{ success }} }}",
                        owner.refresh
                    ),
                )],
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    // The mutation did not run: the refresh token still works.
    let r = app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({"t": owner.refresh}),
        )
        .await;
    assert!(r["refreshToken"]["accessToken"].is_string());
}

#[tokio::test]
async fn depth_limit_and_body_limit_hold() {
    let app = spawn_app().await;
    // 17 deep: beyond even the introspection allowance (15).
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType {".repeat(12),
        "}".repeat(12)
    );
    let deep = deep.as_str();
    let (status, body) = app.post(None, deep, json!({})).await;
    assert_eq!(status, 200);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested too deep"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let (_, body) = app.post(None, "{ __typename", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
        "{body}"
    );
    let (_, body) = app.post(None, "{ noSuchField }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let huge = "x".repeat(2 * 1024 * 1024);
    let resp = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(json!({"query": format!("{{ __typename }} # {huge}")}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.expect("413 has a JSON body");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
}

/// GraphQL over HTTP (issue 15): media types, status codes, and edge errors in the
/// GraphQL error shape.
#[tokio::test]
async fn graphql_over_http_media_types_and_statuses() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    // A client that accepts only application/json gets application/json.
    let resp = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(json!({"query": "{ __typename }"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    // Asking for application/graphql-response+json: a syntax error is a 400 without data.
    let resp = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(json!({"query": "{ __typename "}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    // A POST that is not JSON (the `text/plain` simple request a page on another origin
    // can send without a preflight) is refused before anything runs.
    let resp = app
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body(json!({"query": "mutation { logOut(refreshToken: \"x\") { success } }"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    // Malformed JSON: a 400 in the GraphQL error shape, not debug text.
    let resp = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    assert!(!body.to_string().contains("ParseRequestError"), "{body}");
    // A batch is refused the same way.
    let resp = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn health_checks_the_database() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "ok");
    // The playground is tested in clients.rs.
}

#[tokio::test]
async fn health_is_503_when_the_database_is_down() {
    let app = spawn_app().await;
    app.state.db.connection().close_by_ref().await.unwrap();
    let resp = app
        .http
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "unavailable");
}

async fn subscribe(app: &TestApp, token: &str) -> Ws {
    subscribe_to(
        app,
        token,
        "subscription { bookingEvents { kind booking { id status } } }",
    )
    .await
}

async fn tenant_with_staff(app: &TestApp, prefix: &str) -> (crate::helpers::Owner, String, String) {
    let owner = app.sign_up(&slug(prefix)).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "S", &every_day("09:00", "17:00"))
        .await;
    (owner, service, staff)
}

#[tokio::test]
async fn subscriptions_deliver_only_the_callers_tenant_events() {
    let app = spawn_app().await;
    let (a, a_service, a_staff) = tenant_with_staff(&app, "sub-a").await;
    let (b, b_service, b_staff) = tenant_with_staff(&app, "sub-b").await;
    let mut ws = subscribe(&app, &a.token).await;
    let day = next_weekday(Weekday::Thu, 2);
    // B's booking first: A must not see it.
    let other = app
        .public_book(
            &b.slug,
            &b_service,
            &local(NY, day, "10:00"),
            Some(&b_staff),
            "+14155550170",
        )
        .await;
    assert!(other["booking"].is_object());
    let mine = app
        .public_book(
            &a.slug,
            &a_service,
            &local(NY, day, "10:00"),
            Some(&a_staff),
            "+14155550171",
        )
        .await;
    let id = mine["booking"]["id"].as_str().unwrap();
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["type"], "next", "{ev}");
    assert_eq!(ev["payload"]["data"]["bookingEvents"]["kind"], "CREATED");
    assert_eq!(ev["payload"]["data"]["bookingEvents"]["booking"]["id"], id);
    app.gql(
        Some(&a.token),
        "mutation($id: ID!) { cancelBooking(id: $id) { booking { id } } }",
        json!({"id": id}),
    )
    .await;
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["payload"]["data"]["bookingEvents"]["kind"], "CANCELED");
    assert_eq!(
        ev["payload"]["data"]["bookingEvents"]["booking"]["status"],
        "CANCELED"
    );
}

#[tokio::test]
async fn subscriptions_refuse_bad_credentials() {
    let app = spawn_app().await;
    let mut req = format!("{}/graphql/ws", app.address.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let init = json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("reply");
    match msg {
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {}
        Some(Ok(Message::Text(t))) => assert_ne!(
            serde_json::from_str::<Value>(&t).unwrap()["type"],
            "connection_ack"
        ),
        Some(Ok(other)) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn redis_fans_events_out_across_instances() {
    if std::env::var("TEST_REDIS_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        eprintln!("skipped: set TEST_REDIS_URL to run");
        return;
    }
    let channel = format!("sg-test:{}", uuid::Uuid::new_v4());
    let first = spawn_app_with(Options {
        redis_channel: Some(channel.clone()),
        ..Default::default()
    })
    .await;
    let second = spawn_app_with(Options {
        redis_channel: Some(channel),
        database: Some((first.settings.database.url.clone(), first.owner_url.clone())),
        ..Default::default()
    })
    .await;
    let (owner, service, staff) = tenant_with_staff(&first, "redis").await;
    let mut ws = subscribe(&first, &owner.token).await;
    let day = next_weekday(Weekday::Fri, 2);
    let booked = second
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "09:00"),
            Some(&staff),
            "+14155550180",
        )
        .await;
    let id = booked["booking"]["id"].as_str().unwrap();
    let ev = next_json(&mut ws).await;
    assert_eq!(
        ev["payload"]["data"]["bookingEvents"]["booking"]["id"], id,
        "{ev}"
    );
}

#[tokio::test]
async fn technicians_receive_only_their_own_booking_events() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("sub-tech")).await;
    let (tech_user, tech) = app
        .create_user(&owner, "tech@sub.example.com", "TECHNICIAN")
        .await;
    let service = app.create_service(&owner.token, 60).await;
    let hours = every_day("09:00", "17:00");
    let mine = app
        .create_staff_linked(&owner.token, "Mine", &hours, Some(&tech_user))
        .await;
    let other = app.create_staff(&owner.token, "Other", &hours).await;
    let mut ws = subscribe(&app, &tech).await;
    let day = next_weekday(Weekday::Mon, 2);
    let when = local(NY, day, "10:00");
    let theirs = app
        .public_book(&owner.slug, &service, &when, Some(&other), "+14155550190")
        .await;
    assert!(theirs["booking"].is_object());
    let own = app
        .public_book(&owner.slug, &service, &when, Some(&mine), "+14155550191")
        .await;
    let ev = next_json(&mut ws).await;
    assert_eq!(
        ev["payload"]["data"]["bookingEvents"]["booking"]["id"], own["booking"]["id"],
        "{ev}"
    );
}

/// Issue 15: a client that never finishes its headers, or stalls its body, is dropped.
#[tokio::test]
async fn slow_clients_are_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        settings: Some(std::sync::Arc::new(|s: &mut servicegraph::Settings| {
            s.graphql.read_timeouts = servicegraph::serve::ReadTimeouts {
                headers: Duration::from_secs(1),
                body: Duration::from_secs(1),
            };
        })),
        ..Default::default()
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_string();
    // Unfinished headers.
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    // A body that stops after a few bytes.
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\"",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
}
