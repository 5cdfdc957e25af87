//! Real input through the voice tools: the SGD appointment dialogues (the file
//! `sgd::sgd_data_file` picks: `../shared/data/sgd/` when present, else the in-repo
//! sample) played through `POST /agent/{slug}/tool-calls` as a Vapi assistant would.
//!
//! Every provider is a tenant (one 60-minute "Appointment" service, one staff member
//! Mon–Sat 09:00–18:00, America/Los_Angeles, an agent key). Per dialogue, in order:
//! each `FindProvider` with results → `business_info` (services) at the first provider
//! offered; each `BookAppointment` → `check_availability` at that local date and time,
//! then `book_appointment` from the dialogue's own phone number (dates shifted by whole
//! weeks into the future, as `replay-sgd` does). Tenants run concurrently; each
//! tenant's calls in file order.
//!
//! Asserted: no server error (non-200, or a tool's internal-error apology); a time
//! that `check_availability` called free is booked, one it called taken is refused with
//! alternatives; the bookings in the database equal the successful calls; every
//! successful call sent again with the same tool-call id answers the same and books
//! nothing more. The counts are printed.

use std::collections::BTreeMap;

use chrono::Duration;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, without_rate_limits};

const TZ: &str = "America/Los_Angeles";
const CONCURRENCY: usize = 8;

struct Tenant {
    slug: String,
    token: String,
    key: String,
}

async fn tenant(app: &TestApp, i: usize, name: &str) -> Tenant {
    let slug = format!(
        "sgd-voice-{i}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let data = app
        .gql(
            None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken userErrors { code message } } }",
            json!({"input": {"businessName": name, "slug": slug, "timezone": TZ,
                "email": format!("owner@{slug}.example.com"), "password": crate::helpers::PASSWORD}}),
        )
        .await;
    let token = data["signUp"]["accessToken"].as_str().unwrap().to_string();
    app.gql(
        Some(&token),
        "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }",
        json!({"input": {"name": "Appointment", "durationMinutes": 60, "priceCents": 0}}),
    )
    .await;
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
    app.create_staff(&token, name, &hours).await;
    let key = app.create_agent_key(&token, "Vapi").await;
    Tenant { slug, token, key }
}

/// One step of a tenant's script.
enum Step {
    Lookup {
        dialogue: String,
    },
    Book {
        dialogue: String,
        n: usize,
        date: String,
        time: String,
        phone: String,
    },
}

#[derive(Default, Debug)]
struct Counts {
    lookups: usize,
    book_calls: usize,
    booked: usize,
    refused_taken: usize,
    refused_other: usize,
    check_said_free: usize,
    inconsistent: usize,
    repeats_same: usize,
    server_errors: usize,
}

