//! The Mapbox client against a local mock that speaks the Matrix and Directions APIs'
//! documented JSON (<https://docs.mapbox.com/api/navigation/matrix/>,
//! <https://docs.mapbox.com/api/navigation/directions/>): the matrix mock computes
//! every cell from the coordinates in the path and the `sources` / `destinations`
//! indices in the query, so stitched tiles can be checked cell by cell.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integrations::mapbox::{MapboxClient, MapboxConfig, MatrixCache, Profile, RateLimiter};
use integrations::{GeoPoint, ProviderError, RoutingProvider, polyline};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "pk.test-token-5ecret";

/// A point of a Towson, MD grid: row `i`, column `j`, about 1.1 km apart.
fn pt(i: usize, j: usize) -> GeoPoint {
    GeoPoint {
        lat: 39.40 + 0.01 * i as f64,
        lng: -76.60 + 0.01 * j as f64,
    }
}

/// The mock's drive time in seconds between two points: Manhattan distance in units
/// of 10⁻⁵ degrees (so every cell is distinct and checkable).
fn mock_seconds(a: GeoPoint, b: GeoPoint) -> f64 {
    ((a.lat - b.lat).abs() * 1e5 + (a.lng - b.lng).abs() * 1e5).round()
}

/// Answers Matrix requests as Mapbox does, counting them and recording the largest
/// coordinate count; `null` for the cells `null_if` selects.
struct MatrixMock {
    calls: Arc<AtomicUsize>,
    max_coords: Arc<AtomicUsize>,
    null_if: fn(GeoPoint, GeoPoint) -> bool,
}

fn parse_coords(path: &str) -> Vec<GeoPoint> {
    let last = path.rsplit('/').next().unwrap();
    last.split(';')
        .map(|c| {
            let (lng, lat) = c.split_once(',').unwrap();
            GeoPoint {
                lat: lat.parse().unwrap(),
                lng: lng.parse().unwrap(),
            }
        })
        .collect()
}

fn indices(req: &Request, name: &str) -> Vec<usize> {
    let (_, v) = req.url.query_pairs().find(|(k, _)| k == name).unwrap();
    v.split(';').map(|i| i.parse().unwrap()).collect()
}

impl Respond for MatrixMock {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let coords = parse_coords(req.url.path());
        self.max_coords.fetch_max(coords.len(), Ordering::SeqCst);
        let (sources, dests) = (indices(req, "sources"), indices(req, "destinations"));
        let cell = |s: usize, d: usize, f: f64| {
            let (a, b) = (coords[s], coords[d]);
            if (self.null_if)(a, b) {
                Value::Null
            } else {
                json!(mock_seconds(a, b) * f)
            }
        };
        let waypoint = |i: &usize| json!({"name": "", "location": [coords[*i].lng, coords[*i].lat], "distance": 0.4});
        ResponseTemplate::new(200).set_body_json(json!({
            "code": "Ok",
            "durations": sources.iter().map(|s| dests.iter().map(|d| cell(*s, *d, 1.0)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "distances": sources.iter().map(|s| dests.iter().map(|d| cell(*s, *d, 12.5)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "sources": sources.iter().map(waypoint).collect::<Vec<_>>(),
            "destinations": dests.iter().map(waypoint).collect::<Vec<_>>(),
        }))
    }
}

struct Mocked {
    server: MockServer,
    calls: Arc<AtomicUsize>,
    max_coords: Arc<AtomicUsize>,
}

async fn matrix_mock(profile: Profile, null_if: fn(GeoPoint, GeoPoint) -> bool) -> Mocked {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let max_coords = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "^/directions-matrix/v1/mapbox/{}/[-0-9.,;]+$",
            profile.as_str()
        )))
        .and(query_param("access_token", TOKEN))
        .and(query_param("annotations", "duration,distance"))
        .respond_with(MatrixMock {
            calls: calls.clone(),
            max_coords: max_coords.clone(),
            null_if,
        })
        .mount(&server)
        .await;
    Mocked {
        server,
        calls,
        max_coords,
    }
}

fn client(base: &str, profile: Profile) -> MapboxClient {
    MapboxClient::new(MapboxConfig {
        base_url: base.to_owned(),
        timeout: Duration::from_millis(800),
        max_wait: Duration::from_secs(3),
        ..MapboxConfig::new(TOKEN, profile)
    })
    .unwrap()
}

/// Asserts that nothing secret is in an error's text.
fn assert_clean(err: &ProviderError) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains("access_token"), "URL leaked: {text}");
    }
}

