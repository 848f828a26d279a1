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

use super::super::record::Processed;
use super::engine::{post_val, Cell};

/// What [`Cell::put_quick`] did.
pub(super) enum Quick {
    /// Written, processed and posted (or refused: the payload's fault).
    Done(Result<(), PutError>),
    /// Written, processed and VAL posted; the record's field channels and
    /// CP followers are left to [`Engine::post_fields`](super::Engine::post_fields).
    PostFields(Processed),
    /// Not a write this path takes; nothing changed.
    NotTaken,
}

impl Cell {
    /// A client's write of `count` elements of `data_type` to the record's
    /// VAL, `pv` being its channel: decoded, processed and posted under
    /// one lock of the record, when the record takes quick puts and is not
    /// being processed.
    pub(super) fn put_quick(
        &self,
        pv: &PvHandle,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Quick {
        let mut rec = self.rec();
        if !rec.takes_quick_put() || self.busy.load(Ordering::Acquire) {
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
        post_val(self, &rec, pv, done.val_events);
        drop(rec);
        if self.fields_open.load(Ordering::Acquire) || self.followed {
            return Quick::PostFields(Processed {
                val_events: done.val_events,
                changed: done.changed(),
                output: None,
            });
        }
        Quick::Done(Ok(()))
    }
}
