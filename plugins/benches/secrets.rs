//! Cost of sealing and opening a plugin's secrets (AES-256-GCM), as done on every
//! `configurePlugin` and on every registry rebuild. `cargo bench -p plugins`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use plugins::secrets::KeyRing;
use serde_json::{Map, Value, json};

fn bench(c: &mut Criterion) {
    let ring = KeyRing::parse("k1:c2VydmljZWdyYXBoLXRlc3QtZW5jcnlwdGlvbi1rZXk=").unwrap();
    let mut secrets = Map::new();
    secrets.insert(
        "webhookSigningSecret".into(),
        json!("whsec_0123456789abcdefghijklmnopqrstuvwxyzABCDEF"),
    );
    secrets.insert(
        "apiKey".into(),
        Value::String("sk_live_".to_string() + &"x".repeat(99)),
    );
    let aad = b"plugin_configs|0192f0c4-0000-7000-8000-000000000000|stripe";
    let sealed = ring.seal_json(&secrets, aad).unwrap();
    c.bench_function("seal_json (2 secrets)", |b| {
        b.iter(|| ring.seal_json(&secrets, aad).unwrap())
    });
    c.bench_function("open_json (2 secrets)", |b| {
        b.iter(|| ring.open_json(&sealed, aad).unwrap())
    });
    c.bench_function("KeyRing::parse (2 keys)", |b| {
        b.iter(|| {
            KeyRing::parse(
                "new:WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=,k1:c2VydmljZWdyYXBoLXRlc3QtZW5jcnlwdGlvbi1rZXk=",
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
