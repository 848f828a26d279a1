//! Processing across records: links, FLNK, CP, outputs, and posting each
//! result to the record's channels. Every record sits behind its own lock,
//! held only while the record itself computes; a record already being
//! processed is skipped (EPICS's PACT), which also breaks link cycles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::proto::command::mask;
use crate::proto::dbr::EpicsTime;
use crate::proto::dbr::Value;
use crate::server::PutError;
use crate::server::PvHandle;

use super::super::record::link::{Link, Process};
use super::super::record::meta::property_changed;
use super::super::record::{Inputs, Processed, Record, RecordError};

/// Deepest chain of processing one processing may start (FLNK, PP links).
const MAX_CHAIN: usize = 64;

/// One record and its live channels.
pub(super) struct Cell {
    pub(super) rec: Mutex<Record>,
    pub(super) pv: OnceLock<PvHandle>,
    pub(super) fields: Mutex<HashMap<&'static str, PvHandle>>,
    busy: AtomicBool,
}

impl Cell {
    pub(super) fn new(rec: Record) -> Cell {
        Cell {
            rec: Mutex::new(rec),
            pv: OnceLock::new(),
            fields: Mutex::new(HashMap::new()),
            busy: AtomicBool::new(false),
        }
    }

    pub(super) fn rec(&self) -> MutexGuard<'_, Record> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// All records of the served files.
pub(super) struct Engine {
    pub(super) cells: Vec<Cell>,
    /// Record names and aliases to their cell.
    pub(super) index: HashMap<String, usize>,
    /// Records to process when a record posts (CP and CPP links).
    pub(super) cp: Vec<Vec<usize>>,
}

impl Engine {
    /// Process record `i` (and what it links to).
    pub(super) fn process(&self, i: usize) {
        self.process_depth(i, 0);
    }

    fn process_depth(&self, i: usize, depth: usize) {
        if depth > MAX_CHAIN {
            tracing::warn!(target: "caproto::serv", "processing chain deeper than {MAX_CHAIN} records stopped");
            return;
        }
        let cell = &self.cells[i];
        if cell.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let (sdis, links) = {
            let rec = cell.rec();
            (rec.link("SDIS"), rec.input_links())
        };
        if let Link::Db { .. } = sdis {
            if let Some((v, _, _)) = self.read_link(&sdis, depth) {
                let _ = cell.rec().put_field("DISA", v);
            }
        }
        let mut rec = cell.rec();
        if rec.is_disabled() {
            let out = rec.process_disabled();
            drop(rec);
            self.post(i, &out);
            cell.busy.store(false, Ordering::Release);
            return;
        }
        drop(rec);
        let inputs = Inputs {
            values: links
                .iter()
                .map(|(_, l)| self.read_link(l, depth))
                .collect(),
        };
        let (out, out_link, flnk) = {
            let mut rec = cell.rec();
            let out = rec.process(&inputs, EpicsTime::now());
            (out, rec.link("OUT"), rec.link("FLNK"))
        };
        self.post(i, &out);
        if let (Some(v), Link::Db { .. }) = (&out.output, &out_link) {
            self.write_link(&out_link, v.clone(), depth);
        }
        cell.busy.store(false, Ordering::Release);
        if let Link::Db { record, .. } = &flnk {
            if let Some(&t) = self.index.get(record) {
                self.process_depth(t, depth + 1);
            }
        }
    }

    /// Read the field a link names (processing a passive target first for PP).
    fn read_link(
        &self,
        link: &Link,
        depth: usize,
    ) -> Option<(
        Value,
        crate::proto::status::AlarmStatus,
        crate::proto::status::AlarmSeverity,
    )> {
        let Link::Db {
            record,
            field,
            process,
            ..
        } = link
        else {
            return None;
        };
        let &t = self.index.get(record)?;
        let passive = self.cells[t].rec().is_passive();
        if *process == Process::Process && passive {
            self.process_depth(t, depth + 1);
        }
        let rec = self.cells[t].rec();
        let v = rec.get(field)?;
        let (s, sev) = rec.alarm();
        Some((v, s, sev))
    }

    /// Write `v` to the field a link names, processing the target for PP.
    fn write_link(&self, link: &Link, v: Value, depth: usize) {
        let Link::Db {
            record,
            field,
            process,
            ..
        } = link
        else {
            return;
        };
        let Some(&t) = self.index.get(record) else {
            return;
        };
        let result = self.cells[t].rec().put_field(field, v);
        let passive = self.cells[t].rec().is_passive();
        match result {
            Ok(pp) if pp || (*process == Process::Process && passive) => {
                self.process_depth(t, depth + 1)
            }
            Ok(_) => self.post_put(t, field),
            Err(e) => tracing::warn!(target: "caproto::serv", "{record}.{field}: {e}"),
        }
    }

