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

use crate::proto::dbr::{DbrType, EpicsTime};
use crate::server::error::eca;
use crate::server::{PutError, PvHandle};

use super::super::record::QuickPut;
use super::engine::{assign_value, post_val, Cell};

/// What [`Cell::put_quick`] did.
pub(super) enum Quick {
    /// Written, processed and posted (or refused: the payload's fault).
    Done(Result<(), PutError>),
    /// Written, processed and VAL posted; the record's field channels and
    /// CP followers are left to [`Engine::post_fields`](super::Engine::post_fields).
    PostFields(QuickPut),
    /// Not a write this path takes; nothing changed.
    NotTaken,
}

impl Cell {
    /// A client's write of `count` elements of `data_type` to the record's
    /// VAL, `pv` being its channel: decoded, processed and posted under
    /// one lock of the record, when the record takes quick puts and is not
    /// being processed.
    #[inline]
    pub(super) fn put_quick(
        &self,
        pv: &PvHandle,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Quick {
        let mut rec = self.rec();
        if self.busy.load(Ordering::Acquire) {
            return Quick::NotTaken;
        }
        // No link reaches back to this record, so it cannot be in a
        // processing of its own; a scan of it waits on the lock.
        let done = match rec.put_val_quick(data_type, count, data, EpicsTime::now()) {
            Some(Ok(done)) => done,
            Some(Err(e)) => {
                return Quick::Done(Err(PutError::Status(eca::BADTYPE, e.to_string())));
            }
            None => return Quick::NotTaken,
        };
        if self.posted_meta.load(Ordering::Relaxed) == rec.meta_version() {
            // VAL's metadata as posted: only value, alarm and time move.
            // The record's VAL has the channel's type and one element (not
            // a waveform), as when the channel was made from it.
            pv.publish_in_place(|snap| {
                assign_value(&mut snap.value, rec.val());
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
            return Quick::PostFields(done);
        }
        Quick::Done(Ok(()))
    }
}
