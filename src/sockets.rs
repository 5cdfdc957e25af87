//! GraphQL over WebSocket (`GET /graphql/ws`, graphql-transport-ws and the legacy
//! graphql-ws), with the socket held to the same rules as HTTP:
//!
//! - credentials are checked in `connection_init`; a refusal closes with 4403;
//! - a socket whose `connection_init` does not arrive within
//!   [`SocketLimits::init_timeout`] (10 s) closes with 4408 ("Connection initialisation
//!   timeout");
//! - a user's socket closes with 4401 when the access token expires, and with 4403 when
//!   the user logs out or the agent key is revoked — on every instance, through the
//!   event bus's control channel;
//! - at most [`SocketLimits::per_client`] sockets per client address (more: 429 before
//!   the upgrade), [`SocketLimits::per_tenant`] per tenant (more: 4429), and
//!   [`SocketLimits::streams`] running operations per socket (more: 4429);
//! - messages larger than `MAX_BODY_BYTES` are refused by the WebSocket layer; every
//!   operation passes the schema's admission (rate limits, root fields), depth,
//!   complexity and timeout, as over HTTP.
//!
//! Close codes are those of the graphql-transport-ws protocol
//! (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use graph::events::{ControlSignal, Revoked};
use graph::{Principal, Session};
use uuid::Uuid;

use crate::app_state::AppState;
use crate::http::{AuthFailure, authenticate};

/// Caps on sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Open sockets per client address (`WS_MAX_PER_CLIENT`, default 20).
    pub per_client: usize,
    /// Open, initialised sockets per tenant (`WS_MAX_PER_TENANT`, default 500).
    pub per_tenant: usize,
    /// Operations running at once on one socket (`WS_MAX_STREAMS`, default 20).
    pub streams: usize,
    /// How long a socket may stay open without `connection_init` (`WS_INIT_TIMEOUT_SECS`,
    /// default 10).
    pub init_timeout: Duration,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            per_client: 20,
            per_tenant: 500,
            streams: 20,
            init_timeout: Duration::from_secs(10),
        }
    }
}

/// Counts open sockets by key (in this process: a cap per instance).
#[derive(Default)]
pub struct SocketCounter {
    open: Mutex<HashMap<String, usize>>,
}

/// Holds one counted socket; dropping it releases the count.
pub struct SocketSlot {
    counter: Arc<SocketCounter>,
    key: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counter.open.lock()
            && let Some(n) = open.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl SocketCounter {
    /// A slot under `key` if fewer than `max` are open.
    pub fn take(self: &Arc<Self>, key: String, max: usize) -> Option<SocketSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            counter: self.clone(),
            key,
        })
    }
}

/// A share of a process-wide gauge (`/metrics`) held by one socket: what it adds is
/// taken back when it is dropped, however the socket ends.
struct Gauged(i64, &'static str);

impl Gauged {
    fn new(name: &'static str, n: i64) -> Gauged {
        let mut g = Gauged(0, name);
        g.add(n);
        g
    }

    /// Adds `d` (never below zero in total for this socket).
    fn add(&mut self, d: i64) {
        let d = d.max(-self.0);
        self.0 += d;
        metrics::gauge!(self.1).increment(d as f64);
    }
}

impl Drop for Gauged {
    fn drop(&mut self) {
        metrics::gauge!(self.1).decrement(self.0 as f64);
    }
}

/// What `connection_init` established.
struct Established {
    tenant_id: Uuid,
    principal: Principal,
    expires_at: Option<i64>,
    _slot: SocketSlot,
}

impl Established {
    fn revoked_by(&self, signal: &ControlSignal) -> bool {
        let ControlSignal::CredentialsRevoked { tenant_id, revoked } = signal else {
            return false;
        };
        if *tenant_id != self.tenant_id {
            return false;
        }
        match (revoked, &self.principal) {
            (Revoked::User { user_id }, Principal::User { user_id: mine, .. }) => user_id == mine,
            (Revoked::AgentKey { key_id }, Principal::Agent { key_id: mine }) => key_id == mine,
            _ => false,
        }
    }
}

#[derive(Default)]
struct Shared {
    established: Option<Established>,
    refusal: Option<(u16, String)>,
    too_many_streams: bool,
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }))
}

/// The `type` of a client message, for stream counting.
fn message_type(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()?
        .get("type")?
        .as_str()
        .map(str::to_string)
}

