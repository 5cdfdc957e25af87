//! Customer messaging: two-way text threads (Twilio, or the built-in log), automatic
//! messages that follow the booking, and live conversation updates.
//!
//! How it plugs in ([`register`]): a booking hook ([`hooks::MessagingHook`]) that
//! enqueues keyed `sms.auto` jobs, the job handlers that send ([`delivery`]), and the
//! inbound handler of plugin `twilio` ([`inbound::TwilioInbound`]). GraphQL:
//! `conversations`, `conversation`, `sendMessage`, `markConversationRead`,
//! `messagingSettings` / `updateMessagingSettings`, `messageTemplates` /
//! `setMessageTemplate`, `smsUsage`, and the `conversationEvents` subscription (through
//! the event bus, so a subscriber on any instance sees texts received by another).
//! Owners and managers only.

pub mod delivery;
pub mod email;
pub mod hooks;
pub mod inbound;
pub mod service;
pub mod templates;

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use entities::{MessageDirection, MessageKind, MessageStatus, conversation, message};
use futures::{Stream, StreamExt};

use crate::customers::types::Customer;
use crate::db::scoped;
use crate::error::UserError;
use crate::events::{DomainEvent, MessageEventKind};
use crate::extensions::Extensions;
use crate::guards::{MANAGE, RoleGuard, USERS};
use crate::pagination::{Page, PageArgs};
use crate::state::{GraphState, caller, state};
use crate::util::parse_id;

/// Registers messaging's hook, job handlers and inbound handler.
pub fn register(ext: &mut Extensions<GraphState>) {
    ext.booking_hooks.register(Arc::new(hooks::MessagingHook));
    ext.jobs.register(Arc::new(delivery::SendHandler));
    ext.jobs.register(Arc::new(delivery::AutoHandler));
    ext.inbound.register(Arc::new(inbound::TwilioInbound));
}

/// A text thread with one phone number.
#[derive(Clone)]
pub struct Conversation(pub conversation::Model);

/// A text thread with one phone number.
#[Object]
impl Conversation {
    /// Conversation id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customer's number, E.164.
    async fn phone(&self) -> &str {
        &self.0.phone
    }
    /// The customer (a lead customer for a number that texted first).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        let Some(id) = self.0.customer_id else {
            return Ok(None);
        };
        let st = state(ctx)?;
        let tx = st.db.read(self.0.tenant_id).await?;
        use sea_orm::{ColumnTrait, QueryFilter};
        let c = scoped::<entities::customer::Entity>(self.0.tenant_id)
            .filter(entities::customer::Column::Id.eq(id))
            .one(&*tx)
            .await?;
        tx.commit().await?;
        Ok(c.map(Customer))
    }
    /// The newest message.
    async fn last_message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        Ok(
            service::last_message(state(ctx)?, self.0.tenant_id, self.0.id)
                .await?
                .map(Message),
        )
    }
    /// Inbound messages not yet marked read.
    async fn unread_count(&self) -> i32 {
        self.0.unread_count
    }
    /// Whether the number opted out (STOP); nothing is sent to it until it texts START.
    async fn opted_out(&self) -> bool {
        self.0.opted_out_at.is_some()
    }
    /// When the newest message was written (UTC).
    async fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }
    /// Messages, oldest first (Relay paging, at most 100 per page).
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Message>> {
        let args = PageArgs::of(ctx, first, after, last, before);
        Ok(
            service::messages(state(ctx)?, self.0.tenant_id, self.0.id, args)
                .await?
                .into_page(Message),
        )
    }
}

/// One text message.
#[derive(Clone)]
pub struct Message(pub message::Model);

