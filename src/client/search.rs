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

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::proto::ids::IdMap;

/// Per-name search state (the name itself is kept once, by the broadcaster).
#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    /// `due`'s bucket, kept rather than worked out from `due` at each look.
    bucket: u64,
    attempts: u32,
    /// False once removed: the entry stays until its bucket entry is
    /// dropped (see [`SearchScheduler`]).
    live: bool,
}

impl Pending {
    /// Make the name due at `due`; the bucket it now falls in, if it moved
    /// (the caller queues it there).
    fn move_to(&mut self, due: Instant, epoch: Instant) -> Option<u64> {
        self.due = due;
        let bucket = bucket_of(epoch, due);
        (std::mem::replace(&mut self.bucket, bucket) != bucket).then_some(bucket)
    }
}

/// Which names to search for next, and when.
///
/// Names wait in buckets, one per millisecond of due time; a burst of
/// names added or sent together shares one bucket, so scheduling costs a
/// push, not a tree insert per name. A bucket entry is only a hint: it is
/// live while the name's own due time still falls in the bucket, and
/// entries left behind by `sent`, `remove` or `postpone` are dropped when
/// their bucket is reached. Every entry was pushed by one call, so the
/// buckets never hold more than the calls made since their due times.
/// Due times themselves are exact; within a bucket names come out in the
/// order they were scheduled.
///
/// A removed name stays in `pending`, marked dead, until its own bucket
/// entry is dropped. Ids are consecutive, so 100 000 names fill one run of
/// the id table; had they been taken out as they were found, every look-up
/// of a bucket's stale entry would be for an id that is gone, and such a
/// look-up probes through the run's tombstones to an empty slot (1 200
/// instructions at 100 000 names, 12% of a get of them all).
#[derive(Debug)]
pub struct SearchScheduler {
    min_period: Duration,
    max_period: Duration,
    pending: IdMap<Pending>,
    /// Names in `pending` that are live.
    live_count: usize,
    /// Bucket number (milliseconds since `epoch`) to the names due in it.
    buckets: BTreeMap<u64, VecDeque<u32>>,
    /// Bucket 0 starts here; anything due earlier is in bucket 0 too.
    epoch: Instant,
}

impl SearchScheduler {
    /// A scheduler whose back-off starts at `min_period` and doubles up to `max_period`.
    pub fn new(min_period: Duration, max_period: Duration) -> Self {
        SearchScheduler {
            min_period,
            max_period: max_period.max(min_period),
            pending: IdMap::default(),
            live_count: 0,
            buckets: BTreeMap::new(),
            epoch: Instant::now(),
        }
    }

    /// Make room for `additional` more names without growing on the way.
    pub fn reserve(&mut self, additional: usize) {
        self.pending.reserve(additional);
    }

    /// The bucket a due time falls in.
    fn bucket(&self, due: Instant) -> u64 {
        bucket_of(self.epoch, due)
    }

    fn enqueue(&mut self, bucket: u64, cid: u32) {
        match self.buckets.last_entry() {
            // The common case: a burst of names scheduled together.
            Some(mut last) if *last.key() == bucket => last.get_mut().push_back(cid),
            _ => self.buckets.entry(bucket).or_default().push_back(cid),
        }
    }

    /// Start searching for channel id `cid`; it is first due at `due`.
    /// Re-adding a cid restarts its back-off.
    pub fn add(&mut self, cid: u32, due: Instant) {
        let bucket = self.bucket(due);
        let before = self.pending.insert(
            cid,
            Pending {
                due,
                bucket,
                attempts: 0,
                live: true,
            },
        );
        if before.is_none_or(|p| !p.live) {
            self.live_count += 1;
        }
        // Its entry in the same bucket is still there (and live).
        if before.is_none_or(|p| p.bucket != bucket) {
            self.enqueue(bucket, cid);
        }
    }

