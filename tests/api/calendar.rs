//! Google Calendar two-way sync against a local Google (OAuth + Calendar API v3): the
//! consent URL and code exchange (PKCE), first sync with paging, incremental sync,
//! 410 → full resync, recurring / all-day / DST events, push channels and coalesced
//! notifications, export insert / update / delete without duplicates, token refresh, a
//! revoked grant, disconnect, availability around busy time, and who may do what.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Weekday;
use chrono_tz::America::New_York;
use serde_json::{Value, json};

use crate::helpers::eventually;
use crate::helpers::google::{Google, PRIMARY, TEAM};
use crate::helpers::{
    Owner, TestApp, every_day, local, next_weekday, slug, spawn_app, spawn_app_with,
};

const STATUS: &str = "query($s: ID!) { calendarConnection(staffMemberId: $s) { status accountEmail writeCalendarId lastSyncAt lastError channelExpiresAt calendars { id primary accessRole readBusy writeBookings lastSyncAt } } }";
const BUSY: &str = "query($s: ID!, $f: DateTime!, $t: DateTime!) { busyBlocks(staffMemberId: $s, from: $f, to: $t) { startsAt endsAt allDay calendarId } }";
const WHY: &str = "query($s: ID!, $t: DateTime!, $st: ID) { whyNotAvailable(serviceId: $s, startsAt: $t, staffMemberId: $st) { available staff { reasons } } }";
const SYNC_NOW: &str =
    "mutation($s: ID!) { syncCalendarNow(staffMemberId: $s) { userErrors { code } } }";

struct World {
    app: TestApp,
    google: Google,
    owner: Owner,
    staff: String,
    service: String,
    day: chrono::NaiveDate,
}

fn timed(id: &str, day: chrono::NaiveDate, from: &str, to: &str) -> Value {
    json!({"id": id, "status": "confirmed",
        "start": {"dateTime": local(New_York, day, from), "timeZone": "America/New_York"},
        "end": {"dateTime": local(New_York, day, to), "timeZone": "America/New_York"}})
}

async fn world() -> World {
    let google = Google::start().await;
    let app = spawn_app_with(google.options()).await;
    let owner = app.sign_up_in(&slug("gcal"), "America/New_York").await;
    let staff = app
        .create_staff(&owner.token, "Tech", &every_day("09:00", "17:00"))
        .await;
    let service = app.create_service(&owner.token, 60).await;
    let day = next_weekday(Weekday::Wed, 3);
    World {
        app,
        google,
        owner,
        staff,
        service,
        day,
    }
}

async fn status(w: &World) -> Value {
    w.app
        .gql(Some(&w.owner.token), STATUS, json!({"s": w.staff}))
        .await["calendarConnection"]
        .clone()
}

async fn busy(w: &World) -> Vec<Value> {
    let from = local(New_York, w.day - chrono::Duration::days(2), "00:00");
    let to = local(New_York, w.day + chrono::Duration::days(3), "00:00");
    w.app
        .gql(
            Some(&w.owner.token),
            BUSY,
            json!({"s": w.staff, "f": from, "t": to}),
        )
        .await["busyBlocks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the busy blocks are exactly `n`.
async fn busy_count(w: &World, n: usize) -> Vec<Value> {
    eventually(&format!("{n} busy blocks"), || async {
        let b = busy(w).await;
        (b.len() == n).then_some(b)
    })
    .await
}

async fn connected(w: &World) -> Value {
    let (_, status_code) = w.google.connect(&w.app, &w.owner, &w.staff).await;
    assert_eq!(status_code, 200);
    eventually("the first sync", || async {
        let s = status(w).await;
        s["calendars"]
            .as_array()?
            .iter()
            .any(|c| c["id"] == PRIMARY && !c["lastSyncAt"].is_null())
            .then_some(s)
    })
    .await
}

/// Waits until the connection's watch channel is stored (its own job opens it, after
/// or beside the first sync).
async fn channel_stored(w: &World) {
    eventually("the channel's expiry on the status", || async {
        let s = status(w).await;
        (!s["channelExpiresAt"].is_null()).then_some(())
    })
    .await;
}

fn list_calls(g: &Google) -> Vec<HashMap<String, String>> {
    g.requests(
        "GET",
        &format!("/calendars/{}/events", super_encode(PRIMARY)),
    )
    .into_iter()
    .map(|l| l.query)
    .collect()
}

fn super_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn without_a_google_client_calendar_is_unavailable() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("nogcal")).await;
    let staff = app
        .create_staff(&owner.token, "Tech", &every_day("09:00", "17:00"))
        .await;
    let code = app
        .gql_error_code(
            Some(&owner.token),
            "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url } }",
            json!({"s": staff}),
        )
        .await;
    assert_eq!(code, "FEATURE_UNAVAILABLE");
}

