//! What one handler should do: destination, level, format, colour, date format, filters.

use std::path::PathBuf;

use tracing::level_filters::LevelFilter;

use super::filter::FieldFilter;
use super::sink::{Destination, SharedWriter};
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
