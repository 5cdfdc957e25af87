//! The event bus: booking changes fan out to GraphQL subscriptions.
//!
//! In-process (`tokio::sync::broadcast`) by default. With Redis configured, events are
//! published on a Redis pub/sub channel and every server instance (this one included)
//! receives them from Redis and forwards them to its local subscribers, so clients
//! connected to any instance see every change.

use std::time::Duration;

use async_graphql::Enum;
use futures::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

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

/// One change, as carried on the bus. Subscribers load the booking itself, scoped to
/// their own tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Tenant of the booking.
    pub tenant_id: Uuid,
    /// The booking.
    pub booking_id: Uuid,
    /// Its staff member (technicians only receive their own).
    pub staff_member_id: Uuid,
    /// What happened.
    pub kind: BookingEventKind,
}

/// What travels on the bus (and on the Redis channel, as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum BusMessage {
    /// A booking change.
    Booking(DomainEvent),
    /// A tenant's plugin configuration changed: drop cached providers.
    PluginChanged {
        /// The tenant.
        plugin_change_tenant_id: Uuid,
    },
}

/// Publishes and fans out [`DomainEvent`]s, and plugin-configuration changes.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<DomainEvent>,
    plugins: broadcast::Sender<Uuid>,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

/// Buffer per subscriber; a subscriber lagging further behind skips events.
const CAPACITY: usize = 1024;

impl EventBus {
    /// An in-process bus.
    pub fn in_process() -> EventBus {
        let (local, _) = broadcast::channel(CAPACITY);
        let (plugins, _) = broadcast::channel(CAPACITY);
        EventBus {
            local,
            plugins,
            redis: None,
        }
    }

    /// A bus shared through Redis pub/sub on `channel`. Spawns the listener task that
    /// forwards Redis messages to local subscribers (reconnecting with a 1 s pause when
    /// the connection drops).
    pub async fn redis(url: &str, channel: &str) -> Result<EventBus, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = client.get_connection_manager().await?;
        let (local, _) = broadcast::channel(CAPACITY);
        let (plugins, _) = broadcast::channel(CAPACITY);
        let forward_plugins = plugins.clone();
        // Subscribe before returning so that no event published after this point is missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        let forward = local.clone();
        let chan = channel.to_string();
        tokio::spawn(async move {
            let mut pubsub = Some(pubsub);
            loop {
                if let Some(ps) = pubsub.take() {
                    let mut messages = ps.into_on_message();
                    while let Some(msg) = messages.next().await {
                        let payload: String = match msg.get_payload() {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(error = %e, "unreadable event payload");
                                continue;
                            }
                        };
                        match serde_json::from_str::<BusMessage>(&payload) {
                            Ok(BusMessage::Booking(ev)) => {
                                let _ = forward.send(ev);
                            }
                            Ok(BusMessage::PluginChanged {
                                plugin_change_tenant_id,
                            }) => {
                                let _ = forward_plugins.send(plugin_change_tenant_id);
                            }
                            Err(e) => tracing::warn!(error = %e, "malformed event on bus"),
                        }
                    }
                    tracing::warn!("redis event subscription ended; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                match client.get_async_pubsub().await {
                    Ok(mut ps) => match ps.subscribe(&chan).await {
                        Ok(()) => pubsub = Some(ps),
                        Err(e) => tracing::warn!(error = %e, "redis subscribe failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "redis reconnect failed"),
                }
            }
        });
        Ok(EventBus {
            local,
            plugins,
            redis: Some((manager, channel.to_string())),
        })
    }

    /// Publishes an event. Delivery is best effort (subscriptions are live views; the
    /// database is the record): a Redis failure is logged, not returned.
    pub async fn publish(&self, event: DomainEvent) {
        if self.redis.is_none() {
            let _ = self.local.send(event);
            return;
        }
        self.send(BusMessage::Booking(event)).await;
    }

    /// Announces that `tenant_id`'s plugin configuration changed, to every instance
    /// (this one included). Best effort, like [`EventBus::publish`]; the registry's TTL
    /// bounds staleness if a message is lost.
    pub async fn publish_plugin_change(&self, tenant_id: Uuid) {
        if self.redis.is_none() {
            let _ = self.plugins.send(tenant_id);
            return;
        }
        self.send(BusMessage::PluginChanged {
            plugin_change_tenant_id: tenant_id,
        })
        .await;
    }

    /// A receiver of plugin-configuration changes (tenant ids).
    pub fn subscribe_plugin_changes(&self) -> broadcast::Receiver<Uuid> {
        self.plugins.subscribe()
    }

    async fn send(&self, message: BusMessage) {
        let Some((manager, channel)) = &self.redis else {
            return;
        };
        let payload = match serde_json::to_string(&message) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "event serialisation failed");
                return;
            }
        };
        let mut conn = manager.clone();
        let sent: Result<i64, _> = conn.publish(channel, payload).await;
        if let Err(e) = sent {
            tracing::error!(error = %e, "publishing event to redis failed");
        }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.local.subscribe()
    }
}
