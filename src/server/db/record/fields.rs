//! The fields each supported record type has: name, EPICS field type (which
//! decides the Channel Access type of a `REC.FIELD` channel), default, and
//! the menus of menu fields. Tables only; the record logic reads them.

use crate::proto::dbr::{NativeType, Value};

/// menuAlarmSevr (the names the protocol core knows).
pub const MENU_SEVERITY: &[&str] = &crate::proto::status::ALARM_SEVERITY_NAMES;
/// menuAlarmStat (all 22 choices; Channel Access shows the first 16 as enum strings).
pub const MENU_STATUS: &[&str] = &crate::proto::status::ALARM_STATUS_NAMES;
/// menuScan.
pub const MENU_SCAN: &[&str] = &[
    "Passive",
    "Event",
    "I/O Intr",
    "10 second",
    "5 second",
    "2 second",
    "1 second",
    ".5 second",
    ".2 second",
    ".1 second",
];
/// menuYesNo (PINI).
pub const MENU_YES_NO: &[&str] = &["NO", "YES"];
/// menuOmsl (OMSL).
pub const MENU_OMSL: &[&str] = &["supervisory", "closed_loop"];
/// menuFtype (FTVL).
pub const MENU_FTYPE: &[&str] = &[
    "STRING", "CHAR", "UCHAR", "SHORT", "USHORT", "LONG", "ULONG", "INT64", "UINT64", "FLOAT",
    "DOUBLE", "ENUM",
];
/// calcoutOOPT.
pub const MENU_OOPT: &[&str] = &[
    "Every Time",
    "On Change",
    "When Zero",
    "When Non-zero",
    "Transition To Zero",
    "Transition To Non-zero",
];
/// calcoutDOPT.
pub const MENU_DOPT: &[&str] = &["Use CALC", "Use OCAL"];

/// The periods of the periodic SCAN choices, by menu index.
pub fn scan_period(index: u16) -> Option<std::time::Duration> {
    let ms = match index {
        3 => 10_000,
        4 => 5_000,
        5 => 2_000,
        6 => 1_000,
        7 => 500,
        8 => 200,
        9 => 100,
        _ => return None,
    };
    Some(std::time::Duration::from_millis(ms))
}

/// An EPICS field type, as far as Channel Access sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dbf {
    /// DBF_STRING (40 characters).
    Str,
    /// A link field (INP, OUT, FLNK ...): a string on the wire.
    Link,
    /// DBF_SHORT.
    Short,
    /// DBF_LONG.
    Long,
    /// DBF_ULONG: served as a double, as softIoc does.
    ULong,
    /// DBF_DOUBLE.
    Double,
    /// DBF_UCHAR.
    Char,
    /// DBF_MENU with these choices.
    Menu(&'static [&'static str]),
    /// The record's VAL: its type depends on the record type (and FTVL).
    Val,
}

impl Dbf {
    /// The Channel Access type of a channel to a field of this type.
    pub fn native(self) -> NativeType {
        match self {
            Dbf::Str | Dbf::Link => NativeType::String,
            Dbf::Short => NativeType::Short,
            Dbf::Long => NativeType::Long,
            Dbf::ULong | Dbf::Double | Dbf::Val => NativeType::Double,
            Dbf::Char => NativeType::Char,
            Dbf::Menu(_) => NativeType::Enum,
        }
    }
}

/// One field of a record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// Field name (`HIHI`).
    pub name: &'static str,
    /// Its type.
    pub dbf: Dbf,
    /// Default as a `.db` file would write it.
    pub default: &'static str,
    /// Whether clients may not write it (EPICS `special(SPC_NOMOD)`).
    pub read_only: bool,
}

const fn f(name: &'static str, dbf: Dbf, default: &'static str) -> FieldDef {
    FieldDef {
        name,
        dbf,
        default,
        read_only: false,
    }
}

const fn ro(name: &'static str, dbf: Dbf, default: &'static str) -> FieldDef {
    FieldDef {
        name,
        dbf,
        default,
        read_only: true,
    }
}

use Dbf::*;

const SEV: Dbf = Menu(MENU_SEVERITY);

/// dbCommon: every record has these.
pub const COMMON: &[FieldDef] = &[
    ro("NAME", Str, ""),
    f("DESC", Str, ""),
    f("ASG", Str, ""),
    f("SCAN", Menu(MENU_SCAN), "Passive"),
    f("PINI", Menu(MENU_YES_NO), "NO"),
    f("PHAS", Short, "0"),
    f("DISA", Short, "0"),
    f("DISV", Short, "1"),
    f("SDIS", Link, ""),
    f("DISS", SEV, "NO_ALARM"),
    f("PROC", Char, "0"),
    ro("STAT", Menu(MENU_STATUS), "UDF"),
    ro("SEVR", SEV, "INVALID"),
    ro("NSTA", Menu(MENU_STATUS), "NO_ALARM"),
    ro("NSEV", SEV, "NO_ALARM"),
    f("UDF", Char, "1"),
    f("UDFS", SEV, "INVALID"),
    f("FLNK", Link, ""),
    f("TPRO", Char, "0"),
    ro("RTYP", Str, ""),
    f("VAL", Val, ""),
];

