//! The OpenAI Realtime API over a WebSocket, for the phone assistant's streaming mode:
//! a small client ([`RealtimeClient`] → [`RealtimeSocket`]) and the client events the
//! bridge sends, built from `async-openai`'s Realtime types (feature `realtime`, whose
//! API side covers client secrets and SIP calls but not the WebSocket, so the socket is
//! ours, on `tokio-tungstenite` with rustls).
//!
//! Shapes are the GA Realtime API's
//! (<https://platform.openai.com/docs/api-reference/realtime-client-events>,
//! <https://platform.openai.com/docs/api-reference/realtime-server-events>): audio
//! formats are `{"type": "audio/pcmu"}` (G.711 μ-law, 8 kHz — what Twilio Media Streams
//! carry, so audio passes through without transcoding; the beta API called it
//! `g711_ulaw`), audio deltas are `response.output_audio.delta`. Server events are parsed
//! into `async-openai`'s [`RealtimeServerEvent`]; events it does not know (or that do not
//! parse) come back as `None` from [`parse`] and are skipped.
//!
//! The GA session has no `temperature` (the beta one had): the `openai` plugin's
//! temperature applies to the turn-based mode only.

use std::time::Duration;

pub use async_openai::types::realtime::RealtimeServerEvent;
/// `response.function_call_arguments.done`: a tool call the model finished.
pub use async_openai::types::realtime::RealtimeServerEventResponseFunctionCallArgumentsDone as FunctionCallDone;
use async_openai::types::realtime::{
    Audio, AudioInput, AudioOutput, AudioTranscription, RealtimeAudioFormats, RealtimeClientEvent,
    RealtimeClientEventConversationItemCreate, RealtimeClientEventConversationItemTruncate,
    RealtimeClientEventInputAudioBufferAppend, RealtimeClientEventSessionUpdate,
    RealtimeConversationItem, RealtimeConversationItemFunctionCallOutput, RealtimeFunctionTool,
    RealtimeSession, RealtimeTool, RealtimeTurnDetection, RealtimeVoice, Session,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::ProviderError;

/// The default Realtime model.
pub const DEFAULT_REALTIME_MODEL: &str = "gpt-realtime";
/// The default voice (one OpenAI recommends for quality).
pub const DEFAULT_VOICE: &str = "marin";
/// The input transcription model (the caller's words for the call log and the
/// read-back rule).
pub const TRANSCRIPTION_MODEL: &str = "gpt-4o-mini-transcribe";
/// Largest server message accepted, bytes (audio deltas are a few KiB).
pub const MAX_SERVER_MESSAGE_BYTES: usize = 1 << 20;
/// Default time to open the socket (TCP, TLS, WebSocket handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of a [`RealtimeClient`].
#[derive(Clone)]
pub struct RealtimeConfig {
    /// The API root including the version, as for Chat Completions
    /// (`https://api.openai.com/v1`); `https` becomes `wss`, `http` becomes `ws`.
    pub base_url: String,
    /// The API key (`Authorization: Bearer …`; never logged).
    pub api_key: String,
    /// The Realtime model (`gpt-realtime`).
    pub model: String,
    /// The voice (`marin`, …).
    pub voice: String,
    /// Time to open the socket.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for RealtimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("voice", &self.voice)
            .finish()
    }
}

/// The WebSocket URL of the Realtime API under `base_url` for `model`:
/// `{base_url with ws(s)://}/realtime?model={model}`. Errors: `base_url` is not
/// `http(s)://`.
pub fn ws_url(base_url: &str, model: &str) -> Result<String, String> {
    let base = base_url.trim_end_matches('/');
    let rest = if let Some(r) = base.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = base.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        return Err("the base URL must be http(s)://".into());
    };
    let model: String = url::form_urlencoded::byte_serialize(model.as_bytes()).collect();
    Ok(format!("{rest}/realtime?model={model}"))
}

/// Opens Realtime sessions for one tenant's `openai` plugin.
pub struct RealtimeClient {
    url: String,
    api_key: String,
    model: String,
    voice: String,
    connect_timeout: Duration,
}

