//! Wire layouts of the 39 DBR types, as laid out by EPICS `db_access.h`:
//! the ordered metadata fields (RISC alignment pads included) that precede
//! the value array, and the size of each value element.
//!
//! Encoding and decoding both walk [`fields`], so the layout is written once.

use super::{
    DbrClass, DbrType, NativeType, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
    MAX_UNITS_SIZE,
};

/// One metadata field in a DBR structure, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// Alarm status, i16.
    Status,
    /// Alarm severity, i16.
    Severity,
    /// Timestamp: u32 seconds + u32 nanoseconds since the EPICS epoch.
    Stamp,
    /// `n` zero bytes kept for alignment (`RISC_pad`).
    Pad(usize),
    /// Display precision, i16 (FLOAT and DOUBLE only).
    Precision,
    /// Engineering units, 8 NUL-padded bytes.
    Units,
    /// The six display/alarm/warning limits, each of the native type.
    Graphics,
    /// The two control limits, each of the native type.
    Control,
    /// `no_str` (i16) + 16 enum state strings of 26 bytes.
    EnumStrings,
    /// STSACK_STRING: acknowledge-transient flag, u16.
    Ackt,
    /// STSACK_STRING: acknowledge severity, u16.
    Acks,
}

use Field::*;

const STS: &[Field] = &[Status, Severity];
const STS_CHAR: &[Field] = &[Status, Severity, Pad(1)];
const STS_DOUBLE: &[Field] = &[Status, Severity, Pad(4)];
const TIME: &[Field] = &[Status, Severity, Stamp];
const TIME_PAD2: &[Field] = &[Status, Severity, Stamp, Pad(2)];
const TIME_CHAR: &[Field] = &[Status, Severity, Stamp, Pad(3)];
const TIME_DOUBLE: &[Field] = &[Status, Severity, Stamp, Pad(4)];
const GR_INT: &[Field] = &[Status, Severity, Units, Graphics];
const GR_REAL: &[Field] = &[Status, Severity, Precision, Pad(2), Units, Graphics];
const GR_CHAR: &[Field] = &[Status, Severity, Units, Graphics, Pad(1)];
const CTRL_INT: &[Field] = &[Status, Severity, Units, Graphics, Control];
const CTRL_REAL: &[Field] = &[
    Status,
    Severity,
    Precision,
    Pad(2),
    Units,
    Graphics,
    Control,
];
const CTRL_CHAR: &[Field] = &[Status, Severity, Units, Graphics, Control, Pad(1)];
const ENUM: &[Field] = &[Status, Severity, EnumStrings];
const STSACK: &[Field] = &[Status, Severity, Ackt, Acks];

/// The metadata fields of `dbr_type`, in wire order, before the value.
/// GR and CTRL of STRING are the STS layout (`db_access.h` defines
/// `dbr_gr_string` and `dbr_ctrl_string` as `dbr_sts_string`).
pub(crate) fn fields(dbr_type: DbrType) -> &'static [Field] {
    use NativeType as N;
    match dbr_type {
        DbrType::Value(DbrClass::Plain, _) => &[],
        DbrType::Value(DbrClass::Sts, native) => match native {
            N::Char => STS_CHAR,
            N::Double => STS_DOUBLE,
            _ => STS,
        },
        DbrType::Value(DbrClass::Time, native) => match native {
            N::Short | N::Enum => TIME_PAD2,
            N::Char => TIME_CHAR,
            N::Double => TIME_DOUBLE,
            N::String | N::Float | N::Long => TIME,
        },
        DbrType::Value(DbrClass::Gr, native) => match native {
            N::String => STS,
            N::Short | N::Long => GR_INT,
            N::Float | N::Double => GR_REAL,
            N::Enum => ENUM,
            N::Char => GR_CHAR,
        },
        DbrType::Value(DbrClass::Ctrl, native) => match native {
            N::String => STS,
            N::Short | N::Long => CTRL_INT,
            N::Float | N::Double => CTRL_REAL,
            N::Enum => ENUM,
            N::Char => CTRL_CHAR,
        },
        DbrType::PutAckt | DbrType::PutAcks | DbrType::ClassName => &[],
        DbrType::StsackString => STSACK,
    }
}

/// Bytes of one element of `native` on the wire.
pub fn element_size(native: NativeType) -> usize {
    match native {
        NativeType::String => MAX_STRING_SIZE,
        NativeType::Short | NativeType::Enum => 2,
        NativeType::Float | NativeType::Long => 4,
        NativeType::Char => 1,
        NativeType::Double => 8,
    }
}

/// Bytes one metadata field occupies, given the native type of the limits.
pub(crate) fn field_size(field: Field, native: NativeType) -> usize {
    match field {
        Status | Severity | Precision | Ackt | Acks => 2,
        Stamp => 8,
        Pad(n) => n,
        Units => MAX_UNITS_SIZE,
        Graphics => 6 * element_size(native),
        Control => 2 * element_size(native),
        EnumStrings => 2 + MAX_ENUM_STATES * MAX_ENUM_STRING_SIZE,
    }
}

/// Bytes of metadata (padding included) that precede the value of `dbr_type`.
pub fn header_size(dbr_type: DbrType) -> usize {
    let native = dbr_type.native();
    fields(dbr_type)
        .iter()
        .map(|&f| field_size(f, native))
        .sum()
}

/// Bytes a DBR of `dbr_type` with `count` elements occupies on the wire,
/// before the command's 8-byte padding. A count of 0 gives the metadata
/// alone; a count too large to address gives `usize::MAX`.
pub fn payload_size(dbr_type: DbrType, count: usize) -> usize {
    element_size(dbr_type.native())
        .checked_mul(count)
        .and_then(|n| n.checked_add(header_size(dbr_type)))
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sizeof(struct dbr_*)` from db_access.h, i.e. header + one element,
    /// indexed by type code.
    const EPICS_SIZES: [usize; 39] = [
        40, 2, 4, 2, 1, 4, 8, // plain
        44, 6, 8, 6, 6, 8, 16, // STS
        52, 16, 16, 16, 16, 16, 24, // TIME
        44, 26, 44, 424, 20, 40, 72, // GR
        44, 30, 52, 424, 22, 48, 88, // CTRL
        2, 2, 48, 40, // PUT_ACKT, PUT_ACKS, STSACK_STRING, CLASS_NAME
    ];

    #[test]
    fn sizes_match_db_access_h() {
        for code in 0..=DbrType::MAX_CODE {
            let t = DbrType::from_code(code).unwrap();
            assert_eq!(
                payload_size(t, 1),
                EPICS_SIZES[usize::from(code)],
                "size of {t}"
            );
        }
    }

    #[test]
    fn arrays_and_empty_arrays() {
        let td = DbrType::from_code(20).unwrap();
        assert_eq!(header_size(td), 16);
        assert_eq!(payload_size(td, 0), 16);
        assert_eq!(payload_size(td, 10), 16 + 80);
        assert_eq!(payload_size(DbrType::from_code(0).unwrap(), 3), 120);
    }

    #[test]
    fn huge_counts_saturate() {
        assert_eq!(payload_size(DbrType::DOUBLE, usize::MAX), usize::MAX);
    }
}