    /// Stop searching for `cid` (found, or the channel was dropped).
    /// Returns whether it was pending.
    pub fn remove(&mut self, cid: u32) -> bool {
        match self.pending.get_mut(&cid) {
            Some(p) if p.live => {
                p.live = false;
                self.live_count -= 1;
                if self.live_count == 0 {
                    self.buckets.clear();
                    self.pending.clear();
                    crate::proto::ids::shrink_when_sparse(&mut self.pending);
                }
                true
            }
            _ => false,
        }
    }

    /// Whether `cid` is still being searched for.
    pub fn contains(&self, cid: u32) -> bool {
        self.pending.get(&cid).is_some_and(|p| p.live)
    }

    /// Number of names being searched for.
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// Whether nothing is being searched for.
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// The due time of `cid` when its entry in `bucket` is live.
    fn live(&self, bucket: u64, cid: u32) -> Option<Instant> {
        let p = self.pending.get(&cid)?;
        (p.live && p.bucket == bucket).then_some(p.due)
    }

    /// Drop dead entries from the front of the earliest buckets, and the
    /// buckets they empty, so the first entry is live.
    fn settle(&mut self) {
        let mut removed = false;
        'buckets: while let Some(mut first) = self.buckets.first_entry() {
            let bucket = *first.key();
            let queue = first.get_mut();
            while let Some(&cid) = queue.front() {
                match self.pending.get(&cid) {
                    // The name's own entry: live, or dead and now dropped.
                    Some(p) if p.bucket == bucket => {
                        if p.live {
                            break 'buckets;
                        }
                        self.pending.remove(&cid);
                        removed = true;
                    }
                    _ => {}
                }
                queue.pop_front();
            }
            first.remove();
        }
        if removed {
            crate::proto::ids::shrink_when_sparse(&mut self.pending);
        }
    }

    /// When the next search is due, if any (within the millisecond: the
    /// first name of the earliest bucket).
    pub fn next_due(&mut self) -> Option<Instant> {
        self.settle();
        let (&bucket, queue) = self.buckets.first_key_value()?;
        self.live(bucket, *queue.front()?)
    }

    /// Up to `limit` names due at `now`, oldest first, left as they are: the
    /// caller sends as many as the search window allows and reports each with
    /// [`SearchScheduler::sent`]; the rest stay due.
    pub fn due(&mut self, now: Instant, limit: usize) -> Vec<u32> {
        self.settle();
        let mut out = Vec::new();
        for (&bucket, queue) in self.buckets.range(..=self.bucket(now)) {
            for &cid in queue {
                if out.len() == limit {
                    return out;
                }
                if self.live(bucket, cid).is_some_and(|due| due <= now) {
                    out.push(cid);
                }
            }
        }
        out
    }

    /// A search for `cid` went out at `now`: its next attempt waits the
    /// doubled back-off, which starts at `floor` when that is longer than the
    /// minimum period (the time a reply may take to come back).
    pub fn sent(&mut self, cid: u32, now: Instant, floor: Duration) {
        let epoch = self.epoch;
        let Some(p) = self.pending.get_mut(&cid).filter(|p| p.live) else {
            return;
        };
        let backoff = self
            .min_period
            .max(floor)
            .saturating_mul(1u32 << p.attempts.min(20))
            .min(self.max_period);
        p.attempts = p.attempts.saturating_add(1);
        if let Some(bucket) = p.move_to(now + backoff, epoch) {
            self.enqueue(bucket, cid);
        }
    }

    /// Take every name due at `now` (oldest first) and schedule its next
    /// attempt with doubled back-off: [`SearchScheduler::due`] and
    /// [`SearchScheduler::sent`] for all of them.
    #[cfg(test)] // The context calls `due` and `sent` itself; the unit tests use this.
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
        let epoch = self.epoch;
        let Some(p) = self.pending.get_mut(&cid).filter(|p| p.live) else {
            return false;
        };
        if p.due < due {
            if let Some(bucket) = p.move_to(due, epoch) {
                self.enqueue(bucket, cid);
            }
        }
        true
    }

    /// A beacon anomaly: make every pending name due at `now` with its
    /// back-off restarted.
    pub fn reset(&mut self, now: Instant) {
        self.buckets.clear();
        // With the buckets gone, dead names would never be dropped.
        self.pending.retain(|_, p| p.live);
        let mut cids = Vec::with_capacity(self.pending.len());
        let bucket = self.bucket(now);
        for (cid, p) in self.pending.iter_mut() {
            p.due = now;
            p.bucket = bucket;
            p.attempts = 0;
            cids.push(*cid);
        }
        // Oldest channel first, as they were created.
        cids.sort_unstable();
        if !cids.is_empty() {
            self.buckets.insert(bucket, cids.into());
        }
    }
}

