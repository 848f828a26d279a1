//! Field values from `.db` text, in the Channel Access type of their field.

use super::fields::Dbf;
use crate::proto::dbr::{NativeType, Value};

/// A number as EPICS's `dbPutString` reads one: decimal, `0x` hex, or a
/// float (truncated toward zero for integer fields).
fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0.0);
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(|x| x as f64);
    }
    t.parse::<f64>().ok()
}

/// Parse `text` for a field of type `dbf` (not VAL: see [`parse_val`]).
pub(super) fn parse(dbf: Dbf, text: &str) -> Option<Value> {
    Some(match dbf {
        Dbf::Str | Dbf::Link => {
            if text.len() > 39 && dbf == Dbf::Str {
                return None;
            }
            Value::String(vec![text.to_string()])
        }
        Dbf::Short => Value::Short(vec![
            int_in(number(text)?, i16::MIN.into(), i16::MAX.into())? as i16,
        ]),
        Dbf::Long => Value::Long(vec![
            int_in(number(text)?, i32::MIN.into(), i32::MAX.into())? as i32,
        ]),
        Dbf::Char => Value::Char(vec![int_in(number(text)?, 0.0, 255.0)? as u8]),
        Dbf::ULong => Value::Double(vec![int_in(number(text)?, 0.0, f64::from(u32::MAX))?]),
        Dbf::Double | Dbf::Val => Value::Double(vec![number(text)?]),
        Dbf::Menu(choices) => {
            let t = text.trim();
            let i = match choices.iter().position(|c| *c == t) {
                Some(i) => i,
                None => {
                    let n: usize = t.parse().ok()?;
                    (n < choices.len()).then_some(n)?
                }
            };
            Value::Enum(vec![i as u16])
        }
    })
}

fn int_in(x: f64, lo: f64, hi: f64) -> Option<f64> {
    let x = x.trunc();
    (x >= lo && x <= hi).then_some(x)
}

/// Parse a VAL given in the file (or by a constant link) for VAL's type.
pub(super) fn parse_val(native: NativeType, text: &str) -> Option<Value> {
    Some(match native {
        NativeType::String => Value::String(vec![text.to_string()]),
        NativeType::Double => Value::Double(vec![number(text)?]),
        NativeType::Float => Value::Float(vec![number(text)? as f32]),
        NativeType::Long => {
            Value::Long(vec![
                int_in(number(text)?, i32::MIN.into(), i32::MAX.into())? as i32,
            ])
        }
        NativeType::Short => {
            Value::Short(vec![
                int_in(number(text)?, i16::MIN.into(), i16::MAX.into())? as i16,
            ])
        }
        NativeType::Char => Value::Char(vec![int_in(number(text)?, 0.0, 255.0)? as u8]),
        NativeType::Enum => Value::Enum(vec![int_in(number(text)?, 0.0, 65535.0)? as u16]),
    })
}

/// A number stored in a field of type `dbf`.
pub(super) fn number_value(dbf: Dbf, x: f64) -> Value {
    match dbf {
        Dbf::Long => Value::Long(vec![x as i32]),
        Dbf::Short => Value::Short(vec![x as i16]),
        _ => Value::Double(vec![x]),
    }
}

/// Whether a client's write to a field of type `dbf` (already in its
/// Channel Access type) fits: menu indices in range, strings short enough.
pub(super) fn fits(dbf: Dbf, v: &Value) -> bool {
    match (&dbf, v) {
        (Dbf::Menu(choices), Value::Enum(x)) => x.iter().all(|&i| usize::from(i) < choices.len()),
        (Dbf::Str, Value::String(s)) => s.iter().all(|s| s.len() <= 39),
        _ => true,
    }
}
