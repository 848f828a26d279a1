//! What `caproto-shark --summary` prints at the end: totals per PV, per circuit, searches per
//! name (unanswered names first, the CaSnooper view of a search storm) with the busiest
//! searchers, and beacon anomalies (a server whose beacon ID jumps or whose beacon period
//! starts over has restarted).
//!
//! Folded message by message from [`Message`]s, so it costs a few hash updates per message
//! and memory in the number of PVs, circuits and servers, not in the capture's length.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;

use super::beacons::Beacons;
use super::{Message, Problem, PvRef, Timestamp, TransportKind};
use crate::proto::command::id;
use crate::proto::Role;

/// ECA_NORMAL as it travels in status fields.
const ECA_NORMAL: u32 = 1;

/// Rows shown per table before "... and N more".
const ROWS: usize = 25;

/// Counts for one PV.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PvStats {
    /// Messages about it.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Read requests.
    pub reads: u64,
    /// Write requests.
    pub writes: u64,
    /// Subscription updates.
    pub events: u64,
    /// Errors (ERROR, failed creates, responses with a status other than ECA_NORMAL).
    pub errors: u64,
}

/// One circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitStats {
    /// Priority from the client's VERSION.
    pub priority: Option<u16>,
    /// Channels created on it.
    pub channels: u64,
    /// Messages.
    pub messages: u64,
    /// First and last message times.
    pub first: Timestamp,
    /// Last message time.
    pub last: Timestamp,
}

/// What a circuit lost in the capture.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LossStats {
    /// Bytes of its TCP streams that were not captured.
    pub lost_bytes: u64,
    /// Messages damaged by the loss (header seen, bytes missing), never decoded.
    pub damaged: u64,
    /// Bytes skipped while re-synchronising (lost messages' remains, or not CA).
    pub skipped_bytes: u64,
}

/// Searches for one name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SearchStats {
    /// Search requests naming it.
    pub requests: u64,
    /// Replies for it.
    pub replies: u64,
}

/// The running summary.
#[derive(Debug, Default)]
pub struct Summary {
    messages: u64,
    bytes: u64,
    first: Option<Timestamp>,
    last: Timestamp,
    pvs: HashMap<Rc<str>, PvStats>,
    circuits: HashMap<(SocketAddr, SocketAddr), CircuitStats>,
    searches: HashMap<Rc<str>, SearchStats>,
    searchers: HashMap<SocketAddr, u64>,
    beacons: Beacons,
    anomalies: Vec<String>,
    problems: BTreeMap<&'static str, u64>,
    /// Keyed by the flow's two ends, lower address first.
    losses: HashMap<(SocketAddr, SocketAddr), LossStats>,
}

