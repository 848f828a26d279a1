//! Decoding a received DBR payload into a [`Value`] and [`Metadata`].

use super::layout::{fields, payload_size, Field};
use super::wire::{fixed_field_text, Reader};
use super::{
    AlarmSeverity, AlarmStatus, DbrError, DbrType, EpicsTime, Metadata, NativeType, Value,
    MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE, MAX_UNITS_SIZE,
};

/// Decode a DBR payload of `count` elements (trailing padding is ignored).
/// Fills the metadata fields the type carries; others stay at their defaults.
///
/// The whole size is checked before anything is allocated, so a bogus count
/// gives [`DbrError::Truncated`] (or [`DbrError::CountTooLarge`]), never a
/// huge allocation or a panic.
pub fn decode(dbr_type: DbrType, count: u32, bytes: &[u8]) -> Result<(Value, Metadata), DbrError> {
    let n = usize::try_from(count).map_err(|_| DbrError::CountTooLarge(u64::from(count)))?;
    let needed = payload_size(dbr_type, n);
    if needed == usize::MAX {
        return Err(DbrError::CountTooLarge(u64::from(count)));
    }
    if bytes.len() < needed {
        return Err(DbrError::Truncated {
            needed,
            got: bytes.len(),
        });
    }
    let mut r = Reader::new(bytes);
    let meta = decode_metadata(dbr_type, &mut r)?;
    let value = decode_value(dbr_type.native(), n, &mut r)?;
    Ok((value, meta))
}

/// Decode the elements of a plain (metadata-free) payload into `value`,
/// reusing its storage: a server applying a client's write to a PV's
/// current value allocates nothing. Returns `Ok(false)`, leaving `value`
/// alone, when `dbr_type` carries metadata, is a string type, or is not of
/// `value`'s native type; use [`decode`] for those. The size is checked as
/// [`decode`] checks it, and trailing padding is ignored.
pub fn decode_plain_into(
    dbr_type: DbrType,
    count: u32,
    bytes: &[u8],
    value: &mut Value,
) -> Result<bool, DbrError> {
    let DbrType::Value(super::DbrClass::Plain, native) = dbr_type else {
        return Ok(false);
    };
    if native != value.native_type() || native == NativeType::String {
        return Ok(false);
    }
    let n = usize::try_from(count).map_err(|_| DbrError::CountTooLarge(u64::from(count)))?;
    let needed = payload_size(dbr_type, n);
    if needed == usize::MAX {
        return Err(DbrError::CountTooLarge(u64::from(count)));
    }
    let raw = bytes.get(..needed).ok_or(DbrError::Truncated {
        needed,
        got: bytes.len(),
    })?;
    match value {
        Value::Short(v) => refill(v, raw, i16::from_be_bytes),
        Value::Float(v) => refill(v, raw, f32::from_be_bytes),
        Value::Enum(v) => refill(v, raw, u16::from_be_bytes),
        Value::Long(v) => refill(v, raw, i32::from_be_bytes),
        Value::Double(v) => refill(v, raw, f64::from_be_bytes),
        Value::Char(v) => {
            v.clear();
            v.extend_from_slice(raw);
        }
        Value::String(_) => return Ok(false),
    }
    Ok(true)
}

/// [`decode_plain_into`] for a `value` of exactly one element and a write
/// of one: the element is overwritten in place, with no size table and no
/// loop (a database record's scalar VAL, written by every client put).
/// Returns `Ok(false)`, leaving `value` alone, when `dbr_type` is not plain
/// or not of `value`'s type, is a string type, or `value` does not hold
/// exactly one element. A payload shorter than one element is
/// [`DbrError::Truncated`], as from [`decode_plain_into`].
#[inline]
pub fn decode_plain_one(
    dbr_type: DbrType,
    bytes: &[u8],
    value: &mut Value,
) -> Result<bool, DbrError> {
    let DbrType::Value(super::DbrClass::Plain, native) = dbr_type else {
        return Ok(false);
    };
    match (native, value) {
        (NativeType::Double, Value::Double(v)) => one(v, bytes, f64::from_be_bytes),
        (NativeType::Long, Value::Long(v)) => one(v, bytes, i32::from_be_bytes),
        (NativeType::Short, Value::Short(v)) => one(v, bytes, i16::from_be_bytes),
        (NativeType::Float, Value::Float(v)) => one(v, bytes, f32::from_be_bytes),
        (NativeType::Enum, Value::Enum(v)) => one(v, bytes, u16::from_be_bytes),
        (NativeType::Char, Value::Char(v)) => one(v, bytes, u8::from_be_bytes),
        _ => Ok(false),
    }
}

