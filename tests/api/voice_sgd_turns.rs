//! Real input through the built-in phone assistant: the SGD appointment dialogues (the
//! file `sgd::sgd_data_file` picks, plus the dev split beside the shared train split)
//! played as phone calls through the Twilio turn loop — signed
//! `POST /webhooks/{slug}/twilio/voice` requests, one per caller utterance as
//! `SpeechResult`, then the `voice-status` callback (`completed`).
//!
//! Every provider is a tenant (as in `voice_sgd`: one 60-minute "Appointment" service,
//! one staff member Mon–Sat 09:00–18:00, America/Los_Angeles) with plugins `twilio` and
//! `openai`; the latter points at one local mock of `POST /v1/chat/completions` (under
//! `/t/{tenant}/v1`, so the mock knows the tenant) that plays the dialogue's own system:
//! for the caller turn after which the system made a `FindProvider` call it answers
//! `business_info` (services), after a `BookAppointment` call `book_appointment` at that
//! provider's tenant, local date (shifted by whole weeks into the future) and time;
//! otherwise text. A tool result is answered with text that carries it. The server
//! reads a booking back and holds the slot first; the next caller turn is the
//! dialogue's own next utterance when that is a plain yes, else "yes", and the model
//! repeats the identical call, which books. A dialogue whose bookings go to several
//! providers is several calls, one per provider. Each tenant's calls run in file
//! order; tenants run concurrently.
//!
//! Asserted per call: every answer is 200 with TwiML that listens again; the call log
//! ends `COMPLETED` with as many turns as utterances sent and every tool call the
//! model made, outcome `BOOKED` (and the booking linked) iff the call booked.
//! Globally: the `AGENT` bookings in the database equal the confirmed bookings; every
//! book call is booked, a collision (slot taken) or a refusal (outside hours); every
//! model request named the configured model and carried the tools. Counts printed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::twilio::{self, ACCOUNT_SID, AUTH_TOKEN};
use crate::helpers::{Owner, TestApp, spawn_app_with};

const TZ: &str = "America/Los_Angeles";
const MODEL: &str = "gpt-4o-mini-sgd-test";
/// Tenants played at once.
const CONCURRENCY: usize = 8;

/// What the dialogue's system did after a caller utterance.
#[derive(Clone, Debug)]
enum Act {
    Text,
    Info,
    Book { date: String, time: String },
}

#[derive(Clone, Debug)]
struct Utterance {
    words: String,
    act: Act,
}

/// One phone call: a dialogue's utterances addressed to one provider.
#[derive(Debug)]
struct PhoneCall {
    dialogue: String,
    provider: String,
    phone: String,
    utterances: Vec<Utterance>,
}

