//! How many search datagrams may be unanswered at once: a congestion window
//! over UDP searches, in the spirit of libca's search timer.
//!
//! A client that sends the searches for 100 000 names in one burst overruns
//! the server's receive buffer (and its own, for the replies): most of the
//! burst is dropped, every name is searched again after the back-off, and the
//! retries are dropped in turn. libca avoids that by sending a few frames per
//! try and widening the number while replies come back. [`SearchPacer`] does
//! the same with TCP's rules:
//!
//! - a *flight* is one datagram's worth of names; it is outstanding until
//!   every name in it is answered, or until [`SearchPacer::timeout`] passes;
//! - while fewer than [`SearchPacer::window`] flights are outstanding, more
//!   may be sent ([`SearchPacer::room`]);
//! - a flight answered in full widens the window: by one (slow start, which
//!   doubles it every round trip) below the threshold, by `1/window` above;
//! - a flight that times out with no answer at all halves the window and the
//!   threshold, at most once per round trip (a burst of losses is one event).
//!   A flight partly answered (some names exist nowhere) changes nothing.
//!
//! The round-trip estimate (RFC 6298's smoothed RTT and variance) sets the
//! flight timeout, which is also the floor of the per-name search back-off,
//! so a name is not searched again before its first reply could be back.
//!
//! Pure state: time is passed in, nothing here reads a clock or does I/O.
//! Memory is one map entry per name in flight plus one record per flight.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::proto::ids::IdMap;

/// Flights allowed at first: enough for a one-shot tool with a few hundred
/// names to send them all at once.
pub const INITIAL_WINDOW: f64 = 16.0;
/// Upper bound of the window, whatever the replies say.
pub const MAX_WINDOW: f64 = 512.0;
/// Shortest flight timeout (loopback round trips are far shorter, but a
/// server answering thousands of names needs time to reach the last one).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest flight timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(2);
/// Timeout before any round trip was measured.
pub const INITIAL_TIMEOUT: Duration = Duration::from_millis(200);

/// One datagram's worth of names in flight.
#[derive(Debug)]
struct Flight {
    id: u64,
    sent: Instant,
    outstanding: u32,
    answered: u32,
}

/// The search congestion window. See the module docs.
#[derive(Debug)]
pub struct SearchPacer {
    window: f64,
    threshold: f64,
    /// Outstanding flights, oldest first.
    flights: VecDeque<Flight>,
    /// Name (cid) -> the flight that carried its latest search.
    by_cid: IdMap<u64>,
    next_id: u64,
    srtt: Option<Duration>,
    rttvar: Duration,
    /// Flights sent before this instant cannot shrink the window again.
    reduced_at: Option<Instant>,
}

impl Default for SearchPacer {
    fn default() -> Self {
        SearchPacer::new()
    }
}

impl SearchPacer {
    /// A pacer with the initial window and no round trip measured.
    pub fn new() -> Self {
        SearchPacer {
            window: INITIAL_WINDOW,
            threshold: MAX_WINDOW,
            flights: VecDeque::new(),
            by_cid: IdMap::default(),
            next_id: 0,
            srtt: None,
            rttvar: Duration::ZERO,
            reduced_at: None,
        }
    }

    /// The current window, in flights.
    pub fn window(&self) -> f64 {
        self.window
    }

    /// Flights outstanding (sent, not fully answered, not timed out).
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// How long a flight may wait for its replies, from the round-trip estimate.
    pub fn timeout(&self) -> Duration {
        match self.srtt {
            None => INITIAL_TIMEOUT,
            Some(srtt) => (srtt + 4 * self.rttvar).clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        }
    }

    /// How many more flights may be sent at `now` (after expiring the flights
    /// whose timeout passed).
    pub fn room(&mut self, now: Instant) -> usize {
        self.expire(now);
        (self.window.floor() as usize).saturating_sub(self.flights.len())
    }

