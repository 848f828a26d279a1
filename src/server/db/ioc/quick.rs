//! The shell of a quick put: a client's write to the VAL of a record that
//! reads and writes nothing but itself (see [`Record::put_val_quick`]),
//! handled by the record's cell and its channel alone.
//!
//! The VAL channel is bound to its record by a [`ValBinding`], which holds
//! the cell itself, not only a weak reference to the
//! [`Engine`](super::Engine): the common put takes the record's lock once,
//! processes and returns, with no reference to upgrade and drop. When no
//! client monitors VAL, the put does not copy VAL, alarm and time into the
//! channel's snapshot either (that would take the channel's lock too): it
//! marks the snapshot stale, and the next read has [`ValBinding::refresh`]
//! copy them (see `crate::server::pv`'s `deferred`). The engine is
//! reached (through the weak reference) only for what the cell cannot do
//! alone: open field channels and CP followers to post to, and writes
//! this path does not take.
//!
//! [`Record::put_val_quick`]: super::super::record::Record::put_val_quick

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::proto::dbr::{DbrError, DbrType, EpicsTime, Value};
use crate::server::error::eca;
use crate::server::{PutError, PvHandle};

use super::super::record::{Processed, QuickPut};
use super::engine::{assign_value, post_val, Cell, Engine};

/// What binds a record's VAL channel to the record: the channel calls it
/// directly (no closure behind a pointer) to hand over a client's write
/// undecoded and to bring its snapshot up to date.
pub(crate) struct ValBinding {
    cell: Arc<Cell>,
    engine: Weak<Engine>,
    /// The record's index in the engine.
    index: usize,
}

impl ValBinding {
    /// The binding of record `index`, whose cell is `cell`, of `engine`.
    pub(super) fn new(cell: &Arc<Cell>, engine: &Arc<Engine>, index: usize) -> ValBinding {
        ValBinding {
            cell: Arc::clone(cell),
            engine: Arc::downgrade(engine),
            index,
        }
    }

    /// Post VAL as the quick puts since the last post left it, if they
    /// left the snapshot stale. Nobody watched the channel meanwhile, so
    /// no monitor is offered anything.
    pub(crate) fn refresh(&self, pv: &PvHandle) {
        let rec = self.cell.rec();
        if pv.is_stale() {
            post_val(&self.cell, &rec, pv, 0);
            pv.clear_stale();
        }
    }

    /// A client's write of `count` elements of plain `data_type` to VAL,
    /// `pv` being the channel: decoded, processed and posted (or the
    /// snapshot marked stale, when nobody monitors VAL) under one lock of
    /// the record when the record takes quick puts and is not being
    /// processed, else handed to [`Engine::put_plain`]. `None`: declined
    /// (decode the write and put it the usual way), else the put's result.
    #[inline]
    pub(crate) fn write(
        &self,
        pv: &PvHandle,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        let cell = &*self.cell;
        let mut rec = cell.rec();
        // No link reaches back to this record, so it cannot be in a
        // processing of its own; a scan of it waits on the lock.
        let taken = if cell.busy.load(Ordering::Acquire) {
            None
        } else {
            rec.put_val_quick(data_type, count, data, EpicsTime::now())
        };
        let done = match taken {
            Some(Ok(done)) => done,
            Some(Err(e)) => return Some(Err(bad_payload(e))),
            None => {
                drop(rec);
                return self.declined(data_type, count, data);
            }
        };
        if !pv.is_watched() {
            // Nobody monitors VAL: the next read copies it
            // ([`ValBinding::refresh`]).
            pv.mark_stale();
        } else if cell.posted_meta.load(Ordering::Relaxed) == rec.meta_version() {
            // VAL's metadata as posted: only value, alarm and time move.
            // The record's VAL has the channel's type and one element (not
            // a waveform), as when the channel was made from it.
            pv.publish_in_place(|snap| {
                assign_one(&mut snap.value, rec.val());
                let m = &mut snap.meta;
                (m.status, m.severity) = rec.alarm();
                m.stamp = rec.stamp();
                m.ackt = 0;
                m.acks = Default::default();
                done.val_events
            });
        } else {
            post_val(cell, &rec, pv, done.val_events);
        }
        drop(rec);
        if cell.fields_open.load(Ordering::Acquire) || cell.followed {
            self.post_fields(done);
        }
        Some(Ok(()))
    }
}

// The paths a common put does not take are calls, out of the way: the
// put's own code stays small enough to keep its locks inline.

/// A payload the record could not decode.
#[cold]
#[inline(never)]
fn bad_payload(e: DbrError) -> PutError {
    PutError::Status(eca::BADTYPE, e.to_string())
}

impl ValBinding {
    /// A write the quick path does not take, given to the engine.
    #[cold]
    #[inline(never)]
    fn declined(
        &self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        self.engine
            .upgrade()?
            .put_plain(self.index, data_type, count, data)
    }

    /// Post the record's open field channels and CP followers after a
    /// quick put.
    #[cold]
    #[inline(never)]
    fn post_fields(&self, done: QuickPut) {
        if let Some(engine) = self.engine.upgrade() {
            let out = Processed {
                val_events: done.val_events,
                changed: done.changed(),
                output: None,
            };
            engine.post_fields(self.index, &out);
        }
    }
}

/// [`assign_value`] with the one double or long of a quick record's VAL
/// copied inline (the general one is a call).
#[inline]
fn assign_one(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Double(d), Value::Double(s)) if d.len() == 1 && s.len() == 1 => d[0] = s[0],
        (Value::Long(d), Value::Long(s)) if d.len() == 1 && s.len() == 1 => d[0] = s[0],
        (d, s) => assign_value(d, s),
    }
}
