//! Values for PVs: what converts into a [`Value`], convenience reads of one,
//! and the resizing a channel's element count asks for.

use crate::proto::command::mask;
use crate::proto::dbr::{Metadata, NativeType, Value};

/// Things that can become a [`Value`]: scalars, vectors and strings of the
/// native types, so examples can write `Pv::new("x", 1.5)`.
pub trait IntoValue {
    /// Convert into a value.
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

macro_rules! into_value {
    ($t:ty, $variant:ident) => {
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::$variant(vec![self])
            }
        }
        impl IntoValue for Vec<$t> {
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }
        impl<const N: usize> IntoValue for [$t; N] {
            fn into_value(self) -> Value {
                Value::$variant(self.to_vec())
            }
        }
    };
}
into_value!(f64, Double);
into_value!(f32, Float);
into_value!(i32, Long);
into_value!(i16, Short);
into_value!(u8, Char);

impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::String(vec![self.to_string()])
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::String(vec![self])
    }
}
impl IntoValue for Vec<String> {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

/// Convenience reads of a value's first element.
pub trait ValueExt {
    /// First element as f64 (numbers and enums; strings are parsed).
    fn as_f64(&self) -> Option<f64>;
}

impl ValueExt for Value {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => v.first().copied(),
            Value::Float(v) => v.first().map(|&x| f64::from(x)),
            Value::Long(v) => v.first().map(|&x| f64::from(x)),
            Value::Short(v) => v.first().map(|&x| f64::from(x)),
            Value::Enum(v) => v.first().map(|&x| f64::from(x)),
            Value::Char(v) => v.first().map(|&x| f64::from(x)),
            Value::String(v) => v.first().and_then(|s| s.trim().parse().ok()),
        }
    }
}
/// Shorten a value to `n` elements.
pub(crate) fn truncate(value: &mut Value, n: usize) {
    match value {
        Value::String(v) => v.truncate(n),
        Value::Short(v) => v.truncate(n),
        Value::Float(v) => v.truncate(n),
        Value::Enum(v) => v.truncate(n),
        Value::Char(v) => v.truncate(n),
        Value::Long(v) => v.truncate(n),
        Value::Double(v) => v.truncate(n),
    }
}

/// Lengthen a value to `n` elements with zeros (empty strings), as EPICS
/// does when a client asks for more elements than the value holds.
pub(crate) fn pad(value: &mut Value, n: usize) {
    match value {
        Value::String(v) => v.resize(n, String::new()),
        Value::Short(v) => v.resize(n, 0),
        Value::Float(v) => v.resize(n, 0.0),
        Value::Enum(v) => v.resize(n, 0),
        Value::Char(v) => v.resize(n, 0),
        Value::Long(v) => v.resize(n, 0),
        Value::Double(v) => v.resize(n, 0.0),
    }
}

/// The record type a PV reports for DBR_CLASS_NAME when its builder names none.
pub(super) fn default_record_type(native: NativeType, count: usize) -> &'static str {
    if count > 1 {
        return "waveform";
    }
    match native {
        NativeType::String => "stringin",
        NativeType::Enum => "mbbi",
        NativeType::Long | NativeType::Short | NativeType::Char => "longin",
        NativeType::Float | NativeType::Double => "ai",
    }
}

/// The DBE bits a metadata change posts: ALARM for status or severity, PROPERTY for
/// limits, units, precision or enum strings.
pub(super) fn change_mask(old: &Metadata, new: &Metadata) -> u16 {
    let mut m = 0;
    if old.status != new.status || old.severity != new.severity {
        m |= mask::ALARM;
    }
    if old.graphics != new.graphics
        || old.control != new.control
        || old.enum_strings != new.enum_strings
    {
        m |= mask::PROPERTY;
    }
    m
}
