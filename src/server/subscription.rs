//! Per-subscriber bounded event queues.
//!
//! Posting a new value never blocks and never allocates per subscriber beyond
//! a pointer: the PV's snapshot is shared (`Arc`). Each subscription keeps at
//! most [`QUEUE_DEPTH`] pending snapshots; when a client is slow (or has sent
//! EVENTS_OFF) the oldest pending one is dropped, so memory stays bounded and
//! the client always ends up with the newest value. A subscription that goes
//! from empty to non-empty puts itself on its circuit's ready list and wakes
//! the circuit task, which drains ready subscriptions when its socket has room.
//!
//! A post wakes each circuit once, after it has offered the value to every
//! subscriber ([`Wakes`]): waking per subscription made a circuit with 1000
//! subscriptions to one PV (caEventRate) wake up to 1000 times per post, and
//! a circuit thread with real-time priority then preempted the poster each
//! time to send a handful of events.

use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::pv::PvSnapshot;
use crate::proto::dbr::DbrType;

/// Most snapshots one subscription holds before dropping the oldest.
pub const QUEUE_DEPTH: usize = 8;

/// The ready list and wake-up shared by all subscriptions of one circuit.
#[derive(Default)]
pub(crate) struct CircuitEvents {
    ready: Mutex<Vec<Arc<Subscription>>>,
    /// Woken when a subscription becomes ready.
    pub notify: Notify,
    /// A wake-up is on its way (or due) and the ready list not yet taken:
    /// later subscriptions becoming ready need not wake the circuit again.
    wake_pending: AtomicBool,
    /// Snapshots dropped because a subscriber was behind.
    pub dropped: AtomicU64,
}

impl CircuitEvents {
    /// Take the current ready list. Subscriptions ready after this wake the
    /// circuit again.
    pub fn take_ready(&self) -> Vec<Arc<Subscription>> {
        self.wake_pending.store(false, Ordering::Release);
        std::mem::take(&mut *lock(&self.ready))
    }

    /// Whether the caller is the one to wake the circuit (no wake-up is
    /// pending since it last took its ready list).
    fn claim_wake(&self) -> bool {
        !self.wake_pending.swap(true, Ordering::AcqRel)
    }

    /// Put subscriptions back at the front of the ready list (they still have
    /// pending events the circuit had no room for).
    pub fn requeue(&self, subs: Vec<Arc<Subscription>>) {
        if subs.is_empty() {
            return;
        }
        let mut ready = lock(&self.ready);
        let later = std::mem::replace(&mut *ready, subs);
        ready.extend(later);
    }
}

/// Circuits to wake once a post has been offered to every subscriber (each
/// at most once: see [`CircuitEvents`]).
#[derive(Default)]
pub(crate) struct Wakes(Vec<Arc<CircuitEvents>>);

impl Wakes {
    /// Wake every circuit collected.
    pub fn wake_all(self) {
        for events in self.0 {
            events.notify.notify_one();
        }
    }
}

/// One EVENT_ADD: what the client asked for and its pending snapshots.
pub(crate) struct Subscription {
    /// Client's subscription id.
    pub subid: u32,
    /// Server id of the channel it belongs to.
    pub sid: u32,
    /// Requested DBR type.
    pub data_type: DbrType,
    /// Requested element count (0 = the value's current length).
    pub count: u32,
    /// DBE mask.
    pub mask: u16,
    queue: Mutex<VecDeque<Arc<PvSnapshot>>>,
    events: Arc<CircuitEvents>,
    cancelled: AtomicBool,
}

impl Subscription {
    /// A new, empty subscription reporting to `events`.
    pub fn new(
        subid: u32,
        sid: u32,
        data_type: DbrType,
        count: u32,
        mask: u16,
        events: Arc<CircuitEvents>,
    ) -> Self {
        Subscription {
            subid,
            sid,
            data_type,
            count,
            mask,
            queue: Mutex::new(VecDeque::with_capacity(2)),
            events,
            cancelled: AtomicBool::new(false),
        }
    }

    /// Queue a snapshot if the event `mask` matches ours, dropping the oldest
    /// pending one when full, and wake the circuit if it needs to be. Never
    /// blocks on I/O.
    pub fn offer(self: &Arc<Self>, snapshot: &Arc<PvSnapshot>, mask: u16) {
        let mut wakes = Wakes::default();
        self.offer_batched(snapshot, mask, &mut wakes);
        wakes.wake_all();
    }

