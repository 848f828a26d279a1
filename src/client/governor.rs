//! The reconnect governor: how long to hold off after a circuit or a channel
//! failed, and how often a beacon anomaly may cut that short. A pure state
//! machine: time is passed in as `now`, nothing here reads a clock or does
//! I/O, so the policy is unit-tested without sleeping.
//!
//! EPICS' libca does not re-search a channel the moment its server
//! disconnects it: disconnected channels wait in a "disconnect governor"
//! that releases them on a fixed period, and a server that keeps failing is
//! only tried again when its beacons say it changed. We follow the same idea
//! with exponential back-off so that a one-shot tool still retries once or
//! twice within its timeout:
//!
//! - Per server address: a circuit that fails to connect, or ends less than
//!   [`HEALTHY`] after it opened, counts as a failure. The first failure
//!   after a healthy spell is retried at once (a server restart should cost
//!   nothing); the `n`th consecutive one holds the server off for
//!   `FIRST_HOLD * 2^(n-2)`, capped at [`MAX_HOLD`]. A search answered by a
//!   held server does not open a circuit: the channel searches again when
//!   the hold ends.
//! - Per channel: a channel that the server disconnects (SERVER_DISCONN), or
//!   whose circuit ends, less than [`HEALTHY`] after it was created is held
//!   the same way, so a server that accepts the circuit but drops the
//!   channel cannot make us search in a loop.
//! - Beacon anomalies (a server that appeared or restarted) lift the hold of
//!   that server and make pending searches due again, but at most once per
//!   [`ANOMALY_MIN_INTERVAL`]; a flood of beacons cannot turn into a flood
//!   of searches.
//!
//! ```text
//!   searching --found--> connecting --created--> connected
//!       ^                   |  (fail)               | (lost / SERVER_DISCONN)
//!       |                   v                       v
//!       +---- hold ends --- held off <--------------+
//!                  ^  beacon anomaly (rate-limited) lifts a server's hold
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::proto::ids::IdMap;

/// A connection that lasted at least this long was healthy: its end starts
/// the failure count afresh.
pub const HEALTHY: Duration = Duration::from_secs(10);
/// Hold after the second consecutive failure; doubles with each further one.
pub const FIRST_HOLD: Duration = Duration::from_millis(500);
/// The longest hold. A long-running client retries a broken server at this
/// period, and reconnects within it once the server behaves.
pub const MAX_HOLD: Duration = Duration::from_secs(5);
/// At most one beacon anomaly per this interval resets the search back-off.
pub const ANOMALY_MIN_INTERVAL: Duration = Duration::from_secs(2);
/// Records whose hold ended this long ago (and that saw no failure since)
/// are forgotten, so the tables stay small.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// The hold after `failures` consecutive failures (the first is free).
pub fn hold_for(failures: u32) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    FIRST_HOLD
        .saturating_mul(1u32 << (failures - 2).min(16))
        .min(MAX_HOLD)
}

/// Consecutive failures of one server or channel.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    until: Instant,
}

impl Record {
    /// No failures yet, nothing held.
    fn fresh(now: Instant) -> Record {
        Record {
            failures: 0,
            until: now,
        }
    }

    /// Count a failure of something that lived `lived` (`None`: never
    /// connected) and return the hold it earns.
    fn fail(&mut self, lived: Option<Duration>, now: Instant) -> Hold {
        self.failures = match lived {
            Some(d) if d >= HEALTHY => 1,
            _ => self.failures.saturating_add(1),
        };
        let hold = hold_for(self.failures);
        self.until = now + hold;
        Hold {
            failures: self.failures,
            hold,
        }
    }
}

/// Why a hold was chosen, for the log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Consecutive failures counted so far.
    pub failures: u32,
    /// How long to wait before searching again.
    pub hold: Duration,
}

/// Per-server and per-channel failure records and the anomaly rate limit.
#[derive(Debug, Default)]
pub struct Governor {
    servers: HashMap<SocketAddr, Record>,
    channels: IdMap<Record>,
    last_anomaly: Option<Instant>,
}

impl Governor {
    /// An empty governor: nothing held.
    pub fn new() -> Self {
        Self::default()
    }

    /// A circuit to `server` ended (or never connected: `lived` = `None`).
    pub fn circuit_failed(
        &mut self,
        server: SocketAddr,
        lived: Option<Duration>,
        now: Instant,
    ) -> Hold {
        self.prune(now);
        self.servers
            .entry(server)
            .or_insert_with(|| Record::fresh(now))
            .fail(lived, now)
    }

    /// Channel `cid` lost its connection (its circuit ended or the server
    /// disconnected it) after being connected for `lived` (`None`: it never
    /// connected).
    pub fn channel_failed(&mut self, cid: u32, lived: Option<Duration>, now: Instant) -> Hold {
        self.channels
            .entry(cid)
            .or_insert_with(|| Record::fresh(now))
            .fail(lived, now)
    }

    /// When `server` may be connected to again, if it is held off at `now`.
    pub fn server_held(&self, server: SocketAddr, now: Instant) -> Option<Instant> {
        if self.servers.is_empty() {
            return None; // the usual case: no lookup per found channel
        }
        self.servers
            .get(&server)
            .map(|r| r.until)
            .filter(|until| *until > now)
    }

    /// When channel `cid` may search again, if it is held off at `now`.
    #[cfg(test)] // Only the unit tests ask.
    pub fn channel_held(&self, cid: u32, now: Instant) -> Option<Instant> {
        self.channels
            .get(&cid)
            .map(|r| r.until)
            .filter(|until| *until > now)
    }

