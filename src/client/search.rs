//! When to (re)send searches: a pure scheduler with EPICS-like back-off.
//!
//! A new name is due at once (no initial delay, so a one-shot get is fast).
//! Each unanswered name then waits `min_period`, `2*min_period`, ... up to
//! `max_period` between attempts. A beacon anomaly (a server appearing or
//! restarting) makes every pending name due again with its back-off reset,
//! which is how EPICS clients find a restarted server quickly.
//!
//! How many searches go out at once is not decided here: the context asks
//! for the names that are due ([`SearchScheduler::due`]), sends as many as
//! the search window ([`super::pacer::SearchPacer`]) has room for, and
//! reports those ([`SearchScheduler::sent`]); the pacer's reply timeout is
//! the floor of the back-off, so a name is not searched again before its
//! reply could have come back.
//!
//! Time is passed in by the caller; nothing here reads a clock, so the
//! schedule is unit-testable.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::proto::ids::IdMap;

/// Per-name search state (the name itself is kept once, by the broadcaster).
#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    attempts: u32,
}

/// Which names to search for next, and when.
#[derive(Debug)]
pub struct SearchScheduler {
    min_period: Duration,
    max_period: Duration,
    pending: IdMap<Pending>,
    /// (due, cid) ordered by due time, for cheap "what is next" queries.
    queue: BTreeSet<(Instant, u32)>,
}

impl SearchScheduler {
    /// A scheduler whose back-off starts at `min_period` and doubles up to `max_period`.
    pub fn new(min_period: Duration, max_period: Duration) -> Self {
        SearchScheduler {
            min_period,
            max_period: max_period.max(min_period),
            pending: IdMap::default(),
            queue: BTreeSet::new(),
        }
    }

    /// Start searching for channel id `cid`; it is first due at `due`.
    /// Re-adding a cid restarts its back-off.
    pub fn add(&mut self, cid: u32, due: Instant) {
        self.remove(cid);
        self.pending.insert(cid, Pending { due, attempts: 0 });
        self.queue.insert((due, cid));
    }

    /// Stop searching for `cid` (found, or the channel was dropped).
    /// Returns whether it was pending.
    pub fn remove(&mut self, cid: u32) -> bool {
        match self.pending.remove(&cid) {
            Some(p) => {
                self.queue.remove(&(p.due, cid));
                crate::proto::ids::shrink_when_sparse(&mut self.pending);
                true
            }
            None => false,
        }
    }

    /// Whether `cid` is still being searched for.
    pub fn contains(&self, cid: u32) -> bool {
        self.pending.contains_key(&cid)
    }

