//! The typed error of the DBR codec and conversions.

use super::{DbrType, NativeType};

/// Why a DBR payload could not be decoded, encoded or converted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DbrError {
    /// The payload holds fewer bytes than the type and element count need.
    Truncated {
        /// Bytes the type and count require.
        needed: usize,
        /// Bytes actually present.
        got: usize,
    },
    /// A DBR type code outside 0..=38.
    BadType(u16),
    /// The element count is so large its byte size does not fit in memory.
    CountTooLarge(u64),
    /// The value handed to [`encode`](super::encode) is not of the native type
    /// the requested DBR type carries (convert it first).
    WrongValueType {
        /// The DBR type being encoded.
        dbr_type: DbrType,
        /// The native type of the value given.
        got: NativeType,
    },
    /// A string does not fit its fixed-size wire field (one byte is kept for
    /// the terminating NUL).
    StringTooLong {
        /// Which field: `"value"`, `"units"` or `"enum string"`.
        field: &'static str,
        /// Length of the string in bytes.
        len: usize,
        /// Longest allowed length in bytes.
        max: usize,
    },
    /// More enum state strings than the 16 a GR/CTRL ENUM can carry.
    TooManyEnumStrings(usize),
    /// A received GR/CTRL ENUM claims a number of strings outside 0..=16.
    BadEnumCount(i16),
    /// Text that should be a number is not one.
    BadNumber {
        /// The offending text.
        text: String,
        /// The type it was being converted to.
        to: NativeType,
    },
    /// A number (given as text) does not fit the target type.
    OutOfRange {
        /// The offending text.
        text: String,
        /// The type it was being converted to.
        to: NativeType,
    },
    /// Text is neither one of the enum's state strings nor a valid index.
    BadEnumString {
        /// The offending text.
        text: String,
        /// How many states the enum has.
        states: usize,
    },
    /// A time before the EPICS epoch (1990) or past its 32-bit range (2126).
    TimeOutOfRange,
}

impl std::fmt::Display for DbrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbrError::Truncated { needed, got } => {
                write!(f, "DBR payload truncated: need {needed} bytes, got {got}")
            }
            DbrError::BadType(code) => write!(f, "unknown DBR type code {code} (valid: 0..=38)"),
            DbrError::CountTooLarge(count) => write!(f, "element count {count} is too large"),
            DbrError::WrongValueType { dbr_type, got } => write!(
                f,
                "cannot encode a {} value as {dbr_type} (which carries {})",
                got.caproto_name(),
                dbr_type.native().caproto_name()
            ),
            DbrError::StringTooLong { field, len, max } => write!(
                f,
                "{field} string of {len} bytes is too long (at most {max} bytes fit)"
            ),
            DbrError::TooManyEnumStrings(n) => {
                write!(f, "{n} enum strings given; at most 16 fit")
            }
            DbrError::BadEnumCount(n) => {
                write!(f, "enum string count {n} in payload is outside 0..=16")
            }
            DbrError::BadNumber { text, to } => {
                write!(f, "{text:?} is not a valid {} value", to.caproto_name())
            }
            DbrError::OutOfRange { text, to } => {
                write!(f, "{text:?} is out of range for {}", to.caproto_name())
            }
            DbrError::BadEnumString { text, states } => write!(
                f,
                "{text:?} is neither one of the {states} enum states nor a valid index"
            ),
            DbrError::TimeOutOfRange => {
                f.write_str("time is outside the EPICS timestamp range (1990..2126)")
            }
        }
    }
}

impl std::error::Error for DbrError {}
