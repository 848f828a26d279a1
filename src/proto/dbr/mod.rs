//! DBR ("database request") types: the 7 native types in their plain, STS,
//! TIME, GR and CTRL forms, plus PUT_ACKT, PUT_ACKS, STSACK_STRING and
//! CLASS_NAME; their exact wire layouts (padding included), the EPICS epoch,
//! and conversion between native and requested types.
//!
//! A value travels as a [`Value`] (the array of elements) plus a [`Metadata`]
//! (every metadata field any DBR class can carry). The requested [`DbrType`]
//! decides which metadata fields go on the wire, so a server holds one
//! `Value` + `Metadata` per PV and can answer any request from it.
//!
//! Files: `layout` (field order, pads, sizes), `encode` / `decode` (the codec,
//! never panicking, bounded allocation), `convert` (IOC-style type conversion
//! and caput parsing), `time` (EPICS epoch), `display` (log-line rendering),
//! `error` ([`DbrError`]), `wire` (big-endian and fixed-string helpers).

mod convert;
mod decode;
mod display;
mod encode;
mod error;
mod layout;
mod time;
mod wire;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod convert_tests;

pub use self::convert::{format_double, format_float, DEFAULT_STRING_PRECISION};
pub use self::decode::{decode, decode_plain_into, decode_plain_one};
pub use self::display::DISPLAY_MAX_ELEMENTS;
pub use self::encode::encode;
pub use self::error::DbrError;
pub use self::layout::{element_size, header_size, payload_size};
use super::status::{AlarmSeverity, AlarmStatus};

/// The seven native CA field types. Codes 0..=6. caproto calls `Short` "INT".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NativeType {
    /// 40-byte string.
    String = 0,
    /// i16 (caproto INT, EPICS SHORT).
    Short = 1,
    /// f32.
    Float = 2,
    /// u16 state index.
    Enum = 3,
    /// u8.
    Char = 4,
    /// i32.
    Long = 5,
    /// f64.
    Double = 6,
}

/// Which metadata a DBR type carries on top of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DbrClass {
    /// Value only (codes 0..=6).
    Plain,
    /// + alarm status and severity (7..=13).
    Sts,
    /// + timestamp (14..=20).
    Time,
    /// + graphic limits, units, precision or enum strings (21..=27).
    Gr,
    /// + control limits (28..=34).
    Ctrl,
}

/// A DBR type code (0..=38).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbrType {
    /// One of the 35 class x native combinations.
    Value(DbrClass, NativeType),
    /// 35: acknowledge-transient write (u16).
    PutAckt,
    /// 36: acknowledge-severity write (u16).
    PutAcks,
    /// 37: status, severity, ackt, acks and a string value.
    StsackString,
    /// 38: the record type name, as a 40-byte string.
    ClassName,
}

impl NativeType {
    /// All seven, in code order.
    pub const ALL: [NativeType; 7] = [
        NativeType::String,
        NativeType::Short,
        NativeType::Float,
        NativeType::Enum,
        NativeType::Char,
        NativeType::Long,
        NativeType::Double,
    ];

    /// caproto's name for the type (`INT` for short), as used in log lines.
    pub fn caproto_name(self) -> &'static str {
        match self {
            NativeType::String => "STRING",
            NativeType::Short => "INT",
            NativeType::Float => "FLOAT",
            NativeType::Enum => "ENUM",
            NativeType::Char => "CHAR",
            NativeType::Long => "LONG",
            NativeType::Double => "DOUBLE",
        }
    }

    /// EPICS base's name for the type (`SHORT`), as printed by caget/cainfo.
    pub fn epics_name(self) -> &'static str {
        match self {
            NativeType::Short => "SHORT",
            other => other.caproto_name(),
        }
    }
}

impl DbrClass {
    /// All five, in code order.
    pub const ALL: [DbrClass; 5] = [
        DbrClass::Plain,
        DbrClass::Sts,
        DbrClass::Time,
        DbrClass::Gr,
        DbrClass::Ctrl,
    ];

