//! Each record type's field table, built once: the field definitions, an
//! index by name (FNV-hashed: names are short and trusted, and a processing
//! looks up a few dozen) and the defaults as numbers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use super::fields::{self, Dbf, FieldDef};

/// One record type's fields, with a name index and the defaults as
/// numbers, built once: processing looks fields up by name many times.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) defs: Vec<FieldDef>,
    pub(super) index: HashMap<&'static str, usize, BuildHasherDefault<NameHasher>>,
    pub(super) default_num: Vec<f64>,
    /// Fields whose value lives in the record's state, not in `set`.
    pub(super) special: Vec<bool>,
    /// Fields that only hold data a processing computes (calc's A..L,
    /// calcout's OVAL): writing them changes no metadata, limit or link,
    /// so it keeps the record's caches.
    pub(super) data_only: Vec<bool>,
}

/// The fields read from the record's state (see [`Record::get`]).
const STATE_FIELDS: &[&str] = &[
    "VAL", "NAME", "RTYP", "STAT", "SEVR", "UDF", "MLST", "ALST", "LALM", "NORD", "PVAL",
];

/// FNV-1a over a field name: field names are short and trusted, and a
/// processing looks up a few dozen of them, so SipHash's cost shows.
#[derive(Default)]
pub(super) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The field table of each type, built once.
pub(super) fn table(rtyp: &str) -> Option<&'static Table> {
    static TABLES: OnceLock<HashMap<&'static str, &'static Table>> = OnceLock::new();
    TABLES
        .get_or_init(|| {
            fields::TYPES
                .iter()
                .map(|(t, _)| {
                    let defs = fields::fields_of(t).unwrap_or_default();
                    let index = defs.iter().enumerate().map(|(i, d)| (d.name, i)).collect();
                    let default_num = defs
                        .iter()
                        .map(|d| match d.dbf {
                            Dbf::Menu(choices) => choices
                                .iter()
                                .position(|c| *c == d.default)
                                .map_or(0.0, |i| i as f64),
                            _ => d.default.trim().parse().unwrap_or(0.0),
                        })
                        .collect();
                    let special = defs
                        .iter()
                        .map(|d| STATE_FIELDS.contains(&d.name))
                        .collect();
                    let data_only = defs
                        .iter()
                        .map(|d| {
                            matches!(*t, "calc" | "calcout")
                                && (fields::CALC_ARGS.contains(&d.name) || d.name == "OVAL")
                        })
                        .collect();
                    let table: &'static Table = Box::leak(Box::new(Table {
                        defs,
                        index,
                        default_num,
                        special,
                        data_only,
                    }));
                    (*t, table)
                })
                .collect()
        })
        .get(rtyp)
        .copied()
}