/// Serves one upgraded socket until it closes (see the module documentation).
pub async fn serve(
    app: Arc<AppState>,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    client_ip: IpAddr,
) {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (mut sink, stream) = socket.split();
    let limits = app.socket_limits;
    let counting = shared.clone();
    let _connection = Gauged::new("websocket_connections_open", 1);
    let mut active = Gauged::new("graphql_subscriptions_open", 0);
    let input = stream
        .take_while(|m| futures::future::ready(m.is_ok()))
        .filter_map(|m| {
            futures::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        })
        .take_while(move |bytes| {
            match message_type(bytes).as_deref() {
                Some("subscribe") | Some("start") => active.add(1),
                Some("complete") | Some("stop") => active.add(-1),
                _ => {}
            }
            let over = active.0 > limits.streams as i64;
            if over && let Ok(mut s) = counting.lock() {
                s.too_many_streams = true;
            }
            futures::future::ready(!over)
        });
    let init_app = app.clone();
    let init_shared = shared.clone();
    let ws = GqlWebSocket::new(app.schema.clone(), input, protocol).on_connection_init(
        move |payload| async move {
            let refuse = |code: u16, msg: &str| {
                if let Ok(mut s) = init_shared.lock() {
                    s.refusal = Some((code, msg.to_string()));
                }
                async_graphql::Error::new(msg)
            };
            let rid = Uuid::new_v4().to_string();
            let token = payload
                .get("Authorization")
                .or_else(|| payload.get("authorization"))
                .and_then(|v| v.as_str())
                .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
            let Some(token) = token else {
                return Err(refuse(
                    4403,
                    "Forbidden: connection_init needs an Authorization token",
                ));
            };
            let (rc, expires_at) = authenticate(&init_app.graph, &token, &rid)
                .await
                .map_err(|AuthFailure(m)| refuse(4403, m))?;
            let Some(slot) = init_app
                .socket_counter
                .take(format!("tenant:{}", rc.tenant_id), limits.per_tenant)
            else {
                return Err(refuse(4429, "Too many connections for this business"));
            };
            if let Ok(mut s) = init_shared.lock() {
                s.established = Some(Established {
                    tenant_id: rc.tenant_id,
                    principal: rc.principal.clone(),
                    expires_at,
                    _slot: slot,
                });
            }
            let mut data = Data::default();
            data.insert(Session {
                auth: Some(rc),
                request_id: rid,
                client_ip: Some(client_ip),
            });
            data.insert(graph::loaders::loaders(init_app.graph.db.clone()));
            Ok(data)
        },
    );
    futures::pin_mut!(ws);
    let mut shutdown = app.shutdown.clone();
    let mut shutdown_open = true;
    let mut control = app.graph.events.subscribe_control();
    let mut control_open = true;
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    futures::pin_mut!(init_deadline);
    loop {
        let (initialised, expires_at) = match shared.lock() {
            Ok(s) => (
                s.established.is_some(),
                s.established.as_ref().and_then(|e| e.expires_at),
            ),
            Err(_) => (false, None),
        };
        let until_expiry = expires_at.map(|exp| {
            let left = exp - chrono::Utc::now().timestamp();
            Duration::from_secs(left.max(0) as u64)
        });
        let expiry = tokio::time::sleep(until_expiry.unwrap_or(Duration::from_secs(3600)));
        let out = tokio::select! {
            msg = ws.next() => match msg {
                Some(WsMessage::Text(t)) => Some(Message::Text(t.into())),
                Some(WsMessage::Close(code, reason)) => {
                    let refusal = shared.lock().ok().and_then(|mut s| s.refusal.take());
                    let (code, reason) = refusal.unwrap_or((code, reason));
                    let _ = sink.send(close(code, &reason)).await;
                    break;
                }
                None => {
                    if shared.lock().is_ok_and(|s| s.too_many_streams) {
                        let _ = sink.send(close(4429, "Too many operations on this connection")).await;
                    }
                    break;
                }
            },
            // 1012 Service Restart (IANA WebSocket close codes): reconnect elsewhere.
            changed = shutdown.changed(), if shutdown_open => {
                let stopping = changed.is_ok() && *shutdown.borrow_and_update();
                if stopping {
                    let _ = sink.send(close(1012, "Service restarting")).await;
                    break;
                }
                shutdown_open = changed.is_ok();
                None
            }
            () = &mut init_deadline, if !initialised => {
                let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            () = expiry, if until_expiry.is_some() => {
                let _ = sink.send(close(4401, "Unauthorized: the access token expired")).await;
                break;
            }
            signal = control.recv(), if control_open => match signal {
                Ok(s) if shared.lock().is_ok_and(|sh| sh.established.as_ref().is_some_and(|e| e.revoked_by(&s))) => {
                    let _ = sink.send(close(4403, "Forbidden: the credentials were revoked")).await;
                    break;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    control_open = false;
                    None
                }
                _ => None,
            },
        };
        if let Some(m) = out
            && sink.send(m).await.is_err()
        {
            break;
        }
    }
}

/// The slot of one socket from `ip`, or `None` when that address has too many open.
pub fn client_slot(app: &AppState, ip: IpAddr) -> Option<SocketSlot> {
    app.socket_counter.take(
        format!("ip:{}", graph::admission::ip_key(ip)),
        app.socket_limits.per_client,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counter_caps_and_releases() {
        let c = Arc::new(SocketCounter::default());
        let a = c.take("k".into(), 2).unwrap();
        let _b = c.take("k".into(), 2).unwrap();
        assert!(c.take("k".into(), 2).is_none());
        assert!(c.take("other".into(), 2).is_some());
        drop(a);
        assert!(c.take("k".into(), 2).is_some());
    }

    #[test]
    fn message_types() {
        assert_eq!(
            message_type(br#"{"type":"subscribe","id":"1"}"#).as_deref(),
            Some("subscribe")
        );
        assert_eq!(message_type(b"not json"), None);
    }
}
