//! The context's task: it owns the UDP search socket, the search schedule
//! and pacing, beacon watching, repeater registration, and one circuit task
//! per server. [`crate::client::Context`] and the channel handles talk to
//! it through [`CtxMsg`]s.

use crate::log::fields::ROLE_CLIENT;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::circuit_task::{self, CircuitHandle};
use super::error::ClientError;
use super::governor::Governor;
use super::nameserver::{self, NameServerHandle};
use super::pacer::SearchPacer;
use super::search::SearchScheduler;
use super::shared::{
    ChannelShared, CircuitDown, CircuitKey, CircuitMsg, ConnState, ContextShared, CtxMsg,
};
use crate::proto::broadcaster::{Broadcaster, Event, MAX_SEARCH_DATAGRAM};
use crate::proto::ids::IdMap;
use crate::proto::Role;

/// Datagrams handled per wake-up before the schedule is looked at again.
const DATAGRAMS_PER_TURN: usize = 64;

/// Messages handled between two reads of the clock in one burst: times
/// taken for them (a new search's first due time, a hold's start) are at
/// most this many messages stale, a fraction of a millisecond.
const MSGS_PER_CLOCK_READ: usize = 256;

/// The context's own task state.
pub(super) struct ContextTask {
    shared: Arc<ContextShared>,
    udp: UdpSocket,
    /// The UDP state machine: search datagrams, reply matching, beacon
    /// anomalies, repeater registration, and their log records.
    bc: Broadcaster,
    /// When each pending name is next due (the back-off); `bc` knows the names.
    sched: SearchScheduler,
    /// How many search datagrams may be unanswered at once.
    pacer: SearchPacer,
    /// Holds after failed circuits and dropped channels; anomaly rate limit.
    governor: Governor,
    /// Incoming datagrams that caused nothing, summarised in the log.
    dropped: DropCounts,
    channels: IdMap<Arc<ChannelShared>>,
    circuits: HashMap<CircuitKey, CircuitHandle>,
    /// The circuit the last found channel went to: the next answer is
    /// usually from the same server, and is handed over without a lookup.
    recent: Option<(CircuitKey, mpsc::UnboundedSender<CircuitMsg>)>,
    name_servers: Vec<NameServerHandle>,
    /// Reused datagram buffer.
    out: Vec<u8>,
    /// Reused event list for incoming datagrams.
    events: Vec<Event>,
    /// When to (re)send the repeater registration; `None` once confirmed or disabled.
    register_at: Option<Instant>,
    register_backoff: Duration,
}

