//! The voice tools: definitions ([`Tool`]), dispatch ([`run`]) and exactly-once
//! execution ([`call`]).
//!
//! Every tool runs with the caller's [`RequestCtx`] — an agent principal whose tenant
//! comes from its key, never from tool arguments — and goes through the same services
//! as the GraphQL schema (`bookings::service`, `availability::service`,
//! `customers::service`), so the customer rules apply: slot grid, minimum notice,
//! cancellation notice, `source: AGENT`. A caller sees and changes only appointments of
//! their own phone number ([`Caller::phone`], from the voice platform's call data): an
//! appointment id of another number is answered as not found.
//!
//! Results are a [`ToolOutput`]: a short speakable single-line `message` and structured
//! `data`. `ok: false` means the tool could not do what was asked (bad arguments,
//! unknown appointment, refused by a rule); a taken time is an answer (`ok: true`,
//! `data.booked: false`) with the nearest free times that day.

use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use entities::{BookingSource, BookingStatus, booking, customer, service, staff_member, tenant};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::args::{
    BookAppointmentArgs, BusinessInfoArgs, CancelAppointmentArgs, CheckAvailabilityArgs,
    FindAppointmentsArgs, RescheduleAppointmentArgs, TransferToHumanArgs,
};
use super::speech;
use crate::availability::service::{Slot, SlotQuery, available_slots};
use crate::bookings::service::{self as bookings, CustomerChoice, NewBooking};
use crate::context::RequestCtx;
use crate::customers::service::clean;
use crate::customers::types::CustomerInput;
use crate::db::scoped;
use crate::error::{ApiError, UserError, UserErrorCode as C};
use crate::idempotency::{self, Reserved};
use crate::state::GraphState;
use crate::util::{normalize_phone, now};

/// The tools, by their names in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `check_availability` ([`CheckAvailabilityArgs`]).
    CheckAvailability,
    /// `book_appointment` ([`BookAppointmentArgs`]).
    BookAppointment,
    /// `find_appointments` ([`FindAppointmentsArgs`]).
    FindAppointments,
    /// `reschedule_appointment` ([`RescheduleAppointmentArgs`]).
    RescheduleAppointment,
    /// `cancel_appointment` ([`CancelAppointmentArgs`]).
    CancelAppointment,
    /// `business_info` ([`BusinessInfoArgs`]).
    BusinessInfo,
    /// `transfer_to_human` ([`TransferToHumanArgs`]).
    TransferToHuman,
}

impl Tool {
    /// Every tool, in listing order.
    pub const ALL: [Tool; 7] = [
        Tool::CheckAvailability,
        Tool::BookAppointment,
        Tool::FindAppointments,
        Tool::RescheduleAppointment,
        Tool::CancelAppointment,
        Tool::BusinessInfo,
        Tool::TransferToHuman,
    ];

    /// The tool's name (`check_availability`, …).
    pub fn name(self) -> &'static str {
        match self {
            Tool::CheckAvailability => "check_availability",
            Tool::BookAppointment => "book_appointment",
            Tool::FindAppointments => "find_appointments",
            Tool::RescheduleAppointment => "reschedule_appointment",
            Tool::CancelAppointment => "cancel_appointment",
            Tool::BusinessInfo => "business_info",
            Tool::TransferToHuman => "transfer_to_human",
        }
    }

    /// The tool called `name`, if any.
    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the tool changes something (books, moves or cancels).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Tool::BookAppointment | Tool::RescheduleAppointment | Tool::CancelAppointment
        )
    }
}

/// Who is on the phone, as the voice platform reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The caller's number, normalised to E.164; `None` when withheld or not a phone
    /// call (then appointments cannot be looked up or changed).
    pub phone: Option<String>,
    /// Whether bookings are only requests (`PENDING` until an operator confirms them):
    /// the built-in phone assistant of a tenant whose assistant settings say so.
    pub request_only: bool,
    /// A slot hold to book with (`holdToken` of `createBooking`): the built-in phone
    /// assistant holds the slot while it reads a booking back.
    pub hold_token: Option<String>,
}

impl Caller {
    /// A caller from the platform's raw number (normalised; unusable numbers are
    /// treated as withheld).
    pub fn from_raw(number: Option<&str>) -> Caller {
        Caller {
            phone: number.and_then(normalize_phone),
            request_only: false,
            hold_token: None,
        }
    }
}

/// One tool call as a platform sends it.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The platform's tool-call id (1–255 bytes): a repeat with the same id returns the
    /// first result. `None`: no exactly-once guarantee.
    pub id: Option<String>,
    /// Tool name.
    pub name: String,
    /// Arguments, a JSON object (`null` is taken as `{}`).
    pub arguments: Value,
}

/// What a tool answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// `false` when the tool could not do what was asked; `message` says why.
    pub ok: bool,
    /// A short speakable sentence on one line.
    pub message: String,
    /// Structured result (ids, times in RFC 3339 UTC and local `YYYY-MM-DD`/`HH:MM`).
    pub data: Value,
}

impl ToolOutput {
    fn ok(message: impl AsRef<str>, data: Value) -> ToolOutput {
        ToolOutput {
            ok: true,
            message: speech::one_line(message.as_ref()),
            data,
        }
    }

    fn fail(message: impl AsRef<str>) -> ToolOutput {
        ToolOutput {
            ok: false,
            message: speech::one_line(message.as_ref()),
            data: Value::Null,
        }
    }
}

/// Longest tool-call id, in bytes.
pub const MAX_CALL_ID_LEN: usize = 255;
/// Longest accepted string argument, in characters.
const MAX_ARG_CHARS: usize = 2000;
/// A reservation of a tool-call id not finished within this time is taken over by a
/// retry (its holder died).
const STALE_AFTER_SECS: i64 = 60;
/// How long a repeat waits for the first copy of a tool call to finish.
const WAIT_FOR_FIRST: StdDuration = StdDuration::from_secs(10);
/// Most appointments listed by `find_appointments`.
const MAX_LISTED: u64 = 10;
/// Most alternative times offered.
const ALTERNATIVES: usize = 3;
/// Most times read out for a whole day.
const TIMES_READ_OUT: usize = 8;

