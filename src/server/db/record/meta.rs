//! The Channel Access metadata of a record's channels (units, precision,
//! limits, enum strings, alarm, time), as softIoc's record support reports
//! them through `get_units`, `get_precision`, `get_graphic_double`,
//! `get_control_double`, `get_alarm_double` and `get_enum_strs`.

use crate::proto::dbr::{Control, Graphics, Metadata};

use super::fields::{Dbf, MBB_STATES};
use super::Record;

impl Record {
    /// Metadata of the VAL channel (and of `REC`).
    pub fn metadata(&self) -> Metadata {
        let mut m = self
            .meta_cache
            .get_or_init(|| self.field_metadata("VAL"))
            .clone();
        m.status = self.status;
        m.severity = self.severity;
        m.stamp = self.stamp;
        m
    }

    /// Enum strings of VAL (bi, bo, mbbi, mbbo), as `get_enum_strs` gives them.
    pub fn enum_strings(&self) -> Vec<String> {
        match self.rtyp {
            "bi" | "bo" => {
                let (z, o) = (self.string("ZNAM"), self.string("ONAM"));
                let n = if !z.is_empty() && o.is_empty() { 1 } else { 2 };
                [z, o].into_iter().take(n).collect()
            }
            "mbbi" | "mbbo" => {
                let states: Vec<String> = MBB_STATES
                    .iter()
                    .map(|p| self.string(&format!("{p}ST")))
                    .collect();
                let n = states
                    .iter()
                    .rposition(|s| !s.is_empty())
                    .map_or(0, |i| i + 1);
                states.into_iter().take(n).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Metadata of the channel `REC.field`: the record's alarm and time,
    /// and the display information its record support gives that field.
    pub fn field_metadata(&self, field: &str) -> Metadata {
        let mut m = Metadata {
            status: self.status,
            severity: self.severity,
            stamp: self.stamp,
            ..Metadata::default()
        };
        let Some(def) = self.field_def(field) else {
            return m;
        };
        if let Dbf::Menu(choices) = def.dbf {
            // All choices: string reads use them all; the server sends
            // the first 16 in GR/CTRL ENUM, as an IOC does (menuAlarmStat).
            m.enum_strings = choices.iter().map(|s| s.to_string()).collect();
            return m;
        }
        if field == "VAL" {
            m.enum_strings = self.enum_strings();
        }
        let analog = matches!(self.rtyp, "ai" | "ao" | "calc" | "calcout");
        let long = matches!(self.rtyp, "longin" | "longout");
        let numeric = !matches!(def.dbf, Dbf::Str | Dbf::Link | Dbf::Menu(_));
        if !(analog || long || self.rtyp == "waveform") || !numeric {
            // Record support without get_graphic_double: all zero.
            return m;
        }
        let is_val = field == "VAL";
        let display_field = is_val
            || (self.rtyp != "waveform"
                && matches!(
                    field,
                    "HIHI" | "HIGH" | "LOW" | "LOLO" | "LALM" | "ALST" | "MLST" | "OVAL" | "PVAL"
                ));
        let (hopr, lopr) = (self.num("HOPR"), self.num("LOPR"));
        // get_units: EGU for VAL and the fields of VAL's own type.
        let own_type = match self.rtyp {
            "longin" | "longout" => def.dbf == Dbf::Long,
            _ => def.dbf == Dbf::Double,
        };
        let floating = matches!(def.dbf, Dbf::Double | Dbf::Val);
        let mut g = Graphics {
            units: if is_val || own_type {
                self.string("EGU")
            } else {
                String::new()
            },
            // recGblGetPrec: integer fields show no decimals.
            precision: if long || !floating {
                0
            } else {
                self.num("PREC") as i16
            },
            upper_alarm_limit: f64::NAN,
            upper_warning_limit: f64::NAN,
            lower_warning_limit: f64::NAN,
            lower_alarm_limit: f64::NAN,
            ..Graphics::default()
        };
        // recGblGetGraphicDouble / recGblGetControlDouble: the field type's range.
        let (lo, hi) = if display_field {
            (lopr, hopr)
        } else {
            type_range(def.dbf)
        };
        g.upper_disp_limit = hi;
        g.lower_disp_limit = lo;
        m.control = Control {
            upper_ctrl_limit: hi,
            lower_ctrl_limit: lo,
        };
        if matches!(self.rtyp, "ao" | "longout")
            && matches!(
                field,
                "VAL" | "OVAL" | "PVAL" | "HIHI" | "HIGH" | "LOW" | "LOLO"
            )
        {
            m.control = Control {
                upper_ctrl_limit: self.num("DRVH"),
                lower_ctrl_limit: self.num("DRVL"),
            };
        }
        if field == "VAL" && (analog || long) {
            let l = self.limits();
            let on = |sev: crate::proto::status::AlarmSeverity, x: f64| {
                if sev.0 != 0 {
                    x
                } else {
                    f64::NAN
                }
            };
            g.upper_alarm_limit = on(l.hhsv, l.hihi);
            g.upper_warning_limit = on(l.hsv, l.high);
            g.lower_warning_limit = on(l.lsv, l.low);
            g.lower_alarm_limit = on(l.llsv, l.lolo);
        }
        m.graphics = g;
        m
    }
}

/// The range EPICS reports for a field of type `dbf` when the record type
/// gives none (`recGblGetGraphicDouble`).
fn type_range(dbf: Dbf) -> (f64, f64) {
    match dbf {
        Dbf::Short => (f64::from(i16::MIN), f64::from(i16::MAX)),
        Dbf::Long => (f64::from(i32::MIN), f64::from(i32::MAX)),
        Dbf::ULong => (0.0, f64::from(u32::MAX)),
        Dbf::Char => (0.0, 255.0),
        Dbf::Double | Dbf::Val => (-1e300, 1e300),
        Dbf::Str | Dbf::Link | Dbf::Menu(_) => (0.0, 0.0),
    }
}

/// Whether two metadata differ in what DBE_PROPERTY announces (units,
/// precision, limits, enum strings), with NaN limits equal to themselves.
pub fn property_changed(a: &Metadata, b: &Metadata) -> bool {
    let g = |m: &Metadata| {
        let g = &m.graphics;
        [
            g.upper_disp_limit,
            g.lower_disp_limit,
            g.upper_alarm_limit,
            g.upper_warning_limit,
            g.lower_warning_limit,
            g.lower_alarm_limit,
            m.control.upper_ctrl_limit,
            m.control.lower_ctrl_limit,
        ]
        .map(f64::to_bits)
    };
    g(a) != g(b)
        || a.graphics.units != b.graphics.units
        || a.graphics.precision != b.graphics.precision
        || a.enum_strings != b.enum_strings
}
