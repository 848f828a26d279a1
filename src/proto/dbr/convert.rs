//! Conversion between native types, the way an IOC converts a field when a
//! client asks for another type (EPICS `dbConvert`), plus caput-style parsing
//! of text and the char-array "long string" helpers.
//!
//! Rules:
//! * number -> number: through f64 (exact for every native type), then a
//!   truncating, saturating cast (NaN -> 0); double -> float clamps finite
//!   values to the float range like `epicsConvertDoubleToFloat`. (EPICS wraps
//!   integers that overflow; saturating is the deliberate, defined choice.)
//! * number -> string: integers in decimal; FLOAT/DOUBLE like EPICS
//!   `cvtFloatToString`/`cvtDoubleToString` with the record's precision
//!   (6 when none is given, as `dbConvert` uses).
//! * string -> number: surrounding whitespace ignored, empty text is 0,
//!   decimal or `0x` hex integers, and floating text truncated for integer
//!   types; anything else is [`DbrError::BadNumber`], values that do not fit
//!   are [`DbrError::OutOfRange`].
//! * enum <-> string: through the state strings; a string that is not a
//!   state may be the index in decimal; an index without a state string
//!   prints as its number.
//! * char <-> string is element-wise (`[72, 105]` <-> `["72", "105"]`), as in
//!   EPICS; for char arrays holding one long string see
//!   [`Value::from_long_string`] and [`Value::to_long_string`].

use super::wire::field_text;
use super::{DbrError, NativeType, Value, MAX_STRING_SIZE};

/// Precision used for FLOAT/DOUBLE -> STRING when the field has none (EPICS's default).
pub const DEFAULT_STRING_PRECISION: i16 = 6;

/// Saturating numeric casts shared by conversion and by limit encoding.
pub(crate) mod cast {
    /// Truncate toward zero and saturate; NaN gives 0.
    pub(crate) fn f64_to_i16(v: f64) -> i16 {
        v as i16
    }
    /// Truncate toward zero and saturate; NaN gives 0.
    pub(crate) fn f64_to_u16(v: f64) -> u16 {
        v as u16
    }
    /// Truncate toward zero and saturate; NaN gives 0.
    pub(crate) fn f64_to_u8(v: f64) -> u8 {
        v as u8
    }
    /// Truncate toward zero and saturate; NaN gives 0.
    pub(crate) fn f64_to_i32(v: f64) -> i32 {
        v as i32
    }
    /// Finite values clamp to the float range; infinities and NaN pass through.
    pub(crate) fn f64_to_f32(v: f64) -> f32 {
        if v.is_finite() {
            v.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
        } else {
            v as f32
        }
    }
}

impl Value {
    /// Convert to another native type the way an IOC does when a client asks
    /// for a different type than the field's (numbers <-> strings, enums via
    /// `enum_strings`). FLOAT/DOUBLE -> STRING uses precision 6; see
    /// [`Value::convert_with_precision`] to pass the field's own.
    pub fn convert(&self, to: NativeType, enum_strings: &[String]) -> Result<Value, DbrError> {
        self.convert_with_precision(to, enum_strings, DEFAULT_STRING_PRECISION)
    }

    /// [`Value::convert`] with the precision (the record's PREC, i.e.
    /// `Graphics::precision`) used for FLOAT/DOUBLE -> STRING. Negative
    /// precision counts as 0.
    pub fn convert_with_precision(
        &self,
        to: NativeType,
        enum_strings: &[String],
        precision: i16,
    ) -> Result<Value, DbrError> {
        if self.native_type() == to {
            return Ok(self.clone());
        }
        let prec = u16::try_from(precision).unwrap_or(0);
        match (self, to) {
            (Value::String(v), _) => from_text(v.iter().map(String::as_str), to, enum_strings),
            (_, NativeType::String) => Ok(Value::String(self.to_texts(enum_strings, prec))),
            _ => Ok(self.numbers_into(to)),
        }
    }

    /// Parse command-line words (caput style) into a value of `native`:
    /// enum states by name or index, numbers as in [`Value::convert`], and
    /// strings checked to fit the 40-byte wire field.
    pub fn from_strings(
        native: NativeType,
        words: &[&str],
        enum_strings: &[String],
    ) -> Result<Value, DbrError> {
        if native == NativeType::String {
            for w in words {
                if w.len() >= MAX_STRING_SIZE {
                    return Err(DbrError::StringTooLong {
                        field: "value",
                        len: w.len(),
                        max: MAX_STRING_SIZE - 1,
                    });
                }
            }
        }
        from_text(words.iter().copied(), native, enum_strings)
    }

