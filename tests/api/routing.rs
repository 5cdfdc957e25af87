//! Routing: a tenant configures the `mapbox` plugin through GraphQL and availability
//! answers with Mapbox's drive times (a local mock speaking the Matrix API's JSON,
//! reached through `MAPBOX_API_BASE`), asks once per question, caches, and falls back
//! to the built-in estimate — flagged — when Mapbox fails or is too slow.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc, Weekday};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{Options, TestApp, every_day, local, next_weekday, slug, spawn_app_with};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;
const CONFIGURE: &str = "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id enabled } userErrors { field code message } } }";
const TEST_PLUGIN: &str = "mutation($id: ID!) { testPlugin(pluginId: $id) { ok message } }";
const SLOTS: &str = "query($s: ID!, $st: ID, $f: NaiveDate!, $l: GeoInput) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $f, location: $l) { startsAt travelTimeSource } }";
const WHY: &str = "query($s: ID!, $t: DateTime!, $st: ID, $l: GeoInput) { whyNotAvailable(serviceId: $s, startsAt: $t, staffMemberId: $st, location: $l) { travelTimeSource staff { reasons } } }";

/// Mock behaviour: answer, fail with 503, or answer too late.
const OK: u8 = 0;
const FAIL: u8 = 1;
const SLOW: u8 = 2;
/// Answer correctly, after 2 s (within the client's timeout in the test that uses it).
const LATE: u8 = 3;

/// The mock Matrix API: 50 minutes (3000 s) between any two distinct points, 0 from a
/// point to itself; counts the requests it answers.
struct Matrix {
    calls: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
}

impl Respond for Matrix {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode.load(Ordering::SeqCst) {
            FAIL => {
                return ResponseTemplate::new(503)
                    .set_body_json(json!({"message": "Service Unavailable"}));
            }
            SLOW => {
                return ResponseTemplate::new(200)
                    .set_delay(Duration::from_secs(4))
                    .set_body_json(json!({"code": "Ok", "durations": [], "distances": []}));
            }
            _ => {}
        }
        let delay = if self.mode.load(Ordering::SeqCst) == LATE {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        let coords: Vec<String> = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .split(';')
            .map(str::to_string)
            .collect();
        let ix = |name: &str| -> Vec<usize> {
            let (_, v) = req.url.query_pairs().find(|(k, _)| k == name).unwrap();
            v.split(';').map(|i| i.parse().unwrap()).collect()
        };
        let (sources, dests) = (ix("sources"), ix("destinations"));
        let grid = |f: f64| -> Vec<Vec<f64>> {
            sources
                .iter()
                .map(|s| {
                    dests
                        .iter()
                        .map(|d| {
                            if coords[*s] == coords[*d] {
                                0.0
                            } else {
                                3000.0 * f
                            }
                        })
                        .collect()
                })
                .collect()
        };
        ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
            "code": "Ok",
            "durations": grid(1.0),
            "distances": grid(9.0),
            "sources": sources.iter().map(|_| json!({"name": "", "location": [0.0, 0.0]})).collect::<Vec<_>>(),
            "destinations": dests.iter().map(|_| json!({"name": "", "location": [0.0, 0.0]})).collect::<Vec<_>>(),
        }))
    }
}

struct Fixture {
    app: TestApp,
    _mock: MockServer,
    calls: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
}

async fn spawn_with_mapbox() -> Fixture {
    spawn_with_mapbox_and(|_| {}).await
}

async fn spawn_with_mapbox_and(
    adjust: impl Fn(&mut servicegraph::settings::Settings) + Send + Sync + 'static,
) -> Fixture {
    let mock = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mode = Arc::new(AtomicU8::new(OK));
    Mock::given(method("GET"))
        .and(path_regex(
            "^/directions-matrix/v1/mapbox/driving/[-0-9.,;]+$",
        ))
        .and(query_param("annotations", "duration,distance"))
        .respond_with(Matrix {
            calls: calls.clone(),
            mode: mode.clone(),
        })
        .mount(&mock)
        .await;
    let base = mock.uri();
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(move |s: &mut servicegraph::settings::Settings| {
            s.routing.mapbox_api_base = base.clone();
            s.routing.mapbox_timeout = Duration::from_secs(1);
            adjust(s);
        })),
        ..Options::default()
    })
    .await;
    Fixture {
        app,
        _mock: mock,
        calls,
        mode,
    }
}