impl std::fmt::Debug for RealtimeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeClient")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl RealtimeClient {
    /// A client. Errors: the base URL is not `http(s)://`.
    pub fn new(cfg: RealtimeConfig) -> Result<RealtimeClient, String> {
        Ok(RealtimeClient {
            url: ws_url(&cfg.base_url, &cfg.model)?,
            api_key: cfg.api_key,
            model: cfg.model,
            voice: cfg.voice,
            connect_timeout: cfg.connect_timeout,
        })
    }

    /// The WebSocket URL (no secret in it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The voice.
    pub fn voice(&self) -> &str {
        &self.voice
    }

    /// Opens a session. Errors: [`ProviderError::Timeout`] (not open within the connect
    /// timeout), [`ProviderError::Rejected`] (the handshake answered 4xx, e.g. a bad
    /// key: `HTTP 401`), [`ProviderError::Unavailable`] (network, TLS, 5xx).
    pub async fn connect(&self) -> Result<RealtimeSocket, ProviderError> {
        let mut req = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|_| ProviderError::InvalidInput("realtime URL".into()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.api_key))
            .map_err(|_| ProviderError::InvalidInput("API key".into()))?;
        req.headers_mut().insert("authorization", auth);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES));
        let open = tokio_tungstenite::connect_async_with_config(req, Some(config), false);
        match tokio::time::timeout(self.connect_timeout, open).await {
            Err(_) => Err(ProviderError::Timeout),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                let status = resp.status().as_u16();
                if status == 429 || status >= 500 {
                    Err(ProviderError::Unavailable(format!("HTTP {status}")))
                } else {
                    Err(ProviderError::Rejected {
                        code: format!("HTTP {status}"),
                    })
                }
            }
            Ok(Err(_)) => Err(ProviderError::Unavailable("realtime connect failed".into())),
            Ok(Ok((ws, _))) => Ok(RealtimeSocket { ws }),
        }
    }
}

/// An open Realtime session.
pub struct RealtimeSocket {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

impl RealtimeSocket {
    /// Sends one client event. Errors: [`ProviderError::Unavailable`] (the socket is
    /// closed or broken).
    pub async fn send(&mut self, event: &Value) -> Result<(), ProviderError> {
        self.ws
            .send(Message::text(event.to_string()))
            .await
            .map_err(|_| ProviderError::Unavailable("realtime socket closed".into()))
    }

    /// The next text message from the server; `None` once the session closed (pings are
    /// answered by the socket itself; binary frames are skipped). Cancel-safe. Errors:
    /// [`ProviderError::Unavailable`] (broken socket, oversized message).
    pub async fn recv(&mut self) -> Option<Result<String, ProviderError>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => return Some(Ok(t.to_string())),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(_) => {
                    return Some(Err(ProviderError::Unavailable(
                        "realtime socket failed".into(),
                    )));
                }
            }
        }
    }

    /// Closes the session (errors ignored: the socket is going away either way).
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A server event, when it is one `async-openai` knows and it parses; `None` otherwise.
/// A transcription without `usage` (which `async-openai` requires and the caller's
/// words do not need) is taken with a zero usage rather than dropped.
pub fn parse(text: &str) -> Option<RealtimeServerEvent> {
    let mut v: Value = serde_json::from_str(text).ok()?;
    if let Ok(e) = serde_json::from_value(v.clone()) {
        return Some(e);
    }
    let obj = v.as_object_mut()?;
    if obj.contains_key("usage") {
        return None;
    }
    obj.insert("usage".into(), json!({"type": "duration", "seconds": 0}));
    serde_json::from_value(v).ok()
}

/// The `type` of a server event's JSON, for logging what [`parse`] skipped.
pub fn event_type(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("type")?
        .as_str()
        .map(|s| s.chars().take(64).collect())
}

fn wire(event: RealtimeClientEvent) -> Value {
    serde_json::to_value(event).unwrap_or(Value::Null)
}

