//! The phone assistant's streaming mode (issue 13, "Streaming mode"): Twilio Media
//! Streams bridged to the OpenAI Realtime API, speech to speech.
//!
//! **The call's start** is the same signed voice webhook as the turn loop
//! (`super::phone::voice`: call logged, caps, revoked key, after hours). A tenant
//! whose assistant settings say `mode: STREAM` is answered with [`connect_twiml`]:
//! `<Connect><Stream url="wss://…/agent/{slug}/twilio-stream">` carrying a one-time
//! token as a `<Parameter>`, then a `<Redirect>` to `…/twilio/voice-stream-end`
//! ([`stream_end`]), which Twilio follows when our side closes the stream: it speaks
//! the hand-over the bridge decided (transfer, voicemail, goodbye).
//!
//! **Who may open the stream.** The WebSocket is authenticated by the token, not by
//! the handshake's `X-Twilio-Signature`: Twilio does sign the upgrade request, but its
//! documentation does not say which URL form it signs for a `wss://` stream (scheme,
//! port), and a guess that is wrong refuses every real call with nothing to see in
//! tests. The token instead is ours end to end: [`issue_token`] seals `{CallSid,
//! expiry, nonce}` with the platform key ring (AES-256-GCM, the tenant id as associated
//! data), it travels only in the TwiML of our signed voice webhook (Twilio fetched it
//! with the tenant's Auth Token) and comes back in the `start` message's
//! `customParameters`; [`bridge`] accepts it once (the nonce is recorded in the inbound
//! dedupe table in the same transaction as the check, so a replay on any instance is
//! refused), for that tenant and that `CallSid` only, within [`TOKEN_TTL_SECS`].
//! Nothing — no call-log change, no Realtime session — happens before that check; a
//! socket that sends no valid `start` within [`START_TIMEOUT`] is closed.
//!
//! **The bridge** ([`bridge`]): `session.update` (instructions = the turn loop's system
//! prompt, the same strict tools, `audio/pcmu` both ways, server VAD, input
//! transcription), then a greeting; Twilio `media` → `input_audio_buffer.append`;
//! `response.output_audio.delta` → Twilio `media` + `mark`; transcripts → the call log;
//! `response.function_call_arguments.done` → `super::phone::one_call` (the turn
//! loop's path: read-back with a slot hold, run only after the caller's yes — the
//! caller's words are the input transcription) → `function_call_output` →
//! `response.create` (a read-back is spoken word for word). Barge-in:
//! `input_audio_buffer.speech_started` while our audio is still queued at Twilio →
//! Twilio `clear` and `conversation.item.truncate` at the audio actually played (from
//! the marks Twilio echoed). `transfer_to_human`, an unreachable or failing model, the
//! turn limit and the duration cap end the stream with a hand-over; a caller who hangs
//! up ends it with `stop` (the status callback finishes the call log as in turn mode).
//!
//! Limits: [`MAX_TWILIO_MESSAGE_BYTES`] per message (enforced by the HTTP edge),
//! `VOICE_STREAM_MAX_SECONDS` per call, `VOICE_MAX_STREAMS_PER_TENANT` at once per
//! server instance (the edge), [`MAX_TOOL_CALLS_PER_TURN`].
//!
//! The caller's words come from the input transcription, which runs beside the model:
//! a change tool called while a read-back awaits its answer and the caller's last
//! speech is not transcribed yet is held until the words arrive (at most
//! [`WORDS_WAIT`]); without words it is read back again — the rule errs on the side of
//! asking twice.

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entities::{CallStatus, PhoneBookingMode, call, service};
use integrations::llm::LlmToolCall;
use integrations::realtime::{
    self, FunctionCallDone, RealtimeFunction, RealtimeServerEvent, RealtimeSocket,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::assistant::{self, AssistantConfig};
use super::phone::{self, Next, Pending, Turn, one_line};
use super::tools::Caller;
use crate::context::{Principal, RequestCtx};
use crate::db::scoped;
use crate::error::ApiError;
use crate::events::CallEventKind;
use crate::inbound::{self, InboundEvent, InboundReply, form_param as param, xml_escape};
use crate::state::GraphState;
use crate::util::now;

/// How long a stream token is valid after the voice webhook issued it, seconds
/// (Twilio opens the stream right after reading the TwiML).
pub const TOKEN_TTL_SECS: i64 = 120;
/// Time a new socket has to send a valid `start` message.
pub const START_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest Twilio message accepted, bytes: `media` carries 20 ms of μ-law (160 bytes,
/// about 400 as JSON); `start` carries our one custom parameter.
pub const MAX_TWILIO_MESSAGE_BYTES: usize = 16 * 1024;
/// Largest base64 audio chunk passed on in either direction, characters.
pub const MAX_AUDIO_CHUNK_CHARS: usize = 64 * 1024;
/// Most tool calls run in one caller turn; more are answered "not run".
pub const MAX_TOOL_CALLS_PER_TURN: usize = 6;
/// Longest wait for the transcription of the caller's answer to a read-back before a
/// change tool called meanwhile is judged without it.
pub const WORDS_WAIT: Duration = Duration::from_secs(3);
/// The `<Parameter>` name of the token.
pub const TOKEN_PARAMETER: &str = "token";
/// Dedupe namespace of used stream tokens.
const TOKEN_SOURCE: &str = "twilio-stream";
/// μ-law at 8 kHz: bytes per millisecond of audio.
const ULAW_BYTES_PER_MS: usize = 8;

fn token_aad(tenant_id: Uuid) -> Vec<u8> {
    format!("servicegraph twilio-stream\n{tenant_id}").into_bytes()
}

/// What a stream token grants.
#[derive(Debug, Serialize, Deserialize)]
struct Grant {
    /// The call.
    c: String,
    /// Expiry, Unix seconds.
    e: i64,
    /// Single-use nonce.
    n: String,
}

/// A one-time token for the Media Stream of call `call_sid` of `tenant_id`:
/// `{key id}.{base64 AES-GCM ciphertext}`, valid [`TOKEN_TTL_SECS`]. Errors: the key
/// ring cannot seal (`INTERNAL`).
pub fn issue_token(st: &GraphState, tenant_id: Uuid, call_sid: &str) -> Result<String, ApiError> {
    let grant = Grant {
        c: call_sid.to_string(),
        e: now().timestamp() + TOKEN_TTL_SECS,
        n: Uuid::new_v4().simple().to_string(),
    };
    let bytes = serde_json::to_vec(&grant).map_err(|_| ApiError::Internal("grant".into()))?;
    let sealed = st
        .keys
        .seal(&bytes, &token_aad(tenant_id))
        .map_err(|e| ApiError::Internal(format!("sealing a stream token: {e:?}")))?;
    Ok(format!("{}.{}", sealed.key_id, sealed.ciphertext))
}

/// Why a stream was refused (closed with policy violation, nothing done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `start` in time, or not a Media Streams `start`.
    NoStart,
    /// Token missing, forged, for another tenant or call, or expired.
    BadToken,
    /// The token was used before.
    Reused,
    /// The call is unknown or already over.
    UnknownCall,
}

/// Checks `token` for `call_sid` of `tenant_id` and uses it up. Errors: database
/// failures.
async fn accept_token(
    st: &GraphState,
    tenant_id: Uuid,
    token: &str,
    call_sid: &str,
) -> Result<Result<(), Refusal>, ApiError> {
    let Some((key_id, ciphertext)) = token.rsplit_once('.') else {
        return Ok(Err(Refusal::BadToken));
    };
    let sealed = plugins::secrets::Sealed {
        key_id: key_id.to_string(),
        ciphertext: ciphertext.to_string(),
    };
    let Ok(bytes) = st.keys.open(&sealed, &token_aad(tenant_id)) else {
        return Ok(Err(Refusal::BadToken));
    };
    let Ok(grant) = serde_json::from_slice::<Grant>(&bytes) else {
        return Ok(Err(Refusal::BadToken));
    };
    if grant.c != call_sid || grant.e < now().timestamp() {
        return Ok(Err(Refusal::BadToken));
    }
    let tx = st.db.write(tenant_id).await?;
    let first = inbound::record(
        &tx,
        InboundEvent {
            provider: TOKEN_SOURCE,
            event_id: &grant.n,
            event_type: "stream.start",
            created: now().timestamp(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if first { Ok(()) } else { Err(Refusal::Reused) })
}

/// The stream's WebSocket URL: `PUBLIC_BASE_URL` with `https` → `wss` (`http` → `ws`,
/// for development; Twilio itself only connects to `wss://`).
pub fn stream_url(st: &GraphState, slug: &str) -> String {
    let base = st.platform.public_base_url.trim_end_matches('/');
    let ws = if let Some(r) = base.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = base.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        base.to_string()
    };
    format!("{ws}/agent/{slug}/twilio-stream")
}

/// The streaming mode's answer to a new call: `<Connect><Stream>` to [`stream_url`]
/// with the one-time token, then `<Redirect>` to `voice-stream-end`. Errors: the token
/// cannot be sealed.
pub fn connect_twiml(
    st: &GraphState,
    slug: &str,
    tenant_id: Uuid,
    call_sid: &str,
) -> Result<InboundReply, ApiError> {
    let token = issue_token(st, tenant_id, call_sid)?;
    let end = format!(
        "{}/webhooks/{slug}/twilio/voice-stream-end",
        st.platform.public_base_url.trim_end_matches('/')
    );
    Ok(InboundReply::twiml(&format!(
        "<Connect><Stream url=\"{}\"><Parameter name=\"{TOKEN_PARAMETER}\" value=\"{}\"/></Stream></Connect><Redirect method=\"POST\">{}</Redirect>",
        xml_escape(&stream_url(st, slug)),
        xml_escape(&token),
        phone::xml_text(&end)
    )))
}

/// What a streamed call hears once its stream ends (stored in `calls.hand_over`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HandOver {
    /// Spoken first.
    say: String,
    /// `dial` (with `number`), `record` or `hangup`.
    next: String,
    /// The transfer number.
    #[serde(default)]
    number: Option<String>,
}

impl HandOver {
    fn of(say: String, next: &Next) -> HandOver {
        let (next, number) = match next {
            Next::Dial(n) => ("dial", Some(n.clone())),
            Next::Record => ("record", None),
            Next::Hangup | Next::Listen => ("hangup", None),
        };
        HandOver {
            say,
            next: next.into(),
            number,
        }
    }
}

/// `POST /webhooks/{slug}/twilio/voice-stream-end` (signed like every Twilio webhook):
/// Twilio's `<Redirect>` after our side closed the stream. Speaks the hand-over the
/// bridge stored (transfer `<Dial>`, voicemail `<Record>`, goodbye); a stream that
/// ended without one (its server went away) gets the apology and the hand-over. An
/// unknown call gets a goodbye.
pub async fn stream_end(
    st: &GraphState,
    tenant_id: Uuid,
    params: &[(String, String)],
) -> Result<InboundReply, ApiError> {
    let Some(sid) = param(params, "CallSid").filter(|s| !s.is_empty() && s.len() <= 64) else {
        return Ok(InboundReply::json(400, json!({"error": "CallSid missing"})));
    };
    let tx = st.db.write(tenant_id).await?;
    let t = tx.tenant().await?;
    let cfg = assistant::load(&tx).await?;
    let row = scoped::<call::Entity>(tenant_id)
        .filter(call::Column::CallSid.eq(sid))
        .one(&*tx)
        .await?;
    let urls = phone::urls(st, &t.slug);
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(phone::twiml(
            &urls,
            "Thank you for calling. Goodbye.",
            &Next::Hangup,
        ));
    };
    let stored: Option<HandOver> = row
        .hand_over
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok());
    let h = match stored {
        Some(h) => h,
        None => {
            let (say, next, outcome) =
                phone::hand_over(&cfg, "I'm sorry, I'm having trouble right now.");
            let mut m = row.clone();
            phone::set_outcome(&mut m, outcome);
            call::ActiveModel {
                outcome: Set(m.outcome),
                updated_at: Set(now()),
                ..row.into()
            }
            .update(&*tx)
            .await?;
            HandOver::of(say, &next)
        }
    };
    tx.commit().await?;
    let next = match (h.next.as_str(), h.number) {
        ("dial", Some(n)) => Next::Dial(n),
        ("record", _) => Next::Record,
        _ => Next::Hangup,
    };
    Ok(phone::twiml(&urls, &h.say, &next))
}