/// Overwrite the one element of `slot` with the first `N` bytes of `raw`.
#[inline]
fn one<T, const N: usize>(
    slot: &mut [T],
    raw: &[u8],
    from: fn([u8; N]) -> T,
) -> Result<bool, DbrError> {
    let [x] = slot else {
        return Ok(false);
    };
    // Not `ok_or`: that builds (and drops, through a call) the error on
    // every write.
    let Some(bytes) = raw.first_chunk::<N>() else {
        return Err(DbrError::Truncated {
            needed: N,
            got: raw.len(),
        });
    };
    *x = from(*bytes);
    Ok(true)
}

/// Replace the elements of `v` with the `N`-byte big-endian elements of `raw`.
fn refill<T, const N: usize>(v: &mut Vec<T>, raw: &[u8], from: fn([u8; N]) -> T) {
    v.clear();
    v.extend(be_elements(raw, from));
}

/// Read the metadata fields of `dbr_type` in wire order.
fn decode_metadata(dbr_type: DbrType, r: &mut Reader<'_>) -> Result<Metadata, DbrError> {
    let native = dbr_type.native();
    let mut m = Metadata::default();
    for &field in fields(dbr_type) {
        match field {
            Field::Status => m.status = AlarmStatus(r.u16()?),
            Field::Severity => m.severity = AlarmSeverity(r.u16()?),
            Field::Stamp => {
                let secs = r.u32()?;
                let nanos = r.u32()?;
                m.stamp = EpicsTime { secs, nanos };
            }
            Field::Pad(n) => {
                r.take(n)?;
            }
            Field::Precision => m.graphics.precision = r.u16()? as i16,
            Field::Units => m.graphics.units = fixed_field_text(r.take(MAX_UNITS_SIZE)?),
            Field::Graphics => {
                let g = &mut m.graphics;
                g.upper_disp_limit = r.number_as_f64(native)?;
                g.lower_disp_limit = r.number_as_f64(native)?;
                g.upper_alarm_limit = r.number_as_f64(native)?;
                g.upper_warning_limit = r.number_as_f64(native)?;
                g.lower_warning_limit = r.number_as_f64(native)?;
                g.lower_alarm_limit = r.number_as_f64(native)?;
            }
            Field::Control => {
                m.control.upper_ctrl_limit = r.number_as_f64(native)?;
                m.control.lower_ctrl_limit = r.number_as_f64(native)?;
            }
            Field::EnumStrings => {
                let no_str = r.u16()? as i16;
                let used = usize::try_from(no_str)
                    .ok()
                    .filter(|&n| n <= MAX_ENUM_STATES)
                    .ok_or(DbrError::BadEnumCount(no_str))?;
                for i in 0..MAX_ENUM_STATES {
                    let slot = r.take(MAX_ENUM_STRING_SIZE)?;
                    if i < used {
                        m.enum_strings.push(fixed_field_text(slot));
                    }
                }
            }
            Field::Ackt => m.ackt = r.u16()?,
            Field::Acks => m.acks = AlarmSeverity(r.u16()?),
        }
    }
    Ok(m)
}

/// Read `n` elements of `native`.
fn decode_value(native: NativeType, n: usize, r: &mut Reader<'_>) -> Result<Value, DbrError> {
    let width = super::layout::element_size(native);
    let total = width
        .checked_mul(n)
        .ok_or(DbrError::CountTooLarge(n as u64))?;
    let raw = r.take(total)?;
    Ok(match native {
        NativeType::String => Value::String(
            raw.chunks_exact(MAX_STRING_SIZE)
                .map(fixed_field_text)
                .collect(),
        ),
        NativeType::Short => Value::Short(be_array(raw, i16::from_be_bytes)),
        NativeType::Float => Value::Float(be_array(raw, f32::from_be_bytes)),
        NativeType::Enum => Value::Enum(be_array(raw, u16::from_be_bytes)),
        NativeType::Char => Value::Char(raw.to_vec()),
        NativeType::Long => Value::Long(be_array(raw, i32::from_be_bytes)),
        NativeType::Double => Value::Double(be_array(raw, f64::from_be_bytes)),
    })
}

/// Split `raw` into `N`-byte big-endian elements.
fn be_array<T, const N: usize>(raw: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    be_elements(raw, from).collect()
}

/// The `N`-byte big-endian elements of `raw`.
fn be_elements<'a, T: 'a, const N: usize>(
    raw: &'a [u8],
    from: fn([u8; N]) -> T,
) -> impl Iterator<Item = T> + 'a {
    raw.chunks_exact(N)
        .map(move |c| from(c.try_into().unwrap_or([0; N])))
}
