//! Twilio's callbacks, after the edge verified `X-Twilio-Signature`
//! (<https://www.twilio.com/docs/messaging/guides/webhook-request>):
//!
//! - `sms` — an incoming text (`MessageSid`, `From`, `To`, `Body`, `NumMedia`,
//!   `MediaUrl{N}`): stored once per MessageSid (a repeat is acknowledged and changes
//!   nothing), in the thread of the sender's number (a lead customer is created for an
//!   unknown number), operators notified. Opt-out keywords (`STOP`, `STOPALL`,
//!   `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `REVOKE`, `OPTOUT`) opt the number out and
//!   `START`, `YES`, `UNSTOP` back in (Twilio's defaults,
//!   <https://help.twilio.com/articles/223134027>); `HELP`/`INFO` is answered with the
//!   tenant's help text in the TwiML reply. The answer is TwiML, well within Twilio's
//!   15-second limit.
//! - `status` — a delivery status (`MessageSid`, `MessageStatus`, `ErrorCode`), found by
//!   MessageSid or by our message id in the callback URL (`?m=`, which also records the
//!   MessageSid of a send whose answer we never stored). Statuses only move forward;
//!   error 21610 opts the number out.

use entities::{MessageDirection, MessageKind, MessageStatus, message};
use integrations::twilio::signature::parse_form;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::events::{Envelope, MessageEventKind};
use crate::inbound::{
    self, InboundEvent, InboundHandler, InboundReply, InboundRequest, form_param as param,
    xml_escape,
};
use crate::messaging::delivery::{TWILIO_UNSUBSCRIBED, status_of};
use crate::messaging::service::{
    self as svc, MAX_BODY_CHARS, set_opt_out, thread_for_phone, touch,
};
use crate::notifications::notify;
use crate::state::GraphState;
use crate::util::{normalize_phone, now};

/// Notification kind: a customer texted.
pub const MESSAGE_RECEIVED: &str = "MESSAGE_RECEIVED";
/// Most media URLs kept of one inbound MMS (Twilio allows 10).
pub const MAX_MEDIA: usize = 10;

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// What a single-word inbound text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all texts.
    OptOut,
    /// Texts are welcome again.
    OptIn,
    /// Send the help text.
    Help,
}

/// The keyword of `body`, if it is one word (case and surrounding punctuation
/// ignored).
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_uppercase();
    if word.contains(char::is_whitespace) {
        return None;
    }
    if OPT_OUT.contains(&word.as_str()) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word.as_str()) {
        Some(Keyword::OptIn)
    } else if HELP.contains(&word.as_str()) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Twilio's inbound handler.
pub struct TwilioInbound;

#[async_trait::async_trait]
impl InboundHandler<GraphState> for TwilioInbound {
    fn plugin_id(&self) -> &'static str {
        "twilio"
    }

    async fn handle(
        &self,
        st: &GraphState,
        tenant_id: Uuid,
        req: &InboundRequest<'_>,
    ) -> Result<InboundReply, ApiError> {
        let params = parse_form(req.body);
        match req.action {
            Some("sms") => incoming(st, tenant_id, &params).await,
            Some("status") => status(st, tenant_id, &params, req.query).await,
            // Voice calls: the built-in phone assistant (`crate::voice::phone`).
            Some("voice") => crate::voice::phone::voice(st, tenant_id, &params).await,
            Some("voice-status") => crate::voice::phone::status(st, tenant_id, &params).await,
            Some("voice-recording") => crate::voice::phone::recording(st, tenant_id, &params).await,
            Some("voice-stream-end") => {
                crate::voice::stream::stream_end(st, tenant_id, &params).await
            }
            _ => Ok(InboundReply::json(
                404,
                serde_json::json!({"error": "unknown endpoint: use /twilio/sms, /twilio/status, /twilio/voice, /twilio/voice-status, /twilio/voice-recording or /twilio/voice-stream-end"}),
            )),
        }
    }
}

fn bad(what: &str) -> InboundReply {
    InboundReply::json(400, serde_json::json!({ "error": what }))
}

