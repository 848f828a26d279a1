//! The fields a `--format` template can name: what each resolves to for one
//! reading (value, timestamp, status, metadata) in the tool's flavor.

use super::{write_data, Extras, Flavor, LineFormat, Response, ResponseKind};
use crate::cli::output::eca;
use crate::cli::output::npfmt;
use crate::cli::output::numfmt::py_repr_f64;
use crate::cli::output::template::{Field, FieldValue, Segment};
use crate::cli::output::timefmt::Stamp;
use crate::proto::dbr::{DbrClass, DbrType};

/// One line being rendered: the format, the PV, its reading and the tool's extras.
pub(super) struct Ctx<'a> {
    pub(super) fmt: &'a LineFormat,
    pub(super) pv_name: &'a str,
    pub(super) reading: &'a Response,
    pub(super) extras: Extras<'a>,
}

impl Ctx<'_> {
    /// Append the data text (for fields that resolve to [`FieldValue::Data`]).
    pub(super) fn write_data(&self, out: &mut String, unbracketed: bool) {
        write_data(
            out,
            &self.reading.reading.value,
            &self.fmt.data,
            unbracketed,
        );
    }

    /// The elements: streamed by the caller for caproto's layout, numpy's `str()` for put.
    pub(super) fn data_value(&self, unbracketed: bool) -> FieldValue<'_> {
        match self.fmt.flavor {
            Flavor::Caproto => FieldValue::Data { unbracketed },
            Flavor::Numpy => FieldValue::text(npfmt::array_str(&self.reading.reading.value)),
        }
    }

    pub(super) fn lookup(&self, field: &Field) -> Option<FieldValue<'_>> {
        let r = self.reading;
        match (field.root.as_str(), field.path.as_slice()) {
            ("pv_name", []) => Some(FieldValue::text(self.pv_name)),
            ("which", []) => self.extras.which.map(FieldValue::text),
            ("callback_count", []) => self
                .extras
                .callback_count
                .map(|n| FieldValue::Int(i64::try_from(n).unwrap_or(i64::MAX))),
            ("timedelta", []) => self.extras.timedelta.map(FieldValue::Delta),
            ("timestamp", []) => r.timestamp().map(FieldValue::Time),
            ("response_data", []) => Some(self.data_value(false)),
            ("response_data_unbracketed", []) => Some(self.data_value(true)),
            ("response", []) => Some(FieldValue::text(self.response_summary())),
            ("response", [Segment::Attr(a), rest @ ..]) => self.response_attr(a, rest),
            _ => None,
        }
    }

    pub(super) fn response_attr(&self, attr: &str, rest: &[Segment]) -> Option<FieldValue<'_>> {
        let r = self.reading;
        match (attr, rest) {
            ("data", []) => Some(self.data_value(false)),
            ("data", [Segment::Index(i)]) => {
                let i: i64 = i.trim().parse().ok()?;
                let len = r.reading.value.len() as i64;
                let idx = if i < 0 { len + i } else { i };
                let idx = usize::try_from(idx).ok()?;
                npfmt::element_str(&r.reading.value, idx).map(FieldValue::text)
            }
            ("data_type", []) => Some(FieldValue::Int(i64::from(r.reading.dbr_type.code()))),
            ("data_count", []) => Some(FieldValue::Int(r.reading.value.len() as i64)),
            ("status", []) => Some(FieldValue::text(status_name(r.status))),
            ("status", [Segment::Attr(a)]) => match a.as_str() {
                "name" => Some(FieldValue::text(status_name(r.status))),
                "code" => Some(FieldValue::Int(i64::from(r.status >> 3))),
                "code_with_severity" => Some(FieldValue::Int(i64::from(r.status))),
                "description" => {
                    eca::eca_description(r.status).map(|d| FieldValue::text(d.to_string()))
                }
                "success" => Some(FieldValue::Int(i64::from(eca::eca_success(r.status)))),
                _ => None,
            },
            ("metadata", []) => Some(FieldValue::text(metadata_summary(r))),
            ("metadata", [Segment::Attr(a)]) => metadata_attr(r, a),
            _ => None,
        }
    }

    pub(super) fn response_summary(&self) -> String {
        let r = self.reading;
        let name = match self.fmt.kind {
            ResponseKind::Read => "ReadNotifyResponse",
            ResponseKind::Event => "EventAddResponse",
        };
        let metadata = match r.reading.dbr_type {
            DbrType::Value(DbrClass::Plain, _) => "None".to_string(),
            _ => metadata_summary(r),
        };
        format!(
            "{name}(data={}, data_type={}, data_count={}, status={}, metadata={metadata})",
            npfmt::array_str(&r.reading.value),
            r.reading.dbr_type.caproto_name(),
            r.reading.value.len(),
            status_name(r.status),
        )
    }
}

pub(super) fn status_name(status: u32) -> String {
    eca::eca_name(status)
        .map(str::to_string)
        .unwrap_or_else(|| format!("ECA_UNKNOWN({status})"))
}

/// The metadata fields a DBR type carries, by caproto's attribute name.
pub(super) fn metadata_fields(r: &Response) -> Vec<(&'static str, FieldValue<'_>)> {
    let m = &r.reading.meta;
    let g = &m.graphics;
    let mut out = Vec::new();
    let class = match r.reading.dbr_type {
        DbrType::Value(c, _) => c,
        DbrType::StsackString => DbrClass::Sts,
        _ => return out,
    };
    if class == DbrClass::Plain {
        return out;
    }
    out.push(("status", FieldValue::Int(i64::from(m.status.0))));
    out.push(("severity", FieldValue::Int(i64::from(m.severity.0))));
    if r.reading.dbr_type == DbrType::StsackString {
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
    let native = r.reading.dbr_type.native();
    use crate::proto::dbr::NativeType as N;
    match native {
        N::String => {}
        N::Enum => out.push((
            "enum_strings",
            FieldValue::text(format!(
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
                FieldValue::text(npfmt::bytes_repr(g.units.as_bytes())),
            ));
        }
    }
    out
}

pub(super) fn metadata_attr<'a>(r: &'a Response, name: &str) -> Option<FieldValue<'a>> {
    metadata_fields(r)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

pub(super) fn metadata_summary(r: &Response) -> String {
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
                FieldValue::Str(s) => s.into_owned(),
                FieldValue::Time(t) => t.posix_seconds().to_string(),
                FieldValue::Delta(d) => d.to_string(),
                FieldValue::Data { .. } => String::new(),
            };
            format!("{n}={text}")
        })
        .collect();
    format!(
        "DBR_{}({})",
        r.reading.dbr_type.caproto_name(),
        parts.join(", ")
    )
}
