//! Serving a [`Database`] the way softIoc does: each
//! record is a channel `REC` (its VAL), every field a channel
//! `REC.FIELD`, and records process on writes, on their SCAN period, at
//! start-up (PINI), through links (PP, CP, CPP) and forward links (FLNK).
//!
//! [`DbIoc::new`] checks every record (types, fields, values, CALC
//! expressions) and refuses the whole database on the first fault, naming
//! file and line; warnings (links to records not in the database, which
//! softIoc would try as Channel Access links) are returned to print.
//! [`DbIoc::install`] then adds the records to a server's
//! [`PvDatabase`]: the VAL channels as PVs, field channels made on first
//! use, and a start-up task that runs PINI and the periodic scans (the
//! only place time is read). The record logic itself is pure and lives in
//! [`super::record`].

mod engine;
mod quick;

pub(crate) use quick::ValBinding;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::server::{DynamicPvs, Pv, PvDatabase, PvGroup, ServerError};

use super::record::fields::{scan_period, Dbf};
use super::record::link::Link;
use super::record::Record;
use super::{Database, DbError, DbErrorKind};
use engine::{cp_sources, Cell, Engine};

/// The records of one or more `.db` files, checked and ready to serve.
pub struct DbIoc {
    engine: Arc<Engine>,
    names: Vec<String>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for DbIoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIoc")
            .field("records", &self.names.len())
            .finish()
    }
}

impl DbIoc {
    /// Build every record of `db`, or the first fault with file and line.
    pub fn new(db: &Database) -> Result<DbIoc, DbError> {
        let mut cells = Vec::with_capacity(db.records.len());
        let mut index = HashMap::new();
        let mut names = Vec::new();
        for def in &db.records {
            let rec = Record::new(def).map_err(|(e, line)| DbError {
                file: def.location.file.clone(),
                line,
                kind: DbErrorKind::Record {
                    record: def.name.clone(),
                    reason: e.describe(&def.rtyp, &def.name),
                },
            })?;
            index.insert(def.name.clone(), cells.len());
            names.push(def.name.clone());
            cells.push(Cell::new(rec));
        }
        let aliases = db
            .records
            .iter()
            .flat_map(|r| r.aliases.iter().map(move |(a, l)| (&r.name, a, l)))
            .chain(db.aliases.iter().map(|(r, a, l)| (r, a, l)));
        for (record, alias, loc) in aliases {
            if index.contains_key(alias) {
                return Err(DbError {
                    file: loc.file.clone(),
                    line: loc.line,
                    kind: DbErrorKind::Record {
                        record: record.clone(),
                        reason: format!("alias \"{alias}\" already exists"),
                    },
                });
            }
            if let Some(&i) = index.get(record) {
                index.insert(alias.clone(), i);
                names.push(alias.clone());
            }
        }
        let mut warnings = Vec::new();
        let mut cp = vec![Vec::new(); cells.len()];
        for (i, (cell, def)) in cells.iter().zip(&db.records).enumerate() {
            let rec = cell.rec();
            for fd in rec.field_defs() {
                if fd.dbf != Dbf::Link {
                    continue;
                }
                if let Link::Db { record, .. } = rec.link(fd.name) {
                    if !index.contains_key(&record) {
                        warnings.push(format!(
                            "{}:{}: {}.{}: link to \"{record}\", which is not a record here; \
                             Channel Access links are not supported, reads give LINK INVALID",
                            def.location.file, def.location.line, def.name, fd.name
                        ));
                    }
                }
            }
            for source in cp_sources(&rec) {
                if let Some(&s) = index.get(&source) {
                    cp[s].push(i);
                }
            }
        }
        let cells: Vec<Arc<Cell>> = cells
            .into_iter()
            .zip(&cp)
            .map(|(mut cell, followers)| {
                cell.followed = !followers.is_empty();
                Arc::new(cell)
            })
            .collect();
        let pvs = cells.iter().map(|_| OnceLock::new()).collect();
        Ok(DbIoc {
            engine: Arc::new(Engine {
                cells,
                pvs,
                index,
                cp,
            }),
            names,
            warnings,
        })
    }

