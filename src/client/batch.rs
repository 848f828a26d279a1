//! One read of many channels ([`crate::client::Context::read_many`]), sent
//! by the circuits themselves as the channels connect.
//!
//! Reading 100 000 PVs one [`crate::client::Channel::get`] at a time costs,
//! per PV, a wake-up of the caller when the channel connects, a request
//! message to the circuit task and a reply channel back. A [`ReadBatch`]
//! costs none of these: each channel carries a [`BatchRead`] (its slot in
//! the batch) from its creation, the circuit that creates the channel sends
//! the READ_NOTIFY in the same turn as it handles CREATE_CHAN's reply, and
//! the reply lands in the slot. The caller wakes once per burst of replies,
//! not once per PV, and takes the results in order.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::error::ClientError;
use super::shared::{ChannelInfo, ReadReply};
use crate::proto::dbr::{self, DbrType};

/// How a batch chooses what to read on each channel, once it knows the
/// channel's native type and count: the DBR type and the element count
/// (`None` for the server's current count).
pub(crate) type PickFn = dyn Fn(&ChannelInfo) -> (DbrType, Option<u32>) + Send + Sync;

/// Where slot `index` of `batch` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Its channel has not connected yet.
    Connecting,
    /// The READ_NOTIFY went out; no answer yet.
    Sent,
    /// The result waits in `results`.
    Done,
    /// The caller took the result (or gave up on the slot): anything that
    /// arrives later is dropped.
    Taken,
}

/// What [`ReadBatch::poll`] found in a slot.
#[derive(Debug)]
pub(crate) enum SlotPoll {
    /// The result, now the caller's.
    Ready(ReadReply),
    /// Still waiting for the channel to connect.
    Connecting,
    /// Still waiting for the server's reply.
    Sent,
    /// Already taken.
    Taken,
}

#[derive(Debug)]
struct Inner {
    slots: Vec<Slot>,
    /// Results waiting to be taken, boxed (8 bytes for a slot not yet done).
    results: Vec<Option<ReadReply>>,
    /// Slots still [`Slot::Connecting`].
    connecting: usize,
    /// When the last slot left [`Slot::Connecting`].
    all_sent_at: Option<Instant>,
}

/// The shared state of one batch read: its slots, the pick, and a wake-up
/// for the caller. See the module docs.
pub(crate) struct ReadBatch {
    pick: Box<PickFn>,
    /// `EPICS_CA_MAX_ARRAY_BYTES` as a payload limit, for explicit counts.
    max_payload: usize,
    inner: Mutex<Inner>,
    notify: Notify,
}

impl std::fmt::Debug for ReadBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBatch")
            .field("max_payload", &self.max_payload)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// A channel's slot in a batch: the read to send when it connects.
#[derive(Debug, Clone)]
pub(crate) struct BatchRead {
    pub batch: Arc<ReadBatch>,
    pub index: u32,
}

impl BatchRead {
    /// Hand the slot its result (an answer, or why there is none).
    pub(crate) fn deliver(&self, result: Result<crate::client::Reading, ClientError>) {
        self.batch.deliver(self.index, Box::new(result));
    }
}

