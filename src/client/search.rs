//! When to (re)send searches: a pure scheduler with EPICS-like back-off.
//!
//! A new name is due at once (no initial delay, so a one-shot get is fast).
//! Each unanswered name then waits `min_period`, `2*min_period`, ... up to
//! `max_period` between attempts. A beacon anomaly (a server appearing or
//! restarting) makes every pending name due again with its back-off reset,
//! which is how EPICS clients find a restarted server quickly.
//!
//! Time is passed in by the caller; nothing here reads a clock, so the
//! schedule is unit-testable.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Per-name search state.
#[derive(Debug, Clone)]
struct Pending {
    name: String,
    due: Instant,
    attempts: u32,
}

/// Which names to search for next, and when.
#[derive(Debug)]
pub struct SearchScheduler {
    min_period: Duration,
    max_period: Duration,
    pending: HashMap<u32, Pending>,
    /// (due, cid) ordered by due time, for cheap "what is next" queries.
    queue: BTreeSet<(Instant, u32)>,
}

impl SearchScheduler {
    /// A scheduler whose back-off starts at `min_period` and doubles up to `max_period`.
    pub fn new(min_period: Duration, max_period: Duration) -> Self {
        SearchScheduler {
            min_period,
            max_period: max_period.max(min_period),
            pending: HashMap::new(),
            queue: BTreeSet::new(),
        }
    }

    /// Start searching for `name` under channel id `cid`; it is due at `now`.
    /// Re-adding a cid restarts its back-off.
    pub fn add(&mut self, cid: u32, name: &str, now: Instant) {
        self.remove(cid);
        self.pending.insert(
            cid,
            Pending {
                name: name.to_string(),
                due: now,
                attempts: 0,
            },
        );
        self.queue.insert((now, cid));
    }

    /// Stop searching for `cid` (found, or the channel was dropped).
    /// Returns whether it was pending.
    pub fn remove(&mut self, cid: u32) -> bool {
        match self.pending.remove(&cid) {
            Some(p) => {
                self.queue.remove(&(p.due, cid));
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

    /// Take every name due at `now` (oldest first) and schedule its next
    /// attempt with doubled back-off. The caller sends them, batched.
    pub fn poll(&mut self, now: Instant) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        while let Some(&(due, cid)) = self.queue.first() {
            if due > now {
                break;
            }
            self.queue.pop_first();
            let Some(p) = self.pending.get_mut(&cid) else {
                continue;
            };
            out.push((cid, p.name.clone()));
            let backoff = self
                .min_period
                .saturating_mul(1u32 << p.attempts.min(20))
                .min(self.max_period);
            p.attempts = p.attempts.saturating_add(1);
            p.due = now + backoff;
            self.queue.insert((p.due, cid));
        }
        out
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
        s.add(1, "a", t0);
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.poll(t0), vec![(1, "a".to_string())]);
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
            s.add(cid, &format!("pv{cid}"), t0);
        }
        s.remove(7);
        let due = s.poll(t0);
        assert_eq!(due.len(), 99);
        assert!(due.iter().all(|(cid, _)| *cid != 7));
        assert!(!s.contains(7));
        assert_eq!(s.len(), 99);
    }

    #[test]
    fn postpone_only_ever_delays() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        s.add(1, "a", t0);
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
        s.add(1, "a", t0);
        s.add(2, "b", t0);
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
