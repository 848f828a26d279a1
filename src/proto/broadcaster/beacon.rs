//! Client-side beacon bookkeeping: which servers are alive, and which beacons
//! hint that a server (re)started, so unresolved channels should be searched
//! again at once instead of waiting for the search back-off.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Why a beacon suggests re-searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconAnomaly {
    /// First beacon from this server (new, or back after being forgotten as silent).
    NewServer,
    /// The beacon id is not the successor of the last one: the server
    /// restarted (ids start again at 0) or beacons were lost.
    IdJump {
        /// The id that would have been normal.
        expected: u32,
        /// The id received.
        got: u32,
    },
    /// Beacons arrive more than four times faster than before: servers send
    /// them quickly right after starting.
    Faster {
        /// The interval before.
        previous: Duration,
        /// The interval now.
        now: Duration,
    },
}

/// At most this many servers are remembered; beacons from further unknown
/// addresses are reported as new each time and not stored.
pub const MAX_TRACKED_SERVERS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Seen {
    last_id: u32,
    last_at: Instant,
    interval: Option<Duration>,
}

/// Last beacon per server. Time is handed in by the caller; nothing here reads a clock.
#[derive(Debug, Default)]
pub struct BeaconTracker {
    servers: HashMap<SocketAddr, Seen>,
}

impl BeaconTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a beacon with id `beacon_id` from the server whose TCP address
    /// is `server`, received at `now`. Returns an anomaly when the client
    /// should re-search its unresolved channels. A repeated id (the same
    /// beacon heard twice, e.g. directly and via a repeater) changes nothing.
    pub fn observe(
        &mut self,
        server: SocketAddr,
        beacon_id: u32,
        now: Instant,
    ) -> Option<BeaconAnomaly> {
        let full = self.servers.len() >= MAX_TRACKED_SERVERS;
        let Some(seen) = self.servers.get_mut(&server) else {
            if full {
                // A flood of beacons from made-up addresses: not remembered
                // (memory stays bounded); the caller rate-limits anomalies.
                return Some(BeaconAnomaly::NewServer);
            }
            self.servers.insert(
                server,
                Seen {
                    last_id: beacon_id,
                    last_at: now,
                    interval: None,
                },
            );
            return Some(BeaconAnomaly::NewServer);
        };
        if beacon_id == seen.last_id {
            return None;
        }
        let expected = seen.last_id.wrapping_add(1);
        let interval = now.saturating_duration_since(seen.last_at);
        let previous = seen.interval;
        *seen = Seen {
            last_id: beacon_id,
            last_at: now,
            interval: Some(interval),
        };
        if beacon_id != expected {
            return Some(BeaconAnomaly::IdJump {
                expected,
                got: beacon_id,
            });
        }
        match previous {
            Some(previous) if interval < previous / 4 => Some(BeaconAnomaly::Faster {
                previous,
                now: interval,
            }),
            _ => None,
        }
    }

    /// When the server was last heard from.
    pub fn last_heard(&self, server: SocketAddr) -> Option<Instant> {
        self.servers.get(&server).map(|s| s.last_at)
    }

    /// Forget servers not heard from since `now - max_silence`, returning how
    /// many were dropped; their next beacon reports [`BeaconAnomaly::NewServer`].
    pub fn forget_silent(&mut self, now: Instant, max_silence: Duration) -> usize {
        let before = self.servers.len();
        self.servers
            .retain(|_, s| now.saturating_duration_since(s.last_at) <= max_silence);
        before - self.servers.len()
    }

    /// Forget one server (e.g. its circuit closed cleanly).
    pub fn forget(&mut self, server: SocketAddr) {
        self.servers.remove(&server);
    }

    /// Number of servers being tracked.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether no server is tracked.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:5064".parse().unwrap()
    }

    #[test]
    fn sequence_and_anomalies() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut b = BeaconTracker::new();
        assert_eq!(b.observe(addr(), 7, t0), Some(BeaconAnomaly::NewServer));
        assert_eq!(b.observe(addr(), 8, t0 + 15 * s), None);
        assert_eq!(b.observe(addr(), 8, t0 + 15 * s), None, "duplicate ignored");
        assert_eq!(b.observe(addr(), 9, t0 + 30 * s), None);
        // Restart: ids start again.
        assert_eq!(
            b.observe(addr(), 0, t0 + 31 * s),
            Some(BeaconAnomaly::IdJump {
                expected: 10,
                got: 0
            })
        );
        // Ids in sequence but suddenly much faster than before.
        assert_eq!(b.observe(addr(), 1, t0 + 46 * s), None);
        assert_eq!(
            b.observe(addr(), 2, t0 + 47 * s),
            Some(BeaconAnomaly::Faster {
                previous: 15 * s,
                now: s
            })
        );
        assert_eq!(b.last_heard(addr()), Some(t0 + 47 * s));
    }

    #[test]
    fn silent_servers_are_new_again() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut b = BeaconTracker::new();
        b.observe(addr(), 1, t0);
        assert_eq!(b.forget_silent(t0 + 10 * s, 30 * s), 0);
        assert_eq!(b.forget_silent(t0 + 60 * s, 30 * s), 1);
        assert!(b.is_empty());
        assert_eq!(
            b.observe(addr(), 2, t0 + 61 * s),
            Some(BeaconAnomaly::NewServer)
        );
    }

    #[test]
    fn id_wraps_without_anomaly() {
        let t0 = Instant::now();
        let mut b = BeaconTracker::new();
        b.observe(addr(), u32::MAX, t0);
        assert_eq!(b.observe(addr(), 0, t0 + Duration::from_secs(15)), None);
    }

    #[test]
    fn a_flood_from_made_up_addresses_is_not_remembered_past_the_cap() {
        let t0 = Instant::now();
        let mut b = BeaconTracker::new();
        for port in 0..(MAX_TRACKED_SERVERS as u32 + 1000) {
            let server = SocketAddr::from(([127, 0, 0, 1], port as u16));
            assert_eq!(b.observe(server, 1, t0), Some(BeaconAnomaly::NewServer));
        }
        assert_eq!(b.len(), MAX_TRACKED_SERVERS);
    }
}