/// A function tool offered to the Realtime model.
#[derive(Debug, Clone)]
pub struct RealtimeFunction {
    /// Function name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// `session.update` for a phone call: `instructions`, `tools` (tool choice `auto`),
/// audio in and out as `audio/pcmu` (G.711 μ-law 8 kHz, no transcoding), server VAD
/// (interrupting the model's answer when the caller speaks), input transcription with
/// [`TRANSCRIPTION_MODEL`], the client's voice, audio output only (the model is the
/// URL's).
pub fn session_update(
    client: &RealtimeClient,
    instructions: &str,
    tools: &[RealtimeFunction],
) -> Value {
    // No `model` (chosen by the URL; `session.update` may not change it) and no
    // `parallel_tool_calls` (the bridge runs calls one at a time anyway): only fields
    // every GA Realtime model accepts.
    let session = RealtimeSession {
        instructions: Some(instructions.to_string()),
        output_modalities: Some(vec!["audio".into()]),
        audio: Some(Audio {
            input: AudioInput {
                format: RealtimeAudioFormats::PCMUAudioFormat,
                noise_reduction: None,
                transcription: Some(AudioTranscription {
                    model: Some(TRANSCRIPTION_MODEL.into()),
                    ..Default::default()
                }),
                turn_detection: Some(RealtimeTurnDetection::ServerVAD {
                    create_response: Some(true),
                    idle_timeout_ms: None,
                    interrupt_response: Some(true),
                    prefix_padding_ms: 300,
                    silence_duration_ms: 500,
                    threshold: 0.5,
                }),
            },
            output: AudioOutput {
                format: RealtimeAudioFormats::PCMUAudioFormat,
                speed: 1.0,
                voice: serde_json::from_value(json!(client.voice)).unwrap_or(RealtimeVoice::Marin),
            },
        }),
        tools: Some(
            tools
                .iter()
                .map(|t| {
                    RealtimeTool::Function(RealtimeFunctionTool {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: t.parameters.clone(),
                    })
                })
                .collect(),
        ),
        ..Default::default()
    };
    let mut v = wire(RealtimeClientEvent::SessionUpdate(
        RealtimeClientEventSessionUpdate {
            event_id: None,
            session: Session::RealtimeSession(Box::new(session)),
        },
    ));
    v["session"]["tool_choice"] = json!("auto");
    v
}

/// `input_audio_buffer.append` of base64 μ-law audio (as Twilio sent it).
pub fn append(audio_base64: &str) -> Value {
    wire(RealtimeClientEvent::InputAudioBufferAppend(
        RealtimeClientEventInputAudioBufferAppend {
            event_id: None,
            audio: audio_base64.to_string(),
        },
    ))
}

/// `conversation.item.create` with a `function_call_output` answering `call_id`.
pub fn function_output(call_id: &str, output: &str) -> Value {
    wire(RealtimeClientEvent::ConversationItemCreate(
        RealtimeClientEventConversationItemCreate {
            event_id: None,
            previous_item_id: None,
            item: RealtimeConversationItem::FunctionCallOutput(
                RealtimeConversationItemFunctionCallOutput {
                    call_id: call_id.to_string(),
                    output: output.to_string(),
                    id: None,
                    object: None,
                    status: "completed".into(),
                },
            ),
        },
    ))
}

/// `conversation.item.truncate`: the assistant's audio item `item_id` was heard only up
/// to `audio_end_ms` (milliseconds from its start; content part 0).
pub fn truncate(item_id: &str, audio_end_ms: u32) -> Value {
    wire(RealtimeClientEvent::ConversationItemTruncate(
        RealtimeClientEventConversationItemTruncate {
            event_id: None,
            item_id: item_id.to_string(),
            content_index: 0,
            audio_end_ms,
        },
    ))
}

/// `response.create`: the model answers now; with `instructions`, these replace the
/// session's for this one response (e.g. "Say exactly: …"). Written as JSON because
/// `async-openai`'s response parameters make every field mandatory.
pub fn respond(instructions: Option<&str>) -> Value {
    match instructions {
        Some(i) => json!({"type": "response.create", "response": {"instructions": i}}),
        None => json!({"type": "response.create"}),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client() -> RealtimeClient {
        RealtimeClient::new(RealtimeConfig {
            base_url: "https://api.openai.com/v1/".into(),
            api_key: "sk-secret".into(),
            model: "gpt-realtime".into(),
            voice: "cedar".into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        })
        .unwrap()
    }

    #[test]
    fn the_websocket_url_follows_the_base_url() {
        assert_eq!(
            client().url(),
            "wss://api.openai.com/v1/realtime?model=gpt-realtime"
        );
        assert_eq!(
            ws_url("http://127.0.0.1:9/v1", "a b").unwrap(),
            "ws://127.0.0.1:9/v1/realtime?model=a+b"
        );
        assert!(ws_url("ftp://x", "m").is_err());
        assert!(!format!("{:?}", client()).contains("sk-secret"));
    }

    #[test]
    fn client_events_have_the_ga_shapes() {
        let s = session_update(
            &client(),
            "be brief",
            &[RealtimeFunction {
                name: "business_info".into(),
                description: "facts".into(),
                parameters: json!({"type": "object"}),
            }],
        );
        assert_eq!(s["type"], "session.update");
        assert_eq!(s["session"]["type"], "realtime");
        assert!(s["session"].get("model").is_none());
        assert_eq!(
            s["session"]["audio"]["input"]["format"]["type"],
            "audio/pcmu"
        );
        assert_eq!(
            s["session"]["audio"]["output"]["format"]["type"],
            "audio/pcmu"
        );
        assert_eq!(s["session"]["audio"]["output"]["voice"], "cedar");
        assert_eq!(
            s["session"]["audio"]["input"]["turn_detection"]["type"],
            "server_vad"
        );
        assert_eq!(s["session"]["tools"][0]["type"], "function");
        assert_eq!(s["session"]["tools"][0]["name"], "business_info");
        assert_eq!(
            function_output("call_1", "ok"),
            json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
                "call_id": "call_1", "output": "ok", "status": "completed"}})
        );
        assert_eq!(
            truncate("item_1", 320),
            json!({"type": "conversation.item.truncate", "item_id": "item_1",
                "content_index": 0, "audio_end_ms": 320})
        );
        let heard = parse(
            r#"{"type":"conversation.item.input_audio_transcription.completed","event_id":"e","item_id":"i","content_index":0,"transcript":"yes"}"#,
        );
        assert!(matches!(
            heard,
            Some(RealtimeServerEvent::ConversationItemInputAudioTranscriptionCompleted(ref t))
                if t.transcript == "yes"
        ));
        assert!(parse(r#"{"type":"nothing.we.know"}"#).is_none());
        assert_eq!(
            append("AAA="),
            json!({"type": "input_audio_buffer.append", "audio": "AAA="})
        );
    }
}
