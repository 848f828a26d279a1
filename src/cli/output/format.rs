//! Output lines of caproto-get, caproto-put and caproto-monitor.
//!
//! A tool hands in a PV name and a [`Reading`] (value + metadata of one
//! response) and gets back exactly the line caproto's tool would print for the
//! chosen mode: the default `{pv_name: <40}  {response.data}`, `--terse`,
//! `--wide`, or a user `--format` string, with caproto's data layout
//! (`[1 2.5 3]`, `%g` numbers, `-e/-f/-g/-lx/-0x/-S/-F` options).

use crate::cli::output::eca;
use crate::cli::output::npfmt;
use crate::cli::output::numfmt::{py_repr_f64, write_e, write_f, write_g, write_radix, Radix};
use crate::cli::output::template::{
    insert_separator, Field, FieldValue, Segment, Template, TemplateError,
};
use crate::cli::output::timefmt::{Stamp, TimeCache, Zone};
use crate::proto::dbr::{DbrClass, DbrType, Metadata, Value};

/// One response as the tools see it: the type it came back as, its value and
/// metadata, and the CA status word of the response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The DBR type of the response (decides which metadata is meaningful).
    pub data_type: DbrType,
    /// The elements.
    pub value: Value,
    /// Metadata; only the fields `data_type` carries are meaningful.
    pub meta: Metadata,
    /// ECA status word of the response (`eca::NORMAL` for a good read).
    pub status: u32,
}

impl Reading {
    /// The server timestamp, for types that carry one (TIME class only, as in caproto).
    pub fn timestamp(&self) -> Option<Stamp> {
        match self.data_type {
            DbrType::Value(DbrClass::Time, _) => Some(Stamp::from_epics(self.meta.stamp)),
            _ => None,
        }
    }
}

/// How floating-point elements are written (`-e`, `-f`, `-g`, `-s`, `-lx`, `-lo`, `-lb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatStyle {
    /// `%g` (the default).
    #[default]
    General,
    /// `-e N`: `%.Ne`.
    Exp(usize),
    /// `-f N`: `%.Nf`.
    Fixed(usize),
    /// `-g N`: `%.Ng`.
    GeneralPrec(usize),
    /// `-s`: caproto prints `%f` (it does not ask the server for a string).
    ServerString,
    /// `-lx/-lo/-lb`: round half-to-even to an integer and print in that base.
    Rounded(Radix),
}

/// Everything that changes how the elements of a value are written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataFormat {
    /// Float element style.
    pub float: FloatStyle,
    /// `-0x/-0o/-0b` for integer elements; decimal (via `%g`, as caproto) when `None`.
    pub int_radix: Option<Radix>,
    /// `-S`: integer arrays are printed as text.
    pub char_as_string: bool,
    /// `-F`: separator between elements (and between fields of the line).
    pub separator: Option<String>,
}

/// Integer elements as text for `-S`: up to the first NUL (as caget does;
/// caproto also prints the NUL and whatever follows), UTF-8 decoded leniently.
fn ints_as_text(codes: impl Iterator<Item = i64>) -> String {
    let bytes: Vec<u8> = codes
        .take_while(|&c| c != 0)
        .map(|c| u8::try_from(c).unwrap_or(b'?'))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Round half to even, saturating, as Python's `int(round(x))` (non-finite give 0).
fn round_even(x: f64) -> i64 {
    if x.is_finite() {
        x.round_ties_even() as i64
    } else {
        0
    }
}

/// How much element text is gathered before it is handed on when streaming.
const DATA_CHUNK: usize = 64 * 1024;

/// Hands gathered element text on (e.g. to standard output) and empties the buffer.
type ChunkFlush<'a> = &'a mut dyn FnMut(&mut String) -> std::io::Result<()>;

/// Where element text goes: appended to `buf`, which is handed to `flush`
/// whenever it holds [`DATA_CHUNK`] bytes or more (never, when `flush` is
/// `None`). `flush` must empty the buffer.
struct DataOut<'a> {
    buf: &'a mut String,
    flush: Option<ChunkFlush<'a>>,
}

