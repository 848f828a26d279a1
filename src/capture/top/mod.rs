//! The model behind `caproto-shark --top`: what is busiest right now, folded message by
//! message from the decoder's [`Event`]s, with bounded memory, and nothing about terminals.
//!
//! How it is driven: the shell folds each event in with [`TopModel::handle_event`] (a few hash
//! updates per message, so the decoder keeps its pace), and about once a second asks for a
//! [`Snapshot`] with [`TopModel::snapshot`], passing the capture time it calls "now" and how
//! rates are to be read ([`Basis`]). Drawing the snapshot is the shell's business
//! (`cli::tools::shark_top`).
//!
//! What it keeps:
//! - a [`Meter`] (totals, and the last complete second of capture time) per PV, per client
//!   host, per server (`address:port`), per searched name (with its replies) and per
//!   searcher, each in a [`BoundedMap`] with a cap ([`Caps`]): when a table is full, its
//!   least recently active half goes;
//! - beacon anomalies (restarts) and errors (CA error responses, decoder problems) as the
//!   last [`RECENT`] lines of each, plus counts.
//!
//! Who counts as whom: on a circuit, the client is the side the decoder calls client, and both
//! ends count every message. A search request counts for its sender (a client) and its name;
//! a search reply or not-found for the server that sent it and the client it went to.
//! Beacons only feed the anomaly check.

mod meter;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

pub use meter::{Activity, BoundedMap, Counts, Meter};
pub use snapshot::{Basis, Row, SearchRow, Snapshot, SortKey, STORM_PER_SECOND};

use super::beacons::{clock, Beacons};
use super::{Counters, Event, Message, Problem, PvRef, Timestamp, TransportKind};
use crate::proto::command::id;
use crate::proto::Role;

/// ECA_NORMAL as it travels in status fields.
const ECA_NORMAL: u32 = 1;

/// Lines of beacon anomalies and of errors kept for display.
pub const RECENT: usize = 64;

/// Table caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// PVs.
    pub pvs: usize,
    /// Client hosts.
    pub clients: usize,
    /// Servers.
    pub servers: usize,
    /// Searched names.
    pub searches: usize,
    /// Searchers.
    pub searchers: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            pvs: 20_000,
            clients: 4_096,
            servers: 4_096,
            searches: 20_000,
            searchers: 4_096,
        }
    }
}

/// A PV's meter and its errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct PvMeter {
    /// Its messages.
    pub meter: Meter,
    /// CA errors about it (ERROR, failed creates, a status other than ECA_NORMAL).
    pub errors: u64,
}

impl Activity for PvMeter {
    fn weight(&self) -> (u64, u64) {
        self.meter.weight()
    }
}

/// Search requests for one name (the meter) and the replies seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchMeter {
    /// Requests naming it.
    pub requests: Meter,
    /// Replies for it.
    pub replies: u64,
}

impl Activity for SearchMeter {
    fn weight(&self) -> (u64, u64) {
        self.requests.weight()
    }
}

/// Everything `--top` shows, folded from the capture.
#[derive(Debug)]
pub struct TopModel {
    all: Meter,
    first: Option<Timestamp>,
    last: Timestamp,
    pvs: BoundedMap<Box<str>, PvMeter>,
    clients: BoundedMap<IpAddr, Meter>,
    servers: BoundedMap<SocketAddr, Meter>,
    searches: BoundedMap<Box<str>, SearchMeter>,
    searchers: BoundedMap<SocketAddr, Meter>,
    all_searches: Meter,
    beacons: Beacons,
    anomalies: VecDeque<String>,
    anomaly_count: u64,
    errors: VecDeque<String>,
    ca_errors: u64,
    problems: BTreeMap<&'static str, u64>,
    counters: Counters,
}

impl Default for TopModel {
    fn default() -> Self {
        TopModel::new(Caps::default())
    }
}

/// Pushes a line, keeping the last [`RECENT`].
fn push_recent(q: &mut VecDeque<String>, line: String) {
    if q.len() >= RECENT {
        q.pop_front();
    }
    q.push_back(line);
}

impl TopModel {
    /// An empty model with these caps.
    pub fn new(caps: Caps) -> Self {
        TopModel {
            all: Meter::default(),
            first: None,
            last: Timestamp::default(),
            pvs: BoundedMap::new(caps.pvs),
            clients: BoundedMap::new(caps.clients),
            servers: BoundedMap::new(caps.servers),
            searches: BoundedMap::new(caps.searches),
            searchers: BoundedMap::new(caps.searchers),
            all_searches: Meter::default(),
            beacons: Beacons::new(caps.servers),
            anomalies: VecDeque::new(),
            anomaly_count: 0,
            errors: VecDeque::new(),
            ca_errors: 0,
            problems: BTreeMap::new(),
            counters: Counters::default(),
        }
    }

