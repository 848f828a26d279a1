//! One task per TCP circuit: reads requests, answers them, and streams
//! subscription events, all through one output buffer that is flushed with
//! one write per batch (not a syscall per message).
//!
//! Back-pressure: when the client does not read, the output buffer reaches
//! [`HIGH_WATER`]; the task then stops reading requests and stops draining
//! subscription queues, which coalesce (drop oldest) on their own. Only this
//! circuit waits; posting to PVs and other circuits carry on.

use crate::log::fields::ROLE_SERVER;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::unconstrained;

use super::access::{AccessControl, AccessRules, Rights};
use super::config::ServerConfig;
use super::pv::{PvDatabase, PvHandle, PvSnapshot};
use super::server::Shared;
use super::subscription::{CircuitEvents, Subscription};
use crate::metrics::server::RequestTally;
use crate::metrics::{CloseReason, ServerMetrics};
use crate::proto::circuit::{CircuitError, VirtualCircuit};
use crate::proto::command::Command;
use crate::proto::ids::{IdMap, IdSet};
use crate::proto::Role;

mod access;
mod dispatch;
mod events;
mod io;

/// Output bytes above which the circuit stops reading and draining events.
pub const HIGH_WATER: usize = 1 << 20;
/// Bytes read from the socket at a time. Requests are answered a read at a
/// time, so this is also the pipeline depth: EPICS rsrv's 16 KiB lets a client
/// that sends thousands of requests at once (catime, archivers) receive the
/// first answers while the rest are still being handled; 64 KiB made it wait
/// for ~4000 answers before the first left.
const READ_CHUNK: usize = 16 * 1024;
/// How long to wait for the final SERVER_DISCONN messages to go out.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);

struct Channel {
    cid: u32,
    pv: PvHandle,
    /// Subscription ids on this channel (a set: acctst adds and cancels
    /// hundreds at a time, so removal must not be linear).
    subs: IdSet,
    /// What this client may do with it (see [`access`]).
    rights: Rights,
}

/// Why a circuit ended.
#[derive(Debug)]
pub(super) enum Close {
    /// The client closed its end.
    ClientClosed,
    /// Socket error.
    Io(std::io::Error),
    /// The client sent bytes that are not CA.
    Protocol(String),
    /// The server is shutting down.
    Shutdown,
}

pub(super) struct Circuit {
    shared: Arc<Shared>,
    /// Protocol state, decoding and the per-command log records.
    vc: VirtualCircuit,
    peer: SocketAddr,
    local: SocketAddr,
    channels: IdMap<Channel>,
    subs: IdMap<Arc<Subscription>>,
    next_sid: u32,
    events: Arc<CircuitEvents>,
    events_on: bool,
    /// Replies not yet encoded (see [`Circuit::flush`]), with the PV they concern.
    outq: Vec<(Command, Option<Arc<str>>)>,
    out: Vec<u8>,
    snaps: Vec<Arc<PvSnapshot>>,
    client_version: u16,
    /// Access rules in force (`None`: no access security).
    rules: Option<Arc<AccessRules>>,
    /// Requests read since the last [`Circuit::publish_metrics`].
    tally: RequestTally,
    /// Channels and subscriptions as last added to the server's gauges.
    published: (i64, i64),
    /// Every reply flushed, for unit tests that run without the codec.
    #[cfg(test)]
    sent: Vec<Command>,
}

