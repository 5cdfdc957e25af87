//! The event bus: domain events fan out to GraphQL subscriptions; control signals
//! (provider-cache invalidation) travel on a channel of their own.
//!
//! Every domain event travels in one [`Envelope`] — its tenant, its [`Audience`] (who in
//! the tenant may see it) and a tagged [`DomainEvent`] — and every subscription resolver
//! reads the bus through one filtered stream ([`EventBus::stream_for`]) that applies the
//! tenant wall and the audience (role, technician scope) before the resolver sees
//! anything.
//!
//! In-process (`tokio::sync::broadcast`) by default. With Redis configured, envelopes are
//! published on a Redis pub/sub channel (`REDIS_EVENTS_CHANNEL`) and control signals on
//! `{channel}:control`; every server instance (this one included) receives them from
//! Redis and forwards them to its local subscribers, so clients connected to any instance
//! see every change and every instance drops stale provider caches.

use std::time::Duration;

use async_graphql::Enum;
use entities::booking;
use futures::{Stream, StreamExt};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::context::{RequestCtx, Role};

/// What happened to a booking.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookingEventKind {
    /// A booking was created.
    Created,
    /// A booking changed (status, time, details).
    Updated,
    /// A booking was canceled.
    Canceled,
}

/// A change of a booking. Subscribers load the booking itself, scoped to their tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingChanged {
    /// The booking.
    pub booking_id: Uuid,
    /// Its staff member.
    pub staff_member_id: Uuid,
    /// What happened.
    pub kind: BookingEventKind,
}

/// What happened in a text conversation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageEventKind {
    /// A customer's text arrived.
    MessageReceived,
    /// A text to the customer was queued (manual or automatic).
    MessageSent,
    /// A text's delivery status changed.
    StatusChanged,
}

/// A change in a conversation, with the message as it is after the change (so one event
/// reaching ten thousand subscribers costs no database read per subscriber).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The thread.
    pub conversation_id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// What happened.
    pub kind: MessageEventKind,
    /// The message row after the change.
    pub message: Box<entities::message::Model>,
}

/// Everything a domain announces. Tagged (`{"type": "Booking", "data": {…}}`) so that
/// variants never get confused; domains add variants as they arrive (`Message`, `Call`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    /// A booking was created, changed or canceled.
    Booking(BookingChanged),
    /// A text arrived, was sent, or changed status.
    Message(MessageEvent),
    /// A staff member's route of a day was applied (`applyRoute`, `applyDispatch`).
    Route(RouteChanged),
    /// A phone-assistant call started, took a turn, or ended.
    Call(CallChanged),
}

/// What happened to a phone-assistant call.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallEventKind {
    /// The call reached the assistant (its row was created).
    CallStarted,
    /// The call log changed: a turn was taken, a tool ran, a voicemail or the summary
    /// arrived.
    CallUpdated,
    /// Twilio reported the call finished (status callback).
    CallEnded,
}

/// A change to a call, with the call row as it is after the change (so subscribers
/// need no database read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallChanged {
    /// What happened.
    pub kind: CallEventKind,
    /// The call row after the change.
    pub call: Box<entities::call::Model>,
}

/// A staff member's route of one local date was (re)planned and applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteChanged {
    /// The staff member.
    pub staff_member_id: Uuid,
    /// The local date (tenant timezone).
    pub date: chrono::NaiveDate,
}

/// Who in the tenant may receive an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope")]
pub enum Audience {
    /// Owners and managers.
    Managers,
    /// Owners, managers, and technicians linked to this staff member.
    StaffMember {
        /// The staff member concerned.
        staff_member_id: Uuid,
    },
}

impl Audience {
    /// Whether `rc` may receive an event for this audience: owners and managers get
    /// everything of their tenant, technicians only what concerns their staff member;
    /// agents and anonymous callers get nothing.
    pub fn admits(&self, rc: &RequestCtx) -> bool {
        match rc.role() {
            Some(Role::Owner | Role::Manager) => true,
            Some(Role::Technician) => match self {
                Audience::Managers => false,
                Audience::StaffMember { staff_member_id } => {
                    rc.technician_scope() == Some(Some(*staff_member_id))
                }
            },
            None => false,
        }
    }
}