impl ReadBatch {
    /// A batch of `n` slots, all waiting for their channels.
    pub(crate) fn new(n: usize, pick: Box<PickFn>, max_payload: usize) -> Arc<ReadBatch> {
        Arc::new(ReadBatch {
            pick,
            max_payload,
            inner: Mutex::new(Inner {
                slots: vec![Slot::Connecting; n],
                results: std::iter::repeat_with(|| None).take(n).collect(),
                connecting: n,
                all_sent_at: (n == 0).then(Instant::now),
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }

    /// Slot `index`'s channel connected as `info`: the DBR type and count
    /// to read, or (after the error is delivered to the slot) `None` when
    /// the read cannot be made: no read access, or an explicit count over
    /// the payload limit. The slot then counts as sent.
    pub(crate) fn start(&self, index: u32, info: &ChannelInfo, pv: &str) -> Option<(DbrType, u32)> {
        let refused = if !info.access_rights.read {
            Some(ClientError::NoReadAccess { pv: pv.to_string() })
        } else {
            None
        };
        let (dbr_type, count) = (self.pick)(info);
        // An explicit count we cannot receive is refused here. With `None`
        // the server sends its current length; if that exceeds our limit
        // the circuit refuses the reply.
        let refused = refused.or_else(|| {
            let count = count?;
            let bytes = dbr::payload_size(dbr_type, count as usize);
            (bytes > self.max_payload).then(|| ClientError::TooLarge {
                pv: pv.to_string(),
                bytes,
                limit: self.max_payload,
            })
        });
        if let Some(err) = refused {
            self.deliver(index, Box::new(Err(err)));
            return None;
        }
        let mut inner = self.lock();
        if let Some(slot) = inner.slots.get_mut(index as usize) {
            if *slot == Slot::Connecting {
                *slot = Slot::Sent;
                inner.left_connecting();
            }
        }
        Some((dbr_type, count.unwrap_or(0)))
    }

    /// Put `result` in slot `index` and wake the caller; dropped if the
    /// caller already gave up on the slot.
    pub(crate) fn deliver(&self, index: u32, result: ReadReply) {
        {
            let mut inner = self.lock();
            let i = index as usize;
            match inner.slots.get(i).copied() {
                Some(Slot::Connecting) => inner.left_connecting(),
                Some(Slot::Sent) => {}
                _ => return,
            }
            inner.slots[i] = Slot::Done;
            inner.results[i] = Some(result);
        }
        self.notify.notify_one();
    }

    /// Take slot `index`'s result if it is there, else say what it waits for.
    pub(crate) fn poll(&self, index: u32) -> SlotPoll {
        let mut inner = self.lock();
        let i = index as usize;
        match inner.slots.get(i).copied() {
            Some(Slot::Connecting) => SlotPoll::Connecting,
            Some(Slot::Sent) => SlotPoll::Sent,
            Some(Slot::Done) => {
                inner.slots[i] = Slot::Taken;
                match inner.results[i].take() {
                    Some(result) => SlotPoll::Ready(result),
                    None => SlotPoll::Taken,
                }
            }
            Some(Slot::Taken) | None => SlotPoll::Taken,
        }
    }

    /// The caller gives up on slot `index` (its name was refused, or it
    /// timed out): a late result is dropped.
    pub(crate) fn abandon(&self, index: u32) {
        let mut inner = self.lock();
        let i = index as usize;
        let Some(slot) = inner.slots.get(i).copied() else {
            return;
        };
        if slot == Slot::Connecting {
            inner.left_connecting();
        }
        inner.slots[i] = Slot::Taken;
        inner.results[i] = None;
    }

    /// When every slot had left [`Slot::Connecting`], if they all have.
    pub(crate) fn all_sent_at(&self) -> Option<Instant> {
        self.lock().all_sent_at
    }

    /// A wake-up that fires on the next delivery (enable it before polling).
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Inner {
    fn left_connecting(&mut self) {
        self.connecting -= 1;
        if self.connecting == 0 {
            self.all_sent_at = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Reading;
    use crate::proto::command::AccessRights;
    use crate::proto::dbr::{Metadata, NativeType, Value};

    fn info(read: bool) -> ChannelInfo {
        ChannelInfo {
            native_type: NativeType::Double,
            count: 1,
            server: "127.0.0.1:5064".parse().unwrap(),
            access_rights: AccessRights { read, write: true },
        }
    }

    fn reading(v: f64) -> Result<Reading, ClientError> {
        Ok(Reading {
            dbr_type: DbrType::DOUBLE,
            value: Value::Double(vec![v]),
            meta: Metadata::default(),
        })
    }

    fn batch(n: usize, count: Option<u32>) -> Arc<ReadBatch> {
        ReadBatch::new(n, Box::new(move |_| (DbrType::DOUBLE, count)), 1024)
    }

    #[test]
    fn results_are_taken_once_in_any_order_of_arrival() {
        let b = batch(3, None);
        assert!(matches!(b.poll(0), SlotPoll::Connecting));
        assert_eq!(b.start(1, &info(true), "b"), Some((DbrType::DOUBLE, 0)));
        assert!(matches!(b.poll(1), SlotPoll::Sent));
        b.deliver(1, Box::new(reading(2.0)));
        b.deliver(0, Box::new(reading(1.0)));
        match b.poll(0) {
            SlotPoll::Ready(r) => assert_eq!(r.unwrap().value, Value::Double(vec![1.0])),
            other => panic!("{other:?}"),
        }
        assert!(matches!(b.poll(0), SlotPoll::Taken));
        assert!(matches!(b.poll(1), SlotPoll::Ready(_)));
        assert!(b.all_sent_at().is_none(), "slot 2 is still connecting");
        b.abandon(2);
        assert!(b.all_sent_at().is_some());
        // A result for a slot given up on is dropped.
        b.deliver(2, Box::new(reading(3.0)));
        assert!(matches!(b.poll(2), SlotPoll::Taken));
    }

    #[test]
    fn a_read_that_cannot_be_made_fails_its_slot_only() {
        let b = batch(2, Some(1000));
        assert_eq!(b.start(0, &info(false), "a"), None);
        match b.poll(0) {
            SlotPoll::Ready(r) => {
                assert!(matches!(*r, Err(ClientError::NoReadAccess { .. })), "{r:?}")
            }
            other => panic!("{other:?}"),
        }
        // 1000 doubles are 8000 bytes, over the 1024-byte limit.
        assert_eq!(b.start(1, &info(true), "b"), None);
        match b.poll(1) {
            SlotPoll::Ready(r) => {
                assert!(
                    matches!(*r, Err(ClientError::TooLarge { bytes: 8000, .. })),
                    "{r:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(b.all_sent_at().is_some());
    }
}