    /// When the oldest outstanding flight times out (when room may open
    /// without a reply), if any is outstanding.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.flights.front().map(|f| f.sent + self.timeout())
    }

    /// A datagram carrying searches for `cids` went out at `now`.
    pub fn sent(&mut self, cids: &[u32], now: Instant) {
        if cids.is_empty() {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        for &cid in cids {
            self.by_cid.insert(cid, id);
        }
        self.flights.push_back(Flight {
            id,
            sent: now,
            outstanding: cids.len() as u32,
            answered: 0,
        });
    }

    /// A search reply for `cid` arrived at `now`.
    pub fn answered(&mut self, cid: u32, now: Instant) {
        let Some(id) = self.by_cid.remove(&cid) else {
            return;
        };
        crate::proto::ids::shrink_when_sparse(&mut self.by_cid);
        let Some(pos) = self.position(id) else {
            return;
        };
        let flight = &mut self.flights[pos];
        flight.outstanding = flight.outstanding.saturating_sub(1);
        flight.answered += 1;
        let sample = now.saturating_duration_since(flight.sent);
        let done = flight.outstanding == 0;
        if flight.answered == 1 {
            self.measure(sample);
        }
        if done {
            self.flights.remove(pos);
            self.widen();
        }
    }

    /// Stop tracking `cid` (the channel was dropped or found by other means).
    pub fn forget(&mut self, cid: u32) {
        let Some(id) = self.by_cid.remove(&cid) else {
            return;
        };
        if let Some(pos) = self.position(id) {
            let flight = &mut self.flights[pos];
            flight.outstanding = flight.outstanding.saturating_sub(1);
            if flight.outstanding == 0 {
                self.flights.remove(pos);
            }
        }
    }

    /// Flights are sent in id order and ids are never reused, so the
    /// outstanding ones are sorted by id.
    fn position(&self, id: u64) -> Option<usize> {
        self.flights.binary_search_by_key(&id, |f| f.id).ok()
    }

    fn widen(&mut self) {
        self.window += if self.window < self.threshold {
            1.0
        } else {
            1.0 / self.window
        };
        self.window = self.window.min(MAX_WINDOW);
    }

    fn measure(&mut self, sample: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(sample);
                self.rttvar = sample / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(sample);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + sample) / 8);
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.timeout();
        while let Some(flight) = self.flights.front() {
            if flight.sent + timeout > now {
                break;
            }
            let flight = self.flights.pop_front().expect("front exists");
            // Its names' entries in `by_cid` stay until they are answered,
            // searched again or forgotten (at most one per pending name); a
            // late reply finds no flight and is ignored.
            if flight.answered == 0 && self.reduced_at.is_none_or(|t| flight.sent >= t) {
                self.threshold = (self.window / 2.0).max(2.0);
                self.window = (self.window / 2.0).max(1.0);
                self.reduced_at = Some(now);
            }
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
    fn answered_flights_widen_the_window_by_one_each_in_slow_start() {
        let t0 = Instant::now();
        let mut p = SearchPacer::new();
        assert_eq!(p.room(t0), INITIAL_WINDOW as usize);
        for i in 0..4u32 {
            p.sent(&[2 * i, 2 * i + 1], t0);
        }
        assert_eq!(p.room(t0), INITIAL_WINDOW as usize - 4);
        for cid in 0..8 {
            p.answered(cid, t0 + ms(1));
        }
        assert_eq!(p.in_flight(), 0);
        assert_eq!(p.window(), INITIAL_WINDOW + 4.0);
        assert_eq!(p.room(t0 + ms(1)), INITIAL_WINDOW as usize + 4);
    }

    #[test]
    fn a_flight_half_answered_keeps_its_place_until_it_times_out() {
        let t0 = Instant::now();
        let mut p = SearchPacer::new();
        p.sent(&[1, 2], t0);
        p.answered(1, t0 + ms(2));
        assert_eq!(p.in_flight(), 1);
        let expiry = p.next_expiry().expect("outstanding");
        assert!(expiry > t0 + ms(2));
        assert_eq!(p.room(expiry - ms(1)), INITIAL_WINDOW as usize - 1);
        assert_eq!(
            p.room(expiry),
            INITIAL_WINDOW as usize,
            "expired, no penalty"
        );
        assert_eq!(p.window(), INITIAL_WINDOW, "partly answered: unchanged");
    }

    #[test]
    fn unanswered_flights_halve_the_window_once_per_burst() {
        let t0 = Instant::now();
        let mut p = SearchPacer::new();
        for cid in 0..16 {
            p.sent(&[cid], t0);
        }
        assert_eq!(p.room(t0), 0);
        let later = t0 + INITIAL_TIMEOUT;
        p.room(later);
        assert_eq!(p.window(), INITIAL_WINDOW / 2.0, "16 losses are one event");
        // A loss of a flight sent after the reduction counts again.
        p.sent(&[100], later);
        p.room(later + INITIAL_TIMEOUT);
        assert_eq!(p.window(), INITIAL_WINDOW / 4.0);
        // Above the threshold the window grows by 1/window per flight.
        let t = later + INITIAL_TIMEOUT;
        p.sent(&[200], t);
        p.answered(200, t + ms(1));
        assert_eq!(p.window(), INITIAL_WINDOW / 4.0 + 0.25);
    }

    #[test]
    fn the_timeout_follows_measured_round_trips_within_bounds() {
        let t0 = Instant::now();
        let mut p = SearchPacer::new();
        assert_eq!(p.timeout(), INITIAL_TIMEOUT);
        for i in 0..50u32 {
            let t = t0 + ms(u64::from(i) * 10);
            p.sent(&[i], t);
            p.answered(i, t + Duration::from_micros(200));
        }
        assert_eq!(p.timeout(), MIN_TIMEOUT, "fast replies: the floor");
        for i in 50..100u32 {
            let t = t0 + ms(u64::from(i) * 10_000);
            p.sent(&[i], t);
            p.answered(i, t + ms(900));
        }
        assert!(p.timeout() >= ms(900) && p.timeout() <= MAX_TIMEOUT);
    }

    #[test]
    fn the_window_never_exceeds_its_cap() {
        let t0 = Instant::now();
        let mut p = SearchPacer::new();
        for cid in 0..10_000u32 {
            p.sent(&[cid], t0);
            p.answered(cid, t0);
        }
        assert_eq!(p.window(), MAX_WINDOW);
        assert!(p.by_cid.is_empty());
        p.sent(&[1, 2, 3], t0);
        p.room(t0 + MAX_TIMEOUT);
        assert_eq!(p.in_flight(), 0);
        p.answered(1, t0 + MAX_TIMEOUT);
        p.forget(2);
        assert_eq!(p.by_cid.len(), 1, "only the name never heard of is left");
        p.forget(3);
        assert!(p.by_cid.is_empty());
    }
}
