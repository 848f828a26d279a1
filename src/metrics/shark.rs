//! `caproto-shark --metrics`: what the captured traffic says, as Prometheus
//! metrics. Messages by CA command and sender role, bytes, searches and
//! names never answered, beacon anomalies (a server's beacon ID jumping: it
//! restarted), bytes lost by the capture and problems by kind; and per-PV and
//! per-client message counts whose cardinality stays bounded: only the
//! `top` busiest PVs and client hosts, plus PVs matching an opt-in list, are
//! exported by name.
//!
//! How it is driven: the decode loop calls [`SharkMetrics::handle_message`]
//! and [`SharkMetrics::handle_problem`] for every event (one uncontended
//! lock; the tool formats a record per message anyway, which costs far
//! more), and [`SharkMetrics::finish`] at the end of the input. A scrape reads
//! it through its [`Collector`] impl. Memory is bounded: at most
//! [`MAX_TRACKED`] PVs, clients, search names and beacon sources are
//! remembered; beyond that, new ones are counted in aggregate only.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::{counter_family, single, Single};
use crate::capture::{Message, Problem, PvRef};
use crate::log::glob::Glob;
use crate::proto::command::id;
use crate::proto::Role;

/// Most PVs, clients, search names and beacon sources remembered each.
pub const MAX_TRACKED: usize = 100_000;

/// CA command ids 0..=27, then one slot for any other id.
const SLOTS: usize = 29;

/// Label of a command slot: the `CA_PROTO_` name in lower case.
fn command_label(slot: usize) -> &'static str {
    const LABELS: [&str; SLOTS] = [
        "version",
        "event_add",
        "event_cancel",
        "read",
        "write",
        "snapshot",
        "search",
        "build",
        "events_off",
        "events_on",
        "read_sync",
        "error",
        "clear_channel",
        "rsrv_is_up",
        "not_found",
        "read_notify",
        "read_build",
        "repeater_confirm",
        "create_chan",
        "write_notify",
        "client_name",
        "host_name",
        "access_rights",
        "echo",
        "repeater_register",
        "signal",
        "create_ch_fail",
        "server_disconn",
        "other",
    ];
    LABELS[slot]
}

#[derive(Debug, Default)]
struct Tracked {
    pvs: HashMap<String, u64>,
    clients: HashMap<IpAddr, u64>,
    /// Search name -> (requests, replies).
    searches: HashMap<String, (u64, u64)>,
    beacons: HashMap<(IpAddr, u16), u32>,
    beacon_anomalies: u64,
    lost_bytes: u64,
    damaged: u64,
    problems: BTreeMap<&'static str, u64>,
    /// Messages whose PV or client could not be remembered (over MAX_TRACKED).
    untracked: u64,
}

/// The shark's figures; see the module doc.
#[derive(Debug)]
pub struct SharkMetrics {
    /// [sender is client, sender is server][command slot].
    messages: [[AtomicU64; SLOTS]; 2],
    bytes: AtomicU64,
    finished: AtomicBool,
    top: usize,
    pv_patterns: Vec<Glob>,
    tracked: Mutex<Tracked>,
}

impl SharkMetrics {
    /// Export the `top` busiest PVs and clients by name, and every PV
    /// matching one of `pv_patterns` (`*`, `?` wildcards).
    pub fn new(top: usize, pv_patterns: &[String]) -> SharkMetrics {
        SharkMetrics {
            messages: Default::default(),
            bytes: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            top,
            pv_patterns: pv_patterns.iter().map(|p| Glob::new(p)).collect(),
            tracked: Mutex::new(Tracked::default()),
        }
    }

    /// Messages seen with this command id sent by `sender`.
    pub fn messages(&self, command: u16, sender: Role) -> u64 {
        let slot = usize::from(command).min(SLOTS - 1);
        self.messages[usize::from(sender == Role::Server)][slot].load(Relaxed)
    }

