//! Mapbox over HTTP: [`MapboxClient`] implements [`RoutingProvider`] with the Mapbox
//! Matrix API (drive times between many points) and the Directions API (one leg with
//! its geometry).
//!
//! Wire format:
//!
//! - Matrix (<https://docs.mapbox.com/api/navigation/matrix/>):
//!   `GET {base}/directions-matrix/v1/mapbox/{profile}/{lng,lat;lng,lat;…}?sources=0;1&destinations=2;3&annotations=duration,distance&access_token=…`.
//!   At most [`MAX_COORDINATES`] coordinates per request ([`MAX_COORDINATES_TRAFFIC`]
//!   with `driving-traffic`); bigger questions are tiled into several requests and the
//!   answers stitched. The answer is `{"code": "Ok", "durations": [[…]], "distances":
//!   [[…]], "sources": […], "destinations": […]}`, row-major (row = source, column =
//!   destination), durations in seconds, distances in metres, `null` for a pair with no
//!   route.
//! - Directions (<https://docs.mapbox.com/api/navigation/directions/>):
//!   `GET {base}/directions/v5/mapbox/{profile}/{lng,lat;lng,lat}?geometries=polyline6&overview=full&access_token=…`,
//!   answering `{"code": "Ok", "routes": [{"distance": m, "duration": s, "geometry":
//!   "<polyline6>", …}], "waypoints": […]}`.
//! - Errors (<https://docs.mapbox.com/api/navigation/matrix/#matrix-api-errors>,
//!   <https://docs.mapbox.com/api/overview/#errors>): a body `{"code": "NoRoute" |
//!   "InvalidInput" | "ProfileNotFound" | …, "message": "…"}` (`message` alone for
//!   401/403/429). A `code` other than `Ok` is [`ProviderError::Rejected`] with that
//!   code; 401 is `Rejected { code: "Unauthorized" }`, 403 `Forbidden`, other 4xx the
//!   body's code or `http_<status>`; 5xx and a failed connection are
//!   [`ProviderError::Unavailable`]; a timeout [`ProviderError::Timeout`].
//!
//! Limits (<https://docs.mapbox.com/api/navigation/matrix/#matrix-api-restrictions-and-limits>):
//! the Matrix API allows 60 requests per minute per token. Every request first takes a
//! turn from the token's [`RateLimiter`] (a sliding one-minute window shared by every
//! client using that token on this server); when no turn is free within
//! [`MapboxConfig::max_wait`] the call fails with `Unavailable` instead of queueing for
//! a minute. A 429 answer blocks the limiter until `Retry-After` (seconds) or
//! `X-Rate-Limit-Reset` (Unix time, <https://docs.mapbox.com/api/overview/#rate-limit-headers>)
//! and the request is retried once that passes, if it is within `max_wait`.
//!
//! Cache: answered cells are kept in the tenant's [`MatrixCache`] (LRU, bounded, with a
//! time-to-live, shorter for `driving-traffic`), keyed by the profile and both points
//! rounded to 5 decimal places (≈ 1.1 m): points closer than that are the same kerb for
//! driving purposes, while geocoder jitter in the 6th decimal would otherwise defeat
//! the cache. A day's availability then costs a handful of requests, and the next
//! question about the same day none.
//!
//! The access token travels in the query string, so no URL is ever logged or put in an
//! error: transport errors are logged with `without_url()`, and `Debug` redacts the
//! token. Coordinates (customers' addresses) are not logged either, only counts.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

use crate::{GeoPoint, ProviderError, RouteLeg, RoutingProvider, TravelMatrix};

/// Mapbox's production API root.
pub const DEFAULT_BASE_URL: &str = "https://api.mapbox.com";

/// Request timeout used by [`MapboxConfig::new`]; a matrix of 25 points normally
/// answers in well under a second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most coordinates in one Matrix request with `driving`
/// (<https://docs.mapbox.com/api/navigation/matrix/#matrix-api-restrictions-and-limits>).
pub const MAX_COORDINATES: usize = 25;

/// Most coordinates in one Matrix request with `driving-traffic`.
pub const MAX_COORDINATES_TRAFFIC: usize = 10;

/// Matrix API requests per minute per access token (Mapbox's default limit).
pub const REQUESTS_PER_MINUTE: u32 = 60;

