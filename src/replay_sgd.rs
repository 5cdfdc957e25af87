//! `servicegraph replay-sgd FILE --url URL`: replays Google's Schema-Guided Dialogue
//! (SGD, Rastogi et al., AAAI 2020; CC BY-SA 4.0) booking conversations against a
//! running server over HTTP, as a real-input end-to-end check.
//!
//! 1. Every distinct provider in the file (names in `FindProvider` results and in
//!    `BookAppointment` calls) becomes a tenant: name as given, slug from
//!    `graph::util::slugify` (suffixed `-2`, `-3`… when two names share a slug or the
//!    slug is taken), timezone America/Los_Angeles (the dialogues' cities are in
//!    California), one 60-minute service, one staff member working Mon–Sat 09:00–18:00.
//! 2. Every `BookAppointment` call becomes `publicCreateBooking` for a customer of that
//!    dialogue. The dialogues are set in March 2019; every date is shifted by the same
//!    whole number of weeks so that all calls fall in the future (weekday and wall-clock
//!    time are kept).
//! 3. Every call that booked is sent a second time and must be refused
//!    `SLOT_UNAVAILABLE`.
//! 4. Each tenant lists its bookings: it must see exactly its own.
//!
//! A *server error* is any HTTP status other than 200 or a GraphQL `errors` entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration as StdDuration;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

/// Timezone of every replayed tenant.
pub const SGD_TIMEZONE: chrono_tz::Tz = chrono_tz::America::Los_Angeles;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Deserialize)]
struct Dialogue {
    dialogue_id: String,
    turns: Vec<Turn>,
}

#[derive(Deserialize)]
struct Turn {
    #[serde(default)]
    frames: Vec<Frame>,
}

#[derive(Deserialize)]
struct Frame {
    service_call: Option<ServiceCall>,
    #[serde(default)]
    service_results: Vec<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct ServiceCall {
    method: String,
    parameters: BTreeMap<String, String>,
}

/// One `BookAppointment` call.
#[derive(Debug, Clone)]
pub struct BookCall {
    /// Dialogue it came from.
    pub dialogue_id: String,
    /// Provider name (stylist, dentist, doctor or therapist).
    pub provider: String,
    /// Date as in the dialogue (March 2019).
    pub date: NaiveDate,
    /// Local wall-clock time.
    pub time: NaiveTime,
}

/// One `FindProvider` call that found providers: the first one offered.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// Dialogue it came from.
    pub dialogue_id: String,
    /// The first provider in the call's results.
    pub provider: String,
}

/// Providers and calls read from an SGD file.
#[derive(Debug, Default)]
pub struct SgdFile {
    /// Distinct provider names, sorted.
    pub providers: Vec<String>,
    /// Every `BookAppointment` call, in file order.
    pub calls: Vec<BookCall>,
    /// Every `FindProvider` call with results, in file order.
    pub lookups: Vec<Lookup>,
}

fn provider_name(fields: &BTreeMap<String, String>) -> Option<&String> {
    fields
        .iter()
        .find(|(k, _)| k.ends_with("_name"))
        .map(|(_, v)| v)
}

