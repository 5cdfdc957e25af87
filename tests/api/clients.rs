//! The public schema with the tools developers use: the playground page and its files,
//! standard introspection within the limits, and the real client libraries — graphql-js
//! (`getIntrospectionQuery` → `buildClientSchema` = the committed SDL), the graphql-ws
//! client, Python `gql` (HTTP with schema fetching, and websockets), and headless Chromium
//! on `/playground` (query, schema explorer, subscription; screenshot kept in
//! `$CARGO_TARGET_TMPDIR/clients/playground.png`).
//!
//! The library tests need `tests/clients/setup.sh` (Node packages, a Python venv,
//! chromium). Without them they are skipped with a message, unless
//! `SG_CLIENT_TESTS=require` (as `.ci/run` sets), which makes a missing tool a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether a missing client tool fails the test (`SG_CLIENT_TESTS=require`).
fn required() -> bool {
    std::env::var("SG_CLIENT_TESTS").is_ok_and(|v| v == "require")
}

/// `Some(reason)` when the tool is missing: the caller skips (or fails when required).
fn missing(what: &str, present: bool) -> bool {
    if present {
        return false;
    }
    assert!(
        !required(),
        "{what} is missing and SG_CLIENT_TESTS=require: run tests/clients/setup.sh"
    );
    eprintln!("skipped: {what} is missing (run tests/clients/setup.sh)");
    true
}