async fn tool(
    app: &TestApp,
    t: &Tenant,
    id: &str,
    name: &str,
    args: Value,
    phone: &str,
) -> Option<Value> {
    let body = json!({"message": {"type": "tool-calls",
        "toolCallList": [{"id": id, "name": name, "arguments": args}],
        "call": {"customer": {"number": phone}}}});
    let resp = app
        .http
        .post(format!("{}/agent/{}/tool-calls", app.address, t.slug))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .ok()?;
    if resp.status() != 200 {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    let r = v["results"][0].clone();
    let text = r["result"].as_str().or(r["error"].as_str())?;
    (!text.contains("something went wrong")).then_some(r)
}

async fn play(app: &TestApp, t: &Tenant, steps: &[Step]) -> Counts {
    let mut c = Counts::default();
    for step in steps {
        match step {
            Step::Lookup { dialogue } => {
                c.lookups += 1;
                let r = tool(
                    app,
                    t,
                    &format!("{dialogue}-find-{}", c.lookups),
                    "business_info",
                    json!({"topic": "services"}),
                    "+14155550000",
                )
                .await;
                match r {
                    Some(r)
                        if r["result"]
                            .as_str()
                            .is_some_and(|s| s.contains("Appointment")) => {}
                    _ => c.server_errors += 1,
                }
            }
            Step::Book {
                dialogue,
                n,
                date,
                time,
                phone,
            } => {
                c.book_calls += 1;
                let check = tool(
                    app,
                    t,
                    &format!("{dialogue}-check-{n}"),
                    "check_availability",
                    json!({"service": "Appointment", "date": date, "time": time, "staff": null}),
                    phone,
                )
                .await;
                let Some(check) = check else {
                    c.server_errors += 1;
                    continue;
                };
                let free = check["result"]
                    .as_str()
                    .is_some_and(|s| s.contains(" is available"));
                c.check_said_free += usize::from(free);
                let id = format!("{dialogue}-book-{n}");
                let args = json!({"service": "Appointment", "date": date, "time": time,
                    "customer_name": format!("SGD caller {dialogue}"), "customer_phone": null,
                    "staff": null, "notes": null});
                let Some(r) = tool(app, t, &id, "book_appointment", args.clone(), phone).await
                else {
                    c.server_errors += 1;
                    continue;
                };
                let text = r["result"].as_str().unwrap_or_default();
                let booked = text.starts_with("Booked:");
                if booked {
                    c.booked += 1;
                    if tool(app, t, &id, "book_appointment", args, phone)
                        .await
                        .as_ref()
                        == Some(&r)
                    {
                        c.repeats_same += 1;
                    }
                } else if text.contains("is already taken") || text.contains("can't be booked") {
                    c.refused_taken += 1;
                } else {
                    c.refused_other += 1;
                }
                if booked != free {
                    c.inconsistent += 1;
                }
            }
        }
    }
    c
}

#[tokio::test]
async fn sgd_dialogues_play_through_the_voice_tool_calls() {
    let (file, source) = crate::sgd::sgd_data_file();
    // With the shared data, the dev split beside the train split too.
    let dev = file.with_file_name("dev_services_dialogues.json");
    let mut files = vec![file.clone()];
    if file.ends_with("train_services_dialogues.json") && dev.is_file() {
        files.push(dev);
    }
    let app = spawn_app_with(without_rate_limits()).await;
    for file in files {
        println!("SGD data: {} ({source})", file.display());
        play_file(&app, &file).await;
    }
}

async fn play_file(app: &TestApp, file: &std::path::Path) {
    let sgd = servicegraph::replay_sgd::read(file).unwrap();
    let today = chrono::Utc::now().date_naive();
    let shift = servicegraph::replay_sgd::week_shift(&sgd.calls, today);

    // Scripts per provider, in file order; one phone per dialogue.
    let mut scripts: BTreeMap<&str, Vec<Step>> = BTreeMap::new();
    let mut phones: BTreeMap<&str, String> = BTreeMap::new();
    for l in &sgd.lookups {
        scripts
            .entry(l.provider.as_str())
            .or_default()
            .push(Step::Lookup {
                dialogue: l.dialogue_id.clone(),
            });
    }
    for (n, call) in sgd.calls.iter().enumerate() {
        let k = phones.len();
        let phone = phones
            .entry(call.dialogue_id.as_str())
            .or_insert_with(|| servicegraph::replay_sgd::customer_phone(k))
            .clone();
        scripts
            .entry(call.provider.as_str())
            .or_default()
            .push(Step::Book {
                dialogue: call.dialogue_id.clone(),
                n,
                date: (call.date + Duration::weeks(shift))
                    .format("%Y-%m-%d")
                    .to_string(),
                time: call.time.format("%H:%M").to_string(),
                phone,
            });
    }
    let results: Vec<(Counts, usize)> = futures::stream::iter(scripts.iter().enumerate())
        .map(|(i, (name, steps))| async move {
            let t = tenant(app, i, name).await;
            let counts = play(app, &t, steps).await;
            let total = app
                .gql(
                    Some(&t.token),
                    "{ bookings(first: 1) { totalCount } }",
                    json!({}),
                )
                .await["bookings"]["totalCount"]
                .as_u64()
                .unwrap() as usize;
            (counts, total)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut sum = Counts::default();
    let mut in_db = 0;
    for (c, total) in &results {
        sum.lookups += c.lookups;
        sum.book_calls += c.book_calls;
        sum.booked += c.booked;
        sum.refused_taken += c.refused_taken;
        sum.refused_other += c.refused_other;
        sum.check_said_free += c.check_said_free;
        sum.inconsistent += c.inconsistent;
        sum.repeats_same += c.repeats_same;
        sum.server_errors += c.server_errors;
        in_db += total;
    }
    println!(
        "voice SGD replay: {} tenants, {} business_info lookups, {} book calls: {} booked, {} refused as taken/outside hours (with alternatives), {} refused otherwise; {} bookings in the database; {} repeats answered the same; {} inconsistent with check_availability; {} server errors",
        results.len(),
        sum.lookups,
        sum.book_calls,
        sum.booked,
        sum.refused_taken,
        sum.refused_other,
        in_db,
        sum.repeats_same,
        sum.inconsistent,
        sum.server_errors
    );
    assert_eq!(sum.server_errors, 0);
    assert_eq!(sum.book_calls, sgd.calls.len());
    assert_eq!(sum.lookups, sgd.lookups.len());
    assert!(sum.booked > 0);
    assert_eq!(in_db, sum.booked, "bookings equal the successful calls");
    assert_eq!(sum.repeats_same, sum.booked);
    assert_eq!(sum.inconsistent, 0);
    assert_eq!(sum.refused_other, 0);
    assert_eq!(sum.booked + sum.refused_taken, sum.book_calls);
}