#[tokio::test]
async fn consent_url_code_exchange_and_single_use_state() {
    let w = world().await;
    let (url, code) = w.google.connect(&w.app, &w.owner, &w.staff).await;
    assert_eq!(code, 200);
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], crate::helpers::google::CLIENT_ID);
    assert_eq!(q["redirect_uri"], "http://app.test/oauth/google/callback");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("calendar"));
    assert!(q["state"].len() >= 40);
    // The exchange sent the verifier of that challenge (the mock checks S256), and the
    // client secret never reaches the browser.
    let exchange = w.google.requests("POST", "/token");
    assert!(exchange[0].body.contains("code_verifier="));
    assert!(!url.as_str().contains(crate::helpers::google::CLIENT_SECRET));

    let s = connected(&w).await;
    assert_eq!(s["status"], "CONNECTED");
    assert_eq!(s["accountEmail"], PRIMARY);
    assert_eq!(s["writeCalendarId"], PRIMARY);
    let cals = s["calendars"].as_array().unwrap();
    assert_eq!(cals.len(), 2);
    let team = cals.iter().find(|c| c["id"] == TEAM).unwrap();
    assert_eq!(team["readBusy"], false);
    assert_eq!(team["accessRole"], "reader");
    // No token in any answer.
    let text = s.to_string();
    assert!(!text.contains("ya29.") && !text.contains("1//refresh"));

    // The state is single use: replaying the callback is refused and changes nothing.
    let replay = w
        .app
        .get(&format!(
            "/oauth/google/callback?state={}&code=code-1",
            crate::helpers::google::urlencode(&q["state"])
        ))
        .await;
    assert_eq!(replay.status().as_u16(), 400);
    let body = replay.text().await.unwrap();
    assert!(!body.contains(&q["state"]));
    // An unknown state, or none, is refused.
    assert_eq!(
        w.app
            .get("/oauth/google/callback?state=forged&code=x")
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        w.app.get("/oauth/google/callback").await.status().as_u16(),
        400
    );
    // The user declining on Google's page: nothing connected.
    let other = w
        .app
        .create_staff(&w.owner.token, "Other", &every_day("09:00", "17:00"))
        .await;
    let r = w
        .app
        .gql(
            Some(&w.owner.token),
            "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url } }",
            json!({"s": other}),
        )
        .await;
    let u = url::Url::parse(r["connectGoogleCalendar"]["url"].as_str().unwrap()).unwrap();
    let st: HashMap<String, String> = u.query_pairs().into_owned().collect();
    let denied = w
        .app
        .get(&format!(
            "/oauth/google/callback?state={}&error=access_denied",
            crate::helpers::google::urlencode(&st["state"])
        ))
        .await;
    assert_eq!(denied.status().as_u16(), 200);
    let none = w
        .app
        .gql(Some(&w.owner.token), STATUS, json!({"s": other}))
        .await;
    assert_eq!(none["calendarConnection"], Value::Null);
}