/// A flow's key regardless of direction.
fn unordered(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Per-PV counts.
    pub fn pv(&self, name: &str) -> Option<PvStats> {
        self.pvs.get(name).copied()
    }

    /// Search counts of one name.
    pub fn search(&self, name: &str) -> Option<SearchStats> {
        self.searches.get(name).copied()
    }

    /// Beacon anomalies found, as text.
    pub fn anomalies(&self) -> &[String] {
        &self.anomalies
    }

    /// Circuits seen, keyed by (client, server).
    pub fn circuits(&self) -> impl Iterator<Item = (&(SocketAddr, SocketAddr), &CircuitStats)> {
        self.circuits.iter()
    }

    /// What the circuit between `a` and `b` lost (either order).
    pub fn losses(&self, a: SocketAddr, b: SocketAddr) -> LossStats {
        self.losses
            .get(&unordered(a, b))
            .copied()
            .unwrap_or_default()
    }

    /// Counts one problem by kind, and a circuit's losses.
    pub fn handle_problem(&mut self, p: &Problem) {
        *self.problems.entry(p.kind()).or_default() += 1;
        let Some((a, b)) = p.flow() else {
            return;
        };
        let l = self.losses.entry(unordered(a, b)).or_default();
        match p {
            Problem::Gap { bytes, .. } => l.lost_bytes += bytes,
            Problem::Damaged { .. } => l.damaged += 1,
            Problem::Resynchronised { skipped, .. } => l.skipped_bytes += skipped,
            _ => {}
        }
    }

    /// Folds in one message.
    pub fn handle_message(&mut self, m: &Message<'_>) {
        self.messages += 1;
        self.bytes += m.bytes.len() as u64;
        self.first.get_or_insert(m.time);
        self.last = m.time;
        let h = &m.header;
        let request = m.sender == Role::Client;
        if let PvRef::Name(name) = &m.pv {
            let s = self.pvs.entry(Rc::clone(name)).or_default();
            s.messages += 1;
            s.bytes += m.bytes.len() as u64;
            match (h.command, request) {
                (id::READ | id::READ_NOTIFY, true) => s.reads += 1,
                (id::WRITE | id::WRITE_NOTIFY, true) => s.writes += 1,
                (id::EVENT_ADD, false) if h.payload_size > 0 => {
                    s.events += 1;
                    if h.parameter1 != ECA_NORMAL {
                        s.errors += 1;
                    }
                }
                (id::READ_NOTIFY | id::WRITE_NOTIFY, false) if h.parameter1 != ECA_NORMAL => {
                    s.errors += 1
                }
                (id::ERROR | id::CREATE_CH_FAIL, false) => s.errors += 1,
                _ => {}
            }
        }
        match m.transport {
            TransportKind::Tcp => self.circuit(m, request),
            TransportKind::Udp => self.datagram(m, request),
        }
    }

    fn circuit(&mut self, m: &Message<'_>, request: bool) {
        let key = if request {
            (m.from, m.to)
        } else {
            (m.to, m.from)
        };
        let c = self.circuits.entry(key).or_insert(CircuitStats {
            priority: None,
            channels: 0,
            messages: 0,
            first: m.time,
            last: m.time,
        });
        c.messages += 1;
        c.last = m.time;
        match (m.header.command, request) {
            (id::VERSION, true) => c.priority = Some(m.header.data_type),
            (id::CREATE_CHAN, false) => c.channels += 1,
            _ => {}
        }
    }

    fn datagram(&mut self, m: &Message<'_>, request: bool) {
        let h = &m.header;
        match (h.command, request) {
            (id::SEARCH, true) => {
                *self.searchers.entry(m.from).or_default() += 1;
                if let PvRef::Name(n) = &m.pv {
                    self.searches.entry(Rc::clone(n)).or_default().requests += 1;
                }
            }
            (id::SEARCH, false) => {
                if let PvRef::Name(n) = &m.pv {
                    self.searches.entry(Rc::clone(n)).or_default().replies += 1;
                }
            }
            (id::RSRV_IS_UP, _) => self.beacon(m),
            _ => {}
        }
    }

    fn beacon(&mut self, m: &Message<'_>) {
        if let Some(anomaly) = self.beacons.handle(m) {
            self.anomalies.push(anomaly);
        }
    }

    /// Whether nothing was folded in.
    pub fn is_empty(&self) -> bool {
        self.messages == 0 && self.problems.is_empty()
    }

    /// Emits the summary as one INFO record (target `caproto::shark::summary`) stamped with
    /// capture time `end`, so the log handlers (text, JSON, `--log-file`, `--log-ship`) carry
    /// it like any other record. `every` is the period in seconds it covers.
    pub fn emit_record(&self, end: Timestamp, every: f64) {
        let mut pvs: Vec<_> = self.pvs.iter().collect();
        pvs.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0)));
        let top_pvs = join(
            pvs.iter()
                .take(5)
                .map(|(n, s)| format!("{n}={}msg/{}B", s.messages, s.bytes)),
        );
        let unanswered: Vec<_> = {
            let mut v: Vec<_> = self.searches.iter().filter(|s| s.1.replies == 0).collect();
            v.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(b.0)));
            v
        };
        let top_unanswered = join(
            unanswered
                .iter()
                .take(5)
                .map(|(n, s)| format!("{n}={}", s.requests)),
        );
        let mut searchers: Vec<_> = self.searchers.iter().collect();
        searchers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top_searchers = join(searchers.iter().take(5).map(|(a, n)| format!("{a}={n}")));
        let (lost_bytes, damaged) = self
            .losses
            .values()
            .fold((0, 0), |(b, d), l| (b + l.lost_bytes, d + l.damaged));
        let problems: u64 = self.problems.values().sum();
        let span = self
            .first
            .map_or(0.0, |f| self.last.as_secs_f64() - f.as_secs_f64());
        crate::log::with_record_time(end.secs, end.nanos, || {
            tracing::info!(
                target: "caproto::shark::summary",
                period_s = every,
                span_s = span,
                messages = self.messages,
                bytes = self.bytes,
                pvs = self.pvs.len(),
                top_pvs = %top_pvs,
                circuits = self.circuits.len(),
                search_names = self.searches.len(),
                unanswered = unanswered.len(),
                top_unanswered = %top_unanswered,
                top_searchers = %top_searchers,
                beacon_servers = self.beacons.len(),
                beacon_anomalies = self.anomalies.len(),
                lost_bytes,
                damaged,
                problems,
                "summary: {} messages, {} bytes, {} PVs, {} circuits, {} unanswered search names, \
                 {} beacon anomalies, {} bytes lost, {} messages damaged",
                self.messages,
                self.bytes,
                self.pvs.len(),
                self.circuits.len(),
                unanswered.len(),
                self.anomalies.len(),
                lost_bytes,
                damaged
            )
        });
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let span = self
            .first
            .map_or(0.0, |f| self.last.as_secs_f64() - f.as_secs_f64());
        let _ = writeln!(
            o,
            "== Summary: {} CA messages, {} bytes, over {span:.3} s",
            self.messages, self.bytes
        );
        // Per PV, busiest first.
        let mut pvs: Vec<_> = self.pvs.iter().collect();
        pvs.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0)));
        let _ = writeln!(o, "\n== PVs ({})", pvs.len());
        let _ = writeln!(
            o,
            "{:<40} {:>9} {:>11} {:>7} {:>7} {:>9} {:>7}",
            "PV", "messages", "bytes", "reads", "writes", "events", "errors"
        );
        for (name, s) in pvs.iter().take(ROWS) {
            let _ = writeln!(
                o,
                "{:<40} {:>9} {:>11} {:>7} {:>7} {:>9} {:>7}",
                name, s.messages, s.bytes, s.reads, s.writes, s.events, s.errors
            );
        }
        more(&mut o, pvs.len());
        // Circuits.
        let mut circuits: Vec<_> = self.circuits.iter().collect();
        circuits.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0)));
        let _ = writeln!(o, "\n== Circuits ({})", circuits.len());
        let _ = writeln!(
            o,
            "{:<22} {:<22} {:>8} {:>8} {:>9} {:>10} {:>10} {:>7}",
            "client", "server", "priority", "channels", "messages", "duration", "lost B", "damaged"
        );
        for ((client, server), c) in circuits.iter().take(ROWS) {
            let prio = c.priority.map_or("?".to_owned(), |p| p.to_string());
            let l = self.losses(*client, *server);
            let _ = writeln!(
                o,
                "{:<22} {:<22} {:>8} {:>8} {:>9} {:>9.3}s {:>10} {:>7}",
                client.to_string(),
                server.to_string(),
                prio,
                c.channels,
                c.messages,
                c.last.as_secs_f64() - c.first.as_secs_f64(),
                l.lost_bytes,
                l.damaged
            );
        }
        more(&mut o, circuits.len());
        // Searches: unanswered first, then by count.
        let mut searches: Vec<_> = self.searches.iter().collect();
        searches.sort_by(|a, b| {
            (a.1.replies > 0)
                .cmp(&(b.1.replies > 0))
                .then(b.1.requests.cmp(&a.1.requests))
                .then(a.0.cmp(b.0))
        });
        let unanswered = searches.iter().filter(|s| s.1.replies == 0).count();
        let _ = writeln!(
            o,
            "\n== Searches ({} names, {unanswered} never answered)",
            searches.len()
        );
        let _ = writeln!(o, "{:<40} {:>9} {:>8}", "name", "requests", "replies");
        for (name, s) in searches.iter().take(ROWS) {
            let _ = writeln!(o, "{:<40} {:>9} {:>8}", name, s.requests, s.replies);
        }
        more(&mut o, searches.len());
        let mut searchers: Vec<_> = self.searchers.iter().collect();
        searchers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(o, "\n== Busiest searchers ({})", searchers.len());
        for (addr, n) in searchers.iter().take(ROWS) {
            let _ = writeln!(o, "{:<22} {n:>9} search requests", addr.to_string());
        }
        more(&mut o, searchers.len());
        let _ = writeln!(
            o,
            "\n== Beacons ({} servers, {} anomalies)",
            self.beacons.len(),
            self.anomalies.len()
        );
        for a in &self.anomalies {
            let _ = writeln!(o, "{a}");
        }
        if !self.losses.is_empty() {
            let mut losses: Vec<_> = self.losses.iter().collect();
            losses.sort_by(|a, b| b.1.lost_bytes.cmp(&a.1.lost_bytes).then(a.0.cmp(b.0)));
            let _ = writeln!(o, "\n== Losses ({} circuits)", losses.len());
            let _ = writeln!(
                o,
                "{:<47} {:>12} {:>8} {:>12}",
                "circuit", "lost bytes", "damaged", "skipped B"
            );
            for ((a, b), l) in losses.iter().take(ROWS) {
                let _ = writeln!(
                    o,
                    "{:<47} {:>12} {:>8} {:>12}",
                    format!("{a} <-> {b}"),
                    l.lost_bytes,
                    l.damaged,
                    l.skipped_bytes
                );
            }
            more(&mut o, losses.len());
        }
        if !self.problems.is_empty() {
            let _ = writeln!(o, "\n== Problems");
            for (kind, n) in &self.problems {
                let _ = writeln!(o, "{kind:<30} {n:>9}");
            }
        }
        o
    }
}

/// Items joined with commas.
fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn more(o: &mut String, len: usize) {
    if len > ROWS {
        let _ = writeln!(o, "... and {} more", len - ROWS);
    }
}
