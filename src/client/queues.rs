//! The queues between the circuits and the users of subscriptions: a
//! [`SubQueue`] per [`crate::client::Subscription`], and the one
//! [`SetQueue`] all PVs of a [`crate::client::MonitorSet`] share. Both are
//! bounded per PV, dropping the oldest update first, as the EPICS server's
//! event queue coalesces for a slow client.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::error::ClientError;
use super::shared::{ChannelInfo, Reading};
use crate::proto::dbr::DbrType;

/// A bounded queue of updates. When the consumer falls behind, the oldest
/// updates are dropped (and counted), so memory stays bounded and the newest
/// value is always delivered, as EPICS' event queue does.
#[derive(Debug)]
pub(crate) struct SubQueue {
    items: Mutex<VecDeque<Result<Reading, ClientError>>>,
    capacity: usize,
    notify: Notify,
    closed: AtomicBool,
    pub dropped: AtomicU64,
}

impl SubQueue {
    pub(crate) fn new(capacity: usize) -> Arc<SubQueue> {
        Arc::new(SubQueue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Result<Reading, ClientError>>> {
        crate::sync::lock(&self.items)
    }

    /// Queue one update (or error), dropping the oldest when full.
    pub(crate) fn push(&self, item: Result<Reading, ClientError>) {
        {
            let mut q = self.lock();
            if q.len() >= self.capacity {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(item);
        }
        self.notify.notify_one();
    }

    /// No more updates will come (context closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) async fn pop(&self) -> Option<Result<Reading, ClientError>> {
        loop {
            if let Some(item) = self.lock().pop_front() {
                return Some(item);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.notify.notified().await;
        }
    }
}

/// Decode a reply's or an update's payload; a failure names the PV.
pub(crate) fn decode_update(
    pv: &str,
    dbr_type: DbrType,
    count: u32,
    data: &[u8],
) -> Result<Reading, ClientError> {
    decode_payload(dbr_type, count, data).map_err(|error| ClientError::BadReply {
        pv: pv.to_string(),
        error,
    })
}

fn decode_payload(
    dbr_type: DbrType,
    count: u32,
    data: &[u8],
) -> Result<Reading, crate::proto::dbr::DbrError> {
    crate::proto::dbr::decode(dbr_type, count, data).map(|(value, meta)| Reading {
        dbr_type,
        value,
        meta,
    })
}

/// An update as the server sent it, queued undecoded in a [`SetQueue`].
#[derive(Debug)]
pub(crate) struct RawUpdate {
    pub dbr_type: DbrType,
    pub count: u32,
    pub data: Box<[u8]>,
}

/// One entry of a [`SetQueue`]: most are updates, queued as they came.
#[derive(Debug)]
enum Queued {
    Raw(RawUpdate),
    /// A connection: every PV queues one at start, so its info is boxed
    /// on its own (a boxed [`MonitorEvent`] is four times its size).
    Connected(Box<ChannelInfo>),
    Disconnected,
    /// Errors (boxed: rare and large).
    Event(Box<MonitorEvent>),
}

/// What a [`crate::client::MonitorSet`] reports about one of its PVs.
#[derive(Debug)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// The channel connected (the first time or again); updates follow.
    Connected(ChannelInfo),
    /// An update, or an error the server or client reported for it.
    Update(Result<Reading, ClientError>),
    /// The channel's circuit was lost; it is searched for again and the
    /// subscription resumes when it reconnects.
    Disconnected,
}

/// The queue every subscription of a [`crate::client::MonitorSet`] feeds:
/// one lock and one wake-up for all PVs, with each PV's backlog bounded on
/// its own (its oldest events are dropped first, as [`SubQueue`] does).
///
/// All events wait in one deque in arrival order, so a PV with nothing
/// queued costs 8 bytes (two counters), not a queue of its own. Dropping a
/// PV's oldest event only counts it in `skip`: that PV's next entries met
/// in the deque are its oldest, and are passed over. The deque is compacted
/// once passed-over entries outnumber the live ones, so it never holds more
/// than twice what the per-PV bounds allow.
#[derive(Debug)]
pub(crate) struct SetQueue {
    inner: Mutex<SetInner>,
    per_pv: u32,
    notify: Notify,
    closed: AtomicBool,
    pub dropped: AtomicU64,
}

#[derive(Debug)]
struct SetInner {
    /// Updates are queued as the server sent them (a boxed payload) and
    /// other events boxed: a burst of 10 000 updates (every record of one
    /// scan) would otherwise grow the deque to 10 000 whole readings, kept
    /// as capacity, and each queued update would hold a decoded reading
    /// (about 200 bytes) instead of its payload (40 for a TIME_DOUBLE).
    events: VecDeque<(u32, Queued)>,
    /// Per PV: events queued and not dropped.
    live: Vec<u32>,
    /// Per PV: dropped events still in `events` (its oldest ones).
    skip: Vec<u32>,
    live_total: usize,
}

impl SetInner {
    /// Take the next live event, passing over dropped ones.
    fn pop(&mut self) -> Option<(u32, Queued)> {
        while let Some((index, event)) = self.events.pop_front() {
            let i = index as usize;
            if self.skip[i] > 0 {
                self.skip[i] -= 1;
                continue;
            }
            self.live[i] -= 1;
            self.live_total -= 1;
            return Some((index, event));
        }
        None
    }

    /// Remove the entries that were dropped (each PV's oldest ones).
    fn compact(&mut self) {
        let skip = &mut self.skip;
        self.events.retain(|(index, _)| {
            let s = &mut skip[*index as usize];
            if *s > 0 {
                *s -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl SetQueue {
    /// A queue for `n` PVs, each holding at most `per_pv` events.
    pub(crate) fn new(n: usize, per_pv: usize) -> Arc<SetQueue> {
        Arc::new(SetQueue {
            inner: Mutex::new(SetInner {
                events: VecDeque::new(),
                live: vec![0; n],
                skip: vec![0; n],
                live_total: 0,
            }),
            per_pv: per_pv.clamp(1, u32::MAX as usize) as u32,
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SetInner> {
        crate::sync::lock(&self.inner)
    }

    /// Queue `event` for PV `index`, dropping that PV's oldest when full.
    pub(crate) fn push(&self, index: u32, event: MonitorEvent) {
        let queued = match event {
            MonitorEvent::Connected(info) => Queued::Connected(Box::new(info)),
            MonitorEvent::Disconnected => Queued::Disconnected,
            other => Queued::Event(Box::new(other)),
        };
        self.push_queued(index, queued);
    }

    /// Queue an undecoded update for PV `index` (see [`Sink::push_update`]).
    pub(crate) fn push_raw(&self, index: u32, update: RawUpdate) {
        self.push_queued(index, Queued::Raw(update));
    }

    fn push_queued(&self, index: u32, event: Queued) {
        {
            let mut inner = self.lock();
            let i = index as usize;
            if i >= inner.live.len() {
                return;
            }
            if inner.live[i] >= self.per_pv {
                inner.live[i] -= 1;
                inner.skip[i] += 1;
                inner.live_total -= 1;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            inner.live[i] += 1;
            inner.live_total += 1;
            inner.events.push_back((index, event));
            if inner.events.len() > 2 * inner.live_total + 64 {
                inner.compact();
            }
        }
        self.notify.notify_one();
    }

    /// No more events will come (context closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Move up to `max` queued events into `out` (oldest first), decoding
    /// updates on the way (a payload that cannot be decoded becomes a
    /// [`ClientError::BadReply`] naming `pv_name(index)`); waits while none
    /// is queued. Returns false once the queue is closed and empty.
    pub(crate) async fn pop_into(
        &self,
        out: &mut Vec<(u32, MonitorEvent)>,
        max: usize,
        pv_name: impl Fn(u32) -> String,
    ) -> bool {
        let mut taken = Vec::new();
        loop {
            {
                let mut inner = self.lock();
                while out.len() + taken.len() < max {
                    let Some(next) = inner.pop() else { break };
                    taken.push(next);
                }
            }
            // Decoded without the lock held: the circuits keep queueing.
            for (index, queued) in taken.drain(..) {
                let event = match queued {
                    Queued::Event(event) => *event,
                    Queued::Connected(info) => MonitorEvent::Connected(*info),
                    Queued::Disconnected => MonitorEvent::Disconnected,
                    Queued::Raw(raw) => MonitorEvent::Update(
                        decode_payload(raw.dbr_type, raw.count, &raw.data).map_err(|error| {
                            ClientError::BadReply {
                                pv: pv_name(index),
                                error,
                            }
                        }),
                    ),
                };
                out.push((index, event));
            }
            if !out.is_empty() {
                return true;
            }
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::shared::Sink;
    use crate::proto::dbr::{Metadata, NativeType, Value};

    fn update(x: f64) -> MonitorEvent {
        MonitorEvent::Update(Ok(Reading {
            dbr_type: DbrType::plain(NativeType::Double),
            value: Value::Double(vec![x]),
            meta: Metadata::default(),
        }))
    }

    fn value(e: &MonitorEvent) -> f64 {
        match e {
            MonitorEvent::Update(Ok(r)) => match &r.value {
                Value::Double(v) => v[0],
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_set_keeps_arrival_order_and_bounds_each_pv_on_its_own() {
        let q = SetQueue::new(3, 2);
        q.push(0, update(1.0));
        q.push(1, update(10.0));
        q.push(0, update(2.0));
        q.push(0, update(3.0)); // PV 0 is full: its oldest (1.0) goes
        q.push(2, update(20.0));
        assert_eq!(q.dropped.load(Ordering::Relaxed), 1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        let got: Vec<(u32, f64)> = out.iter().map(|(i, e)| (*i, value(e))).collect();
        assert_eq!(got, vec![(1, 10.0), (0, 2.0), (0, 3.0), (2, 20.0)]);
        // A consumer that stalls: the deque stays within twice the bounds.
        for k in 0..10_000 {
            q.push(k % 3, update(f64::from(k)));
        }
        assert!(q.lock().events.len() <= 2 * 6 + 64);
        out.clear();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        let got: Vec<(u32, f64)> = out.iter().map(|(i, e)| (*i, value(e))).collect();
        assert_eq!(
            got,
            vec![
                (1, 9994.0),
                (2, 9995.0),
                (0, 9996.0),
                (1, 9997.0),
                (2, 9998.0),
                (0, 9999.0)
            ],
            "each PV keeps its two newest, in arrival order"
        );
        q.push(7, update(0.0)); // no such PV: ignored
        q.close();
        out.clear();
        assert!(
            !rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))),
            "closed and empty"
        );
    }

    #[test]
    fn raw_updates_are_decoded_when_taken_and_a_bad_one_names_its_pv() {
        let q = SetQueue::new(2, 4);
        let sink = Sink::Set {
            queue: q.clone(),
            index: 1,
        };
        sink.push_update("b", DbrType::DOUBLE, 1, 6.5f64.to_be_bytes().to_vec());
        // Three bytes cannot hold a double.
        sink.push_update("b", DbrType::DOUBLE, 1, vec![1, 2, 3]);
        q.push(0, update(1.0));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].0, value(&out[0].1)), (1, 6.5));
        match &out[1] {
            (1, MonitorEvent::Update(Err(ClientError::BadReply { pv, .. }))) => {
                assert_eq!(pv, "pv1")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((out[2].0, value(&out[2].1)), (0, 1.0));
    }
}
