//! Shared by the provider test binaries: a process-wide capture of every tracing event
//! and span field as text, to check that logs never carry secrets or message content.
//! One global subscriber (not a per-thread one): tracing caches each callsite's interest
//! globally, so a per-thread subscriber misses events whose callsites another test
//! thread registered first.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

/// Captured log lines.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

struct FieldText(String);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Captured {
    fn push(&self, text: String) {
        self.0.lock().unwrap().push(text);
    }

    /// Everything captured so far, one event or span per line.
    pub fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = FieldText(span.metadata().name().to_owned() + " ");
        span.record(&mut text);
        self.push(text.0);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = FieldText(String::new());
        values.record(&mut text);
        self.push(text.0);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = FieldText(String::new());
        event.record(&mut text);
        self.push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The binary-wide log capture, installed as the global subscriber on first use.
pub fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        tracing::subscriber::set_global_default(captured.clone())
            .expect("no other global subscriber in this test binary");
        captured
    })
}