/// Milliseconds from `epoch` to `due` (0 when `due` is earlier).
fn bucket_of(epoch: Instant, due: Instant) -> u64 {
    let d = due.saturating_duration_since(epoch);
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
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
    fn entries_left_behind_are_dropped_when_their_time_comes() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        for cid in 0..1000 {
            s.add(cid, t0);
        }
        // Sent in bursts as the window allows, found out of order.
        for chunk in s.due(t0, 1000).chunks(100) {
            for &cid in chunk {
                s.sent(cid, t0 + ms(1), ms(10));
            }
        }
        for cid in (0..1000).filter(|c| c % 3 != 0) {
            assert!(s.remove(cid));
        }
        assert!(!s.remove(1), "removed once only");
        assert_eq!(s.len(), 334);
        // The t0 bucket held only names since sent: nothing is due now.
        assert!(s.due(t0 + ms(1), 1000).is_empty());
        assert_eq!(s.next_due(), Some(t0 + ms(31)));
        let due = s.due(t0 + ms(31), 1000);
        assert_eq!(due, (0..1000).filter(|c| c % 3 == 0).collect::<Vec<_>>());
        let entries: usize = s.buckets.values().map(VecDeque::len).sum();
        assert_eq!(entries, 1000, "the dead entries of the t0 bucket are gone");
        for cid in due {
            s.remove(cid);
        }
        assert!(s.buckets.is_empty(), "nothing pending, nothing kept");
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn a_removed_name_in_the_middle_of_a_burst_is_skipped() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        for cid in 0..5 {
            s.add(cid, t0);
        }
        s.remove(0);
        s.remove(2);
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.due(t0, 2), vec![1, 3]);
        s.add(2, t0 + ms(5));
        s.add(2, t0 + ms(5));
        assert_eq!(s.due(t0 + ms(5), 10), vec![1, 3, 4, 2], "re-added: once");
        let mut zero = SearchScheduler::new(ms(0), ms(0));
        zero.add(7, t0);
        zero.sent(7, t0, ms(0));
        assert_eq!(zero.due(t0, 10), vec![7], "no back-off: still once");
        assert!(s.postpone(1, t0 + ms(50)));
        assert_eq!(s.due(t0 + ms(49), 10), vec![3, 4, 2]);
        assert_eq!(s.due(t0 + ms(50), 10), vec![3, 4, 2, 1]);
    }

    #[test]
    fn removed_names_stay_dead_until_their_bucket_entry_goes() {
        let t0 = Instant::now();
        let mut s = SearchScheduler::new(ms(30), ms(1000));
        for cid in 0..100 {
            s.add(cid, t0);
        }
        for cid in 0..50 {
            assert!(s.remove(cid));
        }
        assert!(!s.remove(7), "removed once only");
        assert!(!s.contains(7) && s.contains(50));
        assert_eq!(s.len(), 50);
        // Not due, not sent, not postponed while dead.
        assert_eq!(s.due(t0, usize::MAX), (50..100).collect::<Vec<_>>());
        assert!(!s.postpone(7, t0 + ms(5)));
        // Reaching the bucket drops the dead names' entries.
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.pending.len(), 50);
        // A dead name added again is live again, due when asked.
        s.remove(60);
        s.add(60, t0 + ms(100));
        assert!(s.contains(60));
        assert_eq!(s.len(), 50);
        assert_eq!(s.due(t0 + ms(100), usize::MAX).last(), Some(&60));
        for cid in 50..100 {
            s.remove(cid);
        }
        assert!(s.is_empty() && s.pending.is_empty() && s.next_due().is_none());
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
