//! The server's counters and gauges: clients, channels, requests by
//! command, bytes, searches, beacons, access denials, put-log records.
//!
//! Every figure is a relaxed atomic. Circuits add to them a batch at a time
//! (a [`RequestTally`] per read from the socket; channel and subscription
//! gauges by the change since the last batch), so a request costs a few
//! instructions in the circuit's own memory, not a shared cache line.
//! A scrape reads the atomics through the [`Collector`] impl.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::{counter_family, gauge_family, single, Single};
use crate::proto::command::id;

/// The request commands counted one by one, as label values; any other
/// command a client sends counts as `other`.
const REQUESTS: [(u16, &str); 16] = [
    (id::VERSION, "version"),
    (id::EVENT_ADD, "event_add"),
    (id::EVENT_CANCEL, "event_cancel"),
    (id::READ, "read"),
    (id::WRITE, "write"),
    (id::SEARCH, "search"),
    (id::EVENTS_OFF, "events_off"),
    (id::EVENTS_ON, "events_on"),
    (id::READ_SYNC, "read_sync"),
    (id::CLEAR_CHANNEL, "clear_channel"),
    (id::READ_NOTIFY, "read_notify"),
    (id::CREATE_CHAN, "create_chan"),
    (id::WRITE_NOTIFY, "write_notify"),
    (id::CLIENT_NAME, "client_name"),
    (id::HOST_NAME, "host_name"),
    (id::ECHO, "echo"),
];
const OTHER: usize = REQUESTS.len();
const REQUEST_SLOTS: usize = REQUESTS.len() + 1;

/// Where a command id is counted.
fn slot(command: u16) -> usize {
    // A table indexed by id: ids run 0..=27 (a longer id is `other`).
    const TABLE: [u8; 28] = {
        let mut t = [OTHER as u8; 28];
        let mut i = 0;
        while i < REQUESTS.len() {
            t[REQUESTS[i].0 as usize] = i as u8;
            i += 1;
        }
        t
    };
    TABLE
        .get(usize::from(command))
        .map_or(OTHER, |&s| usize::from(s))
}

/// Why a circuit ended, a label of `caproto_server_circuits_closed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed its end.
    ClientClosed,
    /// A socket error.
    IoError,
    /// The client sent what is not Channel Access.
    ProtocolError,
    /// The server shut down.
    Shutdown,
}

const CLOSE_LABELS: [&str; 4] = ["client_closed", "io_error", "protocol_error", "shutdown"];

/// What access security refused, a label of `caproto_server_access_denials_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// A read (READ, READ_NOTIFY).
    Read,
    /// A write (WRITE, WRITE_NOTIFY).
    Write,
    /// A subscription (EVENT_ADD) or its updates after read access was lost.
    Subscribe,
}

const DENIAL_LABELS: [&str; 3] = ["read", "write", "subscribe"];

/// Requests one circuit has read since its last flush, counted in the
/// circuit's own memory (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct RequestTally {
    counts: [u32; REQUEST_SLOTS],
    any: bool,
}

impl RequestTally {
    /// One more request with this command id.
    #[inline]
    pub fn add(&mut self, command: u16) {
        let s = slot(command);
        self.counts[s] = self.counts[s].wrapping_add(1);
        self.any = true;
    }
}

/// The server's figures. One per [`crate::server::Server`], shared by its
/// tasks; read by a scrape (it is a [`Collector`]) or by the getters
/// (the stats PVs).
#[derive(Debug)]
pub struct ServerMetrics {
    started: SystemTime,
    clients: AtomicI64,
    circuits_opened: AtomicU64,
    circuits_closed: [AtomicU64; 4],
    channels: AtomicI64,
    subscriptions: AtomicI64,
    requests: [AtomicU64; REQUEST_SLOTS],
    tcp_received: AtomicU64,
    tcp_sent: AtomicU64,
    udp_received: AtomicU64,
    udp_sent: AtomicU64,
    searches: AtomicU64,
    search_replies: AtomicU64,
    beacons: AtomicU64,
    denials: [AtomicU64; 3],
    putlog_records: AtomicU64,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics::new()
    }
}