/// Most cells (origins × destinations) one [`RoutingProvider::matrix`] question may
/// ask for; a bigger one is [`ProviderError::InvalidInput`] and nothing is sent.
pub const MAX_CELLS: usize = 2_500;

/// How long a `driving` cell stays cached: typical (not live) traffic changes only
/// with Mapbox's data updates.
pub const TTL_DRIVING: Duration = Duration::from_secs(24 * 3600);

/// How long a `driving-traffic` cell stays cached: live traffic goes stale quickly.
pub const TTL_DRIVING_TRAFFIC: Duration = Duration::from_secs(10 * 60);

/// Cells one tenant's cache holds at most (about 100 bytes each).
pub const DEFAULT_CACHE_CELLS: usize = 20_000;

/// How long a call may wait for a rate-limit turn (or a 429's reset) before it gives
/// up with `Unavailable`.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(3);

/// A Mapbox routing profile (<https://docs.mapbox.com/api/navigation/directions/#routing-profiles>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `mapbox/driving`: car, typical traffic.
    Driving,
    /// `mapbox/driving-traffic`: car, live traffic (smaller matrices, shorter cache).
    DrivingTraffic,
}

impl Profile {
    /// The profile's name in URLs (`driving`, `driving-traffic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Driving => "driving",
            Profile::DrivingTraffic => "driving-traffic",
        }
    }

    /// Parses `driving` or `driving-traffic`.
    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "driving" => Some(Profile::Driving),
            "driving-traffic" => Some(Profile::DrivingTraffic),
            _ => None,
        }
    }

    /// Most coordinates in one Matrix request.
    pub fn max_coordinates(self) -> usize {
        match self {
            Profile::Driving => MAX_COORDINATES,
            Profile::DrivingTraffic => MAX_COORDINATES_TRAFFIC,
        }
    }

    /// How long a matrix cell of this profile stays cached.
    pub fn cache_ttl(self) -> Duration {
        match self {
            Profile::Driving => TTL_DRIVING,
            Profile::DrivingTraffic => TTL_DRIVING_TRAFFIC,
        }
    }
}

/// A sliding one-minute window of request turns for one access token. Turns are
/// handed out in order (a queue): a caller reserves the earliest instant at which a
/// request keeps the window within the limit, and sleeps until then.
pub struct RateLimiter {
    per_window: usize,
    window: Duration,
    state: Mutex<LimiterState>,
}

#[derive(Default)]
struct LimiterState {
    /// Instants of granted turns (past and reserved), ascending.
    granted: VecDeque<Instant>,
    /// No turn before this (after a 429).
    blocked_until: Option<Instant>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_window", &self.per_window)
            .field("window", &self.window)
            .finish()
    }
}

impl RateLimiter {
    /// `per_minute` requests in any sliding minute (at least 1).
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_window: per_minute.max(1) as usize,
            window: Duration::from_secs(60),
            state: Mutex::new(LimiterState::default()),
        }
    }

    /// Reserves the next turn and waits for it. Errors: `Unavailable` when the turn is
    /// more than `max_wait` away (nothing is reserved then).
    pub async fn acquire(&self, max_wait: Duration) -> Result<(), ProviderError> {
        let now = Instant::now();
        let at = {
            let mut st = self
                .state
                .lock()
                .map_err(|_| ProviderError::Unavailable("rate limiter poisoned".into()))?;
            while st.granted.len() > self.per_window
                && st.granted.front().is_some_and(|t| *t + self.window <= now)
            {
                st.granted.pop_front();
            }
            let mut at = now;
            if let Some(b) = st.blocked_until {
                at = at.max(b);
            }
            if let Some(last) = st.granted.back() {
                at = at.max(*last);
            }
            if st.granted.len() >= self.per_window
                && let Some(t) = st.granted.get(st.granted.len() - self.per_window)
            {
                at = at.max(*t + self.window);
            }
            if at.saturating_duration_since(now) > max_wait {
                return Err(ProviderError::Unavailable(
                    "mapbox rate limit reached".into(),
                ));
            }
            st.granted.push_back(at);
            at
        };
        if at > now {
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
        Ok(())
    }

    /// Hands out no turn before `until` (after a 429).
    pub fn block_until(&self, until: Instant) {
        if let Ok(mut st) = self.state.lock() {
            st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        }
    }
}