/// One text message.
#[Object]
impl Message {
    /// Message id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The thread.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// `INBOUND` (from the customer) or `OUTBOUND`.
    async fn direction(&self) -> MessageDirection {
        self.0.direction
    }
    /// The text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Delivery status (`LOGGED`: recorded by the built-in log, not delivered).
    async fn status(&self) -> MessageStatus {
        self.0.status
    }
    /// Why it was written.
    async fn kind(&self) -> MessageKind {
        self.0.kind
    }
    /// Twilio's MessageSid, once known.
    async fn message_sid(&self) -> Option<&str> {
        self.0.provider_sid.as_deref()
    }
    /// Twilio's error code (e.g. `21610`), or why it was skipped (`OPTED_OUT`,
    /// `QUOTA_EXCEEDED`).
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }
    /// The booking an automatic message is about.
    async fn booking_id(&self) -> Option<ID> {
        self.0.booking_id.map(|i| ID(i.to_string()))
    }
    /// Media URLs of an inbound MMS (Twilio-hosted; fetching needs the account's
    /// credentials).
    async fn media_urls(&self) -> Vec<String> {
        self.0
            .media_urls
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
    /// When it was written (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `sendMessage` input: a thread or a customer, and the text.
#[derive(InputObject)]
pub struct SendMessageInput {
    /// The thread to answer …
    pub conversation_id: Option<ID>,
    /// … or the customer to text (their number's thread).
    pub customer_id: Option<ID>,
    /// The text, 1–1,600 characters.
    pub body: String,
}

/// Result of `sendMessage`.
#[derive(SimpleObject, Default)]
pub struct SendMessagePayload {
    /// The queued message.
    pub message: Option<Message>,
    /// `INVALID_INPUT`, `NOT_FOUND`, `INVALID_PHONE`, `RECIPIENT_OPTED_OUT`,
    /// `QUOTA_EXCEEDED`.
    pub user_errors: Vec<UserError>,
}

/// Result of `notifyOnTheWay`.
#[derive(SimpleObject, Default)]
pub struct OnTheWayPayload {
    /// Whether the text was queued.
    pub queued: bool,
    /// `INVALID_STATUS_TRANSITION`, `INVALID_PHONE`.
    pub user_errors: Vec<UserError>,
}

/// A tenant's messaging preferences.
#[derive(SimpleObject)]
pub struct MessagingSettings {
    /// Whether automatic messages (confirmations, reminders, …) are sent.
    pub automatic_messages: bool,
    /// Quiet hours start, `HH:MM` in the business's time zone (default `21:00`).
    pub quiet_hours_start: String,
    /// Quiet hours end, `HH:MM` (default `08:00`); automatic messages wait until then.
    pub quiet_hours_end: String,
    /// Reminders, hours before the start (default `[24]`).
    pub reminder_hours: Vec<i32>,
    /// The answer to HELP/INFO.
    pub help_text: String,
}

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl From<service::Settings> for MessagingSettings {
    fn from(s: service::Settings) -> Self {
        MessagingSettings {
            automatic_messages: s.automatic,
            quiet_hours_start: hhmm(s.quiet.start_minute),
            quiet_hours_end: hhmm(s.quiet.end_minute),
            reminder_hours: s.reminder_hours,
            help_text: s.help_text,
        }
    }
}

/// `updateMessagingSettings` input; unset fields keep their value.
#[derive(InputObject, Default)]
pub struct MessagingSettingsInput {
    /// Whether automatic messages are sent.
    pub automatic_messages: Option<bool>,
    /// Quiet hours start, `HH:MM`.
    pub quiet_hours_start: Option<String>,
    /// Quiet hours end, `HH:MM` (equal to the start: no quiet hours).
    pub quiet_hours_end: Option<String>,
    /// Reminders, hours before the start: at most 3, each 1–168.
    pub reminder_hours: Option<Vec<i32>>,
    /// The answer to HELP/INFO, 1–320 characters.
    pub help_text: Option<String>,
}

/// Result of `updateMessagingSettings`.
#[derive(SimpleObject, Default)]
pub struct MessagingSettingsPayload {
    /// The settings now.
    pub settings: Option<MessagingSettings>,
    /// `INVALID_INPUT` (field path names the field).
    pub user_errors: Vec<UserError>,
}

/// The body of one kind of automatic message.
#[derive(SimpleObject)]
pub struct MessageTemplate {
    /// Which message.
    pub kind: MessageKind,
    /// Text with `{customer_name}`, `{business}`, `{service}`, `{start}` (local, with
    /// weekday), `{staff_member}`, `{address}`, `{amount_due}`.
    pub body: String,
    /// Whether it is the default (not the business's own).
    pub is_default: bool,
}

/// Result of `setMessageTemplate`.
#[derive(SimpleObject, Default)]
pub struct MessageTemplatePayload {
    /// The template now.
    pub template: Option<MessageTemplate>,
    /// `INVALID_INPUT`.
    pub user_errors: Vec<UserError>,
}

/// This month's texts.
#[derive(SimpleObject)]
pub struct SmsUsage {
    /// Start of the month (UTC).
    pub month_start: DateTime<Utc>,
    /// Texts counted this month (sent or queued through a provider that delivers).
    pub used: i64,
    /// The plan's monthly quota.
    pub quota: i64,
    /// Whether texts really leave (false: the built-in log records them).
    pub delivering: bool,
}

/// A live change in a conversation.
#[derive(SimpleObject)]
pub struct ConversationEvent {
    /// What happened.
    pub kind: MessageEventKind,
    /// The thread.
    pub conversation_id: ID,
    /// The message, as it is now.
    pub message: Message,
}

fn template(t: (MessageKind, String, bool)) -> MessageTemplate {
    MessageTemplate {
        kind: t.0,
        body: t.1,
        is_default: !t.2,
    }
}

/// Messaging queries (owners and managers).
#[derive(Default)]
pub struct MessagingQuery;

/// Messaging queries (owners and managers).
#[Object]
impl MessagingQuery {
    /// Text threads, most recent first. Errors: `UNAUTHENTICATED`, `FORBIDDEN`,
    /// `BAD_USER_INPUT` (page size, cursor).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Only threads with unread texts.")] unread_only: bool,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Conversation>> {
        let args = PageArgs::of(ctx, first, after, last, before);
        Ok(
            service::conversations(state(ctx)?, caller(ctx)?, unread_only, args)
                .await?
                .into_page(Conversation),
        )
    }

    /// One thread. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Conversation> {
        let id = parse_id(&id, "id")?;
        Ok(Conversation(
            service::conversation(state(ctx)?, caller(ctx)?, id).await?,
        ))
    }

    /// Messaging preferences.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn messaging_settings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<MessagingSettings> {
        Ok(service::read_settings(state(ctx)?, caller(ctx)?)
            .await?
            .into())
    }

    /// The automatic messages' bodies (the business's own, or the defaults).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn message_templates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<MessageTemplate>> {
        Ok(service::list_templates(state(ctx)?, caller(ctx)?)
            .await?
            .into_iter()
            .map(template)
            .collect())
    }

    /// Automatic messages sent by email (customers without a mobile number), newest
    /// first.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn emails(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<email::Email>> {
        let args = PageArgs::of(ctx, first, after, last, before);
        Ok(email::list(state(ctx)?, caller(ctx)?.tenant_id, args)
            .await?
            .into_page(email::Email))
    }

    /// This month's texts against the plan's quota.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn sms_usage(&self, ctx: &Context<'_>) -> async_graphql::Result<SmsUsage> {
        let (used, quota, delivering) = service::usage(state(ctx)?, caller(ctx)?).await?;
        Ok(SmsUsage {
            month_start: service::month_start(crate::util::now()),
            used: used as i64,
            quota,
            delivering,
        })
    }
}