    /// Channels held off at `now`, with the end of their hold.
    pub fn held_channels(&self, now: Instant) -> impl Iterator<Item = (u32, Instant)> + '_ {
        self.channels
            .iter()
            .filter(move |(_, r)| r.until > now)
            .map(|(cid, r)| (*cid, r.until))
    }

    /// The channel is gone: forget its record.
    pub fn forget_channel(&mut self, cid: u32) {
        self.channels.remove(&cid);
    }

    /// A beacon anomaly from `server` at `now`. Returns true when it may act
    /// (reset the search back-off): at most once per
    /// `ANOMALY_MIN_INTERVAL` (2 s). An accepted anomaly also lifts the hold on
    /// that server (it restarted; the next circuit may work) but keeps its
    /// failure count, so a server that keeps failing is held again at once.
    pub fn beacon_anomaly(&mut self, server: SocketAddr, now: Instant) -> bool {
        if self
            .last_anomaly
            .is_some_and(|t| now.saturating_duration_since(t) < ANOMALY_MIN_INTERVAL)
        {
            return false;
        }
        self.last_anomaly = Some(now);
        if let Some(rec) = self.servers.get_mut(&server) {
            rec.until = rec.until.min(now);
        }
        true
    }

    /// Number of servers with a record (for tests and diagnostics).
    #[cfg(test)] // Only the unit tests ask.
    pub fn servers_tracked(&self) -> usize {
        self.servers.len()
    }

    fn prune(&mut self, now: Instant) {
        if self.servers.len() < 64 {
            return;
        }
        self.servers
            .retain(|_, r| now.saturating_duration_since(r.until) < FORGET_AFTER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:5064".parse().unwrap()
    }

    #[test]
    fn holds_grow_from_nothing_to_the_cap() {
        let got: Vec<Duration> = (1..=8).map(hold_for).collect();
        assert_eq!(
            got,
            vec![
                ms(0),
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(5000),
                ms(5000),
                ms(5000)
            ]
        );
        assert_eq!(hold_for(u32::MAX), MAX_HOLD);
    }

    /// A server that breaks every circuit at once, retried whenever the hold
    /// allows: a one-shot tool with a 2 s timeout opens at most 5 circuits,
    /// and 30 s cost fewer than 100 (here 10).
    #[test]
    fn a_server_breaking_every_circuit_is_tried_a_bounded_number_of_times() {
        let t0 = Instant::now();
        let mut g = Governor::new();
        let mut t = t0;
        let mut opened = Vec::new();
        while t < t0 + Duration::from_secs(30) {
            assert!(g.server_held(addr(), t).is_none());
            opened.push(t - t0);
            let hold = g.circuit_failed(addr(), Some(ms(5)), t + ms(5));
            t = t + ms(5) + hold.hold;
        }
        let in_two = opened
            .iter()
            .filter(|d| **d < Duration::from_secs(2))
            .count();
        assert!(in_two <= 5, "{opened:?}");
        assert!(opened.len() < 100, "{opened:?}");
        assert_eq!(opened.len(), 10, "{opened:?}");
    }

    #[test]
    fn a_healthy_spell_restarts_the_count_and_a_restart_costs_nothing() {
        let t0 = Instant::now();
        let mut g = Governor::new();
        g.circuit_failed(addr(), None, t0);
        assert_eq!(g.circuit_failed(addr(), None, t0).hold, ms(500));
        assert_eq!(g.server_held(addr(), t0), Some(t0 + ms(500)));
        assert!(g.server_held(addr(), t0 + ms(500)).is_none());
        let h = g.circuit_failed(addr(), Some(HEALTHY), t0 + ms(600));
        assert_eq!((h.failures, h.hold), (1, Duration::ZERO));
    }

    #[test]
    fn channels_are_held_on_their_own() {
        let t0 = Instant::now();
        let mut g = Governor::new();
        assert_eq!(g.channel_failed(4, Some(ms(1)), t0).hold, ms(0));
        assert_eq!(g.channel_failed(4, Some(ms(1)), t0).hold, ms(500));
        assert_eq!(g.channel_held(4, t0), Some(t0 + ms(500)));
        assert!(g.channel_held(5, t0).is_none());
        assert_eq!(
            g.held_channels(t0).collect::<Vec<_>>(),
            vec![(4, t0 + ms(500))]
        );
        assert!(g.server_held(addr(), t0).is_none());
        g.forget_channel(4);
        assert!(g.channel_held(4, t0).is_none());
    }

    #[test]
    fn anomalies_lift_a_hold_at_a_bounded_rate() {
        let t0 = Instant::now();
        let mut g = Governor::new();
        for _ in 0..4 {
            g.circuit_failed(addr(), None, t0);
        }
        assert!(g.server_held(addr(), t0).is_some());
        assert!(g.beacon_anomaly(addr(), t0 + ms(10)));
        assert!(g.server_held(addr(), t0 + ms(10)).is_none());
        // The failure count survives: the next failure holds longer still.
        assert_eq!(g.circuit_failed(addr(), None, t0 + ms(20)).failures, 5);
        let accepted = (0..10_000)
            .filter(|i| g.beacon_anomaly(addr(), t0 + ms(20) + Duration::from_micros(*i * 100)))
            .count();
        assert_eq!(accepted, 0, "within the interval of the last one");
        assert!(g.beacon_anomaly(addr(), t0 + ms(10) + ANOMALY_MIN_INTERVAL));
    }

    #[test]
    fn the_server_table_stays_small() {
        let t0 = Instant::now();
        let mut g = Governor::new();
        for port in 0..10_000u16 {
            let t = t0 + Duration::from_secs(u64::from(port));
            g.circuit_failed(SocketAddr::from(([127, 0, 0, 1], port)), None, t);
        }
        assert!(g.servers_tracked() <= 128, "{}", g.servers_tracked());
    }
}
