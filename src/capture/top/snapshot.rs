//! A [`Snapshot`]: the model's tables sorted and cut to the rows a screen shows, as plain
//! owned values the drawing code reads without holding the model.

use std::cmp::Ordering;
use std::fmt::Display;

use super::meter::{Counts, Meter};
use super::{Timestamp, TopModel};
use crate::capture::Counters;

/// A searcher sending at least this many search requests per second is in a search storm.
pub const STORM_PER_SECOND: f64 = 100.0;

/// How rates are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Over the last complete second of capture time before capture second `now` (a live
    /// view).
    LastSecond {
        /// The current capture second.
        now: u64,
    },
    /// Averaged over the whole capture (first to last message, at least one second): the
    /// final picture of a capture that ended.
    Whole,
}

/// The column rows are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Messages per second, busiest first.
    #[default]
    MessageRate,
    /// Bytes per second, busiest first.
    ByteRate,
    /// Messages in total, most first.
    Messages,
    /// Bytes in total, most first.
    Bytes,
    /// Name or address, in order.
    Name,
}

impl SortKey {
    /// Every key, in the order `s` cycles through them.
    pub const ALL: [SortKey; 5] = [
        SortKey::MessageRate,
        SortKey::ByteRate,
        SortKey::Messages,
        SortKey::Bytes,
        SortKey::Name,
    ];

    /// The key after this one.
    pub fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// The column's header text.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::MessageRate => "msg/s",
            SortKey::ByteRate => "B/s",
            SortKey::Messages => "messages",
            SortKey::Bytes => "bytes",
            SortKey::Name => "name",
        }
    }
}

/// One row of the PV, client, server or searcher tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// PV name or address.
    pub label: String,
    /// Messages per second.
    pub msg_rate: f64,
    /// Bytes per second.
    pub byte_rate: f64,
    /// Totals.
    pub total: Counts,
    /// CA errors (PVs only).
    pub errors: u64,
}

/// One searched name.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    /// The name.
    pub name: String,
    /// Requests per second.
    pub rate: f64,
    /// Requests in total.
    pub requests: u64,
}

/// What one screen shows.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// How the rates were read.
    pub basis: Basis,
    /// The sort column.
    pub sort: SortKey,
    /// Capture time of the first message.
    pub first: Option<Timestamp>,
    /// Capture time of the last message.
    pub last: Timestamp,
    /// Every message.
    pub total: Row,
    /// Every search request.
    pub searches: Row,
    /// Busiest PVs.
    pub pvs: Vec<Row>,
    /// PVs held.
    pub pv_count: usize,
    /// Busiest client hosts.
    pub clients: Vec<Row>,
    /// Client hosts held.
    pub client_count: usize,
    /// Busiest servers.
    pub servers: Vec<Row>,
    /// Servers held.
    pub server_count: usize,
    /// Names searched for and never answered, most searched (per second, then in total)
    /// first.
    pub unanswered: Vec<SearchRow>,
    /// Unanswered names held.
    pub unanswered_count: usize,
    /// Busiest searchers.
    pub searchers: Vec<Row>,
    /// Searchers at or above [`STORM_PER_SECOND`].
    pub storming: usize,
    /// Servers seen beaconing.
    pub beacon_servers: usize,
    /// Beacon anomalies in total.
    pub anomaly_count: u64,
    /// The latest anomalies, newest first.
    pub anomalies: Vec<String>,
    /// CA error responses in total.
    pub ca_errors: u64,
    /// The latest errors and decoder problems, newest first.
    pub errors: Vec<String>,
    /// Decoder problems by kind.
    pub problems: Vec<(&'static str, u64)>,
    /// The decoder's counters.
    pub counters: Counters,
    /// Entries dropped from full tables.
    pub dropped: u64,
}

/// Rates of a meter under a basis whose whole-capture span is `span` seconds.
fn rates(m: &Meter, basis: Basis, span: f64) -> (f64, f64) {
    match basis {
        Basis::LastSecond { now } => {
            let c = m.last_second(now);
            (c.messages as f64, c.bytes as f64)
        }
        Basis::Whole => {
            let t = m.total();
            (t.messages as f64 / span, t.bytes as f64 / span)
        }
    }
}

/// Orders two rows by `sort`, ties by name.
fn order<K: Ord>(sort: SortKey, a: (&K, &Row), b: (&K, &Row)) -> Ordering {
    let (ka, ra) = a;
    let (kb, rb) = b;
    let by = match sort {
        SortKey::MessageRate => rb
            .msg_rate
            .total_cmp(&ra.msg_rate)
            .then(rb.total.messages.cmp(&ra.total.messages)),
        SortKey::ByteRate => rb
            .byte_rate
            .total_cmp(&ra.byte_rate)
            .then(rb.total.bytes.cmp(&ra.total.bytes)),
        SortKey::Messages => rb.total.messages.cmp(&ra.total.messages),
        SortKey::Bytes => rb.total.bytes.cmp(&ra.total.bytes),
        SortKey::Name => Ordering::Equal,
    };
    by.then_with(|| ka.cmp(kb))
}