/// The stored key of a tool-call id in the tenant's idempotency table: per tenant
/// (whichever agent key sent it), apart from `createBooking` keys.
fn stored_key(id: &str) -> String {
    hex::encode(Sha256::digest(format!("voice-tool-call\n{id}").as_bytes()))
}

/// Runs `tc` exactly once per tool-call id and tenant: the first copy runs the tool
/// and stores its output; a repeat (also while the first still runs) returns that
/// output. The same id with another tool, other arguments or another caller is
/// refused. Never fails: internal errors become `ok: false` with an apology (logged
/// with the request id), and release the id so a retry runs again.
pub async fn call(st: &GraphState, rc: &RequestCtx, caller: &Caller, tc: &ToolCall) -> ToolOutput {
    let Some(id) = tc.id.as_deref() else {
        return run_logged(st, rc, caller, tc).await;
    };
    if id.is_empty() || id.len() > MAX_CALL_ID_LEN {
        return ToolOutput::fail("the tool call id must be 1 to 255 characters");
    }
    let key = stored_key(id);
    let operation = idempotency::fingerprint(
        "voiceTool",
        &json!({"name": tc.name, "arguments": tc.arguments, "caller": caller.phone}),
    );
    let stale = chrono::Duration::seconds(STALE_AFTER_SECS);
    let started = std::time::Instant::now();
    let mut pause = StdDuration::from_millis(10);
    loop {
        let reserved =
            idempotency::reserve::<ToolOutput>(&st.db, rc.tenant_id, &key, &operation, stale).await;
        match reserved {
            Ok(Reserved::New) => break,
            Ok(Reserved::Stored(out)) => return out,
            Ok(Reserved::OtherOperation) => {
                return ToolOutput::fail("this tool call id was already used for another request");
            }
            Ok(Reserved::InFlight) if started.elapsed() < WAIT_FOR_FIRST => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(StdDuration::from_millis(200));
            }
            Ok(Reserved::InFlight) => {
                return ToolOutput::fail(
                    "still working on this request; please try again in a moment",
                );
            }
            Err(e) => return internal(rc, tc, &e),
        }
    }
    match run(st, rc, caller, tc, Some(id)).await {
        Ok(out) => {
            if let Err(e) = idempotency::finish(&st.db, rc.tenant_id, &key, &out).await {
                // The effect happened; the answer is still right. A retry will redo the
                // tool after the reservation goes stale — bookings carry the call id as
                // their own idempotency key, so nothing is booked twice.
                tracing::error!(request_id = %rc.request_id, error = ?e, "storing a tool result failed");
            }
            out
        }
        Err(e) => {
            if let Err(e2) = idempotency::release(&st.db, rc.tenant_id, &key).await {
                tracing::error!(request_id = %rc.request_id, error = ?e2, "releasing a tool call id failed");
            }
            internal(rc, tc, &e)
        }
    }
}

async fn run_logged(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    tc: &ToolCall,
) -> ToolOutput {
    match run(st, rc, caller, tc, None).await {
        Ok(out) => out,
        Err(e) => internal(rc, tc, &e),
    }
}

fn internal(rc: &RequestCtx, tc: &ToolCall, e: &ApiError) -> ToolOutput {
    match e {
        ApiError::RateLimited { .. } => {
            ToolOutput::fail("too many requests; please try again shortly")
        }
        ApiError::BadUserInput(m) => ToolOutput::fail(m),
        ApiError::NotFound(what) => ToolOutput::fail(format!("{what} not found")),
        _ => {
            tracing::error!(request_id = %rc.request_id, tool = %speech::one_line(&tc.name.chars().take(64).collect::<String>()), error = ?e, "voice tool failed");
            ToolOutput::fail(
                "sorry, something went wrong on our side; please try again or ask for a person",
            )
        }
    }
}

fn parse_args<T: DeserializeOwned>(v: &Value) -> Result<T, ToolOutput> {
    let v = if v.is_null() { json!({}) } else { v.clone() };
    if !v.is_object() {
        return Err(ToolOutput::fail("the arguments must be a JSON object"));
    }
    if let Some(long) = v.as_object().into_iter().flatten().find(|(_, x)| {
        x.as_str()
            .is_some_and(|s| s.chars().count() > MAX_ARG_CHARS)
    }) {
        return Err(ToolOutput::fail(format!(
            "argument {} is longer than {MAX_ARG_CHARS} characters",
            long.0.chars().take(40).collect::<String>()
        )));
    }
    serde_json::from_value(v).map_err(|e| {
        let msg: String = e.to_string().chars().take(200).collect();
        ToolOutput::fail(format!("invalid arguments: {msg}"))
    })
}

/// Runs one tool once (no exactly-once bookkeeping; see [`call`]). `call_id`, when
/// given, becomes the booking's idempotency key. Errors: database and internal
/// errors only; everything a caller can cause is an `ok: false` output.
pub async fn run(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    tc: &ToolCall,
    call_id: Option<&str>,
) -> Result<ToolOutput, ApiError> {
    if !rc.is_agent() {
        return Ok(ToolOutput::fail("voice tools run with an agent key"));
    }
    let Some(tool) = Tool::parse(&tc.name) else {
        return Ok(ToolOutput::fail(format!(
            "unknown tool; the tools are {}",
            speech::list(&Tool::ALL.map(|t| t.name().to_string()))
        )));
    };
    macro_rules! args {
        ($t:ty) => {
            match parse_args::<$t>(&tc.arguments) {
                Ok(a) => a,
                Err(out) => return Ok(out),
            }
        };
    }
    match tool {
        Tool::CheckAvailability => check_availability(st, rc, args!(CheckAvailabilityArgs)).await,
        Tool::BookAppointment => {
            book_appointment(st, rc, caller, args!(BookAppointmentArgs), call_id).await
        }
        Tool::FindAppointments => {
            find_appointments(st, rc, caller, args!(FindAppointmentsArgs)).await
        }
        Tool::RescheduleAppointment => {
            reschedule_appointment(st, rc, caller, args!(RescheduleAppointmentArgs)).await
        }
        Tool::CancelAppointment => {
            cancel_appointment(st, rc, caller, args!(CancelAppointmentArgs)).await
        }
        Tool::BusinessInfo => business_info(st, rc, args!(BusinessInfoArgs)).await,
        Tool::TransferToHuman => {
            let a = args!(TransferToHumanArgs);
            let reason = a
                .reason
                .map(|r| speech::one_line(&r.chars().take(500).collect::<String>()));
            Ok(ToolOutput::ok(
                "Transferring you to a member of the team now.",
                json!({"action": "transfer_to_human", "reason": reason}),
            ))
        }
    }
}