#[tokio::test]
async fn first_sync_pages_then_incremental_sync_applies_changes() {
    let w = world().await;
    let d = w.day;
    // A timed event, a recurring event's instances, an all-day event, a free event, a
    // declined one, and one across the end of DST (America/New_York, 2026-11-01).
    w.google
        .put_event(PRIMARY, timed("meeting", d, "10:00", "12:00"));
    for (i, day) in [d, d + chrono::Duration::days(1)].iter().enumerate() {
        let mut e = timed(&format!("gym_2026{i}"), *day, "07:00", "08:00");
        e["recurringEventId"] = json!("gym");
        w.google.put_event(PRIMARY, e);
    }
    let next = d + chrono::Duration::days(2);
    w.google.put_event(
        PRIMARY,
        json!({"id": "holiday", "status": "confirmed", "start": {"date": next.to_string()},
            "end": {"date": (next + chrono::Duration::days(1)).to_string()}}),
    );
    let mut free = timed("free", d, "13:00", "14:00");
    free["transparency"] = json!("transparent");
    w.google.put_event(PRIMARY, free);
    let mut declined = timed("declined", d, "15:00", "16:00");
    declined["attendees"] = json!([{"email": PRIMARY, "self": true, "responseStatus": "declined"}]);
    w.google.put_event(PRIMARY, declined);
    w.google.put_event(
        PRIMARY,
        json!({"id": "dst", "status": "confirmed",
            "start": {"dateTime": "2026-11-01T01:30:00-04:00"}, "end": {"dateTime": "2026-11-01T01:30:00-05:00"}}),
    );

    connected(&w).await;
    // Page size 2, 7 events: 4 pages, the sync token only on the last.
    let calls = list_calls(&w.google);
    assert!(calls.len() >= 4, "{calls:?}");
    assert!(calls[0].contains_key("timeMin") && calls[0]["singleEvents"] == "true");
    assert!(calls[1].contains_key("pageToken"));

    let from = local(
        New_York,
        chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        "00:00",
    );
    let to = local(
        New_York,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        "00:00",
    );
    let dst = w
        .app
        .gql(
            Some(&w.owner.token),
            BUSY,
            json!({"s": w.staff, "f": from, "t": to}),
        )
        .await["busyBlocks"]
        .clone();
    // The DST event is in the past of a 2026-12 run only when the window starts later;
    // it was listed (the mock ignores timeMin), so it is stored with its real length.
    if let Some(b) = dst.as_array().and_then(|a| a.first()) {
        assert_eq!(b["startsAt"], "2026-11-01T05:30:00+00:00");
        assert_eq!(b["endsAt"], "2026-11-01T06:30:00+00:00");
    }

    let blocks = busy_count(&w, 4).await;
    let meeting = blocks
        .iter()
        .find(|b| b["startsAt"] == local(New_York, d, "10:00"))
        .expect("the meeting");
    assert_eq!(meeting["endsAt"], local(New_York, d, "12:00"));
    let all_day = blocks
        .iter()
        .find(|b| b["allDay"] == true)
        .expect("all-day");
    assert_eq!(all_day["startsAt"], local(New_York, next, "00:00"));

    // Changes in Google: the meeting moves, the gym instance of day 2 is deleted.
    let full_calls = list_calls(&w.google).len();
    w.google
        .put_event(PRIMARY, timed("meeting", d, "14:00", "15:00"));
    w.google.cancel_event(PRIMARY, "gym_20261");
    let r = w
        .app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    assert_eq!(r["syncCalendarNow"]["userErrors"], json!([]));
    let blocks = eventually("the incremental sync", || async {
        let b = busy(&w).await;
        (b.len() == 3
            && b.iter()
                .any(|x| x["startsAt"] == local(New_York, d, "14:00")))
        .then_some(b)
    })
    .await;
    assert!(
        !blocks
            .iter()
            .any(|x| x["startsAt"] == local(New_York, d, "10:00"))
    );
    let calls = list_calls(&w.google);
    let incremental = &calls[full_calls];
    assert!(incremental.contains_key("syncToken"), "{incremental:?}");
    assert!(!incremental.contains_key("timeMin"));
}

