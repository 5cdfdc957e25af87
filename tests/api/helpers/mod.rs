//! Test harness: `spawn_app()` starts the real server on port 0 with its own database
//! (a temporary SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL`
//! is set, reached as the non-owner runtime role) and, with `TEST_REDIS_URL`, a Redis
//! event bus on a channel of its own. Provider mocks every provider's tests reuse live
//! beside it ([`stripe`]).

pub mod google;
pub mod proxy;
pub mod smtp;
pub mod stripe;
pub mod twilio;

use chrono::{Datelike, NaiveDate, Utc, Weekday};
use reqwest::Url;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use servicegraph::{Application, Settings};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Name of the PostgreSQL runtime role (owns nothing; subject to row-level security).
pub const APP_ROLE: &str = "servicegraph_app";

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Shared state (database handle etc.).
    pub state: graph::GraphState,
    /// The settings it runs with.
    pub settings: Settings,
    /// `true` on PostgreSQL.
    pub postgres: bool,
    /// Owner (migration) URL of the PostgreSQL test database.
    pub owner_url: Option<String>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// The test servers' `ENCRYPTION_KEY` (32 bytes of base64; a test value, not a secret).
pub use servicegraph::settings::TEST_ENCRYPTION_KEY;

/// A change to the test settings (see [`Options::settings`]).
pub type AdjustSettings = std::sync::Arc<dyn Fn(&mut Settings) + Send + Sync>;

/// Additions to the standard extensions (see [`Options::extend`]).
pub type AdjustExtensions = std::sync::Arc<dyn Fn(&mut graph::state::AppExtensions) + Send + Sync>;

/// Options of `spawn_app_with`.
#[derive(Default, Clone)]
pub struct Options {
    /// Seed the demo tenant.
    pub seed_demo: bool,
    /// Reuse this database (URL + owner URL) instead of a new one.
    pub database: Option<(String, Option<String>)>,
    /// Share this Redis channel.
    pub redis_channel: Option<String>,
    /// Adjusts the settings before the server is built (Stripe mock URL, keys, …).
    pub settings: Option<AdjustSettings>,
    /// Registers extra job handlers, periodic jobs or hooks besides the standard ones.
    pub extend: Option<AdjustExtensions>,
}

/// A new PostgreSQL database: `(runtime role URL, owner URL)`.
pub async fn fresh_postgres(admin_url: &str) -> (String, String) {
    let admin = Database::connect(admin_url)
        .await
        .expect("connect TEST_DATABASE_URL");
    let name = format!("sg_test_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    // The role is cluster-wide; concurrent tests may race to create it.
    let _ = admin
        .execute_unprepared(&format!(
            "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .await;
    admin.close().await.ok();
    let mut owner = Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    owner.set_path(&format!("/{name}"));
    let mut app = owner.clone();
    app.set_username(APP_ROLE).expect("set user");
    app.set_password(None).expect("set password");
    (app.to_string(), owner.to_string())
}

/// Starts a server with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Options of a server without rate limits (`RATE_LIMITS=off`), for load-like tests
/// (bulk replays, randomized concurrency) that are about something else.
pub fn without_rate_limits() -> Options {
    Options {
        settings: Some(std::sync::Arc::new(|s: &mut Settings| {
            s.limits.config.enabled = false;
        })),
        ..Options::default()
    }
}

/// Starts a server.
pub async fn spawn_app_with(opts: Options) -> TestApp {
    servicegraph::install_crypto_provider();
    // Server-side errors (logged, never sent to clients) show up in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let (database_url, owner_url) = match opts.database.clone() {
        Some(db) => db,
        None => match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                let (app, owner) = fresh_postgres(&url).await;
                (app, Some(owner))
            }
            _ => (Settings::for_tests(dir.path()).database.url, None),
        },
    };
    let redis_url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let mut settings = Settings::for_tests(dir.path());
    settings.database.url = database_url.clone();
    settings.database.migration_url = owner_url.clone();
    settings.seed_demo = opts.seed_demo;
    settings.limits.redis_url = redis_url.clone();
    settings.redis.url = redis_url;
    settings.redis.events_channel = opts
        .redis_channel
        .clone()
        .unwrap_or_else(|| format!("sg-test:{}", Uuid::new_v4()));
    if let Some(adjust) = &opts.settings {
        adjust(&mut settings);
    }
    let mut extensions = graph::domains::extensions();
    if let Some(extend) = &opts.extend {
        extend(&mut extensions);
    }
    let app = Application::build_with(settings.clone(), extensions)
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        http: reqwest::Client::new(),
        state,
        settings,
        postgres: database_url.starts_with("postgres"),
        owner_url,
        _stop: tx,
        _dir: dir,
    }
}