/// Parses an SGD dialogues file.
pub fn read(path: &Path) -> anyhow::Result<SgdFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let dialogues: Vec<Dialogue> = serde_json::from_str(&text).context("parsing SGD dialogues")?;
    let mut providers = std::collections::BTreeSet::new();
    let mut calls = Vec::new();
    let mut lookups = Vec::new();
    for d in &dialogues {
        for frame in d.turns.iter().flat_map(|t| &t.frames) {
            let Some(call) = &frame.service_call else {
                continue;
            };
            match call.method.as_str() {
                "FindProvider" => {
                    if let Some(first) = frame.service_results.first().and_then(provider_name) {
                        lookups.push(Lookup {
                            dialogue_id: d.dialogue_id.clone(),
                            provider: first.clone(),
                        });
                    }
                    providers.extend(
                        frame
                            .service_results
                            .iter()
                            .filter_map(provider_name)
                            .cloned(),
                    );
                }
                "BookAppointment" => {
                    let p = &call.parameters;
                    let (Some(name), Some(date), Some(time)) = (
                        provider_name(p),
                        p.get("appointment_date"),
                        p.get("appointment_time"),
                    ) else {
                        continue;
                    };
                    providers.insert(name.clone());
                    calls.push(BookCall {
                        dialogue_id: d.dialogue_id.clone(),
                        provider: name.clone(),
                        date: NaiveDate::parse_from_str(date, "%Y-%m-%d")
                            .with_context(|| format!("date {date:?} in {}", d.dialogue_id))?,
                        time: NaiveTime::parse_from_str(time, "%H:%M")
                            .with_context(|| format!("time {time:?} in {}", d.dialogue_id))?,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(SgdFile {
        providers: providers.into_iter().collect(),
        calls,
        lookups,
    })
}

/// The whole number of weeks to add to every date so that the earliest is after `today`.
pub fn week_shift(calls: &[BookCall], today: NaiveDate) -> i64 {
    let Some(earliest) = calls.iter().map(|c| c.date).min() else {
        return 0;
    };
    let days = (today - earliest).num_days() + 1;
    if days <= 0 { 0 } else { (days + 6) / 7 }
}

/// A fictional, valid NANP number for dialogue `index` (area code 415, exchange 555,
/// and a line number derived from the index; North American Numbering Plan).
pub fn customer_phone(index: usize) -> String {
    format!("+1415555{:04}", 1000 + index % 9000)
}

/// Outcome counts of a replay.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Tenants created.
    pub tenants: usize,
    /// `BookAppointment` calls replayed.
    pub calls: usize,
    /// First calls that booked.
    pub booked: usize,
    /// First calls refused, by user-error code.
    pub refused: BTreeMap<String, usize>,
    /// Second calls (of booked ones) refused `SLOT_UNAVAILABLE`.
    pub second_refused: usize,
    /// Second calls that were not refused `SLOT_UNAVAILABLE` (must be 0).
    pub second_not_refused: usize,
    /// Calls that met an HTTP or GraphQL error (must be 0).
    pub server_errors: usize,
    /// Tenants whose booking list was not exactly their own bookings (must be 0).
    pub isolation_violations: usize,
    /// `(provider name, slug)` of every tenant.
    pub tenant_slugs: Vec<(String, String)>,
    /// The number of weeks dates were shifted by.
    pub week_shift: i64,
}

impl Summary {
    /// One-line summary (printed last by the command).
    pub fn line(&self) -> String {
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "SGD replay: tenants={} calls={} booked={} refused={} ({}) second_calls_refused={}/{} server_errors={} isolation_violations={} week_shift={}",
            self.tenants,
            self.calls,
            self.booked,
            self.refused.values().sum::<usize>(),
            refused.join(", "),
            self.second_refused,
            self.booked,
            self.server_errors,
            self.isolation_violations,
            self.week_shift,
        )
    }
}

/// A minimal GraphQL-over-HTTP client.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    endpoint: String,
}

/// A call that failed at the HTTP or GraphQL level.
#[derive(Debug)]
struct ServerError(String);

impl Client {
    async fn run(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, ServerError> {
        let mut req = self
            .http
            .post(&self.endpoint)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ServerError(format!("http: {e}")))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| ServerError(format!("body: {e}")))?;
        if !status.is_success() {
            return Err(ServerError(format!("status {status}: {body}")));
        }
        if body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(ServerError(format!("graphql errors: {}", body["errors"])));
        }
        Ok(body["data"].clone())
    }
}

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { id slug name } userErrors { code message } } }";
const CREATE_SERVICE: &str = "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { code message } } }";
const CREATE_STAFF: &str = "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) { staffMember { id } userErrors { code message } } }";
const BOOK: &str = "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id status startsAt } userErrors { code message } } }";
const LIST: &str = "query($after: String) { bookings(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";

struct Tenant {
    name: String,
    slug: String,
    token: String,
    service_id: String,
}

fn first_code(v: &Value) -> Option<String> {
    v["userErrors"][0]["code"].as_str().map(str::to_string)
}

