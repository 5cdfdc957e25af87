//! Google Calendar over HTTP: OAuth 2.0 for installed web apps ([`GoogleOAuth`]: the
//! consent URL with PKCE, the code exchange, refresh, revocation) and the Calendar API v3
//! ([`GoogleCalendar`], which implements [`CalendarProvider`]: calendar list, events
//! list with paging and sync tokens, insert / update / delete, push channels).
//!
//! Plain `reqwest` rather than the `oauth2` crate: `oauth2` 5 pulls its own reqwest 0.12
//! next to our 0.13, and what we need of it (one authorization URL, two token grants, a
//! PKCE S256 challenge) is a form post each.
//!
//! Wire format:
//!
//! - consent: `GET https://accounts.google.com/o/oauth2/v2/auth` with `client_id`,
//!   `redirect_uri`, `response_type=code`, `scope`, `access_type=offline` (a refresh
//!   token), `prompt=consent` (a refresh token on every grant), `state`,
//!   `code_challenge` + `code_challenge_method=S256` (RFC 7636)
//!   (<https://developers.google.com/identity/protocols/oauth2/web-server>);
//! - tokens: `POST https://oauth2.googleapis.com/token`, form-encoded,
//!   `grant_type=authorization_code` (with `code_verifier`) or `refresh_token`; answer
//!   `{access_token, expires_in, refresh_token?, scope, token_type}`; a revoked or
//!   expired grant answers 400 `{"error": "invalid_grant"}` ([`GoogleError::GrantRevoked`]);
//! - revocation: `POST https://oauth2.googleapis.com/revoke` with `token`;
//! - Calendar API root `https://www.googleapis.com/calendar/v3`, `Authorization: Bearer`
//!   (<https://developers.google.com/calendar/api/v3/reference>). Errors:
//!   `{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`; 401 →
//!   [`GoogleError::Unauthorized`] (refresh and retry once), 410 on `events.list` with a
//!   `syncToken` → [`GoogleError::Gone`] (full resync), 409 on insert →
//!   [`GoogleError::Conflict`] (the event id exists), 404 → [`GoogleError::NotFound`],
//!   403 `rateLimitExceeded` / `userRateLimitExceeded` and 429 →
//!   [`GoogleError::RateLimited`] (back off: <https://developers.google.com/calendar/api/guides/errors>),
//!   5xx and timeouts → retryable, other 4xx → rejected with Google's `reason`.
//!
//! Tokens and client secrets never appear in `Debug` output, logs or errors; Google's
//! free-text error messages are not kept either (only its `reason` codes).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ProviderError;

/// Google's consent page.
pub const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// The Calendar API v3 root.
pub const DEFAULT_API_BASE: &str = "https://www.googleapis.com/calendar/v3";
/// Scopes asked for: read events of every calendar (busy time) and write events
/// (bookings), and read the calendar list
/// (<https://developers.google.com/calendar/api/auth>).
pub const SCOPES: &str = "https://www.googleapis.com/auth/calendar.events \
     https://www.googleapis.com/auth/calendar.readonly";
/// Timeout of one call when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// `maxResults` per page of `events.list` (Google's maximum is 2,500; 250 is its
/// default and keeps one page's memory small).
pub const PAGE_SIZE: u32 = 250;

/// Why a Google call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// The access token is invalid or expired (HTTP 401): refresh and retry once.
    #[error("google: unauthorized")]
    Unauthorized,
    /// The grant was revoked or expired (`invalid_grant`): the connection is broken
    /// until the user connects again.
    #[error("google: grant revoked or expired")]
    GrantRevoked,
    /// The sync token is no longer valid (HTTP 410 `fullSyncRequired`), or the event was
    /// deleted.
    #[error("google: gone")]
    Gone,
    /// The event id already exists (HTTP 409 on insert).
    #[error("google: conflict")]
    Conflict,
    /// No such calendar or event (HTTP 404).
    #[error("google: not found")]
    NotFound,
    /// Quota or rate limit (HTTP 429, or 403 `rateLimitExceeded`/`userRateLimitExceeded`):
    /// retry later with backoff.
    #[error("google: rate limited")]
    RateLimited,
    /// Any other failure, as a [`ProviderError`].
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl From<GoogleError> for ProviderError {
    fn from(e: GoogleError) -> ProviderError {
        match e {
            GoogleError::Provider(p) => p,
            GoogleError::RateLimited => ProviderError::Unavailable("google rate limit".into()),
            GoogleError::Unauthorized => ProviderError::Rejected {
                code: "unauthorized".into(),
            },
            GoogleError::GrantRevoked => ProviderError::Rejected {
                code: "invalid_grant".into(),
            },
            GoogleError::Gone => ProviderError::Rejected {
                code: "gone".into(),
            },
            GoogleError::Conflict => ProviderError::Rejected {
                code: "conflict".into(),
            },
            GoogleError::NotFound => ProviderError::Rejected {
                code: "not_found".into(),
            },
        }
    }
}