fn provider_name(fields: &Value) -> Option<String> {
    fields
        .as_object()?
        .iter()
        .find(|(k, _)| k.ends_with("_name"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string)
}

/// The file's dialogues as phone calls (dates shifted by `shift` weeks).
fn phone_calls(file: &Path, shift: i64) -> Vec<PhoneCall> {
    let dialogues: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut calls = Vec::new();
    for (k, d) in dialogues.iter().enumerate() {
        let id = d["dialogue_id"].as_str().unwrap().to_string();
        let turns = d["turns"].as_array().unwrap();
        // (utterance, provider it books at)
        let mut said: Vec<(Utterance, Option<String>)> = Vec::new();
        let mut first_lookup: Option<String> = None;
        for (i, t) in turns.iter().enumerate() {
            if t["speaker"] != "USER" {
                continue;
            }
            let mut act = Act::Text;
            let mut books_at = None;
            let frames = turns
                .get(i + 1)
                .and_then(|s| s["frames"].as_array())
                .cloned()
                .unwrap_or_default();
            for f in &frames {
                let call = &f["service_call"];
                match call["method"].as_str() {
                    Some("FindProvider") => {
                        if let Some(first) = f["service_results"]
                            .as_array()
                            .and_then(|r| r.first())
                            .and_then(provider_name)
                        {
                            first_lookup.get_or_insert(first);
                            act = Act::Info;
                        }
                    }
                    Some("BookAppointment") => {
                        let p = &call["parameters"];
                        let (Some(name), Some(date), Some(time)) = (
                            provider_name(p),
                            p["appointment_date"].as_str(),
                            p["appointment_time"].as_str(),
                        ) else {
                            continue;
                        };
                        let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap()
                            + Duration::weeks(shift);
                        act = Act::Book {
                            date: date.format("%Y-%m-%d").to_string(),
                            time: time.to_string(),
                        };
                        books_at = Some(name);
                    }
                    _ => {}
                }
            }
            said.push((
                Utterance {
                    words: t["utterance"].as_str().unwrap().to_string(),
                    act,
                },
                books_at,
            ));
        }
        // Each utterance goes to the provider of the next booking, else of the last
        // one, else to the first provider offered.
        let mut to: Vec<Option<String>> = vec![None; said.len()];
        let mut next: Option<String> = None;
        for (i, (_, b)) in said.iter().enumerate().rev() {
            if b.is_some() {
                next = b.clone();
            }
            to[i] = next.clone();
        }
        let mut last: Option<String> = None;
        for (i, (_, b)) in said.iter().enumerate() {
            if b.is_some() {
                last = b.clone();
            }
            if to[i].is_none() {
                to[i] = last.clone().or_else(|| first_lookup.clone());
            }
        }
        let phone = servicegraph::replay_sgd::customer_phone(k);
        for ((u, _), p) in said.into_iter().zip(to) {
            let p = p.unwrap_or_else(|| panic!("dialogue {id} names no provider"));
            match calls.last_mut() {
                Some(PhoneCall {
                    dialogue,
                    provider,
                    utterances,
                    ..
                }) if *dialogue == id && *provider == p => utterances.push(u),
                _ => calls.push(PhoneCall {
                    dialogue: id.clone(),
                    provider: p,
                    phone: phone.clone(),
                    utterances: vec![u],
                }),
            }
        }
    }
    calls
}

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-sgd",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        "system_fingerprint": "fp_test",
    })
}

fn text(text: &str) -> Value {
    completion(
        json!({"role": "assistant", "content": text, "refusal": null}),
        "stop",
    )
}

/// Tool calls (name, arguments) waiting for a tenant's next caller turns.
type Queue = VecDeque<(String, Value)>;

/// The model: per tenant, the tool calls queued for its next caller turns.
#[derive(Clone, Default)]
struct Llm {
    queues: Arc<Mutex<HashMap<String, Queue>>>,
    ids: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    summaries: Arc<AtomicUsize>,
    bad: Arc<Mutex<Vec<String>>>,
}

impl Llm {
    fn queue(&self, tenant: &str, name: &str, args: Value) {
        self.queues
            .lock()
            .unwrap()
            .entry(tenant.to_string())
            .or_default()
            .push_back((name.to_string(), args));
    }
}