/// The key of one cached cell: profile and both points in units of 10⁻⁵ degrees.
type CellKey = (Profile, [i32; 4]);

/// A cached cell: seconds and metres (`None` = no route), and when it was stored.
#[derive(Clone, Copy)]
struct Cell {
    seconds: Option<f64>,
    metres: Option<f64>,
    stored: Instant,
}

/// One tenant's matrix cells, least recently used first out, each valid for its
/// profile's TTL. Cloning shares the cache.
#[derive(Clone)]
pub struct MatrixCache {
    cells: Arc<Mutex<lru::LruCache<CellKey, Cell>>>,
}

impl fmt::Debug for MatrixCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixCache")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MatrixCache {
    fn default() -> Self {
        MatrixCache::new(DEFAULT_CACHE_CELLS)
    }
}

/// `degrees` in units of 10⁻⁵ degrees (≈ 1.1 m), the cache's resolution.
fn e5(degrees: f64) -> i32 {
    (degrees * 1e5).round() as i32
}

fn cell_key(profile: Profile, from: GeoPoint, to: GeoPoint) -> CellKey {
    (
        profile,
        [e5(from.lat), e5(from.lng), e5(to.lat), e5(to.lng)],
    )
}

impl MatrixCache {
    /// A cache of at most `capacity` cells (at least 1).
    pub fn new(capacity: usize) -> MatrixCache {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        MatrixCache {
            cells: Arc::new(Mutex::new(lru::LruCache::new(cap))),
        }
    }

    /// How many cells are held (expired ones included until they are evicted).
    pub fn len(&self) -> usize {
        self.cells.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether the cache holds no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, profile: Profile, from: GeoPoint, to: GeoPoint) -> Option<Cell> {
        let mut cells = self.cells.lock().ok()?;
        let key = cell_key(profile, from, to);
        let cell = *cells.get(&key)?;
        if cell.stored.elapsed() >= profile.cache_ttl() {
            cells.pop(&key);
            return None;
        }
        Some(cell)
    }

    fn put(&self, profile: Profile, from: GeoPoint, to: GeoPoint, cell: Cell) {
        if let Ok(mut cells) = self.cells.lock() {
            cells.put(cell_key(profile, from, to), cell);
        }
    }
}

/// How to reach Mapbox. `Debug` redacts the access token.
#[derive(Clone)]
pub struct MapboxConfig {
    /// API root without a trailing slash; [`DEFAULT_BASE_URL`] in production, a mock
    /// server's address in tests.
    pub base_url: String,
    /// The access token (a public `pk.` or secret `sk.` token with the Navigation
    /// scopes), sent as the `access_token` query parameter.
    pub access_token: String,
    /// Routing profile.
    pub profile: Profile,
    /// Limit for one request, from connecting to reading the body.
    pub timeout: Duration,
    /// The token's rate limiter (share one per token across clients).
    pub limiter: Arc<RateLimiter>,
    /// The tenant's cache of matrix cells.
    pub cache: MatrixCache,
    /// Longest wait for a rate-limit turn or a 429's reset before giving up.
    pub max_wait: Duration,
}

impl MapboxConfig {
    /// Production settings ([`DEFAULT_BASE_URL`], [`DEFAULT_TIMEOUT`], a fresh
    /// limiter of [`REQUESTS_PER_MINUTE`], a fresh cache, [`DEFAULT_MAX_WAIT`]).
    pub fn new(access_token: impl Into<String>, profile: Profile) -> MapboxConfig {
        MapboxConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            access_token: access_token.into(),
            profile,
            timeout: DEFAULT_TIMEOUT,
            limiter: Arc::new(RateLimiter::per_minute(REQUESTS_PER_MINUTE)),
            cache: MatrixCache::default(),
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl fmt::Debug for MapboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapboxConfig")
            .field("base_url", &self.base_url)
            .field("access_token", &"[redacted]")
            .field("profile", &self.profile)
            .field("timeout", &self.timeout)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    token: String,
    profile: Profile,
    limiter: Arc<RateLimiter>,
    cache: MatrixCache,
    max_wait: Duration,
}

/// Mapbox routing client. Cloning is cheap (connection pool, limiter and cache are
/// shared). `Debug` shows the base URL and profile, never the access token.
#[derive(Clone)]
pub struct MapboxClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for MapboxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapboxClient")
            .field("base_url", &self.inner.base_url)
            .field("access_token", &"[redacted]")
            .field("profile", &self.inner.profile)
            .finish()
    }
}