fn transport(e: reqwest::Error) -> GoogleError {
    let e = e.without_url();
    if e.is_timeout() {
        ProviderError::Timeout.into()
    } else {
        ProviderError::Unavailable("google unreachable".into()).into()
    }
}

#[derive(Deserialize, Default)]
struct WireApiError {
    #[serde(default)]
    error: WireApiErrorBody,
}

#[derive(Deserialize, Default)]
struct WireApiErrorBody {
    #[serde(default)]
    errors: Vec<WireReason>,
}

#[derive(Deserialize)]
struct WireReason {
    #[serde(default)]
    reason: String,
}

/// Maps a non-2xx Calendar API answer.
fn api_error(status: StatusCode, body: &[u8]) -> GoogleError {
    let reasons: Vec<String> = serde_json::from_slice::<WireApiError>(body)
        .unwrap_or_default()
        .error
        .errors
        .into_iter()
        .map(|r| r.reason)
        .collect();
    let rate = reasons
        .iter()
        .any(|r| r == "rateLimitExceeded" || r == "userRateLimitExceeded");
    match status.as_u16() {
        401 => GoogleError::Unauthorized,
        404 => GoogleError::NotFound,
        409 => GoogleError::Conflict,
        410 => GoogleError::Gone,
        429 => GoogleError::RateLimited,
        403 if rate => GoogleError::RateLimited,
        s if s >= 500 => ProviderError::Unavailable(format!("google http_{s}")).into(),
        s => ProviderError::Rejected {
            code: reasons
                .into_iter()
                .find(|r| !r.is_empty() && r.len() <= 64)
                .unwrap_or_else(|| format!("http_{s}")),
        }
        .into(),
    }
}

/// The platform's OAuth client (`GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`) and
/// Google's endpoints (overridable for tests).
#[derive(Clone)]
pub struct GoogleOAuthConfig {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// Where Google sends the user back (`{PUBLIC_BASE_URL}/oauth/google/callback`);
    /// registered with the OAuth client.
    pub redirect_uri: String,
    /// Consent page URL.
    pub auth_url: String,
    /// Token endpoint URL.
    pub token_url: String,
    /// Revocation endpoint URL.
    pub revoke_url: String,
    /// Timeout of one call.
    pub timeout: Duration,
}

