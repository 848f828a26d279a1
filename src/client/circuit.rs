//! The client's side of one virtual circuit, without the socket.
//!
//! [`ClientCircuit`] sits between the channel handles and the core's
//! [`VirtualCircuit`], which owns every piece of protocol state of the
//! circuit (channels and their sids and access rights, pending ioids,
//! subscriptions). This layer keeps only what the core cannot: which caller
//! waits on which ioid, and each channel's handle-side state
//! ([`ChannelShared`]: its connection state and subscription sinks).
//!
//! The shell ([`super::circuit_task`]) drives it:
//! - a request from a handle goes to [`ClientCircuit::handle_msg`], which
//!   encodes commands into [`ClientCircuit::out`];
//! - bytes read from the socket go to [`ClientCircuit::recv`], which turns
//!   the core's [`ClientEvent`]s into replies to the waiting callers,
//!   connection changes and queued updates;
//! - when the socket ends, [`ClientCircuit::teardown`] hands every channel
//!   back to the context for a new search.
//!
//! Time is passed in; nothing here reads a clock or touches a socket, so
//! the logic is unit-tested on the core's events (see the tests below).
//! Every step costs the same whatever the number of channels: ids are
//! looked up, never scanned for.

use crate::log::fields::ROLE_CLIENT;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::batch::BatchRead;
use super::error::ClientError;
use super::shared::{
    ChannelShared, CircuitDown, CircuitKey, CircuitMsg, ConnState, ContextShared, CtxMsg,
    PutRequest, ReadReply,
};
use crate::proto::circuit::{ChannelState, CircuitError, VirtualCircuit};
use crate::proto::command::Command;
use crate::proto::ids::IdMap;
use crate::proto::{Role, PROTOCOL_VERSION};

/// A channel handed to this circuit, as the callers see it.
pub(super) struct Attached {
    pub(super) shared: Arc<ChannelShared>,
    /// When CREATE_CHAN was answered, to tell a healthy connection from one
    /// the server keeps breaking.
    pub(super) connected_at: Option<Instant>,
}

/// A caller waiting for the reply to an ioid.
pub(super) enum Waiter {
    Get(oneshot::Sender<ReadReply>),
    Put(oneshot::Sender<Result<(), ClientError>>),
    /// A slot of a batch read ([`BatchRead`]), for channel `cid`.
    Batch {
        read: BatchRead,
        cid: u32,
    },
}

impl Waiter {
    pub(super) fn fail(self, err: ClientError) {
        match self {
            Waiter::Get(reply) => drop(reply.send(Box::new(Err(err)))),
            Waiter::Put(reply) => drop(reply.send(Err(err))),
            Waiter::Batch { read, .. } => read.deliver(Err(err)),
        }
    }
}

/// Why the circuit ended.
pub(crate) enum End {
    /// Asked to close (context closing): no re-search.
    Closed,
    /// Lost: re-search the channels.
    Lost(String),
}

/// The client logic of one circuit. See the module docs.
pub(crate) struct ClientCircuit {
    pub(super) key: CircuitKey,
    opened_at: Instant,
    pub(super) ctx: Arc<ContextShared>,
    /// Our handle on ourselves, put into each channel's `Connection`.
    pub(super) self_tx: mpsc::UnboundedSender<CircuitMsg>,
    /// The protocol state: framing, id tables, per-command log records.
    pub(super) vc: VirtualCircuit,
    pub(super) attached: IdMap<Attached>,
    pub(super) waiting: IdMap<Waiter>,
    /// Encoded commands not yet handed to the writer.
    pub(crate) out: Vec<u8>,
}

impl ClientCircuit {
    /// A circuit from `our_addr` to `key.addr`, opened at `now`, with its
    /// handshake (version, host and user name) already encoded in `out`.
    pub(crate) fn new(
        key: CircuitKey,
        ctx: Arc<ContextShared>,
        self_tx: mpsc::UnboundedSender<CircuitMsg>,
        our_addr: SocketAddr,
        now: Instant,
    ) -> ClientCircuit {
        let vc = VirtualCircuit::new(
            Role::Client,
            our_addr,
            key.addr,
            key.priority,
            ctx.config.max_array_bytes,
        );
        let mut c = ClientCircuit {
            key,
            opened_at: now,
            ctx,
            self_tx,
            vc,
            attached: IdMap::default(),
            waiting: IdMap::default(),
            out: Vec::with_capacity(4096),
        };
        let handshake = [
            Command::VersionRequest {
                priority: key.priority,
                version: PROTOCOL_VERSION,
                sequence: 0,
            },
            Command::HostNameRequest {
                name: c.ctx.config.host_name.clone(),
            },
            Command::ClientNameRequest {
                name: c.ctx.config.client_name.clone(),
            },
        ];
        for cmd in handshake {
            let _ = c.send(cmd);
        }
        c
    }