impl DataOut<'_> {
    fn maybe_flush(&mut self) -> std::io::Result<()> {
        match &mut self.flush {
            Some(f) if self.buf.len() >= DATA_CHUNK => f(self.buf),
            _ => Ok(()),
        }
    }
}

/// Append each element with `each`, separated by `sep`, bracketed or not.
fn elements<T>(
    items: &[T],
    sep: &str,
    brackets: bool,
    out: &mut DataOut<'_>,
    each: impl Fn(&mut String, &T),
) -> std::io::Result<()> {
    if brackets {
        out.buf.push('[');
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.buf.push_str(sep);
        }
        each(out.buf, item);
        out.maybe_flush()?;
    }
    if brackets {
        out.buf.push(']');
    }
    Ok(())
}

/// Append an integer element: in `radix`, or through `%g` as caproto does.
fn write_int(out: &mut String, i: i64, radix: Option<Radix>) {
    match radix {
        Some(r) => write_radix(out, i, r),
        // caproto formats integers with '{:g}', which goes through float.
        None => write_g(out, i as f64, 6),
    }
}

/// caproto's rendering of the elements (`format_response_data`), written
/// element by element through `out`.
fn write_elements(
    value: &Value,
    fmt: &DataFormat,
    unbracketed: bool,
    out: &mut DataOut<'_>,
) -> std::io::Result<()> {
    if value.is_empty() {
        out.buf.push_str("[]");
        return Ok(());
    }
    let sep = fmt.separator.as_deref().unwrap_or(" ");
    let brackets = !unbracketed;
    let style = fmt.float;
    let radix = fmt.int_radix;
    if fmt.char_as_string {
        let text = match value {
            Value::Short(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Enum(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Char(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Long(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            _ => None,
        };
        if let Some(text) = text {
            out.buf.push_str(&text);
            return Ok(());
        }
    }
    match value {
        Value::String(v) => elements(v, sep, brackets, out, |o, s| o.push_str(s)),
        Value::Double(v) => elements(v, sep, brackets, out, |o, &x| write_float(o, x, style)),
        Value::Float(v) => elements(v, sep, brackets, out, |o, &x| {
            write_float(o, f64::from(x), style)
        }),
        Value::Short(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Enum(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Char(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Long(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
    }
}

/// Append caproto's rendering of the elements (`format_response_data`):
/// `[a b c]`, without brackets when `unbracketed`.
pub fn write_data(out: &mut String, value: &Value, fmt: &DataFormat, unbracketed: bool) {
    let mut sink = DataOut {
        buf: out,
        flush: None,
    };
    // Cannot fail: nothing is flushed.
    let _ = write_elements(value, fmt, unbracketed, &mut sink);
}

/// caproto's rendering of the elements (`format_response_data`): `[a b c]`,
/// without brackets when `unbracketed`.
pub fn format_data(value: &Value, fmt: &DataFormat, unbracketed: bool) -> String {
    let mut s = String::new();
    write_data(&mut s, value, fmt, unbracketed);
    s
}

fn write_float(out: &mut String, x: f64, style: FloatStyle) {
    match style {
        FloatStyle::General => write_g(out, x, 6),
        FloatStyle::Exp(n) => write_e(out, x, n),
        FloatStyle::Fixed(n) => write_f(out, x, n),
        FloatStyle::GeneralPrec(n) => write_g(out, x, n),
        FloatStyle::ServerString => write_f(out, x, 6),
        FloatStyle::Rounded(r) => write_radix(out, round_even(x), r),
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
        reading: &Reading,
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
        reading: &Reading,
        extras: Extras<'_>,
    ) -> Result<String, TemplateError> {
        self.line_with_len(pv_name, reading, extras, reading.value.len())
    }

    /// Write the line for one reading and its newline to `out`, reusing
    /// `bufs`. The elements are streamed in chunks, so a large array is
    /// never held as one string. On a template error nothing is written.
    pub fn write_line(
        &self,
        pv_name: &str,
        reading: &Reading,
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
            .template_for(reading.value.len())
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
            write_elements(&reading.value, &self.data, unbracketed, &mut sink)
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

struct Ctx<'a> {
    fmt: &'a LineFormat,
    pv_name: &'a str,
    reading: &'a Reading,
    extras: Extras<'a>,
}

impl Ctx<'_> {
    /// Append the data text (for fields that resolve to [`FieldValue::Data`]).
    fn write_data(&self, out: &mut String, unbracketed: bool) {
        write_data(out, &self.reading.value, &self.fmt.data, unbracketed);
    }

    /// The elements: streamed by the caller for caproto's layout, numpy's `str()` for put.
    fn data_value(&self, unbracketed: bool) -> FieldValue {
        match self.fmt.flavor {
            Flavor::Caproto => FieldValue::Data { unbracketed },
            Flavor::Numpy => FieldValue::Str(npfmt::array_str(&self.reading.value)),
        }
    }

    fn lookup(&self, field: &Field) -> Option<FieldValue> {
        let r = self.reading;
        match (field.root.as_str(), field.path.as_slice()) {
            ("pv_name", []) => Some(FieldValue::Str(self.pv_name.to_string())),
            ("which", []) => self.extras.which.map(|w| FieldValue::Str(w.to_string())),
            ("callback_count", []) => self
                .extras
                .callback_count
                .map(|n| FieldValue::Int(i64::try_from(n).unwrap_or(i64::MAX))),
            ("timedelta", []) => self.extras.timedelta.map(FieldValue::Delta),
            ("timestamp", []) => r.timestamp().map(FieldValue::Time),
            ("response_data", []) => Some(self.data_value(false)),
            ("response_data_unbracketed", []) => Some(self.data_value(true)),
            ("response", []) => Some(FieldValue::Str(self.response_summary())),
            ("response", [Segment::Attr(a), rest @ ..]) => self.response_attr(a, rest),
            _ => None,
        }
    }

    fn response_attr(&self, attr: &str, rest: &[Segment]) -> Option<FieldValue> {
        let r = self.reading;
        match (attr, rest) {
            ("data", []) => Some(self.data_value(false)),
            ("data", [Segment::Index(i)]) => {
                let i: i64 = i.trim().parse().ok()?;
                let len = r.value.len() as i64;
                let idx = if i < 0 { len + i } else { i };
                let idx = usize::try_from(idx).ok()?;
                npfmt::element_str(&r.value, idx).map(FieldValue::Str)
            }
            ("data_type", []) => Some(FieldValue::Int(i64::from(r.data_type.code()))),
            ("data_count", []) => Some(FieldValue::Int(r.value.len() as i64)),
            ("status", []) => Some(FieldValue::Str(status_name(r.status))),
            ("status", [Segment::Attr(a)]) => match a.as_str() {
                "name" => Some(FieldValue::Str(status_name(r.status))),
                "code" => Some(FieldValue::Int(i64::from(r.status >> 3))),
                "code_with_severity" => Some(FieldValue::Int(i64::from(r.status))),
                "description" => {
                    eca::eca_description(r.status).map(|d| FieldValue::Str(d.to_string()))
                }
                "success" => Some(FieldValue::Int(i64::from(eca::eca_success(r.status)))),
                _ => None,
            },
            ("metadata", []) => Some(FieldValue::Str(metadata_summary(r))),
            ("metadata", [Segment::Attr(a)]) => metadata_attr(r, a),
            _ => None,
        }
    }

    fn response_summary(&self) -> String {
        let r = self.reading;
        let name = match self.fmt.kind {
            ResponseKind::Read => "ReadNotifyResponse",
            ResponseKind::Event => "EventAddResponse",
        };
        let metadata = match r.data_type {
            DbrType::Value(DbrClass::Plain, _) => "None".to_string(),
            _ => metadata_summary(r),
        };
        format!(
            "{name}(data={}, data_type={}, data_count={}, status={}, metadata={metadata})",
            npfmt::array_str(&r.value),
            r.data_type.caproto_name(),
            r.value.len(),
            status_name(r.status),
        )
    }
}

fn status_name(status: u32) -> String {
    eca::eca_name(status)
        .map(str::to_string)
        .unwrap_or_else(|| format!("ECA_UNKNOWN({status})"))
}

/// The metadata fields a DBR type carries, by caproto's attribute name.
fn metadata_fields(r: &Reading) -> Vec<(&'static str, FieldValue)> {
    let m = &r.meta;
    let g = &m.graphics;
    let mut out = Vec::new();
    let class = match r.data_type {
        DbrType::Value(c, _) => c,
        DbrType::StsackString => DbrClass::Sts,
        _ => return out,
    };
    if class == DbrClass::Plain {
        return out;
    }
    out.push(("status", FieldValue::Int(i64::from(m.status.0))));
    out.push(("severity", FieldValue::Int(i64::from(m.severity.0))));
    if r.data_type == DbrType::StsackString {
        out.push(("ackt", FieldValue::Int(i64::from(m.ackt))));
        out.push(("acks", FieldValue::Int(i64::from(m.acks.0))));
        return out;
    }
    if class == DbrClass::Time {
        out.push((
            "timestamp",
            FieldValue::Float(Stamp::from_epics(m.stamp).posix_seconds()),
        ));
        return out;
    }
    if class == DbrClass::Sts {
        return out;
    }
    let native = r.data_type.native();
    use crate::proto::dbr::NativeType as N;
    match native {
        N::String => {}
        N::Enum => out.push((
            "enum_strings",
            FieldValue::Str(format!(
                "({})",
                m.enum_strings
                    .iter()
                    .map(|s| npfmt::bytes_repr(s.as_bytes()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )),
        _ => {
            // Integer types carry integer limits (caproto prints 1000, not 1000.0).
            let limit = |x: f64| {
                if matches!(native, N::Float | N::Double) {
                    FieldValue::Float(x)
                } else {
                    FieldValue::Int(x as i64)
                }
            };
            out.push(("upper_disp_limit", limit(g.upper_disp_limit)));
            out.push(("lower_disp_limit", limit(g.lower_disp_limit)));
            out.push(("upper_alarm_limit", limit(g.upper_alarm_limit)));
            out.push(("upper_warning_limit", limit(g.upper_warning_limit)));
            out.push(("lower_warning_limit", limit(g.lower_warning_limit)));
            out.push(("lower_alarm_limit", limit(g.lower_alarm_limit)));
            if class == DbrClass::Ctrl {
                out.push(("upper_ctrl_limit", limit(m.control.upper_ctrl_limit)));
                out.push(("lower_ctrl_limit", limit(m.control.lower_ctrl_limit)));
            }
            if matches!(native, N::Float | N::Double) {
                out.push(("precision", FieldValue::Int(i64::from(g.precision))));
            }
            // caproto's DBR structs hold units as bytes: printed as b'mm'.
            out.push((
                "units",
                FieldValue::Str(npfmt::bytes_repr(g.units.as_bytes())),
            ));
        }
    }
    out
}

fn metadata_attr(r: &Reading, name: &str) -> Option<FieldValue> {
    metadata_fields(r)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn metadata_summary(r: &Reading) -> String {
    let fields = metadata_fields(r);
    if fields.is_empty() {
        return "None".to_string();
    }
    let parts: Vec<String> = fields
        .into_iter()
        .map(|(n, v)| {
            let text = match v {
                FieldValue::Int(i) => i.to_string(),
                FieldValue::Float(x) => py_repr_f64(x),
                FieldValue::Str(s) => s,
                FieldValue::Time(t) => t.posix_seconds().to_string(),
                FieldValue::Delta(d) => d.to_string(),
                FieldValue::Data { .. } => String::new(),
            };
            format!("{n}={text}")
        })
        .collect();
    format!("DBR_{}({})", r.data_type.caproto_name(), parts.join(", "))
}

#[cfg(test)]
mod tests;
