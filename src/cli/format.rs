//! Output lines of caproto-get, caproto-put and caproto-monitor.
//!
//! A tool hands in a PV name and a [`Reading`] (value + metadata of one
//! response) and gets back exactly the line caproto's tool would print for the
//! chosen mode: the default `{pv_name: <40}  {response.data}`, `--terse`,
//! `--wide`, or a user `--format` string, with caproto's data layout
//! (`[1 2.5 3]`, `%g` numbers, `-e/-f/-g/-lx/-0x/-S/-F` options).

use super::eca;
use super::npfmt;
use super::numfmt::{format_e, format_f, format_g, format_radix, py_repr_f64, Radix};
use super::template::{insert_separator, Field, FieldValue, Segment, Template, TemplateError};
use super::timefmt::{Stamp, Zone};
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

fn join(items: impl Iterator<Item = String>, sep: &str, brackets: bool) -> String {
    let body = items.collect::<Vec<_>>().join(sep);
    if brackets {
        format!("[{body}]")
    } else {
        body
    }
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

fn ints(value: &Value) -> Option<Vec<i64>> {
    Some(match value {
        Value::Short(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Value::Enum(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Value::Char(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Value::Long(v) => v.iter().map(|&x| i64::from(x)).collect(),
        _ => return None,
    })
}

/// Round half to even, saturating, as Python's `int(round(x))` (non-finite give 0).
fn round_even(x: f64) -> i64 {
    if x.is_finite() {
        x.round_ties_even() as i64
    } else {
        0
    }
}

/// caproto's rendering of the elements (`format_response_data`): `[a b c]`,
/// without brackets when `unbracketed`.
pub fn format_data(value: &Value, fmt: &DataFormat, unbracketed: bool) -> String {
    if value.is_empty() {
        return "[]".to_string();
    }
    let sep = fmt.separator.as_deref().unwrap_or(" ");
    let brackets = !unbracketed;
    match value {
        Value::String(v) => join(v.iter().cloned(), sep, brackets),
        Value::Double(v) => join(v.iter().map(|&x| float_text(x, fmt.float)), sep, brackets),
        Value::Float(v) => join(
            v.iter().map(|&x| float_text(f64::from(x), fmt.float)),
            sep,
            brackets,
        ),
        other => {
            let n = ints(other).unwrap_or_default();
            if fmt.char_as_string {
                return ints_as_text(n.into_iter());
            }
            join(
                n.into_iter().map(|i| match fmt.int_radix {
                    Some(r) => format_radix(i, r),
                    // caproto formats integers with '{:g}', which goes through float.
                    None => format_g(i as f64, 6),
                }),
                sep,
                brackets,
            )
        }
    }
}

fn float_text(x: f64, style: FloatStyle) -> String {
    match style {
        FloatStyle::General => format_g(x, 6),
        FloatStyle::Exp(n) => format_e(x, n),
        FloatStyle::Fixed(n) => format_f(x, n),
        FloatStyle::GeneralPrec(n) => format_g(x, n),
        FloatStyle::ServerString => format_f(x, 6),
        FloatStyle::Rounded(r) => format_radix(round_even(x), r),
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

    /// Whether the single-element variant applies, decided by `len` elements.
    /// (caproto-put decides on the first read-back and keeps it for both lines.)
    pub fn line_with_len(
        &self,
        pv_name: &str,
        reading: &Reading,
        extras: Extras<'_>,
        decide_len: usize,
    ) -> Result<String, TemplateError> {
        let template = match &self.scalar_template {
            Some(t) if decide_len == 1 => t,
            _ => &self.template,
        };
        let mut ctx = Ctx {
            fmt: self,
            pv_name,
            reading,
            extras,
        };
        template.render(self.zone, &mut |f| ctx.lookup(f))
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
}

struct Ctx<'a> {
    fmt: &'a LineFormat,
    pv_name: &'a str,
    reading: &'a Reading,
    extras: Extras<'a>,
}

impl Ctx<'_> {
    fn data_text(&self, unbracketed: bool) -> String {
        match self.fmt.flavor {
            Flavor::Caproto => format_data(&self.reading.value, &self.fmt.data, unbracketed),
            Flavor::Numpy => npfmt::array_str(&self.reading.value),
        }
    }

    fn lookup(&mut self, field: &Field) -> Option<FieldValue> {
        let r = self.reading;
        let path: Vec<&Segment> = field.path.iter().collect();
        match (field.root.as_str(), path.as_slice()) {
            ("pv_name", []) => Some(FieldValue::Str(self.pv_name.to_string())),
            ("which", []) => self.extras.which.map(|w| FieldValue::Str(w.to_string())),
            ("callback_count", []) => self
                .extras
                .callback_count
                .map(|n| FieldValue::Int(i64::try_from(n).unwrap_or(i64::MAX))),
            ("timedelta", []) => self.extras.timedelta.map(FieldValue::Delta),
            ("timestamp", []) => r.timestamp().map(FieldValue::Time),
            ("response_data", []) => Some(FieldValue::Str(self.data_text(false))),
            ("response_data_unbracketed", []) => Some(FieldValue::Str(self.data_text(true))),
            ("response", []) => Some(FieldValue::Str(self.response_summary())),
            ("response", [Segment::Attr(a), rest @ ..]) => self.response_attr(a, rest),
            _ => None,
        }
    }

    fn response_attr(&self, attr: &str, rest: &[&Segment]) -> Option<FieldValue> {
        let r = self.reading;
        match (attr, rest) {
            ("data", []) => Some(FieldValue::Str(self.data_text(false))),
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
            out.push(("upper_disp_limit", FieldValue::Float(g.upper_disp_limit)));
            out.push(("lower_disp_limit", FieldValue::Float(g.lower_disp_limit)));
            out.push(("upper_alarm_limit", FieldValue::Float(g.upper_alarm_limit)));
            out.push((
                "upper_warning_limit",
                FieldValue::Float(g.upper_warning_limit),
            ));
            out.push((
                "lower_warning_limit",
                FieldValue::Float(g.lower_warning_limit),
            ));
            out.push(("lower_alarm_limit", FieldValue::Float(g.lower_alarm_limit)));
            if class == DbrClass::Ctrl {
                out.push((
                    "upper_ctrl_limit",
                    FieldValue::Float(m.control.upper_ctrl_limit),
                ));
                out.push((
                    "lower_ctrl_limit",
                    FieldValue::Float(m.control.lower_ctrl_limit),
                ));
            }
            if matches!(native, N::Float | N::Double) {
                out.push(("precision", FieldValue::Int(i64::from(g.precision))));
            }
            out.push(("units", FieldValue::Str(g.units.clone())));
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
                FieldValue::Str(s) if n == "units" => npfmt::bytes_repr(s.as_bytes()),
                FieldValue::Str(s) => s,
                FieldValue::Time(t) => t.posix_seconds().to_string(),
                FieldValue::Delta(d) => d.to_string(),
            };
            format!("{n}={text}")
        })
        .collect();
    format!("DBR_{}({})", r.data_type.caproto_name(), parts.join(", "))
}

#[cfg(test)]
mod tests;