    /// What the database loads with but works differently than in softIoc.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Record names and aliases, in definition order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Add the records to `db`: VAL channels now, field channels on first
    /// use, PINI and periodic scans when the server starts. Fails on a
    /// name another group already serves.
    pub fn install(&self, db: &mut PvDatabase) -> Result<(), ServerError> {
        let mut group = PvGroup::new("");
        let engine = &self.engine;
        for (i, cell) in engine.cells.iter().enumerate() {
            let rec = cell.rec();
            let (_, count) = rec.val_type();
            let mut pv = Pv::new(rec.name(), rec.val().clone())
                .max_count(count)
                .record_type(rec.rtyp())
                .metadata(rec.metadata());
            let asg = rec.string("ASG");
            if !asg.is_empty() {
                pv = pv.access_group(&asg);
            }
            let weak = Arc::downgrade(engine);
            pv = pv.on_put_handled(move |_, v| put(&weak, i, "VAL", v));
            pv = pv.bound_to_record(ValBinding::new(cell, engine, i));
            let handle = group.add(pv);
            // The PV API stamps a new PV with the current time; a record
            // never processed has none, as in softIoc.
            let _ = handle.publish(rec.val().clone(), rec.metadata(), 0);
            let _ = engine.pvs[i].set(handle);
        }
        group.on_startup(run_scans(Arc::clone(engine)));
        db.add_group(group)?;
        for alias in &self.names[engine.cells.len()..] {
            if let Some(pv) = engine.index.get(alias).and_then(|&i| engine.pvs[i].get()) {
                db.alias(alias, pv.clone())?;
            }
        }
        // The field-channel rule owns the records for as long as the
        // server's database lives; the PVs' put hooks only refer to them.
        let accepts = Arc::clone(engine);
        let make = Arc::clone(engine);
        db.set_dynamic(DynamicPvs::from_handles(
            move |name| field_of(&accepts, name).is_some(),
            move |name| field_channel(&make, name),
            usize::MAX,
        ));
        Ok(())
    }
}

fn put(
    engine: &Weak<Engine>,
    i: usize,
    field: &str,
    v: crate::proto::dbr::Value,
) -> Result<(), crate::server::PutError> {
    match engine.upgrade() {
        Some(e) => e.put(i, field, v),
        None => Err(crate::server::PutError::ReadOnly),
    }
}

/// The record and field a `REC.FIELD` name means.
fn field_of(engine: &Engine, name: &str) -> Option<(usize, &'static str)> {
    let (record, field) = name.rsplit_once('.')?;
    let &i = engine.index.get(record)?;
    let def = engine.cells[i]
        .rec()
        .field_def(field.trim_end_matches('$'))?;
    Some((i, def.name))
}

/// The channel of `REC.FIELD`: the record's own PV for VAL, else a PV
/// kept with the record so processing updates it.
fn field_channel(engine: &Arc<Engine>, name: &str) -> Option<crate::server::PvHandle> {
    let (i, field) = field_of(engine, name)?;
    let cell = &engine.cells[i];
    if field == "VAL" {
        return engine.pvs[i].get().cloned();
    }
    let mut fields = crate::sync::lock(&cell.fields);
    if let Some(pv) = fields.get(field) {
        return Some(pv.clone());
    }
    let rec = cell.rec();
    let def = rec.field_def(field)?;
    let mut pv = Pv::new(name, rec.get(field)?)
        .record_type(rec.rtyp())
        .metadata(rec.field_metadata(field))
        .access_level(u32::from(!is_level0(rec.rtyp(), field)));
    let asg = rec.string("ASG");
    if !asg.is_empty() {
        pv = pv.access_group(&asg);
    }
    if def.read_only {
        pv = pv.read_only();
    } else {
        let weak = Arc::downgrade(engine);
        pv = pv.on_put_handled(move |_, v| put(&weak, i, field, v));
    }
    let handle = pv.into_handle(name.to_string());
    let _ = handle.publish(rec.get(field)?, rec.field_metadata(field), 0);
    fields.insert(field, handle.clone());
    cell.fields_open
        .store(true, std::sync::atomic::Ordering::Release);
    Some(handle)
}

/// Fields access security level 0 rules may write (EPICS `asl(ASL0)`).
fn is_level0(rtyp: &str, field: &str) -> bool {
    matches!(field, "VAL" | "PROC") || (matches!(rtyp, "calc" | "calcout") && field.len() == 1)
}

/// PINI, the records with CP links, then each periodic SCAN rate in its own task.
async fn run_scans(engine: Arc<Engine>) {
    let mut by_period: BTreeMap<Duration, Vec<usize>> = BTreeMap::new();
    let mut pini = Vec::new();
    for (i, cell) in engine.cells.iter().enumerate() {
        let rec = cell.rec();
        if rec.num("PINI") != 0.0 {
            pini.push(i);
        }
        if let Some(p) = scan_period(rec.num("SCAN") as u16) {
            by_period.entry(p).or_default().push(i);
        }
    }
    for i in pini {
        engine.process(i);
    }
    // A CP link's first monitor update processes its record once at
    // start-up, as softIoc's link connection does.
    let mut followers: Vec<usize> = engine.cp.iter().flatten().copied().collect();
    followers.sort_unstable();
    followers.dedup();
    for i in followers {
        engine.process(i);
    }
    for (period, mut records) in by_period {
        // Within a rate, lower PHAS first, then definition order (EPICS).
        records.sort_by_key(|&i| (engine.cells[i].rec().num("PHAS") as i64, i));
        let engine = Arc::clone(&engine);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                for &i in &records {
                    engine.process(i);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
