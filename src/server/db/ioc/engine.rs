//! Processing across records: links, FLNK, CP, outputs, and posting each
//! result to the record's channels. Every record sits behind its own lock,
//! held only while the record itself computes; a record already being
//! processed is skipped (EPICS's PACT), which also breaks link cycles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::proto::command::mask;
use crate::proto::dbr::{DbrType, EpicsTime, Value};
use crate::server::error::eca;
use crate::server::pv::PvSnapshot;
use crate::server::PutError;
use crate::server::PvHandle;

use super::super::record::link::{Link, Process};
use super::super::record::meta::property_changed;
use super::super::record::{Inputs, Processed, Record, RecordError};

/// Deepest chain of processing one processing may start (FLNK, PP links).
const MAX_CHAIN: usize = 64;

/// One record, its field channels and its processing state (its VAL
/// channel is in [`Engine::pvs`]: the channel's write hook holds the cell).
pub(super) struct Cell {
    pub(super) rec: Mutex<Record>,
    pub(super) fields: Mutex<HashMap<&'static str, PvHandle>>,
    /// Whether `fields` has ever held a channel: a post reads this, not
    /// the map's lock, to learn that it has only VAL to update. Set with
    /// `fields` locked, after the insertion.
    pub(super) fields_open: AtomicBool,
    /// Some record follows this one through a CP or CPP link.
    pub(super) followed: bool,
    pub(super) busy: AtomicBool,
    /// The record's [`Record::meta_version`] when VAL's metadata was last
    /// posted (`u64::MAX`: never): while it holds, a post only updates the
    /// alarm and time. Read and written with the record locked.
    pub(super) posted_meta: AtomicU64,
}

impl Cell {
    pub(super) fn new(rec: Record) -> Cell {
        Cell {
            rec: Mutex::new(rec),
            fields: Mutex::new(HashMap::new()),
            fields_open: AtomicBool::new(false),
            followed: false,
            busy: AtomicBool::new(false),
            posted_meta: AtomicU64::new(u64::MAX),
        }
    }

    pub(super) fn rec(&self) -> MutexGuard<'_, Record> {
        crate::sync::lock(&self.rec)
    }
}

