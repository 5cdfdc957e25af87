//! A local Google for the calendar tests: OAuth (token endpoint with PKCE checks,
//! refresh, revocation) and the Calendar API v3 (calendar list, events with paging and
//! sync tokens, insert / update / delete with Google's 409 on a taken id, watch and
//! channel stop), speaking Google's documented JSON, with state the tests can change
//! (events, expired sync tokens, revoked grants, slow answers) and a log of requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Options, Owner, TestApp};

/// The test OAuth client (test values).
pub const CLIENT_ID: &str = "test-client.apps.googleusercontent.com";
/// Its secret (a test value).
pub const CLIENT_SECRET: &str = "test-google-client-secret";
/// The connected account's primary calendar.
pub const PRIMARY: &str = "tech@example.com";
/// A second, read-only calendar.
pub const TEAM: &str = "team@group.calendar.google.com";

/// One logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Method.
    pub method: String,
    /// Path (under the mock root).
    pub path: String,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Form or JSON body.
    pub body: String,
}

/// A push channel Google was asked to open.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Our channel id.
    pub id: String,
    /// Its token.
    pub token: String,
    /// Where notifications go.
    pub address: String,
    /// Calendar.
    pub calendar: String,
}

/// The mock's state.
#[derive(Default)]
pub struct Fake {
    /// Authorization codes issued → their PKCE challenge.
    pub codes: HashMap<String, String>,
    /// Valid access tokens.
    pub access: Vec<String>,
    /// Refresh tokens issued and not revoked.
    pub refresh: Vec<String>,
    /// Revoked tokens.
    pub revoked: Vec<String>,
    /// Events per calendar: event id → (change sequence, event JSON).
    pub events: BTreeMap<String, BTreeMap<String, (u64, Value)>>,
    /// Change counter.
    pub seq: u64,
    /// Sync tokens below this sequence answer 410.
    pub min_sync_seq: u64,
    /// Events per page.
    pub page_size: usize,
    /// Delay of each `events.list` answer.
    pub list_delay: Duration,
    /// Status codes to answer the next `events.list` calls with.
    pub fail_lists: Vec<(u16, Value)>,
    /// Channels opened.
    pub watched: Vec<Watched>,
    /// Channels stopped (ids).
    pub stopped: Vec<String>,
    /// Every request.
    pub log: Vec<Logged>,
    n: u64,
}

/// A running mock.
#[derive(Clone)]
pub struct Google {
    /// Root URL.
    pub uri: String,
    /// State.
    pub state: Arc<Mutex<Fake>>,
}

