//! OpenTelemetry traces (issue 9): the binary with `OTEL_EXPORTER_OTLP_ENDPOINT` pointed
//! at a local collector exports, over OTLP/HTTP with JSON bodies, one span per GraphQL
//! request (with the operation's type and name and the request id) and one per database
//! statement as its children — never the bearer token or the caller's password.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A collector that keeps every OTLP/HTTP JSON body posted to `/v1/traces`.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = got.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let keep = keep.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    keep.lock().unwrap().push(v);
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

/// Every span in the posted bodies: `(name, trace id, span id, parent id, attributes)`.
fn spans(bodies: &[Value]) -> Vec<(String, String, String, String, Value)> {
    let mut out = Vec::new();
    for b in bodies {
        for rs in b["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let attrs: serde_json::Map<String, Value> = s["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let v = &a["value"];
                            let v = v
                                .get("stringValue")
                                .or_else(|| v.get("intValue"))
                                .or_else(|| v.get("boolValue"))
                                .cloned()
                                .unwrap_or(Value::Null);
                            (a["key"].as_str().unwrap_or_default().to_string(), v)
                        })
                        .collect();
                    out.push((
                        s["name"].as_str().unwrap_or_default().to_string(),
                        s["traceId"].as_str().unwrap_or_default().to_string(),
                        s["spanId"].as_str().unwrap_or_default().to_string(),
                        s["parentSpanId"].as_str().unwrap_or_default().to_string(),
                        Value::Object(attrs),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_binary_exports_request_and_statement_spans_over_otlp() {
    let (endpoint, got) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_servicegraph"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_SERVICE_NAME", "servicegraph-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .expect("the server starts within 60 s")
        .unwrap()
        .expect("a first line");
    let base = first
        .strip_prefix("Servicegraph listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    let http = reqwest::Client::new();
    let password = "demo-password";
    let login: Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({"query": format!("mutation LogIn {{ logIn(input: {{email: \"owner@demo.servicegraph.dev\", password: \"{password}\"}}) {{ accessToken }} }}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["logIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_string();
    let page: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-test-request-1")
        .json(&json!({"query": "query BookingsPage { bookings(first: 5) { edges { node { id customer { name } } } } }", "operationName": "BookingsPage"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["data"]["bookings"].is_object(), "{page}");

    let found = crate::helpers::eventually("the request's spans at the collector", || {
        let got = got.clone();
        async move {
            let bodies = got.lock().unwrap().clone();
            let all = spans(&bodies);
            let request = all
                .iter()
                .find(|s| s.0 == "graphql" && s.4["graphql.operation.name"] == "BookingsPage")?
                .clone();
            let children: Vec<_> = all
                .iter()
                .filter(|s| s.0 == "db.statement" && s.3 == request.2)
                .cloned()
                .collect();
            (!children.is_empty()).then_some((bodies, request, children))
        }
    })
    .await;
    let (bodies, request, children) = found;
    assert_eq!(
        request.4["graphql.operation.type"], "query",
        "{:?}",
        request.4
    );
    assert_eq!(
        request.4["request_id"], "trace-test-request-1",
        "{:?}",
        request.4
    );
    assert!(request.4["tenant_id"].is_string(), "{:?}", request.4);
    for c in &children {
        assert_eq!(c.1, request.1, "same trace");
        let sql = c.4["db.statement"].as_str().unwrap();
        assert!(sql.to_uppercase().contains("SELECT"), "{sql}");
        assert_eq!(c.4["db.system"], "sqlite");
    }
    let text = serde_json::to_string(&bodies).unwrap();
    assert!(
        text.contains("servicegraph-test"),
        "the service name is on the resource"
    );
    assert!(!text.contains(&token), "the bearer token is never exported");
    assert!(!text.contains(password), "the password is never exported");
    // No span per resolver: nothing from async-graphql's own spans.
    assert!(
        spans(&bodies)
            .iter()
            .all(|s| s.0 == "graphql" || s.0 == "db.statement" || s.0 == "provider.call"),
        "{:?}",
        spans(&bodies).iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    let _ = child.kill().await;
}