fn node_ready() -> bool {
    clients_dir().join("node_modules/graphql-ws").is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn python() -> Option<PathBuf> {
    let venv = clients_dir().join(".venv/bin/python");
    venv.is_file().then_some(venv)
}

fn chromium() -> Option<String> {
    std::env::var("CHROMIUM")
        .ok()
        .or_else(|| Some("/usr/bin/chromium".to_string()))
        .filter(|p| Path::new(p).is_file())
}

async fn demo_app() -> (TestApp, String) {
    let app = spawn_app_with(Options {
        seed_demo: true,
        ..Default::default()
    })
    .await;
    let token = app.log_in_demo_owner().await["accessToken"]
        .as_str()
        .expect("demo login")
        .to_string();
    (app, token)
}

/// Who makes booking events for a subscribed client: the demo owner on a test server.
#[derive(Clone)]
struct Trigger {
    address: String,
    http: reqwest::Client,
    token: String,
}

impl Trigger {
    fn of(app: &TestApp, token: &str) -> Trigger {
        Trigger {
            address: app.address.clone(),
            http: app.http.clone(),
            token: token.to_string(),
        }
    }

    async fn post(&self, query: &str, variables: Value) -> Value {
        self.http
            .post(format!("{}/graphql", self.address))
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Cancels the demo tenant's confirmed bookings, one every half second, until
    /// stopped: each is a `CANCELED` booking event.
    async fn make_events(self) {
        let r = self
            .post(
                "{ bookings(status: [CONFIRMED], first: 50) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let ids: Vec<String> = r["data"]["bookings"]["edges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["node"]["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        assert!(!ids.is_empty(), "the demo has confirmed bookings: {r}");
        for id in ids {
            self.post(
                "mutation($id: ID!) { cancelBooking(id: $id) { booking { id } } }",
                json!({"id": id}),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Runs a client program; once it prints `READY`, makes booking events until it exits.
/// Returns its stdout lines; panics with its output when it fails.
async fn run_client(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    events: Option<Trigger>,
) -> Vec<String> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(clients_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut s).await;
        s
    });
    let mut lines = BufReader::new(stdout).lines();
    let mut out = Vec::new();
    let mut maker = None;
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "READY"
                && let Some(t) = events.clone()
            {
                maker = Some(tokio::spawn(t.make_events()));
            }
            out.push(line);
        }
        child.wait().await
    };
    let status = tokio::time::timeout(Duration::from_secs(180), read)
        .await
        .expect("client finished within 180 s")
        .unwrap();
    if let Some(m) = maker {
        m.abort();
    }
    let err = err_task.await.unwrap_or_default();
    assert!(
        status.success(),
        "{} {args:?} failed ({status}):\nstdout: {out:?}\nstderr: {err}",
        program.display()
    );
    out
}

fn last_json(lines: &[String]) -> Value {
    lines
        .iter()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("no JSON line in {lines:?}"))
}

#[tokio::test]
async fn the_standard_introspection_queries_pass_the_default_limits() {
    let app = spawn_app().await;
    let query =
        std::fs::read_to_string(clients_dir().join("fixtures/introspection.graphql")).unwrap();
    let (status, body) = app.post(None, &query, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{}", body["errors"]);
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Booking"));
}

#[tokio::test]
async fn circular_and_deep_introspection_is_still_refused() {
    let app = spawn_app().await;
    // The circular `__type` attack: member lists nested three deep (graphql-js's rule).
    let circular =
        "{ __type(name: \"Query\") { fields { type { fields { type { fields { name } } } } } } }";
    // The same through fragments, which must not hide the nesting.
    let fragments = "query { __schema { types { ...T } } } fragment T on __Type { fields { type { ...U } } } fragment U on __Type { interfaces { possibleTypes { name } } }";
    // `ofType` one level deeper than the standard query's 15.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType {".repeat(11),
        "}".repeat(11)
    );
    for (query, message) in [
        (circular, "Maximum introspection depth exceeded"),
        (fragments, "Maximum introspection depth exceeded"),
        (deep.as_str(), "Query is nested too deep."),
    ] {
        let (status, body) = app.post(None, query, json!({})).await;
        assert_eq!(status, 200);
        assert!(body["data"].is_null(), "{query}: {body}");
        assert_eq!(body["errors"][0]["message"], message, "{query}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
    // Outside introspection the ordinary depth limit (12) still holds.
    let thirteen = format!("{{ me {} id {} }}", "tenant {".repeat(12), "}".repeat(12));
    let (_, body) = app.post(None, &thirteen, json!({})).await;
    assert_eq!(body["errors"][0]["message"], "Query is nested too deep.");
    // And a document of many aliased introspections is held by the root-field cap.
    let aliases: String = (0..21)
        .map(|i| format!("a{i}: __schema {{ queryType {{ name }} }} "))
        .collect();
    let (_, body) = app.post(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

#[tokio::test]
async fn the_playground_is_served_from_the_binary_under_a_strict_policy() {
    let (app, _) = demo_app().await;
    let page = app.get("/playground").await;
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    // Every script and style is one of ours; none names another origin.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//unpkg"));
    assert!(html.contains(&format!(
        "data-demo-email=\"{}\"",
        graph::seed::DEMO_OWNER_EMAIL
    )));
    let mut pinned = 0;
    for line in include_str!("../../playground/vendor/SHA256SUMS").lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        assert!(
            html.contains(&format!("/playground/vendor/{name}")),
            "{name} is used"
        );
        let resp = app.get(&format!("/playground/vendor/{name}")).await;
        assert_eq!(resp.status().as_u16(), 200, "{name}");
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        let body = resp.bytes().await.unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            sum,
            "{name} matches SHA256SUMS"
        );
        // Revalidation costs no body.
        let again = app
            .http
            .get(format!("{}/playground/vendor/{name}", app.address))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304);
        pinned += 1;
    }
    assert_eq!(pinned, 4);
    for (path, ty) in [
        ("/playground/app.js", "javascript"),
        ("/playground/app.css", "css"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().contains(ty));
    }
    // The saved operations, as the page lists them.
    let ops: Value = app
        .get("/playground/operations.json")
        .await
        .json()
        .await
        .unwrap();
    let ops = ops.as_array().unwrap();
    let on_disk = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("playground"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".graphql"))
        })
        .count();
    assert_eq!(ops.len(), on_disk);
    let login = ops.iter().find(|o| o["file"] == "login.graphql").unwrap();
    assert_eq!(login["name"], "LogIn");
    assert_eq!(login["kind"], "mutation");
    let events = ops
        .iter()
        .find(|o| o["file"] == "booking_events.graphql")
        .unwrap();
    assert_eq!(events["kind"], "subscription");
    assert!(ops.iter().any(|o| o["public"] == true));
    // Nothing else of playground/ is reachable; nothing outside it at all.
    for path in [
        "/playground/login.graphql",
        "/playground/vendor/fetch.sh",
        "/playground/README.md",
        "/playground/vendor/..%2F..%2FCargo.toml",
        "/playground/..%2FCargo.toml",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    // The SDL, as committed.
    let sdl = app.get("/schema.graphql").await.text().await.unwrap();
    assert_eq!(
        sdl,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/schema.graphql")
        )
        .unwrap()
    );
}