/// The tenant and its bookable catalog, read once per tool call.
struct Business {
    tenant: tenant::Model,
    tz: Tz,
    services: Vec<service::Model>,
    staff: Vec<staff_member::Model>,
}

impl Business {
    async fn load(st: &GraphState, rc: &RequestCtx) -> Result<Business, ApiError> {
        let tx = st.db.read(rc.tenant_id).await?;
        let tenant = tx.tenant().await?;
        let services = scoped::<service::Entity>(rc.tenant_id)
            .filter(service::Column::Active.eq(true))
            .order_by_asc(service::Column::DisplayOrder)
            .order_by_asc(service::Column::Name)
            .all(&*tx)
            .await?;
        let staff = scoped::<staff_member::Entity>(rc.tenant_id)
            .filter(staff_member::Column::Active.eq(true))
            .order_by_asc(staff_member::Column::Name)
            .all(&*tx)
            .await?;
        tx.commit().await?;
        let tz = bookings::tenant_tz(&tenant)?;
        Ok(Business {
            tenant,
            tz,
            services,
            staff,
        })
    }

    fn staff_name(&self, id: Uuid) -> String {
        self.staff
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "a team member".to_string())
    }

    fn service_name(&self, id: Uuid) -> String {
        self.services
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "appointment".to_string())
    }

    fn service(&self, given: &str) -> Result<&service::Model, ToolOutput> {
        let names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        resolve(
            &self.services,
            given,
            |s| s.id,
            |s| &s.name,
            "service",
            &names,
        )
    }

    fn staff_member(&self, given: &str) -> Result<&staff_member::Model, ToolOutput> {
        let names: Vec<String> = self.staff.iter().map(|s| s.name.clone()).collect();
        resolve(
            &self.staff,
            given,
            |s| s.id,
            |s| &s.name,
            "staff member",
            &names,
        )
    }

    /// A local date and time as an instant (the earlier one when clocks go back).
    fn instant(&self, date: &str, time: &str) -> Result<DateTime<Utc>, ToolOutput> {
        let d = parse_date(date)?;
        let t = parse_time(time)?;
        self.tz
            .from_local_datetime(&d.and_time(t))
            .earliest()
            .map(|x| x.with_timezone(&Utc))
            .ok_or_else(|| {
                ToolOutput::fail(format!(
                    "{} does not exist on {} (the clocks change); please pick another time",
                    speech::clock(t),
                    speech::day(d)
                ))
            })
    }

    fn appointment_json(&self, b: &booking::Model) -> Value {
        let local = b.starts_at.with_timezone(&self.tz);
        json!({
            "appointment_id": b.id,
            "service": self.service_name(b.service_id),
            "staff": self.staff_name(b.staff_member_id),
            "date": local.format("%Y-%m-%d").to_string(),
            "time": local.format("%H:%M").to_string(),
            "starts_at": b.starts_at,
            "ends_at": b.ends_at,
            "status": b.status.as_str(),
            "price": speech::money(b.price_cents, &b.currency),
            "price_cents": b.price_cents,
            "currency": b.currency,
        })
    }

    /// `Haircut on Tuesday December 8 at 2:30 PM with Ana`.
    fn appointment_words(&self, b: &booking::Model) -> String {
        format!(
            "{} on {} with {}",
            self.service_name(b.service_id),
            speech::at(b.starts_at, self.tz),
            self.staff_name(b.staff_member_id)
        )
    }
}

/// Finds one item by id or by name: exact (case-insensitive), else a unique partial
/// match. Ambiguous or unknown names are refused with the choices.
fn resolve<'a, T>(
    items: &'a [T],
    given: &str,
    id: impl Fn(&T) -> Uuid,
    name: impl Fn(&T) -> &str,
    what: &str,
    names: &[String],
) -> Result<&'a T, ToolOutput> {
    let given = given.trim();
    if given.is_empty() {
        return Err(ToolOutput::fail(format!("which {what}?")));
    }
    if let Ok(u) = Uuid::parse_str(given) {
        return items
            .iter()
            .find(|i| id(i) == u)
            .ok_or_else(|| ToolOutput::fail(format!("no {what} with that id")));
    }
    let wanted = given.to_lowercase();
    let exact: Vec<&T> = items
        .iter()
        .filter(|i| name(i).trim().to_lowercase() == wanted)
        .collect();
    let partial: Vec<&T> = if exact.is_empty() {
        items
            .iter()
            .filter(|i| name(i).to_lowercase().contains(&wanted))
            .collect()
    } else {
        exact
    };
    match partial.as_slice() {
        [one] => Ok(one),
        [] => Err(ToolOutput::fail(if names.is_empty() {
            format!("there is no {what} to choose from")
        } else {
            format!(
                "I couldn't find a {what} called {}; the choices are {}",
                speech::one_line(&given.chars().take(60).collect::<String>()),
                speech::list(names)
            )
        })),
        many => Err(ToolOutput::fail(format!(
            "which {what} do you mean: {}?",
            speech::list(&many.iter().map(|i| name(i).to_string()).collect::<Vec<_>>())
        ))),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, ToolOutput> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ToolOutput::fail("the date must be YYYY-MM-DD"))
}