/// A Twilio Media Streams message (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>).
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum TwilioIn {
    Connected,
    Start {
        start: StartInfo,
    },
    Media {
        media: MediaInfo,
    },
    Mark {
        mark: MarkInfo,
    },
    Stop,
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInfo {
    stream_sid: String,
    call_sid: String,
    #[serde(default)]
    custom_parameters: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct MediaInfo {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct MarkInfo {
    name: String,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Refused before anything happened (close with policy violation).
    Refused(Refusal),
    /// The caller hung up (Twilio `stop`, or the socket closed).
    HungUp,
    /// We end it; Twilio follows the `<Redirect>` to the hand-over.
    HandedOver,
}

/// The bridge's state for one call.
struct Live<'a> {
    st: &'a GraphState,
    rc: RequestCtx,
    who: Caller,
    cfg: AssistantConfig,
    turn: Turn,
    confirmed: Option<Pending>,
    stream_sid: String,
    to_twilio: mpsc::Sender<String>,
    /// The assistant audio item being played and how much of it Twilio played, ms.
    playing: Option<(String, u32)>,
    /// Audio sent to Twilio for the playing item, ms.
    sent_ms: u32,
    /// Marks sent and not yet echoed: name, end of the audio before it (ms).
    marks: VecDeque<(String, u32)>,
    mark_seq: u64,
    /// Tool calls in this caller turn.
    calls_this_turn: usize,
    /// The caller spoke (audio committed) and the words are not transcribed yet.
    awaiting_words: bool,
    /// Change tool calls held until the caller's words arrive, and until when.
    held: Vec<FunctionCallDone>,
    held_until: Option<tokio::time::Instant>,
}

impl Live<'_> {
    async fn twilio(&self, v: Value) -> bool {
        self.to_twilio.send(v.to_string()).await.is_ok()
    }

    /// Saves the call log columns the stream changes (never `status`: the status
    /// callback owns the end of the call).
    async fn save(&self) -> Result<(), ApiError> {
        let (transcript, tool_calls, pending) = self.turn.log_columns();
        let r = &self.turn.row;
        let tx = self.st.db.write(r.tenant_id).await?;
        let mut am: call::ActiveModel = r.clone().into();
        am.transcript = Set(transcript);
        am.tool_calls = Set(tool_calls);
        am.pending_action = Set(pending);
        am.turns = Set(r.turns);
        am.intent = Set(r.intent);
        if r.outcome.is_some() {
            am.outcome = Set(r.outcome);
        }
        am.booking_id = Set(r.booking_id);
        am.hand_over = Set(r.hand_over.clone());
        am.updated_at = Set(now());
        let c = am.update(&*tx).await?;
        tx.commit().await?;
        phone::announce(self.st, &c, CallEventKind::CallUpdated).await;
        Ok(())
    }

    /// Ends the stream with the hand-over `lead` + transfer/voicemail.
    async fn hand_over(&mut self, lead: &str) -> Result<Ended, ApiError> {
        let (say, next, outcome) = phone::hand_over(&self.cfg, lead);
        phone::set_outcome(&mut self.turn.row, outcome);
        self.turn.line("assistant", &say);
        self.turn.row.hand_over = serde_json::to_string(&HandOver::of(say, &next)).ok();
        self.turn
            .end(self.st, &self.rc, self.confirmed.as_ref())
            .await;
        self.save().await?;
        Ok(Ended::HandedOver)
    }
}

/// Runs one Media Stream of `tenant_id`: `from_twilio` carries the socket's text
/// messages (closed when the socket closes; the edge enforces
/// [`MAX_TWILIO_MESSAGE_BYTES`]), `to_twilio` takes ours. Returns how it ended; the edge
/// then closes the socket (policy violation for a refusal). Errors: database failures
/// (the edge closes the socket; Twilio then follows the `<Redirect>`, whose handler
/// hands over).
pub async fn bridge(
    st: &GraphState,
    tenant_id: Uuid,
    mut from_twilio: mpsc::Receiver<String>,
    to_twilio: mpsc::Sender<String>,
    max_duration: Duration,
) -> Result<Ended, ApiError> {
    // 1. `start` with a valid token, before anything else.
    let start = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(text) = from_twilio.recv().await {
            match serde_json::from_str::<TwilioIn>(&text) {
                Ok(TwilioIn::Connected) => continue,
                Ok(TwilioIn::Start { start }) => return Some(start),
                _ => return None,
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(start) = start else {
        return Ok(Ended::Refused(Refusal::NoStart));
    };
    let valid_sid =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid_sid(&start.call_sid) || !valid_sid(&start.stream_sid) {
        return Ok(Ended::Refused(Refusal::NoStart));
    }
    let Some(token) = start
        .custom_parameters
        .get(TOKEN_PARAMETER)
        .and_then(Value::as_str)
        .filter(|t| t.len() <= 1024)
    else {
        return Ok(Ended::Refused(Refusal::BadToken));
    };
    if let Err(r) = accept_token(st, tenant_id, token, &start.call_sid).await? {
        return Ok(Ended::Refused(r));
    }

    // 2. The call, its settings and principal.
    let tx = st.db.read(tenant_id).await?;
    let t = tx.tenant().await?;
    let cfg = assistant::load(&tx).await?;
    let row = scoped::<call::Entity>(tenant_id)
        .filter(call::Column::CallSid.eq(start.call_sid.as_str()))
        .one(&*tx)
        .await?;
    let services = scoped::<service::Entity>(tenant_id)
        .filter(service::Column::Active.eq(true))
        .order_by_asc(service::Column::DisplayOrder)
        .order_by_asc(service::Column::Name)
        .all(&*tx)
        .await?;
    tx.commit().await?;
    let Some(row) = row.filter(|r| r.status == CallStatus::InProgress) else {
        return Ok(Ended::Refused(Refusal::UnknownCall));
    };
    let key = {
        let tx = st.db.write(tenant_id).await?;
        let k = phone::assistant_principal(&tx).await?;
        tx.commit().await?;
        k
    };
    let sid = row.call_sid.clone();
    let mut live = Live {
        st,
        rc: RequestCtx {
            tenant_id,
            principal: Principal::Agent {
                key_id: key.unwrap_or_default(),
            },
            request_id: format!("voice-{sid}"),
        },
        who: Caller {
            phone: row.from_phone.clone(),
            request_only: cfg.booking_mode == PhoneBookingMode::Request,
            hold_token: None,
        },
        cfg,
        turn: Turn::new(row),
        confirmed: None,
        stream_sid: start.stream_sid,
        to_twilio,
        playing: None,
        sent_ms: 0,
        marks: VecDeque::new(),
        mark_seq: 0,
        calls_this_turn: 0,
        awaiting_words: false,
        held: Vec::new(),
        held_until: None,
    };
    if key.is_none() {
        return live
            .hand_over("Sorry, our assistant is switched off.")
            .await;
    }
    let providers = st
        .registry
        .tenant(tenant_id)
        .await
        .map_err(ApiError::Internal)?;
    let Some(client) = providers.realtime.clone() else {
        return live
            .hand_over("Sorry, our assistant is not available.")
            .await;
    };

    // 3. The Realtime session.
    let mut ai = match client.connect().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(request_id = %live.rc.request_id, error = %e, "phone stream: the realtime model is unreachable");
            return live
                .hand_over("I'm sorry, I'm having trouble right now.")
                .await;
        }
    };
    let tools: Vec<RealtimeFunction> = phone::llm_tools()
        .await?
        .into_iter()
        .map(|t| RealtimeFunction {
            name: t.name,
            description: t.description,
            parameters: t.parameters,
        })
        .collect();
    let instructions = phone::system_prompt(&t, &services, &live.cfg);
    let greeting = live.cfg.greeting.clone().unwrap_or_else(|| {
        format!(
            "Thanks for calling {}. I'm the virtual assistant. How can I help you today?",
            t.name
        )
    });
    let opened = async {
        ai.send(&realtime::session_update(&client, &instructions, &tools))
            .await?;
        ai.send(&realtime::respond(Some(&format!(
            "Greet the caller with exactly these words: {greeting}"
        ))))
        .await
    }
    .await;
    if opened.is_err() {
        return live
            .hand_over("I'm sorry, I'm having trouble right now.")
            .await;
    }

    // 4. The call.
    let deadline = tokio::time::sleep(max_duration);
    tokio::pin!(deadline);
    let ended = loop {
        tokio::select! {
            msg = from_twilio.recv() => {
                let Some(text) = msg else { break Ended::HungUp };
                match serde_json::from_str::<TwilioIn>(&text) {
                    Ok(TwilioIn::Media { media })
                        if media.payload.len() <= MAX_AUDIO_CHUNK_CHARS
                            && ai.send(&realtime::append(&media.payload)).await.is_err() =>
                    {
                        break live.hand_over("I'm sorry, I'm having trouble right now.").await?;
                    }
                    Ok(TwilioIn::Mark { mark }) => played(&mut live, &mark.name),
                    Ok(TwilioIn::Stop) => break Ended::HungUp,
                    _ => {}
                }
            }
            event = ai.recv() => {
                let text = match event {
                    Some(Ok(t)) => t,
                    Some(Err(_)) | None => {
                        tracing::warn!(request_id = %live.rc.request_id, "phone stream: the realtime session ended");
                        break live.hand_over("I'm sorry, I'm having trouble right now.").await?;
                    }
                };
                if let Some(end) = on_model_event(&mut live, &mut ai, &text).await? {
                    break end;
                }
            }
            _ = &mut deadline => {
                break live.hand_over("We've been talking for a while.").await?;
            }
            _ = wait_until(live.held_until), if !live.held.is_empty() => {
                live.awaiting_words = false;
                if let Some(end) = run_held(&mut live, &mut ai).await? {
                    break end;
                }
            }
        }
    };
    ai.close().await;
    if ended == Ended::HungUp {
        live.turn.end(st, &live.rc, live.confirmed.as_ref()).await;
        live.save().await?;
    }
    Ok(ended)
}

async fn wait_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs the tool calls held for the caller's words.
async fn run_held(live: &mut Live<'_>, ai: &mut RealtimeSocket) -> Result<Option<Ended>, ApiError> {
    live.held_until = None;
    for f in std::mem::take(&mut live.held) {
        if let Some(end) = run_call(live, ai, f).await? {
            return Ok(Some(end));
        }
    }
    Ok(None)
}

/// Twilio played our audio up to mark `name`.
fn played(live: &mut Live<'_>, name: &str) {
    while let Some((n, end_ms)) = live.marks.pop_front() {
        if let Some((_, played_ms)) = live.playing.as_mut() {
            *played_ms = end_ms;
        }
        if n == name {
            break;
        }
    }
}

/// Handles one Realtime server event; `Some` when the stream ends.
async fn on_model_event(
    live: &mut Live<'_>,
    ai: &mut RealtimeSocket,
    text: &str,
) -> Result<Option<Ended>, ApiError> {
    let Some(event) = realtime::parse(text) else {
        tracing::debug!(kind = ?realtime::event_type(text), "phone stream: realtime event skipped");
        return Ok(None);
    };
    match event {
        RealtimeServerEvent::ResponseOutputAudioDelta(d) => {
            if d.delta.len() > MAX_AUDIO_CHUNK_CHARS {
                return Ok(None);
            }
            let bytes = STANDARD.decode(&d.delta).map(|b| b.len()).unwrap_or(0);
            if live.playing.as_ref().map(|(i, _)| i) != Some(&d.item_id) {
                live.playing = Some((d.item_id.clone(), 0));
                live.sent_ms = 0;
                live.marks.clear();
            }
            live.sent_ms = live
                .sent_ms
                .saturating_add(u32::try_from(bytes / ULAW_BYTES_PER_MS).unwrap_or(u32::MAX));
            live.mark_seq += 1;
            let name = format!("m{}", live.mark_seq);
            live.marks.push_back((name.clone(), live.sent_ms));
            let sid = live.stream_sid.clone();
            live.twilio(json!({"event": "media", "streamSid": sid, "media": {"payload": d.delta}}))
                .await;
            live.twilio(json!({"event": "mark", "streamSid": sid, "mark": {"name": name}}))
                .await;
        }
        RealtimeServerEvent::InputAudioBufferSpeechStarted(_) => {
            // Barge-in: drop what Twilio has not played yet, and tell the model how much
            // of its answer the caller heard.
            if let Some((item, played_ms)) = live.playing.clone()
                && !live.marks.is_empty()
            {
                let sid = live.stream_sid.clone();
                live.twilio(json!({"event": "clear", "streamSid": sid}))
                    .await;
                if ai
                    .send(&realtime::truncate(&item, played_ms))
                    .await
                    .is_err()
                {
                    return live
                        .hand_over("I'm sorry, I'm having trouble right now.")
                        .await
                        .map(Some);
                }
                live.marks.clear();
                live.playing = None;
            }
        }
        RealtimeServerEvent::ResponseOutputAudioTranscriptDone(d) => {
            let said = one_line(&d.transcript, phone::MAX_SAY_CHARS);
            if !said.is_empty() {
                live.turn.line("assistant", &said);
                live.save().await?;
            }
        }
        RealtimeServerEvent::InputAudioBufferCommitted(_) => live.awaiting_words = true,
        RealtimeServerEvent::ConversationItemInputAudioTranscriptionFailed(_) => {
            live.awaiting_words = false;
            return run_held(live, ai).await;
        }
        RealtimeServerEvent::ConversationItemInputAudioTranscriptionCompleted(d) => {
            live.awaiting_words = false;
            let words = one_line(&d.transcript, phone::MAX_SPEECH_CHARS);
            if words.trim().is_empty() {
                return run_held(live, ai).await;
            }
            if live.turn.row.turns >= live.st.platform.voice.max_turns as i32 {
                live.turn.line("caller", &words);
                return live
                    .hand_over("We've been talking for a while.")
                    .await
                    .map(Some);
            }
            let previous = live.confirmed.take();
            live.turn.end(live.st, &live.rc, previous.as_ref()).await;
            live.confirmed = live.turn.begin(live.st, &live.rc, &words).await;
            live.calls_this_turn = 0;
            live.save().await?;
            return run_held(live, ai).await;
        }
        RealtimeServerEvent::ResponseFunctionCallArgumentsDone(f) => {
            let writes = super::tools::Tool::parse(&f.name).is_some_and(|t| t.writes());
            if writes && live.awaiting_words && live.turn.awaiting_answer() {
                live.held_until
                    .get_or_insert_with(|| tokio::time::Instant::now() + WORDS_WAIT);
                live.held.push(f);
                return Ok(None);
            }
            return run_call(live, ai, f).await;
        }
        RealtimeServerEvent::Error(e) => {
            tracing::warn!(request_id = %live.rc.request_id, code = ?e.error.code, kind = %e.error.r#type, "phone stream: realtime error");
        }
        _ => {}
    }
    Ok(None)
}

/// Runs one tool call of the model through the turn loop's path and answers it.
async fn run_call(
    live: &mut Live<'_>,
    ai: &mut RealtimeSocket,
    f: FunctionCallDone,
) -> Result<Option<Ended>, ApiError> {
    let index = live.calls_this_turn;
    live.calls_this_turn += 1;
    let mut read_back = None;
    let mut transfer = false;
    let result = if index >= MAX_TOOL_CALLS_PER_TURN {
        json!({"ok": false, "message": "not run: one step at a time"})
    } else {
        let call = LlmToolCall {
            id: f.call_id.clone(),
            name: f.name.clone(),
            arguments: f.arguments.clone(),
        };
        let confirmed = live.confirmed.clone();
        phone::one_call(
            live.st,
            &live.rc,
            &live.who,
            &mut live.turn,
            &call,
            &confirmed,
            index,
            0,
            &mut read_back,
            &mut transfer,
        )
        .await
    };
    if transfer {
        return live.hand_over("Of course.").await.map(Some);
    }
    live.save().await?;
    let say = read_back
        .map(|w| format!("Say exactly these words, nothing else: To confirm: {w}. Shall I go ahead? Please say yes or no."));
    let sent = async {
        ai.send(&realtime::function_output(&f.call_id, &result.to_string()))
            .await?;
        ai.send(&realtime::respond(say.as_deref())).await
    }
    .await;
    if sent.is_err() {
        return live
            .hand_over("I'm sorry, I'm having trouble right now.")
            .await
            .map(Some);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_messages_parse() {
        let start: TwilioIn = serde_json::from_str(
            r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"token":"k.abc"}},"streamSid":"MZ1"}"#,
        )
        .unwrap_or(TwilioIn::Other);
        match start {
            TwilioIn::Start { start } => {
                assert_eq!(start.call_sid, "CA1");
                assert_eq!(start.custom_parameters["token"], "k.abc");
            }
            other => panic!("{other:?}"),
        }
        let h = HandOver::of("Of course.".into(), &Next::Dial("+14155550199".into()));
        let stored = serde_json::to_value(&h).unwrap_or_default();
        assert_eq!(
            stored,
            json!({"say": "Of course.", "next": "dial", "number": "+14155550199"})
        );
        assert_eq!(HandOver::of(String::new(), &Next::Record).next, "record");
        assert!(matches!(
            serde_json::from_str::<TwilioIn>(r#"{"event":"dtmf","dtmf":{"digit":"1"}}"#),
            Ok(TwilioIn::Other)
        ));
    }
}