/// The first `rows` entries of a table in `sort` order.
fn top<'a, K: Ord + Display + 'a>(
    entries: impl Iterator<Item = (&'a K, Meter, u64)>,
    basis: Basis,
    span: f64,
    sort: SortKey,
    rows: usize,
) -> Vec<Row> {
    let mut all: Vec<(&K, Row)> = entries
        .map(|(k, m, errors)| {
            let (msg_rate, byte_rate) = rates(&m, basis, span);
            (
                k,
                Row {
                    label: String::new(),
                    msg_rate,
                    byte_rate,
                    total: m.total(),
                    errors,
                },
            )
        })
        .collect();
    let cmp = |a: &(&K, Row), b: &(&K, Row)| order(sort, (a.0, &a.1), (b.0, &b.1));
    if all.len() > rows && rows > 0 {
        all.select_nth_unstable_by(rows - 1, cmp);
    }
    all.truncate(rows);
    all.sort_unstable_by(cmp);
    all.into_iter()
        .map(|(k, mut r)| {
            r.label = k.to_string();
            r
        })
        .collect()
}

impl TopModel {
    /// The screen's worth: at most `rows` rows per table, sorted by `sort`, rates read by
    /// `basis`. Costs O(n) in the entries held (bounded by the caps), plus sorting `rows`.
    pub fn snapshot(&self, basis: Basis, sort: SortKey, rows: usize) -> Snapshot {
        let span = self
            .first
            .map_or(0.0, |f| self.last.as_secs_f64() - f.as_secs_f64())
            .max(1.0);
        let row = |label: &str, m: &Meter| {
            let (msg_rate, byte_rate) = rates(m, basis, span);
            Row {
                label: label.into(),
                msg_rate,
                byte_rate,
                total: m.total(),
                errors: 0,
            }
        };
        let pvs = top(
            self.pvs.iter().map(|(k, v)| (k, v.meter, v.errors)),
            basis,
            span,
            sort,
            rows,
        );
        let clients = top(
            self.clients.iter().map(|(k, v)| (k, *v, 0)),
            basis,
            span,
            sort,
            rows,
        );
        let servers = top(
            self.servers.iter().map(|(k, v)| (k, *v, 0)),
            basis,
            span,
            sort,
            rows,
        );
        let searchers_all = top(
            self.searchers.iter().map(|(k, v)| (k, *v, 0)),
            basis,
            span,
            SortKey::MessageRate,
            usize::MAX,
        );
        let storming = searchers_all
            .iter()
            .filter(|r| r.msg_rate >= STORM_PER_SECOND)
            .count();
        let mut searchers = searchers_all;
        searchers.truncate(rows);
        let mut unanswered: Vec<(&Box<str>, f64, u64)> = self
            .searches
            .iter()
            .filter(|(_, s)| s.replies == 0)
            .map(|(k, s)| {
                (
                    k,
                    rates(&s.requests, basis, span).0,
                    s.requests.total().messages,
                )
            })
            .collect();
        let unanswered_count = unanswered.len();
        unanswered.sort_unstable_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(b.2.cmp(&a.2))
                .then_with(|| a.0.cmp(b.0))
        });
        unanswered.truncate(rows);
        Snapshot {
            basis,
            sort,
            first: self.first,
            last: self.last,
            total: row("all", &self.all),
            searches: row("searches", &self.all_searches),
            pvs,
            pv_count: self.pvs.len(),
            clients,
            client_count: self.clients.len(),
            servers,
            server_count: self.servers.len(),
            unanswered: unanswered
                .into_iter()
                .map(|(k, rate, requests)| SearchRow {
                    name: k.to_string(),
                    rate,
                    requests,
                })
                .collect(),
            unanswered_count,
            searchers,
            storming,
            beacon_servers: self.beacons.len(),
            anomaly_count: self.anomaly_count,
            anomalies: self.anomalies.iter().rev().take(rows).cloned().collect(),
            ca_errors: self.ca_errors,
            errors: self.errors.iter().rev().take(rows).cloned().collect(),
            problems: self.problems.iter().map(|(k, n)| (*k, *n)).collect(),
            counters: self.counters,
            dropped: self.pvs.dropped()
                + self.clients.dropped()
                + self.servers.dropped()
                + self.searches.dropped()
                + self.searchers.dropped(),
        }
    }
}