    /// Number of names being searched for.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is being searched for.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// When the next search is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.first().map(|(due, _)| *due)
    }

    /// Up to `limit` names due at `now`, oldest first, left as they are: the
    /// caller sends as many as the search window allows and reports each with
    /// [`SearchScheduler::sent`]; the rest stay due.
    pub fn due(&self, now: Instant, limit: usize) -> Vec<u32> {
        self.queue
            .iter()
            .take_while(|(due, _)| *due <= now)
            .take(limit)
            .map(|(_, cid)| *cid)
            .collect()
    }

    /// A search for `cid` went out at `now`: its next attempt waits the
    /// doubled back-off, which starts at `floor` when that is longer than the
    /// minimum period (the time a reply may take to come back).
    pub fn sent(&mut self, cid: u32, now: Instant, floor: Duration) {
        let Some(p) = self.pending.get_mut(&cid) else {
            return;
        };
        self.queue.remove(&(p.due, cid));
        let backoff = self
            .min_period
            .max(floor)
            .saturating_mul(1u32 << p.attempts.min(20))
            .min(self.max_period);
        p.attempts = p.attempts.saturating_add(1);
        p.due = now + backoff;
        self.queue.insert((p.due, cid));
    }

    /// Take every name due at `now` (oldest first) and schedule its next
    /// attempt with doubled back-off: [`SearchScheduler::due`] and
    /// [`SearchScheduler::sent`] for all of them.
    pub fn poll(&mut self, now: Instant) -> Vec<u32> {
        let due = self.due(now, usize::MAX);
        for &cid in &due {
            self.sent(cid, now, Duration::ZERO);
        }
        due
    }

    /// Make `cid` due no earlier than `due` (a channel held off after
    /// failures); its back-off is kept. Returns whether it was pending.
    pub fn postpone(&mut self, cid: u32, due: Instant) -> bool {
        let Some(p) = self.pending.get_mut(&cid) else {
            return false;
        };
        if p.due < due {
            self.queue.remove(&(p.due, cid));
            p.due = due;
            self.queue.insert((due, cid));
        }
        true
    }

    /// A beacon anomaly: make every pending name due at `now` with its
    /// back-off restarted.
    pub fn reset(&mut self, now: Instant) {
        self.queue.clear();
        for (cid, p) in self.pending.iter_mut() {
            p.due = now;
            p.attempts = 0;
            self.queue.insert((now, *cid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn new_names_are_due_immediately_then_back_off_doubling_to_the_cap() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(200));
        s.add(1, t0);
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.poll(t0), vec![1]);
        let mut t = t0;
        let mut gaps = Vec::new();
        for _ in 0..5 {
            let next = s.next_due().unwrap();
            assert!(s.poll(next - ms(1)).is_empty());
            gaps.push(next - t);
            t = next;
            assert_eq!(s.poll(t).len(), 1);
        }
        assert_eq!(gaps, vec![ms(30), ms(60), ms(120), ms(200), ms(200)]);
    }

    #[test]
    fn many_names_come_out_in_one_poll_and_removed_ones_never() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        for cid in 0..100 {
            s.add(cid, t0);
        }
        s.remove(7);
        let due = s.poll(t0);
        assert_eq!(due.len(), 99);
        assert!(due.iter().all(|cid| *cid != 7));
        assert!(!s.contains(7));
        assert_eq!(s.len(), 99);
    }

    #[test]
    fn due_names_stay_due_until_sent_and_the_floor_lengthens_the_backoff() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        for cid in 0..10 {
            s.add(cid, t0);
        }
        assert_eq!(s.due(t0, 4), vec![0, 1, 2, 3]);
        assert_eq!(s.due(t0, 4), vec![0, 1, 2, 3], "peeking changes nothing");
        for cid in 0..4 {
            s.sent(cid, t0, ms(100));
        }
        assert_eq!(s.due(t0, 100), (4..10).collect::<Vec<_>>());
        assert_eq!(s.due(t0 + ms(99), 100).len(), 6);
        assert_eq!(s.due(t0 + ms(100), 100).len(), 10);
        s.sent(0, t0 + ms(100), ms(10));
        assert_eq!(s.next_due(), Some(t0), "the unsent ones are still first");
        for cid in 4..10 {
            s.sent(cid, t0 + ms(100), ms(10));
        }
        // Second attempt of cid 0: the minimum period (30 ms) doubled.
        assert!(s.due(t0 + ms(159), 100).iter().all(|c| *c != 0));
        assert!(s.due(t0 + ms(160), 100).contains(&0));
    }

    #[test]
    fn postpone_only_ever_delays() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        s.add(1, t0);
        assert!(s.postpone(1, t0 + ms(500)));
        assert!(s.poll(t0 + ms(499)).is_empty());
        assert!(
            s.postpone(1, t0 + ms(100)),
            "an earlier time changes nothing"
        );
        assert_eq!(s.next_due(), Some(t0 + ms(500)));
        assert!(!s.postpone(2, t0));
    }

    #[test]
    fn reset_makes_everything_due_again_with_fresh_backoff() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        s.add(1, t0);
        s.add(2, t0);
        let mut t = t0;
        for _ in 0..4 {
            s.poll(t);
            t = s.next_due().unwrap();
        }
        let later = t0 + ms(5);
        s.reset(later);
        assert_eq!(s.next_due(), Some(later));
        assert_eq!(s.poll(later).len(), 2);
        assert_eq!(s.next_due(), Some(later + ms(30)));
    }
}