/// An owner who signed up.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Slug.
    pub slug: String,
    /// Email.
    pub email: String,
}

/// Default password of test users.
pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Stops the server (its background tasks are aborted mid-flight, like a crash) and
    /// hands back its data directory so that a new server can reuse the database.
    pub fn stop(self) -> tempfile::TempDir {
        drop(self._stop);
        self._dir
    }

    /// POSTs a GraphQL operation; returns `(status, body)`.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.json().await.expect("json body");
        (status, body)
    }

    /// POSTs and requires a 200 without `errors`; returns `data`.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables).await;
        assert_eq!(status, 200, "status {status}: {body}");
        assert!(body.get("errors").is_none(), "errors: {body}");
        body["data"].clone()
    }

    /// POSTs and returns the first error's `extensions.code`.
    pub async fn gql_error_code(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> String {
        let (_, body) = self.post(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {body}"))
            .to_string()
    }

    /// Signs up a tenant with `slug` in `timezone`.
    pub async fn sign_up_in(&self, slug: &str, timezone: &str) -> Owner {
        let email = format!("owner@{slug}.example.com");
        let data = self
            .gql(
                None,
                "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken tenant { id slug } userErrors { field code message } } }",
                json!({"input": {"businessName": format!("Biz {slug}"), "slug": slug, "timezone": timezone, "email": email, "password": PASSWORD}}),
            )
            .await;
        let p = &data["signUp"];
        assert_eq!(p["userErrors"], json!([]), "{p}");
        Owner {
            token: p["accessToken"].as_str().expect("token").into(),
            refresh: p["refreshToken"].as_str().expect("refresh").into(),
            tenant_id: p["tenant"]["id"].as_str().expect("id").into(),
            slug: slug.into(),
            email,
        }
    }

    /// Signs up a tenant in America/New_York.
    pub async fn sign_up(&self, slug: &str) -> Owner {
        self.sign_up_in(slug, "America/New_York").await
    }

    /// Logs in; returns the payload.
    pub async fn log_in(&self, email: &str, password: &str, slug: Option<&str>) -> Value {
        self.gql(
            None,
            "mutation($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken userErrors { field code message } } }",
            json!({"input": {"email": email, "password": password, "tenantSlug": slug}}),
        )
        .await["logIn"]
            .clone()
    }

    /// Logs in as the seeded demo owner (`seed_demo`); returns the `logIn` payload.
    pub async fn log_in_demo_owner(&self) -> Value {
        self.log_in(
            graph::seed::DEMO_OWNER_EMAIL,
            graph::seed::DEMO_PASSWORD,
            Some(graph::seed::DEMO_SLUG),
        )
        .await
    }

    /// `GET` of a path on this server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("GET")
    }

    /// Creates a service; returns its id.
    pub async fn create_service(&self, token: &str, minutes: i32) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { code message } } }",
                json!({"input": {"name": format!("Service {minutes}m"), "durationMinutes": minutes, "priceCents": 5000}}),
            )
            .await;
        data["createService"]["service"]["id"]
            .as_str()
            .expect("service id")
            .into()
    }

    /// Creates an agent key named `name`; returns the key (`sgk_…`).
    pub async fn create_agent_key(&self, token: &str, name: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($name: String!) { createAgentKey(name: $name) { key } }",
                json!({"name": name}),
            )
            .await;
        data["createAgentKey"]["key"]
            .as_str()
            .unwrap_or_else(|| panic!("no agent key: {data}"))
            .to_string()
    }

    /// Creates a staff member working `hours` = `[(WEEKDAY, "HH:MM", "HH:MM")]`.
    pub async fn create_staff(
        &self,
        token: &str,
        name: &str,
        hours: &[(&str, &str, &str)],
    ) -> String {
        self.create_staff_linked(token, name, hours, None).await
    }

    /// Creates a staff member linked to `user_id`.
    pub async fn create_staff_linked(
        &self,
        token: &str,
        name: &str,
        hours: &[(&str, &str, &str)],
        user_id: Option<&str>,
    ) -> String {
        let weekly: Vec<Value> = hours
            .iter()
            .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
            .collect();
        let data = self
            .gql(
                Some(token),
                "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { field code message } } }",
                json!({"input": {"name": name, "weeklyHours": weekly, "userId": user_id}}),
            )
            .await;
        let p = &data["createStaffMember"];
        assert_eq!(p["userErrors"], json!([]), "{p}");
        p["staffMember"]["id"].as_str().expect("staff id").into()
    }

    /// Creates a customer; returns its id.
    pub async fn create_customer(&self, token: &str, name: &str, phone: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($input: CustomerInput!) { createCustomer(input: $input) { customer { id } userErrors { field code message } } }",
                json!({"input": {"name": name, "phone": phone}}),
            )
            .await;
        data["createCustomer"]["customer"]["id"]
            .as_str()
            .expect("customer id")
            .into()
    }

    /// Creates a user with `role`; returns `(user id, access token)`.
    pub async fn create_user(&self, owner: &Owner, email: &str, role: &str) -> (String, String) {
        let data = self
            .gql(
                Some(&owner.token),
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } userErrors { code message } } }",
                json!({"input": {"email": email, "name": email, "password": PASSWORD, "role": role}}),
            )
            .await;
        let id = data["createUser"]["user"]["id"]
            .as_str()
            .expect("user id")
            .to_string();
        let login = self.log_in(email, PASSWORD, Some(&owner.slug)).await;
        (id, login["accessToken"].as_str().expect("token").into())
    }

    /// `publicCreateBooking`; returns the payload.
    pub async fn public_book(
        &self,
        slug: &str,
        service_id: &str,
        starts_at: &str,
        staff: Option<&str>,
        phone: &str,
    ) -> Value {
        self.gql(
            None,
            "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id status startsAt endsAt } userErrors { field code message } } }",
            json!({"input": {"tenantSlug": slug, "serviceId": service_id, "startsAt": starts_at, "staffMemberId": staff, "customer": {"name": "Test Customer", "phone": phone}}}),
        )
        .await["publicCreateBooking"]
            .clone()
    }

    /// `createBooking` by an operator; returns the payload.
    pub async fn book(
        &self,
        token: &str,
        service_id: &str,
        staff: &str,
        customer_id: &str,
        starts_at: &str,
    ) -> Value {
        self.gql(
            Some(token),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id status startsAt endsAt staffMember { id } } userErrors { field code message } } }",
            json!({"input": {"serviceId": service_id, "staffMemberId": staff, "customerId": customer_id, "startsAt": starts_at}}),
        )
        .await["createBooking"]
            .clone()
    }
}

