//! Writes to a record's fields, from clients and output links, with
//! EPICS's rule for which writes process the record.

use crate::proto::calc::CalcExpr;
use crate::proto::dbr::{self, DbrError, DbrType, Value};

use super::fields::Dbf;
use super::{value, Kind, Record, RecordError};

impl Record {
    /// A client's write of `count` elements of plain `data_type` to VAL,
    /// decoded from the wire straight into VAL's storage: what
    /// [`Record::put_field`] does with the decoded value, without a value
    /// built for one put and dropped by the next. Returns whether the record
    /// should now be processed, or the payload's fault (VAL unchanged).
    /// `None` (nothing changed): the write needs converting or truncating,
    /// or the record is a waveform (whose NORD the write also sets): decode
    /// it and use [`Record::put_field`].
    pub fn put_val_plain(
        &mut self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<bool, DbrError>> {
        if self.kind == Kind::Waveform
            || count == 0
            || count as usize > self.val_count
            || data_type != DbrType::plain(self.val_native)
        {
            return None;
        }
        match dbr::decode_plain_into(data_type, count, data, &mut self.val) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(Err(e)),
        }
        self.udf = false;
        Some(Ok(self.is_passive()))
    }

    /// Write field `name` (from a client or an output link). Returns whether
    /// the record should now be processed (a passive record's VAL, A..L or
    /// PROC), or `Err` when the field does not exist or cannot take the value.
    pub fn put_field(&mut self, name: &str, v: Value) -> Result<bool, RecordError> {
        if name == "VAL" {
            // Every record type has VAL; a client's put to the record
            // comes here, so no lookup by name.
            self.val = self.fit(v);
            self.udf = false;
            return Ok(self.is_passive());
        }
        let idx = self
            .index(name)
            .ok_or_else(|| RecordError::NoSuchField(name.to_string()))?;
        let def = self.defs[idx];
        let bad = |v: &Value| RecordError::BadValue {
            field: name.to_string(),
            value: match v {
                Value::String(s) => s.join(" "),
                other => {
                    use crate::server::ValueExt;
                    other.as_f64().unwrap_or(0.0).to_string()
                }
            },
        };
        if def.name == "UDF" {
            use crate::server::ValueExt;
            self.udf = v.as_f64().unwrap_or(0.0) != 0.0;
            return Ok(false);
        }
        let native = def.dbf.native();
        let v = if v.native_type() == native {
            v
        } else {
            let strings: Vec<String> = match def.dbf {
                Dbf::Menu(m) => m.iter().map(|s| s.to_string()).collect(),
                _ => Vec::new(),
            };
            v.convert(native, &strings).map_err(|_| bad(&v))?
        };
        if !value::fits(def.dbf, &v) {
            return Err(bad(&v));
        }
        if def.name == "CALC" || def.name == "OCAL" {
            let text = match &v {
                Value::String(s) => s.first().cloned().unwrap_or_default(),
                _ => String::new(),
            };
            let expr = CalcExpr::compile(&text).map_err(|e| RecordError::BadCalc {
                field: def.name.into(),
                value: text.clone(),
                reason: e.to_string(),
            })?;
            if def.name == "CALC" {
                self.calc = Some(expr);
            } else {
                self.ocal = Some(expr);
            }
        }
        self.store(idx, v);
        Ok(def.name == "PROC" || (is_process_passive(self.rtyp, def.name) && self.is_passive()))
    }
}

/// Fields whose write processes a passive record (EPICS `pp(TRUE)`)
/// besides VAL: calc inputs A..L and the alarm limits and severities.
fn is_process_passive(rtyp: &str, field: &str) -> bool {
    if matches!(rtyp, "calc" | "calcout") && field.len() == 1 {
        return true;
    }
    matches!(
        field,
        "HIHI"
            | "HIGH"
            | "LOW"
            | "LOLO"
            | "HHSV"
            | "HSV"
            | "LSV"
            | "LLSV"
            | "ZSV"
            | "OSV"
            | "COSV"
            | "UNSV"
            | "DRVH"
            | "DRVL"
    ) || (field.len() == 4 && field.ends_with("SV") && rtyp.starts_with("mbb"))
}
