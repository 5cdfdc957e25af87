//! The phone assistant's streaming mode, whole calls: a signed Twilio voice webhook
//! answers `<Connect><Stream>`, a scripted Twilio Media Streams client opens
//! `/agent/{slug}/twilio-stream`, and the server bridges it to a local mock of the
//! OpenAI Realtime API (an axum WebSocket at `/v1/realtime`, speaking the GA event
//! shapes; the test scripts its server events and reads the client events we send). The
//! same mock answers `POST /v1/chat/completions` for the after-call summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{NaiveDate, Weekday};
use futures::{SinkExt, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::twilio::{self, AUTH_TOKEN, FROM};
use crate::helpers::{Owner, TestApp, Ws, eventually, next_weekday, slug};

const ALICE: &str = "+14155550101";
const TRANSFER: &str = "+14155550199";

/// The mock Realtime server's shared state.
#[derive(Clone, Default)]
struct Mock {
    /// Realtime connections opened so far.
    connections: Arc<AtomicUsize>,
    /// `(model query parameter, Authorization header)` of each connection.
    handshakes: Arc<Mutex<Vec<(String, String)>>>,
    /// Client events received (all connections).
    received: Arc<Mutex<Option<mpsc::UnboundedSender<Value>>>>,
    /// Server events to send (taken by the first connection).
    outgoing: Arc<Mutex<Option<mpsc::UnboundedReceiver<Value>>>>,
}

#[derive(serde::Deserialize)]
struct ModelQuery {
    model: String,
}

async fn realtime(
    State(m): State<Mock>,
    Query(q): Query<ModelQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    m.connections.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    m.handshakes.lock().await.push((q.model, auth));
    upgrade.on_upgrade(move |socket| serve(m, socket))
}

async fn serve(m: Mock, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let received = m.received.lock().await.clone();
    let outgoing = m.outgoing.lock().await.take();
    let _ = sink
        .send(AxMessage::text(
            json!({"type": "session.created", "event_id": "event_0", "session": {
                "type": "realtime", "object": "realtime.session", "id": "sess_1",
                "model": "gpt-realtime"}})
            .to_string(),
        ))
        .await;
    let writer = async move {
        if let Some(mut out) = outgoing {
            while let Some(v) = out.recv().await {
                if sink.send(AxMessage::text(v.to_string())).await.is_err() {
                    break;
                }
            }
        }
    };
    let reader = async move {
        while let Some(Ok(msg)) = stream.next().await {
            if let AxMessage::Text(t) = msg
                && let (Some(tx), Ok(v)) = (&received, serde_json::from_str::<Value>(&t))
            {
                let _ = tx.send(v);
            }
        }
    };
    tokio::select! { _ = writer => {}, _ = reader => {} }
}

async fn summary() -> impl IntoResponse {
    axum::Json(json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_764_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "Alice booked a haircut.", "refusal": null},
            "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }))
}

/// A running mock: its address, the events we sent it, and a way to script its events.
struct RealtimeMock {
    uri: String,
    mock: Mock,
    from_us: mpsc::UnboundedReceiver<Value>,
    to_us: mpsc::UnboundedSender<Value>,
}

impl RealtimeMock {
    async fn start() -> RealtimeMock {
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let mock = Mock {
            received: Arc::new(Mutex::new(Some(in_tx))),
            outgoing: Arc::new(Mutex::new(Some(out_rx))),
            ..Mock::default()
        };
        let app = axum::Router::new()
            .route("/v1/realtime", axum::routing::get(realtime))
            .route("/v1/chat/completions", axum::routing::post(summary))
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RealtimeMock {
            uri: format!("http://{addr}"),
            mock,
            from_us: in_rx,
            to_us: out_tx,
        }
    }

    /// Sends a server event to the bridge.
    fn emit(&self, event: Value) {
        self.to_us.send(event).unwrap();
    }

    /// The next client event of type `kind` (others before it are skipped), within 10 s.
    async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let v = tokio::time::timeout(Duration::from_secs(10), self.from_us.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} within 10 s"))
                .expect("mock open");
            if v["type"] == kind {
                return v;
            }
        }
    }

    fn connections(&self) -> usize {
        self.mock.connections.load(Ordering::SeqCst)
    }
}

