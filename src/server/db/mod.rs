//! EPICS database (`.db`) files: what softIoc's `dbLoadRecords` reads.
//!
//! This module turns text into a [`Database`] of record definitions (type,
//! name, fields, info items, aliases, each with its file and line) or a
//! [`DbError`] naming the file, the line and a typed [`DbErrorKind`]. It is
//! sans-I/O apart from [`load_file`]: [`parse`] takes the text, the
//! [`Macros`] to substitute and a callback that reads `include` files, so
//! tests drive it without a file system. Nothing is served from a file that
//! does not load whole.
//!
//! The grammar is in the `parse` module's documentation; macros follow
//! EPICS's macLib (`$(NAME)`, `${NAME}`, `$(NAME=default)`). Not read:
//! database definitions (`menu`, `recordtype`, `device` ...), refused with
//! [`DbErrorKind::Unsupported`]; a macro that expands to several tokens
//! (macros are replaced inside each string or bareword).

pub mod alarm;
mod error;
mod ioc;
mod lex;
mod load;
mod macros;
mod parse;
pub mod record;

use std::collections::HashMap;

pub use error::{DbError, DbErrorKind};
pub use ioc::DbIoc;
pub(crate) use ioc::ValBinding;
pub use load::{load_file, load_files, DEFAULT_INCLUDE_PATH};
pub use macros::Macros;
pub use parse::IncludeReader;

/// Deepest nesting of `include` files.
pub const MAX_INCLUDE_DEPTH: usize = 20;

/// Where something was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as it was named.
    pub file: String,
    /// 1-based line.
    pub line: u32,
}

/// One record: its type, name and the fields, info items and aliases given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDef {
    /// Record type (`ai`, `calc` ...).
    pub rtyp: String,
    /// Record name.
    pub name: String,
    /// `field(NAME, value)` in order, a later one replacing an earlier one.
    pub fields: Vec<(String, String, Location)>,
    /// `info(name, value)` in order.
    pub infos: Vec<(String, String, Location)>,
    /// `alias(name)` inside the record.
    pub aliases: Vec<(String, Location)>,
    /// Where the record was first defined.
    pub location: Location,
}

impl RecordDef {
    /// The value given for field `name`, if any.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }
}

/// Every record of one or more files, in definition order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Database {
    /// The records.
    pub records: Vec<RecordDef>,
    /// Top-level `alias(record, alias)` statements.
    pub aliases: Vec<(String, String, Location)>,
    index: HashMap<String, usize>,
}

impl Database {
    /// An empty database.
    pub fn new() -> Database {
        Database::default()
    }

    /// The record called `name`.
    pub fn record(&self, name: &str) -> Option<&RecordDef> {
        self.index.get(name).map(|&i| &self.records[i])
    }

    /// Parse `text` (named `file` in errors) into this database, replacing
    /// `macros` and reading includes with `include`.
    pub fn parse(
        &mut self,
        file: &str,
        text: &str,
        macros: &Macros,
        include: &mut IncludeReader<'_>,
    ) -> Result<(), DbError> {
        parse::Parser {
            db: self,
            macros,
            include,
        }
        .file(file, text, 0)
    }
}

/// Parse one text into a new [`Database`]; `include` statements are refused
/// as not found.
pub fn parse(file: &str, text: &str, macros: &Macros) -> Result<Database, DbError> {
    let mut db = Database::new();
    db.parse(file, text, macros, &mut |name: &str| {
        Err(DbErrorKind::IncludeNotFound(name.to_string()))
    })?;
    Ok(db)
}

#[cfg(test)]
mod tests;
