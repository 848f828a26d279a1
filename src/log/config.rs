//! What one handler should do: destination, level, format, colour, date format, filters.

use std::path::PathBuf;
use std::time::Duration;

use tracing::level_filters::LevelFilter;

use super::file::Rotation;
use super::filter::FieldFilter;
use super::ship::{ShipTarget, DEFAULT_FLUSH_TIMEOUT, DEFAULT_QUEUE_CAPACITY};
use super::sink::{Destination, SharedWriter};
use super::syslog::FACILITY_USER;
use super::time::DEFAULT_DATEFMT;

/// Output format of a handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// caproto's one-line text format.
    #[default]
    Text,
    /// One JSON object per line with the same fields.
    Json,
}

/// Whether the text format colours the level bracket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMode {
    /// Colour only when writing to standard error, it is a terminal, and the environment does
    /// not forbid it (`NO_COLOR`, `TERM=dumb`, ...). Decided once, when the handler is set up.
    #[default]
    Auto,
    /// Always emit ANSI colour codes (any destination).
    Always,
    /// Never colour.
    Never,
}

/// Builder for one handler, the counterpart of caproto's `config_caproto_logging` arguments.
///
/// Defaults follow caproto: level WARN, `datefmt` `%H:%M:%S`, colour on a terminal, text format,
/// no filters; the destination is standard error (caproto uses stdout; we keep stdout for the
/// tools' output).
#[derive(Clone, Debug)]
pub struct LogConfig {
    pub(crate) destination: Destination,
    pub(crate) level: LevelFilter,
    pub(crate) datefmt: String,
    pub(crate) color: ColorMode,
    pub(crate) format: Format,
    pub(crate) filters: Vec<FieldFilter>,
    pub(crate) queue_capacity: usize,
    pub(crate) flush_timeout: Duration,
    pub(crate) facility: u8,
    pub(crate) rotation: Option<Rotation>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig::terminal()
    }
}

impl LogConfig {
    fn to(destination: Destination) -> Self {
        LogConfig {
            destination,
            level: LevelFilter::WARN,
            datefmt: DEFAULT_DATEFMT.to_owned(),
            color: ColorMode::Auto,
            format: Format::Text,
            filters: Vec::new(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            facility: FACILITY_USER,
            rotation: None,
        }
    }

    /// A handler writing to standard error.
    pub fn terminal() -> Self {
        Self::to(Destination::Stderr)
    }

    /// A handler appending to the file at `path` (opened when the handler is installed).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::to(Destination::File(path.into()))
    }

    /// A handler writing to any shared writer (for embedding programs and tests).
    pub fn writer(writer: SharedWriter) -> Self {
        Self::to(Destination::Writer(writer))
    }

    /// A handler shipping records to a collector (see [`ShipTarget`] for the URL forms):
    /// JSON lines for `tcp://`, RFC 5424 with the fields as structured data for the syslog
    /// schemes, whatever [`LogConfig::format`] says. A background thread writes; the thread
    /// that logs never waits for the network.
    pub fn ship(target: ShipTarget) -> Self {
        Self::to(Destination::Ship(target))
    }

    /// Records a shipping handler queues before it drops new ones (default
    /// [`super::DEFAULT_QUEUE_CAPACITY`]); ignored by other destinations.
    pub fn queue_capacity(mut self, records: usize) -> Self {
        self.queue_capacity = records.max(1);
        self
    }

    /// How long a flush, and the flush at exit, waits for a shipping queue to drain (default
    /// [`super::DEFAULT_FLUSH_TIMEOUT`]); ignored by other destinations.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Syslog facility code of shipped syslog messages, 0-23 (default 1, `user`; 16-23 are
    /// `local0`-`local7`).
    pub fn syslog_facility(mut self, facility: u8) -> Self {
        self.facility = facility.min(23);
        self
    }

    /// Size-based rotation of a file destination (ignored by others): before a record would
    /// make the file larger than `max_size`, it is renamed `PATH.1` (older ones shift up to
    /// `PATH.keep`, the oldest is deleted) and a new file starts.
    pub fn rotate(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Most verbose level this handler shows (for caproto targets; others are capped at WARN).
    pub fn level(mut self, level: LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// `strftime`-style format of the time before `.mmm` (default `%H:%M:%S`), local time.
    pub fn datefmt(mut self, datefmt: &str) -> Self {
        self.datefmt = datefmt.to_owned();
        self
    }

    /// Colour policy of the text format.
    pub fn color(mut self, color: ColorMode) -> Self {
        self.color = color;
        self
    }

    /// Text or JSON lines.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Adds a filter (ANDed with the others).
    pub fn filter(mut self, filter: impl Into<FieldFilter>) -> Self {
        self.filters.push(filter.into());
        self
    }
}