#[tokio::test]
async fn graphql_js_builds_the_committed_schema_from_introspection() {
    if missing("Node with tests/clients/node_modules", node_ready()) {
        return;
    }
    let app = spawn_app().await;
    let sdl = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/schema.graphql");
    let out = run_client(
        Path::new("node"),
        &["introspect.mjs", &app.address, sdl.to_str().unwrap()],
        &[],
        None,
    )
    .await;
    let r = last_json(&out);
    assert!(r["types"].as_u64().unwrap() > 100, "{r}");
}

#[tokio::test]
async fn the_graphql_ws_client_queries_and_receives_a_subscription_event() {
    if missing("Node with tests/clients/node_modules", node_ready()) {
        return;
    }
    let (app, token) = demo_app().await;
    let out = run_client(
        Path::new("node"),
        &["ws_client.mjs", &app.address, &token],
        &[],
        Some(Trigger::of(&app, &token)),
    )
    .await;
    let query: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(
        query["query"]["data"]["me"]["user"]["email"],
        graph::seed::DEMO_OWNER_EMAIL
    );
    let ev = last_json(&out);
    assert_eq!(
        ev["event"]["data"]["bookingEvents"]["kind"], "CANCELED",
        "{ev}"
    );
}

#[tokio::test]
async fn python_gql_fetches_the_schema_queries_and_subscribes() {
    let Some(py) = python() else {
        missing("tests/clients/.venv (Python gql)", false);
        return;
    };
    let (app, token) = demo_app().await;
    let out = run_client(
        &py,
        &["gql_client.py", &app.address, &token],
        &[],
        Some(Trigger::of(&app, &token)),
    )
    .await;
    let first: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(
        first["query"]["me"]["user"]["email"],
        graph::seed::DEMO_OWNER_EMAIL
    );
    assert!(first["types"].as_u64().unwrap() > 100, "{first}");
    let ev = last_json(&out);
    assert_eq!(ev["event"]["bookingEvents"]["kind"], "CANCELED", "{ev}");
}

#[tokio::test]
async fn a_browser_runs_the_playground_offline() {
    if missing("Node with tests/clients/node_modules", node_ready()) {
        return;
    }
    let Some(chrome) = chromium() else {
        missing("chromium (or CHROMIUM)", false);
        return;
    };
    let (app, token) = demo_app().await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("playground.png");
    let _ = std::fs::remove_file(&shot);
    let out = run_client(
        Path::new("node"),
        &["browser.mjs", &app.address, shot.to_str().unwrap()],
        &[("CHROMIUM", &chrome)],
        Some(Trigger::of(&app, &token)),
    )
    .await;
    let r = last_json(&out);
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["saved"].as_u64().unwrap() > 10, "{r}");
    assert_eq!(
        r["event"]["data"]["bookingEvents"]["kind"], "CANCELED",
        "{r}"
    );
    assert!(shot.is_file(), "screenshot kept at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}

#[tokio::test]
async fn without_the_playground_only_the_sdl_is_served() {
    let app = spawn_app_with(Options {
        settings: Some(std::sync::Arc::new(|s: &mut servicegraph::Settings| {
            s.graphql.playground = false;
        })),
        ..Default::default()
    })
    .await;
    for path in [
        "/playground",
        "/playground/app.js",
        "/playground/operations.json",
        "/playground/vendor/graphiql.min.js",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let r = app.get("/schema.graphql").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("type Query"));
}
