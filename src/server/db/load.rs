//! The thin I/O wrapper around the parser: read `.db` files and find their
//! includes on a search path, as softIoc's `dbLoadRecords` does.

use std::path::{Path, PathBuf};

use super::error::{DbError, DbErrorKind};
use super::{Database, Macros};

/// Where includes are looked for when no path is given: the current
/// directory, as softIoc's default `.`.
pub const DEFAULT_INCLUDE_PATH: &[&str] = &["."];

/// Read and parse the file at `path`, with `include` files searched in
/// `include_path` in order (relative paths as given, from the current directory).
pub fn load_file(
    db: &mut Database,
    path: &Path,
    macros: &Macros,
    include_path: &[PathBuf],
) -> Result<(), DbError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DbError {
        file: name.clone(),
        line: 0,
        kind: DbErrorKind::Unreadable(e.to_string()),
    })?;
    let mut include = |wanted: &str| {
        let candidates: Vec<PathBuf> = if Path::new(wanted).is_absolute() {
            vec![PathBuf::from(wanted)]
        } else {
            include_path.iter().map(|dir| dir.join(wanted)).collect()
        };
        candidates
            .iter()
            .find_map(|p| {
                std::fs::read_to_string(p)
                    .ok()
                    .map(|t| (p.display().to_string(), t))
            })
            .ok_or_else(|| DbErrorKind::IncludeNotFound(wanted.to_string()))
    };
    db.parse(&name, &text, macros, &mut include)
}

/// Load every file of `paths` into one database, each with `macros`.
pub fn load_files(
    paths: &[PathBuf],
    macros: &Macros,
    include_path: &[PathBuf],
) -> Result<Database, DbError> {
    let mut db = Database::new();
    for p in paths {
        load_file(&mut db, p, macros, include_path)?;
    }
    Ok(db)
}