fn parse_time(s: &str) -> Result<NaiveTime, ToolOutput> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .map_err(|_| ToolOutput::fail("the time must be HH:MM (24-hour)"))
}

fn parse_appointment_id(s: &str) -> Result<Uuid, ToolOutput> {
    Uuid::parse_str(s.trim()).map_err(|_| not_found())
}

fn not_found() -> ToolOutput {
    ToolOutput::fail("I couldn't find that appointment for the number you are calling from")
}

/// Free slots of one local day, or a refusal as an output.
async fn day_slots(
    st: &GraphState,
    rc: &RequestCtx,
    service_id: Uuid,
    staff_id: Option<Uuid>,
    date: NaiveDate,
) -> Result<Result<Vec<Slot>, ToolOutput>, ApiError> {
    let q = SlotQuery {
        service_id,
        staff_member_id: staff_id,
        from: date,
        to: date,
        location: None,
        extra_service_ids: vec![],
        addon_ids: vec![],
    };
    match available_slots(st, rc, q).await {
        Ok((slots, _)) => Ok(Ok(slots)),
        Err(ApiError::BadUserInput(m)) => Ok(Err(ToolOutput::fail(m))),
        Err(ApiError::NotFound(what)) => Ok(Err(ToolOutput::fail(format!("{what} not found")))),
        Err(e) => Err(e),
    }
}

/// The `n` free starts nearest to `wanted`, in time order.
fn nearest(slots: &[Slot], wanted: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut starts: Vec<DateTime<Utc>> = slots.iter().map(|s| s.starts_at).collect();
    starts.sort_by_key(|t| ((*t - wanted).num_seconds().abs(), *t));
    starts.truncate(n);
    starts.sort();
    starts
}

fn slot_json(b: &Business, s: &Slot) -> Value {
    json!({
        "time": s.starts_at.with_timezone(&b.tz).format("%H:%M").to_string(),
        "starts_at": s.starts_at,
        "staff": s.staff_member_ids.iter().map(|id| b.staff_name(*id)).collect::<Vec<_>>(),
    })
}

fn alternatives_sentence(b: &Business, date: NaiveDate, alts: &[DateTime<Utc>]) -> String {
    if alts.is_empty() {
        format!("There are no other free times on {}.", speech::day(date))
    } else {
        let times: Vec<String> = alts.iter().map(|t| speech::clock_at(*t, b.tz)).collect();
        format!(
            "The nearest free times that day are {}.",
            speech::list(&times)
        )
    }
}

fn alternatives_json(b: &Business, alts: &[DateTime<Utc>]) -> Value {
    Value::Array(
        alts.iter()
            .map(|t| {
                json!({
                    "time": t.with_timezone(&b.tz).format("%H:%M").to_string(),
                    "starts_at": t,
                })
            })
            .collect(),
    )
}

async fn check_availability(
    st: &GraphState,
    rc: &RequestCtx,
    a: CheckAvailabilityArgs,
) -> Result<ToolOutput, ApiError> {
    let b = Business::load(st, rc).await?;
    let svc = match b.service(&a.service) {
        Ok(s) => s,
        Err(out) => return Ok(out),
    };
    let staff = match a.staff.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => match b.staff_member(s) {
            Ok(m) => Some(m),
            Err(out) => return Ok(out),
        },
        None => None,
    };
    let date = match parse_date(&a.date) {
        Ok(d) => d,
        Err(out) => return Ok(out),
    };
    let slots = match day_slots(st, rc, svc.id, staff.map(|s| s.id), date).await? {
        Ok(s) => s,
        Err(out) => return Ok(out),
    };
    let with = staff
        .map(|s| format!(" with {}", s.name))
        .unwrap_or_default();
    let base = json!({
        "service": {"id": svc.id, "name": svc.name},
        "staff": staff.map(|s| json!({"id": s.id, "name": s.name})),
        "date": date.format("%Y-%m-%d").to_string(),
    });
    let mut data = base;
    match a.time.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(time) => {
            let wanted = match b.instant(&a.date, time) {
                Ok(t) => t,
                Err(out) => return Ok(out),
            };
            let hit = slots.iter().find(|s| s.starts_at == wanted);
            data["time"] = json!(wanted.with_timezone(&b.tz).format("%H:%M").to_string());
            data["available"] = json!(hit.is_some());
            if let Some(s) = hit {
                let who: Vec<String> = s
                    .staff_member_ids
                    .iter()
                    .map(|id| b.staff_name(*id))
                    .collect();
                data["slot"] = slot_json(&b, s);
                return Ok(ToolOutput::ok(
                    format!(
                        "{} is available for {}{}.",
                        speech::at(wanted, b.tz),
                        svc.name,
                        if with.is_empty() {
                            format!(" with {}", speech::list(&who))
                        } else {
                            with.clone()
                        }
                    ),
                    data,
                ));
            }
            let alts = nearest(&slots, wanted, ALTERNATIVES);
            data["alternatives"] = alternatives_json(&b, &alts);
            Ok(ToolOutput::ok(
                format!(
                    "{} is not available for {}{}. {}",
                    speech::at(wanted, b.tz),
                    svc.name,
                    with,
                    alternatives_sentence(&b, date, &alts)
                ),
                data,
            ))
        }
        None => {
            data["slots"] = Value::Array(slots.iter().take(96).map(|s| slot_json(&b, s)).collect());
            if slots.is_empty() {
                return Ok(ToolOutput::ok(
                    format!(
                        "There are no free times for {}{} on {}.",
                        svc.name,
                        with,
                        speech::day(date)
                    ),
                    data,
                ));
            }
            let times: Vec<String> = slots
                .iter()
                .take(TIMES_READ_OUT)
                .map(|s| speech::clock_at(s.starts_at, b.tz))
                .collect();
            let more = slots.len().saturating_sub(TIMES_READ_OUT);
            let tail = match (more, slots.last()) {
                (0, _) | (_, None) => String::new(),
                (n, Some(last)) => format!(
                    ", and {n} more until {}",
                    speech::clock_at(last.starts_at, b.tz)
                ),
            };
            Ok(ToolOutput::ok(
                format!(
                    "Free times for {}{} on {}: {}{tail}.",
                    svc.name,
                    with,
                    speech::day(date),
                    speech::list(&times)
                ),
                data,
            ))
        }
    }
}

