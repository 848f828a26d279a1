//! Encoding a [`Value`] and [`Metadata`] as a DBR payload.

use super::layout::{fields, payload_size, Field};
use super::wire::{put_field_text, put_number_from_f64};
use super::{
    DbrError, DbrType, Metadata, Value, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
    MAX_UNITS_SIZE,
};

/// Append the wire form of `value` as `dbr_type` (unpadded), taking from `meta`
/// the fields that type carries. `value` must already be of `dbr_type`'s native
/// type (see [`Value::convert`]); PUT_ACKT and PUT_ACKS also take an ENUM value.
///
/// On error nothing is appended.
pub fn encode(
    dbr_type: DbrType,
    value: &Value,
    meta: &Metadata,
    out: &mut Vec<u8>,
) -> Result<(), DbrError> {
    let native = dbr_type.native();
    let matches = value.native_type() == native
        || (matches!(dbr_type, DbrType::PutAckt | DbrType::PutAcks)
            && matches!(value, Value::Enum(_)));
    if !matches {
        return Err(DbrError::WrongValueType {
            dbr_type,
            got: value.native_type(),
        });
    }
    let start = out.len();
    out.reserve(payload_size(dbr_type, value.len()).min(1 << 24));
    let result = encode_metadata(dbr_type, meta, out).and_then(|()| encode_value(value, out));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Append the metadata fields of `dbr_type` in wire order.
fn encode_metadata(dbr_type: DbrType, m: &Metadata, out: &mut Vec<u8>) -> Result<(), DbrError> {
    let native = dbr_type.native();
    for &field in fields(dbr_type) {
        match field {
            Field::Status => out.extend_from_slice(&m.status.0.to_be_bytes()),
            Field::Severity => out.extend_from_slice(&m.severity.0.to_be_bytes()),
            Field::Stamp => {
                out.extend_from_slice(&m.stamp.secs.to_be_bytes());
                out.extend_from_slice(&m.stamp.nanos.to_be_bytes());
            }
            Field::Pad(n) => out.resize(out.len() + n, 0),
            Field::Precision => out.extend_from_slice(&m.graphics.precision.to_be_bytes()),
            Field::Units => put_field_text(out, &m.graphics.units, MAX_UNITS_SIZE, "units")?,
            Field::Graphics => {
                let g = &m.graphics;
                for v in [
                    g.upper_disp_limit,
                    g.lower_disp_limit,
                    g.upper_alarm_limit,
                    g.upper_warning_limit,
                    g.lower_warning_limit,
                    g.lower_alarm_limit,
                ] {
                    put_number_from_f64(out, native, v);
                }
            }
            Field::Control => {
                put_number_from_f64(out, native, m.control.upper_ctrl_limit);
                put_number_from_f64(out, native, m.control.lower_ctrl_limit);
            }
            Field::EnumStrings => {
                let n = m.enum_strings.len();
                if n > MAX_ENUM_STATES {
                    return Err(DbrError::TooManyEnumStrings(n));
                }
                out.extend_from_slice(&(n as u16).to_be_bytes());
                for s in &m.enum_strings {
                    put_field_text(out, s, MAX_ENUM_STRING_SIZE, "enum")?;
                }
                out.resize(out.len() + (MAX_ENUM_STATES - n) * MAX_ENUM_STRING_SIZE, 0);
            }
            Field::Ackt => out.extend_from_slice(&m.ackt.to_be_bytes()),
            Field::Acks => out.extend_from_slice(&m.acks.0.to_be_bytes()),
        }
    }
    Ok(())
}

/// Append the elements, big-endian.
fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), DbrError> {
    match value {
        Value::String(v) => {
            for s in v {
                put_field_text(out, s, MAX_STRING_SIZE, "value")?;
            }
        }
        Value::Short(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        Value::Float(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        Value::Enum(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        Value::Char(v) => out.extend_from_slice(v),
        Value::Long(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        Value::Double(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
    }
    Ok(())
}