    /// A CHAR array holding `text` NUL-terminated, as EPICS "long strings"
    /// (`PV.VAL$`, `caput -S`) carry text longer than 39 bytes.
    pub fn from_long_string(text: &str) -> Value {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        Value::Char(bytes)
    }

    /// The text of a long string: a CHAR array read up to its first NUL
    /// (invalid UTF-8 read as Latin-1), or the first element of a STRING
    /// value. `None` for other types.
    pub fn to_long_string(&self) -> Option<String> {
        match self {
            Value::Char(bytes) => Some(field_text(bytes)),
            Value::String(v) => Some(v.first().cloned().unwrap_or_default()),
            _ => None,
        }
    }

    /// Each element as f64 (exact for every numeric type); `None` for STRING.
    pub fn to_f64s(&self) -> Option<Vec<f64>> {
        Some(match self {
            Value::String(_) => return None,
            Value::Short(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Float(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Enum(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Char(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Long(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Double(v) => v.clone(),
        })
    }

    /// Numeric (non-string) value into another numeric type.
    fn numbers_into(&self, to: NativeType) -> Value {
        let nums = self.to_f64s().unwrap_or_default();
        let it = nums.into_iter();
        match to {
            NativeType::Short => Value::Short(it.map(cast::f64_to_i16).collect()),
            NativeType::Float => Value::Float(it.map(cast::f64_to_f32).collect()),
            NativeType::Enum => Value::Enum(it.map(cast::f64_to_u16).collect()),
            NativeType::Char => Value::Char(it.map(cast::f64_to_u8).collect()),
            NativeType::Long => Value::Long(it.map(cast::f64_to_i32).collect()),
            NativeType::Double => Value::Double(it.collect()),
            NativeType::String => Value::String(Vec::new()),
        }
    }

    /// Numeric value formatted element-wise as EPICS does.
    fn to_texts(&self, enum_strings: &[String], prec: u16) -> Vec<String> {
        match self {
            Value::String(v) => v.clone(),
            Value::Short(v) => v.iter().map(i16::to_string).collect(),
            Value::Float(v) => v.iter().map(|&x| format_float(x, prec)).collect(),
            Value::Enum(v) => v
                .iter()
                .map(|&i| match enum_strings.get(usize::from(i)) {
                    Some(s) => s.clone(),
                    None => i.to_string(),
                })
                .collect(),
            Value::Char(v) => v.iter().map(u8::to_string).collect(),
            Value::Long(v) => v.iter().map(i32::to_string).collect(),
            Value::Double(v) => v.iter().map(|&x| format_double(x, prec)).collect(),
        }
    }
}

/// Parse each text into an element of `to`.
fn from_text<'a>(
    texts: impl Iterator<Item = &'a str>,
    to: NativeType,
    enum_strings: &[String],
) -> Result<Value, DbrError> {
    Ok(match to {
        NativeType::String => Value::String(texts.map(str::to_owned).collect()),
        NativeType::Short => Value::Short(collect(texts, |t| parse_int(t, to))?),
        NativeType::Long => Value::Long(collect(texts, |t| parse_int(t, to))?),
        NativeType::Char => Value::Char(collect(texts, |t| {
            // DBF_CHAR is signed in records, DBR_CHAR unsigned on the wire:
            // accept both ranges, negatives as their two's-complement byte.
            parse_int::<i16>(t, to).and_then(|v| {
                u8::try_from(v)
                    .or_else(|_| i8::try_from(v).map(|s| s as u8))
                    .map_err(|_| out_of_range(t, to))
            })
        })?),
        NativeType::Enum => Value::Enum(collect(texts, |t| parse_enum(t, enum_strings))?),
        NativeType::Float => Value::Float(collect(texts, |t| {
            let v = parse_float(t, to)?;
            if v.is_finite() && v.abs() > f64::from(f32::MAX) {
                return Err(out_of_range(t, to));
            }
            Ok(v as f32)
        })?),
        NativeType::Double => Value::Double(collect(texts, |t| parse_float(t, to))?),
    })
}

fn collect<'a, T>(
    texts: impl Iterator<Item = &'a str>,
    f: impl Fn(&str) -> Result<T, DbrError>,
) -> Result<Vec<T>, DbrError> {
    texts.map(f).collect()
}

fn bad_number(text: &str, to: NativeType) -> DbrError {
    DbrError::BadNumber {
        text: text.to_owned(),
        to,
    }
}

fn out_of_range(text: &str, to: NativeType) -> DbrError {
    DbrError::OutOfRange {
        text: text.to_owned(),
        to,
    }
}

/// Text to an integer type: decimal or `0x` hex; floating text is truncated.
fn parse_int<T: TryFrom<i64>>(text: &str, to: NativeType) -> Result<T, DbrError> {
    let t = text.trim();
    if t.is_empty() {
        return T::try_from(0).map_err(|_| out_of_range(text, to));
    }
    let (neg, digits) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let hex = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"));
    let whole: Option<i64> = match hex {
        Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(i64::from_str_radix(h, 16).ok().unwrap_or(i64::MAX))
        }
        Some(_) => return Err(bad_number(text, to)),
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<i64>().ok().unwrap_or(i64::MAX))
        }
        None => None,
    };
    let n = match whole {
        Some(n) => {
            if neg {
                -n
            } else {
                n
            }
        }
        None => {
            let f = parse_float(text, to)?;
            if !f.is_finite() || f.abs() >= 9.2e18 {
                return Err(out_of_range(text, to));
            }
            f.trunc() as i64
        }
    };
    T::try_from(n).map_err(|_| out_of_range(text, to))
}