/// A tenant with one mobile staff member (home base in Towson, MD; 08:00–18:00 every
/// day), a 60-minute service and a job 10:00–11:00 about 1.5 km from home on `day`.
/// Returns `(owner token, service, staff member)`.
async fn mobile_tenant(app: &TestApp, day: chrono::NaiveDate) -> (String, String, String) {
    let owner = app.sign_up(&slug("route")).await;
    let t = owner.token.clone();
    let service = app.create_service(&t, 60).await;
    let weekly: Vec<Value> = every_day("08:00", "18:00")
        .iter()
        .map(|(d, s, e)| json!({"weekday": d, "startTime": s, "endTime": e}))
        .collect();
    let created = app
        .gql(
            Some(&t),
            "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { code } } }",
            json!({"input": {"name": "Van 1", "weeklyHours": weekly, "homeBase": {"latitude": 39.4015, "longitude": -76.6019}}}),
        )
        .await;
    let staff = created["createStaffMember"]["staffMember"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let booked = app
        .gql(
            Some(&t),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { code } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "startsAt": local(NY, day, "10:00"), "customer": {"name": "Near", "phone": "+14155550391"}, "location": {"latitude": 39.4143, "longitude": -76.5966}}}),
        )
        .await;
    assert!(
        booked["createBooking"]["booking"]["id"].is_string(),
        "{booked}"
    );
    (t, service, staff)
}

/// About 5 km north of the 10:00 job: the built-in estimate says 10 minutes
/// (5.0 km × 1.3 ÷ 40 km/h = 9.75 min, rounded up).
fn five_km_north() -> Value {
    json!({"latitude": 39.4593, "longitude": -76.5966})
}