async fn incoming(
    st: &GraphState,
    tenant_id: Uuid,
    params: &[(String, String)],
) -> Result<InboundReply, ApiError> {
    let Some(sid) = param(params, "MessageSid").filter(|s| !s.is_empty() && s.len() <= 64) else {
        return Ok(bad("MessageSid missing"));
    };
    let Some(from) = param(params, "From").and_then(normalize_phone) else {
        // Short codes and alphanumeric senders cannot be answered; acknowledge.
        return Ok(InboundReply::twiml(""));
    };
    let body: String = param(params, "Body")
        .unwrap_or("")
        .chars()
        .take(MAX_BODY_CHARS)
        .collect();
    let media: Vec<&str> = (0..MAX_MEDIA)
        .filter_map(|i| param(params, &format!("MediaUrl{i}")))
        .collect();
    let tx = st.db.write(tenant_id).await?;
    let fresh = inbound::record(
        &tx,
        InboundEvent {
            provider: "twilio",
            event_id: sid,
            event_type: "sms",
            created: now().timestamp(),
        },
    )
    .await?;
    if !fresh {
        tx.commit().await?;
        return Ok(InboundReply::twiml(""));
    }
    let t = tx.tenant().await?;
    let thread = thread_for_phone(&tx, &from, None, true).await?;
    let mut row = svc::new_row(
        tenant_id,
        thread.id,
        MessageDirection::Inbound,
        MessageKind::Manual,
        body.clone(),
        MessageStatus::Received,
    );
    let at = *row.created_at.as_ref();
    row.provider_sid = Set(Some(sid.to_string()));
    row.media_urls = Set((!media.is_empty()).then(|| serde_json::json!(media).to_string()));
    let m = row.insert(&*tx).await?;
    touch(&tx, thread.id, at, true).await?;
    let mut reply = String::new();
    match keyword(&body) {
        Some(Keyword::OptOut) => set_opt_out(&tx, thread.id, true).await?,
        Some(Keyword::OptIn) => set_opt_out(&tx, thread.id, false).await?,
        Some(Keyword::Help) => {
            let s = svc::settings(&tx, &t).await?;
            reply = format!("<Message>{}</Message>", xml_escape(&s.help_text));
            let mut row = svc::new_row(
                tenant_id,
                thread.id,
                MessageDirection::Outbound,
                MessageKind::Keyword,
                s.help_text,
                MessageStatus::Sending,
            );
            row.send_started_at = Set(Some(now()));
            row.insert(&*tx).await?;
        }
        None => {}
    }
    notify(
        &tx,
        MESSAGE_RECEIVED,
        format!("New text from {from}"),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    st.events
        .publish(Envelope::message(&m, MessageEventKind::MessageReceived))
        .await;
    Ok(InboundReply::twiml(&reply))
}

/// Files a voicemail left with the phone assistant in the caller's text conversation
/// (created as a lead when the number has none): an inbound `VOICEMAIL` message whose
/// `mediaUrls` holds the recording's URL, marked unread, with an operator notification.
/// `seconds` is Twilio's `RecordingDuration`. Publish the returned message's
/// `MessageReceived` event after the transaction commits. Errors: database errors.
pub async fn record_voicemail(
    tx: &Tx,
    from: &str,
    url: &str,
    seconds: Option<u32>,
) -> Result<message::Model, ApiError> {
    let thread = thread_for_phone(tx, from, None, true).await?;
    let body = match seconds {
        Some(s) => format!("Voicemail ({s} s) left with the phone assistant."),
        None => "Voicemail left with the phone assistant.".to_string(),
    };
    let mut row = svc::new_row(
        tx.tenant_id(),
        thread.id,
        MessageDirection::Inbound,
        MessageKind::Voicemail,
        body,
        MessageStatus::Received,
    );
    let at = *row.created_at.as_ref();
    row.media_urls = Set(Some(serde_json::json!([url]).to_string()));
    let m = row.insert(&**tx).await?;
    touch(tx, thread.id, at, true).await?;
    notify(
        tx,
        MESSAGE_RECEIVED,
        format!("New voicemail from {from}"),
        None,
        None,
    )
    .await?;
    Ok(m)
}

async fn status(
    st: &GraphState,
    tenant_id: Uuid,
    params: &[(String, String)],
    query: Option<&str>,
) -> Result<InboundReply, ApiError> {
    let Some(sid) = param(params, "MessageSid").filter(|s| !s.is_empty() && s.len() <= 64) else {
        return Ok(bad("MessageSid missing"));
    };
    let Some(new) = param(params, "MessageStatus").and_then(status_of) else {
        return Ok(InboundReply::twiml(""));
    };
    let error = param(params, "ErrorCode")
        .filter(|c| !c.is_empty() && c.len() <= 16)
        .map(str::to_string);
    let query = parse_form(query.unwrap_or("").as_bytes());
    let ours: Option<Uuid> = param(&query, "m").and_then(|v| v.parse().ok());
    let tx = st.db.write(tenant_id).await?;
    let mut found = scoped::<message::Entity>(tenant_id)
        .filter(message::Column::ProviderSid.eq(sid))
        .one(&*tx)
        .await?;
    if found.is_none()
        && let Some(id) = ours
    {
        found = scoped::<message::Entity>(tenant_id)
            .filter(message::Column::Id.eq(id))
            .filter(message::Column::ProviderSid.is_null())
            .filter(message::Column::Direction.eq(MessageDirection::Outbound))
            .one(&*tx)
            .await?;
    }
    let Some(m) = found else {
        tx.commit().await?;
        return Ok(InboundReply::twiml(""));
    };
    if error.as_deref() == Some(TWILIO_UNSUBSCRIBED) {
        set_opt_out(&tx, m.conversation_id, true).await?;
    }
    let moved = new.rank() > m.status.rank();
    let needs_sid = m.provider_sid.is_none();
    if !moved && !needs_sid {
        tx.commit().await?;
        return Ok(InboundReply::twiml(""));
    }
    let updated = message::ActiveModel {
        status: Set(if moved { new } else { m.status }),
        provider_sid: Set(Some(sid.to_string())),
        error_code: Set(if moved {
            error.or(m.error_code.clone())
        } else {
            m.error_code.clone()
        }),
        updated_at: Set(now()),
        ..m.into()
    }
    .update(&*tx)
    .await?;
    tx.commit().await?;
    st.events
        .publish(Envelope::message(&updated, MessageEventKind::StatusChanged))
        .await;
    Ok(InboundReply::twiml(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_single_words_in_any_case() {
        for w in ["STOP", "stop", " Stop. ", "unsubscribe", "OptOut", "quit"] {
            assert_eq!(keyword(w), Some(Keyword::OptOut), "{w}");
        }
        for w in ["start", "YES", "unstop"] {
            assert_eq!(keyword(w), Some(Keyword::OptIn), "{w}");
        }
        for w in ["help", "INFO"] {
            assert_eq!(keyword(w), Some(Keyword::Help), "{w}");
        }
        for w in [
            "please stop by at 5",
            "stop it now",
            "yes please",
            "",
            "thanks",
        ] {
            assert_eq!(keyword(w), None, "{w}");
        }
        assert_eq!(xml_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }
}