/// Display and alarm fields of double-valued records (ai, ao, calc, calcout).
pub const ANALOG: &[FieldDef] = &[
    f("EGU", Str, ""),
    f("PREC", Short, "0"),
    f("HOPR", Double, "0"),
    f("LOPR", Double, "0"),
    f("HIHI", Double, "0"),
    f("HIGH", Double, "0"),
    f("LOW", Double, "0"),
    f("LOLO", Double, "0"),
    f("HHSV", SEV, "NO_ALARM"),
    f("HSV", SEV, "NO_ALARM"),
    f("LSV", SEV, "NO_ALARM"),
    f("LLSV", SEV, "NO_ALARM"),
    f("HYST", Double, "0"),
    f("MDEL", Double, "0"),
    f("ADEL", Double, "0"),
    ro("LALM", Double, "0"),
    ro("MLST", Double, "0"),
    ro("ALST", Double, "0"),
];

/// The same for longin and longout (DBF_LONG limits).
pub const LONG: &[FieldDef] = &[
    f("EGU", Str, ""),
    f("HOPR", Long, "0"),
    f("LOPR", Long, "0"),
    f("HIHI", Long, "0"),
    f("HIGH", Long, "0"),
    f("LOW", Long, "0"),
    f("LOLO", Long, "0"),
    f("HHSV", SEV, "NO_ALARM"),
    f("HSV", SEV, "NO_ALARM"),
    f("LSV", SEV, "NO_ALARM"),
    f("LLSV", SEV, "NO_ALARM"),
    f("HYST", Long, "0"),
    f("MDEL", Long, "0"),
    f("ADEL", Long, "0"),
    ro("LALM", Long, "0"),
    ro("MLST", Long, "0"),
    ro("ALST", Long, "0"),
];

/// Input records' link.
pub const INPUT: &[FieldDef] = &[f("INP", Link, "")];
/// Output records' links and mode.
pub const OUTPUT: &[FieldDef] = &[
    f("OUT", Link, ""),
    f("DOL", Link, ""),
    f("OMSL", Menu(MENU_OMSL), "supervisory"),
];
/// Drive limits (ao: doubles).
pub const DRIVE_DOUBLE: &[FieldDef] = &[f("DRVH", Double, "0"), f("DRVL", Double, "0")];
/// Drive limits (longout: longs).
pub const DRIVE_LONG: &[FieldDef] = &[f("DRVH", Long, "0"), f("DRVL", Long, "0")];

/// bi and bo states.
pub const BINARY: &[FieldDef] = &[
    f("ZNAM", Str, ""),
    f("ONAM", Str, ""),
    f("ZSV", SEV, "NO_ALARM"),
    f("OSV", SEV, "NO_ALARM"),
    f("COSV", SEV, "NO_ALARM"),
];

/// The sixteen state prefixes of mbbi and mbbo.
pub const MBB_STATES: [&str; 16] = [
    "ZR", "ON", "TW", "TH", "FR", "FV", "SX", "SV", "EI", "NI", "TE", "EL", "TV", "TT", "FT", "FF",
];

/// mbbi and mbbo states: ZRST..FFST, ZRVL..FFVL, ZRSV..FFSV, UNSV, COSV.
pub const MBB: &[FieldDef] = &{
    const NAMES_ST: [&str; 16] = [
        "ZRST", "ONST", "TWST", "THST", "FRST", "FVST", "SXST", "SVST", "EIST", "NIST", "TEST",
        "ELST", "TVST", "TTST", "FTST", "FFST",
    ];
    const NAMES_VL: [&str; 16] = [
        "ZRVL", "ONVL", "TWVL", "THVL", "FRVL", "FVVL", "SXVL", "SVVL", "EIVL", "NIVL", "TEVL",
        "ELVL", "TVVL", "TTVL", "FTVL", "FFVL",
    ];
    const NAMES_SV: [&str; 16] = [
        "ZRSV", "ONSV", "TWSV", "THSV", "FRSV", "FVSV", "SXSV", "SVSV", "EISV", "NISV", "TESV",
        "ELSV", "TVSV", "TTSV", "FTSV", "FFSV",
    ];
    let mut out = [f("", Str, ""); 50];
    let mut i = 0;
    while i < 16 {
        out[i] = f(NAMES_ST[i], Str, "");
        out[16 + i] = f(NAMES_VL[i], Long, "0");
        out[32 + i] = f(NAMES_SV[i], SEV, "NO_ALARM");
        i += 1;
    }
    out[48] = f("UNSV", SEV, "NO_ALARM");
    out[49] = f("COSV", SEV, "NO_ALARM");
    out
};

