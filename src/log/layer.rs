//! The output half of a handler: formats accepted records and writes them to its sink.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use chrono::{DateTime, Local, TimeZone as _};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::record::RecordFields;
use super::sink::Sink;
use super::syslog::{self, Origin};
use super::time::{write_rfc3339, DateFormat, SecondCache};
use super::{json, text};

/// Formatting settings and destination of one active handler.
pub(crate) struct Output {
    pub sink: Sink,
    pub render: Render,
    pub datefmt: DateFormat,
    pub color: bool,
}

/// How a handler turns a record into bytes.
pub(crate) enum Render {
    /// caproto's text line.
    Text,
    /// JSON lines.
    Json,
    /// JSON lines plus `host`, `app` and `pid` (shipped to a collector).
    ShipJson(Origin),
    /// RFC 5424 syslog with this facility.
    Syslog(Origin, u8),
}

/// The layer in a handler slot; `None` while the slot is unused.
#[derive(Clone, Default)]
pub(crate) struct HandlerLayer {
    pub output: Option<Arc<Output>>,
}

/// Per-thread scratch buffers, reused across records.
#[derive(Default)]
struct Scratch {
    fields: RecordFields,
    time: String,
    line: String,
    second: SecondCache,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// Time (Unix seconds, nanoseconds) to stamp records with instead of the clock.
    static RECORD_TIME: Cell<Option<(i64, u32)>> = const { Cell::new(None) };
}

/// Runs `f` with every record emitted on this thread stamped `secs`/`nanos` (Unix time)
/// instead of the current time, as `caproto-shark` stamps records with their capture time.
/// JSON records then also carry `capture_time`, the same instant as Unix seconds with
/// microseconds. Costs nothing for records that no handler accepts.
pub fn with_record_time<R>(secs: i64, nanos: u32, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<(i64, u32)>);
    impl Drop for Reset {
        fn drop(&mut self) {
            RECORD_TIME.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(RECORD_TIME.with(|c| c.replace(Some((secs, nanos)))));
    f()
}

/// The time to stamp a record with: the override, or now.
fn record_time() -> (DateTime<Local>, Option<(i64, u32)>) {
    match RECORD_TIME.with(Cell::get) {
        Some((secs, nanos)) => match Local.timestamp_opt(secs, nanos).single() {
            Some(t) => (t, Some((secs, nanos))),
            None => (Local::now(), None),
        },
        None => (Local::now(), None),
    }
}

impl Output {
    /// Formats `event` into `s.line`.
    fn render(&self, event: &Event<'_>, s: &mut Scratch) {
        s.fields.clear();
        s.time.clear();
        s.line.clear();
        event.record(&mut s.fields);
        let (now, captured) = record_time();
        let meta = event.metadata();
        match &self.render {
            Render::Text => {
                self.datefmt.write_cached(&now, &mut s.second, &mut s.time);
                text::write_line(&mut s.line, meta, &s.time, &s.fields, self.color);
            }
            Render::Json => {
                write_rfc3339(&now, &mut s.time);
                json::write_line(&mut s.line, meta, &s.time, &s.fields, captured);
            }
            Render::ShipJson(origin) => {
                write_rfc3339(&now, &mut s.time);
                json::write_line(&mut s.line, meta, &s.time, &s.fields, captured);
                json::append_origin(&mut s.line, origin);
            }
            Render::Syslog(origin, facility) => {
                write_rfc3339(&now, &mut s.time);
                syslog::write_message(&mut s.line, meta, &s.time, &s.fields, origin, *facility);
            }
        }
    }

    fn emit(&self, event: &Event<'_>) {
        let done = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => {
                self.render(event, &mut s);
                self.sink.write_line(s.line.as_bytes());
                true
            }
            Err(_) => false,
        });
        if done != Ok(true) {
            // Re-entered (a command's Display logged something) or thread teardown: use a
            // private buffer for this one record.
            let mut s = Scratch::default();
            self.render(event, &mut s);
            self.sink.write_line(s.line.as_bytes());
        }
    }
}

impl<S: Subscriber> Layer<S> for HandlerLayer {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        if let Some(out) = &self.output {
            out.emit(event);
        }
    }
}