/// One event as carried on the bus (and on the Redis channel, as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The tenant it happened in; only that tenant's subscribers receive it.
    pub tenant_id: Uuid,
    /// Who in the tenant may receive it.
    pub audience: Audience,
    /// What happened.
    pub event: DomainEvent,
}

impl Envelope {
    /// The envelope of a booking change: seen by managers and by the booking's staff
    /// member.
    pub fn booking(b: &booking::Model, kind: BookingEventKind) -> Envelope {
        Envelope {
            tenant_id: b.tenant_id,
            audience: Audience::StaffMember {
                staff_member_id: b.staff_member_id,
            },
            event: DomainEvent::Booking(BookingChanged {
                booking_id: b.id,
                staff_member_id: b.staff_member_id,
                kind,
            }),
        }
    }
}

impl Envelope {
    /// The envelope of an applied route: seen by managers and by the staff member.
    pub fn route(tenant_id: Uuid, staff_member_id: Uuid, date: chrono::NaiveDate) -> Envelope {
        Envelope {
            tenant_id,
            audience: Audience::StaffMember { staff_member_id },
            event: DomainEvent::Route(RouteChanged {
                staff_member_id,
                date,
            }),
        }
    }
}

impl Envelope {
    /// The envelope of a message event: seen by owners and managers, carrying the row
    /// as it is after the change.
    pub fn message(m: &entities::message::Model, kind: MessageEventKind) -> Envelope {
        Envelope {
            tenant_id: m.tenant_id,
            audience: Audience::Managers,
            event: DomainEvent::Message(MessageEvent {
                conversation_id: m.conversation_id,
                message_id: m.id,
                kind,
                message: Box::new(m.clone()),
            }),
        }
    }
}

impl Envelope {
    /// The envelope of a call event: seen by owners and managers, carrying the row as
    /// it is after the change.
    pub fn call(c: &entities::call::Model, kind: CallEventKind) -> Envelope {
        Envelope {
            tenant_id: c.tenant_id,
            audience: Audience::Managers,
            event: DomainEvent::Call(CallChanged {
                kind,
                call: Box::new(c.clone()),
            }),
        }
    }
}

/// Credentials that stopped being valid before their expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Revoked {
    /// Every session of a user (log-out, removal, role change).
    User {
        /// The user.
        user_id: Uuid,
    },
    /// An agent key.
    AgentKey {
        /// The key.
        key_id: Uuid,
    },
}

/// Infrastructure signals between instances, on their own channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal")]
pub enum ControlSignal {
    /// A tenant's plugin configuration (or what its providers are built from) changed:
    /// drop its cached providers.
    PluginsChanged {
        /// The tenant.
        tenant_id: Uuid,
    },
    /// Credentials were revoked: open WebSocket connections using them close (4403).
    CredentialsRevoked {
        /// The tenant.
        tenant_id: Uuid,
        /// Whose.
        revoked: Revoked,
    },
}

/// Publishes and fans out [`Envelope`]s and [`ControlSignal`]s.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Envelope>,
    control: broadcast::Sender<ControlSignal>,
    redis: Option<RedisChannels>,
}

#[derive(Clone)]
struct RedisChannels {
    manager: redis::aio::ConnectionManager,
    events: String,
    control: String,
}

/// Buffer per subscriber; a subscriber lagging further behind skips events.
const CAPACITY: usize = 1024;

/// The control channel beside events channel `events`.
pub fn control_channel(events: &str) -> String {
    format!("{events}:control")
}

impl EventBus {
    /// An in-process bus.
    pub fn in_process() -> EventBus {
        let (local, _) = broadcast::channel(CAPACITY);
        let (control, _) = broadcast::channel(CAPACITY);
        EventBus {
            local,
            control,
            redis: None,
        }
    }