#[tokio::test]
async fn a_matrix_is_one_request_with_sources_destinations_and_both_annotations() {
    let logs = common::logs();
    let m = matrix_mock(Profile::Driving, |_, _| false).await;
    let c = client(&m.server.uri(), Profile::Driving);
    let origins = [pt(0, 0), pt(1, 2), pt(3, 1)];
    let dests = [pt(2, 2), pt(0, 4)];
    let out = c.matrix(&origins, &dests).await.unwrap();
    assert_eq!(out.requests, 1);
    assert_eq!(m.calls.load(Ordering::SeqCst), 1);
    for (i, o) in origins.iter().enumerate() {
        for (j, d) in dests.iter().enumerate() {
            let e = out.get(i, j).unwrap();
            assert_eq!(
                e.duration.as_secs_f64(),
                mock_seconds(*o, *d),
                "cell {i},{j}"
            );
            assert_eq!(e.distance_m, mock_seconds(*o, *d) * 12.5);
        }
    }
    // The same question again is answered from the cache: no request.
    let again = c.matrix(&origins, &dests).await.unwrap();
    assert_eq!(again.requests, 0);
    assert_eq!(again.durations_s, out.durations_s);
    assert_eq!(m.calls.load(Ordering::SeqCst), 1);
    // A point 0.3 m away hits the same cached cell (5-decimal keys).
    let near = GeoPoint {
        lat: pt(0, 0).lat + 0.000_003,
        lng: pt(0, 0).lng,
    };
    assert_eq!(c.matrix(&[near], &dests).await.unwrap().requests, 0);
    assert!(!logs.all().contains(TOKEN), "token in logs");
}

#[tokio::test]
async fn thirty_points_are_tiled_within_25_coordinates_and_stitched() {
    let m = matrix_mock(Profile::Driving, |_, _| false).await;
    let c = client(&m.server.uri(), Profile::Driving);
    let points: Vec<GeoPoint> = (0..30).map(|k| pt(k / 6, k % 6)).collect();
    let out = c.matrix(&points, &points).await.unwrap();
    let calls = m.calls.load(Ordering::SeqCst);
    assert_eq!(out.requests as usize, calls);
    assert!(calls > 1, "tiled: {calls}");
    assert!(m.max_coords.load(Ordering::SeqCst) <= 25);
    for (i, a) in points.iter().enumerate() {
        for (j, b) in points.iter().enumerate() {
            assert_eq!(
                out.get(i, j).unwrap().duration.as_secs_f64(),
                mock_seconds(*a, *b),
                "cell {i},{j}"
            );
        }
    }
    // A star (29 points to one) is two requests: 24 + 5 sources per request.
    let m2 = matrix_mock(Profile::Driving, |_, _| false).await;
    let c2 = client(&m2.server.uri(), Profile::Driving);
    let star = c2.matrix(&points[1..], &points[..1]).await.unwrap();
    assert_eq!(star.requests, 2);
}

#[tokio::test]
async fn driving_traffic_requests_carry_at_most_ten_coordinates() {
    let m = matrix_mock(Profile::DrivingTraffic, |_, _| false).await;
    let c = client(&m.server.uri(), Profile::DrivingTraffic);
    let points: Vec<GeoPoint> = (0..12).map(|k| pt(k, k)).collect();
    let out = c.matrix(&points, &points[..2]).await.unwrap();
    assert!(m.max_coords.load(Ordering::SeqCst) <= 10);
    assert_eq!(
        out.requests, 2,
        "12 sources, 2 destinations: 8 + 4 per request"
    );
    assert_eq!(
        out.get(11, 1).unwrap().duration.as_secs_f64(),
        mock_seconds(points[11], points[1])
    );
}

#[tokio::test]
async fn null_cells_are_unknown_not_zero() {
    let m = matrix_mock(Profile::Driving, |a, b| a.lat > b.lat).await;
    let c = client(&m.server.uri(), Profile::Driving);
    let out = c.matrix(&[pt(0, 0), pt(2, 0)], &[pt(1, 0)]).await.unwrap();
    assert!(out.get(0, 0).is_some());
    assert_eq!(out.durations_s[1][0], None);
    assert_eq!(out.get(1, 0), None);
    // `travel` on a pair with no route says so.
    assert_eq!(
        c.travel(pt(2, 0), pt(1, 0)).await,
        Err(ProviderError::Rejected {
            code: "NoRoute".into()
        })
    );
}

