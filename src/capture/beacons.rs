//! Beacon anomalies, for `caproto-shark --summary` and `--top`: a server whose beacon ID
//! jumps, or whose beacon period starts over (rsrv and caproto's servers send beacons fast
//! after a start and slow down), has most likely restarted.
//!
//! Driven message by message with the beacons ([`id::RSRV_IS_UP`]) of a capture; the time is
//! the capture time in each [`Message`]. Memory: one small entry per server, at most `cap`
//! servers (the table starts over when full, as the decoder's search table does).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Message, Timestamp};
use crate::proto::command::id;

/// Servers tracked by [`Beacons::default`].
pub const DEFAULT_CAP: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct BeaconState {
    id: u32,
    time: Timestamp,
    interval: Option<f64>,
}

/// The last beacon of each server, and what the next one should look like.
#[derive(Debug)]
pub struct Beacons {
    servers: HashMap<(IpAddr, u16), BeaconState>,
    cap: usize,
}

impl Default for Beacons {
    fn default() -> Self {
        Beacons::new(DEFAULT_CAP)
    }
}

impl Beacons {
    /// At most `cap` servers remembered.
    pub fn new(cap: usize) -> Self {
        Beacons {
            servers: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Servers seen beaconing (since the table last started over).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether no beacon was seen.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Folds in a message; for a beacon that shows a restart, returns the anomaly as one line
    /// of text (`HH:MM:SS.mmm server 10.0.0.1:5064: beacon id jumped from 4 to 1 (restarted?)`).
    pub fn handle(&mut self, m: &Message<'_>) -> Option<String> {
        let h = &m.header;
        if h.command != id::RSRV_IS_UP {
            return None;
        }
        // The beacon names the server's TCP port; its address is the sender's (or the one
        // in parameter2 when set).
        let ip = match h.parameter2 {
            0 => m.from.ip(),
            a => IpAddr::from(std::net::Ipv4Addr::from(a)),
        };
        let port = h.data_count as u16;
        let id = h.parameter1;
        let key = (ip, port);
        let Some(prev) = self.servers.get(&key).copied() else {
            if self.servers.len() >= self.cap {
                self.servers.clear();
            }
            self.servers.insert(
                key,
                BeaconState {
                    id,
                    time: m.time,
                    interval: None,
                },
            );
            return None;
        };
        if id == prev.id {
            return None; // the same beacon relayed again by a repeater
        }
        let interval = m.time.as_secs_f64() - prev.time.as_secs_f64();
        let jumped = id != prev.id.wrapping_add(1);
        let reset = prev
            .interval
            .is_some_and(|p| p >= 1.0 && interval < p / 4.0);
        self.servers.insert(
            key,
            BeaconState {
                id,
                time: m.time,
                interval: Some(interval),
            },
        );
        if !jumped && !reset {
            return None;
        }
        let mut s = format!("{} server {ip}:{port}: ", clock(m.time));
        if jumped {
            let _ = write!(s, "beacon id jumped from {} to {id}", prev.id);
        }
        if reset {
            if jumped {
                s.push_str(", ");
            }
            let _ = write!(
                s,
                "beacon period reset from {:.1} s to {interval:.2} s",
                prev.interval.unwrap_or_default()
            );
        }
        s.push_str(" (restarted?)");
        Some(s)
    }
}

/// Local wall-clock time of a capture timestamp, `HH:MM:SS.mmm`.
pub fn clock(t: Timestamp) -> String {
    use chrono::TimeZone as _;
    match chrono::Local.timestamp_opt(t.secs, t.nanos).single() {
        Some(dt) => dt.format("%H:%M:%S%.3f").to_string(),
        None => format!("{:.3}", t.as_secs_f64()),
    }
}