    /// A bus shared through Redis pub/sub on `channel` (events) and
    /// [`control_channel`]`(channel)`. Spawns the listener task that forwards Redis
    /// messages to local subscribers (reconnecting with a 1 s pause when the connection
    /// drops).
    pub async fn redis(url: &str, channel: &str) -> Result<EventBus, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = client.get_connection_manager().await?;
        let (local, _) = broadcast::channel(CAPACITY);
        let (control, _) = broadcast::channel(CAPACITY);
        let channels = RedisChannels {
            manager,
            events: channel.to_string(),
            control: control_channel(channel),
        };
        // Subscribe before returning so that nothing published after this point is missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channels.events).await?;
        pubsub.subscribe(&channels.control).await?;
        let (forward, forward_control) = (local.clone(), control.clone());
        let (events_chan, control_chan) = (channels.events.clone(), channels.control.clone());
        tokio::spawn(async move {
            let mut pubsub = Some(pubsub);
            loop {
                if let Some(ps) = pubsub.take() {
                    let mut messages = ps.into_on_message();
                    while let Some(msg) = messages.next().await {
                        let payload: String = match msg.get_payload() {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(error = %e, "unreadable bus payload");
                                continue;
                            }
                        };
                        if msg.get_channel_name() == control_chan {
                            match serde_json::from_str::<ControlSignal>(&payload) {
                                Ok(s) => {
                                    let _ = forward_control.send(s);
                                }
                                Err(e) => tracing::warn!(error = %e, "malformed control signal"),
                            }
                        } else {
                            match serde_json::from_str::<Envelope>(&payload) {
                                Ok(ev) => {
                                    let _ = forward.send(ev);
                                }
                                Err(e) => tracing::warn!(error = %e, "malformed event on bus"),
                            }
                        }
                    }
                    tracing::warn!("redis event subscription ended; reconnecting");
                    // Signals may have been missed while disconnected: tell listeners to
                    // drop everything they cache.
                    let _ = forward_control.send(ControlSignal::PluginsChanged {
                        tenant_id: Uuid::nil(),
                    });
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                match client.get_async_pubsub().await {
                    Ok(mut ps) => {
                        let subscribed = async {
                            ps.subscribe(&events_chan).await?;
                            ps.subscribe(&control_chan).await
                        };
                        match subscribed.await {
                            Ok(()) => pubsub = Some(ps),
                            Err(e) => tracing::warn!(error = %e, "redis subscribe failed"),
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "redis reconnect failed"),
                }
            }
        });
        Ok(EventBus {
            local,
            control,
            redis: Some(channels),
        })
    }

    /// Publishes an event. Delivery is best effort (subscriptions are live views; the
    /// database is the record): a Redis failure is logged, not returned.
    pub async fn publish(&self, envelope: Envelope) {
        match &self.redis {
            None => {
                let _ = self.local.send(envelope);
            }
            Some(r) => {
                let channel = r.events.clone();
                self.send(&channel, &envelope).await;
            }
        }
    }

    /// Publishes a control signal to every instance (this one included). Best effort,
    /// like [`EventBus::publish`]; caches that rely on it keep a TTL as a net.
    pub async fn signal(&self, signal: ControlSignal) {
        match &self.redis {
            None => {
                let _ = self.control.send(signal);
            }
            Some(r) => {
                let channel = r.control.clone();
                self.send(&channel, &signal).await;
            }
        }
    }

    /// Announces that `tenant_id`'s plugin configuration changed.
    pub async fn publish_plugin_change(&self, tenant_id: Uuid) {
        self.signal(ControlSignal::PluginsChanged { tenant_id })
            .await;
    }

    /// A receiver of control signals. A `PluginsChanged` for the nil tenant means "drop
    /// everything" (signals may have been missed).
    pub fn subscribe_control(&self) -> broadcast::Receiver<ControlSignal> {
        self.control.subscribe()
    }

