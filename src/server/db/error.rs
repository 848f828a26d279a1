//! Why a database file was refused: the file, the line and a typed reason.

use std::fmt;

/// What was wrong. Variants name the exact fault so tests (and programs)
/// can `matches!` the reason instead of comparing strings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbErrorKind {
    /// A character that starts no token.
    InvalidCharacter(char),
    /// A quoted string without its closing quote on the same line.
    UnterminatedString,
    /// The grammar expected one thing and found another (or the end).
    Unexpected {
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// `$(NAME)` with no definition and no default; EPICS refuses the file.
    UndefinedMacro(String),
    /// A macro whose value refers back to itself.
    RecursiveMacro(String),
    /// A malformed `-m` definition list.
    BadMacroDefinition(String),
    /// A record defined again with another type.
    RecordRedefined {
        /// The record.
        name: String,
        /// Its type so far.
        old: String,
        /// The type given now.
        new: String,
    },
    /// `record("*", name)` for a record not defined before.
    NoSuchRecord(String),
    /// An include file not found on the include path (or unreadable).
    IncludeNotFound(String),
    /// Includes nested deeper than [`super::MAX_INCLUDE_DEPTH`] (a cycle, usually).
    IncludeTooDeep,
    /// The file could not be read.
    Unreadable(String),
    /// A record this server cannot serve as defined (type, field, value).
    Record {
        /// The record.
        record: String,
        /// Why, in softIoc's words (the record named).
        reason: String,
    },
    /// A statement of the database definition (.dbd) language, which this
    /// loader does not read (menu, recordtype, device ...).
    Unsupported(String),
}

impl fmt::Display for DbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbErrorKind::InvalidCharacter(c) => write!(f, "invalid character {c:?}"),
            DbErrorKind::UnterminatedString => {
                f.write_str("quoted string without its closing quote")
            }
            DbErrorKind::Unexpected { expected, found } => {
                write!(f, "syntax error: expected {expected}, found {found}")
            }
            DbErrorKind::UndefinedMacro(m) => write!(f, "macro {m} is undefined"),
            DbErrorKind::RecursiveMacro(m) => write!(f, "macro {m} is defined in terms of itself"),
            DbErrorKind::BadMacroDefinition(s) => write!(f, "bad macro definition {s:?}"),
            DbErrorKind::RecordRedefined { name, old, new } => write!(
                f,
                "record {name:?} of type {old:?} redefined with new type {new:?}"
            ),
            DbErrorKind::NoSuchRecord(n) => write!(f, "record {n:?} not found (type \"*\")"),
            DbErrorKind::IncludeNotFound(n) => write!(f, "can't open include file {n:?}"),
            DbErrorKind::IncludeTooDeep => f.write_str("include files nested too deeply"),
            DbErrorKind::Unreadable(e) => write!(f, "cannot read the file: {e}"),
            DbErrorKind::Record { reason, .. } => f.write_str(reason),
            DbErrorKind::Unsupported(s) => {
                write!(f, "{s}: database definitions (.dbd) are not read here")
            }
        }
    }
}

/// A database text was refused in `file` at `line` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbError {
    /// The file as it was named (or `<text>`).
    pub file: String,
    /// Line of the offending token (0: the file as a whole).
    pub line: u32,
    /// What was wrong.
    pub kind: DbErrorKind,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.kind),
            line => write!(f, "{}:{line}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for DbError {}
