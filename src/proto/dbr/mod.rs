//! DBR ("database request") types: the 7 native types in their plain, STS,
//! TIME, GR and CTRL forms, plus PUT_ACKT, PUT_ACKS, STSACK_STRING and
//! CLASS_NAME; their exact wire layouts (padding included), the EPICS epoch,
//! and conversion between native and requested types.
//!
//! A value travels as a [`Value`] (the array of elements) plus a [`Metadata`]
//! (every metadata field any DBR class can carry). The requested [`DbrType`]
//! decides which metadata fields go on the wire, so a server holds one
//! `Value` + `Metadata` per PV and can answer any request from it.

use super::status::{AlarmSeverity, AlarmStatus};

/// The seven native CA field types. Codes 0..=6. caproto calls `Short` "INT".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NativeType {
    String = 0,
    Short = 1,
    Float = 2,
    Enum = 3,
    Char = 4,
    Long = 5,
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

impl DbrType {
    /// Plain DOUBLE, the most common request.
    pub const DOUBLE: DbrType = DbrType::Value(DbrClass::Plain, NativeType::Double);
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
    String(Vec<String>),
    Short(Vec<i16>),
    Float(Vec<f32>),
    Enum(Vec<u16>),
    Char(Vec<u8>),
    Long(Vec<i32>),
    Double(Vec<f64>),
}

/// Graphic (GR) metadata of numeric types. Limits are held as f64, which
/// represents every native numeric type exactly; they are converted to the
/// native type on the wire.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graphics {
    pub units: String,
    /// Only FLOAT and DOUBLE carry it on the wire.
    pub precision: i16,
    pub upper_disp_limit: f64,
    pub lower_disp_limit: f64,
    pub upper_alarm_limit: f64,
    pub upper_warning_limit: f64,
    pub lower_warning_limit: f64,
    pub lower_alarm_limit: f64,
}

/// Control (CTRL) limits of numeric types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Control {
    pub upper_ctrl_limit: f64,
    pub lower_ctrl_limit: f64,
}

/// Every metadata field any DBR type can carry. Decoding fills the fields the
/// type has and leaves the rest at their defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub status: AlarmStatus,
    pub severity: AlarmSeverity,
    pub stamp: EpicsTime,
    pub graphics: Graphics,
    pub control: Control,
    /// ENUM state strings (GR/CTRL ENUM).
    pub enum_strings: Vec<String>,
    /// STSACK_STRING: acknowledge transient alarms.
    pub ackt: u16,
    /// STSACK_STRING: highest unacknowledged severity.
    pub acks: AlarmSeverity,
}

/// Why a DBR payload could not be decoded, encoded or converted.
#[derive(Debug, Clone, PartialEq)]
pub enum DbrError {
    /// Placeholder until the DBR work lands; removed by it.
    Unimplemented,
}

impl std::fmt::Display for DbrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for DbrError {}
