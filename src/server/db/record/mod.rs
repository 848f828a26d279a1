//! Records as EPICS runs them: each supported type's fields, and what one
//! processing does to them. Pure: no I/O, no clock, no locks.
//!
//! A [`Record`] is built from a parsed [`RecordDef`]
//! ([`Record::new`] refuses unknown types, unknown fields and values a
//! field cannot hold, naming the line). The server shell
//! ([`crate::server::db::DbIoc`]) drives it:
//!
//! 1. [`Record::input_links`] says which links to read; the shell reads the
//!    target fields (processing PP targets first) and hands them back;
//! 2. [`Record::process`] (with `now` passed in) runs the record type's
//!    logic, computes STAT/SEVR as EPICS does (UDF, limits with HYST,
//!    states, change of state, link severities), applies the MDEL/ADEL
//!    deadbands and returns a [`Processed`]: the events to post on VAL, the
//!    other fields that changed, and the value to write to an output link;
//! 3. the shell posts, writes the output, follows FLNK and CP links.
//!
//! Field writes from clients go through [`Record::put_field`], which says
//! whether the write should process the record (VAL, A..L, PROC of a
//! passive record), as EPICS's `dbPutField` does.

pub mod fields;
mod hot;
mod kind;
pub mod link;
pub mod meta;
mod process;
mod put;
mod quick;
mod table;
mod value;

use std::cell::OnceCell;
use std::fmt;

use crate::proto::calc::{CalcExpr, CalcRandom};
use crate::proto::dbr::{NativeType, Value};
use crate::proto::status::{AlarmSeverity, AlarmStatus};

use super::alarm::{AnalogAlarm, AnalogLimits};
use super::RecordDef;
use fields::{Dbf, FieldDef};
pub use hot::Links;
use kind::Kind;
pub use link::Link;
pub use process::{Inputs, Processed};
pub use quick::QuickPut;
use table::{table, Table};

/// The record types a `.db` file may use here.
pub fn supported_types() -> impl Iterator<Item = &'static str> {
    fields::TYPES.iter().map(|(t, _)| *t)
}

/// Why a record definition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// A record type this server does not implement.
    UnsupportedType(String),
    /// A field the record type does not have.
    NoSuchField(String),
    /// A value the field cannot hold.
    BadValue {
        /// The field.
        field: String,
        /// The value given.
        value: String,
    },
    /// A CALC expression that does not compile.
    BadCalc {
        /// The field (CALC or OCAL).
        field: String,
        /// The expression.
        value: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::UnsupportedType(t) => write!(
                f,
                "record type \"{t}\" is not supported here (supported: {})",
                supported_types().collect::<Vec<_>>().join(", ")
            ),
            RecordError::NoSuchField(n) => write!(f, "no field \"{n}\""),
            RecordError::BadValue { field, value } => {
                write!(f, "can't set {field} to \"{value}\"")
            }
            RecordError::BadCalc {
                field,
                value,
                reason,
            } => write!(f, "can't set {field} to \"{value}\": {reason}"),
        }
    }
}