/// A Matrix or Directions answer (only the fields we read).
#[derive(Debug, Deserialize)]
struct WireAnswer {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    durations: Option<Vec<Vec<Option<f64>>>>,
    #[serde(default)]
    distances: Option<Vec<Vec<Option<f64>>>>,
    #[serde(default)]
    routes: Option<Vec<WireRoute>>,
}

/// A Directions route object (<https://docs.mapbox.com/api/navigation/directions/#route-object>).
#[derive(Debug, Deserialize)]
struct WireRoute {
    distance: f64,
    duration: f64,
    #[serde(default)]
    geometry: Option<String>,
}

fn invalid(what: &str) -> ProviderError {
    ProviderError::InvalidInput(what.to_owned())
}

fn unexpected() -> ProviderError {
    ProviderError::Unavailable("unexpected response from mapbox".into())
}

/// Maps a transport failure; the description never includes the URL (it holds the
/// token).
fn transport_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_connect() {
        ProviderError::Unavailable("could not connect to mapbox".into())
    } else {
        ProviderError::Unavailable("mapbox request failed".into())
    }
}

/// Maps a non-2xx status (and the body's `code`, if any).
fn map_status(status: u16, code: Option<&str>) -> ProviderError {
    match status {
        401 => ProviderError::Rejected {
            code: "Unauthorized".into(),
        },
        403 => ProviderError::Rejected {
            code: "Forbidden".into(),
        },
        429 => ProviderError::Unavailable("mapbox rate limit reached".into()),
        400..=499 => ProviderError::Rejected {
            code: code
                .filter(|c| is_code(c))
                .map_or_else(|| format!("http_{status}"), str::to_owned),
        },
        500..=599 => ProviderError::Unavailable(format!("mapbox answered http {status}")),
        _ => unexpected(),
    }
}

/// Whether `c` looks like a Mapbox error code (`NoRoute`, `InvalidInput`): short ASCII
/// letters only, so nothing else from a body reaches an error message.
fn is_code(c: &str) -> bool {
    !c.is_empty() && c.len() <= 40 && c.bytes().all(|b| b.is_ascii_alphabetic())
}

/// How long a 429 asks us to wait: `Retry-After` seconds, else `X-Rate-Limit-Reset`
/// (Unix seconds) minus now, else one second.
fn retry_wait(headers: &HeaderMap) -> Duration {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secs) = header(RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok()) {
        return Duration::from_secs(secs);
    }
    if let Some(reset) = header(reqwest::header::HeaderName::from_static(
        "x-rate-limit-reset",
    ))
    .and_then(|v| v.trim().parse::<u64>().ok())
    {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return Duration::from_secs(reset.saturating_sub(now).max(1));
    }
    Duration::from_secs(1)
}

fn coordinate(p: GeoPoint) -> String {
    format!("{:.6},{:.6}", p.lng, p.lat)
}

fn check_point(p: &GeoPoint) -> Result<(), ProviderError> {
    if GeoPoint::new(p.lat, p.lng).is_some() && p.lat.is_finite() && p.lng.is_finite() {
        Ok(())
    } else {
        Err(invalid("a coordinate is out of range"))
    }
}

/// Splits `n` indices into chunks of at most `size`.
fn chunks(n: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    let size = size.max(1);
    (0..n.div_ceil(size))
        .map(|k| k * size..((k + 1) * size).min(n))
        .collect()
}