#[tokio::test]
async fn gone_sync_token_means_a_full_resync_that_keeps_our_bookings() {
    let w = world().await;
    let d = w.day;
    w.google.put_event(PRIMARY, timed("a", d, "09:00", "10:00"));
    w.google.put_event(PRIMARY, timed("b", d, "15:00", "16:00"));
    connected(&w).await;
    busy_count(&w, 2).await;
    let customer = w
        .app
        .create_customer(&w.owner.token, "Ana", "+14155550111")
        .await;
    let booked = w
        .app
        .book(
            &w.owner.token,
            &w.service,
            &w.staff,
            &customer,
            &local(New_York, d, "12:00"),
        )
        .await;
    assert_eq!(booked["userErrors"], json!([]), "{booked}");

    // Google forgets every sync token; meanwhile "b" was deleted and "c" added.
    {
        let mut f = w.google.state.lock().unwrap();
        f.min_sync_seq = u64::MAX;
    }
    w.google.cancel_event(PRIMARY, "b");
    w.google.put_event(PRIMARY, timed("c", d, "13:00", "14:00"));
    w.app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    let blocks = eventually("the full resync", || async {
        let b = busy(&w).await;
        (b.len() == 2
            && b.iter()
                .any(|x| x["startsAt"] == local(New_York, d, "13:00")))
        .then_some(b)
    })
    .await;
    assert!(
        !blocks
            .iter()
            .any(|x| x["startsAt"] == local(New_York, d, "15:00"))
    );
    let calls = list_calls(&w.google);
    assert!(calls.iter().any(|q| q.contains_key("syncToken")));
    assert!(
        calls.last().unwrap().contains_key("timeMin")
            || calls
                .iter()
                .rev()
                .take(2)
                .any(|q| q.contains_key("timeMin"))
    );
    // Our booking is untouched.
    let b = w
        .app
        .gql(
            Some(&w.owner.token),
            "query($id: ID!) { booking(id: $id) { status startsAt } }",
            json!({"id": booked["booking"]["id"]}),
        )
        .await;
    assert_eq!(b["booking"]["startsAt"], local(New_York, d, "12:00"));
}

