//! The counters behind `--top`: a [`Meter`] counts messages and bytes in total and per second
//! of capture time (the last complete second is the rate shown), and a [`BoundedMap`] keeps
//! meters per PV, host or name within a fixed number of entries, dropping the quietest half
//! when full.
//!
//! Both are pure: time comes in as whole seconds of capture time. A meter is 48 bytes; each
//! map holds at most its `cap` entries, so the model's memory is stated by its caps.

use std::collections::HashMap;
use std::hash::Hash;

/// Messages and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages.
    pub messages: u64,
    /// Bytes of those messages (header and payload).
    pub bytes: u64,
}

/// Totals and the counts of the current and the previous second of capture time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meter {
    total: Counts,
    /// The capture second `current` counts.
    second: u64,
    current: Counts,
    /// The second before `second` (zero when it saw nothing).
    previous: Counts,
}

impl Meter {
    /// Counts one message of `bytes` at capture second `sec`. A second older than the
    /// current one (capture timestamps out of order) counts in the current one.
    pub fn add(&mut self, sec: u64, bytes: u64) {
        if sec > self.second {
            self.previous = if sec == self.second + 1 {
                self.current
            } else {
                Counts::default()
            };
            self.current = Counts::default();
            self.second = sec;
        }
        self.current.messages += 1;
        self.current.bytes += bytes;
        self.total.messages += 1;
        self.total.bytes += bytes;
    }

    /// Everything counted.
    pub fn total(&self) -> Counts {
        self.total
    }

    /// The counts of the last complete second before capture second `now`: what happened in
    /// second `now - 1`.
    pub fn last_second(&self, now: u64) -> Counts {
        if now == self.second {
            self.previous
        } else if now == self.second + 1 {
            self.current
        } else {
            Counts::default()
        }
    }

    /// The capture second of the last message counted.
    pub fn latest(&self) -> u64 {
        self.second
    }
}

/// What decides which entries of a full [`BoundedMap`] are kept.
pub trait Activity {
    /// Higher is kept first: recent activity, then the totals.
    fn weight(&self) -> (u64, u64);
}

impl Activity for Meter {
    fn weight(&self) -> (u64, u64) {
        (self.second, self.total.messages)
    }
}

/// A map of at most `cap` entries. When an insert finds it full, the half with the lowest
/// [`Activity::weight`] (least recently active, then fewest messages) is dropped and counted
/// in [`BoundedMap::dropped`]: amortised O(1) per insert.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    cap: usize,
    dropped: u64,
}

impl<K: Hash + Eq, V: Activity + Default> BoundedMap<K, V> {
    /// An empty map holding at most `cap` (at least 2) entries.
    pub fn new(cap: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            cap: cap.max(2),
            dropped: 0,
        }
    }

    /// The entry of `key`, looked up by a borrowed form (`&str` for `Box<str>` keys) so a
    /// hit allocates nothing; `make` builds the owned key of a new entry.
    pub fn entry<'k, Q>(&mut self, key: &'k Q, make: impl FnOnce(&'k Q) -> K) -> &mut V
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.cap {
                self.prune();
            }
            self.map.insert(make(key), V::default());
        }
        match self.map.get_mut(key) {
            Some(v) => v,
            None => unreachable!("inserted above"),
        }
    }

    /// Drops the less active half.
    fn prune(&mut self) {
        let mut weights: Vec<(u64, u64)> = self.map.values().map(Activity::weight).collect();
        let keep = self.cap / 2;
        let cut = weights.len() - keep;
        // The weight at the cut: entries below it go, entries above it stay, ties go until
        // only `keep` are left.
        let (_, at, _) = weights.select_nth_unstable(cut);
        let at = *at;
        let mut tied_to_drop = cut - self.map.values().filter(|v| v.weight() < at).count();
        let before = self.map.len();
        self.map.retain(|_, v| {
            let w = v.weight();
            if w < at {
                false
            } else if w == at && tied_to_drop > 0 {
                tied_to_drop -= 1;
                false
            } else {
                true
            }
        });
        self.dropped += (before - self.map.len()) as u64;
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries dropped to stay within the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    /// The entry of `key`, if held.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_the_last_complete_second() {
        let mut m = Meter::default();
        m.add(10, 100);
        m.add(10, 50);
        // During second 10, second 9 saw nothing.
        assert_eq!(m.last_second(10), Counts::default());
        // In second 11 the rate is second 10's.
        assert_eq!(
            m.last_second(11),
            Counts {
                messages: 2,
                bytes: 150
            }
        );
        m.add(11, 10);
        assert_eq!(m.last_second(11).messages, 2);
        assert_eq!(m.last_second(12).messages, 1);
        // Quiet for a while: nothing per second, totals stay.
        assert_eq!(m.last_second(14), Counts::default());
        assert_eq!(
            m.total(),
            Counts {
                messages: 3,
                bytes: 160
            }
        );
        // A gap of seconds: the previous second is empty, not the old current one.
        m.add(20, 1);
        assert_eq!(m.last_second(20), Counts::default());
    }

    #[test]
    fn out_of_order_times_count_in_the_current_second() {
        let mut m = Meter::default();
        m.add(5, 1);
        m.add(4, 1);
        assert_eq!(m.last_second(6).messages, 2);
        assert_eq!(m.latest(), 5);
    }

    #[test]
    fn a_full_map_keeps_the_busiest_half() {
        let mut t: BoundedMap<u32, Meter> = BoundedMap::new(10);
        for k in 0..10u32 {
            // Key k gets k+1 messages, all in second 1.
            for _ in 0..=k {
                t.entry(&k, |k| *k).add(1, 1);
            }
        }
        assert_eq!(t.len(), 10);
        t.entry(&100, |k| *k).add(1, 1);
        assert_eq!(t.len(), 6, "5 kept and the new one");
        assert_eq!(t.dropped(), 5);
        for k in 5..10 {
            assert!(t.get(&k).is_some(), "busy key {k} kept");
        }
        assert!(t.get(&0).is_none());
        assert!(t.get(&100).is_some());
    }

    #[test]
    fn recent_activity_outranks_old_totals() {
        let mut t: BoundedMap<u32, Meter> = BoundedMap::new(4);
        for _ in 0..1000 {
            t.entry(&0, |k| *k).add(1, 1);
        }
        for k in 1..4 {
            t.entry(&k, |k| *k).add(50, 1);
        }
        t.entry(&9, |k| *k).add(50, 1);
        assert!(t.get(&0).is_none(), "quiet since second 1");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn equal_weights_still_shrink_to_half() {
        let mut t: BoundedMap<u32, Meter> = BoundedMap::new(8);
        for k in 0..100u32 {
            t.entry(&k, |k| *k).add(1, 1);
            assert!(t.len() <= 8);
        }
        assert!(t.dropped() >= 92);
    }
}
