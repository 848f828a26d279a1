//! Output lines of caproto-get, caproto-put and caproto-monitor.
//!
//! A tool hands in a PV name and a [`Response`] (value + metadata of one
//! response) and gets back exactly the line caproto's tool would print for the
//! chosen mode: the default `{pv_name: <40}  {response.data}`, `--terse`,
//! `--wide`, or a user `--format` string, with caproto's data layout
//! (`[1 2.5 3]`, `%g` numbers, `-e/-f/-g/-lx/-0x/-S/-F` options).

mod data;
mod fields;

pub use data::{format_data, write_data, DataFormat, FloatStyle};
use data::{write_elements, DataOut};
use fields::Ctx;

use crate::cli::output::template::{insert_separator, Template, TemplateError};
use crate::cli::output::timefmt::{Stamp, TimeCache, Zone};
use crate::client;
use crate::proto::dbr::{DbrClass, DbrType};

/// One response as the tools see it: the client's [`Reading`](crate::client::Reading) (the
/// type it came back as, its value and metadata) and the CA status word of the response,
/// which `{response.status}` and `--wide` print.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Type, value and metadata; only the metadata fields its `dbr_type` carries are meaningful.
    pub reading: client::Reading,
    /// ECA status word of the response (`eca::NORMAL` for a good read).
    pub status: u32,
}

impl Response {
    /// A good response (status `ECA_NORMAL`): the client turns a failing status into an error,
    /// so every reading it delivers is one of these.
    pub fn normal(reading: client::Reading) -> Self {
        Response {
            reading,
            status: crate::proto::status::ECA_NORMAL,
        }
    }

    /// The server timestamp, for types that carry one (TIME class only, as in caproto).
    pub fn timestamp(&self) -> Option<Stamp> {
        match self.reading.dbr_type {
            DbrType::Value(DbrClass::Time, _) => Some(Stamp::from_epics(self.reading.meta.stamp)),
            _ => None,
        }
    }
}

/// Which tool's conventions a line follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// caproto-get / caproto-monitor: caproto's own data layout.
    Caproto,
    /// caproto-put: numpy's `str()` of the data.
    Numpy,
}

/// Extra tokens only some tools offer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// caproto-put: `Old` or `New`.
    pub which: Option<&'a str>,
    /// caproto-monitor: number of updates so far, this one included.
    pub callback_count: Option<u64>,
    /// caproto-monitor: microseconds since the previous update (or since the
    /// server's timestamp, for the first).
    pub timedelta: Option<i64>,
}

/// What kind of response a reading came from, for `{response}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// A get or put read-back.
    Read,
    /// A subscription update.
    Event,
}

/// A ready-to-use line formatter for one tool invocation.
#[derive(Debug, Clone)]
pub struct LineFormat {
    template: Template,
    /// Template used instead when a value has exactly one element (terse modes).
    scalar_template: Option<Template>,
    data: DataFormat,
    flavor: Flavor,
    kind: ResponseKind,
    zone: Zone,
}

/// The output mode chosen on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// caproto's default line.
    Default,
    /// `--terse`.
    Terse,
    /// `--wide`.
    Wide,
    /// `--format`.
    Custom(String),
}

const WIDE: &str = "{pv_name} {timestamp} {response.data} {response.status.name}";

impl LineFormat {
    /// caproto-get's line for `mode`.
    pub fn get(mode: Mode, data: DataFormat, zone: Zone) -> Result<LineFormat, TemplateError> {
        let (text, scalar) = match mode {
            Mode::Default if data.separator.is_some() => {
                ("{pv_name}  {response.data}".into(), None)
            }
            Mode::Default => ("{pv_name: <40}  {response.data}".into(), None),
            Mode::Terse => (
                "{response.data}".into(),
                Some("{response_data_unbracketed}"),
            ),
            Mode::Wide => (WIDE.into(), None),
            Mode::Custom(s) => (s, None),
        };
        Self::build(
            &text,
            scalar,
            data,
            Flavor::Caproto,
            ResponseKind::Read,
            zone,
        )
    }

    /// caproto-monitor's line for `format` (`None` = the default line).
    pub fn monitor(
        format: Option<String>,
        data: DataFormat,
        zone: Zone,
    ) -> Result<LineFormat, TemplateError> {
        let text = match format {
            Some(s) => s,
            None if data.separator.is_some() => {
                "{pv_name}  {timestamp:%Y-%m-%d %H:%M:%S.%f} {response.data}".into()
            }
            None => "{pv_name: <40}  {timestamp:%Y-%m-%d %H:%M:%S.%f} {response.data}".into(),
        };
        Self::build(
            &text,
            None,
            data,
            Flavor::Caproto,
            ResponseKind::Event,
            zone,
        )
    }

