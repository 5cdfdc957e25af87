//! `GET /agent/{tenant_slug}/twilio-stream`: the phone assistant's streaming mode, a
//! Twilio Media Streams WebSocket (bidirectional, `<Connect><Stream>`) bridged to the
//! tenant's OpenAI Realtime session by [`graph::voice::stream::bridge`].
//!
//! Before the upgrade: the tenant must exist (404) and have fewer than
//! `VOICE_MAX_STREAMS_PER_TENANT` streams open on this instance (429). The upgrade
//! itself is not trusted: the first message must be Twilio's `start` carrying the
//! one-time token our signed voice webhook put in the TwiML (why a token and not the
//! handshake's `X-Twilio-Signature`: see [`graph::voice::stream`]); otherwise the socket
//! is closed with 1008 (policy violation) and nothing else happens. Messages are capped
//! at [`MAX_TWILIO_MESSAGE_BYTES`] by the WebSocket layer (a larger one ends the
//! socket), the call at `VOICE_STREAM_MAX_SECONDS`. Refusals are logged at debug level
//! only: anyone can open sockets.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use graph::voice::stream::{Ended, MAX_TWILIO_MESSAGE_BYTES, bridge};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::app_state::AppState;

/// Close code of a refused stream (RFC 6455 §7.4.1: policy violation).
pub const CLOSE_REFUSED: u16 = 1008;

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"message": message, "extensions": {"code": code}}]})),
    )
        .into_response()
}

/// The upgrade handler.
pub async fn twilio_stream(
    State(app): State<Arc<AppState>>,
    Path(slug): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !graph::util::valid_slug(&slug) {
        return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown tenant");
    }
    let tenant_id = match app.graph.db.tenant_id_by_slug(&slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown tenant"),
        Err(e) => {
            tracing::error!(error = ?e, "twilio stream: tenant lookup failed");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let max = app.graph.platform.voice.max_streams_per_tenant as usize;
    let Some(slot) = app
        .socket_counter
        .take(format!("twilio-stream:{tenant_id}"), max)
    else {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many calls at once",
        );
    };
    upgrade
        .max_message_size(MAX_TWILIO_MESSAGE_BYTES)
        .max_frame_size(MAX_TWILIO_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            run(app, tenant_id, socket).await;
        })
}

async fn run(app: Arc<AppState>, tenant_id: Uuid, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<String>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let reader = tokio::spawn(async move {
        while let Some(m) = stream.next().await {
            match m {
                Ok(Message::Text(t)) => {
                    if in_tx.send(t.to_string()).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        sink
    });
    let max_duration = app.graph.platform.voice.stream_max_duration;
    let ended = bridge(&app.graph, tenant_id, in_rx, out_tx, max_duration).await;
    let code = match &ended {
        Ok(Ended::Refused(r)) => {
            tracing::debug!(reason = ?r, "twilio stream refused");
            CLOSE_REFUSED
        }
        Ok(_) => 1000,
        Err(e) => {
            tracing::error!(error = ?e, "twilio stream failed");
            1011
        }
    };
    reader.abort();
    if let Ok(mut sink) = writer.await {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: "".into(),
            })))
            .await;
    }
}