fn audio_delta(item: &str, bytes: usize) -> Value {
    json!({"type": "response.output_audio.delta", "event_id": "event_a", "response_id": "resp_1",
        "item_id": item, "output_index": 0, "content_index": 0,
        "delta": STANDARD.encode(vec![0xFFu8; bytes])})
}

fn transcript_done(item: &str, text: &str) -> Value {
    json!({"type": "response.output_audio_transcript.done", "event_id": "event_t",
        "response_id": "resp_1", "item_id": item, "output_index": 0, "content_index": 0,
        "transcript": text})
}

fn speech_started(item: &str) -> Value {
    json!({"type": "input_audio_buffer.speech_started", "event_id": "event_s",
        "audio_start_ms": 1000, "item_id": item})
}

fn heard(item: &str, text: &str) -> Value {
    json!({"type": "conversation.item.input_audio_transcription.completed",
        "event_id": "event_h", "item_id": item, "content_index": 0, "transcript": text,
        "logprobs": null, "usage": {"type": "duration", "seconds": 2.0}})
}

fn function_call(call_id: &str, name: &str, args: &Value) -> Value {
    json!({"type": "response.function_call_arguments.done", "event_id": "event_f",
        "response_id": "resp_2", "item_id": format!("item_{call_id}"), "output_index": 0,
        "call_id": call_id, "name": name, "arguments": args.to_string()})
}

/// A salon in streaming mode (Haircut 30 min $45, Ana 09:00–17:00 every day) with
/// plugins `twilio` (mock Twilio) and `openai` (the Realtime mock).
struct Line {
    app: TestApp,
    owner: Owner,
    _twilio: wiremock::MockServer,
    ai: RealtimeMock,
    date: NaiveDate,
}

async fn line() -> Line {
    line_with(|_| {}).await
}

async fn line_with(adjust: impl Fn(&mut servicegraph::Settings) + Send + Sync + 'static) -> Line {
    let (app, owner, twilio_mock) = twilio::salon("stream", adjust).await;
    let ai = RealtimeMock::start().await;
    configure_openai(&app, &owner, &format!("{}/v1", ai.uri)).await;
    let set = app
        .gql(
            Some(&owner.token),
            "mutation($input: AssistantSettingsInput!) { updateAssistantSettings(input: $input) { assistantSettings { mode } userErrors { field code message } } }",
            json!({"input": {"mode": "STREAM", "transferNumber": TRANSFER}}),
        )
        .await;
    assert_eq!(
        set["updateAssistantSettings"]["assistantSettings"]["mode"], "STREAM",
        "{set}"
    );
    Line {
        app,
        owner,
        _twilio: twilio_mock,
        ai,
        date: next_weekday(Weekday::Tue, 3),
    }
}

async fn configure_openai(app: &TestApp, owner: &Owner, base_url: &str) {
    let configured = app
        .gql(
            Some(&owner.token),
            "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id } userErrors { field code message } } }",
            json!({"input": {"pluginId": "openai", "enabled": true, "config": {
                "apiKey": "sk-test-123", "baseUrl": base_url, "voice": "cedar"
            }}}),
        )
        .await;
    assert_eq!(
        configured["configurePlugin"]["userErrors"],
        json!([]),
        "{configured}"
    );
}