    /// Encode `cmd` into the outgoing buffer through the state machine
    /// (which checks it and logs it). A refusal is logged and returned.
    pub(super) fn send(&mut self, cmd: Command) -> Result<(), ClientError> {
        match self.vc.send(&cmd, &mut self.out) {
            Ok(_) => Ok(()),
            Err(e) => {
                let pv = self.vc.pv_of(&cmd);
                tracing::error!(target: "caproto::circ", pv = pv.as_deref(),
                    their_addr = %self.key.addr, role = ROLE_CLIENT, "cannot send {cmd:?}: {e}");
                Err(ClientError::Circuit(e))
            }
        }
    }

    /// The sid of `cid` if it is connected on this circuit.
    pub(super) fn sid_of(&self, cid: u32) -> Option<u32> {
        self.vc
            .channel(cid)
            .filter(|c| c.state == ChannelState::Connected)?
            .sid
    }

    pub(super) fn pv_str(&self, cid: u32) -> &str {
        self.attached
            .get(&cid)
            .map(|a| &*a.shared.name)
            .unwrap_or_default()
    }

    pub(super) fn pv_name(&self, cid: u32) -> String {
        self.attached
            .get(&cid)
            .map(|a| a.shared.name.to_string())
            .unwrap_or_default()
    }

    /// Handle one request from a handle or the context; returns true when
    /// the circuit should close.
    pub(crate) fn handle_msg(&mut self, msg: CircuitMsg) -> bool {
        match msg {
            CircuitMsg::Attach(shared) => {
                if shared.dropped.load(Ordering::SeqCst) {
                    return false;
                }
                // The circuit's table shares the channel's name.
                if let Err(e) = self
                    .vc
                    .send_create_channel(&shared.name, shared.cid, &mut self.out)
                {
                    tracing::error!(target: "caproto::circ", pv = &*shared.name,
                        their_addr = %self.key.addr, role = ROLE_CLIENT,
                        "cannot send CreateChanRequest(cid={}): {e}", shared.cid);
                }
                self.attached.insert(
                    shared.cid,
                    Attached {
                        shared,
                        connected_at: None,
                    },
                );
            }
            CircuitMsg::Clear { cid } => self.clear(cid),
            CircuitMsg::Get {
                cid,
                dbr_type,
                count,
                reply,
            } => {
                let Some(sid) = self.sid_of(cid) else {
                    let _ = reply.send(Box::new(Err(self.disconnected(cid))));
                    return false;
                };
                let ioid = self.vc.new_ioid();
                let cmd = Command::ReadNotifyRequest {
                    data_type: dbr_type,
                    data_count: count,
                    sid,
                    ioid,
                };
                match self.send(cmd) {
                    Ok(()) => {
                        self.waiting.insert(ioid, Waiter::Get(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Box::new(Err(e)));
                    }
                }
            }
            CircuitMsg::Put(put) => {
                let PutRequest {
                    cid,
                    dbr_type,
                    count,
                    data,
                    notify,
                    reply,
                } = *put;
                let Some(sid) = self.sid_of(cid) else {
                    let _ = reply.send(Err(self.disconnected(cid)));
                    return false;
                };
                let ioid = self.vc.new_ioid();
                let cmd = if notify {
                    Command::WriteNotifyRequest {
                        data,
                        data_type: dbr_type,
                        data_count: count,
                        sid,
                        ioid,
                    }
                } else {
                    Command::WriteRequest {
                        data,
                        data_type: dbr_type,
                        data_count: count,
                        sid,
                        ioid,
                    }
                };
                match self.send(cmd) {
                    Ok(()) if notify => {
                        self.waiting.insert(ioid, Waiter::Put(reply));
                    }
                    Ok(()) => {
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            CircuitMsg::Subscribe { cid, subid } => self.start_subscription(cid, subid),
            CircuitMsg::Unsubscribe { subid } => {
                let Some(sub) = self
                    .vc
                    .subscription(subid)
                    .filter(|s| s.state == crate::proto::circuit::SubscriptionState::Active)
                else {
                    return false;
                };
                let cmd = Command::EventCancelRequest {
                    data_type: sub.data_type,
                    data_count: sub.data_count,
                    sid: sub.sid,
                    subscriptionid: subid,
                };
                let _ = self.send(cmd);
            }
            CircuitMsg::Close => return true,
        }
        false
    }

    /// The last handle on `cid` is gone: forget its callers and clear it on
    /// the server (once it is created there, if it is not yet).
    pub(super) fn clear(&mut self, cid: u32) {
        if self.attached.remove(&cid).is_none() {
            return;
        }
        // Nobody can be waiting (the handles are gone); drop what the core
        // still lists for the channel, without a scan of the whole table.
        let (ioids, _) = self.vc.owned_by(cid);
        for ioid in ioids {
            self.waiting.remove(ioid);
        }
        if let Some(sid) = self.sid_of(cid) {
            let _ = self.send(Command::ClearChannelRequest { sid, cid });
        }
    }

    fn disconnected(&self, cid: u32) -> ClientError {
        ClientError::Disconnected {
            pv: self.pv_name(cid),
        }
    }

    /// Send the EVENT_ADD for `subid` if the channel is connected here, the
    /// subscription still exists, and it was not sent already.
    pub(super) fn start_subscription(&mut self, cid: u32, subid: u32) {
        let Some(sid) = self.sid_of(cid) else { return };
        if self.vc.subscription(subid).is_some() {
            return;
        }
        let Some(native) = self
            .vc
            .channel(cid)
            .and_then(|c| c.native_type)
            .map(|t| t.native())
        else {
            return;
        };
        let Some(attached) = self.attached.get(&cid) else {
            return;
        };
        let cmd = {
            let subs = attached.shared.subs();
            let Some(spec) = subs.get(&subid) else { return };
            Command::EventAddRequest {
                data_type: spec.request.resolve(native),
                data_count: spec.count,
                sid,
                subscriptionid: subid,
                low: 0.0,
                high: 0.0,
                to: 0.0,
                mask: spec.mask,
            }
        };
        let _ = self.send(cmd);
    }

    /// Bytes read from the socket at `now`: every complete command is
    /// handled. `Err` carries the reason the circuit must close.
    pub(crate) fn recv(&mut self, bytes: &[u8], now: Instant) -> Result<(), String> {
        self.vc.recv(bytes);
        while let Some(next) = self.vc.next_client_event() {
            match next {
                Ok(event) => self.handle_event(event, now),
                Err(e) if e.is_fatal() => {
                    if let CircuitError::OversizedReply(o) = &e {
                        self.refuse_reply(o);
                    }
                    return Err(format!("protocol error: {e}"));
                }
                // A late or stray reply (e.g. for a channel we just
                // cleared): consumed, nothing to do.
                Err(e) => tracing::debug!(target: "caproto::circ",
                    their_addr = %self.key.addr, role = ROLE_CLIENT, "ignored: {e}"),
            }
        }
        Ok(())
    }

    /// Encode an EchoRequest (the shell's idle check).
    pub(crate) fn send_echo(&mut self) {
        let _ = self.send(Command::EchoRequest);
    }

    /// The circuit ended: every channel goes back to searching (its waiting
    /// callers fail, its subscribers hear of the disconnect), and the context
    /// is told which channels to search for again. `late` are channels that
    /// were on their way to this circuit.
    pub(crate) fn teardown(mut self, end: End, late: Vec<Arc<ChannelShared>>, now: Instant) {
        // A batch's read in flight fails as a caller's `get` would: with the
        // reason the circuit ended. (A batch read not yet sent stays with
        // its channel and goes out when the channel reconnects.)
        for (_, waiter) in std::mem::take(&mut self.waiting).drain() {
            if let Waiter::Batch { read, cid } = waiter {
                let pv = self.pv_name(cid);
                read.deliver(Err(match &end {
                    End::Lost(why) => ClientError::CircuitFailed {
                        pv,
                        server: self.key.addr,
                        reason: why.clone(),
                    },
                    End::Closed => ClientError::Disconnected { pv },
                }));
            }
        }
        let mut cids: Vec<(u32, Option<Duration>)> = Vec::with_capacity(self.attached.len());
        for (cid, a) in self.attached.drain() {
            cids.push((
                cid,
                a.connected_at.map(|t| now.saturating_duration_since(t)),
            ));
            if let End::Lost(why) = &end {
                // Kept so a wait for the channel that then times out can say why.
                a.shared.set_failure(self.key.addr, why);
            }
            detach(&a, a.connected_at.is_some());
        }
        for shared in &late {
            if let End::Lost(why) = &end {
                shared.set_failure(self.key.addr, why);
            }
            cids.push((shared.cid, None));
        }
        self.vc.disconnect();
        match &end {
            End::Closed => {
                tracing::debug!(target: "caproto::ctx", their_addr = %self.key.addr,
                    role = ROLE_CLIENT, "circuit closed");
            }
            End::Lost(why) => {
                tracing::info!(target: "caproto::ctx", their_addr = %self.key.addr,
                    role = ROLE_CLIENT, "circuit lost: {why}");
            }
        }
        let _ = self.ctx.tx.send(CtxMsg::CircuitDown(Box::new(CircuitDown {
            key: self.key,
            cids,
            lived: Some(now.saturating_duration_since(self.opened_at)),
        })));
    }
}

/// A channel left its circuit: back to searching; subscribers of a channel
/// that was connected hear of the disconnect.
pub(super) fn detach(a: &Attached, was_connected: bool) {
    a.shared.state.send_if_modified(|s| {
        if matches!(s, ConnState::Connected(_)) {
            *s = ConnState::Searching;
            true
        } else {
            false
        }
    });
    if was_connected {
        for spec in a.shared.subs().values() {
            spec.sink.disconnected(&a.shared.name);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The circuit logic driven with no socket: a server-role
    //! [`VirtualCircuit`] reads what the client encodes and encodes the
    //! server's answers, so every byte crosses a real codec.

    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::client::batch::{ReadBatch, SlotPoll};
    use crate::client::shared::FailureKind;
    use crate::client::shared::{MonitorEvent, SetQueue, Sink, SubQueue, SubSpec, SubType};
    use crate::client::Config;
    use crate::proto::command::AccessRights;
    use crate::proto::dbr::{DbrClass, DbrType, NativeType, Value};

    const SERVER: &str = "127.0.0.1:5064";
    const CLIENT: &str = "127.0.0.1:40000";

    struct Rig {
        client: ClientCircuit,
        server: VirtualCircuit,
        ctx_rx: mpsc::UnboundedReceiver<CtxMsg>,
        now: Instant,
    }

    impl Rig {
        fn new() -> Rig {
            let (tx, ctx_rx) = mpsc::unbounded_channel();
            let ctx = Arc::new(ContextShared {
                config: Config::default(),
                tx,
                sub_queue_capacity: 16,
                next_cid: AtomicU32::new(1),
                next_subid: AtomicU32::new(1),
            });
            let (self_tx, _self_rx) = mpsc::unbounded_channel();
            let key = CircuitKey {
                addr: SERVER.parse().unwrap(),
                priority: 0,
            };
            let now = Instant::now();
            let client = ClientCircuit::new(key, ctx, self_tx, CLIENT.parse().unwrap(), now);
            let server = VirtualCircuit::new(
                Role::Server,
                SERVER.parse().unwrap(),
                CLIENT.parse().unwrap(),
                0,
                1 << 20,
            );
            let mut rig = Rig {
                client,
                server,
                ctx_rx,
                now,
            };
            let handshake = rig.server_reads();
            assert!(matches!(handshake[0], Command::VersionRequest { .. }));
            rig.answer(&[Command::VersionResponse {
                version: PROTOCOL_VERSION,
                sequence: None,
            }]);
            rig
        }

        /// What the client encoded since the last call, as the server reads it.
        fn server_reads(&mut self) -> Vec<Command> {
            let bytes = std::mem::take(&mut self.client.out);
            self.server.recv(&bytes);
            let mut cmds = Vec::new();
            while let Some(cmd) = self.server.next_command() {
                cmds.push(cmd.expect("the client sends what the protocol allows"));
            }
            cmds
        }

        /// The server sends `cmds`; the client reads them.
        fn answer(&mut self, cmds: &[Command]) {
            let mut bytes = Vec::new();
            for cmd in cmds {
                self.server.send(cmd, &mut bytes).expect("a valid reply");
            }
            self.client
                .recv(&bytes, self.now)
                .expect("no protocol error");
        }

        /// Ask for a DOUBLE read of `cid`; the receiver gets the reply.
        fn get(&mut self, cid: u32) -> oneshot::Receiver<ReadReply> {
            let (reply, rx) = oneshot::channel();
            self.client.handle_msg(CircuitMsg::Get {
                cid,
                dbr_type: DbrType::plain(NativeType::Double),
                count: 1,
                reply,
            });
            rx
        }

        /// Attach a channel and let the server create it as a double.
        fn connect(&mut self, name: &str, cid: u32, sid: u32) -> Arc<ChannelShared> {
            let shared = ChannelShared::new(name.into(), cid);
            self.create(&shared, sid);
            shared
        }

        /// Attach `shared` and let the server create it as a double.
        fn create(&mut self, shared: &Arc<ChannelShared>, sid: u32) {
            let cid = shared.cid;
            self.client.handle_msg(CircuitMsg::Attach(shared.clone()));
            let sent = self.server_reads();
            assert!(
                matches!(&sent[..], [Command::CreateChanRequest { cid: c, .. }] if *c == cid),
                "{sent:?}"
            );
            self.answer(&[
                Command::AccessRightsResponse {
                    cid,
                    access_rights: AccessRights {
                        read: true,
                        write: true,
                    },
                },
                Command::CreateChanResponse {
                    data_type: DbrType::plain(NativeType::Double),
                    data_count: 1,
                    cid,
                    sid,
                },
            ]);
        }
    }

    fn double(x: f64) -> Vec<u8> {
        x.to_be_bytes().to_vec()
    }

    #[test]
    fn a_created_channel_is_published_with_its_info() {
        let mut rig = Rig::new();
        let shared = rig.connect("a", 1, 101);
        let conn = shared.connection().expect("connected");
        assert_eq!(conn.info.native_type, NativeType::Double);
        assert_eq!(conn.info.count, 1);
        assert!(conn.info.access_rights.read && conn.info.access_rights.write);
        assert_eq!(rig.client.sid_of(1), Some(101));
    }

    #[test]
    fn a_read_reply_reaches_its_caller_decoded() {
        let mut rig = Rig::new();
        rig.connect("a", 1, 101);
        let mut rx = rig.get(1);
        let ioid = match &rig.server_reads()[..] {
            [Command::ReadNotifyRequest { sid: 101, ioid, .. }] => *ioid,
            other => panic!("{other:?}"),
        };
        assert!(rx.try_recv().is_err(), "no reply yet");
        rig.answer(&[Command::ReadNotifyResponse {
            data: double(2.5),
            data_type: DbrType::plain(NativeType::Double),
            data_count: 1,
            status: 1,
            ioid,
        }]);
        let reading = (*rx.try_recv().expect("answered")).expect("a value");
        assert_eq!(reading.value, Value::Double(vec![2.5]));
    }

    /// A channel carrying slot 0 of a one-slot batch read of doubles.
    fn batch_channel(name: &str, cid: u32) -> (Arc<ChannelShared>, Arc<ReadBatch>) {
        let batch = ReadBatch::new(1, Box::new(|_| (DbrType::DOUBLE, None)), 1 << 20);
        let shared = ChannelShared::new(name.into(), cid);
        shared.subs().read_once = Some(BatchRead {
            batch: batch.clone(),
            index: 0,
        });
        (shared, batch)
    }

    #[test]
    fn a_batch_read_goes_out_with_the_creation_and_lands_in_its_slot() {
        let mut rig = Rig::new();
        let (shared, batch) = batch_channel("a", 1);
        rig.create(&shared, 101);
        // No request from a handle: the circuit sent the read by itself.
        let ioid = match &rig.server_reads()[..] {
            [Command::ReadNotifyRequest {
                sid: 101,
                ioid,
                data_count: 0,
                ..
            }] => *ioid,
            other => panic!("{other:?}"),
        };
        assert!(shared.subs().read_once.is_none(), "the read is sent once");
        assert!(matches!(batch.poll(0), SlotPoll::Sent));
        rig.answer(&[Command::ReadNotifyResponse {
            data: double(4.5),
            data_type: DbrType::plain(NativeType::Double),
            data_count: 1,
            status: 1,
            ioid,
        }]);
        match batch.poll(0) {
            SlotPoll::Ready(r) => assert_eq!(r.expect("a value").value, Value::Double(vec![4.5])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_batch_read_in_flight_fails_with_the_circuit_and_one_unsent_waits() {
        let mut rig = Rig::new();
        let (sent, sent_batch) = batch_channel("a", 1);
        rig.create(&sent, 101);
        rig.server_reads();
        let (unsent, unsent_batch) = batch_channel("b", 2);
        rig.client.handle_msg(CircuitMsg::Attach(unsent.clone()));
        let now = rig.now;
        rig.client
            .teardown(End::Lost("reset by peer".into()), Vec::new(), now);
        match sent_batch.poll(0) {
            SlotPoll::Ready(r) => match *r {
                Err(ClientError::CircuitFailed { pv, reason, .. }) => {
                    assert_eq!(pv, "a");
                    assert_eq!(reason, "reset by peer");
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        // Not yet created: its read stays with it for the next circuit.
        assert!(matches!(unsent_batch.poll(0), SlotPoll::Connecting));
        assert!(unsent.subs().read_once.is_some());
    }

    #[test]
    fn a_refused_creation_fails_the_batch_slot() {
        let mut rig = Rig::new();
        let (shared, batch) = batch_channel("a", 1);
        rig.client.handle_msg(CircuitMsg::Attach(shared.clone()));
        rig.server_reads();
        rig.answer(&[Command::CreateChFailResponse { cid: 1 }]);
        match batch.poll(0) {
            SlotPoll::Ready(r) => {
                assert!(matches!(*r, Err(ClientError::CreateFailed { .. })), "{r:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_read_fails_with_the_servers_words() {
        let mut rig = Rig::new();
        rig.connect("a", 1, 101);
        let mut rx = rig.get(1);
        let request = rig.server_reads().remove(0);
        let mut original = crate::proto::header::Header::default();
        if let Command::ReadNotifyRequest { ioid, sid, .. } = request {
            original.command = crate::proto::command::id::READ_NOTIFY;
            original.parameter1 = sid;
            original.parameter2 = ioid;
        }
        rig.answer(&[Command::ErrorResponse {
            original_request: original,
            cid: 1,
            status: 0x0e,
            error_message: "no such luck".into(),
        }]);
        match *rx.try_recv().expect("answered") {
            Err(ClientError::Server { pv, message, .. }) => {
                assert_eq!(pv, "a");
                assert_eq!(message, "no such luck");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clearing_a_channel_drops_its_waiters_and_clears_it_on_the_server() {
        let mut rig = Rig::new();
        rig.connect("a", 1, 101);
        rig.connect("b", 2, 102);
        let mut receivers = Vec::new();
        for cid in [1, 2] {
            receivers.push(rig.get(cid));
        }
        rig.server_reads();
        rig.client.handle_msg(CircuitMsg::Clear { cid: 1 });
        assert!(
            matches!(
                &rig.server_reads()[..],
                [Command::ClearChannelRequest { sid: 101, cid: 1 }]
            ),
            "the clear goes out"
        );
        assert!(
            matches!(
                receivers[0].try_recv(),
                Err(oneshot::error::TryRecvError::Closed)
            ),
            "the cleared channel's waiter is dropped"
        );
        assert!(
            matches!(
                receivers[1].try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            ),
            "the other channel's read still waits"
        );
        assert!(rig.client.waiting.len() == 1);
    }

    #[test]
    fn a_channel_cleared_while_being_created_is_cleared_once_created() {
        let mut rig = Rig::new();
        let shared = ChannelShared::new("a".into(), 1);
        rig.client.handle_msg(CircuitMsg::Attach(shared));
        rig.server_reads();
        rig.client.handle_msg(CircuitMsg::Clear { cid: 1 });
        assert!(rig.server_reads().is_empty(), "nothing to clear yet");
        rig.answer(&[Command::CreateChanResponse {
            data_type: DbrType::plain(NativeType::Double),
            data_count: 1,
            cid: 1,
            sid: 7,
        }]);
        assert!(matches!(
            &rig.server_reads()[..],
            [Command::ClearChannelRequest { sid: 7, cid: 1 }]
        ));
    }

    #[test]
    fn subscriptions_go_out_on_connect_with_the_native_type_and_updates_reach_the_sink() {
        let mut rig = Rig::new();
        let shared = ChannelShared::new("a".into(), 1);
        let set = SetQueue::new(1, 4);
        shared.subs().insert(
            9,
            SubSpec {
                request: SubType::Native {
                    class: DbrClass::Time,
                    enum_as_number: false,
                },
                count: 0,
                mask: 1,
                sink: Sink::Set {
                    queue: set.clone(),
                    index: 0,
                },
            },
        );
        rig.client.handle_msg(CircuitMsg::Attach(shared.clone()));
        rig.server_reads();
        rig.answer(&[Command::CreateChanResponse {
            data_type: DbrType::plain(NativeType::Enum),
            data_count: 1,
            cid: 1,
            sid: 5,
        }]);
        let sent = rig.server_reads();
        match &sent[..] {
            [Command::EventAddRequest {
                data_type,
                sid: 5,
                subscriptionid: 9,
                ..
            }] => assert_eq!(
                *data_type,
                DbrType::Value(DbrClass::Time, NativeType::String),
                "enums as strings, TIME class"
            ),
            other => panic!("{other:?}"),
        }
        // A TIME_STRING update: status, severity, stamp (12 bytes), then 40 chars.
        let mut data = vec![0u8; 12];
        let mut text = b"on".to_vec();
        text.resize(40, 0);
        data.extend_from_slice(&text);
        rig.answer(&[Command::EventAddResponse {
            data,
            data_type: DbrType::Value(DbrClass::Time, NativeType::String),
            data_count: 1,
            status: 1,
            subscriptionid: 9,
        }]);
        let mut events = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(set.pop_into(&mut events, 10, |_| String::new()));
        assert!(matches!(events[0], (0, MonitorEvent::Connected(_))));
        match &events[1] {
            (0, MonitorEvent::Update(Ok(r))) => {
                assert_eq!(r.value, Value::String(vec!["on".into()]))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_server_disconnect_sends_the_channel_back_to_searching() {
        let mut rig = Rig::new();
        let shared = rig.connect("a", 1, 101);
        let queue = SubQueue::new(4);
        shared.subs().insert(
            3,
            SubSpec {
                request: SubType::Fixed(DbrType::plain(NativeType::Double)),
                count: 0,
                mask: 1,
                sink: Sink::Queue(queue.clone()),
            },
        );
        rig.client
            .handle_msg(CircuitMsg::Subscribe { cid: 1, subid: 3 });
        assert_eq!(rig.server_reads().len(), 1);
        rig.answer(&[Command::ServerDisconnResponse { cid: 1 }]);
        assert!(shared.connection().is_none(), "no longer connected");
        assert!(matches!(
            rig.ctx_rx.try_recv(),
            Ok(CtxMsg::Research { cid: 1, .. })
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(matches!(
            rt.block_on(queue.pop()),
            Some(Err(ClientError::Disconnected { .. }))
        ));
    }

    #[test]
    fn teardown_hands_every_channel_back_for_a_new_search() {
        let mut rig = Rig::new();
        let a = rig.connect("a", 1, 101);
        let late = ChannelShared::new("late".into(), 2);
        let Rig {
            client, mut ctx_rx, ..
        } = rig;
        client.teardown(End::Lost("reset".into()), vec![late], Instant::now());
        assert!(a.connection().is_none());
        match ctx_rx.try_recv() {
            Ok(CtxMsg::CircuitDown(down)) => {
                let CircuitDown {
                    mut cids, lived, ..
                } = *down;
                cids.sort_by_key(|(cid, _)| *cid);
                assert_eq!(cids.len(), 2);
                assert!(
                    cids[0].1.is_some(),
                    "the connected one says how long it lived"
                );
                assert_eq!(cids[1], (2, None));
                assert!(lived.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            a.failure(),
            Some(crate::client::shared::CircuitFailure { kind: FailureKind::Circuit(ref why), .. }) if why == "reset"
        ));
    }
}
