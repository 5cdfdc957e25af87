//! The extension points on their own: jobs due later, replaced and canceled by key,
//! delivered once with several workers; periodic jobs run once per period across
//! server instances; booking lifecycle hooks called inside the lifecycle's transaction.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc, Weekday};
use entities::{BookingStatus, JobStatus, booking, outbox_message};
use graph::GraphState;
use graph::db::{Tx, scoped};
use graph::error::ApiError;
use graph::jobs::{self, Job, JobHandler, PeriodicJob};
use graph::lifecycle::{BookingChange, BookingHook, HookOutput};
use integrations::ProviderError;
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, every_day, local, next_weekday, slug, spawn_app_with};

const KIND: &str = "test.echo";

/// A job handler that records every call (job id, payload), shared by every server a
/// test starts.
#[derive(Clone, Default)]
struct Echo {
    calls: Arc<Mutex<Vec<(Uuid, Value)>>>,
}

impl Echo {
    fn calls(&self) -> Vec<(Uuid, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobHandler<GraphState> for Echo {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn call(
        &self,
        _st: &GraphState,
        job: &outbox_message::Model,
    ) -> Result<Value, ProviderError> {
        let payload: Value = serde_json::from_str(&job.payload).unwrap();
        self.calls.lock().unwrap().push((job.id, payload.clone()));
        // A provider call takes a little while: long enough for workers to overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(json!({"echo": payload}))
    }

    async fn apply(
        &self,
        _st: &GraphState,
        _tx: &Tx,
        _job: &outbox_message::Model,
        _result: &Value,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

fn with_echo(echo: &Echo, database: Option<(String, Option<String>)>) -> Options {
    let echo = echo.clone();
    Options {
        database,
        extend: Some(Arc::new(move |ext| {
            ext.jobs.register(Arc::new(echo.clone()))
        })),
        ..Options::default()
    }
}

async fn tenant(app: &TestApp) -> Uuid {
    let owner = app.sign_up(&slug("jobs")).await;
    Uuid::parse_str(&owner.tenant_id).unwrap()
}

async fn job_row(app: &TestApp, tenant: Uuid, id: Uuid) -> outbox_message::Model {
    let tx = app.state.db.read(tenant).await.unwrap();
    let row = scoped::<outbox_message::Entity>(tenant)
        .filter(outbox_message::Column::Id.eq(id))
        .one(&*tx)
        .await
        .unwrap()
        .expect("job row");
    tx.commit().await.unwrap();
    row
}

/// Waits until `check` holds (the worker runs in the background); panics after ~10 s.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not reached: {what}");
}

#[tokio::test]
async fn two_transactions_enqueueing_one_key_at_once_leave_one_pending_job() {
    // A job's transaction enqueues its successor (a channel renewal) while a request
    // enqueues the same key. Under read committed the request's replacement could not see
    // the uncommitted job and failed on the unique index of pending keys when it
    // committed (the calendar callback answered 502). Now the second waits for the first
    // and replaces its job: both commit, one job stays pending.
    let echo = Echo::default();
    let app = spawn_app_with(with_echo(&echo, None)).await;
    let t = tenant(&app).await;
    let st = &app.state;
    let later = Utc::now() + chrono::Duration::days(1);
    let a = st.db.write(t).await.unwrap();
    let first = jobs::enqueue_at(&a, Job::new(KIND, json!({"n": 1})).keyed("renew:c1"), later)
        .await
        .unwrap();
    let db = st.db.clone();
    let b = tokio::spawn(async move {
        let b = db.write(t).await.unwrap();
        let id = jobs::enqueue_at(&b, Job::new(KIND, json!({"n": 2})).keyed("renew:c1"), later)
            .await
            .unwrap();
        b.commit().await.unwrap();
        id
    });
    // Let the second reach its wait, then commit the first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.commit().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(20), b)
        .await
        .expect("the second enqueue finishes")
        .unwrap();
    assert_eq!(job_row(&app, t, first).await.status, JobStatus::Canceled);
    assert_eq!(job_row(&app, t, second).await.status, JobStatus::Pending);
}

#[tokio::test]
async fn a_job_due_later_waits_and_a_key_replaces_or_cancels_it() {
    let echo = Echo::default();
    let app = spawn_app_with(with_echo(&echo, None)).await;
    let t = tenant(&app).await;
    let st = &app.state;
    let tomorrow = Utc::now() + chrono::Duration::days(1);

    // A reminder due tomorrow is not delivered today.
    let tx = st.db.write(t).await.unwrap();
    let first = jobs::enqueue_at(
        &tx,
        Job::new(KIND, json!({"n": 1})).keyed("reminder:b1"),
        tomorrow,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    jobs::run_due(st, 50).await.unwrap();
    let row = job_row(&app, t, first).await;
    assert_eq!(row.status, JobStatus::Pending);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.next_attempt_at.timestamp(), tomorrow.timestamp());
    assert!(echo.calls().is_empty());

    // The booking moved: a job with the same key replaces it, due now.
    let tx = st.db.write(t).await.unwrap();
    let second = jobs::enqueue(&tx, Job::new(KIND, json!({"n": 2})).keyed("reminder:b1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    jobs::wake(st);
    until("the replacement is delivered", || echo.calls().len() == 1).await;
    assert_eq!(echo.calls(), [(second, json!({"n": 2}))]);
    assert_eq!(job_row(&app, t, first).await.status, JobStatus::Canceled);
    // The call is recorded before the answer is applied: wait for the commit.
    let mut delivered = job_row(&app, t, second).await;
    for _ in 0..100 {
        if delivered.status == JobStatus::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        delivered = job_row(&app, t, second).await;
    }
    assert_eq!(delivered.status, JobStatus::Delivered);
    assert_eq!(delivered.result.as_deref(), Some(r#"{"echo":{"n":2}}"#));

    // A pending job canceled by its key never runs; other keys are untouched.
    let tx = st.db.write(t).await.unwrap();
    let third = jobs::enqueue_at(
        &tx,
        Job::new(KIND, json!({"n": 3})).keyed("reminder:b2"),
        Utc::now() + chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    let other = jobs::enqueue_at(
        &tx,
        Job::new(KIND, json!({"n": 4})).keyed("reminder:b3"),
        tomorrow,
    )
    .await
    .unwrap();
    assert_eq!(jobs::cancel(&tx, "reminder:b2").await.unwrap(), 1);
    assert_eq!(jobs::cancel(&tx, "reminder:none").await.unwrap(), 0);
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    jobs::run_due(st, 50).await.unwrap();
    assert_eq!(job_row(&app, t, third).await.status, JobStatus::Canceled);
    assert_eq!(job_row(&app, t, other).await.status, JobStatus::Pending);
    assert_eq!(echo.calls().len(), 1, "{:?}", echo.calls());

    // A key belongs to its tenant: another tenant's job with the same key is unaffected.
    let t2 = tenant(&app).await;
    let tx = st.db.write(t2).await.unwrap();
    let foreign = jobs::enqueue_at(
        &tx,
        Job::new(KIND, json!({"n": 5})).keyed("reminder:b3"),
        tomorrow,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(job_row(&app, t, other).await.status, JobStatus::Pending);
    assert_eq!(job_row(&app, t2, foreign).await.status, JobStatus::Pending);
}

#[tokio::test]
async fn every_job_is_delivered_once_with_several_workers() {
    let echo = Echo::default();
    let app = spawn_app_with(with_echo(&echo, None)).await;
    // On PostgreSQL a second server instance shares the database; on SQLite (one
    // process per file) extra workers run beside the server's own.
    let second = if app.postgres {
        let db = (app.settings.database.url.clone(), app.owner_url.clone());
        Some(spawn_app_with(with_echo(&echo, Some(db))).await)
    } else {
        None
    };
    let t = tenant(&app).await;
    let mut ids = HashSet::new();
    let tx = app.state.db.write(t).await.unwrap();
    for n in 0..40 {
        ids.insert(
            jobs::enqueue(&tx, Job::new(KIND, json!({"n": n})))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let states: Vec<GraphState> = [Some(&app), second.as_ref()]
        .into_iter()
        .flatten()
        .map(|a| a.state.clone())
        .collect();
    let extra = (0..3).map(|i| {
        let st = states[i % states.len()].clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                jobs::run_due(&st, 5).await.unwrap();
            }
        })
    });
    for h in extra.collect::<Vec<_>>() {
        h.await.unwrap();
    }
    until("all 40 delivered", || echo.calls().len() >= 40).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = echo.calls();
    let called: Vec<Uuid> = calls.iter().map(|(id, _)| *id).collect();
    let unique: HashSet<Uuid> = called.iter().copied().collect();
    assert_eq!(called.len(), 40, "some job was called twice: {called:?}");
    assert_eq!(unique, ids);
    for id in ids {
        let mut status = job_row(&app, t, id).await.status;
        for _ in 0..100 {
            if status == JobStatus::Delivered {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = job_row(&app, t, id).await.status;
        }
        assert_eq!(status, JobStatus::Delivered);
    }
}

/// Which instance ran which scheduled period.
type Runs = Arc<Mutex<Vec<(&'static str, DateTime<Utc>)>>>;

/// A periodic job that records which instance ran which scheduled period.
struct Tick {
    instance: &'static str,
    runs: Runs,
}

#[async_trait]
impl PeriodicJob<GraphState> for Tick {
    fn name(&self) -> &'static str {
        "test.tick"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(700)
    }

    async fn run(&self, _st: &GraphState, scheduled_for: DateTime<Utc>) -> Result<usize, ApiError> {
        self.runs
            .lock()
            .unwrap()
            .push((self.instance, scheduled_for));
        Ok(1)
    }
}

fn with_tick(
    instance: &'static str,
    runs: &Runs,
    database: Option<(String, Option<String>)>,
) -> Options {
    let runs = runs.clone();
    Options {
        database,
        extend: Some(Arc::new(move |ext| {
            ext.jobs.register_periodic(Arc::new(Tick {
                instance,
                runs: runs.clone(),
            }))
        })),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_periodic_job_runs_once_per_period_across_instances() {
    let runs = Arc::new(Mutex::new(Vec::new()));
    let a = spawn_app_with(with_tick("a", &runs, None)).await;
    let db = (a.settings.database.url.clone(), a.owner_url.clone());
    let b = spawn_app_with(with_tick("b", &runs, Some(db))).await;
    // Both workers poll every 100 ms; extra passes make the instances collide often.
    for _ in 0..30 {
        let (x, y) = tokio::join!(
            graph::jobs::periodic::run_due(&a.state),
            graph::jobs::periodic::run_due(&b.state)
        );
        x.unwrap();
        y.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = runs.lock().unwrap().clone();
    // ~3 s at one run per 0.7 s: 4–6 runs, each scheduled period exactly once.
    let periods: HashSet<DateTime<Utc>> = runs.iter().map(|(_, p)| *p).collect();
    assert_eq!(periods.len(), runs.len(), "a period ran twice: {runs:?}");
    assert!((3..=6).contains(&runs.len()), "{runs:?}");
    let mut sorted: Vec<DateTime<Utc>> = periods.into_iter().collect();
    sorted.sort();
    for w in sorted.windows(2) {
        assert!(
            w[1] - w[0] >= chrono::Duration::milliseconds(700),
            "{runs:?}"
        );
    }
}

/// A hook that records every change it hears, fails when a booking's notes say so, and
/// enqueues a job on creation (in the lifecycle's transaction).
#[derive(Clone, Default)]
struct Recorder {
    heard: Arc<Mutex<Vec<(Uuid, String, BookingStatus)>>>,
}

#[async_trait]
impl BookingHook<GraphState> for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn on_booking(
        &self,
        _st: &GraphState,
        _tx: &Tx,
        b: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError> {
        if b.notes.as_deref() == Some("refuse moves")
            && matches!(change, BookingChange::Rescheduled { .. })
        {
            return Err(ApiError::Internal("hook refused".into()));
        }
        let what = match change {
            BookingChange::Created { .. } => "created".to_string(),
            BookingChange::Rescheduled { previous } => {
                format!("rescheduled from {}", previous.starts_at.to_rfc3339())
            }
            BookingChange::Reassigned { previous } => {
                format!("reassigned from {}", previous.staff_member_id)
            }
            BookingChange::StatusChanged { from } => format!("status from {}", from.as_str()),
            BookingChange::Canceled { from } => format!("canceled from {}", from.as_str()),
        };
        self.heard.lock().unwrap().push((b.id, what, b.status));
        Ok(match change {
            BookingChange::Created { .. } => HookOutput::jobs(vec![
                Job::new(KIND, json!({"booking": b.id})).keyed(format!("reminder:{}", b.id)),
            ]),
            BookingChange::Canceled { .. } => HookOutput::none(),
            _ => HookOutput::none(),
        })
    }
}

#[tokio::test]
async fn booking_hooks_hear_every_change_inside_the_transaction() {
    let echo = Echo::default();
    let rec = Recorder::default();
    let (e, r) = (echo.clone(), rec.clone());
    let app = spawn_app_with(Options {
        extend: Some(Arc::new(move |ext| {
            ext.jobs.register(Arc::new(e.clone()));
            ext.booking_hooks.register(Arc::new(r.clone()));
        })),
        ..Options::default()
    })
    .await;
    let owner = app.sign_up(&slug("hooks")).await;
    let t = &owner.token;
    let service = app.create_service(t, 60).await;
    let staff = app
        .create_staff(t, "Kim", &every_day("08:00", "18:00"))
        .await;
    let customer = app.create_customer(t, "Ana", "+14155550142").await;
    let tz = chrono_tz::America::New_York;
    let day = next_weekday(Weekday::Wed, 3);
    let b = app
        .book(t, &service, &staff, &customer, &local(tz, day, "09:00"))
        .await;
    let id = b["booking"]["id"].as_str().unwrap().to_string();
    let uid = Uuid::parse_str(&id).unwrap();
    let tenant = Uuid::parse_str(&owner.tenant_id).unwrap();

    // The job the hook asked for was enqueued with the booking and delivered.
    until("the created hook's job ran", || echo.calls().len() == 1).await;
    assert_eq!(echo.calls()[0].1, json!({"booking": id}));

    let moved = app
        .gql(
            Some(t),
            "mutation($id: ID!, $s: DateTime!) { rescheduleBooking(id: $id, startsAt: $s) { booking { startsAt } userErrors { code } } }",
            json!({"id": id, "s": local(tz, day, "11:00")}),
        )
        .await;
    assert_eq!(
        moved["rescheduleBooking"]["userErrors"],
        json!([]),
        "{moved}"
    );
    for status in ["IN_PROGRESS", "COMPLETED"] {
        let p = app
            .gql(
                Some(t),
                "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { userErrors { code } } }",
                json!({"id": id, "s": status}),
            )
            .await;
        assert_eq!(p["setBookingStatus"]["userErrors"], json!([]), "{p}");
    }
    let other = app
        .book(t, &service, &staff, &customer, &local(tz, day, "14:00"))
        .await["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(t),
        "mutation($id: ID!) { setBookingStatus(id: $id, status: CANCELED) { userErrors { code } } }",
        json!({"id": other}),
    )
    .await;
    let heard: Vec<(String, BookingStatus)> = rec
        .heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(b, _, _)| *b == uid)
        .map(|(_, what, status)| (what.clone(), *status))
        .collect();
    assert_eq!(
        heard,
        [
            ("created".to_string(), BookingStatus::Confirmed),
            (
                format!(
                    "rescheduled from {}",
                    chrono::DateTime::parse_from_rfc3339(&local(tz, day, "09:00"))
                        .unwrap()
                        .with_timezone(&Utc)
                        .to_rfc3339()
                ),
                BookingStatus::Confirmed
            ),
            (
                "status from CONFIRMED".to_string(),
                BookingStatus::InProgress
            ),
            (
                "status from IN_PROGRESS".to_string(),
                BookingStatus::Completed
            ),
        ]
    );
    let canceled: Vec<String> = rec
        .heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(b, _, _)| b.to_string() == other)
        .map(|(_, what, _)| what.clone())
        .collect();
    assert_eq!(canceled, ["created", "canceled from CONFIRMED"]);

    // A hook that fails aborts the change: the booking stays where it was.
    let refused = app
        .gql(
            Some(t),
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { booking { id } userErrors { code } } }",
            json!({"input": {"serviceId": service, "staffMemberId": staff, "customerId": customer,
                "startsAt": local(tz, day, "16:00"), "notes": "refuse moves"}}),
        )
        .await;
    let fragile = refused["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = app
        .post(
            Some(t),
            "mutation($id: ID!, $s: DateTime!) { rescheduleBooking(id: $id, startsAt: $s) { booking { startsAt } } }",
            json!({"id": fragile, "s": local(tz, day, "17:00")}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    let tx = app.state.db.read(tenant).await.unwrap();
    let row = scoped::<booking::Entity>(tenant)
        .filter(booking::Column::Id.eq(Uuid::parse_str(&fragile).unwrap()))
        .one(&*tx)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        row.starts_at.to_rfc3339(),
        chrono::DateTime::parse_from_rfc3339(&local(tz, day, "16:00"))
            .unwrap()
            .with_timezone(&Utc)
            .to_rfc3339()
    );
}
