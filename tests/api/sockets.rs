//! WebSocket hardening (issue 15, finding 7): sockets close when their credentials
//! expire or are revoked, silent sockets time out, and connections and operations are
//! capped — with the graphql-transport-ws close codes.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use servicegraph::Settings;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Options, TestApp, slug, spawn_app, spawn_app_with};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Result<Ws, u16> {
    let mut req = format!("{}/graphql/ws", app.address.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connect: {e}"),
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text message, or the close code (`Err`) — within `secs`.
async fn next(ws: &mut Ws, secs: u64) -> Result<Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(secs), ws.next())
            .await
            .expect("a message in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    continue;
                }
                return Ok(v);
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map(|f| u16::from(f.code)).unwrap_or(0));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(0),
        }
    }
}

async fn init(ws: &mut Ws, token: &str) -> Result<Value, u16> {
    send(
        ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    next(ws, 10).await
}

fn forge(claims: Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_credentials_are_refused_with_4403() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await.unwrap();
    assert_eq!(init(&mut ws, "forged").await, Err(4403));
    let mut ws = connect(&app).await.unwrap();
    send(&mut ws, json!({"type": "connection_init", "payload": {}})).await;
    assert_eq!(next(&mut ws, 10).await, Err(4403));
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("wsexp")).await;
    let secret = app.settings.jwt_secret.expose().as_bytes().to_vec();
    let now = chrono::Utc::now().timestamp();
    let token = forge(
        json!({"sub": serde_json::from_str::<Value>(&format!("\"{}\"", user_of(&app, &owner.token).await)).unwrap(),
               "tid": owner.tenant_id, "role": "OWNER", "iss": "servicegraph", "aud": "servicegraph-api",
               "iat": now, "exp": now + 2}),
        &secret,
    );
    let mut ws = connect(&app).await.unwrap();
    assert_eq!(
        init(&mut ws, &token).await.unwrap()["type"],
        "connection_ack"
    );
    send(&mut ws, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { bookingEvents { kind } }"}})).await;
    assert_eq!(next(&mut ws, 10).await, Err(4401));
}

async fn user_of(app: &TestApp, token: &str) -> String {
    app.gql(Some(token), "{ me { user { id } } }", json!({}))
        .await["me"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn revoking_an_agent_key_or_logging_out_closes_open_sockets() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("wsrev")).await;
    let key = app
        .gql(
            Some(&owner.token),
            "mutation { createAgentKey(name: \"Phone\") { key agentKey { id } } }",
            json!({}),
        )
        .await["createAgentKey"]
        .clone();
    let (secret, key_id) = (
        key["key"].as_str().unwrap().to_string(),
        key["agentKey"]["id"].as_str().unwrap().to_string(),
    );
    let mut agent = connect(&app).await.unwrap();
    assert_eq!(
        init(&mut agent, &secret).await.unwrap()["type"],
        "connection_ack"
    );
    let mut user = connect(&app).await.unwrap();
    assert_eq!(
        init(&mut user, &owner.token).await.unwrap()["type"],
        "connection_ack"
    );
    // The agent's socket works, then the key is revoked: it closes at once.
    send(&mut agent, json!({"id": "q", "type": "subscribe", "payload": {"query": "{ services(first: 1) { totalCount } }"}})).await;
    assert_eq!(next(&mut agent, 10).await.unwrap()["type"], "next");
    app.gql(
        Some(&owner.token),
        "mutation($id: ID!) { revokeAgentKey(id: $id) { revokedAt } }",
        json!({"id": key_id}),
    )
    .await;
    loop {
        match next(&mut agent, 10).await {
            Ok(_) => continue, // the `complete` of the query
            Err(code) => {
                assert_eq!(code, 4403);
                break;
            }
        }
    }
    // The owner's socket is unaffected, until the owner logs out.
    send(
        &mut user,
        json!({"id": "q", "type": "subscribe", "payload": {"query": "{ me { user { email } } }"}}),
    )
    .await;
    assert_eq!(next(&mut user, 10).await.unwrap()["type"], "next");
    let out = app
        .gql(
            None,
            "mutation($t: String!) { logOut(refreshToken: $t) { userErrors { code } } }",
            json!({"t": owner.refresh}),
        )
        .await;
    assert_eq!(out["logOut"]["userErrors"], json!([]), "{out}");
    loop {
        match next(&mut user, 10).await {
            Ok(_) => continue,
            Err(code) => {
                assert_eq!(code, 4403);
                break;
            }
        }
    }
}

fn caps(adjust: impl Fn(&mut Settings) + Send + Sync + 'static) -> Options {
    Options {
        settings: Some(Arc::new(adjust)),
        ..Options::default()
    }
}

#[tokio::test]
async fn silent_sockets_time_out_and_connections_and_operations_are_capped() {
    let app = spawn_app_with(caps(|s| {
        s.limits.sockets.init_timeout = Duration::from_secs(1);
        s.limits.sockets.per_client = 2;
        s.limits.sockets.streams = 2;
    }))
    .await;
    let owner = app.sign_up(&slug("wscap")).await;
    // No connection_init: closed with 4408.
    let mut silent = connect(&app).await.unwrap();
    assert_eq!(next(&mut silent, 5).await, Err(4408));
    drop(silent);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two sockets per client address; the third is refused before the upgrade.
    let mut a = connect(&app).await.unwrap();
    let _b = connect(&app).await.unwrap();
    assert_eq!(connect(&app).await.err(), Some(429));
    // Two running operations per socket; a third closes it with 4429.
    assert_eq!(
        init(&mut a, &owner.token).await.unwrap()["type"],
        "connection_ack"
    );
    for id in ["1", "2", "3"] {
        send(&mut a, json!({"id": id, "type": "subscribe", "payload": {"query": "subscription { bookingEvents { kind } }"}})).await;
    }
    assert_eq!(next(&mut a, 10).await, Err(4429));
}

#[tokio::test]
async fn shutdown_closes_subscriptions_with_service_restart() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("shutdown")).await;
    let mut ws = crate::helpers::subscribe_to(
        &app,
        &owner.token,
        "subscription { bookingEvents { kind } }",
    )
    .await;
    let _dir = app.stop();
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = frame.expect("a close code");
    assert_eq!(frame.code, CloseCode::from(1012));
    assert_eq!(frame.reason.as_str(), "Service restarting");
}