impl MapboxClient {
    /// Builds a client.
    ///
    /// Errors: [`ProviderError::InvalidInput`] when the base URL is not an http(s) URL,
    /// the token is empty or has characters other than letters, digits, `.`, `_`, `-`,
    /// or the timeout is zero; [`ProviderError::Unavailable`] if the HTTP client cannot
    /// be initialised.
    pub fn new(config: MapboxConfig) -> Result<MapboxClient, ProviderError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&base_url).map_err(|_| invalid("mapbox base_url is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("mapbox base_url must be http or https"));
        }
        let token = config.access_token.trim();
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(invalid("mapbox access token is empty or malformed"));
        }
        if config.timeout.is_zero() {
            return Err(invalid("mapbox timeout must be positive"));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "servicegraph-integrations/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|_| ProviderError::Unavailable("could not initialise HTTP client".into()))?;
        Ok(MapboxClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                token: token.to_owned(),
                profile: config.profile,
                limiter: config.limiter,
                cache: config.cache,
                max_wait: config.max_wait,
            }),
        })
    }

    /// The routing profile.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// Sends one GET to `path` (under the base URL) with `query` plus the access token,
    /// after taking a rate-limit turn; on 429 blocks the limiter and retries while the
    /// wait fits in `max_wait`. Returns the parsed 2xx body with `code` `Ok`. Logs the
    /// API, status and Mapbox code, never the URL (token, coordinates).
    async fn get(
        &self,
        api: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<WireAnswer, ProviderError> {
        let mut url = Url::parse(&format!("{}{}", self.inner.base_url, path))
            .map_err(|_| invalid("mapbox URL could not be built"))?;
        url.query_pairs_mut()
            .extend_pairs(query)
            .append_pair("access_token", &self.inner.token);
        let deadline = Instant::now() + self.inner.max_wait;
        loop {
            let budget = deadline.saturating_duration_since(Instant::now());
            self.inner.limiter.acquire(budget).await?;
            tracing::debug!(api, "mapbox request");
            let resp = self.inner.http.get(url.clone()).send().await.map_err(|e| {
                let mapped = transport_error(&e);
                tracing::warn!(api, error = %e.without_url(), "mapbox request failed");
                mapped
            })?;
            let status = resp.status().as_u16();
            if status == 429 {
                let wait = retry_wait(resp.headers());
                let until = Instant::now() + wait;
                self.inner.limiter.block_until(until);
                tracing::warn!(
                    api,
                    wait_s = wait.as_secs(),
                    "mapbox rate limited the token"
                );
                if until > deadline {
                    return Err(map_status(429, None));
                }
                continue;
            }
            let body = resp.bytes().await.map_err(|e| {
                let mapped = transport_error(&e);
                tracing::warn!(api, error = %e.without_url(), "mapbox response unreadable");
                mapped
            })?;
            let answer = serde_json::from_slice::<WireAnswer>(&body).ok();
            let code = answer.as_ref().and_then(|a| a.code.as_deref());
            if !(200..300).contains(&status) {
                tracing::warn!(api, status, code, "mapbox returned an error");
                return Err(map_status(status, code));
            }
            let answer = answer.ok_or_else(unexpected)?;
            match answer.code.as_deref() {
                Some("Ok") => return Ok(answer),
                Some(c) => {
                    tracing::info!(api, code = c, "mapbox could not answer");
                    return Err(ProviderError::Rejected {
                        code: if is_code(c) {
                            c.to_owned()
                        } else {
                            "Error".into()
                        },
                    });
                }
                None => return Err(unexpected()),
            }
        }
    }

    /// One Matrix request over `coords` with the given source and destination indices;
    /// returns the `sources × destinations` durations and distances.
    async fn matrix_request(
        &self,
        coords: &[GeoPoint],
        sources: &[usize],
        destinations: &[usize],
    ) -> Result<(Vec<Vec<Option<f64>>>, Vec<Vec<Option<f64>>>), ProviderError> {
        let list = |ix: &[usize]| {
            ix.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(";")
        };
        let path = format!(
            "/directions-matrix/v1/mapbox/{}/{}",
            self.inner.profile.as_str(),
            coords
                .iter()
                .map(|p| coordinate(*p))
                .collect::<Vec<_>>()
                .join(";")
        );
        let (s, d) = (list(sources), list(destinations));
        let answer = self
            .get(
                "matrix",
                &path,
                &[
                    ("sources", s.as_str()),
                    ("destinations", d.as_str()),
                    ("annotations", "duration,distance"),
                ],
            )
            .await?;
        let durations = answer.durations.ok_or_else(unexpected)?;
        let distances = answer
            .distances
            .unwrap_or_else(|| vec![vec![None; destinations.len()]; sources.len()]);
        let shaped = |m: &Vec<Vec<Option<f64>>>| {
            m.len() == sources.len() && m.iter().all(|row| row.len() == destinations.len())
        };
        if !shaped(&durations) || !shaped(&distances) {
            return Err(unexpected());
        }
        Ok((durations, distances))
    }
}