    /// A client (or link) wrote `field` of record `i`.
    pub(super) fn put(&self, i: usize, field: &str, v: Value) -> Result<(), PutError> {
        let (result, nord_changed) = {
            let mut rec = self.cells[i].rec();
            let before = rec.get("NORD");
            let result = rec.put_field(field, v);
            (result, rec.get("NORD") != before)
        };
        if nord_changed {
            // An array write posts NORD at once, with the alarm and time
            // the record had before it processes (EPICS's put_array_info).
            self.post_field(i, "NORD", mask::VALUE | mask::LOG);
        }
        match result {
            Ok(true) => {
                if field != "VAL" && field != "PROC" {
                    // dbPut posts the field written (and a property change)
                    // before the record processes.
                    self.post_put(i, field);
                }
                self.process(i);
                Ok(())
            }
            Ok(false) => {
                self.post_put(i, field);
                Ok(())
            }
            Err(RecordError::NoSuchField(f)) => Err(PutError::NoConvert(f)),
            Err(e) => Err(PutError::OutOfRange(e.to_string())),
        }
    }

    /// Post after a write that did not process: the field written gets
    /// DBE_VALUE|DBE_LOG; a changed property reaches VAL as DBE_PROPERTY.
    fn post_put(&self, i: usize, field: &str) {
        let field_events = mask::VALUE | mask::LOG;
        if field == "VAL" {
            self.post(
                i,
                &Processed {
                    val_events: field_events,
                    ..Processed::default()
                },
            );
        } else {
            self.post(i, &Processed::default());
            let name = self.cells[i].rec().field_def(field).map(|d| d.name);
            if let Some(name) = name {
                self.post_field(i, name, field_events);
            }
        }
    }

    fn post_field(&self, i: usize, field: &'static str, events: u16) {
        let cell = &self.cells[i];
        let pv = {
            let fields = cell.fields.lock().unwrap_or_else(|p| p.into_inner());
            fields.get(field).cloned()
        };
        if let Some(pv) = pv {
            let (v, m) = {
                let rec = cell.rec();
                (rec.get(field), rec.field_metadata(field))
            };
            if let Some(v) = v {
                let _ = pv.publish(v, m, events);
            }
        }
    }

    /// Post a processing's result to the record's channels and run the
    /// records that follow it through CP links.
    pub(super) fn post(&self, i: usize, out: &Processed) {
        let cell = &self.cells[i];
        let (val, meta) = {
            let rec = cell.rec();
            (rec.val().clone(), rec.metadata())
        };
        if let Some(pv) = cell.pv.get() {
            let mut events = out.val_events;
            if property_changed(&pv.snapshot().meta, &meta) {
                events |= mask::PROPERTY;
            }
            let _ = pv.publish(val, meta, events);
        }
        let mut fields: Vec<(&'static str, PvHandle)> = cell
            .fields
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        // Changed fields in the order the record posts them, then the rest.
        fields.sort_by_key(|(name, _)| {
            out.changed
                .iter()
                .position(|c| c == name)
                .unwrap_or(usize::MAX)
        });
        for (name, pv) in fields {
            let (v, m) = {
                let rec = cell.rec();
                (rec.get(name), rec.field_metadata(name))
            };
            let Some(v) = v else { continue };
            let events = if out.changed.contains(&name) {
                mask::VALUE | mask::LOG
            } else {
                0
            };
            let _ = pv.publish(v, m, events);
        }
        if out.val_events & (mask::VALUE | mask::ALARM) != 0 {
            for &t in &self.cp[i] {
                self.process(t);
            }
        }
    }
}

/// The records that record `r`'s CP/CPP input links make it follow.
pub(super) fn cp_sources(rec: &Record) -> Vec<String> {
    rec.input_links()
        .into_iter()
        .chain(std::iter::once(("SDIS", rec.link("SDIS"))))
        .filter_map(|(_, l)| match l {
            Link::Db {
                record,
                process: Process::ChannelProcess,
                ..
            } => Some(record),
            Link::Db {
                record,
                process: Process::ChannelProcessPassive,
                ..
            } if rec.is_passive() => Some(record),
            _ => None,
        })
        .collect()
}