    /// caproto-put's line for `mode`. Put prints numpy's rendering of the
    /// data; in terse mode a one-element value is printed as a bare element.
    pub fn put(mode: Mode, zone: Zone) -> Result<LineFormat, TemplateError> {
        let (text, scalar) = match mode {
            Mode::Default => (
                "{which} : {pv_name: <40}  {response.data}".to_string(),
                None,
            ),
            Mode::Terse => ("{response.data}".into(), Some("{response.data[0]}")),
            Mode::Wide => (WIDE.into(), None),
            Mode::Custom(s) => (s, None),
        };
        Self::build(
            &text,
            scalar,
            DataFormat::default(),
            Flavor::Numpy,
            ResponseKind::Read,
            zone,
        )
    }

    fn build(
        text: &str,
        scalar: Option<&str>,
        data: DataFormat,
        flavor: Flavor,
        kind: ResponseKind,
        zone: Zone,
    ) -> Result<LineFormat, TemplateError> {
        let adjust = |t: &str| match (&data.separator, flavor) {
            (Some(sep), Flavor::Caproto) => insert_separator(t, sep),
            _ => t.to_string(),
        };
        Ok(LineFormat {
            template: Template::parse(&adjust(text))?,
            scalar_template: scalar.map(|s| Template::parse(&adjust(s))).transpose()?,
            data,
            flavor,
            kind,
            zone,
        })
    }

    /// The template for a value of `decide_len` elements (the single-element
    /// variant applies to exactly one; caproto-put decides on the first
    /// read-back and keeps it for both lines).
    fn template_for(&self, decide_len: usize) -> &Template {
        match &self.scalar_template {
            Some(t) if decide_len == 1 => t,
            _ => &self.template,
        }
    }

    /// The line for one reading, with the template chosen by `decide_len`.
    pub fn line_with_len(
        &self,
        pv_name: &str,
        reading: &Response,
        extras: Extras<'_>,
        decide_len: usize,
    ) -> Result<String, TemplateError> {
        let ctx = Ctx {
            fmt: self,
            pv_name,
            reading,
            extras,
        };
        self.template_for(decide_len).render(
            self.zone,
            &mut TimeCache::default(),
            &mut |f| ctx.lookup(f),
            &mut |out, unbracketed| ctx.write_data(out, unbracketed),
        )
    }

    /// The line for one reading.
    pub fn line(
        &self,
        pv_name: &str,
        reading: &Response,
        extras: Extras<'_>,
    ) -> Result<String, TemplateError> {
        self.line_with_len(pv_name, reading, extras, reading.reading.value.len())
    }

    /// Write the line for one reading and its newline to `out`, reusing
    /// `bufs`. The elements are streamed in chunks, so a large array is
    /// never held as one string. On a template error nothing is written.
    pub fn write_line(
        &self,
        pv_name: &str,
        reading: &Response,
        extras: Extras<'_>,
        bufs: &mut LineBuffers,
        out: &mut dyn std::io::Write,
    ) -> Result<(), LineError> {
        let ctx = Ctx {
            fmt: self,
            pv_name,
            reading,
            extras,
        };
        let LineBuffers {
            head,
            tail,
            chunk,
            times,
        } = bufs;
        head.clear();
        tail.clear();
        chunk.clear();
        let streamed = self
            .template_for(reading.reading.value.len())
            .render_parts(
                self.zone,
                times,
                &mut |f| ctx.lookup(f),
                &mut |o, unbracketed| ctx.write_data(o, unbracketed),
                head,
                tail,
            )
            .map_err(LineError::Template)?;
        out.write_all(head.as_bytes()).map_err(LineError::Io)?;
        if let Some(unbracketed) = streamed {
            let mut flush = |buf: &mut String| {
                let r = out.write_all(buf.as_bytes());
                buf.clear();
                r
            };
            let mut sink = DataOut {
                buf: chunk,
                flush: Some(&mut flush),
            };
            write_elements(&reading.reading.value, &self.data, unbracketed, &mut sink)
                .map_err(LineError::Io)?;
            out.write_all(chunk.as_bytes()).map_err(LineError::Io)?;
        }
        tail.push('\n');
        out.write_all(tail.as_bytes()).map_err(LineError::Io)
    }
}

/// Buffers reused from line to line by [`LineFormat::write_line`], and the
/// per-second cache of formatted timestamps.
#[derive(Debug, Default)]
pub struct LineBuffers {
    head: String,
    tail: String,
    chunk: String,
    times: TimeCache,
}

/// Why [`LineFormat::write_line`] wrote no (complete) line.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineError {
    /// The template does not fit this reading (nothing was written).
    Template(TemplateError),
    /// Writing failed (e.g. standard output was closed).
    Io(std::io::Error),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::Template(e) => e.fmt(f),
            LineError::Io(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for LineError {}

#[cfg(test)]
mod tests;