#[async_trait]
impl RoutingProvider for MapboxClient {
    /// Cached cells first; the rest in one request when their distinct points fit in
    /// the profile's coordinate limit (a 25-point square is one request), else in tiles
    /// (the smaller side whole when it fits in half the limit, else 12 × 13 blocks), one
    /// Matrix request per tile that still has a missing cell. A point to itself is
    /// 0 s / 0 m without asking. Errors: more than [`MAX_CELLS`] cells or an
    /// out-of-range point is `InvalidInput`; otherwise see the [module docs](self).
    async fn matrix(
        &self,
        origins: &[GeoPoint],
        destinations: &[GeoPoint],
    ) -> Result<TravelMatrix, ProviderError> {
        if origins.len().saturating_mul(destinations.len()) > MAX_CELLS {
            return Err(ProviderError::InvalidInput(format!(
                "at most {MAX_CELLS} matrix cells per question"
            )));
        }
        origins
            .iter()
            .chain(destinations)
            .try_for_each(check_point)?;
        let profile = self.inner.profile;
        let mut out = TravelMatrix::unknown(origins.len(), destinations.len());
        let mut missing = vec![vec![false; destinations.len()]; origins.len()];
        for (i, o) in origins.iter().enumerate() {
            for (j, d) in destinations.iter().enumerate() {
                if cell_key(profile, *o, *o) == cell_key(profile, *d, *d) {
                    out.durations_s[i][j] = Some(0.0);
                    out.distances_m[i][j] = Some(0.0);
                } else if let Some(c) = self.inner.cache.get(profile, *o, *d) {
                    out.durations_s[i][j] = c.seconds;
                    out.distances_m[i][j] = c.metres;
                } else {
                    missing[i][j] = true;
                }
            }
        }
        // Only rows and columns with a missing cell are sent.
        let rows: Vec<usize> = (0..origins.len())
            .filter(|&i| missing[i].iter().any(|m| *m))
            .collect();
        let cols: Vec<usize> = (0..destinations.len())
            .filter(|&j| missing.iter().any(|row| row[j]))
            .collect();
        let limit = profile.max_coordinates();
        let mut requests = 0u32;
        // When the distinct points fit in one request, one request answers everything
        // (Mapbox's sources/destinations index into one coordinate list).
        let mut uniq: Vec<GeoPoint> = Vec::new();
        let mut index: HashMap<[i32; 2], usize> = HashMap::new();
        let mut slot = |p: GeoPoint| {
            *index.entry([e5(p.lat), e5(p.lng)]).or_insert_with(|| {
                uniq.push(p);
                uniq.len() - 1
            })
        };
        let row_ix: Vec<usize> = rows.iter().map(|&i| slot(origins[i])).collect();
        let col_ix: Vec<usize> = cols.iter().map(|&j| slot(destinations[j])).collect();
        let tiles: Vec<(Vec<usize>, Vec<usize>)> = if rows.is_empty() {
            Vec::new()
        } else if uniq.len() <= limit {
            vec![(rows.clone(), cols.clone())]
        } else {
            let (a, b) = if cols.len() <= limit / 2 {
                (limit - cols.len(), cols.len())
            } else if rows.len() <= limit / 2 {
                (rows.len(), limit - rows.len())
            } else {
                (limit / 2, limit - limit / 2)
            };
            let mut t = Vec::new();
            for rr in chunks(rows.len(), a) {
                for cr in chunks(cols.len(), b) {
                    let (tr, tc) = (&rows[rr.clone()], &cols[cr.clone()]);
                    if tr.iter().any(|&i| tc.iter().any(|&j| missing[i][j])) {
                        t.push((tr.to_vec(), tc.to_vec()));
                    }
                }
            }
            t
        };
        let single = tiles.len() == 1 && uniq.len() <= limit;
        for (tile_rows, tile_cols) in tiles {
            // The tile's coordinate list (distinct points) and each row's / column's
            // index into its sources / destinations lists.
            let (coords, sources, dests, row_at, col_at) = if single {
                let mut sources: Vec<usize> = row_ix.clone();
                sources.sort_unstable();
                sources.dedup();
                let mut dests: Vec<usize> = col_ix.clone();
                dests.sort_unstable();
                dests.dedup();
                let row_at: Vec<usize> = row_ix
                    .iter()
                    .map(|u| sources.partition_point(|s| s < u))
                    .collect();
                let col_at: Vec<usize> = col_ix
                    .iter()
                    .map(|u| dests.partition_point(|d| d < u))
                    .collect();
                (uniq.clone(), sources, dests, row_at, col_at)
            } else {
                let mut coords: Vec<GeoPoint> = tile_rows.iter().map(|&i| origins[i]).collect();
                coords.extend(tile_cols.iter().map(|&j| destinations[j]));
                let sources: Vec<usize> = (0..tile_rows.len()).collect();
                let dests: Vec<usize> = (tile_rows.len()..coords.len()).collect();
                let (row_at, col_at) = (
                    (0..tile_rows.len()).collect(),
                    (0..tile_cols.len()).collect(),
                );
                (coords, sources, dests, row_at, col_at)
            };
            let (durations, distances) = self.matrix_request(&coords, &sources, &dests).await?;
            requests += 1;
            let stored = Instant::now();
            for (ri, &i) in tile_rows.iter().enumerate() {
                for (ci, &j) in tile_cols.iter().enumerate() {
                    let (si, dj) = (row_at[ri], col_at[ci]);
                    let seconds = durations[si][dj].filter(|s| s.is_finite() && *s >= 0.0);
                    let metres = distances[si][dj].filter(|m| m.is_finite() && *m >= 0.0);
                    self.inner.cache.put(
                        profile,
                        origins[i],
                        destinations[j],
                        Cell {
                            seconds,
                            metres,
                            stored,
                        },
                    );
                    out.durations_s[i][j] = seconds;
                    out.distances_m[i][j] = metres;
                }
            }
        }
        out.requests = requests;
        tracing::debug!(
            origins = origins.len(),
            destinations = destinations.len(),
            requests,
            "mapbox matrix answered"
        );
        Ok(out)
    }

