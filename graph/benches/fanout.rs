//! Event fan-out on one instance: one message event reaching N `conversationEvents`
//! subscriptions through the bus (`EventBus::stream_for`: tenant wall, audience, the
//! resolver's conversion of the carried message row). WebSocket framing and the
//! selection's JSON are not in this figure; `tests/load/messaging.py` measures end to
//! end.
//!
//! Run: `cargo bench -p graph --bench fanout`. Target from issue 10: one event to 10,000
//! open subscriptions on one instance, all delivered ≤ 100 ms.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use entities::{MessageDirection, MessageKind, MessageStatus, message};
use futures::StreamExt;
use graph::context::{Principal, RequestCtx, Role};
use graph::events::{Audience, DomainEvent, Envelope, EventBus, MessageEvent, MessageEventKind};
use tokio::sync::Notify;
use uuid::Uuid;

const SUBSCRIPTIONS: usize = 10_000;

fn event(tenant: Uuid) -> Envelope {
    let now = chrono::Utc::now();
    let m = message::Model {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        conversation_id: Uuid::now_v7(),
        direction: MessageDirection::Inbound,
        body: "Running 10 minutes late, sorry!".into(),
        status: MessageStatus::Received,
        kind: MessageKind::Manual,
        provider_sid: Some("SM0123456789abcdef0123456789abcdef".into()),
        error_code: None,
        booking_id: None,
        job_id: None,
        sent_by_user_id: None,
        media_urls: None,
        send_started_at: None,
        created_at: now,
        updated_at: now,
    };
    Envelope {
        tenant_id: tenant,
        audience: Audience::Managers,
        event: DomainEvent::Message(MessageEvent {
            conversation_id: m.conversation_id,
            message_id: m.id,
            kind: MessageEventKind::MessageReceived,
            message: Box::new(m),
        }),
    }
}

fn fanout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bus = EventBus::in_process();
    let tenant = Uuid::now_v7();
    let got = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Notify::new());
    rt.block_on(async {
        for _ in 0..SUBSCRIPTIONS {
            let rc = RequestCtx {
                tenant_id: tenant,
                principal: Principal::User {
                    user_id: Uuid::now_v7(),
                    role: Role::Manager,
                    staff_member_id: None,
                },
                request_id: String::new(),
            };
            let mut stream = Box::pin(bus.stream_for(&rc));
            let (got, all) = (got.clone(), all.clone());
            tokio::spawn(async move {
                while let Some(ev) = stream.next().await {
                    if let DomainEvent::Message(m) = ev {
                        // What the resolver does with it: take the carried row.
                        std::hint::black_box(*m.message);
                        if got.fetch_add(1, Ordering::AcqRel) + 1 == SUBSCRIPTIONS {
                            all.notify_one();
                        }
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    c.bench_function("one message event to 10,000 subscriptions", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    got.store(0, Ordering::Release);
                    let t0 = Instant::now();
                    bus.publish(event(tenant)).await;
                    all.notified().await;
                    total += t0.elapsed();
                }
                total
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = fanout
}
criterion_main!(benches);