impl fmt::Debug for GoogleOAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleOAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("redirect_uri", &self.redirect_uri)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// Tokens from a code exchange or a refresh.
#[derive(Clone, Deserialize)]
pub struct TokenSet {
    /// Bearer token for the Calendar API.
    pub access_token: String,
    /// Lifetime of the access token, seconds.
    #[serde(default)]
    pub expires_in: i64,
    /// Long-lived refresh token (on the code exchange with `access_type=offline`; a
    /// refresh answer normally has none).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Deserialize, Default)]
struct WireTokenError {
    #[serde(default)]
    error: String,
}

/// The RFC 7636 S256 challenge of a PKCE `code_verifier`:
/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// OAuth 2.0 with Google for one platform client.
#[derive(Clone, Debug)]
pub struct GoogleOAuth {
    config: GoogleOAuthConfig,
    http: reqwest::Client,
}

impl GoogleOAuth {
    /// A client. Errors: [`ProviderError::InvalidInput`] when the HTTP client cannot be
    /// built.
    pub fn new(config: GoogleOAuthConfig) -> Result<GoogleOAuth, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ProviderError::InvalidInput("http client".into()))?;
        Ok(GoogleOAuth { config, http })
    }

    /// The consent URL: offline access, consent prompt (so a refresh token comes back
    /// even on a repeat grant), our `state` and the PKCE S256 challenge of `verifier`.
    /// `login_hint` pre-selects the account. Errors: `InvalidInput` for a bad auth URL.
    pub fn consent_url(
        &self,
        state: &str,
        verifier: &str,
        login_hint: Option<&str>,
    ) -> Result<String, ProviderError> {
        let mut url = Url::parse(&self.config.auth_url)
            .map_err(|_| ProviderError::InvalidInput("GOOGLE auth url".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &self.config.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", SCOPES)
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent")
                .append_pair("include_granted_scopes", "true")
                .append_pair("state", state)
                .append_pair("code_challenge", &pkce_challenge(verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(h) = login_hint {
                q.append_pair("login_hint", h);
            }
        }
        Ok(url.into())
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenSet, GoogleError> {
        let resp = self
            .http
            .post(&self.config.token_url)
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice::<TokenSet>(&body).map_err(|_| {
                ProviderError::Unavailable("unexpected token response".into()).into()
            });
        }
        let err = serde_json::from_slice::<WireTokenError>(&body)
            .unwrap_or_default()
            .error;
        Err(match (status.as_u16(), err.as_str()) {
            (_, "invalid_grant") => GoogleError::GrantRevoked,
            (429, _) => GoogleError::RateLimited,
            (s, _) if s >= 500 => ProviderError::Unavailable(format!("google http_{s}")).into(),
            (s, e) => ProviderError::Rejected {
                code: if e.is_empty() || e.len() > 64 {
                    format!("http_{s}")
                } else {
                    e.to_string()
                },
            }
            .into(),
        })
    }

    /// Exchanges an authorization `code` (with the PKCE `verifier` of its consent URL)
    /// for tokens. Errors: [`GoogleError::GrantRevoked`] for a used or expired code.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<TokenSet, GoogleError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", &self.config.client_id),
            ("client_secret", &self.config.client_secret),
            ("redirect_uri", &self.config.redirect_uri),
        ])
        .await
    }

    /// A new access token from a refresh token. Errors: [`GoogleError::GrantRevoked`]
    /// when the user revoked access or the grant expired.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, GoogleError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.config.client_id),
            ("client_secret", &self.config.client_secret),
        ])
        .await
    }

    /// Revokes a token (and with a refresh token, the whole grant). A token Google no
    /// longer knows (400) counts as revoked.
    pub async fn revoke(&self, token: &str) -> Result<(), GoogleError> {
        let resp = self
            .http
            .post(&self.config.revoke_url)
            .form(&[("token", token)])
            .send()
            .await
            .map_err(transport)?;
        match resp.status().as_u16() {
            200..=299 | 400 => Ok(()),
            s if s >= 500 || s == 429 => Err(GoogleError::RateLimited),
            s => Err(ProviderError::Rejected {
                code: format!("http_{s}"),
            }
            .into()),
        }
    }
}

/// One calendar of the user's calendar list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarListEntry {
    /// Calendar id (`primary` calendars have the user's email as id).
    pub id: String,
    /// Title.
    #[serde(default)]
    pub summary: String,
    /// Whether it is the user's primary calendar.
    #[serde(default)]
    pub primary: bool,
    /// `owner`, `writer`, `reader` or `freeBusyReader`.
    #[serde(default)]
    pub access_role: String,
    /// The calendar's IANA time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A start or end of an event: `dateTime` (RFC 3339 with offset) for timed events,
/// `date` (`YYYY-MM-DD`) for all-day events (the end date is exclusive).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    /// All-day date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Instant, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    /// IANA zone of the event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// An attendee, as far as we read it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    /// This attendee is the calendar's owner.
    #[serde(default, rename = "self")]
    pub is_self: bool,
    /// `needsAction`, `declined`, `tentative`, `accepted`.
    #[serde(default)]
    pub response_status: String,
}