async fn create_tenant(client: &Client, name: &str, base_slug: &str) -> anyhow::Result<Tenant> {
    let mut attempt = 1;
    let (token, slug) = loop {
        let slug = if attempt == 1 {
            base_slug.to_string()
        } else {
            format!("{base_slug}-{attempt}")
        };
        let mut secret = [0u8; 18];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        let password =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret);
        let data = client
            .run(
                None,
                SIGN_UP,
                json!({"input": {
                    "businessName": name, "slug": slug, "timezone": SGD_TIMEZONE.name(),
                    "email": format!("owner@{slug}.sgd-replay.example"), "password": password,
                }}),
            )
            .await
            .map_err(|e| anyhow::anyhow!("signUp {name:?}: {}", e.0))?;
        let p = &data["signUp"];
        match (p["accessToken"].as_str(), first_code(p).as_deref()) {
            (Some(t), _) => break (t.to_string(), slug),
            (None, Some("SLUG_TAKEN")) if attempt < 50 => attempt += 1,
            _ => bail!("signUp {name:?} refused: {p}"),
        }
    };
    let data = client
        .run(
            Some(&token),
            CREATE_SERVICE,
            json!({"input": {"name": "Appointment", "durationMinutes": 60, "priceCents": 0}}),
        )
        .await
        .map_err(|e| anyhow::anyhow!("createService: {}", e.0))?;
    let service_id = data["createService"]["service"]["id"]
        .as_str()
        .context("createService returned no id")?
        .to_string();
    let hours: Vec<Value> = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
    ]
    .iter()
    .map(|d| json!({"weekday": d, "startTime": "09:00", "endTime": "18:00"}))
    .collect();
    let data = client
        .run(
            Some(&token),
            CREATE_STAFF,
            json!({"input": {"name": name, "weeklyHours": hours}}),
        )
        .await
        .map_err(|e| anyhow::anyhow!("createStaffMember: {}", e.0))?;
    if data["createStaffMember"]["staffMember"]["id"].is_null() {
        bail!("createStaffMember refused: {data}");
    }
    Ok(Tenant {
        name: name.to_string(),
        slug,
        token,
        service_id,
    })
}

/// Result of one booking call.
enum CallResult {
    Booked(String),
    Refused(String),
    ServerError,
}

async fn book(client: &Client, t: &Tenant, call: &BookCall, shift: i64, phone: &str) -> CallResult {
    let date = call.date + Duration::weeks(shift);
    let Some(starts_at) = SGD_TIMEZONE
        .from_local_datetime(&date.and_time(call.time))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
    else {
        return CallResult::Refused("NONEXISTENT_LOCAL_TIME".into());
    };
    let res = client
        .run(
            None,
            BOOK,
            json!({"input": {
                "tenantSlug": t.slug, "serviceId": t.service_id,
                "startsAt": starts_at.to_rfc3339(), "staffMemberId": null,
                "customer": {"name": format!("SGD caller {}", call.dialogue_id), "phone": phone},
            }}),
        )
        .await;
    match res {
        Ok(data) => {
            let p = &data["publicCreateBooking"];
            match (p["booking"]["id"].as_str(), first_code(p)) {
                (Some(id), _) => CallResult::Booked(id.to_string()),
                (None, Some(code)) => CallResult::Refused(code),
                (None, None) => CallResult::ServerError,
            }
        }
        Err(e) => {
            tracing::error!(dialogue = %call.dialogue_id, error = %e.0, "booking call failed");
            CallResult::ServerError
        }
    }
}