/// Every day of the week, `start`–`end`.
pub fn every_day(
    start: &'static str,
    end: &'static str,
) -> Vec<(&'static str, &'static str, &'static str)> {
    [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ]
    .into_iter()
    .map(|d| (d, start, end))
    .collect()
}

/// The next `weekday` at least `min_days` after today (UTC).
pub fn next_weekday(weekday: Weekday, min_days: i64) -> NaiveDate {
    let mut d = Utc::now().date_naive() + chrono::Duration::days(min_days);
    while d.weekday() != weekday {
        d = d.succ_opt().expect("date");
    }
    d
}

/// The UTC RFC 3339 instant of local `date` `time` in `tz`.
pub fn local(tz: chrono_tz::Tz, date: NaiveDate, time: &str) -> String {
    use chrono::TimeZone;
    let t = chrono::NaiveTime::parse_from_str(time, "%H:%M").expect("time");
    tz.from_local_datetime(&date.and_time(t))
        .earliest()
        .expect("local time exists")
        .with_timezone(&Utc)
        .to_rfc3339()
}

/// A unique slug for a test.
pub fn slug(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8])
}

/// A GraphQL-over-WebSocket client connection (`graphql-transport-ws`).
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` with `token`, starts `query` as subscription `"1"`, and gives the
/// server a moment to register it before events happen.
pub async fn subscribe_to(app: &TestApp, token: &str, query: &str) -> Ws {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/graphql/ws", app.address.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let sub = json!({"id": "1", "type": "subscribe", "payload": {"query": query}});
    ws.send(Message::text(sub.to_string())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    ws
}

/// The next JSON message of `ws` (pings skipped), within 10 s.
pub async fn next_json(ws: &mut Ws) -> Value {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("stream open")
            .expect("message");
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    continue;
                }
                return v;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most 45 s (tokio time, so
/// a test with paused time still ends). The bound is generous on purpose: on two cores with every test of the suite
/// running beside it on PostgreSQL, a background job (a first calendar sync, a text) can
/// take many seconds to be picked up; a test that waits for the right thing must not fail
/// because the machine is busy.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(45);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