/// Serve one accepted connection until the client leaves or `shutdown` fires.
pub(crate) async fn run(stream: TcpStream, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    let peer = match stream.peer_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    tracing::info!(target: "caproto::serv", our_addr = %local, their_addr = %peer, role = ROLE_SERVER,
        "client connected: {peer}");
    let (mut rd, mut wr) = stream.into_split();
    shared.metrics.circuit_opened();
    let mut c = Circuit::new(shared, local, peer);
    let mut access_rx = c.shared.access.subscribe();
    c.rules = access_rx.borrow_and_update().clone();
    let mut access_live = true;
    let mut inbuf = vec![0u8; READ_CHUNK];
    let mut out_pos = 0usize;
    let events = Arc::clone(&c.events);
    // Shutdown and new access rules are looked for at the top of every turn
    // (an atomic load each), so that a client flooding requests, whose turns
    // all end at the socket, still sees both at once. The futures below only
    // wake an idle circuit; they stay armed across turns, because made afresh
    // each turn their waiters were added to and removed from three wait lists
    // per turn, two turns per request: most of a round trip's instructions
    // (callgrind). They are outside the cooperative budget, which would
    // refuse them exactly when a flood has spent it.
    let mut stop_wake = pin!(unconstrained(changed(shutdown.clone())));
    let mut rules_wake = pin!(unconstrained(changed(access_rx.clone())));
    let mut events_ready = pin!(events.notify.notified());

    let reason = loop {
        if shutdown.has_changed().unwrap_or(true) {
            break Close::Shutdown;
        }
        if access_live {
            match access_rx.has_changed() {
                Ok(true) => {
                    let rules = access_rx.borrow_and_update().clone();
                    c.set_rules(rules);
                    c.flush();
                }
                Ok(false) => {}
                Err(_) => access_live = false,
            }
        }
        let pending = c.out.len() - out_pos;
        let room = pending < HIGH_WATER;
        tokio::select! {
            biased;
            r = wr.write(&c.out[out_pos..]), if pending > 0 => match r {
                Ok(0) => break Close::ClientClosed,
                Ok(n) => {
                    c.shared.metrics.tcp_sent(n);
                    wrote(&mut c.out, &mut out_pos, n);
                    c.drain_events();
                    c.flush();
                }
                Err(e) => break Close::Io(e),
            },
            r = rd.read(&mut inbuf), if room => match r {
                Ok(0) => break Close::ClientClosed,
                Ok(n) => {
                    c.shared.metrics.tcp_received(n);
                    let result = c.process(&inbuf[..n]).await;
                    c.publish_metrics();
                    c.flush();
                    if let Err(e) = result {
                        break e;
                    }
                    c.drain_events();
                    c.flush();
                    if let Err(e) = write_now(&wr, &mut c.out, &mut out_pos, &c.shared.metrics) {
                        break Close::Io(e);
                    }
                }
                Err(e) => break Close::Io(e),
            },
            _ = &mut events_ready, if room && c.events_on => {
                events_ready.set(events.notify.notified());
                c.drain_events();
                c.flush();
                if let Err(e) = write_now(&wr, &mut c.out, &mut out_pos, &c.shared.metrics) {
                    break Close::Io(e);
                }
            }
            // Wake-ups only: the top of the loop acts on them.
            (rx, _) = &mut rules_wake, if access_live => {
                rules_wake.set(unconstrained(changed(rx)));
            }
            _ = &mut stop_wake => {}
        }
    };

    if matches!(reason, Close::Shutdown) {
        let cids: Vec<u32> = c.channels.values().map(|ch| ch.cid).collect();
        for cid in cids {
            c.send(Command::ServerDisconnResponse { cid }, None);
        }
        c.flush();
        let _ = tokio::time::timeout(SHUTDOWN_FLUSH, async {
            wr.write_all(&c.out[out_pos..]).await?;
            wr.shutdown().await?;
            // Drop what the client still sends until it closes: closing with
            // requests unread resets the connection, and a reset can destroy
            // the SERVER_DISCONN still waiting in the client's receive buffer.
            while rd.read(&mut inbuf).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    }
    c.teardown();
    c.publish_metrics();
    c.shared.metrics.circuit_closed(match &reason {
        Close::ClientClosed => CloseReason::ClientClosed,
        Close::Io(_) => CloseReason::IoError,
        Close::Protocol(_) => CloseReason::ProtocolError,
        Close::Shutdown => CloseReason::Shutdown,
    });
    match &reason {
        Close::Protocol(msg) => tracing::warn!(target: "caproto::serv", our_addr = %local,
            their_addr = %peer, role = ROLE_SERVER, "closing circuit with {peer}: {msg}"),
        Close::Io(e) => tracing::info!(target: "caproto::serv", our_addr = %local,
            their_addr = %peer, role = ROLE_SERVER, "client disconnected: {peer} ({e})"),
        Close::ClientClosed | Close::Shutdown => tracing::info!(target: "caproto::serv",
            our_addr = %local, their_addr = %peer, role = ROLE_SERVER, "client disconnected: {peer}"),
    }
}

/// Completes when `rx`'s value changes (or its sender is gone), handing
/// the receiver back so that the caller can read the value and wait again.
async fn changed<T>(
    mut rx: watch::Receiver<T>,
) -> (watch::Receiver<T>, Result<(), watch::error::RecvError>) {
    let r = rx.changed().await;
    (rx, r)
}

/// Send what the socket takes of `out[*pos..]` now, without waiting: a
/// request's answer leaves in the same turn of the loop that read it (a
/// turn fewer per round trip); what does not fit goes out through the
/// loop's write branch.
fn write_now(
    wr: &OwnedWriteHalf,
    out: &mut Vec<u8>,
    pos: &mut usize,
    metrics: &ServerMetrics,
) -> std::io::Result<()> {
    if *pos == out.len() {
        return Ok(());
    }
    match wr.try_write(&out[*pos..]) {
        Ok(n) => {
            metrics.tcp_sent(n);
            wrote(out, pos, n);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

/// The socket took `n` more bytes of `out` from `*pos`: forget what is sent.
fn wrote(out: &mut Vec<u8>, pos: &mut usize, n: usize) {
    *pos += n;
    if *pos == out.len() {
        out.clear();
        *pos = 0;
    } else if *pos > HIGH_WATER {
        out.drain(..*pos);
        *pos = 0;
    }
}

impl Circuit {
    pub(super) fn new(shared: Arc<Shared>, local: SocketAddr, peer: SocketAddr) -> Circuit {
        let vc = VirtualCircuit::new(
            Role::Server,
            local,
            peer,
            0,
            shared.config.max_request_bytes,
        );
        let rules = shared.access.current();
        Circuit {
            shared,
            vc,
            peer,
            local,
            channels: IdMap::default(),
            subs: IdMap::default(),
            next_sid: 1,
            events: Arc::new(CircuitEvents::default()),
            events_on: true,
            outq: Vec::new(),
            out: Vec::with_capacity(16 * 1024),
            snaps: Vec::new(),
            client_version: 0,
            rules,
            tally: RequestTally::default(),
            published: (0, 0),
            #[cfg(test)]
            sent: Vec::new(),
        }
    }

    /// Add the requests read and the change in open channels and
    /// subscriptions since the last call to the server's metrics.
    pub(super) fn publish_metrics(&mut self) {
        let metrics = &self.shared.metrics;
        metrics.flush_requests(&mut self.tally);
        let now = (self.channels.len() as i64, self.subs.len() as i64);
        if now != self.published {
            metrics.add_open(now.0 - self.published.0, now.1 - self.published.1);
            self.published = now;
        }
    }

    /// Encode queued replies into the output buffer (one buffer per flush, so
    /// a batch of replies goes out in one write) and log each.
    pub(super) fn flush(&mut self) {
        for (cmd, pv) in self.outq.drain(..) {
            #[cfg(test)]
            self.sent.push(cmd.clone());
            if let Err(e) = self.vc.send(&cmd, &mut self.out) {
                let pv = pv.or_else(|| self.vc.pv_of(&cmd));
                // A reply the protocol no longer allows (e.g. an event for a
                // subscription cancelled meanwhile) is dropped.
                let level_error = matches!(e, CircuitError::Encode(_));
                if level_error {
                    tracing::error!(target: "caproto::serv", pv = pv.as_deref(), our_addr = %self.local,
                        their_addr = %self.peer, role = ROLE_SERVER, "could not encode {cmd:?}: {e}");
                } else {
                    tracing::debug!(target: "caproto::serv", pv = pv.as_deref(), our_addr = %self.local,
                        their_addr = %self.peer, role = ROLE_SERVER, "not sending {cmd:?}: {e}");
                }
            }
        }
    }

    /// A circuit of a server hosting `db` with no socket behind it, as if a
    /// client at 127.0.0.1:40000 had connected to port 5064: for unit tests
    /// and [`super::bench_hooks`].
    pub(super) fn detached(db: PvDatabase) -> Circuit {
        let shared = Arc::new(Shared {
            db,
            config: ServerConfig::default(),
            tcp_port: 5064,
            access: AccessControl::default(),
            metrics: Arc::new(ServerMetrics::new()),
        });
        let ours = SocketAddr::from(([127, 0, 0, 1], 5064));
        let theirs = SocketAddr::from(([127, 0, 0, 1], 40000));
        Circuit::new(shared, ours, theirs)
    }

    /// Empty the output buffer, returning how many bytes it held (for
    /// [`super::bench_hooks`], which has no socket to write them to).
    pub(super) fn take_output(&mut self) -> usize {
        let n = self.out.len();
        self.out.clear();
        n
    }

    /// Feed bytes read from the socket and answer every complete request.
    pub(super) async fn process(&mut self, bytes: &[u8]) -> Result<(), Close> {
        self.vc.recv(bytes);
        loop {
            // Reads and writes first, without building a `Command` (see `io`).
            if let Some(req) = self.vc.next_io_request() {
                self.tally.add(req.header.command);
                if req.op.is_write() && self.write_waits(req.sid) {
                    // Only writes can wait; building and awaiting their
                    // future for every request cost more than a read.
                    let data = self.vc.io_payload().to_vec();
                    self.write_waiting(&req, &data).await;
                } else {
                    self.io_now(&req, None);
                }
                continue;
            }
            let Some(next) = self.vc.next_command() else {
                return Ok(());
            };
            match &next {
                Ok(cmd) => self.tally.add(cmd.command_id()),
                Err(CircuitError::Remote(refused)) => self.tally.add(refused.header.command),
                Err(_) => {}
            }
            match next {
                Ok(cmd) => self.handle(cmd).await,
                Err(e) if e.is_fatal() => return Err(Close::Protocol(e.to_string())),
                Err(CircuitError::Remote(refused)) => self.refuse(*refused),
                Err(e) => {
                    tracing::debug!(target: "caproto::serv", our_addr = %self.local,
                        their_addr = %self.peer, role = ROLE_SERVER, "ignoring: {e}");
                }
            }
        }
    }
    /// Drop every subscription so PVs stop queueing for this circuit.
    fn teardown(&mut self) {
        self.vc.disconnect();
        for (_, sub) in self.subs.drain() {
            sub.cancel();
            if let Some(ch) = self.channels.get(&sub.sid) {
                ch.pv.unsubscribe(&sub);
            }
        }
        self.channels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::AccessRights;
    use crate::proto::command::{id, mask};
    use crate::proto::dbr::{DbrType, NativeType, Value};
    use crate::server::error::eca;
    use crate::server::pv::{Pv, PvDatabase, PvGroup};
    use crate::server::subscription::QUEUE_DEPTH;

    fn circuit() -> (Circuit, PvHandle, PvHandle) {
        let mut g = PvGroup::new("t:");
        let x = g.add(Pv::new("x", 1.5));
        let ro = g.add(Pv::new("ro", vec![1i32, 2, 3]).read_only());
        let mut db = PvDatabase::new();
        db.add_group(g).unwrap();
        (Circuit::detached(db), x, ro)
    }

    async fn req(c: &mut Circuit, cmd: Command) -> Vec<Command> {
        c.handle(cmd).await;
        c.flush();
        std::mem::take(&mut c.sent)
    }

    /// VERSION and a CREATE_CHAN per name (cids from 1) through `process`,
    /// as a client sends them; returns the sids the server gave.
    async fn open_channels(c: &mut Circuit, names: &[&str]) -> Vec<u32> {
        let mut wire = Vec::new();
        let version = Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        };
        version.encode(&mut wire).unwrap();
        for (cid, name) in (1..).zip(names) {
            let create = Command::CreateChanRequest {
                name: (*name).into(),
                cid,
                version: 13,
            };
            create.encode(&mut wire).unwrap();
        }
        c.process(&wire).await.unwrap();
        c.flush();
        std::mem::take(&mut c.sent)
            .into_iter()
            .filter_map(|r| match r {
                Command::CreateChanResponse { sid, .. } => Some(sid),
                _ => None,
            })
            .collect()
    }

    async fn connect(c: &mut Circuit, name: &str, cid: u32) -> u32 {
        let cmd = Command::CreateChanRequest {
            name: name.into(),
            cid,
            version: 13,
        };
        match req(c, cmd).await.as_slice() {
            [Command::AccessRightsResponse { .. }, Command::CreateChanResponse { sid, .. }] => *sid,
            other => panic!("{other:?}"),
        }
    }

    /// Writes arrive as wire bytes through `process`, which answers writes
    /// to PVs with a synchronous hook (or none) at once and awaits an
    /// asynchronous hook; both hooks' results are what gets stored.
    #[tokio::test]
    async fn put_hooks_sync_and_async_through_process() {
        use crate::server::pv::ValueExt;
        let mut g = PvGroup::new("h:");
        let sync = g.add(Pv::new("sync", 1.0).on_put(|_, v| {
            let x = v.as_f64().unwrap_or(0.0);
            Ok(Some(Value::Double(vec![x + 1.0])))
        }));
        let slow = g.add(Pv::new("async", 1.0).on_put_async(|_, v| async move {
            tokio::task::yield_now().await;
            let x = v.as_f64().unwrap_or(0.0);
            Ok(Some(Value::Double(vec![x * 2.0])))
        }));
        let mut db = PvDatabase::new();
        db.add_group(g).unwrap();
        let mut c = Circuit::detached(db);
        let sids = open_channels(&mut c, &["h:sync", "h:async"]).await;
        let [sid_sync, sid_async] = sids[..] else {
            panic!("channels not created: {sids:?}");
        };
        let mut wire = Vec::new();
        for (sid, ioid) in [(sid_sync, 7), (sid_async, 8)] {
            Command::WriteNotifyRequest {
                data: 10.0f64.to_be_bytes().to_vec(),
                data_type: DbrType::DOUBLE,
                data_count: 1,
                sid,
                ioid,
            }
            .encode(&mut wire)
            .unwrap();
        }
        c.process(&wire).await.unwrap();
        c.flush();
        let replies: Vec<(u32, u32)> = std::mem::take(&mut c.sent)
            .into_iter()
            .filter_map(|r| match r {
                Command::WriteNotifyResponse { ioid, status, .. } => Some((ioid, status)),
                _ => None,
            })
            .collect();
        assert_eq!(replies, [(7, eca::NORMAL), (8, eca::NORMAL)]);
        assert_eq!(sync.value().as_f64(), Some(11.0));
        assert_eq!(slow.value().as_f64(), Some(20.0));
    }

    #[tokio::test]
    async fn version_echo_and_channel_creation() {
        let (mut c, _, _) = circuit();
        let out = req(
            &mut c,
            Command::VersionRequest {
                priority: 0,
                version: 13,
                sequence: 0,
            },
        )
        .await;
        assert_eq!(
            out,
            [Command::VersionResponse {
                version: 13,
                sequence: None
            }]
        );
        assert_eq!(
            req(&mut c, Command::EchoRequest).await,
            [Command::EchoResponse]
        );

        let cmd = Command::CreateChanRequest {
            name: "t:ro".into(),
            cid: 7,
            version: 13,
        };
        let out = req(&mut c, cmd).await;
        assert_eq!(
            out,
            [
                Command::AccessRightsResponse {
                    cid: 7,
                    access_rights: AccessRights::READ_ONLY
                },
                Command::CreateChanResponse {
                    data_type: DbrType::plain(NativeType::Long),
                    data_count: 3,
                    cid: 7,
                    sid: 1
                },
            ]
        );
        let cmd = Command::CreateChanRequest {
            name: "t:none".into(),
            cid: 8,
            version: 13,
        };
        assert_eq!(
            req(&mut c, cmd).await,
            [Command::CreateChFailResponse { cid: 8 }]
        );
    }

    #[tokio::test]
    async fn bad_ids_and_read_only_writes_get_eca_codes() {
        let (mut c, _, ro) = circuit();
        let cmd = Command::ReadNotifyRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid: 99,
            ioid: 1,
        };
        match req(&mut c, cmd).await.as_slice() {
            [Command::ErrorResponse {
                status,
                original_request,
                ..
            }] => {
                assert_eq!(*status, eca::BADCHID);
                assert_eq!(original_request.command, id::READ_NOTIFY);
            }
            other => panic!("{other:?}"),
        }
        let sid = connect(&mut c, "t:ro", 1).await;
        let cmd = Command::WriteNotifyRequest {
            data: vec![0; 8],
            data_type: DbrType::plain(NativeType::Long),
            data_count: 1,
            sid,
            ioid: 5,
        };
        match req(&mut c, cmd).await.as_slice() {
            [Command::WriteNotifyResponse {
                status, ioid: 5, ..
            }] => assert_eq!(*status, eca::NOWTACCESS),
            other => panic!("{other:?}"),
        }
        let cmd = Command::WriteRequest {
            data: vec![0; 8],
            data_type: DbrType::plain(NativeType::Long),
            data_count: 1,
            sid,
            ioid: 6,
        };
        match req(&mut c, cmd).await.as_slice() {
            [Command::ErrorResponse { status, cid: 1, .. }] => assert_eq!(*status, eca::NOWTACCESS),
            other => panic!("{other:?}"),
        }
        assert_eq!(ro.value(), Value::Long(vec![1, 2, 3]));
    }

    fn event_add(sid: u32, subscriptionid: u32, m: u16) -> Command {
        Command::EventAddRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid,
            subscriptionid,
            low: 0.0,
            high: 0.0,
            to: 0.0,
            mask: m,
        }
    }

    #[tokio::test]
    async fn subscriptions_cancel_clear_and_flow_control() {
        let (mut c, x, _) = circuit();
        let sid = connect(&mut c, "t:x", 1).await;
        match req(&mut c, event_add(sid, 10, 0)).await.as_slice() {
            [Command::ErrorResponse { status, .. }] => assert_eq!(*status, eca::BADMASK),
            other => panic!("{other:?}"),
        }
        assert!(req(&mut c, event_add(sid, 10, mask::VALUE))
            .await
            .is_empty());
        assert!(req(&mut c, event_add(sid, 11, mask::VALUE))
            .await
            .is_empty());
        assert_eq!(x.subscriber_count(), 2);
        c.drain_events();
        let initial = std::mem::take(&mut c.sent);
        assert_eq!(initial.len(), 2, "one initial event per subscription");
        assert!(initial
            .iter()
            .all(|e| matches!(e, Command::EventAddResponse { .. })));

        // EVENTS_OFF: nothing is sent; posts coalesce to the newest QUEUE_DEPTH.
        req(&mut c, Command::EventsOffRequest).await;
        for i in 0..50 {
            x.post(f64::from(i)).unwrap();
        }
        c.drain_events();
        assert!(c.sent.is_empty());
        req(&mut c, Command::EventsOnRequest).await;
        c.drain_events();
        assert_eq!(std::mem::take(&mut c.sent).len(), 2 * QUEUE_DEPTH);

        let cancel = Command::EventCancelRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid,
            subscriptionid: 10,
        };
        assert_eq!(
            req(&mut c, cancel).await,
            [Command::EventCancelResponse {
                data_type: DbrType::DOUBLE,
                data_count: 1,
                sid,
                subscriptionid: 10
            }]
        );
        assert_eq!(x.subscriber_count(), 1);
        let clear = Command::ClearChannelRequest { sid, cid: 1 };
        assert_eq!(
            req(&mut c, clear).await,
            [Command::ClearChannelResponse { sid, cid: 1 }]
        );
        assert_eq!(x.subscriber_count(), 0);
        x.post(99.0).unwrap();
        c.drain_events();
        assert!(c.sent.is_empty());
    }

    #[tokio::test]
    async fn teardown_releases_subscriptions() {
        let (mut c, x, _) = circuit();
        let sid = connect(&mut c, "t:x", 1).await;
        req(&mut c, event_add(sid, 1, mask::VALUE)).await;
        assert_eq!(x.subscriber_count(), 1);
        c.teardown();
        assert_eq!(x.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn tcp_name_server_search_answers_not_found_only_when_asked() {
        let (mut c, _, _) = circuit();
        let search = |name: &str, reply| Command::SearchRequest {
            name: name.into(),
            cid: 3,
            version: 13,
            reply,
        };
        assert_eq!(
            req(&mut c, search("t:x", false)).await,
            [Command::SearchResponse {
                port: 5064,
                ip: None,
                cid: 3,
                version: 13
            }]
        );
        assert_eq!(
            req(&mut c, search("t:nope", true)).await,
            [Command::NotFoundResponse {
                version: 13,
                cid: 3
            }]
        );
        assert!(req(&mut c, search("t:nope", false)).await.is_empty());
    }

    /// Reads are answered into the output buffer directly and other
    /// requests through the reply queue; the client still gets the replies
    /// in the order it sent the requests.
    #[tokio::test]
    async fn replies_keep_request_order_across_both_paths() {
        use crate::proto::command::Decoded;
        use crate::proto::Direction;
        let (mut c, _, _) = circuit();
        let decode_all = |out: &[u8]| {
            let mut replies = Vec::new();
            let mut at = 0;
            while at < out.len() {
                match Command::decode_from(&out[at..], Direction::Response, usize::MAX) {
                    Ok(Decoded::Command(cmd, used)) => {
                        replies.push(cmd);
                        at += used;
                    }
                    other => panic!("undecodable reply: {other:?}"),
                }
            }
            replies
        };
        let [sid] = open_channels(&mut c, &["t:x"]).await[..] else {
            panic!("channel not created");
        };
        c.take_output();
        let mut wire = Vec::new();
        let read = |ioid| Command::ReadNotifyRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid,
            ioid,
        };
        wire.clear();
        for cmd in [read(1), Command::EchoRequest, read(2), Command::EchoRequest] {
            cmd.encode(&mut wire).unwrap();
        }
        c.process(&wire).await.unwrap();
        c.flush();
        let replies = decode_all(&c.out);
        let kinds: Vec<&str> = replies
            .iter()
            .map(|r| match r {
                Command::ReadNotifyResponse { ioid: 1, .. } => "read 1",
                Command::ReadNotifyResponse { ioid: 2, .. } => "read 2",
                Command::EchoResponse => "echo",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["read 1", "echo", "read 2", "echo"]);
    }
}
