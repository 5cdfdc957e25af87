//! Inbound webhooks, the domain side: dedupe (each provider event — a Stripe event id, a
//! Twilio MessageSid — is recorded once per tenant and provider, in the same transaction
//! as its effect, so a redelivery is acknowledged and changes nothing) and the handlers
//! domains register per plugin ([`InboundHandler`]). The plugin's verifier (its
//! signature check) runs at the HTTP edge before any handler. Infrastructure: imports no
//! domain.

use std::collections::BTreeMap;
use std::sync::Arc;

use entities::webhook_event;
use sea_orm::{EntityTrait, Set};

use crate::db::Tx;
use crate::error::ApiError;
use crate::util::{new_id, now};

/// A provider event to record.
#[derive(Debug, Clone, Copy)]
pub struct InboundEvent<'a> {
    /// Dedupe namespace (`stripe`, `twilio`, …). Events of one provider that can arrive
    /// through several endpoints share it, so they take effect once.
    pub provider: &'a str,
    /// The provider's event id.
    pub event_id: &'a str,
    /// The provider's event type, for audit.
    pub event_type: &'a str,
    /// When the provider created it (Unix seconds).
    pub created: i64,
}

/// Records `e` in `tx`; `false` when it was already recorded (a repeat: do nothing). A
/// concurrent repeat waits on the unique key until the first commits or rolls back.
pub async fn record(tx: &Tx, e: InboundEvent<'_>) -> Result<bool, ApiError> {
    let row = webhook_event::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        source: Set(e.provider.into()),
        event_id: Set(e.event_id.into()),
        event_type: Set(e.event_type.into()),
        event_created_at: Set(e.created),
        received_at: Set(now()),
    };
    let res = webhook_event::Entity::insert(row)
        .on_conflict_do_nothing_on([
            webhook_event::Column::TenantId,
            webhook_event::Column::Source,
            webhook_event::Column::EventId,
        ])
        .exec_without_returning(&**tx)
        .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// An inbound webhook request whose signature its plugin has already verified
/// (`plugins::Plugin::inbound`): the raw body and the headers, names lower-cased.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// The raw request body.
    pub body: &'a [u8],
    /// Request headers, names lower-cased.
    pub headers: &'a [(String, String)],
    /// The path segment after the plugin id (`/webhooks/{tenant}/twilio/sms` → `sms`),
    /// for providers with several kinds of callback.
    pub action: Option<&'a str>,
    /// The query string of the URL (without `?`), e.g. our own id in a Twilio
    /// `StatusCallback` URL.
    pub query: Option<&'a str>,
}

impl InboundRequest<'_> {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Escapes text for XML (TwiML) element content or an attribute value: `&`, `<`, `>`
/// and both quotes.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The first value of form field `name` in decoded `application/x-www-form-urlencoded`
/// pairs (Twilio's webhook bodies).
pub fn form_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What the HTTP edge answers a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The body (never a secret, never the request payload).
    pub body: String,
}

impl InboundReply {
    /// A TwiML (`text/xml`) reply: `<Response>` with the given inner XML, which the
    /// caller has escaped.
    pub fn twiml(inner: &str) -> InboundReply {
        InboundReply {
            status: 200,
            content_type: "text/xml",
            body: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{inner}</Response>"),
        }
    }

    /// A JSON reply.
    pub fn json(status: u16, body: serde_json::Value) -> InboundReply {
        InboundReply {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

/// The domain side of a plugin's inbound webhook (`/webhooks/{tenant_slug}/{plugin}`):
/// what a verified request does. Registered per plugin id at start-up.
#[async_trait::async_trait]
pub trait InboundHandler<S: Sync>: Send + Sync {
    /// The plugin whose webhooks this handles (`stripe`, `twilio`, …).
    fn plugin_id(&self) -> &'static str;

    /// Handles a verified request for `tenant_id`. Errors: database failures (the edge
    /// answers 500 and the provider retries).
    async fn handle(
        &self,
        st: &S,
        tenant_id: uuid::Uuid,
        req: &InboundRequest<'_>,
    ) -> Result<InboundReply, ApiError>;
}

/// The registered inbound handlers, by plugin id.
pub struct InboundHandlers<S> {
    map: BTreeMap<&'static str, Arc<dyn InboundHandler<S>>>,
}

impl<S> Default for InboundHandlers<S> {
    fn default() -> Self {
        InboundHandlers {
            map: BTreeMap::new(),
        }
    }
}

impl<S> Clone for InboundHandlers<S> {
    fn clone(&self) -> Self {
        InboundHandlers {
            map: self.map.clone(),
        }
    }
}

impl<S: Sync> InboundHandlers<S> {
    /// Registers the handler of its plugin (a second one replaces the first).
    pub fn register(&mut self, h: Arc<dyn InboundHandler<S>>) {
        self.map.insert(h.plugin_id(), h);
    }

    /// The handler of `plugin_id`.
    pub fn get(&self, plugin_id: &str) -> Option<&Arc<dyn InboundHandler<S>>> {
        self.map.get(plugin_id)
    }
}