/// Text to f64: empty is 0; `inf`, `nan` and exponents accepted.
fn parse_float(text: &str, to: NativeType) -> Result<f64, DbrError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0.0);
    }
    t.parse::<f64>().map_err(|_| bad_number(text, to))
}

/// Text to an enum index: a state string, else its index in decimal.
fn parse_enum(text: &str, enum_strings: &[String]) -> Result<u16, DbrError> {
    if let Some(i) = enum_strings.iter().position(|s| s == text) {
        if let Ok(i) = u16::try_from(i) {
            return Ok(i);
        }
    }
    let bad = || DbrError::BadEnumString {
        text: text.to_owned(),
        states: enum_strings.len(),
    };
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let i: u16 = t.parse().map_err(|_| bad())?;
    if !enum_strings.is_empty() && usize::from(i) >= enum_strings.len() {
        return Err(bad());
    }
    Ok(i)
}

/// C's `%.{prec}e` (mantissa, `e`, sign, at least two exponent digits),
/// right-aligned in `width`.
fn c_exp(v: f64, prec: usize, width: usize) -> String {
    let s = if v.is_nan() {
        "nan".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        let r = format!("{v:.prec$e}");
        match r.split_once('e') {
            Some((mant, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mant}e{sign}{digits:0>2}")
            }
            None => r,
        }
    };
    format!("{s:>width$}")
}

/// C's `%.{prec}f`.
fn c_fixed(v: f64, prec: usize) -> String {
    if v.is_nan() {
        "nan".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{v:.prec$}")
    }
}

/// EPICS's fast fixed-point rendering: the fraction is truncated to one
/// extra digit and then rounded half up. `whole` and `frac` are |v|'s parts.
fn fast_fixed(neg: bool, whole: i64, scaled_frac_x10: i64, prec: u16) -> String {
    let mult = 10i64.pow(u32::from(prec));
    let mut whole = whole;
    let mut frac = (scaled_frac_x10 + 5) / 10;
    if frac >= mult {
        whole += 1;
        frac -= mult;
    }
    let sign = if neg { "-" } else { "" };
    if prec == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0>width$}", width = usize::from(prec))
    }
}

/// A DOUBLE as EPICS `cvtDoubleToString` renders it with `prec` digits.
pub fn format_double(v: f64, prec: u16) -> String {
    if v.is_nan() || prec > 8 || v.abs() > 1e7 {
        if prec > 8 || v.abs() > 1e16 {
            let p = usize::from(prec.min(17));
            return c_exp(v, p, usize::from(prec) + 7);
        }
        return c_fixed(v, usize::from(prec.min(3)));
    }
    let neg = v < 0.0;
    let a = v.abs();
    let whole = a.trunc();
    let mult = 10i64.pow(u32::from(prec)) as f64;
    let scaled = ((a - whole) * mult * 10.0) as i64;
    fast_fixed(neg, whole as i64, scaled, prec)
}

/// A FLOAT as EPICS `cvtFloatToString` renders it with `prec` digits
/// (arithmetic in single precision, as there).
pub fn format_float(v: f32, prec: u16) -> String {
    if v.is_nan() || prec > 8 || v.abs() > 1e7 {
        if prec > 8 || v.abs() >= 1e8 {
            let p = usize::from(prec.min(12));
            return c_exp(f64::from(v), p, usize::from(prec) + 6);
        }
        return c_fixed(f64::from(v), usize::from(prec.min(3)));
    }
    let neg = v < 0.0;
    let a = v.abs();
    let whole = a.trunc();
    let mult = 10i64.pow(u32::from(prec)) as f32;
    let scaled = ((a - whole) * mult * 10.0) as i64;
    fast_fixed(neg, whole as i64, scaled, prec)
}