async fn configure_mapbox(app: &TestApp, token: &str) -> Value {
    let (status, body) = app
        .post(
            Some(token),
            CONFIGURE,
            json!({"input": {"pluginId": "mapbox", "config": {"accessToken": "pk.route-test-token", "profile": "driving"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["configurePlugin"].clone()
}

/// `availableSlots` on `day` at `loc`: the starts and the travel time source.
async fn slots(
    app: &TestApp,
    t: &str,
    service: &str,
    staff: &str,
    day: chrono::NaiveDate,
) -> (Vec<DateTime<Utc>>, String) {
    let v = app
        .gql(
            Some(t),
            SLOTS,
            json!({"s": service, "st": staff, "f": day, "l": five_km_north()}),
        )
        .await;
    let list = v["availableSlots"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let starts = list
        .iter()
        .map(|s| s["startsAt"].as_str().unwrap().parse().unwrap())
        .collect();
    let source = list
        .first()
        .map(|s| s["travelTimeSource"].as_str().unwrap().to_string())
        .unwrap_or_default();
    (starts, source)
}

fn at(day: chrono::NaiveDate, time: &str) -> DateTime<Utc> {
    local(NY, day, time).parse().unwrap()
}

fn first_from(starts: &[DateTime<Utc>], from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    starts.iter().copied().find(|s| *s >= from)
}

#[tokio::test]
async fn availability_uses_mapbox_drive_times_with_one_request_per_question_then_the_cache() {
    let f = spawn_with_mapbox().await;
    let app = &f.app;
    let day = next_weekday(Weekday::Wed, 2);
    let (t, service, staff) = mobile_tenant(app, day).await;

    // Without a routing provider: the built-in estimate, about 10 minutes.
    let (estimated, source) = slots(app, &t, &service, &staff, day).await;
    assert_eq!(source, "ESTIMATE");
    assert_eq!(
        first_from(&estimated, at(day, "11:00")),
        Some(at(day, "11:15")),
        "11:00 + 10 min estimated, next grid point"
    );
    assert_eq!(
        first_from(&estimated, at(day, "08:00")),
        Some(at(day, "08:15")),
        "13 min estimated from home"
    );
    assert!(
        estimated.contains(&at(day, "08:45")),
        "08:45 + 60 + 10 ≤ 10:00"
    );
    assert_eq!(f.calls.load(Ordering::SeqCst), 0);

    // The owner configures Mapbox; `testPlugin` makes one tiny real call.
    let p = configure_mapbox(app, &t).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let tested = app
        .gql(Some(&t), TEST_PLUGIN, json!({"id": "mapbox"}))
        .await;
    assert_eq!(tested["testPlugin"]["ok"], true, "{tested}");
    let before = f.calls.load(Ordering::SeqCst);
    assert_eq!(before, 1);

    // Mapbox says 50 minutes between every two places.
    let (routed, source) = slots(app, &t, &service, &staff, day).await;
    let per_call = f.calls.load(Ordering::SeqCst) - before;
    assert_eq!(source, "PROVIDER");
    assert_eq!(
        first_from(&routed, at(day, "11:00")),
        Some(at(day, "12:00")),
        "11:00 + 50 min from Mapbox, next grid point"
    );
    assert!(
        first_from(&routed, at(day, "08:00")).is_some_and(|s| s >= at(day, "11:00")),
        "home → job 50 min and job → 10:00 job 50 min leave nothing before 10:00: {routed:?}"
    );
    assert_ne!(routed, estimated);
    // Home base, the 10:00 job and the requested place: one square matrix, one request.
    assert_eq!(per_call, 1, "Mapbox requests per availableSlots call");

    // The same question again: every cell comes from the tenant's cache.
    let (again, _) = slots(app, &t, &service, &staff, day).await;
    assert_eq!(again, routed);
    assert_eq!(f.calls.load(Ordering::SeqCst) - before, 1, "cached");

    // whyNotAvailable reads the same drive times and says so.
    let why = app
        .gql(
            Some(&t),
            WHY,
            json!({"s": service, "t": local(NY, day, "11:15"), "st": staff, "l": five_km_north()}),
        )
        .await;
    assert_eq!(why["whyNotAvailable"]["travelTimeSource"], "PROVIDER");
    assert_eq!(
        why["whyNotAvailable"]["staff"][0]["reasons"],
        json!(["TRAVEL"])
    );
}

#[tokio::test]
async fn a_failing_or_slow_mapbox_falls_back_to_the_estimate_and_says_so() {
    let f = spawn_with_mapbox().await;
    let app = &f.app;
    let day = next_weekday(Weekday::Thu, 2);

    for mode in [FAIL, SLOW] {
        let (t, service, staff) = mobile_tenant(app, day).await;
        let (estimated, _) = slots(app, &t, &service, &staff, day).await;
        let p = configure_mapbox(app, &t).await;
        assert_eq!(p["userErrors"], json!([]), "{p}");
        f.mode.store(mode, Ordering::SeqCst);
        let before = f.calls.load(Ordering::SeqCst);
        let (fallback, source) = slots(app, &t, &service, &staff, day).await;
        assert!(f.calls.load(Ordering::SeqCst) > before, "Mapbox was asked");
        assert_eq!(source, "ESTIMATE_FALLBACK", "mode {mode}");
        assert_eq!(fallback, estimated, "mode {mode}: the estimate's slots");
        let tested = app
            .gql(Some(&t), TEST_PLUGIN, json!({"id": "mapbox"}))
            .await;
        assert_eq!(tested["testPlugin"]["ok"], false, "{tested}");
        assert!(
            !tested.to_string().contains("route-test-token"),
            "token echoed: {tested}"
        );
        f.mode.store(OK, Ordering::SeqCst);
    }
}

/// A query waiting on Mapbox holds no database connection meanwhile (its read
/// transaction ends before the call): with a pool of one connection, a 1 s acquire
/// timeout and Mapbox answering after 2 s, another request made during the call is
/// answered, and the slots still come from Mapbox.
#[tokio::test]
async fn a_query_waiting_on_mapbox_holds_no_database_connection() {
    let f = spawn_with_mapbox_and(|s| {
        s.routing.mapbox_timeout = Duration::from_secs(10);
        s.database.max_connections = 1;
        s.database.acquire_timeout = Duration::from_secs(1);
    })
    .await;
    let app = &f.app;
    let day = next_weekday(Weekday::Thu, 2);
    let (t, service, staff) = mobile_tenant(app, day).await;
    let p = configure_mapbox(app, &t).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    f.mode.store(LATE, Ordering::SeqCst);
    let before = f.calls.load(Ordering::SeqCst);
    let during = async {
        // Well inside Mapbox's 2 s.
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.post(
            Some(&t),
            "{ services(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await
    };
    let ((starts, source), (status, other)) =
        tokio::join!(slots(app, &t, &service, &staff, day), during);
    assert_eq!(status, 200, "{other}");
    assert!(other.get("errors").is_none(), "{other}");
    assert_eq!(
        other["data"]["services"]["edges"][0]["node"]["id"],
        json!(service)
    );
    assert!(f.calls.load(Ordering::SeqCst) > before, "Mapbox was asked");
    assert_eq!(source, "PROVIDER");
    assert!(!starts.is_empty());
}

#[tokio::test]
async fn only_owners_configure_mapbox_and_bad_profiles_are_refused() {
    let f = spawn_with_mapbox().await;
    let app = &f.app;
    let owner = app.sign_up(&slug("routeacl")).await;
    let (_, manager) = app
        .create_user(&owner, "manager@routeacl.example.com", "MANAGER")
        .await;
    let input = json!({"input": {"pluginId": "mapbox", "config": {"accessToken": "pk.x"}}});
    assert_eq!(
        app.gql_error_code(Some(&manager), CONFIGURE, input).await,
        "FORBIDDEN"
    );
    let (_, body) = app
        .post(
            Some(&owner.token),
            CONFIGURE,
            json!({"input": {"pluginId": "mapbox", "config": {"accessToken": "pk.route-test-token", "profile": "walking"}}}),
        )
        .await;
    let errors = &body["data"]["configurePlugin"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["input", "profile"]), "{body}");
    assert!(!body.to_string().contains("route-test-token"));
}