/// Whether a booking refusal means "this time is not possible" (answered with
/// alternatives) rather than a request that cannot work at all.
fn time_refusal(e: &UserError) -> bool {
    matches!(
        e.code,
        C::SlotUnavailable
            | C::OutsideWorkingHours
            | C::NotOnSlotGrid
            | C::InThePast
            | C::MinimumNotice
            | C::BeyondHorizon
    )
}

fn code_text(c: C) -> String {
    use async_graphql::InputType;
    match c.to_value() {
        async_graphql::Value::Enum(n) => n.to_string(),
        other => other.to_string(),
    }
}

async fn book_appointment(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    a: BookAppointmentArgs,
    call_id: Option<&str>,
) -> Result<ToolOutput, ApiError> {
    let b = Business::load(st, rc).await?;
    let svc = match b.service(&a.service) {
        Ok(s) => s,
        Err(out) => return Ok(out),
    };
    let staff = match a.staff.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => match b.staff_member(s) {
            Ok(m) => Some(m),
            Err(out) => return Ok(out),
        },
        None => None,
    };
    let starts_at = match b.instant(&a.date, &a.time) {
        Ok(t) => t,
        Err(out) => return Ok(out),
    };
    let date = starts_at.with_timezone(&b.tz).date_naive();
    let phone = match a.customer_phone.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => match normalize_phone(p) {
            Some(n) => n,
            None => return Ok(ToolOutput::fail("that phone number is not valid")),
        },
        None => match &caller.phone {
            Some(p) => p.clone(),
            None => {
                return Ok(ToolOutput::fail(
                    "I need the customer's phone number to book (customer_phone)",
                ));
            }
        },
    };
    let customer = match clean(
        CustomerInput {
            name: a.customer_name,
            phone: Some(phone),
            email: None,
            address: None,
            notes: None,
        },
        "",
    ) {
        Ok(c) => c,
        Err(errors) => return Ok(refusal(&errors)),
    };
    let nb = NewBooking {
        collect_deposit: false,
        service_id: svc.id,
        staff_member_id: staff.map(|s| s.id),
        starts_at,
        customer: CustomerChoice::Details(customer),
        address: None,
        notes: a.notes.filter(|n| !n.trim().is_empty()),
        status: if caller.request_only {
            BookingStatus::Pending
        } else {
            BookingStatus::Confirmed
        },
        source: BookingSource::Agent,
        idempotency_key: call_id.map(|id| format!("voice-tool-call:{id}")),
        hold_token: caller.hold_token.clone(),
        location: None,
        extra_service_ids: vec![],
        addon_ids: vec![],
    };
    match bookings::create(st, rc, nb).await? {
        Ok(created) => {
            let bk = &created.booking;
            if bk.status == BookingStatus::Pending {
                return Ok(ToolOutput::ok(
                    format!(
                        "Requested: {}, {}. The team will confirm it by text. Appointment id {}.",
                        b.appointment_words(bk),
                        speech::money(bk.price_cents, &bk.currency),
                        bk.id
                    ),
                    json!({"booked": true, "pending": true, "appointment": b.appointment_json(bk)}),
                ));
            }
            Ok(ToolOutput::ok(
                format!(
                    "Booked: {}, {}. Appointment id {}.",
                    b.appointment_words(bk),
                    speech::money(bk.price_cents, &bk.currency),
                    bk.id
                ),
                json!({"booked": true, "appointment": b.appointment_json(bk)}),
            ))
        }
        Err(errors) if errors.iter().any(time_refusal) => {
            let first = errors
                .iter()
                .find(|e| time_refusal(e))
                .map(|e| (e.code, e.message.clone()));
            let slots = match day_slots(st, rc, svc.id, staff.map(|s| s.id), date).await? {
                Ok(s) => s,
                Err(out) => return Ok(out),
            };
            let alts = nearest(&slots, starts_at, ALTERNATIVES);
            let (code, why) = first.unwrap_or((C::SlotUnavailable, String::new()));
            let lead = if code == C::SlotUnavailable {
                format!("Sorry, {} is already taken.", speech::at(starts_at, b.tz))
            } else {
                format!(
                    "Sorry, {} can't be booked: {why}.",
                    speech::at(starts_at, b.tz)
                )
            };
            Ok(ToolOutput::ok(
                format!("{lead} {}", alternatives_sentence(&b, date, &alts)),
                json!({
                    "booked": false,
                    "reason": code_text(code),
                    "alternatives": alternatives_json(&b, &alts),
                }),
            ))
        }
        Err(errors) => Ok(refusal(&errors)),
    }
}

fn refusal(errors: &[UserError]) -> ToolOutput {
    let msgs: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    ToolOutput {
        ok: false,
        message: speech::one_line(&msgs.join("; ")),
        data: json!({
            "codes": errors.iter().map(|e| code_text(e.code)).collect::<Vec<_>>(),
        }),
    }
}

/// The caller's number, or the refusal to look anything up without one.
fn caller_phone(caller: &Caller) -> Result<&str, ToolOutput> {
    caller.phone.as_deref().ok_or_else(|| {
        ToolOutput::fail(
            "I can only look up appointments for the number you are calling from, and it is not available",
        )
    })
}

/// Booking `id` when it belongs to a customer with the caller's number; `None` (as
/// "not found") otherwise.
async fn owned(
    st: &GraphState,
    rc: &RequestCtx,
    phone: &str,
    id: Uuid,
) -> Result<Option<booking::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let b = scoped::<booking::Entity>(rc.tenant_id)
        .filter(booking::Column::Id.eq(id))
        .one(&*tx)
        .await?;
    let owner = match &b {
        Some(b) => {
            scoped::<customer::Entity>(rc.tenant_id)
                .filter(customer::Column::Id.eq(b.customer_id))
                .one(&*tx)
                .await?
        }
        None => None,
    };
    tx.commit().await?;
    Ok(match (b, owner) {
        (Some(b), Some(c)) if c.phone.as_deref() == Some(phone) => Some(b),
        _ => None,
    })
}