impl RecordError {
    /// The message for record `name` of type `rtyp`, worded as softIoc's.
    pub fn describe(&self, rtyp: &str, name: &str) -> String {
        match self {
            RecordError::UnsupportedType(_) => format!("record \"{name}\": {self}"),
            RecordError::NoSuchField(n) => {
                format!("{rtyp} record \"{name}\" does not have a field \"{n}\"")
            }
            RecordError::BadValue { field, value } => {
                format!("can't set \"{name}.{field}\" to \"{value}\"")
            }
            RecordError::BadCalc {
                field,
                value,
                reason,
            } => format!("can't set \"{name}.{field}\" to \"{value}\": {reason}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Most elements a waveform may hold (NELM): 16 Mi, so that a typo in a
/// file cannot make the server allocate gigabytes for a client's read.
pub const MAX_ELEMENTS: usize = 1 << 24;

/// One record: its fields (only those differing from the defaults are
/// stored) and the state EPICS keeps between processings.
#[derive(Debug, Clone)]
pub struct Record {
    name: String,
    rtyp: &'static str,
    /// `rtyp` for the processing to branch on.
    kind: Kind,
    defs: &'static [FieldDef],
    table: &'static Table,
    set: Vec<(u16, Value)>,
    val: Value,
    val_native: NativeType,
    val_count: usize,
    status: AlarmStatus,
    severity: AlarmSeverity,
    udf: bool,
    stamp: crate::proto::dbr::EpicsTime,
    alarm: AnalogAlarm,
    mlst: f64,
    alst: f64,
    lalm_state: f64,
    last_string: String,
    calc: Option<CalcExpr>,
    ocal: Option<CalcExpr>,
    random: CalcRandom,
    pval: f64,
    /// Alarm limits, VAL's metadata and the fields every processing reads
    /// ([`hot::Hot`]), as the fields give them, kept until a field is
    /// written (a put's cost was mostly looking these up by name).
    limits_cache: OnceCell<AnalogLimits>,
    meta_cache: OnceCell<crate::proto::dbr::Metadata>,
    hot_cache: OnceCell<hot::Hot>,
    /// Counts the writes that may have changed VAL's metadata (units,
    /// limits, enum strings...): the shell rebuilds and compares VAL's
    /// metadata only when this moved since its last post.
    meta_version: u64,
}

impl Record {
    /// A record from its definition, with every field checked.
    pub fn new(def: &RecordDef) -> Result<Record, (RecordError, u32)> {
        let rtyp = fields::TYPES
            .iter()
            .map(|(t, _)| *t)
            .find(|t| *t == def.rtyp)
            .ok_or((
                RecordError::UnsupportedType(def.rtyp.clone()),
                def.location.line,
            ))?;
        let kind = Kind::of(rtyp).ok_or((
            RecordError::UnsupportedType(def.rtyp.clone()),
            def.location.line,
        ))?;
        let table = table(rtyp).ok_or((
            RecordError::UnsupportedType(def.rtyp.clone()),
            def.location.line,
        ))?;
        let defs = table.defs.as_slice();
        let mut rec = Record {
            name: def.name.clone(),
            rtyp,
            kind,
            defs,
            table,
            set: Vec::new(),
            val: Value::Double(vec![0.0]),
            val_native: NativeType::Double,
            val_count: 1,
            status: AlarmStatus::UDF,
            severity: AlarmSeverity::INVALID,
            udf: true,
            stamp: Default::default(),
            alarm: AnalogAlarm::default(),
            mlst: 0.0,
            alst: 0.0,
            lalm_state: 0.0,
            last_string: String::new(),
            calc: None,
            ocal: None,
            random: CalcRandom::default(),
            pval: 0.0,
            limits_cache: OnceCell::new(),
            meta_cache: OnceCell::new(),
            hot_cache: OnceCell::new(),
            meta_version: 0,
        };
        // Type-defining fields first (FTVL and NELM make VAL's type).
        let mut val_text = None;
        for (name, text, loc) in &def.fields {
            let bad = |e| (e, loc.line);
            match name.as_str() {
                "VAL" => val_text = Some((text.clone(), loc.line)),
                _ => {
                    let idx = rec
                        .index(name)
                        .ok_or_else(|| bad(RecordError::NoSuchField(name.clone())))?;
                    let v = value::parse(rec.defs[idx].dbf, text).ok_or_else(|| {
                        bad(RecordError::BadValue {
                            field: name.clone(),
                            value: text.clone(),
                        })
                    })?;
                    rec.store(idx, v);
                }
            }
        }
        rec.init_val();
        if rec.val_count > MAX_ELEMENTS {
            let line = def
                .fields
                .iter()
                .find(|(n, _, _)| n == "NELM")
                .map_or(def.location.line, |(_, _, l)| l.line);
            return Err((
                RecordError::BadValue {
                    field: "NELM".into(),
                    value: rec.val_count.to_string(),
                },
                line,
            ));
        }
        if let Some((text, line)) = val_text {
            let v = value::parse_val(rec.val_native, &text).ok_or((
                RecordError::BadValue {
                    field: "VAL".into(),
                    value: text.clone(),
                },
                line,
            ))?;
            rec.val = rec.fit(v);
            rec.udf = false;
        }
        for (field, slot) in [("CALC", 0), ("OCAL", 1)] {
            if rec.index(field).is_none() {
                continue;
            }
            let text = rec.string(field);
            let line = def
                .fields
                .iter()
                .find(|(n, _, _)| n == field)
                .map_or(def.location.line, |(_, _, l)| l.line);
            let expr = CalcExpr::compile(&text).map_err(|e| {
                (
                    RecordError::BadCalc {
                        field: field.into(),
                        value: text.clone(),
                        reason: e.to_string(),
                    },
                    line,
                )
            })?;
            if slot == 0 {
                rec.calc = Some(expr);
            } else {
                rec.ocal = Some(expr);
            }
        }
        rec.init_constants();
        rec.udf = rec.udf && rec.num("UDF") != 0.0;
        if !rec.udf {
            rec.severity = AlarmSeverity::NO_ALARM;
        }
        rec.mlst = rec.val_f64();
        rec.alst = rec.mlst;
        rec.lalm_state = rec.mlst;
        rec.last_string = rec.val_string();
        Ok(rec)
    }

    /// Record name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Record type.
    pub fn rtyp(&self) -> &'static str {
        self.rtyp
    }

    /// Every field of the record's type.
    pub fn field_defs(&self) -> &'static [FieldDef] {
        self.defs
    }

    /// The definition of field `name`.
    pub fn field_def(&self, name: &str) -> Option<&'static FieldDef> {
        self.index(name).map(|i| &self.defs[i])
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.table.index.get(name).copied()
    }

    /// VAL's Channel Access type and element count.
    pub fn val_type(&self) -> (NativeType, usize) {
        (self.val_native, self.val_count)
    }

    /// The current VAL.
    pub fn val(&self) -> &Value {
        &self.val
    }

    /// Current alarm status and severity.
    pub fn alarm(&self) -> (AlarmStatus, AlarmSeverity) {
        (self.status, self.severity)
    }

    /// Time of the last processing (zero: never processed).
    pub fn stamp(&self) -> crate::proto::dbr::EpicsTime {
        self.stamp
    }

    /// The value of field `name` in its Channel Access type.
    pub fn get(&self, name: &str) -> Option<Value> {
        let idx = self.index(name)?;
        Some(self.get_index(idx))
    }

    fn get_index(&self, idx: usize) -> Value {
        let def = &self.defs[idx];
        match def.name {
            "VAL" => return self.val.clone(),
            "NAME" => return Value::String(vec![self.name.clone()]),
            "RTYP" => return Value::String(vec![self.rtyp.to_string()]),
            "STAT" => return Value::Enum(vec![self.status.0]),
            "SEVR" => return Value::Enum(vec![self.severity.0]),
            "UDF" => return Value::Char(vec![u8::from(self.udf)]),
            "MLST" => return value::number_value(def.dbf, self.mlst),
            "ALST" => return value::number_value(def.dbf, self.alst),
            "LALM" => return value::number_value(def.dbf, self.alarm.lalm),
            "NORD" => return Value::Double(vec![self.nord() as f64]),
            "PVAL" => return Value::Double(vec![self.pval]),
            _ => {}
        }
        let stored = match self.set.iter().find(|(i, _)| usize::from(*i) == idx) {
            Some((_, v)) => v.clone(),
            None => value::parse(def.dbf, def.default).unwrap_or(Value::Double(vec![0.0])),
        };
        match (def.dbf, stored) {
            (Dbf::Link, Value::String(text)) => {
                let link = Link::parse(text.first().map_or("", String::as_str));
                Value::String(vec![link.display(def.name == "FLNK")])
            }
            (_, v) => v,
        }
    }

    fn store(&mut self, idx: usize, v: Value) {
        if !self.table.data_only[idx] {
            self.limits_cache = OnceCell::new();
            self.meta_cache = OnceCell::new();
            self.hot_cache = OnceCell::new();
            self.meta_version = self.meta_version.wrapping_add(1);
        }
        match self.set.iter_mut().find(|(i, _)| usize::from(*i) == idx) {
            Some(slot) => slot.1 = v,
            None => self.set.push((idx as u16, v)),
        }
    }

    /// Field `name` as a number (0 when absent or not numeric). The
    /// processing reads a dozen fields this way each time, so a field left
    /// at its default is read from the table without building a value.
    pub fn num(&self, name: &str) -> f64 {
        use crate::server::ValueExt;
        let Some(idx) = self.index(name) else {
            return 0.0;
        };
        if self.table.special[idx] {
            return self.get_index(idx).as_f64().unwrap_or(0.0);
        }
        match self.set.iter().find(|(i, _)| usize::from(*i) == idx) {
            Some((_, v)) => v.as_f64().unwrap_or(0.0),
            None => self.table.default_num[idx],
        }
    }

    /// Field `name` as text (empty when absent).
    pub fn string(&self, name: &str) -> String {
        match self.get(name) {
            Some(Value::String(mut v)) if !v.is_empty() => v.swap_remove(0),
            _ => String::new(),
        }
    }

    /// Field `name` as a severity (menu index).
    pub fn sev(&self, name: &str) -> AlarmSeverity {
        AlarmSeverity(self.num(name) as u16)
    }

    /// Field `name` as a link.
    pub fn link(&self, name: &str) -> Link {
        let Some(idx) = self.index(name) else {
            return Link::None;
        };
        match self.set.iter().find(|(i, _)| usize::from(*i) == idx) {
            Some((_, Value::String(text))) => Link::parse(text.first().map_or("", String::as_str)),
            _ => Link::None,
        }
    }

    /// Whether SCAN is Passive.
    pub fn is_passive(&self) -> bool {
        self.hot().passive
    }

    /// Moves whenever a field write may have changed what
    /// [`Record::metadata`] gives besides alarm and time: equal versions
    /// mean equal units, precision, limits and enum strings.
    pub fn meta_version(&self) -> u64 {
        self.meta_version
    }

    /// VAL's first element as a number.
    #[inline]
    pub fn val_f64(&self) -> f64 {
        use crate::server::ValueExt;
        // Most records hold one double: read it without the general match.
        if let Value::Double(v) = &self.val {
            if let Some(&x) = v.first() {
                return x;
            }
        }
        self.val.as_f64().unwrap_or(0.0)
    }

    fn val_string(&self) -> String {
        match &self.val {
            Value::String(v) => v.first().cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Number of elements in VAL (waveform's NORD; 1 for other types).
    pub fn nord(&self) -> usize {
        if self.kind == Kind::Waveform {
            self.val.len()
        } else {
            1
        }
    }

    /// VAL's type from the record type (and FTVL, NELM), and its initial value.
    fn init_val(&mut self) {
        let (native, count) = match self.rtyp {
            "bi" | "bo" | "mbbi" | "mbbo" => (NativeType::Enum, 1),
            "longin" | "longout" => (NativeType::Long, 1),
            "stringin" | "stringout" => (NativeType::String, 1),
            "waveform" => (
                fields::waveform_type(self.num("FTVL") as u16),
                (self.num("NELM") as usize).max(1),
            ),
            _ => (NativeType::Double, 1),
        };
        self.val_native = native;
        self.val_count = count;
        let n = if self.rtyp == "waveform" { 0 } else { 1 };
        self.val = fields::zeros(native, n);
        if self.rtyp == "stringin" {
            self.udf = false;
        }
    }

    /// Constant input links set their fields at start-up, as EPICS's
    /// `recGblInitConstantLink` does.
    fn init_constants(&mut self) {
        let inputs: &[(&str, &str)] = match self.rtyp {
            "calc" | "calcout" => &[
                ("INPA", "A"),
                ("INPB", "B"),
                ("INPC", "C"),
                ("INPD", "D"),
                ("INPE", "E"),
                ("INPF", "F"),
                ("INPG", "G"),
                ("INPH", "H"),
                ("INPI", "I"),
                ("INPJ", "J"),
                ("INPK", "K"),
                ("INPL", "L"),
            ],
            "waveform" => &[],
            _ if self.index("INP").is_some() => &[("INP", "VAL")],
            _ if self.index("DOL").is_some() => &[("DOL", "VAL")],
            _ => &[],
        };
        for (link, field) in inputs {
            if let Link::Constant(c) = self.link(link) {
                if *field == "VAL" {
                    if let Some(v) = value::parse_val(self.val_native, &c) {
                        self.val = self.fit(v);
                        self.udf = false;
                    }
                } else if let (Some(idx), Ok(x)) = (self.index(field), c.parse::<f64>()) {
                    self.store(idx, Value::Double(vec![x]));
                }
            }
        }
    }

    /// A value converted to VAL's type and count.
    fn fit(&self, v: Value) -> Value {
        let mut v = if v.native_type() == self.val_native {
            v
        } else {
            v.convert(self.val_native, &self.enum_strings())
                .unwrap_or_else(|_| fields::zeros(self.val_native, 1))
        };
        if v.len() > self.val_count {
            crate::server::pv::truncate(&mut v, self.val_count);
        }
        v
    }
}

#[cfg(test)]
mod tests;