/// Messaging mutations (owners and managers).
#[derive(Default)]
pub struct MessagingMutation;

/// Messaging mutations (owners and managers).
#[Object]
impl MessagingMutation {
    /// Texts a customer (through the job queue). User errors: `INVALID_INPUT`,
    /// `NOT_FOUND`, `INVALID_PHONE`, `RECIPIENT_OPTED_OUT`, `QUOTA_EXCEEDED`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> async_graphql::Result<SendMessagePayload> {
        let conversation_id = input
            .conversation_id
            .as_ref()
            .map(|i| parse_id(i, "conversationId"))
            .transpose()?;
        let customer_id = input
            .customer_id
            .as_ref()
            .map(|i| parse_id(i, "customerId"))
            .transpose()?;
        let o = service::send_manual(
            state(ctx)?,
            caller(ctx)?,
            service::SendInput {
                conversation_id,
                customer_id,
                body: input.body,
            },
        )
        .await?;
        Ok(match o {
            Ok(m) => SendMessagePayload {
                message: Some(Message(m)),
                user_errors: Vec::new(),
            },
            Err(e) => SendMessagePayload {
                message: None,
                user_errors: e,
            },
        })
    }

    /// Texts the booking's customer that the staff member is on the way (the
    /// `ON_THE_WAY` template; sent now, whatever the quiet hours). Owners, managers, and
    /// technicians for their own bookings. Errors: `NOT_FOUND`. User errors:
    /// `INVALID_STATUS_TRANSITION`, `INVALID_PHONE`.
    #[graphql(guard = "RoleGuard::new(USERS)")]
    async fn notify_on_the_way(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> async_graphql::Result<OnTheWayPayload> {
        let id = parse_id(&booking_id, "bookingId")?;
        Ok(
            match service::notify_on_the_way(state(ctx)?, caller(ctx)?, id).await? {
                Ok(()) => OnTheWayPayload {
                    queued: true,
                    user_errors: Vec::new(),
                },
                Err(e) => OnTheWayPayload {
                    queued: false,
                    user_errors: e,
                },
            },
        )
    }

    /// Marks a thread read. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Conversation> {
        let id = parse_id(&id, "id")?;
        Ok(Conversation(
            service::mark_read(state(ctx)?, caller(ctx)?, id).await?,
        ))
    }

    /// Changes messaging preferences. User errors: `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn update_messaging_settings(
        &self,
        ctx: &Context<'_>,
        input: MessagingSettingsInput,
    ) -> async_graphql::Result<MessagingSettingsPayload> {
        let o = service::update_settings(
            state(ctx)?,
            caller(ctx)?,
            service::SettingsInput {
                automatic: input.automatic_messages,
                quiet_start: input.quiet_hours_start,
                quiet_end: input.quiet_hours_end,
                reminder_hours: input.reminder_hours,
                help_text: input.help_text,
            },
        )
        .await?;
        Ok(match o {
            Ok(s) => MessagingSettingsPayload {
                settings: Some(s.into()),
                user_errors: Vec::new(),
            },
            Err(e) => MessagingSettingsPayload {
                settings: None,
                user_errors: e,
            },
        })
    }

    /// Sets the body of an automatic message; without `body`, restores the default.
    /// User errors: `INVALID_INPUT` (unknown `{variable}`, length 1–1,000).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn set_message_template(
        &self,
        ctx: &Context<'_>,
        kind: MessageKind,
        body: Option<String>,
    ) -> async_graphql::Result<MessageTemplatePayload> {
        let o = service::set_template(state(ctx)?, caller(ctx)?, kind, body).await?;
        Ok(match o {
            Ok(t) => MessageTemplatePayload {
                template: Some(template(t)),
                user_errors: Vec::new(),
            },
            Err(e) => MessageTemplatePayload {
                template: None,
                user_errors: e,
            },
        })
    }
}

/// Messaging subscriptions.
#[derive(Default)]
pub struct MessagingSubscription;

#[Subscription]
impl MessagingSubscription {
    /// Texts received and sent and status changes in the caller's tenant, live, from
    /// every server instance. Owners and managers. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn conversation_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = ConversationEvent> + use<>> {
        let rc = caller(ctx)?.clone();
        let tenant = rc.tenant_id;
        Ok(state(ctx)?
            .events
            .stream_for(&rc)
            .filter_map(|ev| {
                futures::future::ready(match ev {
                    DomainEvent::Message(m) => Some(m),
                    _ => None,
                })
            })
            .filter_map(move |ev| {
                // The envelope already passed the tenant wall; the row must agree.
                let ok = ev.message.tenant_id == tenant;
                futures::future::ready(ok.then(|| ConversationEvent {
                    kind: ev.kind,
                    conversation_id: ID(ev.conversation_id.to_string()),
                    message: Message(*ev.message),
                }))
            }))
    }
}