/// waveform's array fields (EGU, PREC, HOPR, LOPR come from a short list).
pub const WAVEFORM: &[FieldDef] = &[
    ro("NELM", ULong, "1"),
    ro("FTVL", Menu(MENU_FTYPE), "STRING"),
    ro("NORD", ULong, "0"),
    f("EGU", Str, ""),
    f("PREC", Short, "0"),
    f("HOPR", Double, "0"),
    f("LOPR", Double, "0"),
    f("MPST", Menu(&["Always", "On Change"]), "Always"),
    f("APST", Menu(&["Always", "On Change"]), "Always"),
];

/// calc and calcout: the expression, the twelve inputs and their values.
pub const CALC: &[FieldDef] = &[
    f("CALC", Str, "0"),
    f("INPA", Link, ""),
    f("INPB", Link, ""),
    f("INPC", Link, ""),
    f("INPD", Link, ""),
    f("INPE", Link, ""),
    f("INPF", Link, ""),
    f("INPG", Link, ""),
    f("INPH", Link, ""),
    f("INPI", Link, ""),
    f("INPJ", Link, ""),
    f("INPK", Link, ""),
    f("INPL", Link, ""),
    f("A", Double, "0"),
    f("B", Double, "0"),
    f("C", Double, "0"),
    f("D", Double, "0"),
    f("E", Double, "0"),
    f("F", Double, "0"),
    f("G", Double, "0"),
    f("H", Double, "0"),
    f("I", Double, "0"),
    f("J", Double, "0"),
    f("K", Double, "0"),
    f("L", Double, "0"),
];

/// calcout's output fields.
pub const CALCOUT: &[FieldDef] = &[
    f("OUT", Link, ""),
    f("OOPT", Menu(MENU_OOPT), "Every Time"),
    f("DOPT", Menu(MENU_DOPT), "Use CALC"),
    f("OCAL", Str, "0"),
    f("OVAL", Double, "0"),
    f("ODLY", Double, "0"),
    ro("PVAL", Double, "0"),
];

/// The record types served, and the field groups each has after [`COMMON`].
pub const TYPES: &[(&str, &[&[FieldDef]])] = &[
    ("ai", &[INPUT, ANALOG]),
    ("ao", &[OUTPUT, DRIVE_DOUBLE, ANALOG]),
    ("bi", &[INPUT, BINARY]),
    ("bo", &[OUTPUT, BINARY]),
    ("mbbi", &[INPUT, MBB]),
    ("mbbo", &[OUTPUT, MBB]),
    ("longin", &[INPUT, LONG]),
    ("longout", &[OUTPUT, DRIVE_LONG, LONG]),
    ("stringin", &[INPUT]),
    ("stringout", &[OUTPUT]),
    ("waveform", &[INPUT, WAVEFORM]),
    ("calc", &[CALC, ANALOG]),
    ("calcout", &[CALC, CALCOUT, ANALOG]),
];

/// Every field of record type `rtyp` in order, or `None` for a type not served.
pub fn fields_of(rtyp: &str) -> Option<Vec<FieldDef>> {
    let (_, groups) = TYPES.iter().find(|(t, _)| *t == rtyp)?;
    let mut all = COMMON.to_vec();
    for g in *groups {
        all.extend_from_slice(g);
    }
    Some(all)
}

/// The Channel Access type and element count of a waveform with `ftvl`
/// (a menuFtype index) and `nelm` elements.
pub fn waveform_type(ftvl: u16) -> NativeType {
    match MENU_FTYPE.get(usize::from(ftvl)).copied() {
        Some("STRING") => NativeType::String,
        Some("CHAR" | "UCHAR") => NativeType::Char,
        Some("SHORT" | "USHORT") => NativeType::Short,
        Some("LONG" | "ULONG") => NativeType::Long,
        Some("FLOAT") => NativeType::Float,
        Some("ENUM") => NativeType::Enum,
        _ => NativeType::Double,
    }
}

/// A value of `native` type and `n` zero elements.
pub fn zeros(native: NativeType, n: usize) -> Value {
    match native {
        NativeType::String => Value::String(vec![String::new(); n]),
        NativeType::Short => Value::Short(vec![0; n]),
        NativeType::Float => Value::Float(vec![0.0; n]),
        NativeType::Enum => Value::Enum(vec![0; n]),
        NativeType::Char => Value::Char(vec![0; n]),
        NativeType::Long => Value::Long(vec![0; n]),
        NativeType::Double => Value::Double(vec![0.0; n]),
    }
}

/// The calc records' argument fields, A..L.
pub const CALC_ARGS: [&str; 12] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"];
