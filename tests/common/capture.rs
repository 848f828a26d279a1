//! A tracing layer that keeps every event, for tests of what is logged:
//! its target, level, the thread that wrote it and its fields as text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// One captured event.
#[derive(Debug, Clone)]
pub struct Record {
    pub target: String,
    pub level: tracing::Level,
    /// Name of the thread that wrote it ("" if unnamed).
    pub thread: String,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// Field `name` as text (`message` for the event's message).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// The layer; clones share one list of records.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Record>>>);

impl Capture {
    /// The records so far, removed from the list.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Record {
            target: event.metadata().target().into(),
            level: *event.metadata().level(),
            thread: std::thread::current().name().unwrap_or("").into(),
            fields,
        });
    }
}