    /// Name prefix used in type names (`""`, `"STS_"`, ...).
    pub fn prefix(self) -> &'static str {
        match self {
            DbrClass::Plain => "",
            DbrClass::Sts => "STS_",
            DbrClass::Time => "TIME_",
            DbrClass::Gr => "GR_",
            DbrClass::Ctrl => "CTRL_",
        }
    }
}

impl DbrType {
    /// Plain DOUBLE, the most common request.
    pub const DOUBLE: DbrType = DbrType::Value(DbrClass::Plain, NativeType::Double);
    /// Highest valid code (CLASS_NAME).
    pub const MAX_CODE: u16 = 38;

    /// Plain type of a native type, e.g. the `data_type` of a CREATE_CHAN reply.
    pub fn plain(native: NativeType) -> DbrType {
        DbrType::Value(DbrClass::Plain, native)
    }

    /// The wire code, 0..=38.
    pub fn code(self) -> u16 {
        match self {
            DbrType::Value(class, native) => (class as u16) * 7 + native as u16,
            DbrType::PutAckt => 35,
            DbrType::PutAcks => 36,
            DbrType::StsackString => 37,
            DbrType::ClassName => 38,
        }
    }

    /// From a wire code; `None` for codes above 38.
    pub fn from_code(code: u16) -> Option<DbrType> {
        Some(match code {
            0..=34 => DbrType::Value(
                DbrClass::ALL[usize::from(code / 7)],
                NativeType::ALL[usize::from(code % 7)],
            ),
            35 => DbrType::PutAckt,
            36 => DbrType::PutAcks,
            37 => DbrType::StsackString,
            38 => DbrType::ClassName,
            _ => return None,
        })
    }

    /// From a wire code, as a typed error for codes above 38.
    pub fn try_from_code(code: u16) -> Result<DbrType, DbrError> {
        DbrType::from_code(code).ok_or(DbrError::BadType(code))
    }

    /// The native type whose elements this DBR type carries.
    pub fn native(self) -> NativeType {
        match self {
            DbrType::Value(_, native) => native,
            DbrType::PutAckt | DbrType::PutAcks => NativeType::Short,
            DbrType::StsackString | DbrType::ClassName => NativeType::String,
        }
    }

    /// caproto's name (`TIME_DOUBLE`, `INT`, `STSACK_STRING`), as used in log lines.
    pub fn caproto_name(self) -> String {
        self.name_with(NativeType::caproto_name)
    }

    /// EPICS base's name without the `DBR_` prefix (`TIME_DOUBLE`, `SHORT`).
    pub fn epics_name(self) -> String {
        self.name_with(NativeType::epics_name)
    }

    fn name_with(self, native_name: fn(NativeType) -> &'static str) -> String {
        match self {
            DbrType::Value(class, native) => format!("{}{}", class.prefix(), native_name(native)),
            DbrType::PutAckt => "PUT_ACKT".into(),
            DbrType::PutAcks => "PUT_ACKS".into(),
            DbrType::StsackString => "STSACK_STRING".into(),
            DbrType::ClassName => "CLASS_NAME".into(),
        }
    }
}

impl std::fmt::Display for DbrType {
    /// caproto's spelling, e.g. `TIME_DOUBLE` (written in pieces: every logged request and
    /// reply shows one, so it allocates nothing).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbrType::Value(class, native) => {
                f.write_str(class.prefix())?;
                f.write_str(native.caproto_name())
            }
            DbrType::PutAckt => f.write_str("PUT_ACKT"),
            DbrType::PutAcks => f.write_str("PUT_ACKS"),
            DbrType::StsackString => f.write_str("STSACK_STRING"),
            DbrType::ClassName => f.write_str("CLASS_NAME"),
        }
    }
}

/// Seconds between the POSIX epoch and the EPICS epoch (1990-01-01 00:00:00 UTC).
pub const EPICS_EPOCH_OFFSET_SECS: u64 = 631_152_000;

/// An EPICS timestamp: seconds and nanoseconds since 1990-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct EpicsTime {
    /// Seconds since the EPICS epoch.
    pub secs: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// Length of a DBR_STRING element on the wire, NUL included.