#[tokio::test]
async fn availability_books_around_imported_busy_time() {
    let w = world().await;
    let d = w.day;
    w.google
        .put_event(PRIMARY, timed("dentist", d, "10:00", "12:00"));
    connected(&w).await;
    busy_count(&w, 1).await;

    let slots = w
        .app
        .gql(
            Some(&w.owner.token),
            "query($s: ID!, $st: ID, $f: NaiveDate!, $t: NaiveDate!) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $t) { startsAt } }",
            json!({"s": w.service, "st": w.staff, "f": d.to_string(), "t": d.to_string()}),
        )
        .await;
    let starts: Vec<String> = slots["availableSlots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["startsAt"].as_str().unwrap().to_string())
        .collect();
    assert!(starts.contains(&local(New_York, d, "09:00")));
    assert!(
        !starts.contains(&local(New_York, d, "09:30")),
        "ends inside the event"
    );
    assert!(!starts.contains(&local(New_York, d, "10:00")));
    assert!(!starts.contains(&local(New_York, d, "11:00")));
    assert!(starts.contains(&local(New_York, d, "12:00")));

    let why = w
        .app
        .gql(
            Some(&w.owner.token),
            WHY,
            json!({"s": w.service, "t": local(New_York, d, "10:30"), "st": w.staff}),
        )
        .await;
    assert_eq!(why["whyNotAvailable"]["available"], false);
    assert_eq!(
        why["whyNotAvailable"]["staff"][0]["reasons"],
        json!(["CALENDAR_BUSY"])
    );

    let customer = w
        .app
        .create_customer(&w.owner.token, "Ana", "+14155550112")
        .await;
    let refused = w
        .app
        .book(
            &w.owner.token,
            &w.service,
            &w.staff,
            &customer,
            &local(New_York, d, "11:00"),
        )
        .await;
    assert_eq!(
        refused["userErrors"][0]["code"], "SLOT_UNAVAILABLE",
        "{refused}"
    );
    let ok = w
        .app
        .book(
            &w.owner.token,
            &w.service,
            &w.staff,
            &customer,
            &local(New_York, d, "12:00"),
        )
        .await;
    assert_eq!(ok["userErrors"], json!([]), "{ok}");
}

async fn notify(w: &World, channel: &str, token: &str, state: &str) -> u16 {
    w.app
        .http
        .post(format!("{}/webhooks/google-calendar", w.app.address))
        .header("X-Goog-Channel-ID", channel)
        .header("X-Goog-Channel-Token", token)
        .header("X-Goog-Resource-State", state)
        .header("X-Goog-Resource-ID", "res")
        .header("X-Goog-Message-Number", "2")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn push_notifications_trigger_one_sync_and_forged_ones_nothing() {
    let w = world().await;
    w.google
        .put_event(PRIMARY, timed("a", w.day, "09:00", "10:00"));
    connected(&w).await;
    channel_stored(&w).await;
    let ch = eventually("a watch channel", || async {
        w.google.state.lock().unwrap().watched.first().cloned()
    })
    .await;
    assert_eq!(ch.address, "http://app.test/webhooks/google-calendar");
    assert_eq!(ch.calendar, PRIMARY);
    busy_count(&w, 1).await;
    let before = list_calls(&w.google).len();

    // Forged notifications: no effect.
    assert_eq!(notify(&w, &ch.id, "wrong-token", "exists").await, 403);
    assert_eq!(
        notify(
            &w,
            "00000000-0000-4000-8000-000000000000",
            &ch.token,
            "exists"
        )
        .await,
        404
    );
    assert_eq!(notify(&w, "not-a-uuid", &ch.token, "exists").await, 404);
    // The channel's first message is a `sync`: acknowledged, no sync.
    assert_eq!(notify(&w, &ch.id, &ch.token, "sync").await, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(list_calls(&w.google).len(), before);

    // A slow Google: the first notification's sync is in flight while five more come;
    // they coalesce into one more sync. Each listing takes 1.5 s (the tests' Google
    // timeout is 2 s), so the five arrive while the first is in flight even on a loaded
    // machine.
    w.google.state.lock().unwrap().list_delay = Duration::from_millis(1500);
    w.google
        .put_event(PRIMARY, timed("b", w.day, "13:00", "14:00"));
    assert_eq!(notify(&w, &ch.id, &ch.token, "exists").await, 200);
    eventually("the first sync to start", || async {
        (list_calls(&w.google).len() > before).then_some(())
    })
    .await;
    for _ in 0..5 {
        assert_eq!(notify(&w, &ch.id, &ch.token, "exists").await, 200);
    }
    busy_count(&w, 2).await;
    // Past the end of the coalesced second sync (≈ 3 s after the first started): a
    // wrong third one would have started by now.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let syncs = list_calls(&w.google).len() - before;
    assert_eq!(syncs, 2, "six notifications, one in flight: two syncs");
}

async fn book(w: &World, at: &str, phone: &str) -> String {
    let customer = w.app.create_customer(&w.owner.token, "Bo", phone).await;
    let b = w
        .app
        .book(&w.owner.token, &w.service, &w.staff, &customer, at)
        .await;
    assert_eq!(b["userErrors"], json!([]), "{b}");
    b["booking"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bookings_are_exported_once_updated_and_deleted() {
    let w = world().await;
    connected(&w).await;
    let id = book(&w, &local(New_York, w.day, "09:00"), "+14155550113").await;
    let ev = eventually("the exported event", || async {
        w.google.live_events(PRIMARY).into_iter().next()
    })
    .await;
    let event_id = ev["id"].as_str().unwrap().to_string();
    assert_eq!(event_id.len(), 26);
    assert!(
        event_id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
    );
    assert_eq!(
        ev["extendedProperties"]["private"]["servicegraphBookingId"],
        id
    );
    assert_eq!(
        ev["start"]["dateTime"],
        local(New_York, w.day, "09:00").replace("+00:00", "Z")
    );

    // Our own event comes back on import and is not busy time (the booking is).
    w.app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(busy(&w).await.len(), 0);

    // Reschedule → update of the same event.
    let r = w
        .app
        .gql(
            Some(&w.owner.token),
            "mutation($id: ID!, $t: DateTime!) { rescheduleBooking(id: $id, startsAt: $t) { userErrors { code message } } }",
            json!({"id": id, "t": local(New_York, w.day, "14:00")}),
        )
        .await;
    assert_eq!(r["rescheduleBooking"]["userErrors"], json!([]), "{r}");
    eventually("the update", || async {
        let e = w.google.live_events(PRIMARY);
        (e.len() == 1
            && e[0]["start"]["dateTime"] == local(New_York, w.day, "14:00").replace("+00:00", "Z"))
        .then_some(())
    })
    .await;
    assert!(
        !w.google
            .requests("PUT", &format!("/events/{event_id}"))
            .is_empty()
    );

    // A second booking; then its insert's answer is "lost" (we forget the link, as if
    // the call succeeded and the server died before recording it) and the export runs
    // again, three times and concurrently: each insert is a 409 and becomes an update.
    let id2 = book(&w, &local(New_York, w.day, "11:00"), "+14155550114").await;
    eventually("the second event", || async {
        (w.google.live_events(PRIMARY).len() == 2).then_some(())
    })
    .await;
    let posts_before = w.google.requests("POST", "/events").len();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let tenant: uuid::Uuid = w.owner.tenant_id.parse().unwrap();
        let tx = w.app.state.db.write(tenant).await.unwrap();
        entities::calendar_event_link::Entity::delete_many()
            .filter(entities::calendar_event_link::Column::TenantId.eq(tenant))
            .filter(
                entities::calendar_event_link::Column::BookingId
                    .eq(id2.parse::<uuid::Uuid>().unwrap()),
            )
            .exec(&*tx)
            .await
            .unwrap();
        for _ in 0..3 {
            graph::jobs::enqueue(
                &tx,
                graph::calendar::export::export_job(id2.parse().unwrap()),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let (a, b) = tokio::join!(
        graph::jobs::run_due(&w.app.state, 10),
        graph::jobs::run_due(&w.app.state, 10)
    );
    a.unwrap();
    b.unwrap();
    // The app's own worker may have claimed some of the jobs first and still be running
    // them: wait for the retried insert, then check that no duplicate follows.
    eventually("the insert retried", || async {
        (w.google.requests("POST", "/events").len() > posts_before).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let live = w.google.live_events(PRIMARY);
    assert_eq!(live.len(), 2, "{live:?}");

    // Cancel → delete.
    let c = w
        .app
        .gql(
            Some(&w.owner.token),
            "mutation($id: ID!) { cancelBooking(id: $id) { userErrors { code } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(c["cancelBooking"]["userErrors"], json!([]), "{c}");
    eventually("the delete", || async {
        (w.google.live_events(PRIMARY).len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn expired_access_tokens_are_refreshed_and_a_revoked_grant_breaks_the_connection() {
    let w = world().await;
    w.google
        .put_event(PRIMARY, timed("a", w.day, "09:00", "10:00"));
    connected(&w).await;
    busy_count(&w, 1).await;
    let refreshes = || {
        w.google
            .requests("POST", "/token")
            .iter()
            .filter(|l| l.body.contains("grant_type=refresh_token"))
            .count()
    };
    assert_eq!(refreshes(), 0);

    // Google expires the access token: 401 → refresh → the sync goes through.
    w.google.state.lock().unwrap().access.clear();
    w.google
        .put_event(PRIMARY, timed("b", w.day, "13:00", "14:00"));
    w.app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    busy_count(&w, 2).await;
    assert_eq!(refreshes(), 1);

    // The user revokes access in their Google account.
    {
        let mut f = w.google.state.lock().unwrap();
        f.access.clear();
        f.refresh.clear();
    }
    w.app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    let s = eventually("the broken connection", || async {
        let s = status(&w).await;
        (s["status"] == "BROKEN").then_some(s)
    })
    .await;
    assert_eq!(s["lastError"], "invalid_grant");
    let n = w
        .app
        .gql(
            Some(&w.owner.token),
            "{ notifications { kind message } }",
            json!({}),
        )
        .await;
    assert!(n.to_string().contains("CALENDAR_DISCONNECTED"), "{n}");
    // A broken connection is not synced.
    let r = w
        .app
        .gql(Some(&w.owner.token), SYNC_NOW, json!({"s": w.staff}))
        .await;
    assert_eq!(r["syncCalendarNow"]["userErrors"][0]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn disconnect_removes_busy_time_and_revokes_the_grant() {
    let w = world().await;
    w.google
        .put_event(PRIMARY, timed("a", w.day, "09:00", "10:00"));
    connected(&w).await;
    busy_count(&w, 1).await;
    eventually("a watch channel", || async {
        w.google.state.lock().unwrap().watched.first().cloned()
    })
    .await;
    // Google saw the watch request; wait until the server has stored the channel too,
    // or the disconnect finds nothing to stop.
    channel_stored(&w).await;
    let r = w
        .app
        .gql(
            Some(&w.owner.token),
            "mutation($s: ID!) { disconnectGoogleCalendar(staffMemberId: $s) { connection { status } userErrors { code } } }",
            json!({"s": w.staff}),
        )
        .await;
    assert_eq!(r["disconnectGoogleCalendar"]["userErrors"], json!([]));
    assert_eq!(busy(&w).await.len(), 0);
    assert_eq!(status(&w).await, Value::Null);
    eventually("the revocation", || async {
        let f = w.google.state.lock().unwrap();
        (!f.revoked.is_empty() && !f.stopped.is_empty()).then_some(())
    })
    .await;
    assert!(w.google.state.lock().unwrap().revoked[0].starts_with("1//refresh"));
}

#[tokio::test]
async fn who_may_connect_and_see_a_calendar() {
    let w = world().await;
    connected(&w).await;
    // A technician linked to another staff member may not connect or read this one's.
    let (tech_user, tech_token) = w
        .app
        .create_user(
            &w.owner,
            &format!("tech-{}@example.com", slug("t")),
            "TECHNICIAN",
        )
        .await;
    let own = w
        .app
        .create_staff_linked(
            &w.owner.token,
            "Own",
            &every_day("09:00", "17:00"),
            Some(&tech_user),
        )
        .await;
    for q in [
        "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url } }",
        "mutation($s: ID!) { disconnectGoogleCalendar(staffMemberId: $s) { userErrors { code } } }",
        STATUS,
    ] {
        let code = w
            .app
            .gql_error_code(Some(&tech_token), q, json!({"s": w.staff}))
            .await;
        assert_eq!(code, "FORBIDDEN", "{q}");
    }
    // Their own is fine.
    let r = w
        .app
        .gql(
            Some(&tech_token),
            "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url userErrors { code } } }",
            json!({"s": own}),
        )
        .await;
    assert!(r["connectGoogleCalendar"]["url"].is_string());
    // Anonymous callers get nothing.
    let code = w
        .app
        .gql_error_code(None, STATUS, json!({"s": w.staff}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    // Another tenant sees no connection for this id and cannot connect it.
    let other = w.app.sign_up(&slug("gcal-other")).await;
    let none = w
        .app
        .gql(Some(&other.token), STATUS, json!({"s": w.staff}))
        .await;
    assert_eq!(none["calendarConnection"], Value::Null);
    let r = w
        .app
        .gql(
            Some(&other.token),
            "mutation($s: ID!) { connectGoogleCalendar(staffMemberId: $s) { url userErrors { code } } }",
            json!({"s": w.staff}),
        )
        .await;
    assert_eq!(
        r["connectGoogleCalendar"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}