    /// Fold in one decoded message.
    pub fn handle_message(&self, m: &Message<'_>) {
        let slot = usize::from(m.header.command).min(SLOTS - 1);
        let server = m.sender == Role::Server;
        self.messages[usize::from(server)][slot].fetch_add(1, Relaxed);
        self.bytes.fetch_add(m.bytes.len() as u64, Relaxed);
        let client = if server { m.to.ip() } else { m.from.ip() };
        let Ok(mut t) = self.tracked.lock() else {
            return;
        };
        let t = &mut *t;
        let clients_full = t.clients.len() >= MAX_TRACKED;
        match t.clients.get_mut(&client) {
            Some(n) => *n += 1,
            None if !clients_full => {
                t.clients.insert(client, 1);
            }
            None => t.untracked += 1,
        }
        let name = match &m.pv {
            PvRef::Name(n) => Some(&**n),
            _ => None,
        };
        if let Some(name) = name {
            bump(&mut t.pvs, name, &mut t.untracked, |n| *n += 1, || 1);
        }
        match (m.header.command, name) {
            (id::SEARCH, Some(name)) => {
                let mut lost = 0;
                if server {
                    bump(&mut t.searches, name, &mut lost, |s| s.1 += 1, || (0, 1));
                } else {
                    bump(&mut t.searches, name, &mut lost, |s| s.0 += 1, || (1, 0));
                }
            }
            (id::RSRV_IS_UP, _) => {
                let h = &m.header;
                let ip = match h.parameter2 {
                    0 => m.from.ip(),
                    a => IpAddr::from(a.to_be_bytes()),
                };
                let key = (ip, h.data_type);
                let beacon_id = h.parameter1;
                let full = t.beacons.len() >= MAX_TRACKED;
                match t.beacons.get_mut(&key) {
                    Some(last) => {
                        // The same id reaches several destinations; the next is one more.
                        if beacon_id != *last && beacon_id != last.wrapping_add(1) {
                            t.beacon_anomalies += 1;
                        }
                        *last = beacon_id;
                    }
                    None if !full => {
                        t.beacons.insert(key, beacon_id);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// Fold in one problem of the capture.
    pub fn handle_problem(&self, p: &Problem) {
        let Ok(mut t) = self.tracked.lock() else {
            return;
        };
        *t.problems.entry(p.kind()).or_default() += 1;
        match p {
            Problem::Gap { bytes, .. } => t.lost_bytes += bytes,
            Problem::Damaged { .. } => t.damaged += 1,
            _ => {}
        }
    }

    /// The input ended: `caproto_shark_input_finished` becomes 1.
    pub fn finish(&self) {
        self.finished.store(true, Relaxed);
    }
}

/// Add to `map[name]` with `add`, or insert `new()` while there is room;
/// otherwise count the message in `untracked`.
fn bump<V>(
    map: &mut HashMap<String, V>,
    name: &str,
    untracked: &mut u64,
    add: impl FnOnce(&mut V),
    new: impl FnOnce() -> V,
) {
    if let Some(v) = map.get_mut(name) {
        add(v);
    } else if map.len() < MAX_TRACKED {
        map.insert(name.to_owned(), new());
    } else {
        *untracked += 1;
    }
}

/// The `top` largest entries (ties broken by name, so scrapes are stable).
fn busiest<K: Ord>(entries: impl Iterator<Item = (K, u64)>, top: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = entries.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(top);
    v
}

impl Collector for SharkMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = e.encode_descriptor(
                "caproto_shark_messages",
                "CA messages decoded, by command and sender role",
                None,
                MetricType::Counter,
            )?;
            for (side, role) in ["client", "server"].iter().enumerate() {
                for slot in 0..SLOTS {
                    let n = self.messages[side][slot].load(Relaxed);
                    if n == 0 && slot >= 28 {
                        continue;
                    }
                    let labels = [("command", command_label(slot)), ("sender", role)];
                    ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        single(
            &mut e,
            "caproto_shark_message_bytes",
            "Bytes of CA messages decoded",
            Single::Counter(self.bytes.load(Relaxed)),
        )?;
        single(
            &mut e,
            "caproto_shark_input_finished",
            "1 once the whole input has been read",
            Single::Gauge(i64::from(self.finished.load(Relaxed))),
        )?;
        let Ok(t) = self.tracked.lock() else {
            return Ok(());
        };
        let (requests, replies) = t
            .searches
            .values()
            .fold((0, 0), |(a, b), (r, p)| (a + r, b + p));
        let unanswered = t
            .searches
            .values()
            .filter(|(r, p)| *r > 0 && *p == 0)
            .count();
        single(
            &mut e,
            "caproto_shark_search_requests",
            "Search requests seen for names",
            Single::Counter(requests),
        )?;
        single(
            &mut e,
            "caproto_shark_search_replies",
            "Search replies seen for names",
            Single::Counter(replies),
        )?;
        single(
            &mut e,
            "caproto_shark_search_names_unanswered",
            "Names searched for that no reply has answered",
            Single::Gauge(unanswered as i64),
        )?;
        single(
            &mut e,
            "caproto_shark_beacon_anomalies",
            "Beacons whose ID did not follow the server's previous one (a restart)",
            Single::Counter(t.beacon_anomalies),
        )?;
        single(
            &mut e,
            "caproto_shark_lost_bytes",
            "TCP stream bytes missing from the capture",
            Single::Counter(t.lost_bytes),
        )?;
        single(
            &mut e,
            "caproto_shark_damaged_messages",
            "CA messages cut by missing bytes, never decoded",
            Single::Counter(t.damaged),
        )?;
        counter_family(
            &mut e,
            "caproto_shark_problems",
            "Problems in the capture, by kind",
            "kind",
            t.problems.iter().map(|(k, n)| (*k, *n)),
        )?;
        single(
            &mut e,
            "caproto_shark_untracked_messages",
            "Messages whose PV or client was past the tracking limit",
            Single::Counter(t.untracked),
        )?;
        single(
            &mut e,
            "caproto_shark_pvs_tracked",
            "Distinct PV names seen",
            Single::Gauge(t.pvs.len() as i64),
        )?;
        single(
            &mut e,
            "caproto_shark_clients_tracked",
            "Distinct client hosts seen",
            Single::Gauge(t.clients.len() as i64),
        )?;
        let mut pvs = busiest(t.pvs.iter().map(|(k, v)| (k.as_str(), *v)), self.top);
        if !self.pv_patterns.is_empty() {
            for (name, n) in &t.pvs {
                let chosen = self.pv_patterns.iter().any(|g| g.matches(name));
                if chosen && !pvs.iter().any(|(p, _)| p == name) {
                    pvs.push((name.as_str(), *n));
                }
            }
        }
        counter_family(
            &mut e,
            "caproto_shark_pv_messages",
            "Messages about a PV (the busiest, and those asked for with --metrics-pv)",
            "pv",
            pvs,
        )?;
        let clients: Vec<(String, u64)> =
            busiest(t.clients.iter().map(|(k, v)| (*k, *v)), self.top)
                .into_iter()
                .map(|(ip, n)| (ip.to_string(), n))
                .collect();
        counter_family(
            &mut e,
            "caproto_shark_client_messages",
            "Messages to and from a client host (the busiest)",
            "client",
            clients.iter().map(|(c, n)| (c.as_str(), *n)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_keeps_the_top_with_stable_ties() {
        let v = busiest([("b", 5), ("a", 5), ("c", 9), ("d", 1)].into_iter(), 3);
        assert_eq!(v, [("c", 9), ("a", 5), ("b", 5)]);
    }

    #[test]
    fn tracking_stops_at_the_limit() {
        let mut map: HashMap<String, u64> = HashMap::new();
        let mut untracked = 0;
        for i in 0..MAX_TRACKED + 5 {
            bump(
                &mut map,
                &format!("pv{i}"),
                &mut untracked,
                |n| *n += 1,
                || 1,
            );
        }
        bump(&mut map, "pv0", &mut untracked, |n| *n += 1, || 1);
        assert_eq!(map.len(), MAX_TRACKED);
        assert_eq!(untracked, 5);
        assert_eq!(map["pv0"], 2);
    }

    #[test]
    fn labels_cover_every_command_id() {
        for cmd in 0..28u16 {
            let name = id::name(cmd).unwrap().to_ascii_lowercase();
            assert_eq!(command_label(usize::from(cmd)), name);
        }
        assert_eq!(command_label(28), "other");
    }
}
