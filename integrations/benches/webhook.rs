//! Cost of verifying a Stripe webhook signature (HMAC-SHA256 over `t.payload`) and of
//! parsing the event, for a 3 KB event. `cargo bench -p integrations`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use integrations::stripe::webhook::{DEFAULT_TOLERANCE_SECS, parse_event, sign, verify};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let body = json!({
        "id": "evt_1PbenchAAAAAAAAAAAAAAAA", "object": "event", "created": 1_800_000_000,
        "type": "checkout.session.completed", "livemode": false, "account": "acct_1Bench",
        "data": {"object": {"id": "cs_test_bench", "object": "checkout.session",
            "payment_status": "paid", "customer": "cus_bench", "payment_intent": "pi_bench",
            "metadata": {"payment_id": "0192f0c4-0000-7000-8000-000000000000"},
            "custom_text": "x".repeat(2500)}}
    })
    .to_string();
    let t = 1_800_000_000;
    let header = sign(body.as_bytes(), "whsec_bench_secret", t);
    let rotating = format!(
        "{},{}",
        sign(body.as_bytes(), "whsec_old", t),
        header.split(',').nth(1).unwrap()
    );
    c.bench_function("verify (3 KB, 1 secret)", |b| {
        b.iter(|| {
            verify(
                body.as_bytes(),
                &header,
                &["whsec_bench_secret"],
                t,
                DEFAULT_TOLERANCE_SECS,
            )
            .unwrap()
        })
    });
    c.bench_function("verify (3 KB, 2 secrets × 2 v1, rotation)", |b| {
        b.iter(|| {
            verify(
                body.as_bytes(),
                &rotating,
                &["whsec_other", "whsec_bench_secret"],
                t,
                DEFAULT_TOLERANCE_SECS,
            )
            .unwrap()
        })
    });
    c.bench_function("parse_event (3 KB)", |b| {
        b.iter(|| parse_event(body.as_bytes()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