    /// `GET /directions/v5/mapbox/{profile}/{from};{to}?geometries=polyline6&overview=full`:
    /// the first route's distance, duration and full geometry. Errors: `NoRoute` (or
    /// any other Mapbox code) as `Rejected`, an answer without routes as
    /// `Rejected { code: "NoRoute" }`; otherwise see the [module docs](self).
    async fn route(&self, from: GeoPoint, to: GeoPoint) -> Result<RouteLeg, ProviderError> {
        check_point(&from)?;
        check_point(&to)?;
        let path = format!(
            "/directions/v5/mapbox/{}/{};{}",
            self.inner.profile.as_str(),
            coordinate(from),
            coordinate(to)
        );
        let answer = self
            .get(
                "directions",
                &path,
                &[("geometries", "polyline6"), ("overview", "full")],
            )
            .await?;
        let route = answer
            .routes
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| ProviderError::Rejected {
                code: "NoRoute".into(),
            })?;
        if !(route.duration.is_finite() && route.duration >= 0.0 && route.distance.is_finite()) {
            return Err(unexpected());
        }
        Ok(RouteLeg {
            distance_m: route.distance,
            duration: Duration::from_secs_f64(route.duration),
            polyline6: route.geometry.unwrap_or_default(),
        })
    }

    fn points_per_request(&self) -> usize {
        self.inner.profile.max_coordinates()
    }

    /// One tiny real Matrix request (two points about 100 m apart in Washington, DC,
    /// 1 × 1 cell), bypassing the cache.
    async fn check(&self) -> Result<(), ProviderError> {
        let a = GeoPoint {
            lat: 38.8977,
            lng: -77.0365,
        };
        let b = GeoPoint {
            lat: 38.8986,
            lng: -77.0365,
        };
        self.matrix_request(&[a, b], &[0], &[1]).await.map(|_| ())
    }
}

/// Per-token rate limiters and per-tenant caches for the Mapbox clients of one server:
/// clients are rebuilt whenever a tenant's plugin configuration is reloaded, while the
/// limiter (keyed by a SHA-256 of the token, so the map holds no token) and the cache
/// must outlive them. Cloning shares the pools.
#[derive(Clone, Default)]
pub struct MapboxPools {
    limiters: Arc<Mutex<HashMap<[u8; 32], Arc<RateLimiter>>>>,
    caches: Arc<Mutex<HashMap<uuid::Uuid, MatrixCache>>>,
}