#[tokio::test]
async fn no_route_and_invalid_input_are_rejections_with_mapbox_codes() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/directions-matrix/v1/mapbox/driving/.*"))
        .and(query_param("sources", "0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": "NoRoute", "message": "No route found"})),
        )
        .mount(&server)
        .await;
    Mock::given(path_regex("^/directions-matrix/v1/mapbox/driving/.*"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "code": "InvalidInput",
            "message": "Coordinate is invalid: 200,40"
        })))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Driving);
    let err = c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "NoRoute".into()
        }
    );
    let err = c
        .matrix(&[pt(0, 0), pt(0, 1)], &[pt(1, 1)])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "InvalidInput".into()
        }
    );
    assert!(!err.is_retryable());
    // Nothing is sent for out-of-range points or oversized questions.
    let bad = GeoPoint {
        lat: 95.0,
        lng: 0.0,
    };
    assert!(matches!(
        c.matrix(&[bad], &[pt(0, 0)]).await,
        Err(ProviderError::InvalidInput(_))
    ));
    let many: Vec<GeoPoint> = (0..51).map(|k| pt(k, 0)).collect();
    assert!(matches!(
        c.matrix(&many, &many).await,
        Err(ProviderError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_never_echoed() {
    let logs = common::logs();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Not Authorized - Invalid Token"})),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Driving);
    let err = c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "Unauthorized".into()
        }
    );
    assert_clean(&err);
    assert_eq!(
        c.check().await,
        Err(ProviderError::Rejected {
            code: "Unauthorized".into()
        })
    );
    let forbidden = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(&forbidden)
        .await;
    let c = client(&forbidden.uri(), Profile::Driving);
    assert_eq!(
        c.route(pt(0, 0), pt(1, 1)).await,
        Err(ProviderError::Rejected {
            code: "Forbidden".into()
        })
    );
    assert!(!logs.all().contains(TOKEN), "token in logs");
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-Rate-Limit-Interval", "60")
                .insert_header("X-Rate-Limit-Limit", "60")
                .set_body_json(json!({"message": "Too Many Requests"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .respond_with(MatrixMock {
            calls: calls.clone(),
            max_coords: Arc::new(AtomicUsize::new(0)),
            null_if: |_, _| false,
        })
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Driving);
    let out = c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap();
    assert_eq!(
        out.get(0, 0).unwrap().duration.as_secs_f64(),
        mock_seconds(pt(0, 0), pt(1, 1))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_429_resetting_beyond_the_wait_is_unavailable() {
    let server = MockServer::start().await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 45;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Rate-Limit-Reset", reset.to_string().as_str())
                .set_body_json(json!({"message": "Too Many Requests"})),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Driving);
    let err = c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // The limiter stays blocked: the next call fails at once without a request.
    let _ = c.matrix(&[pt(0, 1)], &[pt(1, 1)]).await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_token_limiter_queues_then_refuses_without_sending() {
    let m = matrix_mock(Profile::Driving, |_, _| false).await;
    let c = MapboxClient::new(MapboxConfig {
        base_url: m.server.uri(),
        limiter: Arc::new(RateLimiter::per_minute(2)),
        cache: MatrixCache::new(100),
        max_wait: Duration::from_millis(200),
        ..MapboxConfig::new(TOKEN, Profile::Driving)
    })
    .unwrap();
    c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap();
    c.matrix(&[pt(0, 1)], &[pt(1, 1)]).await.unwrap();
    let err = c.matrix(&[pt(0, 2)], &[pt(1, 1)]).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable("mapbox rate limit reached".into())
    );
    assert_eq!(m.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(json!({"code": "Ok", "durations": [[1.0]], "distances": [[1.0]]})),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Driving);
    let err = c.matrix(&[pt(0, 0)], &[pt(1, 1)]).await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout);
    assert_clean(&err);
}

#[tokio::test]
async fn a_route_has_the_first_routes_duration_distance_and_polyline6() {
    let server = MockServer::start().await;
    let (a, b) = (pt(0, 0), pt(1, 1));
    let line = polyline::encode6(&[a, pt(0, 1), b]);
    Mock::given(method("GET"))
        .and(path(format!(
            "/directions/v5/mapbox/driving/{:.6},{:.6};{:.6},{:.6}",
            a.lng, a.lat, b.lng, b.lat
        )))
        .and(query_param("geometries", "polyline6"))
        .and(query_param("overview", "full"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": "Ok",
            "routes": [{
                "distance": 2345.6,
                "duration": 301.2,
                "weight": 310.0,
                "weight_name": "auto",
                "geometry": line,
                "legs": [{"distance": 2345.6, "duration": 301.2, "summary": "York Rd", "steps": []}]
            }],
            "waypoints": [
                {"name": "", "location": [a.lng, a.lat]},
                {"name": "", "location": [b.lng, b.lat]}
            ],
            "uuid": "abc"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let leg = client(&server.uri(), Profile::Driving)
        .route(a, b)
        .await
        .unwrap();
    assert_eq!(leg.distance_m, 2345.6);
    assert_eq!(leg.duration, Duration::from_secs_f64(301.2));
    assert_eq!(polyline::decode6(&leg.polyline6).unwrap().len(), 3);

    let none = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"code": "NoRoute", "message": "No route found", "routes": []}),
            ),
        )
        .mount(&none)
        .await;
    assert_eq!(
        client(&none.uri(), Profile::Driving).route(a, b).await,
        Err(ProviderError::Rejected {
            code: "NoRoute".into()
        })
    );
}