impl Respond for Llm {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let tenant = req.url.path().split('/').nth(2).unwrap_or("").to_string();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body["model"] != MODEL {
            self.bad
                .lock()
                .unwrap()
                .push(format!("model {}", body["model"]));
        }
        let tools: Vec<&str> = body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["function"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if tools.is_empty() {
            // The summary at hang-up asks without tools.
            self.summaries.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(200)
                .set_body_json(text("The caller asked about an appointment."));
        }
        for t in ["business_info", "check_availability", "book_appointment"] {
            if !tools.contains(&t) {
                self.bad.lock().unwrap().push(format!("tool {t} missing"));
            }
        }
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or(Value::Null);
        let answer = if last["role"] == "tool" {
            // Say what the tool answered; a refusal with its codes.
            let out: Value =
                serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
            let message = out["message"].as_str().unwrap_or_default();
            match out["data"]["codes"].as_array() {
                Some(codes) if out["ok"] == false => {
                    let codes: Vec<&str> = codes.iter().filter_map(Value::as_str).collect();
                    text(&format!("Refused: {}. {message}", codes.join(",")))
                }
                _ => text(message),
            }
        } else {
            let next = self
                .queues
                .lock()
                .unwrap()
                .get_mut(&tenant)
                .and_then(VecDeque::pop_front);
            match next {
                Some((name, args)) => {
                    let id = format!("call_{}", self.ids.fetch_add(1, Ordering::SeqCst));
                    completion(
                        json!({"role": "assistant", "content": null, "refusal": null,
                            "tool_calls": [{"id": id, "type": "function",
                                "function": {"name": name, "arguments": args.to_string()}}]}),
                        "tool_calls",
                    )
                }
                None => text("Sure. What else can I do for you?"),
            }
        };
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

#[derive(Default, Debug)]
struct Counts {
    calls: usize,
    turns: usize,
    lookups: usize,
    book_calls: usize,
    read_backs: usize,
    booked: usize,
    collisions: usize,
    refusals: usize,
    other: Vec<String>,
    /// Time spent creating the tenant.
    setup: std::time::Duration,
}

struct Tenant {
    key: String,
    owner: Owner,
    number: String,
}

async fn tenant(app: &TestApp, llm: &MockServer, i: usize, name: &str) -> Tenant {
    let slug = format!(
        "sgd-turns-{i}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let owner = app.sign_up_in(&slug, TZ).await;
    let data = app
        .gql(
            Some(&owner.token),
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }",
            json!({"input": {"name": "Appointment", "durationMinutes": 60, "priceCents": 0}}),
        )
        .await;
    assert!(data["createService"]["service"]["id"].is_string(), "{data}");
    let hours: Vec<(&str, &str, &str)> = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
    ]
    .into_iter()
    .map(|d| (d, "09:00", "18:00"))
    .collect();
    app.create_staff(&owner.token, name, &hours).await;
    let number = format!("+1628555{:04}", 1000 + i);
    let configured = twilio::configure(app, &owner, &number).await;
    assert_eq!(configured["userErrors"], json!([]), "{configured}");
    let key = format!("{i}");
    let configured = app
        .gql(
            Some(&owner.token),
            "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { userErrors { field code message } } }",
            json!({"input": {"pluginId": "openai", "enabled": true, "config": {
                "apiKey": "sk-test-123", "model": MODEL,
                "baseUrl": format!("{}/t/{key}/v1", llm.uri()), "temperature": 0.2
            }}}),
        )
        .await;
    assert_eq!(
        configured["configurePlugin"]["userErrors"],
        json!([]),
        "{configured}"
    );
    Tenant { key, owner, number }
}

/// One signed voice request; the TwiML answer (asserted 200, XML, listening again).
async fn say(app: &TestApp, t: &Tenant, sid: &str, from: &str, speech: Option<&str>) -> String {
    let mut params = vec![
        ("CallSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", from),
        ("To", t.number.as_str()),
        ("CallStatus", "in-progress"),
    ];
    if let Some(s) = speech {
        params.push(("SpeechResult", s));
        params.push(("Confidence", "0.92"));
    }
    let (status, body) =
        twilio::post_signed(app, &t.owner.slug, "voice", &params, AUTH_TOKEN, None).await;
    assert_eq!(status, 200, "{sid} {speech:?}: {body}");
    assert!(
        body.starts_with("<?xml") && body.trim_end().ends_with("</Response>"),
        "{body}"
    );
    assert!(
        body.contains("<Say>") && body.contains("<Gather"),
        "{sid} {speech:?}: {body}"
    );
    body.split("<Say>")
        .nth(1)
        .and_then(|s| s.split("</Say>").next())
        .unwrap_or_default()
        .to_string()
}

async fn call_row(app: &TestApp, t: &Tenant, sid: &str) -> entities::call::Model {
    let tenant: uuid::Uuid = t.owner.tenant_id.parse().unwrap();
    let tx = app.state.db.read(tenant).await.unwrap();
    let row = entities::call::Entity::find()
        .filter(entities::call::Column::TenantId.eq(tenant))
        .filter(entities::call::Column::CallSid.eq(sid))
        .one(&*tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row.unwrap_or_else(|| panic!("no call row for {sid}"))
}

async fn play(app: &TestApp, llm: &Llm, t: &Tenant, serial: usize, calls: &[&PhoneCall]) -> Counts {
    let mut c = Counts::default();
    for (n, call) in calls.iter().enumerate() {
        c.calls += 1;
        let sid = format!("CA{serial:016x}{n:016x}");
        let from = call.phone.as_str();
        let greeting = say(app, t, &sid, from, None).await;
        assert!(greeting.contains("Thanks for calling"), "{greeting}");
        let (mut sent, mut tools, mut booked) = (0usize, 0usize, false);
        let mut it = call.utterances.iter().peekable();
        while let Some(u) = it.next() {
            let book = match &u.act {
                Act::Text => None,
                Act::Info => {
                    llm.queue(&t.key, "business_info", json!({"topic": "services"}));
                    c.lookups += 1;
                    None
                }
                Act::Book { date, time } => {
                    let args = json!({"service": "Appointment", "date": date, "time": time,
                        "customer_name": format!("SGD caller {}", call.dialogue),
                        "customer_phone": null, "staff": null, "notes": null});
                    llm.queue(&t.key, "book_appointment", args.clone());
                    c.book_calls += 1;
                    Some(args)
                }
            };
            tools += usize::from(!matches!(u.act, Act::Text));
            let answer = say(app, t, &sid, from, Some(&u.words)).await;
            sent += 1;
            let Some(args) = book else { continue };
            if answer.starts_with("To confirm: ") {
                c.read_backs += 1;
                // The caller's yes: their own next words when they are one.
                let yes = match it.peek() {
                    Some(next)
                        if matches!(next.act, Act::Text)
                            && graph::voice::phone::affirmative(&next.words) =>
                    {
                        it.next().map(|n| n.words.clone()).unwrap_or_default()
                    }
                    _ => "yes".to_string(),
                };
                llm.queue(&t.key, "book_appointment", args);
                tools += 1;
                let done = say(app, t, &sid, from, Some(&yes)).await;
                sent += 1;
                if done.starts_with("Booked: ") {
                    c.booked += 1;
                    booked = true;
                } else if done.contains("is already taken") {
                    c.collisions += 1;
                } else {
                    c.other
                        .push(format!("{}: confirmed, then {done}", call.dialogue));
                }
            } else if answer.starts_with("Refused: ") && answer.contains("SLOT_UNAVAILABLE") {
                c.collisions += 1;
            } else if answer.starts_with("Refused: ") {
                c.refusals += 1;
            } else {
                c.other.push(format!("{}: {answer}", call.dialogue));
            }
        }
        let (status, _) = twilio::post_signed(
            app,
            &t.owner.slug,
            "voice-status",
            &[
                ("CallSid", sid.as_str()),
                ("CallStatus", "completed"),
                ("CallDuration", "95"),
            ],
            AUTH_TOKEN,
            None,
        )
        .await;
        assert_eq!(status, 200);
        c.turns += sent;

        let row = call_row(app, t, &sid).await;
        let ctx = format!("call {sid} of dialogue {}", call.dialogue);
        assert_eq!(row.status, entities::kinds::CallStatus::Completed, "{ctx}");
        assert!(row.ended_at.is_some(), "{ctx}");
        assert_eq!(row.duration_seconds, Some(95), "{ctx}");
        assert_eq!(row.turns as usize, sent, "{ctx}");
        assert_eq!(row.from_phone.as_deref(), Some(from), "{ctx}");
        assert_eq!(row.pending_action, None, "{ctx}");
        let log: Vec<Value> = serde_json::from_str(&row.tool_calls).unwrap();
        assert_eq!(log.len(), tools, "{ctx}: {}", row.tool_calls);
        let transcript: Vec<Value> = serde_json::from_str(&row.transcript).unwrap();
        // The greeting, then per turn the caller's words and the answer.
        assert_eq!(transcript.len(), 1 + 2 * sent, "{ctx}");
        assert_eq!(
            row.outcome == Some(entities::kinds::CallOutcome::Booked),
            booked,
            "{ctx}: {:?}",
            row.outcome
        );
        assert_eq!(row.booking_id.is_some(), booked, "{ctx}");
        if !booked {
            assert!(
                row.outcome == Some(entities::kinds::CallOutcome::Answered),
                "{ctx}: {:?}",
                row.outcome
            );
        }
    }
    c
}

#[tokio::test]
async fn sgd_dialogues_play_as_phone_calls_through_the_turn_loop() {
    let (file, source) = crate::sgd::sgd_data_file();
    let dev = file.with_file_name("dev_services_dialogues.json");
    let mut files = vec![file.clone()];
    if file.ends_with("train_services_dialogues.json") && dev.is_file() {
        files.push(dev);
    }
    let twilio_mock = MockServer::start().await;
    twilio::mount_messages(&twilio_mock).await;
    let app = spawn_app_with(twilio::platform(&twilio_mock, |s| {
        s.limits.config.enabled = false;
    }))
    .await;
    let llm_mock = MockServer::start().await;
    let llm = Llm::default();
    Mock::given(method("POST"))
        .and(path_regex(r"^/t/[0-9]+/v1/chat/completions$"))
        .respond_with(llm.clone())
        .mount(&llm_mock)
        .await;
    let started = std::time::Instant::now();
    let mut serial = 0;
    for file in files {
        println!("SGD data: {} ({source})", file.display());
        let sgd = servicegraph::replay_sgd::read(&file).unwrap();
        let shift =
            servicegraph::replay_sgd::week_shift(&sgd.calls, chrono::Utc::now().date_naive());
        let calls = phone_calls(&file, shift);
        let dialogues = calls
            .iter()
            .map(|c| c.dialogue.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut by_provider: BTreeMap<&str, Vec<&PhoneCall>> = BTreeMap::new();
        for c in &calls {
            by_provider.entry(c.provider.as_str()).or_default().push(c);
        }
        let base = serial;
        serial += by_provider.len();
        let app = &app;
        let llm = &llm;
        let llm_mock = &llm_mock;
        let results: Vec<(Counts, usize)> = futures::stream::iter(by_provider.iter().enumerate())
            .map(|(i, (name, calls))| async move {
                let setup = std::time::Instant::now();
                let t = tenant(app, llm_mock, base + i, name).await;
                let setup = setup.elapsed();
                let mut counts = play(app, llm, &t, base + i, calls).await;
                counts.setup = setup;
                let data = app
                    .gql(
                        Some(&t.owner.token),
                        "{ bookings(first: 100) { totalCount edges { node { source } } } }",
                        json!({}),
                    )
                    .await;
                let agent = data["bookings"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["node"]["source"] == "AGENT")
                    .count();
                assert_eq!(
                    data["bookings"]["totalCount"].as_u64(),
                    Some(agent as u64),
                    "{data}"
                );
                (counts, agent)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut sum = Counts::default();
        let mut in_db = 0;
        for (c, n) in results {
            sum.calls += c.calls;
            sum.turns += c.turns;
            sum.lookups += c.lookups;
            sum.book_calls += c.book_calls;
            sum.read_backs += c.read_backs;
            sum.booked += c.booked;
            sum.collisions += c.collisions;
            sum.refusals += c.refusals;
            sum.other.extend(c.other);
            sum.setup += c.setup;
            in_db += n;
        }
        println!(
            "voice SGD turn loop: {dialogues} dialogues as {} calls ({} tenants, {} caller turns); {} business_info; {} book calls: {} read back, {} booked, {} collisions (slot taken), {} refusals (outside hours); {} AGENT bookings in the database; {} other; {:.1} s so far ({:.1} s of tenant set-up summed over tasks)",
            sum.calls,
            by_provider.len(),
            sum.turns,
            sum.lookups,
            sum.book_calls,
            sum.read_backs,
            sum.booked,
            sum.collisions,
            sum.refusals,
            in_db,
            sum.other.len(),
            started.elapsed().as_secs_f64(),
            sum.setup.as_secs_f64()
        );
        assert!(sum.other.is_empty(), "{:#?}", sum.other);
        assert_eq!(sum.book_calls, sgd.calls.len());
        assert_eq!(sum.lookups, sgd.lookups.len());
        assert!(sum.booked > 0);
        assert_eq!(in_db, sum.booked, "bookings equal the confirmed book calls");
        assert_eq!(sum.booked + sum.collisions + sum.refusals, sum.book_calls);
    }
    let bad = llm.bad.lock().unwrap().clone();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(llm.queues.lock().unwrap().values().all(VecDeque::is_empty));
    println!(
        "model requests: {} ({} summaries so far)",
        llm.requests.load(Ordering::SeqCst),
        llm.summaries.load(Ordering::SeqCst)
    );
}