async fn find_appointments(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    a: FindAppointmentsArgs,
) -> Result<ToolOutput, ApiError> {
    let phone = match caller_phone(caller) {
        Ok(p) => p.to_string(),
        Err(out) => return Ok(out),
    };
    if let Some(given) = a.customer_phone.as_deref().filter(|p| !p.trim().is_empty())
        && normalize_phone(given).as_deref() != Some(phone.as_str())
    {
        return Ok(ToolOutput::fail(
            "for privacy I can only look up appointments for the number you are calling from",
        ));
    }
    let b = Business::load(st, rc).await?;
    let tx = st.db.read(rc.tenant_id).await?;
    let cust = scoped::<customer::Entity>(rc.tenant_id)
        .filter(customer::Column::Phone.eq(phone.as_str()))
        .one(&*tx)
        .await?;
    let list = match &cust {
        Some(c) => {
            scoped::<booking::Entity>(rc.tenant_id)
                .filter(booking::Column::CustomerId.eq(c.id))
                .filter(booking::Column::StartsAt.gte(now()))
                .filter(
                    booking::Column::Status
                        .is_in([BookingStatus::Pending, BookingStatus::Confirmed]),
                )
                .order_by_asc(booking::Column::StartsAt)
                .limit(MAX_LISTED)
                .all(&*tx)
                .await?
        }
        None => vec![],
    };
    tx.commit().await?;
    let data = json!({
        "appointments": list.iter().map(|x| b.appointment_json(x)).collect::<Vec<_>>(),
    });
    if list.is_empty() {
        return Ok(ToolOutput::ok(
            "I don't see any upcoming appointments for this number.",
            data,
        ));
    }
    let items: Vec<String> = list
        .iter()
        .map(|x| format!("{} (appointment id {})", b.appointment_words(x), x.id))
        .collect();
    let lead = if list.len() == 1 {
        "You have one upcoming appointment:".to_string()
    } else {
        format!("You have {} upcoming appointments:", list.len())
    };
    Ok(ToolOutput::ok(
        format!("{lead} {}.", items.join("; ")),
        data,
    ))
}

async fn reschedule_appointment(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    a: RescheduleAppointmentArgs,
) -> Result<ToolOutput, ApiError> {
    let phone = match caller_phone(caller) {
        Ok(p) => p.to_string(),
        Err(out) => return Ok(out),
    };
    let id = match parse_appointment_id(&a.appointment_id) {
        Ok(id) => id,
        Err(out) => return Ok(out),
    };
    let Some(current) = owned(st, rc, &phone, id).await? else {
        return Ok(not_found());
    };
    let b = Business::load(st, rc).await?;
    let starts_at = match b.instant(&a.date, &a.time) {
        Ok(t) => t,
        Err(out) => return Ok(out),
    };
    let date = starts_at.with_timezone(&b.tz).date_naive();
    let outcome = match bookings::reschedule(st, rc, id, starts_at, None, true).await {
        Ok(o) => o,
        Err(ApiError::NotFound(_)) => return Ok(not_found()),
        Err(e) => return Err(e),
    };
    match outcome {
        Ok(updated) => Ok(ToolOutput::ok(
            format!(
                "Done: your appointment is now {}.",
                b.appointment_words(&updated)
            ),
            json!({"rescheduled": true, "appointment": b.appointment_json(&updated)}),
        )),
        Err(errors) if errors.iter().any(time_refusal) => {
            let slots = match day_slots(
                st,
                rc,
                current.service_id,
                Some(current.staff_member_id),
                date,
            )
            .await?
            {
                Ok(s) => s,
                Err(out) => return Ok(out),
            };
            let alts = nearest(&slots, starts_at, ALTERNATIVES);
            let code = errors
                .iter()
                .find(|e| time_refusal(e))
                .map(|e| e.code)
                .unwrap_or(C::SlotUnavailable);
            Ok(ToolOutput::ok(
                format!(
                    "Sorry, {} is not available; your appointment stays {}. {}",
                    speech::at(starts_at, b.tz),
                    speech::at(current.starts_at, b.tz),
                    alternatives_sentence(&b, date, &alts)
                ),
                json!({
                    "rescheduled": false,
                    "reason": code_text(code),
                    "alternatives": alternatives_json(&b, &alts),
                    "appointment": b.appointment_json(&current),
                }),
            ))
        }
        Err(errors) => Ok(refusal(&errors)),
    }
}

async fn cancel_appointment(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    a: CancelAppointmentArgs,
) -> Result<ToolOutput, ApiError> {
    let phone = match caller_phone(caller) {
        Ok(p) => p.to_string(),
        Err(out) => return Ok(out),
    };
    let id = match parse_appointment_id(&a.appointment_id) {
        Ok(id) => id,
        Err(out) => return Ok(out),
    };
    let Some(current) = owned(st, rc, &phone, id).await? else {
        return Ok(not_found());
    };
    let b = Business::load(st, rc).await?;
    if current.status == BookingStatus::Canceled {
        return Ok(ToolOutput::ok(
            format!(
                "Your {} is already canceled.",
                b.appointment_words(&current)
            ),
            json!({"canceled": true, "appointment": b.appointment_json(&current)}),
        ));
    }
    // A spoken reason is kept, cut to what a booking stores rather than refused.
    let reason = a.reason.map(|r| {
        speech::one_line(&r)
            .chars()
            .take(bookings::CANCELLATION_REASON_MAX)
            .collect::<String>()
    });
    let outcome = match bookings::cancel_on_behalf(st, rc, id, reason.clone()).await {
        Ok(o) => o,
        Err(ApiError::NotFound(_)) => return Ok(not_found()),
        Err(e) => return Err(e),
    };
    match outcome {
        Ok(updated) => Ok(ToolOutput::ok(
            format!("Your {} is canceled.", b.appointment_words(&updated)),
            json!({"canceled": true, "reason": reason, "appointment": b.appointment_json(&updated)}),
        )),
        Err(errors) => Ok(refusal(&errors)),
    }
}