    /// [`offer`](Self::offer) for one of many subscribers of a post: the
    /// circuit to wake, if any, is added to `wakes` for the poster to wake
    /// once it has offered to everyone.
    pub fn offer_batched(
        self: &Arc<Self>,
        snapshot: &Arc<PvSnapshot>,
        mask: u16,
        wakes: &mut Wakes,
    ) {
        if self.mask & mask == 0 || self.cancelled.load(Ordering::Relaxed) {
            return;
        }
        let became_ready = {
            let mut q = lock(&self.queue);
            let was_empty = q.is_empty();
            if q.len() >= QUEUE_DEPTH {
                q.pop_front();
                self.events.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(Arc::clone(snapshot));
            was_empty
        };
        if became_ready {
            lock(&self.events.ready).push(Arc::clone(self));
            if self.events.claim_wake() {
                wakes.0.push(Arc::clone(&self.events));
            }
        }
    }

    /// Take up to `max` pending snapshots, oldest first. Returns whether more remain.
    pub fn drain(&self, max: usize, out: &mut Vec<Arc<PvSnapshot>>) -> bool {
        let mut q = lock(&self.queue);
        let n = q.len().min(max);
        out.extend(q.drain(..n));
        !q.is_empty()
    }

    /// Stop delivering: pending events are discarded and later offers ignored.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        lock(&self.queue).clear();
    }

    /// Whether [`Subscription::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::mask;
    use crate::proto::dbr::{Metadata, Value};

    fn snap(x: f64) -> Arc<PvSnapshot> {
        Arc::new(PvSnapshot {
            value: Value::Double(vec![x]),
            meta: Metadata::default(),
        })
    }

    fn sub(events: &Arc<CircuitEvents>, m: u16) -> Arc<Subscription> {
        Arc::new(Subscription::new(
            1,
            2,
            DbrType::DOUBLE,
            1,
            m,
            Arc::clone(events),
        ))
    }

    #[test]
    fn drops_oldest_when_full_and_keeps_newest() {
        let events = Arc::new(CircuitEvents::default());
        let s = sub(&events, mask::VALUE);
        for i in 0..100 {
            s.offer(&snap(f64::from(i)), mask::VALUE);
        }
        let mut out = Vec::new();
        assert!(!s.drain(usize::MAX, &mut out));
        assert_eq!(out.len(), QUEUE_DEPTH);
        assert_eq!(out.last().unwrap().value, Value::Double(vec![99.0]));
        assert_eq!(out[0].value, Value::Double(vec![92.0]));
        assert_eq!(events.dropped.load(Ordering::Relaxed), 92);
        // Became ready once, not once per offer.
        assert_eq!(events.take_ready().len(), 1);
    }

    #[test]
    fn mask_filters_and_cancel_stops() {
        let events = Arc::new(CircuitEvents::default());
        let s = sub(&events, mask::ALARM);
        s.offer(&snap(1.0), mask::VALUE | mask::LOG);
        assert!(events.take_ready().is_empty());
        s.offer(&snap(2.0), mask::ALARM);
        assert_eq!(events.take_ready().len(), 1);
        s.cancel();
        s.offer(&snap(3.0), mask::ALARM);
        let mut out = Vec::new();
        s.drain(10, &mut out);
        assert!(out.is_empty());
        assert!(s.is_cancelled());
    }

    /// One post to many subscriptions of one circuit wakes it once; taking
    /// the ready list re-arms the wake-up.
    #[test]
    fn a_post_wakes_each_circuit_once() {
        let events = Arc::new(CircuitEvents::default());
        let other = Arc::new(CircuitEvents::default());
        let subs: Vec<_> = (0..10).map(|_| sub(&events, mask::VALUE)).collect();
        let theirs = sub(&other, mask::VALUE);
        let mut wakes = Wakes::default();
        for s in subs.iter().chain([&theirs]) {
            s.offer_batched(&snap(1.0), mask::VALUE, &mut wakes);
        }
        assert_eq!(wakes.0.len(), 2, "one per circuit");
        assert!(Arc::ptr_eq(&wakes.0[0], &events) && Arc::ptr_eq(&wakes.0[1], &other));
        wakes.wake_all();
        // A second post before the circuit took its list: no new wake-up.
        let mut again = Wakes::default();
        for s in &subs {
            s.offer_batched(&snap(2.0), mask::VALUE, &mut again);
        }
        assert!(again.0.is_empty());
        assert_eq!(events.take_ready().len(), 10);
        let mut out = Vec::new();
        for s in &subs {
            s.drain(10, &mut out);
        }
        let mut third = Wakes::default();
        subs[3].offer_batched(&snap(3.0), mask::VALUE, &mut third);
        assert_eq!(third.0.len(), 1, "woken again once it took its list");
    }

    #[test]
    fn partial_drain_and_requeue() {
        let events = Arc::new(CircuitEvents::default());
        let s = sub(&events, mask::VALUE);
        for i in 0..5 {
            s.offer(&snap(f64::from(i)), mask::VALUE);
        }
        let mut out = Vec::new();
        assert!(s.drain(2, &mut out));
        let ready = events.take_ready();
        events.requeue(ready);
        assert_eq!(events.take_ready().len(), 1);
    }
}