impl ServerMetrics {
    /// All figures at zero; the server's start time is now.
    pub fn new() -> ServerMetrics {
        ServerMetrics {
            started: SystemTime::now(),
            clients: AtomicI64::new(0),
            circuits_opened: AtomicU64::new(0),
            circuits_closed: Default::default(),
            channels: AtomicI64::new(0),
            subscriptions: AtomicI64::new(0),
            requests: Default::default(),
            tcp_received: AtomicU64::new(0),
            tcp_sent: AtomicU64::new(0),
            udp_received: AtomicU64::new(0),
            udp_sent: AtomicU64::new(0),
            searches: AtomicU64::new(0),
            search_replies: AtomicU64::new(0),
            beacons: AtomicU64::new(0),
            denials: Default::default(),
            putlog_records: AtomicU64::new(0),
        }
    }

    // Getters.

    /// When the server was made.
    pub fn start_time(&self) -> SystemTime {
        self.started
    }

    /// Connected clients (open TCP circuits).
    pub fn clients(&self) -> i64 {
        self.clients.load(Relaxed)
    }

    /// Open channels, over all circuits.
    pub fn channels(&self) -> i64 {
        self.channels.load(Relaxed)
    }

    /// Active subscriptions, over all circuits.
    pub fn subscriptions(&self) -> i64 {
        self.subscriptions.load(Relaxed)
    }

    /// Requests received with this command id (ids not counted one by one
    /// share the `other` count).
    pub fn requests(&self, command: u16) -> u64 {
        self.requests[slot(command)].load(Relaxed)
    }

    /// Search requests received (UDP and TCP).
    pub fn searches(&self) -> u64 {
        self.searches.load(Relaxed)
    }

    /// Search requests answered (this server hosts the name).
    pub fn search_replies(&self) -> u64 {
        self.search_replies.load(Relaxed)
    }

    /// Beacons sent (one per destination).
    pub fn beacons(&self) -> u64 {
        self.beacons.load(Relaxed)
    }

    /// Requests refused by access security, of this kind.
    pub fn denials(&self, what: Denial) -> u64 {
        self.denials[what as usize].load(Relaxed)
    }

    /// Put-log records written (writes a TRAPWRITE rule granted).
    pub fn putlog_records(&self) -> u64 {
        self.putlog_records.load(Relaxed)
    }

    // What the server's tasks report.

    pub(crate) fn circuit_opened(&self) {
        self.circuits_opened.fetch_add(1, Relaxed);
        self.clients.fetch_add(1, Relaxed);
    }

    pub(crate) fn circuit_closed(&self, why: CloseReason) {
        self.circuits_closed[why as usize].fetch_add(1, Relaxed);
        self.clients.fetch_sub(1, Relaxed);
    }

    /// Add a circuit's tally and empty it.
    pub(crate) fn flush_requests(&self, tally: &mut RequestTally) {
        if !tally.any {
            return;
        }
        for (n, total) in tally.counts.iter_mut().zip(&self.requests) {
            if *n > 0 {
                total.fetch_add(u64::from(*n), Relaxed);
                *n = 0;
            }
        }
        tally.any = false;
    }

    /// A circuit's channel and subscription counts changed by these amounts.
    pub(crate) fn add_open(&self, channels: i64, subscriptions: i64) {
        if channels != 0 {
            self.channels.fetch_add(channels, Relaxed);
        }
        if subscriptions != 0 {
            self.subscriptions.fetch_add(subscriptions, Relaxed);
        }
    }