impl fmt::Debug for MapboxPools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MapboxPools")
    }
}

impl MapboxPools {
    /// The limiter of `token` ([`REQUESTS_PER_MINUTE`]), created on first use.
    pub fn limiter(&self, token: &str) -> Arc<RateLimiter> {
        use sha2::Digest as _;
        let key: [u8; 32] = sha2::Sha256::digest(token.trim().as_bytes()).into();
        match self.limiters.lock() {
            Ok(mut map) => map
                .entry(key)
                .or_insert_with(|| Arc::new(RateLimiter::per_minute(REQUESTS_PER_MINUTE)))
                .clone(),
            Err(_) => Arc::new(RateLimiter::per_minute(REQUESTS_PER_MINUTE)),
        }
    }

    /// The matrix cache of `tenant` ([`DEFAULT_CACHE_CELLS`]), created on first use.
    pub fn cache(&self, tenant: uuid::Uuid) -> MatrixCache {
        match self.caches.lock() {
            Ok(mut map) => map.entry(tenant).or_default().clone(),
            Err(_) => MatrixCache::default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_round_to_five_decimals() {
        let a = GeoPoint {
            lat: 39.401_501,
            lng: -76.601_904,
        };
        let a2 = GeoPoint {
            lat: 39.401_504,
            lng: -76.601_901,
        };
        let b = GeoPoint {
            lat: 39.414_3,
            lng: -76.596_6,
        };
        assert_eq!(
            cell_key(Profile::Driving, a, b),
            cell_key(Profile::Driving, a2, b)
        );
        assert_ne!(
            cell_key(Profile::Driving, a, b),
            cell_key(Profile::DrivingTraffic, a, b)
        );
        let cache = MatrixCache::new(2);
        let cell = Cell {
            seconds: Some(60.0),
            metres: Some(900.0),
            stored: Instant::now(),
        };
        cache.put(Profile::Driving, a, b, cell);
        assert_eq!(
            cache.get(Profile::Driving, a2, b).unwrap().seconds,
            Some(60.0)
        );
        assert!(cache.get(Profile::DrivingTraffic, a, b).is_none());
        cache.put(Profile::Driving, b, a, cell);
        cache.put(Profile::Driving, a, a, cell);
        assert_eq!(cache.len(), 2, "bounded");
        // Expired cells are not answered.
        let old = Cell {
            stored: Instant::now() - TTL_DRIVING_TRAFFIC - Duration::from_secs(1),
            ..cell
        };
        cache.put(Profile::DrivingTraffic, a, b, old);
        assert!(cache.get(Profile::DrivingTraffic, a, b).is_none());
    }

    #[tokio::test]
    async fn the_limiter_refuses_a_turn_beyond_the_wait() {
        let l = RateLimiter::per_minute(2);
        l.acquire(Duration::ZERO).await.unwrap();
        l.acquire(Duration::ZERO).await.unwrap();
        assert_eq!(
            l.acquire(Duration::from_secs(5)).await,
            Err(ProviderError::Unavailable(
                "mapbox rate limit reached".into()
            ))
        );
        let l = RateLimiter::per_minute(10);
        l.block_until(Instant::now() + Duration::from_secs(30));
        assert!(l.acquire(Duration::from_secs(1)).await.is_err());
    }

    #[test]
    fn statuses_and_codes_map_without_echoing_bodies() {
        assert_eq!(
            map_status(401, None),
            ProviderError::Rejected {
                code: "Unauthorized".into()
            }
        );
        assert_eq!(
            map_status(422, Some("InvalidInput")),
            ProviderError::Rejected {
                code: "InvalidInput".into()
            }
        );
        assert_eq!(
            map_status(422, Some("bad pk.secret")),
            ProviderError::Rejected {
                code: "http_422".into()
            }
        );
        assert!(map_status(503, None).is_retryable());
        assert_eq!(chunks(30, 24), vec![0..24, 24..30]);
        assert_eq!(
            Profile::parse("driving-traffic"),
            Some(Profile::DrivingTraffic)
        );
        assert_eq!(Profile::parse("walking"), None);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = MapboxConfig::new("pk.secret-token", Profile::Driving);
        assert!(!format!("{cfg:?}").contains("secret-token"));
        let client = MapboxClient::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("secret-token"));
    }
}