/// An event as `events.list` returns it (the fields we read).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Event id (instance ids of recurring events carry the instance's start).
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled` (deleted).
    #[serde(default)]
    pub status: String,
    /// `opaque` (busy, the default) or `transparent` (free).
    #[serde(default)]
    pub transparency: Option<String>,
    /// Start.
    #[serde(default)]
    pub start: Option<EventTime>,
    /// End (exclusive).
    #[serde(default)]
    pub end: Option<EventTime>,
    /// Attendees.
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    /// Private extended properties (`servicegraphBookingId` marks our own events).
    #[serde(default)]
    pub extended_properties: Option<ExtendedProperties>,
}

/// `extendedProperties`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct ExtendedProperties {
    /// Visible to this application only.
    #[serde(default)]
    pub private: serde_json::Map<String, Value>,
}

impl Event {
    /// The value of private extended property `key`.
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.extended_properties
            .as_ref()
            .and_then(|p| p.private.get(key))
            .and_then(Value::as_str)
    }

    /// Whether the calendar's owner declined it.
    pub fn declined_by_self(&self) -> bool {
        self.attendees
            .iter()
            .any(|a| a.is_self && a.response_status == "declined")
    }
}

/// One page of `events.list`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    /// Events (deleted ones with `status: cancelled` in incremental syncs).
    #[serde(default)]
    pub items: Vec<Event>,
    /// The calendar's time zone (all-day events are in it).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The next page, if any.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// On the last page only: the token of the next incremental sync.
    #[serde(default)]
    pub next_sync_token: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsQuery {
    /// Full sync over `[time_min, time_max)` (RFC 3339).
    Window {
        /// Lower bound (events ending after it).
        time_min: String,
        /// Upper bound (events starting before it).
        time_max: String,
    },
    /// Incremental sync from a `nextSyncToken`.
    Since(String),
}

/// An event to write: our booking as a job in the staff member's calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventWrite {
    /// Deterministic id (base32hex of our booking id), so a retried insert is a 409.
    pub id: String,
    /// Title.
    pub summary: String,
    /// Details.
    pub description: String,
    /// Address, when the job is at the customer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Start.
    pub start: EventTime,
    /// End.
    pub end: EventTime,
    /// `confirmed` (an update of a deleted event restores it).
    pub status: String,
    /// Our booking id in `private`.
    pub extended_properties: ExtendedProperties,
}

/// A push channel as `events.watch` answers it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Our channel id.
    pub id: String,
    /// Google's id of the watched resource (needed to stop the channel).
    pub resource_id: String,
    /// Expiry, Unix milliseconds as a string.
    #[serde(default)]
    pub expiration: Option<String>,
}

/// A push channel to open.
#[derive(Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// Our channel id (a UUID).
    pub id: String,
    /// The HTTPS URL Google posts notifications to.
    pub address: String,
    /// The secret echoed in `X-Goog-Channel-Token`.
    pub token: String,
    /// Requested lifetime, seconds (Google may shorten it).
    pub ttl_secs: u64,
}

impl fmt::Debug for WatchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchRequest")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("token", &"***")
            .finish()
    }
}

/// An external calendar, seen with one user's access token.
#[async_trait]
pub trait CalendarProvider: Send + Sync {
    /// The user's calendars (every page).
    async fn calendars(&self, token: &str) -> Result<Vec<CalendarListEntry>, GoogleError>;
    /// One page of events of `calendar_id` (`singleEvents=true`: recurring events come
    /// expanded into instances).
    async fn events(
        &self,
        token: &str,
        calendar_id: &str,
        query: &EventsQuery,
        page_token: Option<&str>,
    ) -> Result<EventsPage, GoogleError>;
    /// Inserts `event`. Errors: [`GoogleError::Conflict`] when its id exists.
    async fn insert_event(
        &self,
        token: &str,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError>;
    /// Replaces the event `event.id`. Errors: [`GoogleError::NotFound`].
    async fn update_event(
        &self,
        token: &str,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError>;
    /// Deletes an event; one already gone (404/410) counts as deleted.
    async fn delete_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError>;
    /// Opens a push channel on the events of `calendar_id`.
    async fn watch(
        &self,
        token: &str,
        calendar_id: &str,
        req: &WatchRequest,
    ) -> Result<Channel, GoogleError>;
    /// Stops a channel; one Google no longer knows counts as stopped.
    async fn stop_channel(
        &self,
        token: &str,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<(), GoogleError>;
}

/// The Calendar API v3 client.
#[derive(Clone, Debug)]
pub struct GoogleCalendar {
    base: String,
    http: reqwest::Client,
}

fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl GoogleCalendar {
    /// A client for the API at `base_url` (no trailing slash). Errors: `InvalidInput`
    /// when the HTTP client cannot be built.
    pub fn new(base_url: &str, timeout: Duration) -> Result<GoogleCalendar, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ProviderError::InvalidInput("http client".into()))?;
        Ok(GoogleCalendar {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, GoogleError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(api_error(status, &bytes))
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, GoogleError> {
        serde_json::from_slice(bytes)
            .map_err(|_| ProviderError::Unavailable("unexpected google response".into()).into())
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, GoogleError> {
    serde_json::to_value(v).map_err(|_| ProviderError::InvalidInput("event".into()).into())
}

#[async_trait]
impl CalendarProvider for GoogleCalendar {
    async fn calendars(&self, token: &str) -> Result<Vec<CalendarListEntry>, GoogleError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            items: Vec<CalendarListEntry>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        // 10 pages of 250 calendars is far beyond any real user.
        for _ in 0..10 {
            let mut q = vec![("maxResults", "250")];
            if let Some(p) = &page {
                q.push(("pageToken", p));
            }
            let bytes = self
                .call(Method::GET, "/users/me/calendarList", token, &q, None)
                .await?;
            let p: Page = Self::json(&bytes)?;
            out.extend(p.items);
            match p.next_page_token {
                Some(t) => page = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    async fn events(
        &self,
        token: &str,
        calendar_id: &str,
        query: &EventsQuery,
        page_token: Option<&str>,
    ) -> Result<EventsPage, GoogleError> {
        let size = PAGE_SIZE.to_string();
        let mut q: Vec<(&str, &str)> = vec![("singleEvents", "true"), ("maxResults", &size)];
        match query {
            EventsQuery::Window { time_min, time_max } => {
                q.push(("timeMin", time_min));
                q.push(("timeMax", time_max));
            }
            // `timeMin`/`timeMax` may not be combined with `syncToken`; deleted events are
            // always included in an incremental sync.
            EventsQuery::Since(t) => q.push(("syncToken", t)),
        }
        if let Some(p) = page_token {
            q.push(("pageToken", p));
        }
        let path = format!("/calendars/{}/events", enc(calendar_id));
        let bytes = self.call(Method::GET, &path, token, &q, None).await?;
        Self::json(&bytes)
    }

    async fn insert_event(
        &self,
        token: &str,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError> {
        let path = format!("/calendars/{}/events", enc(calendar_id));
        self.call(Method::POST, &path, token, &[], Some(&to_value(event)?))
            .await
            .map(|_| ())
    }

    async fn update_event(
        &self,
        token: &str,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError> {
        let path = format!("/calendars/{}/events/{}", enc(calendar_id), enc(&event.id));
        self.call(Method::PUT, &path, token, &[], Some(&to_value(event)?))
            .await
            .map(|_| ())
    }

    async fn delete_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError> {
        let path = format!("/calendars/{}/events/{}", enc(calendar_id), enc(event_id));
        match self.call(Method::DELETE, &path, token, &[], None).await {
            Ok(_) | Err(GoogleError::NotFound) | Err(GoogleError::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn watch(
        &self,
        token: &str,
        calendar_id: &str,
        req: &WatchRequest,
    ) -> Result<Channel, GoogleError> {
        let path = format!("/calendars/{}/events/watch", enc(calendar_id));
        let body = serde_json::json!({
            "id": req.id,
            "type": "web_hook",
            "address": req.address,
            "token": req.token,
            "params": {"ttl": req.ttl_secs.to_string()},
        });
        let bytes = self
            .call(Method::POST, &path, token, &[], Some(&body))
            .await?;
        Self::json(&bytes)
    }

    async fn stop_channel(
        &self,
        token: &str,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<(), GoogleError> {
        let body = serde_json::json!({"id": channel_id, "resourceId": resource_id});
        match self
            .call(Method::POST, "/channels/stop", token, &[], Some(&body))
            .await
        {
            Ok(_) | Err(GoogleError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The Google event id of our booking `booking_id`: base32hex (RFC 4648 §7, lower case,
/// no padding) of its 16 bytes — Google allows the characters `a-v0-9` and 5–1024 of
/// them (<https://developers.google.com/calendar/api/v3/reference/events/insert>).
pub fn event_id_for(booking_id: &[u8; 16]) -> String {
    data_encoding::BASE32HEX_NOPAD
        .encode(booking_id)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_unpadded_base64url_of_sha256() {
        // Cross-checked with Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ0kqOk4c0hNqX5tuvR4xkJO9dLXgk"),
            "ipBWaKlMbTHO_nxA7JPWyYe2otU3nuwlamzDXI-ZT1E"
        );
    }

    #[test]
    fn event_ids_use_base32hex_alphabet() {
        let id = event_id_for(&[0xff; 16]);
        assert_eq!(id.len(), 26);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
        );
        assert_ne!(event_id_for(&[0; 16]), event_id_for(&[1; 16]));
    }

    #[test]
    fn errors_map_by_status_and_reason() {
        let rate = br#"{"error":{"code":403,"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded"}]}}"#;
        assert_eq!(
            api_error(StatusCode::FORBIDDEN, rate),
            GoogleError::RateLimited
        );
        let forbidden = br#"{"error":{"code":403,"errors":[{"reason":"forbidden"}]}}"#;
        assert_eq!(
            api_error(StatusCode::FORBIDDEN, forbidden),
            GoogleError::Provider(ProviderError::Rejected {
                code: "forbidden".into()
            })
        );
        assert_eq!(api_error(StatusCode::GONE, b""), GoogleError::Gone);
        assert!(ProviderError::from(api_error(StatusCode::BAD_GATEWAY, b"")).is_retryable());
    }
}