fn err(status: u16, reason: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": {"code": status, "message": "mock", "errors": [{"domain": "global", "reason": reason}]}})),
    )
        .into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl Google {
    /// Starts the mock on a free port.
    pub async fn start() -> Google {
        let state = Arc::new(Mutex::new(Fake {
            page_size: 2,
            ..Fake::default()
        }));
        let app = axum::Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/calendar/v3/{*rest}", any(calendar))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Google { uri, state }
    }

    /// Options of a server whose Google is this mock.
    pub fn options(&self) -> Options {
        let uri = self.uri.clone();
        Options {
            settings: Some(Arc::new(move |s: &mut servicegraph::Settings| {
                s.google.client_id = Some(CLIENT_ID.into());
                s.google.client_secret = Some(servicegraph::settings::Secret::new(CLIENT_SECRET));
                s.google.auth_url = format!("{uri}/auth");
                s.google.token_url = format!("{uri}/token");
                s.google.revoke_url = format!("{uri}/revoke");
                s.google.api_base = format!("{uri}/calendar/v3");
                // Generous: no test needs Google to time out, and a loaded CI machine
                // must not turn a slow local answer into a failed connection.
                s.google.timeout = Duration::from_secs(10);
            })),
            ..Options::default()
        }
    }

    /// Adds or replaces an event (a change in Google).
    pub fn put_event(&self, calendar: &str, event: Value) {
        let mut f = self.state.lock().unwrap();
        f.seq += 1;
        let seq = f.seq;
        let id = event["id"].as_str().unwrap().to_string();
        f.events
            .entry(calendar.into())
            .or_default()
            .insert(id, (seq, event));
    }

    /// Deletes an event the way Google does (kept as `cancelled`).
    pub fn cancel_event(&self, calendar: &str, id: &str) {
        let mut f = self.state.lock().unwrap();
        f.seq += 1;
        let seq = f.seq;
        if let Some(e) = f.events.get_mut(calendar).and_then(|c| c.get_mut(id)) {
            e.0 = seq;
            e.1["status"] = json!("cancelled");
        }
    }

    /// Live (not cancelled) events of a calendar.
    pub fn live_events(&self, calendar: &str) -> Vec<Value> {
        let f = self.state.lock().unwrap();
        f.events
            .get(calendar)
            .map(|c| {
                c.values()
                    .filter(|(_, e)| e["status"] != "cancelled")
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Logged requests whose path ends with `suffix` and method is `method`.
    pub fn requests(&self, method: &str, suffix: &str) -> Vec<Logged> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|l| l.method == method && l.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// Connects `staff` of `owner`: asks for the consent URL, plays Google's consent page
    /// (issues a code for its PKCE challenge) and follows the callback. Returns the
    /// consent URL and the callback's status.
    pub async fn connect(&self, app: &TestApp, owner: &Owner, staff: &str) -> (url::Url, u16) {
        let r = app
            .gql(
                Some(&owner.token),
                "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url userErrors { code } } }",
                json!({"s": staff}),
            )
            .await;
        let url = url::Url::parse(r["connectGoogleCalendar"]["url"].as_str().unwrap()).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let code = {
            let mut f = self.state.lock().unwrap();
            f.n += 1;
            let code = format!("code-{}", f.n);
            f.codes.insert(code.clone(), q["code_challenge"].clone());
            code
        };
        let status = app
            .get(&format!(
                "/oauth/google/callback?state={}&code={code}&scope=x",
                urlencode(&q["state"])
            ))
            .await
            .status()
            .as_u16();
        (url, status)
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn log(f: &mut Fake, method: &str, uri: &Uri, body: &[u8]) {
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    f.log.push(Logged {
        method: method.into(),
        path: uri.path().into(),
        query,
        body: String::from_utf8_lossy(body).into(),
    });
}

async fn token(State(st): State<Arc<Mutex<Fake>>>, uri: Uri, body: Bytes) -> Response {
    let mut f = st.lock().unwrap();
    log(&mut f, "POST", &uri, &body);
    let p = form(&body);
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || p.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    f.n += 1;
    let n = f.n;
    match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(challenge) = f
                .codes
                .remove(p.get("code").map(String::as_str).unwrap_or(""))
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            };
            let verifier = p.get("code_verifier").cloned().unwrap_or_default();
            let s256 = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if s256 != challenge {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            let (access, refresh) = (format!("ya29.access-{n}"), format!("1//refresh-{n}"));
            f.access.push(access.clone());
            f.refresh.push(refresh.clone());
            Json(json!({"access_token": access, "expires_in": 3599, "refresh_token": refresh,
                "scope": "https://www.googleapis.com/auth/calendar.events", "token_type": "Bearer"}))
            .into_response()
        }
        Some("refresh_token") => {
            let r = p.get("refresh_token").cloned().unwrap_or_default();
            if !f.refresh.contains(&r) {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant",
                    "error_description": "Token has been expired or revoked."})),
                )
                    .into_response();
            }
            let access = format!("ya29.access-{n}");
            f.access.push(access.clone());
            Json(json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

async fn revoke(State(st): State<Arc<Mutex<Fake>>>, uri: Uri, body: Bytes) -> Response {
    let mut f = st.lock().unwrap();
    log(&mut f, "POST", &uri, &body);
    let t = form(&body).get("token").cloned().unwrap_or_default();
    f.refresh.retain(|r| *r != t);
    f.access.retain(|r| *r != t);
    f.revoked.push(t);
    StatusCode::OK.into_response()
}

fn decode(seg: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", seg.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn calendar(
    State(st): State<Arc<Mutex<Fake>>>,
    method: Method,
    Path(rest): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = {
        let mut f = st.lock().unwrap();
        log(&mut f, method.as_str(), &uri, &body);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        if !f.access.contains(&auth) {
            return err(401, "authError");
        }
        f.list_delay
    };
    let raw: Vec<&str> = uri
        .path()
        .trim_start_matches("/calendar/v3/")
        .split('/')
        .collect();
    let _ = rest;
    let segs: Vec<String> = raw.iter().map(|s| decode(s)).collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
        ("GET", ["users", "me", "calendarList"]) => Json(json!({
            "kind": "calendar#calendarList",
            "items": [
                {"id": PRIMARY, "summary": PRIMARY, "primary": true, "accessRole": "owner", "timeZone": "America/New_York"},
                {"id": TEAM, "summary": "Team", "accessRole": "reader", "timeZone": "America/New_York"}
            ]
        }))
        .into_response(),
        ("GET", ["calendars", cal, "events"]) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            list(&st, cal, &q)
        }
        ("POST", ["calendars", cal, "events"]) => {
            let mut f = st.lock().unwrap();
            let id = body["id"].as_str().unwrap_or_default().to_string();
            if f.events.get(*cal).is_some_and(|c| c.contains_key(&id)) {
                return err(409, "duplicate");
            }
            f.seq += 1;
            let seq = f.seq;
            f.events.entry(cal.to_string()).or_default().insert(id, (seq, body.clone()));
            Json(body).into_response()
        }
        ("PUT", ["calendars", cal, "events", id]) => {
            let mut f = st.lock().unwrap();
            f.seq += 1;
            let seq = f.seq;
            match f.events.get_mut(*cal).and_then(|c| c.get_mut(*id)) {
                Some(e) => {
                    *e = (seq, body.clone());
                    Json(body).into_response()
                }
                None => err(404, "notFound"),
            }
        }
        ("DELETE", ["calendars", cal, "events", id]) => {
            let mut f = st.lock().unwrap();
            f.seq += 1;
            let seq = f.seq;
            match f.events.get_mut(*cal).and_then(|c| c.get_mut(*id)) {
                Some(e) if e.1["status"] == "cancelled" => err(410, "deleted"),
                Some(e) => {
                    e.0 = seq;
                    e.1["status"] = json!("cancelled");
                    StatusCode::NO_CONTENT.into_response()
                }
                None => err(404, "notFound"),
            }
        }
        ("POST", ["calendars", cal, "events", "watch"]) => {
            let mut f = st.lock().unwrap();
            let w = Watched {
                id: body["id"].as_str().unwrap_or_default().into(),
                token: body["token"].as_str().unwrap_or_default().into(),
                address: body["address"].as_str().unwrap_or_default().into(),
                calendar: cal.to_string(),
            };
            let ttl: i64 = body["params"]["ttl"].as_str().and_then(|t| t.parse().ok()).unwrap_or(604800);
            let exp = (chrono::Utc::now() + chrono::Duration::seconds(ttl)).timestamp_millis();
            f.watched.push(w.clone());
            Json(json!({"kind": "api#channel", "id": w.id, "resourceId": format!("res-{cal}"),
                "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/x/events",
                "expiration": exp.to_string()}))
            .into_response()
        }
        ("POST", ["channels", "stop"]) => {
            let mut f = st.lock().unwrap();
            let id = body["id"].as_str().unwrap_or_default().to_string();
            f.stopped.push(id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => err(404, "notFound"),
    }
}

fn list(st: &Arc<Mutex<Fake>>, cal: &str, q: &HashMap<String, String>) -> Response {
    let mut f = st.lock().unwrap();
    if !f.fail_lists.is_empty() {
        let (status, body) = f.fail_lists.remove(0);
        return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    }
    assert_eq!(q.get("singleEvents").map(String::as_str), Some("true"));
    let since = match q.get("syncToken") {
        Some(t) => {
            assert!(
                !q.contains_key("timeMin"),
                "timeMin with syncToken is refused by Google"
            );
            let seq: u64 = t.trim_start_matches("sync-").parse().unwrap_or(0);
            if seq < f.min_sync_seq {
                return err(410, "fullSyncRequired");
            }
            Some(seq)
        }
        None => None,
    };
    let mut items: Vec<Value> = f
        .events
        .get(cal)
        .map(|c| {
            c.values()
                .filter(|(seq, e)| match since {
                    Some(s) => *seq > s,
                    None => e["status"] != "cancelled",
                })
                .map(|(_, e)| e.clone())
                .collect()
        })
        .unwrap_or_default();
    items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let start: usize = q.get("pageToken").and_then(|p| p.parse().ok()).unwrap_or(0);
    let end = (start + f.page_size).min(items.len());
    let page = items[start.min(items.len())..end].to_vec();
    let mut out = json!({"kind": "calendar#events", "timeZone": "America/New_York", "items": page});
    if end < items.len() {
        out["nextPageToken"] = json!(end.to_string());
    } else {
        out["nextSyncToken"] = json!(format!("sync-{}", f.seq));
    }
    f.n += 1;
    Json(out).into_response()
}
