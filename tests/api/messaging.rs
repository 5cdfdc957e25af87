//! Customer messaging: text threads over the built-in log and a local Twilio, signed
//! inbound webhooks (STOP/START/HELP, repeats, forgeries), automatic messages that
//! follow the booking, quotas, the unknown-outcome guard, one send with two workers,
//! and conversation events across two instances.

use std::time::Duration;

use chrono::Weekday;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::helpers::eventually;
use crate::helpers::stripe::{field, header, requests_to};
use crate::helpers::twilio::{
    self, ACCOUNT_SID, AUTH_TOKEN, FROM, configure, inbound, messages_path, mount_messages,
    post_signed, view,
};
use crate::helpers::{
    Options, Owner, TestApp, every_day, local, next_json, next_weekday, slug, spawn_app,
    spawn_app_with, subscribe_to,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

const SEND: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id conversationId status body kind } userErrors { field code message } } }";
const THREADS: &str = "query($unread: Boolean! = false) { conversations(first: 20, unreadOnly: $unread) { totalCount edges { node { id phone unreadCount optedOut customer { id name } lastMessage { body direction status } } } } }";
const THREAD: &str = "query($id: ID!) { conversation(id: $id) { id phone optedOut unreadCount messages(first: 50) { edges { node { id direction body status kind messageSid errorCode createdAt } } } } }";

/// No quiet hours, so automatic texts are due at once whatever the test's clock says.
async fn quiet_off(app: &TestApp, owner: &Owner) {
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($input: MessagingSettingsInput!) { updateMessagingSettings(input: $input) { settings { quietHoursStart quietHoursEnd } userErrors { field code message } } }",
            json!({"input": {"quietHoursStart": "00:00", "quietHoursEnd": "00:00"}}),
        )
        .await;
    assert_eq!(r["updateMessagingSettings"]["userErrors"], json!([]), "{r}");
}

async fn send(app: &TestApp, owner: &Owner, input: Value) -> Value {
    app.gql(Some(&owner.token), SEND, json!({ "input": input }))
        .await["sendMessage"]
        .clone()
}

async fn thread(app: &TestApp, owner: &Owner, id: &str) -> Value {
    app.gql(Some(&owner.token), THREAD, json!({ "id": id }))
        .await["conversation"]
        .clone()
}

fn messages(thread: &Value) -> Vec<Value> {
    thread["messages"]["edges"]
        .as_array()
        .map(|e| e.iter().map(|n| n["node"].clone()).collect())
        .unwrap_or_default()
}

/// The status of message `id` in thread `conv`, once it is `want`.
async fn status_becomes(app: &TestApp, owner: &Owner, conv: &str, id: &str, want: &str) -> Value {
    eventually(&format!("message {id} to become {want}"), || async {
        let t = thread(app, owner, conv).await;
        messages(&t)
            .into_iter()
            .find(|m| m["id"] == id && m["status"] == want)
    })
    .await
}

