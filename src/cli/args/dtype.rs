//! The `-d DATA_TYPE` argument of caproto-get: a whole class of types
//! (`time`, `control`, ...) matched to the channel's native type, or one
//! specific DBR type given by number (`20`) or case-insensitive name
//! (`time_double`, `DBR_TIME_DOUBLE`, `DBR_TIME_SHORT`).

use std::str::FromStr;

use crate::proto::dbr::{DbrClass, DbrType, NativeType};

/// What the user asked for with `-d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeRequest {
    /// A class, resolved against the channel's native type once connected.
    Class(DbrClass),
    /// Exactly this type.
    Specific(DbrType),
}

/// caproto's class names, in the order `--list-types` prints them.
pub const CLASS_NAMES: [(&str, DbrClass); 5] = [
    ("native", DbrClass::Plain),
    ("status", DbrClass::Sts),
    ("time", DbrClass::Time),
    ("graphic", DbrClass::Gr),
    ("control", DbrClass::Ctrl),
];

/// Short class spellings accepted as well (EPICS' own prefixes), e.g. `ctrl`.
const CLASS_ALIASES: [(&str, DbrClass); 5] = [
    ("plain", DbrClass::Plain),
    ("sts", DbrClass::Sts),
    ("gr", DbrClass::Gr),
    ("ctrl", DbrClass::Ctrl),
    ("timestamp", DbrClass::Time),
];

/// Why a `-d` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTypeRequest(pub String);

impl std::fmt::Display for BadTypeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown data type {:?}: expected a class (native, status, time, graphic, control), \
             a number 0-38 or a name such as TIME_DOUBLE; see --list-types",
            self.0
        )
    }
}

impl std::error::Error for BadTypeRequest {}

impl FromStr for TypeRequest {
    type Err = BadTypeRequest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTypeRequest(s.to_string());
        let trimmed = s.trim();
        if let Ok(code) = trimmed.parse::<u16>() {
            return DbrType::from_code(code)
                .map(TypeRequest::Specific)
                .ok_or_else(bad);
        }
        let lower = trimmed.to_ascii_lowercase();
        let name = lower.strip_prefix("dbr_").unwrap_or(&lower);
        if let Some((_, class)) = CLASS_NAMES
            .iter()
            .chain(CLASS_ALIASES.iter())
            .find(|(n, _)| *n == name)
        {
            return Ok(TypeRequest::Class(*class));
        }
        (0..=DbrType::MAX_CODE)
            .filter_map(DbrType::from_code)
            .find(|t| {
                t.caproto_name().eq_ignore_ascii_case(name)
                    || t.epics_name().eq_ignore_ascii_case(name)
            })
            .map(TypeRequest::Specific)
            .ok_or_else(bad)
    }
}

impl TypeRequest {
    /// The concrete type to request from a channel of `native` type.
    pub fn resolve(self, native: NativeType) -> DbrType {
        match self {
            TypeRequest::Class(class) => DbrType::Value(class, native),
            TypeRequest::Specific(t) => t,
        }
    }
}

/// The text `--list-types` prints (caproto's wording and layout).
pub fn list_types_text() -> String {
    let mut s = String::from("Request a general class of types:\n\n");
    for (name, _) in CLASS_NAMES {
        s.push_str(name);
        s.push('\n');
    }
    s.push_str(
        "\nor one of the following specific types, specified by number or by \
         (case-insensitive) name:\n\n",
    );
    for code in 0..=DbrType::MAX_CODE {
        if let Some(t) = DbrType::from_code(code) {
            s.push_str(&format!("{code: <2} {}\n", t.caproto_name()));
        }
    }
    s.push_str(
        "\nType name may be preceded by 'DBR_' for compatiblity with EPICS caget utility\n   \
         (ex. DBR_STRING is equivalent to STRING)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_spelling() {
        let time_double = TypeRequest::Specific(DbrType::Value(DbrClass::Time, NativeType::Double));
        for s in [
            "20",
            "time_double",
            "DBR_TIME_DOUBLE",
            "Time_Double",
            " 20 ",
        ] {
            assert_eq!(s.parse::<TypeRequest>(), Ok(time_double), "{s}");
        }
        let ctrl_short = TypeRequest::Specific(DbrType::Value(DbrClass::Ctrl, NativeType::Short));
        assert_eq!("DBR_CTRL_SHORT".parse(), Ok(ctrl_short));
        assert_eq!("ctrl_int".parse(), Ok(ctrl_short));
        assert_eq!("control".parse(), Ok(TypeRequest::Class(DbrClass::Ctrl)));
        assert_eq!("ctrl".parse(), Ok(TypeRequest::Class(DbrClass::Ctrl)));
        assert_eq!("TIME".parse(), Ok(TypeRequest::Class(DbrClass::Time)));
        assert_eq!("38".parse(), Ok(TypeRequest::Specific(DbrType::ClassName)));
        assert_eq!(
            "stsack_string".parse(),
            Ok(TypeRequest::Specific(DbrType::StsackString))
        );
    }

    #[test]
    fn refuses_nonsense() {
        assert!("39".parse::<TypeRequest>().is_err());
        assert!("-1".parse::<TypeRequest>().is_err());
        assert!("doubel".parse::<TypeRequest>().is_err());
        assert!("".parse::<TypeRequest>().is_err());
    }

    #[test]
    fn resolves_classes_against_native_type() {
        let r = TypeRequest::Class(DbrClass::Gr);
        assert_eq!(r.resolve(NativeType::Enum).code(), 24);
    }

    #[test]
    fn list_matches_caproto_layout() {
        let text = list_types_text();
        assert!(text.starts_with("Request a general class of types:\n\nnative\nstatus\n"));
        assert!(text.contains("\n0  STRING\n1  INT\n"));
        assert!(text.contains("\n20 TIME_DOUBLE\n"));
        assert!(text.contains("\n38 CLASS_NAME\n"));
    }
}