impl ContextTask {
    pub(super) fn new(shared: Arc<ContextShared>, udp: UdpSocket) -> ContextTask {
        let config = &shared.config;
        let our_addr = udp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let name_servers = config
            .name_servers
            .iter()
            .map(|addr| nameserver::spawn(*addr, shared.clone()))
            .collect();
        ContextTask {
            sched: SearchScheduler::new(config.min_search_period, config.max_search_period),
            pacer: SearchPacer::new(),
            governor: Governor::new(),
            dropped: DropCounts::default(),
            register_at: config.use_repeater.then(Instant::now),
            register_backoff: Duration::from_millis(500),
            shared,
            udp,
            bc: Broadcaster::new(Role::Client, our_addr),
            channels: IdMap::default(),
            circuits: HashMap::new(),
            recent: None,
            name_servers,
            out: Vec::with_capacity(1500),
            events: Vec::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<CtxMsg>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let now = Instant::now();
            self.send_due_searches(now).await;
            self.maybe_register(now).await;
            // With the window full, only a reply or a flight's timeout
            // opens room: no point waking for the schedule before that.
            let searches = if self.pacer.room(now.into_std()) > 0 {
                self.sched.next_due()
            } else {
                self.pacer.next_expiry()
            };
            let next = [searches.map(Instant::from_std), self.register_at]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + Duration::from_secs(3600));
            tokio::select! {
                biased;
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let mut now = Instant::now();
                    if let Some(done) = self.handle_msg(msg, now) {
                        self.shutdown(done).await;
                        return;
                    }
                    // A burst (100 000 channels added at once) reads the
                    // clock every so often, not once per message.
                    let mut taken = 1usize;
                    while let Ok(msg) = rx.try_recv() {
                        taken += 1;
                        if taken.is_multiple_of(MSGS_PER_CLOCK_READ) {
                            now = Instant::now();
                        }
                        if let Some(done) = self.handle_msg(msg, now) {
                            self.shutdown(done).await;
                            return;
                        }
                    }
                }
                r = self.udp.recv_from(&mut buf) => {
                    if let Ok((n, src)) = r {
                        self.handle_datagram(&buf[..n], src);
                        // Replies come in bursts: take what is already here.
                        for _ in 1..DATAGRAMS_PER_TURN {
                            let Ok((n, src)) = self.udp.try_recv_from(&mut buf) else { break };
                            self.handle_datagram(&buf[..n], src);
                        }
                    }
                }
                _ = tokio::time::sleep_until(next) => {}
            }
        }
        self.shutdown(None).await;
    }

    /// Handle one message, read at `now`; returns `Some(reply)` when asked
    /// to close.
    fn handle_msg(&mut self, msg: CtxMsg, now: Instant) -> Option<Option<oneshot::Sender<()>>> {
        match msg {
            CtxMsg::Add(shared) => {
                tracing::debug!(target: "caproto::ch", pv = %shared.name, role = ROLE_CLIENT,
                    "searching");
                self.search(shared.cid, &shared.name, now);
                self.channels.insert(shared.cid, shared);
            }
            CtxMsg::Reserve { additional } => {
                self.channels.reserve(additional);
                self.sched.reserve(additional);
                self.bc.reserve_searches(additional);
            }
            CtxMsg::Drop { cid } => {
                self.sched.remove(cid);
                self.pacer.forget(cid);
                self.bc.cancel_search(cid);
                self.channels.remove(&cid);
                self.governor.forget_channel(cid);
            }
            CtxMsg::CircuitDown(down) => {
                let CircuitDown { key, cids, lived } = *down;
                self.circuits.remove(&key);
                if self.recent.as_ref().is_some_and(|(k, _)| *k == key) {
                    self.recent = None;
                }
                // A server that refuses or keeps breaking circuits is not
                // hammered: its channels search again when its hold ends.
                let held = self
                    .governor
                    .circuit_failed(key.addr, lived, now.into_std());
                if !held.hold.is_zero() {
                    tracing::debug!(target: "caproto::ctx", their_addr = %key.addr,
                        role = ROLE_CLIENT, failures = held.failures,
                        "circuit failed {} times in a row: holding the server off for {:.3} s",
                        held.failures, held.hold.as_secs_f64());
                }
                for (cid, connected_for) in cids {
                    self.research(cid, connected_for, now + held.hold);
                }
            }
            CtxMsg::Research { cid, lived } => self.research(cid, lived, now),
            CtxMsg::Found { cid, server } => {
                self.pacer.forget(cid);
                self.bc.cancel_search(cid);
                self.found(cid, *server, now)
            }
            CtxMsg::Close(reply) => return Some(reply),
        }
        None
    }

    /// Search again for a channel that lost its connection after being
    /// connected for `lived`, no earlier than `not_before` nor before the
    /// channel's own hold ends.
    fn research(&mut self, cid: u32, lived: Option<Duration>, not_before: Instant) {
        let Some(ch) = self.channels.get(&cid).cloned() else {
            return;
        };
        if matches!(&*ch.state.borrow(), ConnState::Closed | ConnState::Failed) {
            return;
        }
        let now = Instant::now();
        let held = self.governor.channel_failed(cid, lived, now.into_std());
        let due = not_before.max(now + held.hold);
        if due > now {
            tracing::debug!(target: "caproto::ch", pv = %ch.name, role = ROLE_CLIENT,
                failures = held.failures,
                "connection lost {} times in a row: searching again in {:.3} s",
                held.failures, (due - now).as_secs_f64());
        }
        self.search(cid, &ch.name, due);
    }

    /// (Re)start searching for `cid`, first due at `due`.
    fn search(&mut self, cid: u32, name: &Arc<str>, due: Instant) {
        if let Err(e) = self.bc.add_search(cid, Arc::clone(name)) {
            tracing::error!(target: "caproto::ch", pv = %name, role = ROLE_CLIENT,
                "cannot search: {e}");
            return;
        }
        self.sched.add(cid, due.into_std());
    }

    /// A server has `cid`: attach the channel to that server's circuit.
    /// The search is no longer pending in `bc` (the caller took it out):
    /// there, as in the schedule, a lookup of an id that is gone probes
    /// through the tombstones its neighbours left (see `SearchScheduler`).
    fn found(&mut self, cid: u32, server: SocketAddr, now: Instant) {
        if !self.sched.remove(cid) {
            return; // Already found (another server answered first) or dropped.
        }
        let Some(shared) = self.channels.get(&cid).cloned() else {
            return;
        };
        if let Some(until) = self.governor.server_held(server, now.into_std()) {
            // The server keeps failing: no circuit before its hold ends.
            let until = Instant::from_std(until);
            tracing::debug!(target: "caproto::ch", pv = %shared.name, their_addr = %server,
                role = ROLE_CLIENT, "found on a server held off: searching again in {:.3} s",
                (until - now).as_secs_f64());
            self.search(cid, &shared.name, until);
            return;
        }
        tracing::debug!(target: "caproto::ch", pv = %shared.name, their_addr = %server,
            role = ROLE_CLIENT, "found");
        shared.note_found(server);
        let key = CircuitKey {
            addr: server,
            priority: self.shared.config.priority,
        };
        let mut msg = CircuitMsg::Attach(shared);
        if let Some((_, tx)) = self.recent.as_ref().filter(|(k, _)| *k == key) {
            match tx.send(msg) {
                Ok(()) => return,
                Err(e) => msg = e.0,
            }
        }
        if let Some(circuit) = self.circuits.get(&key) {
            match circuit.tx.send(msg) {
                Ok(()) => {
                    self.recent = Some((key, circuit.tx.clone()));
                    return;
                }
                // The circuit is going down; start a fresh one.
                Err(e) => msg = e.0,
            }
        }
        let circuit = circuit_task::spawn(key, self.shared.clone());
        let _ = circuit.tx.send(msg);
        self.recent = Some((key, circuit.tx.clone()));
        self.circuits.insert(key, circuit);
    }

    /// Send the searches that are due, as many datagrams as the search
    /// window has room for; the rest stay due until replies (or timeouts)
    /// open room.
    async fn send_due_searches(&mut self, now: Instant) {
        let std_now = now.into_std();
        if self.sched.next_due().is_none_or(|due| due > std_now) {
            return;
        }
        let room = self.pacer.room(std_now);
        if room == 0 {
            return;
        }
        // More than `room` datagrams can hold: the shortest search is 24 bytes.
        let per_datagram = MAX_SEARCH_DATAGRAM / 24 + 1;
        let due = self.sched.due(std_now, room.saturating_mul(per_datagram));
        if due.is_empty() {
            return;
        }
        if !self.name_servers.is_empty() {
            let named: Vec<(u32, String)> = due
                .iter()
                .filter_map(|cid| Some((*cid, self.bc.pending_search(*cid)?.to_string())))
                .collect();
            for ns in &self.name_servers {
                ns.search(&named);
            }
        }
        let floor = self.pacer.timeout();
        let dests = self.shared.config.search_addrs.clone();
        let mut rest = &due[..];
        let mut flights = 0;
        while !rest.is_empty() && flights < room {
            // The same names go to every address in the list: the datagram
            // is built once per destination (each has its own log records).
            let mut used = rest.len();
            for dest in &dests {
                self.out.clear();
                match self
                    .bc
                    .fill_search_datagram(rest, false, *dest, &mut self.out)
                {
                    Ok(n) => used = n.max(1).min(rest.len()),
                    Err(e) => {
                        tracing::warn!(target: "caproto::bcast::search", their_addr = %dest,
                            role = ROLE_CLIENT, "cannot build search datagram: {e}");
                        continue;
                    }
                }
                if self.out.is_empty() {
                    continue;
                }
                if let Err(e) = self.udp.send_to(&self.out, *dest).await {
                    tracing::warn!(target: "caproto::bcast::search", their_addr = %dest,
                        role = ROLE_CLIENT, "search send failed: {e}");
                }
            }
            let (sent, later) = rest.split_at(used);
            for &cid in sent {
                self.sched.sent(cid, std_now, floor);
            }
            if !dests.is_empty() {
                self.pacer.sent(sent, std_now);
                flights += 1;
            }
            rest = later;
        }
        tracing::trace!(target: "caproto::bcast::search", role = ROLE_CLIENT,
            window = self.pacer.window(), in_flight = self.pacer.in_flight(),
            "searched {} names in {flights} datagrams; {} names pending",
            due.len() - rest.len(), self.sched.len());
    }

    async fn maybe_register(&mut self, now: Instant) {
        let Some(at) = self.register_at else { return };
        if at > now {
            return;
        }
        let dest = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            self.shared.config.repeater_port,
        ));
        self.out.clear();
        if self.bc.register_with_repeater(dest, &mut self.out).is_ok() {
            let _ = self.udp.send_to(&self.out, dest).await;
        }
        self.register_at = Some(now + self.register_backoff);
        self.register_backoff = (self.register_backoff * 2).min(Duration::from_secs(60));
    }

    /// Handle one incoming datagram. Whatever it holds, it never causes more
    /// than the searches already scheduled: replies for unknown ids are
    /// dropped and counted, and beacon anomalies reset the search back-off
    /// at a bounded rate (see [`Governor::beacon_anomaly`]).
    fn handle_datagram(&mut self, data: &[u8], src: SocketAddr) {
        let now = Instant::now();
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        if let Err(e) = self.bc.recv(data, src, now.into_std(), &mut events) {
            self.dropped.malformed += 1;
            tracing::trace!(target: "caproto::bcast", their_addr = %src, role = ROLE_CLIENT,
                "ignoring malformed datagram: {e}");
        }
        for event in events.drain(..) {
            match event {
                Event::Found { cid, server, .. } => {
                    self.pacer.answered(cid, now.into_std());
                    // The search is no longer pending in `bc`; the schedule
                    // still says whether we want it.
                    if !self.sched.contains(cid) {
                        self.dropped.stray_replies += 1;
                    }
                    self.found(cid, server, now)
                }
                Event::Unmatched { .. } => {
                    self.dropped.stray_replies += 1;
                }
                Event::Beacon {
                    server,
                    anomaly: Some(anomaly),
                    ..
                } => {
                    if self.governor.beacon_anomaly(server, now.into_std()) {
                        if !self.sched.is_empty() {
                            tracing::debug!(target: "caproto::ctx", their_addr = %server,
                                role = ROLE_CLIENT,
                                "beacon anomaly ({anomaly:?}): searching again now");
                            self.sched.reset(now.into_std());
                            // A channel held off for its own failures stays held.
                            for (cid, until) in self.governor.held_channels(now.into_std()) {
                                self.sched.postpone(cid, until);
                            }
                        }
                    } else {
                        self.dropped.anomalies += 1;
                    }
                }
                Event::RepeaterConfirmed { .. } if self.register_at.take().is_some() => {
                    tracing::debug!(target: "caproto::ctx", their_addr = %src,
                        role = ROLE_CLIENT, "registered with repeater");
                }
                _ => {}
            }
        }
        self.events = events;
        self.dropped.maybe_log(now);
    }

    async fn shutdown(&mut self, reply: Option<oneshot::Sender<()>>) {
        self.recent = None;
        for circuit in self.circuits.values() {
            let _ = circuit.tx.send(CircuitMsg::Close);
        }
        for (_, circuit) in self.circuits.drain() {
            let mut task = circuit.task;
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        for ns in self.name_servers.drain(..) {
            ns.task.abort();
        }
        for ch in self.channels.values() {
            ch.state.send_replace(ConnState::Closed);
            let mut subs = ch.subs();
            for spec in subs.values() {
                spec.sink.close();
            }
            if let Some(read) = subs.read_once.take() {
                read.deliver(Err(ClientError::Closed));
            }
        }
        self.channels.clear();
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
    }
}

/// Incoming datagrams that asked for nothing, counted and summarised in one
/// DEBUG record per second at most (so `-vv` explains a flood without
/// writing one line per datagram; each command's own record is at DEBUG on
/// `caproto::bcast`).
#[derive(Debug, Default)]
struct DropCounts {
    /// Search replies for ids we are not searching for.
    stray_replies: u64,
    /// Beacon anomalies beyond the rate limit.
    anomalies: u64,
    /// Datagrams that could not be parsed.
    malformed: u64,
    last_log: Option<Instant>,
}

impl DropCounts {
    fn maybe_log(&mut self, now: Instant) {
        if self.stray_replies + self.anomalies + self.malformed == 0 {
            return;
        }
        if self
            .last_log
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_log = Some(now);
        tracing::debug!(target: "caproto::bcast", role = ROLE_CLIENT,
            stray_replies = self.stray_replies, ignored_anomalies = self.anomalies,
            malformed = self.malformed,
            "dropped {} search replies for unknown ids, {} beacon anomalies over the rate limit, \
             {} malformed datagrams",
            self.stray_replies, self.anomalies, self.malformed);
        *self = DropCounts {
            last_log: self.last_log,
            ..DropCounts::default()
        };
    }
}