async fn list_ids(client: &Client, t: &Tenant) -> Result<HashSet<String>, ServerError> {
    let mut ids = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let data = client
            .run(Some(&t.token), LIST, json!({"after": after}))
            .await?;
        let conn = &data["bookings"];
        for e in conn["edges"].as_array().into_iter().flatten() {
            if let Some(id) = e["node"]["id"].as_str() {
                ids.insert(id.to_string());
            }
        }
        if conn["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
            return Ok(ids);
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
}

/// Replays `file` against the server at `url`. Errors only for unreadable input or a
/// failed tenant set-up; booking-call failures are counted in the summary.
pub async fn run(file: &Path, url: &str) -> anyhow::Result<Summary> {
    let sgd = read(file)?;
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(StdDuration::from_secs(60))
            .build()?,
        endpoint: format!("{}/graphql", url.trim_end_matches('/')),
    };
    let mut summary = Summary {
        calls: sgd.calls.len(),
        week_shift: week_shift(
            &sgd.calls,
            Utc::now().with_timezone(&SGD_TIMEZONE).date_naive(),
        ),
        ..Default::default()
    };

    // Distinct slugs for distinct names.
    let mut used: HashMap<String, usize> = HashMap::new();
    let plans: Vec<(String, String)> = sgd
        .providers
        .iter()
        .map(|name| {
            let mut base = graph::util::slugify(name);
            if !graph::util::valid_slug(&base) {
                base = format!("{base}-sgd");
            }
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let slug = if *n == 1 { base } else { format!("{base}-{n}") };
            (name.clone(), slug)
        })
        .collect();
    let created: Vec<anyhow::Result<Tenant>> = futures::stream::iter(plans)
        .map(|(name, slug)| {
            let client = client.clone();
            async move { create_tenant(&client, &name, &slug).await }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut tenants: HashMap<String, Tenant> = HashMap::new();
    for t in created {
        let t = t?;
        summary.tenant_slugs.push((t.name.clone(), t.slug.clone()));
        tenants.insert(t.name.clone(), t);
    }
    summary.tenants = tenants.len();

    // Customers: one phone per dialogue.
    let mut phones: HashMap<String, String> = HashMap::new();
    for c in &sgd.calls {
        let n = phones.len();
        phones
            .entry(c.dialogue_id.clone())
            .or_insert_with(|| customer_phone(n));
    }

    let shift = summary.week_shift;
    let first: Vec<(usize, CallResult)> = futures::stream::iter(sgd.calls.iter().enumerate())
        .map(|(i, call)| {
            let (client, tenants, phones) = (&client, &tenants, &phones);
            async move {
                let Some(t) = tenants.get(&call.provider) else {
                    return (i, CallResult::ServerError);
                };
                let phone = phones.get(&call.dialogue_id).cloned().unwrap_or_default();
                (i, book(client, t, call, shift, &phone).await)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut expected: HashMap<String, HashSet<String>> = HashMap::new();
    let mut booked_calls = Vec::new();
    for (i, r) in first {
        match r {
            CallResult::Booked(id) => {
                summary.booked += 1;
                expected
                    .entry(sgd.calls[i].provider.clone())
                    .or_default()
                    .insert(id);
                booked_calls.push(i);
            }
            CallResult::Refused(code) => *summary.refused.entry(code).or_insert(0) += 1,
            CallResult::ServerError => summary.server_errors += 1,
        }
    }

    booked_calls.sort_unstable();
    for i in booked_calls {
        let call = &sgd.calls[i];
        let Some(t) = tenants.get(&call.provider) else {
            continue;
        };
        let phone = phones.get(&call.dialogue_id).cloned().unwrap_or_default();
        match book(&client, t, call, shift, &phone).await {
            CallResult::Refused(code) if code == "SLOT_UNAVAILABLE" => summary.second_refused += 1,
            CallResult::ServerError => summary.server_errors += 1,
            _ => summary.second_not_refused += 1,
        }
    }

    // Isolation: every tenant sees exactly its own bookings.
    let views: Vec<(String, Result<HashSet<String>, ServerError>)> =
        futures::stream::iter(tenants.values())
            .map(|t| {
                let client = &client;
                async move { (t.name.clone(), list_ids(client, t).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let empty = HashSet::new();
    for (name, seen) in views {
        match seen {
            Ok(seen) if &seen == expected.get(&name).unwrap_or(&empty) => {}
            Ok(_) => summary.isolation_violations += 1,
            Err(e) => {
                tracing::error!(tenant = %name, error = %e.0, "listing bookings failed");
                summary.server_errors += 1;
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn week_shift_moves_all_calls_after_today_keeping_weekdays() {
        let mk = |d: &str| BookCall {
            dialogue_id: "x".into(),
            provider: "p".into(),
            date: NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date"),
            time: NaiveTime::from_hms_opt(10, 0, 0).expect("time"),
        };
        let calls = vec![mk("2019-03-01"), mk("2019-03-14")];
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let w = week_shift(&calls, today);
        for c in &calls {
            let shifted = c.date + Duration::weeks(w);
            assert!(shifted > today);
            assert_eq!(shifted.weekday(), c.date.weekday());
        }
        assert!(
            calls[0].date + Duration::weeks(w - 1) <= today,
            "smallest shift"
        );
    }

    #[test]
    fn customer_phones_are_valid_e164() {
        for i in [0, 1, 437, 9999] {
            let p = customer_phone(i);
            assert_eq!(
                graph::util::normalize_phone(&p).as_deref(),
                Some(p.as_str())
            );
        }
    }
}
