//! The shell of a quick put: a client's write to the VAL of a record that
//! reads and writes nothing but itself (see [`Record::put_val_quick`]),
//! handled by the record's cell and its channel alone.
//!
//! The VAL channel's plain-write hook holds the cell itself, not only a
//! weak reference to the [`Engine`](super::Engine): the common put then
//! takes the record's lock once, processes, posts VAL and returns, with
//! no reference to upgrade and drop. The engine is reached (through the
//! weak reference) only for what the cell cannot do alone: open field
//! channels and CP followers to post to, and writes this path does not
//! take.
//!
//! [`Record::put_val_quick`]: super::super::record::Record::put_val_quick

use std::sync::atomic::Ordering;
use std::sync::Weak;

use crate::proto::dbr::{DbrError, DbrType, EpicsTime, Value};
use crate::server::error::eca;
use crate::server::{PutError, PvHandle};

use super::super::record::{Processed, QuickPut};
use super::engine::{assign_value, post_val, Cell, Engine};

impl Cell {
    /// A client's write of `count` elements of `data_type` to record
    /// `i`'s VAL, `pv` being its channel and this its cell: decoded,
    /// processed and posted under one lock of the record when the record
    /// takes quick puts and is not being processed, else handed to
    /// [`Engine::put_plain`] (reached through `engine`). The result is the
    /// plain-write hook's (`None`: decode the write and put it).
    #[inline]
    pub(super) fn put_quick(
        &self,
        pv: &PvHandle,
        engine: &Weak<Engine>,
        i: usize,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        let mut rec = self.rec();
        // No link reaches back to this record, so it cannot be in a
        // processing of its own; a scan of it waits on the lock.
        let taken = if self.busy.load(Ordering::Acquire) {
            None
        } else {
            rec.put_val_quick(data_type, count, data, EpicsTime::now())
        };
        let done = match taken {
            Some(Ok(done)) => done,
            Some(Err(e)) => return Some(Err(bad_payload(e))),
            None => {
                drop(rec);
                return declined(engine, i, data_type, count, data);
            }
        };
        if self.posted_meta.load(Ordering::Relaxed) == rec.meta_version() {
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
            post_val(self, &rec, pv, done.val_events);
        }
        drop(rec);
        if self.fields_open.load(Ordering::Acquire) || self.followed {
            post_fields(engine, i, done);
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

/// A write the quick path does not take, given to the engine.
#[cold]
#[inline(never)]
fn declined(
    engine: &Weak<Engine>,
    i: usize,
    data_type: DbrType,
    count: u32,
    data: &[u8],
) -> Option<Result<(), PutError>> {
    engine.upgrade()?.put_plain(i, data_type, count, data)
}

/// Post record `i`'s open field channels and CP followers after a quick put.
#[cold]
#[inline(never)]
fn post_fields(engine: &Weak<Engine>, i: usize, done: QuickPut) {
    if let Some(engine) = engine.upgrade() {
        let out = Processed {
            val_events: done.val_events,
            changed: done.changed(),
            output: None,
        };
        engine.post_fields(i, &out);
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