pub const MAX_STRING_SIZE: usize = 40;
/// Length of one enum state string on the wire, NUL included.
pub const MAX_ENUM_STRING_SIZE: usize = 26;
/// Number of enum state strings a GR/CTRL ENUM carries.
pub const MAX_ENUM_STATES: usize = 16;
/// Length of the units field of GR/CTRL numeric types, NUL included.
pub const MAX_UNITS_SIZE: usize = 8;

/// The elements of a value, in its native type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// 40-byte NUL-padded strings (at most 39 bytes of text each).
    String(Vec<String>),
    /// 16-bit signed integers (caproto's INT).
    Short(Vec<i16>),
    /// 32-bit floats.
    Float(Vec<f32>),
    /// Enum state indexes.
    Enum(Vec<u16>),
    /// Unsigned bytes (also used to carry long strings).
    Char(Vec<u8>),
    /// 32-bit signed integers.
    Long(Vec<i32>),
    /// 64-bit floats.
    Double(Vec<f64>),
}

/// Graphic (GR) metadata of numeric types. Limits are held as f64, which
/// represents every native numeric type exactly; they are converted to the
/// native type on the wire.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graphics {
    /// Engineering units, at most 7 bytes on the wire.
    pub units: String,
    /// Only FLOAT and DOUBLE carry it on the wire.
    pub precision: i16,
    /// Upper display (operating range) limit (HOPR).
    pub upper_disp_limit: f64,
    /// Lower display limit (LOPR).
    pub lower_disp_limit: f64,
    /// Upper alarm limit (HIHI).
    pub upper_alarm_limit: f64,
    /// Upper warning limit (HIGH).
    pub upper_warning_limit: f64,
    /// Lower warning limit (LOW).
    pub lower_warning_limit: f64,
    /// Lower alarm limit (LOLO).
    pub lower_alarm_limit: f64,
}

/// Control (CTRL) limits of numeric types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Control {
    /// Upper control limit (DRVH).
    pub upper_ctrl_limit: f64,
    /// Lower control limit (DRVL).
    pub lower_ctrl_limit: f64,
}

/// Every metadata field any DBR type can carry. Decoding fills the fields the
/// type has and leaves the rest at their defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Alarm status (STS and richer, STSACK_STRING).
    pub status: AlarmStatus,
    /// Alarm severity (STS and richer, STSACK_STRING).
    pub severity: AlarmSeverity,
    /// Timestamp (TIME types).
    pub stamp: EpicsTime,
    /// Units, precision and display/alarm limits (GR and CTRL numeric types).
    pub graphics: Graphics,
    /// Control limits (CTRL numeric types).
    pub control: Control,
    /// ENUM state strings (GR/CTRL ENUM).
    pub enum_strings: Vec<String>,
    /// STSACK_STRING: acknowledge transient alarms.
    pub ackt: u16,
    /// STSACK_STRING: highest unacknowledged severity.
    pub acks: AlarmSeverity,
}

impl Value {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Value::String(v) => v.len(),
            Value::Short(v) => v.len(),
            Value::Float(v) => v.len(),
            Value::Enum(v) => v.len(),
            Value::Char(v) => v.len(),
            Value::Long(v) => v.len(),
            Value::Double(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The native type of the elements.
    pub fn native_type(&self) -> NativeType {
        match self {
            Value::String(_) => NativeType::String,
            Value::Short(_) => NativeType::Short,
            Value::Float(_) => NativeType::Float,
            Value::Enum(_) => NativeType::Enum,
            Value::Char(_) => NativeType::Char,
            Value::Long(_) => NativeType::Long,
            Value::Double(_) => NativeType::Double,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=DbrType::MAX_CODE {
            assert_eq!(DbrType::from_code(code).unwrap().code(), code);
        }
        assert_eq!(DbrType::from_code(39), None);
        assert_eq!(
            DbrType::from_code(20).unwrap().caproto_name(),
            "TIME_DOUBLE"
        );
        assert_eq!(DbrType::from_code(29).unwrap().epics_name(), "CTRL_SHORT");
        assert_eq!(DbrType::from_code(29).unwrap().to_string(), "CTRL_INT");
        for code in 0..=DbrType::MAX_CODE {
            let t = DbrType::from_code(code).unwrap();
            assert_eq!(t.to_string(), t.caproto_name(), "Display is caproto's name");
        }
    }
}