    async fn send<T: Serialize>(&self, channel: &str, message: &T) {
        let Some(r) = &self.redis else {
            return;
        };
        let payload = match serde_json::to_string(message) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "event serialisation failed");
                return;
            }
        };
        let mut conn = r.manager.clone();
        let sent: Result<i64, _> = conn.publish(channel, payload).await;
        if let Err(e) = sent {
            tracing::error!(error = %e, "publishing to redis failed");
        }
    }

    /// A receiver of every envelope published from now on, unfiltered (infrastructure
    /// only; subscriptions use [`EventBus::stream_for`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.local.subscribe()
    }

    /// The events `rc` may see, from now on: its tenant's envelopes whose audience admits
    /// it ([`Audience::admits`]). A subscriber that lags more than the buffer behind skips
    /// events (logged). Every subscription resolver starts here.
    pub fn stream_for(&self, rc: &RequestCtx) -> impl Stream<Item = DomainEvent> + use<> {
        let rx = self.local.subscribe();
        let rc = rc.clone();
        futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => return Some((ev, rx)),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "subscriber lagged; events skipped");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .filter_map(move |env| {
            let visible = env.tenant_id == rc.tenant_id && env.audience.admits(&rc);
            futures::future::ready(visible.then_some(env.event))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::context::Principal;

    fn user(tenant: Uuid, role: Role, staff: Option<Uuid>) -> RequestCtx {
        RequestCtx {
            tenant_id: tenant,
            principal: Principal::User {
                user_id: Uuid::now_v7(),
                role,
                staff_member_id: staff,
            },
            request_id: String::new(),
        }
    }

    #[test]
    fn envelopes_are_tagged_json() {
        let env = Envelope {
            tenant_id: Uuid::nil(),
            audience: Audience::StaffMember {
                staff_member_id: Uuid::nil(),
            },
            event: DomainEvent::Booking(BookingChanged {
                booking_id: Uuid::nil(),
                staff_member_id: Uuid::nil(),
                kind: BookingEventKind::Created,
            }),
        };
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["event"]["type"], "Booking");
        assert_eq!(json["event"]["data"]["kind"], "Created");
        assert_eq!(json["audience"]["scope"], "StaffMember");
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, env);
        let signal = serde_json::to_string(&ControlSignal::PluginsChanged {
            tenant_id: Uuid::nil(),
        })
        .unwrap();
        assert!(signal.contains("\"signal\":\"PluginsChanged\""), "{signal}");
        // An envelope is not a control signal and vice versa.
        assert!(
            serde_json::from_str::<ControlSignal>(&serde_json::to_string(&env).unwrap()).is_err()
        );
        assert!(serde_json::from_str::<Envelope>(&signal).is_err());
    }

    #[test]
    fn audience_rules() {
        let t = Uuid::now_v7();
        let mine = Uuid::now_v7();
        let other = Uuid::now_v7();
        let staff = Audience::StaffMember {
            staff_member_id: mine,
        };
        assert!(staff.admits(&user(t, Role::Owner, None)));
        assert!(staff.admits(&user(t, Role::Manager, None)));
        assert!(staff.admits(&user(t, Role::Technician, Some(mine))));
        assert!(!staff.admits(&user(t, Role::Technician, Some(other))));
        assert!(!staff.admits(&user(t, Role::Technician, None)));
        assert!(!Audience::Managers.admits(&user(t, Role::Technician, Some(mine))));
        assert!(Audience::Managers.admits(&user(t, Role::Manager, None)));
        let agent = RequestCtx {
            tenant_id: t,
            principal: Principal::Agent {
                key_id: Uuid::now_v7(),
            },
            request_id: String::new(),
        };
        assert!(!staff.admits(&agent));
    }

    #[tokio::test]
    async fn streams_filter_by_tenant_and_audience() {
        let bus = EventBus::in_process();
        let (t1, t2) = (Uuid::now_v7(), Uuid::now_v7());
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        let tech = user(t1, Role::Technician, Some(mine));
        let mut tech_stream = Box::pin(bus.stream_for(&tech));
        let mut owner_stream = Box::pin(bus.stream_for(&user(t1, Role::Owner, None)));
        let ev = |tenant, staff, kind| Envelope {
            tenant_id: tenant,
            audience: Audience::StaffMember {
                staff_member_id: staff,
            },
            event: DomainEvent::Booking(BookingChanged {
                booking_id: Uuid::now_v7(),
                staff_member_id: staff,
                kind,
            }),
        };
        bus.publish(ev(t2, mine, BookingEventKind::Created)).await; // other tenant
        bus.publish(ev(t1, other, BookingEventKind::Updated)).await; // not the tech's
        bus.publish(ev(t1, mine, BookingEventKind::Canceled)).await;
        let Some(DomainEvent::Booking(b)) = tech_stream.next().await else {
            panic!("expected a booking event")
        };
        assert_eq!(b.kind, BookingEventKind::Canceled);
        let Some(DomainEvent::Booking(b)) = owner_stream.next().await else {
            panic!("expected a booking event")
        };
        assert_eq!(b.kind, BookingEventKind::Updated);
        let Some(DomainEvent::Booking(b)) = owner_stream.next().await else {
            panic!("expected a booking event")
        };
        assert_eq!(b.kind, BookingEventKind::Canceled);
    }
}