impl Line {
    /// The call's start: the signed voice webhook's TwiML.
    async fn answer(&self, sid: &str) -> String {
        let (status, body) = twilio::post_signed(
            &self.app,
            &self.owner.slug,
            "voice",
            &[
                ("CallSid", sid),
                ("AccountSid", twilio::ACCOUNT_SID),
                ("From", ALICE),
                ("To", FROM),
                ("CallStatus", "ringing"),
            ],
            AUTH_TOKEN,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Twilio following the `<Redirect>` after the stream.
    async fn stream_end(&self, sid: &str) -> String {
        let (status, body) = twilio::post_signed(
            &self.app,
            &self.owner.slug,
            "voice-stream-end",
            &[("CallSid", sid), ("From", ALICE), ("To", FROM)],
            AUTH_TOKEN,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn open(&self) -> Ws {
        let url = format!(
            "{}/agent/{}/twilio-stream",
            self.app.address.replace("http://", "ws://"),
            self.owner.slug
        );
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    async fn bookings(&self) -> Vec<Value> {
        let data = self
            .app
            .gql(
                Some(&self.owner.token),
                "{ bookings(first: 100) { edges { node { id status source customer { phone } } } } }",
                json!({}),
            )
            .await;
        data["bookings"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    }

    async fn call_row(&self, sid: &str) -> Option<entities::call::Model> {
        let tenant: uuid::Uuid = self.owner.tenant_id.parse().unwrap();
        let tx = self.app.state.db.read(tenant).await.unwrap();
        let row = entities::call::Entity::find()
            .filter(entities::call::Column::TenantId.eq(tenant))
            .filter(entities::call::Column::CallSid.eq(sid))
            .one(&*tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        row
    }
}

/// The token `<Parameter>` of a `<Connect><Stream>` TwiML.
fn token_of(twiml: &str) -> String {
    twiml
        .split("<Parameter name=\"token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Twilio's first two messages.
async fn start(ws: &mut Ws, call_sid: &str, token: Option<&str>) {
    send(
        ws,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )
    .await;
    let params = match token {
        Some(t) => json!({"token": t}),
        None => json!({}),
    };
    send(
        ws,
        json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ0001",
        "start": {"accountSid": twilio::ACCOUNT_SID, "streamSid": "MZ0001", "callSid": call_sid,
            "tracks": ["inbound"], "customParameters": params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
    )
    .await;
}

/// Twilio sends 20 ms of caller audio.
async fn media(ws: &mut Ws) {
    send(
        ws,
        json!({"event": "media", "sequenceNumber": "2", "streamSid": "MZ0001",
        "media": {"track": "inbound", "chunk": "1", "timestamp": "20",
            "payload": STANDARD.encode([0x7Fu8; 160])}}),
    )
    .await;
}

/// The next message from the server: JSON, or `Err(close code)` when it closes.
async fn next(ws: &mut Ws) -> Result<Value, Option<CloseCode>> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

fn book_args(date: NaiveDate) -> Value {
    json!({"service": "Haircut", "date": date.to_string(), "time": "10:00",
        "customer_name": "Alice Doe", "customer_phone": null, "staff": "Ana", "notes": null})
}

#[tokio::test]
async fn a_streamed_voice_call_books_once_after_the_read_back_yes_with_barge_in_and_a_call_log() {
    let mut l = line().await;
    let sid = "CA00000000000000000000000000000501";
    // The signed voice webhook answers <Connect><Stream> with a one-time token and a
    // <Redirect> for afterwards.
    let twiml = l.answer(sid).await;
    assert!(
        twiml.contains(&format!(
            "<Connect><Stream url=\"{}/agent/{}/twilio-stream\"><Parameter name=\"token\" value=\"",
            l.app.settings.public_base_url.replace("http://", "ws://"),
            l.owner.slug
        )),
        "{twiml}"
    );
    assert!(
        twiml.contains("</Connect><Redirect method=\"POST\">")
            && twiml.contains("/twilio/voice-stream-end</Redirect>"),
        "{twiml}"
    );
    let token = token_of(&twiml);
    assert!(!token.is_empty());

    let mut tw = l.open().await;
    start(&mut tw, sid, Some(&token)).await;

    // What we told the model: μ-law both ways, server VAD, transcription, the turn
    // loop's instructions and its strict tools.
    let update = l.ai.expect("session.update").await;
    let s = &update["session"];
    assert_eq!(s["type"], "realtime");
    assert!(s.get("model").is_none(), "the model is the URL's");
    assert_eq!(s["audio"]["input"]["format"]["type"], "audio/pcmu");
    assert_eq!(s["audio"]["output"]["format"]["type"], "audio/pcmu");
    assert_eq!(s["audio"]["output"]["voice"], "cedar");
    assert_eq!(s["audio"]["input"]["turn_detection"]["type"], "server_vad");
    assert!(s["audio"]["input"]["transcription"]["model"].is_string());
    let instructions = s["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("phone receptionist")
            && instructions.contains("Haircut")
            && instructions.contains("America/New_York"),
        "{instructions}"
    );
    let names: Vec<&str> = s["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "check_availability",
            "book_appointment",
            "find_appointments",
            "reschedule_appointment",
            "cancel_appointment",
            "business_info",
            "transfer_to_human"
        ]
    );
    assert_eq!(s["tools"][1]["parameters"]["additionalProperties"], false);
    let handshakes = l.ai.mock.handshakes.lock().await.clone();
    assert_eq!(
        handshakes,
        [("gpt-realtime".to_string(), "Bearer sk-test-123".to_string())]
    );
    let greet = l.ai.expect("response.create").await;
    assert!(
        greet["response"]["instructions"]
            .as_str()
            .unwrap()
            .contains("Thanks for calling"),
        "{greet}"
    );

    // The greeting's audio reaches Twilio as media + mark; Twilio plays it all.
    l.ai.emit(audio_delta("item_greet", 1600));
    l.ai.emit(transcript_done(
        "item_greet",
        "Thanks for calling. How can I help you today?",
    ));
    let m = next(&mut tw).await.unwrap();
    assert_eq!(m["event"], "media");
    assert_eq!(m["streamSid"], "MZ0001");
    assert_eq!(
        m["media"]["payload"],
        audio_delta("item_greet", 1600)["delta"]
    );
    let mark = next(&mut tw).await.unwrap();
    assert_eq!(mark["event"], "mark");
    send(
        &mut tw,
        json!({"event": "mark", "streamSid": "MZ0001", "mark": {"name": mark["mark"]["name"]}}),
    )
    .await;
    // Caller audio goes to the model as it comes.
    media(&mut tw).await;
    let appended = l.ai.expect("input_audio_buffer.append").await;
    assert_eq!(appended["audio"], STANDARD.encode([0x7Fu8; 160]));

    // The caller asks; the model books at once: the server reads back instead.
    l.ai.emit(speech_started("item_u1"));
    l.ai.emit(heard(
        "item_u1",
        "Can I get a haircut on Tuesday at 10? I'm Alice Doe.",
    ));
    l.ai.emit(function_call(
        "call_1",
        "book_appointment",
        &book_args(l.date),
    ));
    let out = l.ai.expect("conversation.item.create").await;
    assert_eq!(out["item"]["type"], "function_call_output");
    assert_eq!(out["item"]["call_id"], "call_1");
    let output: Value = serde_json::from_str(out["item"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["data"]["awaiting_confirmation"], true, "{output}");
    let readback = l.ai.expect("response.create").await;
    let said = readback["response"]["instructions"].as_str().unwrap();
    assert!(
        said.contains("To confirm: Haircut on ")
            && said.contains("at 10:00 AM with Ana, for Alice Doe")
            && said.contains("Shall I go ahead?"),
        "{said}"
    );
    assert!(l.bookings().await.is_empty());

    // The read-back plays (two chunks of 100 ms); the caller talks over it after the
    // first: Twilio's buffer is cleared and the model's item cut at 100 ms.
    l.ai.emit(audio_delta("item_rb", 800));
    l.ai.emit(audio_delta("item_rb", 800));
    let _ = next(&mut tw).await.unwrap();
    let first = next(&mut tw).await.unwrap();
    let _ = next(&mut tw).await.unwrap();
    let _second = next(&mut tw).await.unwrap();
    send(
        &mut tw,
        json!({"event": "mark", "streamSid": "MZ0001", "mark": {"name": first["mark"]["name"]}}),
    )
    .await;
    media(&mut tw).await; // ordered after the mark: once it is appended, the mark counted
    l.ai.expect("input_audio_buffer.append").await;
    l.ai.emit(speech_started("item_u2"));
    let clear = next(&mut tw).await.unwrap();
    assert_eq!(clear, json!({"event": "clear", "streamSid": "MZ0001"}));
    let cut = l.ai.expect("conversation.item.truncate").await;
    assert_eq!(
        cut,
        json!({"type": "conversation.item.truncate", "item_id": "item_rb", "content_index": 0,
            "audio_end_ms": 100})
    );

    // The caller's yes and the same call again — the call before the transcription of
    // the yes, as the Realtime API may send them: it waits for the words, then books.
    l.ai.emit(
        json!({"type": "input_audio_buffer.committed", "event_id": "event_c",
        "previous_item_id": "item_rb", "item_id": "item_u2"}),
    );
    l.ai.emit(function_call(
        "call_2",
        "book_appointment",
        &book_args(l.date),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        l.bookings().await.is_empty(),
        "no booking before the yes is heard"
    );
    l.ai.emit(heard("item_u2", "Yes, that's right."));
    let out = l.ai.expect("conversation.item.create").await;
    assert_eq!(out["item"]["call_id"], "call_2");
    let output: Value = serde_json::from_str(out["item"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["data"]["booked"], true, "{output}");
    let after = l.ai.expect("response.create").await;
    assert!(after.get("response").is_none(), "{after}");
    // The model repeats itself: no second booking.
    l.ai.emit(function_call(
        "call_3",
        "book_appointment",
        &book_args(l.date),
    ));
    let out = l.ai.expect("conversation.item.create").await;
    assert_eq!(out["item"]["call_id"], "call_3");
    l.ai.emit(transcript_done(
        "item_done",
        "You're booked for Tuesday at 10.",
    ));
    eventually("the last words in the call log", || async {
        l.call_row(sid)
            .await
            .filter(|r| r.transcript.contains("You're booked"))
    })
    .await;
    let list = l.bookings().await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["source"], "AGENT");
    assert_eq!(list[0]["status"], "CONFIRMED");
    assert_eq!(list[0]["customer"]["phone"], ALICE);

    // The caller hangs up; Twilio's status callback finishes the log and the summary
    // comes from the model.
    send(&mut tw, json!({"event": "stop", "streamSid": "MZ0001"})).await;
    let _ = next(&mut tw).await;
    let row = l.call_row(sid).await.unwrap();
    assert_eq!(row.outcome, Some(entities::CallOutcome::Booked));
    assert_eq!(row.intent, Some(entities::CallIntent::Book));
    assert_eq!(row.turns, 2);
    assert_eq!(
        row.booking_id.map(|b| b.to_string()),
        list[0]["id"].as_str().map(str::to_string)
    );
    let transcript: Vec<Value> = serde_json::from_str(&row.transcript).unwrap();
    let lines: Vec<(&str, &str)> = transcript
        .iter()
        .map(|t| (t["speaker"].as_str().unwrap(), t["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            ("assistant", "Thanks for calling. How can I help you today?"),
            (
                "caller",
                "Can I get a haircut on Tuesday at 10? I'm Alice Doe."
            ),
            ("caller", "Yes, that's right."),
            ("assistant", "You're booked for Tuesday at 10."),
        ]
    );
    let tools: Vec<Value> = serde_json::from_str(&row.tool_calls).unwrap();
    let run: Vec<(&str, bool)> = tools
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["executed"] == true))
        .collect();
    assert_eq!(
        run,
        [
            ("book_appointment", false),
            ("book_appointment", true),
            ("book_appointment", false)
        ]
    );
    let (status, _) = twilio::post_signed(
        &l.app,
        &l.owner.slug,
        "voice-status",
        &[
            ("CallSid", sid),
            ("CallStatus", "completed"),
            ("CallDuration", "75"),
        ],
        AUTH_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let row = eventually("the call summary", || async {
        l.call_row(sid).await.filter(|r| r.summary.is_some())
    })
    .await;
    assert_eq!(row.status, entities::CallStatus::Completed);
    assert_eq!(row.duration_seconds, Some(75));
    assert_eq!(row.summary.as_deref(), Some("Alice booked a haircut."));
    assert_eq!(row.outcome, Some(entities::CallOutcome::Booked));
}

#[tokio::test]
async fn a_stream_without_a_valid_token_is_refused_and_reaches_no_model() {
    let l = line().await;
    let sid = "CA00000000000000000000000000000502";
    let twiml = l.answer(sid).await;
    let token = token_of(&twiml);
    // No token, a forged one, and the real one for another call: closed with 1008.
    for (call, bad) in [
        (sid, None),
        (
            sid,
            Some("k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()),
        ),
        ("CA00000000000000000000000000000599", Some(token.clone())),
    ] {
        let mut tw = l.open().await;
        start(&mut tw, call, bad.as_deref()).await;
        assert_eq!(next(&mut tw).await, Err(Some(CloseCode::Policy)));
    }
    // Something other than `start` first, or nothing at all in time.
    let mut tw = l.open().await;
    media(&mut tw).await;
    assert_eq!(next(&mut tw).await, Err(Some(CloseCode::Policy)));
    // A forged voice webhook never gets a token.
    let (status, body) = twilio::post_signed(
        &l.app,
        &l.owner.slug,
        "voice",
        &[
            ("CallSid", "CA00000000000000000000000000000503"),
            ("From", ALICE),
        ],
        "not-the-auth-token",
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert!(!body.contains("<Stream"));
    assert_eq!(l.ai.connections(), 0, "no model session was opened");
    let row = l.call_row(sid).await.unwrap();
    assert_eq!(row.transcript, "[]");
    assert!(
        l.call_row("CA00000000000000000000000000000503")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_stream_token_works_once() {
    let mut l = line().await;
    let sid = "CA00000000000000000000000000000504";
    let token = token_of(&l.answer(sid).await);
    let mut tw = l.open().await;
    start(&mut tw, sid, Some(&token)).await;
    l.ai.expect("session.update").await;
    assert_eq!(l.ai.connections(), 1);
    // A second stream with the same token (a replay) is refused.
    let mut replay = l.open().await;
    start(&mut replay, sid, Some(&token)).await;
    assert_eq!(next(&mut replay).await, Err(Some(CloseCode::Policy)));
    assert_eq!(l.ai.connections(), 1);
}

#[tokio::test]
async fn an_oversized_twilio_message_ends_the_stream_before_anything_happens() {
    let l = line().await;
    let sid = "CA00000000000000000000000000000505";
    let token = token_of(&l.answer(sid).await);
    let mut tw = l.open().await;
    let huge = json!({"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1",
        "callSid": sid, "customParameters": {"token": token, "pad": "x".repeat(32 * 1024)}}});
    let _ = tw.send(Message::text(huge.to_string())).await;
    let end = next(&mut tw).await;
    assert!(end.is_err(), "{end:?}");
    assert_eq!(l.ai.connections(), 0);
}

#[tokio::test]
async fn an_unreachable_model_or_transfer_to_human_hands_over_never_silence() {
    let mut l = line().await;
    // transfer_to_human during a stream: the stream ends, the <Redirect> dials.
    let sid = "CA00000000000000000000000000000506";
    let token = token_of(&l.answer(sid).await);
    let mut tw = l.open().await;
    start(&mut tw, sid, Some(&token)).await;
    l.ai.expect("session.update").await;
    l.ai.emit(heard("item_u1", "Can I talk to a person?"));
    l.ai.emit(function_call(
        "call_t",
        "transfer_to_human",
        &json!({"reason": "wants a person"}),
    ));
    assert_eq!(next(&mut tw).await, Err(Some(CloseCode::Normal)));
    let end = l.stream_end(sid).await;
    assert!(
        end.contains("<Say>Of course. Let me transfer you")
            && end.contains(&format!("<Dial>{TRANSFER}</Dial>")),
        "{end}"
    );
    assert_eq!(
        l.call_row(sid).await.unwrap().outcome,
        Some(entities::CallOutcome::Transferred)
    );

    // The model cannot be reached: an apology and the transfer, not silence.
    configure_openai(&l.app, &l.owner, "http://127.0.0.1:9/v1").await;
    let sid = "CA00000000000000000000000000000507";
    let token = token_of(&l.answer(sid).await);
    let mut tw = l.open().await;
    start(&mut tw, sid, Some(&token)).await;
    assert_eq!(next(&mut tw).await, Err(Some(CloseCode::Normal)));
    let end = l.stream_end(sid).await;
    assert!(
        end.contains("<Say>I'm sorry, I'm having trouble right now.")
            && end.contains(&format!("<Dial>{TRANSFER}</Dial>")),
        "{end}"
    );
    let row = l.call_row(sid).await.unwrap();
    assert_eq!(row.outcome, Some(entities::CallOutcome::Transferred));
    // A stream that ended without a decision (its server went away) apologises too.
    let sid = "CA00000000000000000000000000000508";
    l.answer(sid).await;
    let end = l.stream_end(sid).await;
    assert!(end.contains("I'm sorry") && end.contains("<Dial>"), "{end}");
}

#[tokio::test]
async fn turn_mode_stays_the_default_and_a_revoked_assistant_hands_over_in_stream_mode() {
    let l = line().await;
    // Stream mode with the assistant key revoked: the same hand-over as turn mode.
    let keys = l
        .app
        .gql(Some(&l.owner.token), "{ agentKeys { id } }", json!({}))
        .await;
    assert_eq!(keys["agentKeys"], json!([]), "no key before the first call");
    let other = l.app.sign_up(&slug("turn")).await;
    let mode = l
        .app
        .gql(
            Some(&other.token),
            "{ assistantSettings { mode } }",
            json!({}),
        )
        .await;
    assert_eq!(mode["assistantSettings"]["mode"], "TURN");
    let sid = "CA00000000000000000000000000000509";
    let twiml = l.answer(sid).await;
    assert!(twiml.contains("<Stream"), "{twiml}");
    let keys = l
        .app
        .gql(Some(&l.owner.token), "{ agentKeys { id } }", json!({}))
        .await;
    l.app
        .gql(
            Some(&l.owner.token),
            "mutation($id: ID!) { revokeAgentKey(id: $id) { revokedAt } }",
            json!({"id": keys["agentKeys"][0]["id"]}),
        )
        .await;
    let twiml = l.answer("CA00000000000000000000000000000510").await;
    assert!(
        !twiml.contains("<Stream") && twiml.contains(&format!("<Dial>{TRANSFER}</Dial>")),
        "{twiml}"
    );
}

#[tokio::test]
async fn streams_are_capped_per_tenant_and_in_duration() {
    let mut l = line_with(|s| {
        s.voice.platform.max_streams_per_tenant = 1;
        s.voice.platform.stream_max_duration = Duration::from_secs(1);
    })
    .await;
    let sid = "CA00000000000000000000000000000511";
    let token = token_of(&l.answer(sid).await);
    let mut tw = l.open().await;
    // A second stream of the tenant while one is open: refused before the upgrade.
    let url = format!(
        "{}/agent/{}/twilio-stream",
        l.app.address.replace("http://", "ws://"),
        l.owner.slug
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429)
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    // The call runs into the duration cap: handed over, not cut off in silence.
    start(&mut tw, sid, Some(&token)).await;
    l.ai.expect("session.update").await;
    assert_eq!(next_close(&mut tw).await, Some(CloseCode::Normal));
    let end = l.stream_end(sid).await;
    assert!(
        end.contains("talking for a while") && end.contains(&format!("<Dial>{TRANSFER}</Dial>")),
        "{end}"
    );
}

/// Skips messages until the server closes; the close code.
async fn next_close(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        if let Err(code) = next(ws).await {
            return code;
        }
    }
}