/// Opening hours: per weekday, the earliest start to the latest end of any active
/// staff member, grouped into runs of days with the same hours.
async fn hours_sentence(
    st: &GraphState,
    rc: &RequestCtx,
    b: &Business,
) -> Result<(String, Value), ApiError> {
    use entities::working_hours;
    let active: Vec<Uuid> = b.staff.iter().map(|s| s.id).collect();
    let tx = st.db.read(rc.tenant_id).await?;
    let rows = scoped::<working_hours::Entity>(rc.tenant_id)
        .filter(working_hours::Column::StaffMemberId.is_in(active))
        .all(&*tx)
        .await?;
    tx.commit().await?;
    let mut days: [Option<(i32, i32)>; 7] = [None; 7];
    for r in &rows {
        if let Some(slot) = usize::try_from(r.weekday)
            .ok()
            .and_then(|i| days.get_mut(i))
        {
            *slot = Some(match *slot {
                None => (r.start_minute, r.end_minute),
                Some((s, e)) => (s.min(r.start_minute), e.max(r.end_minute)),
            });
        }
    }
    const NAMES: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let fmt = |m: i32| {
        NaiveTime::from_hms_opt(
            (m / 60).clamp(0, 23) as u32,
            (m % 60).clamp(0, 59) as u32,
            0,
        )
        .map(speech::clock)
        .unwrap_or_else(|| "midnight".into())
    };
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 7 {
        let mut j = i;
        while j + 1 < 7 && days[j + 1] == days[i] {
            j += 1;
        }
        let span = if i == j {
            NAMES[i].to_string()
        } else {
            format!("{} to {}", NAMES[i], NAMES[j])
        };
        parts.push(match days[i] {
            Some((s, e)) => format!("{span} {} to {}", fmt(s), fmt(e)),
            None => format!("closed {span}"),
        });
        i = j + 1;
    }
    let data: Vec<Value> = (0..7)
        .map(|i| {
            json!({
                "weekday": NAMES[i],
                "open": days[i].map(|(s, _)| format!("{:02}:{:02}", s / 60, s % 60)),
                "close": days[i].map(|(_, e)| format!("{:02}:{:02}", e / 60, e % 60)),
            })
        })
        .collect();
    let sentence = if days.iter().all(Option::is_none) {
        "No opening hours are set up yet.".to_string()
    } else {
        format!("Opening hours: {}.", parts.join("; "))
    };
    Ok((sentence, Value::Array(data)))
}

fn services_sentence(b: &Business) -> (String, Value) {
    let items: Vec<String> = b
        .services
        .iter()
        .map(|s| {
            format!(
                "{} ({}, {})",
                s.name,
                speech::minutes(s.duration_minutes),
                speech::money(s.price_cents, &b.tenant.currency)
            )
        })
        .collect();
    let data = Value::Array(
        b.services
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "name": s.name, "duration_minutes": s.duration_minutes,
                    "price": speech::money(s.price_cents, &b.tenant.currency),
                    "price_cents": s.price_cents, "currency": b.tenant.currency,
                    "description": s.description,
                })
            })
            .collect(),
    );
    let sentence = if items.is_empty() {
        "No services are bookable yet.".to_string()
    } else {
        format!("{} offers {}.", b.tenant.name, speech::list(&items))
    };
    (sentence, data)
}

fn policies_sentence(b: &Business) -> String {
    let t = &b.tenant;
    format!(
        "Appointments can be changed or canceled up to {} hours before the start. Bookings need at least {} of notice and can be made up to {} days ahead.",
        t.cancellation_notice_hours,
        speech::minutes(t.min_notice_minutes),
        t.horizon_days
    )
}

async fn business_info(
    st: &GraphState,
    rc: &RequestCtx,
    a: BusinessInfoArgs,
) -> Result<ToolOutput, ApiError> {
    let b = Business::load(st, rc).await?;
    let topic = a.topic.unwrap_or_default().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| topic.contains(w));
    let mut sentences = Vec::new();
    let mut data = json!({"business": b.tenant.name, "timezone": b.tenant.timezone, "currency": b.tenant.currency});
    let hours = has(&["hour", "open", "close", "when"]);
    let address = has(&["address", "where", "locat", "direction", "park"]);
    let services = has(&[
        "service",
        "offer",
        "menu",
        "do you do",
        "price",
        "cost",
        "how much",
        "charge",
        "fee",
    ]);
    let policies = has(&["polic", "cancel", "reschedul", "notice", "late", "deposit"]);
    let overview = !(hours || address || services || policies);
    if address {
        sentences.push(format!(
            "I don't have {}'s address on file; I can transfer you to someone who can help.",
            b.tenant.name
        ));
        data["address"] = Value::Null;
    }
    if services || overview {
        let (s, d) = services_sentence(&b);
        sentences.push(s);
        data["services"] = d;
    }
    if hours || overview {
        let (s, d) = hours_sentence(st, rc, &b).await?;
        sentences.push(s);
        data["hours"] = d;
    }
    if policies {
        sentences.push(policies_sentence(&b));
        data["policies"] = json!({
            "cancellation_notice_hours": b.tenant.cancellation_notice_hours,
            "min_notice_minutes": b.tenant.min_notice_minutes,
            "horizon_days": b.tenant.horizon_days,
        });
    }
    Ok(ToolOutput::ok(sentences.join(" "), data))
}

/// How long the slot of a booking being read back is held, minutes.
pub const READ_BACK_HOLD_MINUTES: i32 = 10;

/// A change ready to be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// What it would do, in words ("Haircut on Tuesday December 8 at 2:30 PM with Ana").
    pub words: String,
    /// For a booking: the hold on its slot (book with it, or release it).
    pub hold_token: Option<String>,
}