#[tokio::test]
async fn the_log_provider_threads_texts_by_number_and_marks_them_not_delivered() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("msg-log")).await;
    let customer = app
        .create_customer(&owner.token, "Ana Ruiz", "(415) 555-0123")
        .await;
    let first = send(
        &app,
        &owner,
        json!({"customerId": customer, "body": "Hi Ana, running 5 minutes late."}),
    )
    .await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let conv = first["message"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let id = first["message"]["id"].as_str().unwrap().to_string();
    status_becomes(&app, &owner, &conv, &id, "LOGGED").await;
    // The same number written differently is the same thread.
    let other = app
        .create_customer(&owner.token, "Ana (work)", "+1 415 555 0124")
        .await;
    let second = send(&app, &owner, json!({"customerId": other, "body": "x"})).await;
    assert_ne!(second["message"]["conversationId"], conv.as_str());
    let again = send(
        &app,
        &owner,
        json!({"conversationId": conv, "body": "See you soon."}),
    )
    .await;
    assert_eq!(again["message"]["conversationId"], conv.as_str());
    let threads = app
        .gql(Some(&owner.token), THREADS, json!({"unread": false}))
        .await;
    let nodes: Vec<&Value> = threads["conversations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    let ana = nodes.iter().find(|n| n["id"] == conv.as_str()).unwrap();
    assert_eq!(ana["phone"], "+14155550123");
    assert_eq!(ana["customer"]["name"], "Ana Ruiz");
    assert_eq!(ana["lastMessage"]["body"], "See you soon.");
    assert_eq!(ana["lastMessage"]["direction"], "OUTBOUND");
    // The log does not count against the quota.
    let usage = app
        .gql(
            Some(&owner.token),
            "{ smsUsage { used quota delivering } }",
            json!({}),
        )
        .await;
    assert_eq!(
        usage["smsUsage"],
        json!({"used": 0, "quota": 100, "delivering": false})
    );
}

#[tokio::test]
async fn twilio_receives_well_formed_sends_and_statuses_only_move_forward() {
    let mock = MockServer::start().await;
    mount_messages(&mock).await;
    let app = spawn_app_with(twilio::platform(&mock, |_| {})).await;
    let owner = app.sign_up(&slug("msg-tw")).await;
    let cfg = configure(&app, &owner, FROM).await;
    assert_eq!(cfg["userErrors"], json!([]), "{cfg}");
    let customer = app
        .create_customer(&owner.token, "Ben", "415-555-0142")
        .await;
    let sent = send(
        &app,
        &owner,
        json!({"customerId": customer, "body": "Your car is ready & shiny!"}),
    )
    .await;
    assert_eq!(sent["userErrors"], json!([]), "{sent}");
    let conv = sent["message"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let id = sent["message"]["id"].as_str().unwrap().to_string();
    let m = status_becomes(&app, &owner, &conv, &id, "SENDING").await;
    let sid = m["messageSid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("SM"), "{m}");
    let reqs = requests_to(&mock, &messages_path()).await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(
        header(r, "authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(field(r, "To").as_deref(), Some("+14155550142"));
    assert_eq!(field(r, "From").as_deref(), Some(FROM));
    assert_eq!(
        field(r, "Body").as_deref(),
        Some("Your car is ready & shiny!")
    );
    assert_eq!(
        field(r, "StatusCallback"),
        Some(format!(
            "http://app.test/webhooks/{}/twilio/status?m={id}",
            owner.slug
        ))
    );
    let status = |s: &'static str| {
        vec![
            ("MessageSid", sid.clone()),
            ("AccountSid", ACCOUNT_SID.to_string()),
            ("MessageStatus", s.to_string()),
        ]
    };
    let route = format!("status?m={id}");
    let (code, _) = post_signed(
        &app,
        &owner.slug,
        &route,
        &view(&status("delivered")),
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 200);
    status_becomes(&app, &owner, &conv, &id, "DELIVERED").await;
    // A late "sent" does not move it back.
    let (code, _) = post_signed(
        &app,
        &owner.slug,
        &route,
        &view(&status("sent")),
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let t = thread(&app, &owner, &conv).await;
    assert_eq!(messages(&t)[0]["status"], "DELIVERED");
    let usage = app
        .gql(
            Some(&owner.token),
            "{ smsUsage { used delivering } }",
            json!({}),
        )
        .await;
    assert_eq!(usage["smsUsage"], json!({"used": 1, "delivering": true}));
}

#[tokio::test]
async fn inbound_texts_are_verified_threaded_once_and_answer_keywords() {
    let mock = MockServer::start().await;
    mount_messages(&mock).await;
    let app = spawn_app_with(twilio::platform(&mock, |_| {})).await;
    let owner = app.sign_up(&slug("msg-in")).await;
    assert_eq!(configure(&app, &owner, FROM).await["userErrors"], json!([]));
    let from = "+14155550177";
    let hello = inbound(
        "SMa0000000000000000000000000000001",
        "(415) 555-0177",
        "Hi, do you have time Friday?",
    );
    // Forgeries change nothing: no signature, wrong token, wrong URL, tampered body.
    let resp = app
        .http
        .post(format!(
            "{}/webhooks/{}/twilio/sms",
            app.address, owner.slug
        ))
        .form(&hello)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let (code, _) = post_signed(&app, &owner.slug, "sms", &view(&hello), "wrong-token", None).await;
    assert_eq!(code, 403);
    let (code, _) = post_signed(
        &app,
        &owner.slug,
        "sms",
        &view(&hello),
        AUTH_TOKEN,
        Some("http://app.test/webhooks/other/twilio/sms"),
    )
    .await;
    assert_eq!(code, 403);
    {
        let params: Vec<(String, String)> = hello
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let url = format!("http://app.test/webhooks/{}/twilio/sms", owner.slug);
        let sig = integrations::twilio::signature::sign(AUTH_TOKEN, &url, &params);
        let mut tampered = params.clone();
        tampered[5].1 = "STOP".into();
        let resp = app
            .http
            .post(format!(
                "{}/webhooks/{}/twilio/sms",
                app.address, owner.slug
            ))
            .header("X-Twilio-Signature", sig)
            .form(&tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403);
    }
    let threads = app.gql(Some(&owner.token), THREADS, json!({})).await;
    assert_eq!(threads["conversations"]["totalCount"], 0, "{threads}");
    // The real one, twice (Twilio retries): stored once, in a thread with a lead.
    for _ in 0..2 {
        let (code, body) =
            post_signed(&app, &owner.slug, "sms", &view(&hello), AUTH_TOKEN, None).await;
        assert_eq!(code, 200);
        assert!(body.contains("<Response></Response>"), "{body}");
    }
    // A parameter Twilio adds that we do not know is signed like the others.
    let mut extra = inbound(
        "SMa0000000000000000000000000000002",
        from,
        "Also, the Civic.",
    );
    extra.push(("FromCity", "SAN FRANCISCO".to_string()));
    let (code, _) = post_signed(&app, &owner.slug, "sms", &view(&extra), AUTH_TOKEN, None).await;
    assert_eq!(code, 200);
    let threads = app
        .gql(Some(&owner.token), THREADS, json!({"unread": true}))
        .await;
    assert_eq!(threads["conversations"]["totalCount"], 1, "{threads}");
    let node = &threads["conversations"]["edges"][0]["node"];
    assert_eq!(node["phone"], from);
    assert_eq!(node["unreadCount"], 2);
    assert_eq!(node["customer"]["name"], format!("Lead {from}"));
    let conv = node["id"].as_str().unwrap().to_string();
    assert_eq!(messages(&thread(&app, &owner, &conv).await).len(), 2);
    let read = app
        .gql(
            Some(&owner.token),
            "mutation($id: ID!) { markConversationRead(id: $id) { unreadCount } }",
            json!({"id": conv}),
        )
        .await;
    assert_eq!(read["markConversationRead"]["unreadCount"], 0);
    // STOP opts out: manual sends are refused, nothing reaches Twilio.
    let stop = inbound("SMa0000000000000000000000000000003", from, "Stop");
    post_signed(&app, &owner.slug, "sms", &view(&stop), AUTH_TOKEN, None).await;
    let refused = send(&app, &owner, json!({"conversationId": conv, "body": "?"})).await;
    assert_eq!(
        refused["userErrors"][0]["code"], "RECIPIENT_OPTED_OUT",
        "{refused}"
    );
    assert!(requests_to(&mock, &messages_path()).await.is_empty());
    // HELP answers with the tenant's help text, in TwiML, escaped.
    let help = inbound("SMa0000000000000000000000000000004", from, "HELP");
    let (_, body) = post_signed(&app, &owner.slug, "sms", &view(&help), AUTH_TOKEN, None).await;
    assert!(
        body.contains("<Message>Biz ") && body.contains("Reply STOP to unsubscribe.</Message>"),
        "{body}"
    );
    // START opts back in.
    let start = inbound("SMa0000000000000000000000000000005", from, "start");
    post_signed(&app, &owner.slug, "sms", &view(&start), AUTH_TOKEN, None).await;
    let ok = send(
        &app,
        &owner,
        json!({"conversationId": conv, "body": "Welcome back"}),
    )
    .await;
    assert_eq!(ok["userErrors"], json!([]), "{ok}");
    // Operators are notified of each text.
    let notes = app
        .gql(Some(&owner.token), "{ notifications { kind } }", json!({}))
        .await;
    let received = notes["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "MESSAGE_RECEIVED")
        .count();
    assert_eq!(received, 5, "{notes}");
}

#[tokio::test]
async fn reminders_follow_the_booking_when_it_moves_and_disappear_when_it_is_canceled() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("msg-rem")).await;
    quiet_off(&app, &owner).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Sam", &every_day("08:00", "18:00"))
        .await;
    let customer = app
        .create_customer(&owner.token, "Cleo Park", "+14155550155")
        .await;
    let day = next_weekday(Weekday::Wed, 3);
    let start = local(NY, day, "10:00");
    let b = app
        .book(&owner.token, &service, &staff, &customer, &start)
        .await;
    assert_eq!(b["userErrors"], json!([]), "{b}");
    let id = b["booking"]["id"].as_str().unwrap().to_string();
    let st = &app.state;
    let tenant: uuid::Uuid = owner.tenant_id.parse().unwrap();
    let key = format!("sms:reminder:{id}:24");
    let pending = |k: String| async move {
        let tx = st.db.read(tenant).await.unwrap();
        let j = graph::jobs::pending_by_key(&tx, &k).await.unwrap();
        tx.commit().await.unwrap();
        j
    };
    let reminder = pending(key.clone()).await.expect("a reminder is queued");
    let due = chrono::DateTime::parse_from_rfc3339(&start).unwrap() - chrono::Duration::hours(24);
    assert_eq!(reminder.next_attempt_at, due);
    // The confirmation goes out now (through the log).
    let conv = eventually("the confirmation", || async {
        let t = app.gql(Some(&owner.token), THREADS, json!({})).await;
        let n = t["conversations"]["edges"][0]["node"].clone();
        (n["lastMessage"]["status"] == "LOGGED").then_some(n)
    })
    .await;
    assert!(
        conv["lastMessage"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Hi Cleo, your Service 60m with Biz "),
        "{conv}"
    );
    // Rescheduling moves the reminder (one pending job for the key, at the new time).
    let moved_to = local(NY, day, "14:00");
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($id: ID!, $at: DateTime!) { rescheduleBooking(id: $id, startsAt: $at) { booking { id startsAt } userErrors { code message } } }",
            json!({"id": id, "at": moved_to}),
        )
        .await;
    assert_eq!(r["rescheduleBooking"]["userErrors"], json!([]), "{r}");
    let moved = pending(key.clone()).await.expect("the reminder moved");
    assert_ne!(moved.id, reminder.id);
    assert_eq!(
        moved.next_attempt_at,
        chrono::DateTime::parse_from_rfc3339(&moved_to).unwrap() - chrono::Duration::hours(24)
    );
    // Canceling removes it and says so.
    let c = app
        .gql(
            Some(&owner.token),
            "mutation($id: ID!) { cancelBooking(id: $id) { booking { status } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(c["cancelBooking"]["booking"]["status"], "CANCELED", "{c}");
    assert!(pending(key).await.is_none());
    let canceled = eventually("the cancellation text", || async {
        let t = thread(&app, &owner, conv["id"].as_str().unwrap()).await;
        messages(&t).into_iter().find(|m| m["kind"] == "CANCELED")
    })
    .await;
    assert!(
        canceled["body"]
            .as_str()
            .unwrap()
            .contains("has been canceled"),
        "{canceled}"
    );
}

#[tokio::test]
async fn quotas_stop_manual_sends_and_bad_input_changes_nothing() {
    let mock = MockServer::start().await;
    mount_messages(&mock).await;
    let app = spawn_app_with(twilio::platform(&mock, |s| {
        s.sms.platform.monthly_quota = [2, 2, 2];
    }))
    .await;
    let owner = app.sign_up(&slug("msg-quota")).await;
    configure(&app, &owner, FROM).await;
    let customer = app
        .create_customer(&owner.token, "Dee", "+14155550166")
        .await;
    for body in ["", "   ", &"x".repeat(1601)] {
        let r = send(&app, &owner, json!({"customerId": customer, "body": body})).await;
        assert_eq!(r["userErrors"][0]["code"], "INVALID_INPUT", "{r}");
    }
    let r = send(&app, &owner, json!({"body": "no target"})).await;
    assert_eq!(r["userErrors"][0]["code"], "INVALID_INPUT", "{r}");
    let none = app.gql(Some(&owner.token), THREADS, json!({})).await;
    assert_eq!(none["conversations"]["totalCount"], 0);
    for _ in 0..2 {
        let r = send(
            &app,
            &owner,
            json!({"customerId": customer, "body": "hello"}),
        )
        .await;
        assert_eq!(r["userErrors"], json!([]), "{r}");
    }
    let r = send(
        &app,
        &owner,
        json!({"customerId": customer, "body": "hello"}),
    )
    .await;
    assert_eq!(r["userErrors"][0]["code"], "QUOTA_EXCEEDED", "{r}");
    let usage = app
        .gql(Some(&owner.token), "{ smsUsage { used quota } }", json!({}))
        .await;
    assert_eq!(usage["smsUsage"], json!({"used": 2, "quota": 2}));
}

#[tokio::test]
async fn twilio_21610_fails_the_text_and_opts_the_number_out() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(twilio::error(
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
        ))
        .mount(&mock)
        .await;
    let app = spawn_app_with(twilio::platform(&mock, |_| {})).await;
    let owner = app.sign_up(&slug("msg-21610")).await;
    configure(&app, &owner, FROM).await;
    let customer = app
        .create_customer(&owner.token, "Eve", "+14155550188")
        .await;
    let r = send(&app, &owner, json!({"customerId": customer, "body": "hi"})).await;
    let conv = r["message"]["conversationId"].as_str().unwrap().to_string();
    let id = r["message"]["id"].as_str().unwrap().to_string();
    let m = status_becomes(&app, &owner, &conv, &id, "FAILED").await;
    assert_eq!(m["errorCode"], "21610");
    let t = thread(&app, &owner, &conv).await;
    assert_eq!(t["optedOut"], true);
    assert_eq!(requests_to(&mock, &messages_path()).await.len(), 1);
}

/// A text sent through a Twilio mock that accepts the first send but answers after our
/// 1-second timeout (the outcome is unknown to us, exactly as if the server had died
/// before recording the answer) and answers at once afterwards. Returns the mock, the
/// server, its owner, and the thread and message ids.
async fn lost_send(wait: Duration) -> (MockServer, TestApp, Owner, String, String) {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(twilio::Created::delayed(Duration::from_millis(1500)))
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    mount_messages(&mock).await;
    let app = spawn_app_with(twilio::platform(&mock, move |s| {
        s.sms.twilio_timeout = Duration::from_secs(1);
        s.sms.platform.unknown_outcome_wait = wait;
    }))
    .await;
    let owner = app.sign_up(&slug("msg-lost")).await;
    configure(&app, &owner, FROM).await;
    let customer = app
        .create_customer(&owner.token, "Fay", "+14155550199")
        .await;
    let r = send(
        &app,
        &owner,
        json!({"customerId": customer, "body": "once"}),
    )
    .await;
    let conv = r["message"]["conversationId"].as_str().unwrap().to_string();
    let id = r["message"]["id"].as_str().unwrap().to_string();
    (mock, app, owner, conv, id)
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_waits_for_the_status_callback_instead_of_sending_twice() {
    let (mock, app, owner, conv, id) = lost_send(Duration::from_secs(3)).await;
    eventually("Twilio to receive the send", || async {
        (requests_to(&mock, &messages_path()).await.len() == 1).then_some(())
    })
    .await;
    // Twilio's status callback names our message id: it records the MessageSid.
    let sid = "SM00000000000000000000000000000abc";
    let (code, _) = post_signed(
        &app,
        &owner.slug,
        &format!("status?m={id}"),
        &[
            ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID),
            ("MessageStatus", "sent"),
        ],
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let m = status_becomes(&app, &owner, &conv, &id, "SENT").await;
    assert_eq!(m["messageSid"], sid);
    // Past the wait, the follow-up finds it recorded and sends nothing more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(requests_to(&mock, &messages_path()).await.len(), 1);
}

#[tokio::test]
async fn without_a_status_callback_a_lost_send_is_sent_again_after_the_wait() {
    let (mock, app, owner, conv, id) = lost_send(Duration::from_secs(2)).await;
    let m = status_becomes(&app, &owner, &conv, &id, "SENDING").await;
    assert!(m["messageSid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(requests_to(&mock, &messages_path()).await.len(), 2);
}

#[tokio::test]
async fn two_workers_send_each_text_once() {
    let mock = MockServer::start().await;
    mount_messages(&mock).await;
    let app = spawn_app_with(twilio::platform(&mock, |s| {
        s.jobs.poll = Duration::from_millis(20);
        s.sms.platform.sends_per_second = 100;
    }))
    .await;
    let owner = app.sign_up(&slug("msg-two")).await;
    configure(&app, &owner, FROM).await;
    let customer = app
        .create_customer(&owner.token, "Hal", "+14155550122")
        .await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let r = send(
            &app,
            &owner,
            json!({"customerId": customer, "body": format!("n{i}")}),
        )
        .await;
        ids.push(r["message"]["id"].as_str().unwrap().to_string());
    }
    // Two more workers race the background one.
    let (a, b) = tokio::join!(
        graph::jobs::run_due(&app.state, 50),
        graph::jobs::run_due(&app.state, 50)
    );
    a.unwrap();
    b.unwrap();
    eventually("every text to be sent", || async {
        (requests_to(&mock, &messages_path()).await.len() >= 8).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reqs = requests_to(&mock, &messages_path()).await;
    let mut bodies: Vec<String> = reqs.iter().filter_map(|r| field(r, "Body")).collect();
    bodies.sort();
    assert_eq!(bodies, (0..8).map(|i| format!("n{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn only_owners_and_managers_of_the_tenant_reach_conversations() {
    let app = spawn_app().await;
    let a = app.sign_up(&slug("msg-a")).await;
    let b = app.sign_up(&slug("msg-b")).await;
    let customer = app.create_customer(&a.token, "Ivy", "+14155550133").await;
    let r = send(&app, &a, json!({"customerId": customer, "body": "hi"})).await;
    let conv = r["message"]["conversationId"].as_str().unwrap().to_string();
    // Another tenant sees nothing and cannot write into A's thread or customer.
    assert_eq!(
        app.gql_error_code(Some(&b.token), THREAD, json!({"id": conv}))
            .await,
        "NOT_FOUND"
    );
    let r = send(&app, &b, json!({"conversationId": conv, "body": "x"})).await;
    assert_eq!(r["userErrors"][0]["code"], "NOT_FOUND");
    let r = send(&app, &b, json!({"customerId": customer, "body": "x"})).await;
    assert_eq!(r["userErrors"][0]["code"], "NOT_FOUND");
    let theirs = app.gql(Some(&b.token), THREADS, json!({})).await;
    assert_eq!(theirs["conversations"]["totalCount"], 0);
    // Technicians and anonymous callers are refused.
    let (_, tech) = app
        .create_user(&a, "tech@msg.example.com", "TECHNICIAN")
        .await;
    assert_eq!(
        app.gql_error_code(Some(&tech), THREADS, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(None, THREADS, json!({})).await,
        "UNAUTHENTICATED"
    );
    // Webhooks of a tenant without Twilio, or to an unknown action, do nothing.
    let (code, _) = post_signed(
        &app,
        &a.slug,
        "sms",
        &[("MessageSid", "SM1")],
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn a_twilio_number_belongs_to_one_business() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(twilio::platform(&mock, |_| {})).await;
    let a = app.sign_up(&slug("num-a")).await;
    let b = app.sign_up(&slug("num-b")).await;
    assert_eq!(configure(&app, &a, FROM).await["userErrors"], json!([]));
    let taken = configure(&app, &b, FROM).await;
    assert_eq!(
        taken["userErrors"][0]["code"], "PROVIDER_IDENTIFIER_TAKEN",
        "{taken}"
    );
    // Once A moves to another number, B may take it.
    assert_eq!(
        configure(&app, &a, "+14155550101").await["userErrors"],
        json!([])
    );
    assert_eq!(configure(&app, &b, FROM).await["userErrors"], json!([]));
}

#[tokio::test]
async fn a_text_received_by_one_instance_reaches_a_subscriber_on_another() {
    if std::env::var("TEST_REDIS_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        eprintln!("skipped: set TEST_REDIS_URL to run");
        return;
    }
    let mock = MockServer::start().await;
    let channel = format!("sg-test:{}", uuid::Uuid::new_v4());
    let uri = mock.uri();
    let opts = |db: Option<(String, Option<String>)>| {
        let mut o: Options = twilio::platform(&mock, |_| {});
        o.redis_channel = Some(channel.clone());
        o.database = db;
        o
    };
    let _ = uri;
    let a = spawn_app_with(opts(None)).await;
    let b = spawn_app_with(opts(Some((
        a.settings.database.url.clone(),
        a.owner_url.clone(),
    ))))
    .await;
    let owner = a.sign_up(&slug("msg-redis")).await;
    configure(&a, &owner, FROM).await;
    let mut ws = subscribe_to(
        &b,
        &owner.token,
        "subscription { conversationEvents { kind conversationId message { body direction } } }",
    )
    .await;
    let text = inbound(
        "SMb0000000000000000000000000000001",
        "+14155550144",
        "On my way?",
    );
    let (code, _) = post_signed(&a, &owner.slug, "sms", &view(&text), AUTH_TOKEN, None).await;
    assert_eq!(code, 200);
    let ev = next_json(&mut ws).await;
    let e = &ev["payload"]["data"]["conversationEvents"];
    assert_eq!(e["kind"], "MESSAGE_RECEIVED", "{ev}");
    assert_eq!(e["message"]["body"], "On my way?");
    assert_eq!(e["message"]["direction"], "INBOUND");
}

#[tokio::test]
async fn technicians_text_on_the_way_only_for_their_own_bookings() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("msg-otw")).await;
    let (tech_user, tech) = app
        .create_user(&owner, "tech@otw.example.com", "TECHNICIAN")
        .await;
    let service = app.create_service(&owner.token, 60).await;
    let hours = every_day("08:00", "18:00");
    let mine = app
        .create_staff_linked(&owner.token, "Mo", &hours, Some(&tech_user))
        .await;
    let other = app.create_staff(&owner.token, "Ola", &hours).await;
    let customer = app
        .create_customer(&owner.token, "Pat Lee", "+14155550161")
        .await;
    let day = next_weekday(Weekday::Tue, 3);
    let own = app
        .book(
            &owner.token,
            &service,
            &mine,
            &customer,
            &local(NY, day, "09:00"),
        )
        .await;
    let theirs = app
        .book(
            &owner.token,
            &service,
            &other,
            &customer,
            &local(NY, day, "11:00"),
        )
        .await;
    const OTW: &str =
        "mutation($id: ID!) { notifyOnTheWay(bookingId: $id) { queued userErrors { code } } }";
    assert_eq!(
        app.gql_error_code(Some(&tech), OTW, json!({"id": theirs["booking"]["id"]}))
            .await,
        "NOT_FOUND"
    );
    let r = app
        .gql(Some(&tech), OTW, json!({"id": own["booking"]["id"]}))
        .await;
    assert_eq!(
        r["notifyOnTheWay"],
        json!({"queued": true, "userErrors": []})
    );
    let text = eventually("the on-the-way text", || async {
        let t = app.gql(Some(&owner.token), THREADS, json!({})).await;
        let conv = t["conversations"]["edges"][0]["node"]["id"]
            .as_str()?
            .to_string();
        messages(&thread(&app, &owner, &conv).await)
            .into_iter()
            .find(|m| m["kind"] == "ON_THE_WAY" && m["status"] == "LOGGED")
    })
    .await;
    assert!(
        text["body"].as_str().unwrap().starts_with("Mo from Biz "),
        "{text}"
    );
    // Customers are not texted about canceled bookings.
    let canceled = app
        .gql(
            Some(&owner.token),
            "mutation($id: ID!) { cancelBooking(id: $id) { booking { status } } }",
            json!({"id": theirs["booking"]["id"]}),
        )
        .await;
    assert_eq!(canceled["cancelBooking"]["booking"]["status"], "CANCELED");
    let r = app
        .gql(
            Some(&owner.token),
            OTW,
            json!({"id": theirs["booking"]["id"]}),
        )
        .await;
    assert_eq!(
        r["notifyOnTheWay"]["userErrors"][0]["code"],
        "INVALID_STATUS_TRANSITION"
    );
}

const EMAILS: &str = "{ emails(first: 10) { totalCount edges { node { to subject body status kind messageId bookingId } } } }";

async fn email_only_customer(app: &TestApp, owner: &Owner) -> String {
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($input: CustomerInput!) { createCustomer(input: $input) { customer { id } userErrors { code message } } }",
            json!({"input": {"name": "Quinn Doe", "email": "Quinn@Example.com"}}),
        )
        .await;
    r["createCustomer"]["customer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

#[tokio::test]
async fn customers_without_a_mobile_number_get_automatic_messages_by_smtp_email() {
    let sink = crate::helpers::smtp::start().await;
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("mail")).await;
    quiet_off(&app, &owner).await;
    let cfg = app
        .gql(
            Some(&owner.token),
            "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id } userErrors { field code message } } }",
            json!({"input": {"pluginId": "smtp", "enabled": true, "config": {
                "host": "127.0.0.1", "port": sink.port, "tlsMode": "none",
                "fromAddress": "Sparkle <hello@sparkle.example>"
            }}}),
        )
        .await;
    assert_eq!(cfg["configurePlugin"]["userErrors"], json!([]), "{cfg}");
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Rae", &every_day("08:00", "18:00"))
        .await;
    let customer = email_only_customer(&app, &owner).await;
    let day = next_weekday(Weekday::Thu, 3);
    let b = app
        .book(
            &owner.token,
            &service,
            &staff,
            &customer,
            &local(NY, day, "10:00"),
        )
        .await;
    assert_eq!(b["userErrors"], json!([]), "{b}");
    let email = eventually("the confirmation email", || async {
        let e = app.gql(Some(&owner.token), EMAILS, json!({})).await;
        let n = e["emails"]["edges"][0]["node"].clone();
        (n["status"] == "SENT").then_some(n)
    })
    .await;
    assert_eq!(email["to"], "quinn@example.com");
    assert_eq!(email["kind"], "CONFIRMATION");
    assert_eq!(email["bookingId"], b["booking"]["id"]);
    assert!(
        email["subject"]
            .as_str()
            .unwrap()
            .ends_with(": booking confirmed")
    );
    let got = sink.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].from, "hello@sparkle.example");
    assert_eq!(got[0].to, vec!["quinn@example.com".to_string()]);
    let message_id = email["messageId"].as_str().unwrap();
    assert!(got[0].data.contains(message_id), "{}", got[0].data);
    assert!(
        got[0].data.contains("Subject: Biz mail-"),
        "{}",
        got[0].data
    );
    // No text thread was opened for a customer without a number.
    let threads = app.gql(Some(&owner.token), THREADS, json!({})).await;
    assert_eq!(threads["conversations"]["totalCount"], 0);
}

#[tokio::test]
async fn without_smtp_emails_are_logged_not_delivered() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("maillog")).await;
    quiet_off(&app, &owner).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Rae", &every_day("08:00", "18:00"))
        .await;
    let customer = email_only_customer(&app, &owner).await;
    let day = next_weekday(Weekday::Thu, 3);
    app.book(
        &owner.token,
        &service,
        &staff,
        &customer,
        &local(NY, day, "10:00"),
    )
    .await;
    let email = eventually("the logged email", || async {
        let e = app.gql(Some(&owner.token), EMAILS, json!({})).await;
        let n = e["emails"]["edges"][0]["node"].clone();
        (n["status"] == "LOGGED").then_some(n)
    })
    .await;
    assert!(
        email["body"]
            .as_str()
            .unwrap()
            .starts_with("Hi Quinn, your Service 60m"),
        "{email}"
    );
}

#[tokio::test]
async fn oversized_inbound_texts_are_cut_to_twilios_limits() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(twilio::platform(&mock, |_| {})).await;
    let owner = app.sign_up(&slug("msg-big")).await;
    configure(&app, &owner, FROM).await;
    let long = "é".repeat(5_000);
    let mut params = inbound("SMc0000000000000000000000000000001", "+14155550150", &long);
    params.push(("NumMedia", "20".to_string()));
    const NAMES: [&str; 20] = [
        "MediaUrl0",
        "MediaUrl1",
        "MediaUrl2",
        "MediaUrl3",
        "MediaUrl4",
        "MediaUrl5",
        "MediaUrl6",
        "MediaUrl7",
        "MediaUrl8",
        "MediaUrl9",
        "MediaUrl10",
        "MediaUrl11",
        "MediaUrl12",
        "MediaUrl13",
        "MediaUrl14",
        "MediaUrl15",
        "MediaUrl16",
        "MediaUrl17",
        "MediaUrl18",
        "MediaUrl19",
    ];
    let urls = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, format!("https://api.twilio.com/media/{i}")));
    params.extend(urls);
    let (code, _) = post_signed(&app, &owner.slug, "sms", &view(&params), AUTH_TOKEN, None).await;
    assert_eq!(code, 200);
    let t = app.gql(Some(&owner.token), THREADS, json!({})).await;
    let conv = t["conversations"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { conversation(id: $id) { messages(first: 5) { edges { node { body mediaUrls } } } } }",
            json!({"id": conv}),
        )
        .await;
    let node = &m["conversation"]["messages"]["edges"][0]["node"];
    assert_eq!(node["body"].as_str().unwrap().chars().count(), 1_600);
    assert_eq!(node["mediaUrls"].as_array().unwrap().len(), 10);
    // Missing MessageSid: refused, nothing stored.
    let (code, _) = post_signed(
        &app,
        &owner.slug,
        "sms",
        &[("From", "+14155550151"), ("Body", "hi")],
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 400);
    let t = app.gql(Some(&owner.token), THREADS, json!({})).await;
    assert_eq!(t["conversations"]["totalCount"], 1);
}
