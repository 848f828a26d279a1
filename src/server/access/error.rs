//! Why an ACF file was refused: the line and a typed reason.

use std::fmt;
use std::path::PathBuf;

use crate::proto::calc::CalcError;

/// What was wrong with an ACF text. Variants name the exact fault so tests
/// (and programs) can `matches!` the reason instead of comparing strings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcfErrorKind {
    /// A character that cannot start any token.
    InvalidCharacter(char),
    /// A quoted string without its closing quote on the same line.
    UnterminatedString,
    /// The parser expected one thing and found another (or the end of the text).
    Unexpected {
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found (`end of file` at the end).
        found: String,
    },
    /// The file defines no UAG, HAG or ASG (EPICS refuses an empty file too).
    Empty,
    /// A rule level that is not a small non-negative integer.
    BadLevel(String),
    /// Access other than `NONE`, `READ` or `WRITE`.
    BadAccess(String),
    /// A rule option other than `TRAPWRITE` or `NOTRAPWRITE`.
    BadOption(String),
    /// A second UAG with this name.
    DuplicateUag(String),
    /// A second HAG with this name.
    DuplicateHag(String),
    /// A second ASG with this name (an empty `ASG(DEFAULT)` may be given again).
    DuplicateAsg(String),
    /// A rule names a UAG not defined above it.
    UndefinedUag(String),
    /// A rule names a HAG not defined above it.
    UndefinedHag(String),
    /// A `CALC` expression that does not compile.
    BadCalc {
        /// The expression.
        expr: String,
        /// Where in it and why.
        error: CalcError,
    },
    /// A `CALC` expression assigning to an input (`A:=...`), which EPICS refuses.
    CalcAssignment(String),
}

impl fmt::Display for AcfErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcfErrorKind::InvalidCharacter(c) if c.is_ascii_graphic() => {
                write!(f, "invalid character '{c}'")
            }
            AcfErrorKind::InvalidCharacter(c) => {
                write!(f, "invalid character U+{:04X}", u32::from(*c))
            }
            AcfErrorKind::UnterminatedString => {
                f.write_str("newline in quoted string, closing quote missing")
            }
            AcfErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            AcfErrorKind::Empty => f.write_str("no UAG, HAG or ASG defined"),
            AcfErrorKind::BadLevel(s) => write!(f, "rule level {s} is not a valid level"),
            AcfErrorKind::BadAccess(s) => {
                write!(f, "access rights must be NONE, READ or WRITE, not {s:?}")
            }
            AcfErrorKind::BadOption(s) => {
                write!(
                    f,
                    "rule options must be TRAPWRITE or NOTRAPWRITE, not {s:?}"
                )
            }
            AcfErrorKind::DuplicateUag(s) => write!(f, "duplicate user access group {s:?}"),
            AcfErrorKind::DuplicateHag(s) => write!(f, "duplicate host access group {s:?}"),
            AcfErrorKind::DuplicateAsg(s) => {
                write!(f, "duplicate access security group {s:?}")
            }
            AcfErrorKind::UndefinedUag(s) => {
                write!(
                    f,
                    "no user access group named {s:?} defined (before this line)"
                )
            }
            AcfErrorKind::UndefinedHag(s) => {
                write!(
                    f,
                    "no host access group named {s:?} defined (before this line)"
                )
            }
            AcfErrorKind::BadCalc { expr, error } => {
                write!(f, "{error} in CALC expression {expr:?}")
            }
            AcfErrorKind::CalcAssignment(s) => {
                write!(f, "assignment operator used in CALC expression {s:?}")
            }
        }
    }
}

/// An ACF text was refused at `line` (1-based) for `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcfError {
    /// Line of the offending token.
    pub line: u32,
    /// What was wrong.
    pub kind: AcfErrorKind,
}

impl fmt::Display for AcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for AcfError {}

/// An ACF file could not be used: unreadable, or refused by the parser.
#[derive(Debug)]
#[non_exhaustive]
pub enum AcfFileError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's text was refused.
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        error: AcfError,
    },
}

impl fmt::Display for AcfFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcfFileError::Io { path, source } => {
                write!(f, "cannot read ACF file {}: {source}", path.display())
            }
            AcfFileError::Parse { path, error } => {
                write!(f, "{}:{}: {}", path.display(), error.line, error.kind)
            }
        }
    }
}

impl std::error::Error for AcfFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcfFileError::Io { source, .. } => Some(source),
            AcfFileError::Parse { error, .. } => Some(error),
        }
    }
}