    /// Capture time of the last message.
    pub fn last_time(&self) -> Timestamp {
        self.last
    }

    /// Capture time of the first message, if any came.
    pub fn first_time(&self) -> Option<Timestamp> {
        self.first
    }

    /// Records the decoder's counters (packets read, messages, problems) for display.
    pub fn set_counters(&mut self, c: Counters) {
        self.counters = c;
    }

    /// Folds in one decoder event.
    pub fn handle_event(&mut self, e: &Event<'_>) {
        match e {
            Event::Message(m) => self.handle_message(m),
            Event::Problem(p) => self.handle_problem(p),
        }
    }

    /// Counts a decoder problem and keeps its text.
    pub fn handle_problem(&mut self, p: &Problem) {
        *self.problems.entry(p.kind()).or_default() += 1;
        push_recent(&mut self.errors, p.to_string());
    }

    /// Folds in one message.
    pub fn handle_message(&mut self, m: &Message<'_>) {
        let sec = m.time.secs.max(0) as u64;
        let bytes = m.bytes.len() as u64;
        self.all.add(sec, bytes);
        self.first.get_or_insert(m.time);
        if m.time > self.last {
            self.last = m.time;
        }
        let h = &m.header;
        let request = m.sender == Role::Client;
        let ca_error = !request
            && match h.command {
                id::ERROR | id::CREATE_CH_FAIL => true,
                id::READ_NOTIFY | id::WRITE_NOTIFY => h.parameter1 != ECA_NORMAL,
                id::EVENT_ADD => h.payload_size > 0 && h.parameter1 != ECA_NORMAL,
                _ => false,
            };
        if let PvRef::Name(name) = &m.pv {
            let pv = self.pvs.entry(&**name, Box::from);
            pv.meter.add(sec, bytes);
            pv.errors += u64::from(ca_error);
        }
        if ca_error {
            self.ca_error(m);
        }
        match m.transport {
            TransportKind::Tcp => {
                let (client, server) = if request {
                    (m.from, m.to)
                } else {
                    (m.to, m.from)
                };
                self.clients.entry(&client.ip(), |ip| *ip).add(sec, bytes);
                self.servers.entry(&server, |a| *a).add(sec, bytes);
            }
            TransportKind::Udp => self.datagram(m, request, sec, bytes),
        }
    }

    /// Counts a CA error response and keeps a line about it.
    fn ca_error(&mut self, m: &Message<'_>) {
        self.ca_errors += 1;
        let h = &m.header;
        let what = id::name(h.command).unwrap_or("?");
        let status = match h.command {
            id::CREATE_CH_FAIL => String::new(),
            id::ERROR => format!(" status {}", h.parameter2),
            _ => format!(" status {}", h.parameter1),
        };
        let pv = match &m.pv {
            PvRef::None => String::new(),
            pv => format!(" {pv}"),
        };
        push_recent(
            &mut self.errors,
            format!(
                "{} {what}{status}{pv} from {} to {}",
                clock(m.time),
                m.from,
                m.to
            ),
        );
    }

    fn datagram(&mut self, m: &Message<'_>, request: bool, sec: u64, bytes: u64) {
        match (m.header.command, request) {
            (id::SEARCH, true) => {
                self.all_searches.add(sec, bytes);
                self.searchers.entry(&m.from, |a| *a).add(sec, bytes);
                self.clients.entry(&m.from.ip(), |ip| *ip).add(sec, bytes);
                if let PvRef::Name(n) = &m.pv {
                    self.searches
                        .entry(&**n, Box::from)
                        .requests
                        .add(sec, bytes);
                }
            }
            (id::SEARCH | id::NOT_FOUND, false) => {
                self.servers.entry(&m.from, |a| *a).add(sec, bytes);
                self.clients.entry(&m.to.ip(), |ip| *ip).add(sec, bytes);
                if m.header.command == id::SEARCH {
                    if let PvRef::Name(n) = &m.pv {
                        self.searches.entry(&**n, Box::from).replies += 1;
                    }
                }
            }
            (id::RSRV_IS_UP, _) => {
                if let Some(a) = self.beacons.handle(m) {
                    self.anomaly_count += 1;
                    push_recent(&mut self.anomalies, a);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