/// What a change tool (`book_appointment`, `reschedule_appointment`,
/// `cancel_appointment`) would do, in words to read back to the caller before it runs,
/// after the same checks of its arguments the tool makes (service and staff names,
/// date and time, that the appointment is the caller's). A booking's slot is held for
/// [`READ_BACK_HOLD_MINUTES`] (refused like the booking when it is taken).
/// `Ok(Err(output))`: the tool would refuse; `output` says why. Errors: database
/// errors only.
pub async fn read_back(
    st: &GraphState,
    rc: &RequestCtx,
    caller: &Caller,
    tc: &ToolCall,
) -> Result<Result<ReadBack, ToolOutput>, ApiError> {
    let Some(tool) = Tool::parse(&tc.name).filter(|t| t.writes()) else {
        return Ok(Err(ToolOutput::fail("not a change tool")));
    };
    let b = Business::load(st, rc).await?;
    macro_rules! args {
        ($t:ty) => {
            match parse_args::<$t>(&tc.arguments) {
                Ok(a) => a,
                Err(out) => return Ok(Err(out)),
            }
        };
    }
    macro_rules! check {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(out) => return Ok(Err(out)),
            }
        };
    }
    match tool {
        Tool::BookAppointment => {
            let a = args!(BookAppointmentArgs);
            let svc = check!(b.service(&a.service));
            let member = match a.staff.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(s) => Some(check!(b.staff_member(s))),
                None => None,
            };
            let at = check!(b.instant(&a.date, &a.time));
            if caller.phone.is_none()
                && a.customer_phone
                    .as_deref()
                    .is_none_or(|p| p.trim().is_empty())
            {
                return Ok(Err(ToolOutput::fail(
                    "I need the customer's phone number to book (customer_phone)",
                )));
            }
            let held = match bookings::hold(
                st,
                rc,
                svc.id,
                member.map(|m| m.id),
                at,
                Some(READ_BACK_HOLD_MINUTES),
                None,
            )
            .await?
            {
                Ok(h) => h,
                Err(errors) => return Ok(Err(refusal(&errors))),
            };
            Ok(Ok(ReadBack {
                words: format!(
                    "{} on {} with {}, for {}",
                    svc.name,
                    speech::at(at, b.tz),
                    b.staff_name(held.hold.staff_member_id),
                    speech::one_line(&a.customer_name.chars().take(100).collect::<String>())
                ),
                hold_token: Some(held.token),
            }))
        }
        Tool::RescheduleAppointment => {
            let a = args!(RescheduleAppointmentArgs);
            let phone = check!(caller_phone(caller)).to_string();
            let id = check!(parse_appointment_id(&a.appointment_id));
            let Some(current) = owned(st, rc, &phone, id).await? else {
                return Ok(Err(not_found()));
            };
            let at = check!(b.instant(&a.date, &a.time));
            Ok(Ok(ReadBack {
                words: format!(
                    "move your {} to {}",
                    b.appointment_words(&current),
                    speech::at(at, b.tz)
                ),
                hold_token: None,
            }))
        }
        Tool::CancelAppointment => {
            let a = args!(CancelAppointmentArgs);
            let phone = check!(caller_phone(caller)).to_string();
            let id = check!(parse_appointment_id(&a.appointment_id));
            let Some(current) = owned(st, rc, &phone, id).await? else {
                return Ok(Err(not_found()));
            };
            Ok(Ok(ReadBack {
                words: format!("cancel your {}", b.appointment_words(&current)),
                hold_token: None,
            }))
        }
        _ => Ok(Err(ToolOutput::fail("not a change tool"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_match_the_argument_types() {
        let from_types: Vec<String> = super::super::schema::argument_types()
            .iter()
            .map(|t| super::super::schema::tool_name(t))
            .collect();
        let names: Vec<String> = Tool::ALL.iter().map(|t| t.name().to_string()).collect();
        assert_eq!(from_types, names);
        assert_eq!(Tool::parse("book_appointment"), Some(Tool::BookAppointment));
        assert_eq!(Tool::parse("drop_tables"), None);
    }

    #[test]
    fn names_resolve_exactly_then_uniquely_partially() {
        let items = vec![
            (Uuid::from_u128(1), "Haircut".to_string()),
            (Uuid::from_u128(2), "Haircut & Color".to_string()),
            (Uuid::from_u128(3), "Beard Trim".to_string()),
        ];
        let names: Vec<String> = items.iter().map(|i| i.1.clone()).collect();
        let r = |g: &str| resolve(&items, g, |i| i.0, |i| &i.1, "service", &names);
        assert_eq!(r("haircut").unwrap().0, Uuid::from_u128(1));
        assert_eq!(r(" BEARD ").unwrap().0, Uuid::from_u128(3));
        assert_eq!(
            r(&Uuid::from_u128(2).to_string()).unwrap().0,
            Uuid::from_u128(2)
        );
        assert!(r("color").is_ok());
        assert!(r("hair").unwrap_err().message.contains("which service"));
        assert!(r("massage").unwrap_err().message.contains("Beard Trim"));
        assert!(r(&Uuid::from_u128(9).to_string()).is_err());
    }

    #[test]
    fn arguments_are_strict() {
        let bad: Result<CancelAppointmentArgs, _> =
            parse_args(&json!({"appointment_id": "x", "tenant": "other"}));
        assert!(!bad.unwrap_err().ok);
        let missing: Result<BookAppointmentArgs, _> = parse_args(&json!({"service": "x"}));
        assert!(
            missing
                .unwrap_err()
                .message
                .starts_with("invalid arguments")
        );
        let ok: Result<BusinessInfoArgs, _> = parse_args(&Value::Null);
        assert!(ok.unwrap().topic.is_none());
        let nulls: Result<FindAppointmentsArgs, _> = parse_args(&json!({"customer_phone": null}));
        assert!(nulls.is_ok());
        let long: Result<BusinessInfoArgs, _> = parse_args(&json!({"topic": "x".repeat(3000)}));
        assert!(long.is_err());
    }
}