    pub(crate) fn tcp_received(&self, n: usize) {
        self.tcp_received.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn tcp_sent(&self, n: usize) {
        self.tcp_sent.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn udp_received(&self, n: usize) {
        self.udp_received.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn udp_sent(&self, n: usize) {
        self.udp_sent.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn searched(&self, received: u64, answered: u64) {
        self.searches.fetch_add(received, Relaxed);
        self.search_replies.fetch_add(answered, Relaxed);
    }

    pub(crate) fn beacon_sent(&self) {
        self.beacons.fetch_add(1, Relaxed);
    }

    pub(crate) fn denied(&self, what: Denial) {
        self.denials[what as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn putlog_record(&self) {
        self.putlog_records.fetch_add(1, Relaxed);
    }
}

impl Collector for ServerMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let g = |a: &AtomicI64| Single::Gauge(a.load(Relaxed));
        let c = |a: &AtomicU64| Single::Counter(a.load(Relaxed));
        single(
            &mut e,
            "caproto_server_clients",
            "Connected Channel Access clients (open TCP circuits)",
            g(&self.clients),
        )?;
        single(
            &mut e,
            "caproto_server_channels",
            "Open channels over all circuits",
            g(&self.channels),
        )?;
        single(
            &mut e,
            "caproto_server_subscriptions",
            "Active subscriptions (monitors) over all circuits",
            g(&self.subscriptions),
        )?;
        single(
            &mut e,
            "caproto_server_circuits_opened",
            "TCP circuits accepted",
            c(&self.circuits_opened),
        )?;
        counter_family(
            &mut e,
            "caproto_server_circuits_closed",
            "TCP circuits ended, by reason",
            "reason",
            CLOSE_LABELS
                .iter()
                .zip(&self.circuits_closed)
                .map(|(l, n)| (*l, n.load(Relaxed))),
        )?;
        let labels = REQUESTS.iter().map(|(_, l)| *l).chain(["other"]);
        counter_family(
            &mut e,
            "caproto_server_requests",
            "Requests received over TCP, by CA command",
            "command",
            labels
                .zip(&self.requests)
                .map(|(l, n)| (l, n.load(Relaxed))),
        )?;
        counter_family(
            &mut e,
            "caproto_server_received_bytes",
            "Bytes received, by transport",
            "transport",
            [
                ("tcp", self.tcp_received.load(Relaxed)),
                ("udp", self.udp_received.load(Relaxed)),
            ],
        )?;
        counter_family(
            &mut e,
            "caproto_server_sent_bytes",
            "Bytes sent, by transport",
            "transport",
            [
                ("tcp", self.tcp_sent.load(Relaxed)),
                ("udp", self.udp_sent.load(Relaxed)),
            ],
        )?;
        single(
            &mut e,
            "caproto_server_search_requests",
            "Search requests received (UDP and TCP)",
            c(&self.searches),
        )?;
        single(
            &mut e,
            "caproto_server_search_replies",
            "Search requests answered (names this server hosts)",
            c(&self.search_replies),
        )?;
        single(
            &mut e,
            "caproto_server_beacons_sent",
            "Beacons sent (one per destination)",
            c(&self.beacons),
        )?;
        counter_family(
            &mut e,
            "caproto_server_access_denials",
            "Requests refused by access security, by operation",
            "operation",
            DENIAL_LABELS
                .iter()
                .zip(&self.denials)
                .map(|(l, n)| (*l, n.load(Relaxed))),
        )?;
        single(
            &mut e,
            "caproto_server_putlog_records",
            "Put-log records (writes granted by a TRAPWRITE rule)",
            c(&self.putlog_records),
        )?;
        let started = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        gauge_family(
            &mut e,
            "caproto_server_start_time_seconds",
            "When the server started, seconds since the Unix epoch, with the crate version",
            "version",
            [(env!("CARGO_PKG_VERSION"), started as i64)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Format, MetricsRegistry};
    use std::sync::Arc;

    #[test]
    fn every_command_id_has_a_slot() {
        assert_eq!(slot(id::READ_NOTIFY), 10);
        assert_eq!(slot(id::BUILD), OTHER);
        assert_eq!(slot(u16::MAX), OTHER);
        for (i, (cmd, _)) in REQUESTS.iter().enumerate() {
            assert_eq!(slot(*cmd), i);
        }
    }

    #[test]
    fn tallies_reach_the_exposition() {
        let m = Arc::new(ServerMetrics::new());
        let mut tally = RequestTally::default();
        for _ in 0..5 {
            tally.add(id::READ_NOTIFY);
        }
        tally.add(id::BUILD);
        m.flush_requests(&mut tally);
        m.flush_requests(&mut tally); // emptied: adds nothing twice
        m.circuit_opened();
        m.circuit_opened();
        m.circuit_closed(CloseReason::ClientClosed);
        m.add_open(3, 1);
        m.denied(Denial::Write);
        assert_eq!(m.requests(id::READ_NOTIFY), 5);
        assert_eq!(m.requests(id::BUILD), 1);
        let mut r = MetricsRegistry::new();
        r.add(Arc::clone(&m));
        let text = r.encode(Format::Prometheus);
        for line in [
            "caproto_server_requests_total{command=\"read_notify\"} 5\n",
            "caproto_server_requests_total{command=\"other\"} 1\n",
            "caproto_server_requests_total{command=\"write\"} 0\n",
            "caproto_server_clients 1\n",
            "caproto_server_channels 3\n",
            "caproto_server_circuits_closed_total{reason=\"client_closed\"} 1\n",
            "caproto_server_access_denials_total{operation=\"write\"} 1\n",
            "# TYPE caproto_server_received_bytes_total counter\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