/// All records of the served files.
pub(super) struct Engine {
    /// Shared with the bindings of the records' VAL channels (a cell does
    /// not hold its channel, so that makes no cycle).
    pub(super) cells: Vec<Arc<Cell>>,
    /// Each record's VAL channel, set at install.
    pub(super) pvs: Vec<OnceLock<PvHandle>>,
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
        self.process_locked(i, cell.rec(), depth);
    }

    /// Process record `i`, already marked busy and locked as `rec` (a
    /// client's write to VAL comes here holding the lock it wrote under).
    fn process_locked<'a>(&'a self, i: usize, mut rec: MutexGuard<'a, Record>, depth: usize) {
        let cell = &self.cells[i];
        // The record is unlocked while links are read (their targets may
        // be processed); a record without SDIS or input links is locked once.
        // Parsed once per field write, shared: no copy per processing.
        if rec.is_linkless() {
            // Nothing to read first, nothing to write or process after.
            let out = if rec.is_disabled() {
                rec.process_disabled()
            } else {
                rec.process(&Inputs::default(), EpicsTime::now())
            };
            self.post_locked(i, rec, &out);
            cell.busy.store(false, Ordering::Release);
            return;
        }
        let links = rec.links();
        if let Link::Db { .. } = links.sdis {
            drop(rec);
            if let Some((v, _, _)) = self.read_link(&links.sdis, depth) {
                let _ = cell.rec().put_field("DISA", v);
            }
            rec = cell.rec();
        }
        if rec.is_disabled() {
            let out = rec.process_disabled();
            self.post_locked(i, rec, &out);
            cell.busy.store(false, Ordering::Release);
            return;
        }
        let out = if !links.inputs.is_empty() {
            drop(rec);
            let inputs = Inputs {
                values: links
                    .inputs
                    .iter()
                    .map(|(_, l)| self.read_link(l, depth))
                    .collect(),
            };
            rec = cell.rec();
            rec.process(&inputs, EpicsTime::now())
        } else {
            rec.process(&Inputs::default(), EpicsTime::now())
        };
        // A processing writes no link field: OUT and FLNK are as read above.
        self.post_locked(i, rec, &out);
        if let (Some(v), Link::Db { .. }) = (&out.output, &links.out) {
            self.write_link(&links.out, v.clone(), depth);
        }
        cell.busy.store(false, Ordering::Release);
        if let Link::Db { record, .. } = &links.flnk {
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

    /// A client wrote `count` elements of plain `data_type` to record
    /// `i`'s VAL: decoded into VAL in place and processed under the lock it
    /// was written with, as [`Engine::put`] would do with the decoded value.
    /// `None`: not a write this path takes (see
    /// [`Record::put_val_plain`]); nothing was changed.
    pub(super) fn put_plain(
        &self,
        i: usize,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        let cell = &self.cells[i];
        let mut rec = cell.rec();
        let processes = match rec.put_val_plain(data_type, count, data)? {
            Ok(processes) => processes,
            Err(e) => return Some(Err(PutError::Status(eca::BADTYPE, e.to_string()))),
        };
        if !processes {
            drop(rec);
            self.post_put(i, "VAL");
        } else if !cell.busy.swap(true, Ordering::AcqRel) {
            self.process_locked(i, rec, 0);
        }
        Some(Ok(()))
    }

    /// A client (or link) wrote `field` of record `i`.
    pub(super) fn put(&self, i: usize, field: &str, v: Value) -> Result<(), PutError> {
        let (result, nord_changed) = {
            let mut rec = self.cells[i].rec();
            let before = rec.nord();
            let result = rec.put_field(field, v);
            (result, rec.nord() != before)
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
            let fields = crate::sync::lock(&cell.fields);
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
        self.post_locked(i, self.cells[i].rec(), out);
    }

    /// [`Engine::post`] with record `i` locked as `rec`: VAL is posted
    /// before the lock is released, so two posts of one record cannot
    /// interleave; the field channels and CP followers after.
    fn post_locked(&self, i: usize, rec: MutexGuard<'_, Record>, out: &Processed) {
        let cell = &self.cells[i];
        if let Some(pv) = self.pvs[i].get() {
            post_val(cell, &rec, pv, out.val_events);
        }
        drop(rec);
        if !cell.fields_open.load(Ordering::Acquire) && !cell.followed {
            // No field channel open, no record following this one.
            return;
        }
        self.post_fields(i, out);
    }

    /// The second half of [`Engine::post_locked`], with record `i`
    /// unlocked: post its open field channels and process the records
    /// following it through CP links.
    pub(super) fn post_fields(&self, i: usize, out: &Processed) {
        let cell = &self.cells[i];
        let mut fields: Vec<(&'static str, PvHandle)> = {
            let open = crate::sync::lock(&cell.fields);
            open.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
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

/// Post record `rec`'s VAL, alarm and time to its channel `pv` with
/// `events`, plus DBE_PROPERTY when VAL's metadata changed. The snapshot is
/// updated in place; the metadata is rebuilt and compared only when a field
/// was written since the last post (else only alarm and time move).
pub(super) fn post_val(cell: &Cell, rec: &Record, pv: &PvHandle, events: u16) {
    let (native, count) = rec.val_type();
    if native != pv.native_type() || count > pv.max_count() {
        // Not the shape the channel was made with: convert (never expected).
        let mut events = events;
        if property_changed(&pv.snapshot_as_is().meta, &rec.metadata()) {
            events |= mask::PROPERTY;
        }
        let _ = pv.publish(rec.val().clone(), rec.metadata(), events);
        return;
    }
    let version = rec.meta_version();
    let same_meta = cell.posted_meta.load(Ordering::Relaxed) == version;
    pv.publish_in_place(|snap: &mut PvSnapshot| {
        assign_value(&mut snap.value, rec.val());
        let mut events = events;
        if same_meta {
            let m = &mut snap.meta;
            let (status, severity) = rec.alarm();
            m.status = status;
            m.severity = severity;
            m.stamp = rec.stamp();
            // As a full post would: the record's metadata has no
            // acknowledgement state.
            m.ackt = 0;
            m.acks = Default::default();
        } else {
            let meta = rec.metadata();
            if property_changed(&snap.meta, &meta) {
                events |= mask::PROPERTY;
            }
            snap.meta = meta;
        }
        events
    });
    cell.posted_meta.store(version, Ordering::Relaxed);
}

/// Make `dst` equal to `src`, reusing `dst`'s storage when both hold the
/// same type (a processing posts a value of VAL's type every time).
#[inline]
pub(super) fn assign_value(dst: &mut Value, src: &Value) {
    // One double, the common record: no call to copy one element.
    if let (Value::Double(d), Value::Double(s)) = (&mut *dst, src) {
        if let ([d], [s]) = (d.as_mut_slice(), s.as_slice()) {
            *d = *s;
            return;
        }
    }
    match (dst, src) {
        (Value::Double(d), Value::Double(s)) => d.clone_from(s),
        (Value::Long(d), Value::Long(s)) => d.clone_from(s),
        (Value::Enum(d), Value::Enum(s)) => d.clone_from(s),
        (Value::Short(d), Value::Short(s)) => d.clone_from(s),
        (Value::Float(d), Value::Float(s)) => d.clone_from(s),
        (Value::Char(d), Value::Char(s)) => d.clone_from(s),
        (Value::String(d), Value::String(s)) => d.clone_from(s),
        (d, s) => *d = s.clone(),
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
