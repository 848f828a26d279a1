//! One TCP virtual circuit to one server (per priority), shared by every
//! channel found on that server.
//!
//! The task owns the socket's read half and all per-circuit protocol state
//! (channel ids, pending I/O ids, active subscriptions). Channel handles send
//! it [`CircuitMsg`]s; it encodes commands into one buffer and hands the
//! buffer to a writer task once per wake-up, so a burst of requests costs one
//! `write` system call. Replies are decoded here and routed to the waiting
//! callers or subscription queues. When the circuit dies, every channel on it
//! goes back to searching and the context re-searches them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backlog::Backlog;
use super::channel::{ChannelInfo, ChannelShared, ConnState, Connection, FailureKind, Reading};
use super::context::{ContextShared, CtxMsg};
use super::error::{eca_description, eca_is_success, ClientError};
use crate::proto::circuit::{CircuitError, Oversized, ReplyTo, VirtualCircuit};
use crate::proto::command::{id, AccessRights, Command};
use crate::proto::dbr::{self, DbrType};
use crate::proto::{Role, PROTOCOL_VERSION};

/// A circuit is identified by its server and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CircuitKey {
    pub addr: SocketAddr,
    pub priority: u16,
}

/// Requests from channel handles and the context to a circuit task.
#[derive(Debug)]
pub(crate) enum CircuitMsg {
    /// Create this (found) channel on the circuit.
    Attach(Arc<ChannelShared>),
    /// The channel was dropped: clear it on the server.
    Clear { cid: u32 },
    /// READ_NOTIFY.
    Get {
        cid: u32,
        dbr_type: DbrType,
        count: u32,
        reply: oneshot::Sender<Result<Reading, ClientError>>,
    },
    /// WRITE or WRITE_NOTIFY.
    Put {
        cid: u32,
        dbr_type: DbrType,
        count: u32,
        data: Vec<u8>,
        notify: bool,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Send the EVENT_ADD for a subscription in the channel's table (if not yet sent).
    Subscribe { cid: u32, subid: u32 },
    /// Send the EVENT_CANCEL for a subscription (if it was sent).
    Unsubscribe { cid: u32, subid: u32 },
    /// Flush what is queued, then close the circuit.
    Close,
}

/// The context's handle on a running circuit task.
#[derive(Debug)]
pub(crate) struct CircuitHandle {
    pub tx: mpsc::UnboundedSender<CircuitMsg>,
    pub task: JoinHandle<()>,
}

/// Start a circuit task connecting to `key.addr`.
pub(crate) fn spawn(key: CircuitKey, ctx: Arc<ContextShared>) -> CircuitHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(key, ctx, tx.clone(), rx));
    CircuitHandle { tx, task }
}

/// A channel as the circuit sees it.
struct Entry {
    shared: Arc<ChannelShared>,
    sid: Option<u32>,
    access: AccessRights,
    /// subid -> requested type and count, for subscriptions whose EVENT_ADD went out.
    active: HashMap<u32, (DbrType, u32)>,
    /// When CREATE_CHAN was answered, to tell a healthy connection from one
    /// the server keeps breaking.
    connected_at: Option<Instant>,
}

/// An I/O request waiting for its reply.
enum Pending {
    Get {
        cid: u32,
        reply: oneshot::Sender<Result<Reading, ClientError>>,
    },
    Put {
        cid: u32,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// Why the circuit ended.
enum End {
    /// Asked to close (context closing): no re-search.
    Closed,
    /// Lost: re-search the channels.
    Lost(String),
}

struct Circuit {
    key: CircuitKey,
    /// When the TCP connection was made.
    opened_at: Instant,
    ctx: Arc<ContextShared>,
    /// Our handle on ourselves, put into each channel's `Connection`.
    self_tx: mpsc::UnboundedSender<CircuitMsg>,
    /// The protocol state machine: framing, id tables, per-command log records.
    vc: VirtualCircuit,
    entries: HashMap<u32, Entry>,
    /// subid -> cid.
    sub_owner: HashMap<u32, u32>,
    pending: HashMap<u32, Pending>,
    out: Vec<u8>,
}

async fn run(
    key: CircuitKey,
    ctx: Arc<ContextShared>,
    self_tx: mpsc::UnboundedSender<CircuitMsg>,
    mut rx: mpsc::UnboundedReceiver<CircuitMsg>,
) {
    let connect = tokio::time::timeout(ctx.config.echo_timeout, TcpStream::connect(key.addr));
    let stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return give_up(key, &ctx, rx, e.to_string()),
        Err(_) => return give_up(key, &ctx, rx, "connect timed out".into()),
    };
    let _ = stream.set_nodelay(true);
    let our_addr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tracing::info!(target: "caproto::ctx", our_addr = %our_addr, their_addr = %key.addr,
        role = "client", "circuit connected");
    let (rd, wr) = stream.into_split();
    let (wtx, wrx) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog::default());
    let mut writer = tokio::spawn(write_loop(wr, wrx, Arc::clone(&backlog)));
    let mut c = Circuit {
        key,
        opened_at: Instant::now(),
        ctx: ctx.clone(),
        self_tx,
        vc: VirtualCircuit::new(
            Role::Client,
            our_addr,
            key.addr,
            key.priority,
            ctx.config.max_array_bytes,
        ),
        entries: HashMap::new(),
        sub_owner: HashMap::new(),
        pending: HashMap::new(),
        out: Vec::with_capacity(4096),
    };
    let _ = c.send(
        Command::VersionRequest {
            priority: key.priority,
            version: PROTOCOL_VERSION,
            sequence: 0,
        },
        None,
    );
    let _ = c.send(
        Command::HostNameRequest {
            name: ctx.config.host_name.clone(),
        },
        None,
    );
    let _ = c.send(
        Command::ClientNameRequest {
            name: ctx.config.client_name.clone(),
        },
        None,
    );
    let end = c.serve(rd, &mut rx, &wtx, &backlog, &mut writer).await;
    // Stop accepting requests, and collect the channels that were on their
    // way to us, so they can be searched for again.
    rx.close();
    let mut late = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        if let CircuitMsg::Attach(shared) = msg {
            late.push(shared);
        }
    }
    // Let the writer flush what is queued (bounded, in case the peer stalls).
    drop(wtx);
    let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
    writer.abort();
    c.teardown(end, late);
}

/// The TCP connection could not be made: hand every channel back for re-search.
fn give_up(
    key: CircuitKey,
    ctx: &ContextShared,
    mut rx: mpsc::UnboundedReceiver<CircuitMsg>,
    why: String,
) {
    tracing::warn!(target: "caproto::ctx", their_addr = %key.addr, role = "client",
        "cannot connect circuit: {why}");
    rx.close();
    let mut cids = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        if let CircuitMsg::Attach(shared) = msg {
            shared.set_failure(key.addr, &format!("cannot connect: {why}"));
            cids.push((shared.cid, None));
        }
    }
    let _ = ctx.tx.send(CtxMsg::CircuitDown {
        key,
        cids,
        lived: None,
    });
}

/// Write everything the circuit hands over, coalescing queued buffers into
/// one `write` call, and tell `backlog` what the socket took.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    backlog: Arc<Backlog>,
) {
    while let Some(mut buf) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        if wr.write_all(&buf).await.is_err() {
            return;
        }
        backlog.written(buf.len());
    }
    let _ = wr.shutdown().await;
}

/// What woke the circuit up.
enum Wake {
    Msg(Option<CircuitMsg>),
    /// The writer made room in a full backlog.
    Drained,
    Read(std::io::Result<usize>),
    Timer,
    WriterDone,
}

impl Circuit {
    async fn serve(
        &mut self,
        mut rd: OwnedReadHalf,
        rx: &mut mpsc::UnboundedReceiver<CircuitMsg>,
        wtx: &mpsc::UnboundedSender<Vec<u8>>,
        backlog: &Backlog,
        writer: &mut JoinHandle<()>,
    ) -> End {
        let conn_tmo = self.ctx.config.conn_timeout;
        let echo_tmo = self.ctx.config.echo_timeout;
        let mut inbuf = vec![0u8; 64 * 1024];
        let mut last_heard = Instant::now();
        let mut echo_sent: Option<Instant> = None;
        // Requests that queued up while we were connecting go out in the
        // same write as the handshake (as many as the backlog allows).
        if self.handle_queued(rx, backlog) {
            return End::Closed;
        }
        loop {
            if !self.out.is_empty() {
                let chunk = std::mem::replace(&mut self.out, Vec::with_capacity(4096));
                backlog.handed(chunk.len());
                if wtx.send(chunk).is_err() {
                    return End::Lost("writer stopped".into());
                }
            }
            // A server that does not read must not make us queue without
            // limit: past the backlog, requests wait (and so do their callers).
            let full = backlog.full(0);
            let deadline = match echo_sent {
                Some(t) => t + echo_tmo,
                None => last_heard + conn_tmo,
            };
            let wake = tokio::select! {
                biased;
                m = rx.recv(), if !full => Wake::Msg(m),
                _ = backlog.drained(), if full => Wake::Drained,
                r = rd.read(&mut inbuf) => Wake::Read(r),
                _ = tokio::time::sleep_until(deadline) => Wake::Timer,
                _ = &mut *writer => Wake::WriterDone,
            };
            match wake {
                Wake::Msg(None) => return End::Closed,
                Wake::Msg(Some(m)) => {
                    if self.handle_msg(m) || self.handle_queued(rx, backlog) {
                        return End::Closed;
                    }
                }
                Wake::Drained => {}
                Wake::Read(Ok(0)) => return End::Lost("server closed the connection".into()),
                Wake::Read(Err(e)) => return End::Lost(e.to_string()),
                Wake::Read(Ok(n)) => {
                    last_heard = Instant::now();
                    echo_sent = None;
                    self.vc.recv(&inbuf[..n]);
                    while let Some(next) = self.vc.next_command() {
                        match next {
                            Ok(cmd) => self.handle_cmd(cmd),
                            Err(e) if e.is_fatal() => {
                                if let CircuitError::OversizedReply(o) = &e {
                                    self.refuse_reply(o);
                                }
                                return End::Lost(format!("protocol error: {e}"));
                            }
                            // A late or stray reply (e.g. for a channel we just
                            // cleared): consumed, nothing to do.
                            Err(e) => tracing::debug!(target: "caproto::circ",
                                their_addr = %self.key.addr, role = "client", "ignored: {e}"),
                        }
                    }
                }
                Wake::Timer => {
                    if echo_sent.is_some() {
                        return End::Lost("echo not answered (EPICS_CA_CONN_TMO)".into());
                    }
                    let _ = self.send(Command::EchoRequest, None);
                    echo_sent = Some(Instant::now());
                }
                Wake::WriterDone => return End::Lost("write failed".into()),
            }
        }
    }

    /// Encode `cmd` into the outgoing buffer through the state machine (which
    /// checks it and logs it). A refusal is logged and returned; the caller
    /// decides whom to tell.
    fn send(&mut self, cmd: Command, pv: Option<&str>) -> Result<(), ClientError> {
        match self.vc.send(&cmd, &mut self.out) {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(target: "caproto::circ", pv, their_addr = %self.key.addr,
                    role = "client", "cannot send {cmd:?}: {e}");
                Err(ClientError::Circuit(e))
            }
        }
    }

    fn alloc_ioid(&mut self) -> u32 {
        self.vc.new_ioid()
    }

    /// Handle the requests already queued, as many as `backlog` has room
    /// for; returns true when one of them closes the circuit.
    fn handle_queued(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<CircuitMsg>,
        backlog: &Backlog,
    ) -> bool {
        while !backlog.full(self.out.len()) {
            let Ok(m) = rx.try_recv() else { break };
            if self.handle_msg(m) {
                return true;
            }
        }
        false
    }

    /// Handle one request; returns true when the circuit should close.
    fn handle_msg(&mut self, msg: CircuitMsg) -> bool {
        match msg {
            CircuitMsg::Attach(shared) => {
                if shared.dropped.load(std::sync::atomic::Ordering::SeqCst) {
                    return false;
                }
                let cmd = Command::CreateChanRequest {
                    name: shared.name.clone(),
                    cid: shared.cid,
                    version: PROTOCOL_VERSION,
                };
                let name = shared.name.clone();
                self.entries.insert(
                    shared.cid,
                    Entry {
                        shared,
                        sid: None,
                        access: AccessRights::default(),
                        active: HashMap::new(),
                        connected_at: None,
                    },
                );
                let _ = self.send(cmd, Some(&name));
            }
            CircuitMsg::Clear { cid } => {
                if let Some(entry) = self.entries.remove(&cid) {
                    for subid in entry.active.keys() {
                        self.sub_owner.remove(subid);
                    }
                    self.pending.retain(|_, p| p.cid() != cid);
                    if let Some(sid) = entry.sid {
                        let _ = self.send(
                            Command::ClearChannelRequest { sid, cid },
                            Some(&entry.shared.name),
                        );
                    }
                }
            }
            CircuitMsg::Get {
                cid,
                dbr_type,
                count,
                reply,
            } => {
                let Some((sid, name)) = self.sid_of(cid) else {
                    let _ = reply.send(Err(self.disconnected(cid)));
                    return false;
                };
                let ioid = self.alloc_ioid();
                let cmd = Command::ReadNotifyRequest {
                    data_type: dbr_type,
                    data_count: count,
                    sid,
                    ioid,
                };
                match self.send(cmd, Some(&name)) {
                    Ok(()) => {
                        self.pending.insert(ioid, Pending::Get { cid, reply });
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            CircuitMsg::Put {
                cid,
                dbr_type,
                count,
                data,
                notify,
                reply,
            } => {
                let Some((sid, name)) = self.sid_of(cid) else {
                    let _ = reply.send(Err(self.disconnected(cid)));
                    return false;
                };
                let ioid = self.alloc_ioid();
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
                match self.send(cmd, Some(&name)) {
                    Ok(()) if notify => {
                        self.pending.insert(ioid, Pending::Put { cid, reply });
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
            CircuitMsg::Unsubscribe { cid, subid } => {
                let Some(entry) = self.entries.get_mut(&cid) else {
                    return false;
                };
                let (Some((dbr_type, count)), Some(sid)) = (entry.active.remove(&subid), entry.sid)
                else {
                    return false;
                };
                self.sub_owner.remove(&subid);
                let name = entry.shared.name.clone();
                let cmd = Command::EventCancelRequest {
                    data_type: dbr_type,
                    data_count: count,
                    sid,
                    subscriptionid: subid,
                };
                let _ = self.send(cmd, Some(&name));
            }
            CircuitMsg::Close => return true,
        }
        false
    }

    fn sid_of(&self, cid: u32) -> Option<(u32, String)> {
        let e = self.entries.get(&cid)?;
        Some((e.sid?, e.shared.name.clone()))
    }

    fn disconnected(&self, cid: u32) -> ClientError {
        ClientError::Disconnected {
            pv: self
                .entries
                .get(&cid)
                .map(|e| e.shared.name.clone())
                .unwrap_or_default(),
        }
    }

    /// Send the EVENT_ADD for `subid` if the channel is connected here, the
    /// subscription still exists, and it was not sent already.
    fn start_subscription(&mut self, cid: u32, subid: u32) {
        let Some(entry) = self.entries.get_mut(&cid) else {
            return;
        };
        let Some(sid) = entry.sid else { return };
        if entry.active.contains_key(&subid) {
            return;
        }
        let cmd = {
            let subs = entry.shared.subs();
            let Some(spec) = subs.get(&subid) else { return };
            Command::EventAddRequest {
                data_type: spec.dbr_type,
                data_count: spec.count,
                sid,
                subscriptionid: subid,
                low: 0.0,
                high: 0.0,
                to: 0.0,
                mask: spec.mask,
            }
        };
        if let Command::EventAddRequest {
            data_type,
            data_count,
            ..
        } = &cmd
        {
            entry.active.insert(subid, (*data_type, *data_count));
        }
        self.sub_owner.insert(subid, cid);
        let name = entry.shared.name.clone();
        let _ = self.send(cmd, Some(&name));
    }

    fn handle_cmd(&mut self, cmd: Command) {
        match cmd {
            Command::AccessRightsResponse { cid, access_rights } => {
                if let Some(entry) = self.entries.get_mut(&cid) {
                    entry.access = access_rights;
                    if let Some(conn) = entry.shared.connection() {
                        let mut info = conn.info.clone();
                        info.access_rights = access_rights;
                        self.publish(cid, info);
                    }
                }
            }
            Command::CreateChanResponse {
                data_type,
                data_count,
                cid,
                sid,
            } => self.channel_created(cid, sid, data_type, data_count),
            Command::CreateChFailResponse { cid } => {
                if let Some(entry) = self.entries.remove(&cid) {
                    tracing::warn!(target: "caproto::ch", pv = %entry.shared.name,
                        their_addr = %self.key.addr, role = "client", "server refused to create channel");
                    entry.shared.state.send_replace(ConnState::Failed);
                }
            }
            Command::ServerDisconnResponse { cid } => {
                if let Some(entry) = self.entries.remove(&cid) {
                    tracing::info!(target: "caproto::ch", pv = %entry.shared.name,
                        their_addr = %self.key.addr, role = "client", "server disconnected channel");
                    let lived = entry.connected_at.map(|t| t.elapsed());
                    entry
                        .shared
                        .set_failure_kind(self.key.addr, FailureKind::ServerDisconnected);
                    self.drop_entry(entry);
                    let _ = self.ctx.tx.send(CtxMsg::Research { cid, lived });
                }
            }
            Command::ReadNotifyResponse {
                data,
                data_type,
                data_count,
                status,
                ioid,
            } => {
                let Some(Pending::Get { cid, reply }) = self.pending.remove(&ioid) else {
                    return;
                };
                let pv = self.pv_name(cid);
                let result = if eca_is_success(status) {
                    decode_reading(pv, data_type, data_count, &data)
                } else {
                    Err(server_error(pv, status, None))
                };
                let _ = reply.send(result);
            }
            Command::WriteNotifyResponse { status, ioid, .. } => {
                let Some(Pending::Put { cid, reply }) = self.pending.remove(&ioid) else {
                    return;
                };
                let pv = self.pv_name(cid);
                let result = if eca_is_success(status) {
                    Ok(())
                } else {
                    Err(server_error(pv, status, None))
                };
                let _ = reply.send(result);
            }
            Command::EventAddResponse {
                data,
                data_type,
                data_count,
                status,
                subscriptionid,
            } => {
                let Some(entry) = self
                    .sub_owner
                    .get(&subscriptionid)
                    .and_then(|cid| self.entries.get(cid))
                else {
                    return;
                };
                let subs = entry.shared.subs();
                let Some(spec) = subs.get(&subscriptionid) else {
                    return;
                };
                let item = if eca_is_success(status) {
                    decode_reading(entry.shared.name.clone(), data_type, data_count, &data)
                } else {
                    Err(server_error(entry.shared.name.clone(), status, None))
                };
                spec.queue.push(item);
            }
            Command::ErrorResponse {
                original_request,
                cid,
                status,
                error_message,
            } => self.error_response(original_request, cid, status, error_message),
            Command::VersionResponse { .. }
            | Command::EchoResponse
            | Command::EchoRequest
            | Command::EventCancelResponse { .. }
            | Command::ClearChannelResponse { .. } => {
                if matches!(cmd, Command::EchoRequest) {
                    self.send(Command::EchoResponse, None).ok();
                }
            }
            other => {
                tracing::debug!(target: "caproto::circ", their_addr = %self.key.addr,
                    role = "client", "ignoring unexpected {other:?}");
            }
        }
    }

    /// A reply larger than its request closes the circuit; the request it
    /// answered fails with the reason (the others hear of the circuit).
    fn refuse_reply(&mut self, o: &Oversized) {
        tracing::info!(target: "caproto::circ", pv = %o.pv, their_addr = %self.key.addr,
            role = "client", "reply refused, closing the circuit: {}", o.reason());
        let err = || ClientError::OversizedReply {
            pv: o.pv.to_string(),
            reason: o.reason(),
        };
        match o.reply_to {
            ReplyTo::Read { ioid } => {
                if let Some(Pending::Get { reply, .. }) = self.pending.remove(&ioid) {
                    let _ = reply.send(Err(err()));
                }
            }
            ReplyTo::Event { subscriptionid } => {
                let entry = self
                    .sub_owner
                    .get(&subscriptionid)
                    .and_then(|cid| self.entries.get(cid));
                if let Some(spec) = entry.and_then(|e| {
                    e.shared
                        .subs()
                        .get(&subscriptionid)
                        .map(|s| s.queue.clone())
                }) {
                    spec.push(Err(err()));
                }
            }
        }
    }

    fn pv_name(&self, cid: u32) -> String {
        self.entries
            .get(&cid)
            .map(|e| e.shared.name.clone())
            .unwrap_or_default()
    }

    fn error_response(
        &mut self,
        original: crate::proto::Header,
        cid: u32,
        status: u32,
        message: String,
    ) {
        match original.command {
            id::READ_NOTIFY | id::WRITE_NOTIFY => {
                let Some(p) = self.pending.remove(&original.parameter2) else {
                    return;
                };
                let pv = self.pv_name(p.cid());
                let err = server_error(pv, status, Some(message));
                match p {
                    Pending::Get { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                    Pending::Put { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                }
            }
            id::EVENT_ADD => {
                let subid = original.parameter2;
                if let Some(entry) = self.sub_owner.get(&subid).and_then(|c| self.entries.get(c)) {
                    let pv = entry.shared.name.clone();
                    if let Some(spec) = entry.shared.subs().get(&subid) {
                        spec.queue
                            .push(Err(server_error(pv, status, Some(message))));
                    }
                }
            }
            id::CREATE_CHAN => {
                if let Some(entry) = self.entries.remove(&cid) {
                    entry.shared.state.send_replace(ConnState::Failed);
                }
            }
            _ => {
                tracing::warn!(target: "caproto::circ", their_addr = %self.key.addr,
                    role = "client", "server error for command {}: {message}", original.command);
            }
        }
    }

    /// CREATE_CHAN answered: the channel is connected. Publish it, then
    /// (re)send its subscriptions.
    fn channel_created(&mut self, cid: u32, sid: u32, data_type: DbrType, count: u32) {
        let Some(entry) = self.entries.get_mut(&cid) else {
            return;
        };
        entry.sid = Some(sid);
        entry.connected_at = Some(Instant::now());
        entry.shared.clear_failure();
        let info = ChannelInfo {
            native_type: data_type.native(),
            count,
            server: self.key.addr,
            access_rights: entry.access,
        };
        tracing::debug!(target: "caproto::ch", pv = %entry.shared.name, their_addr = %self.key.addr,
            role = "client", "connected: {} x{count}", data_type.native().caproto_name());
        self.publish(cid, info);
        if entry_dropped(self.entries.get(&cid)) {
            self.handle_msg(CircuitMsg::Clear { cid });
            return;
        }
        let subids: Vec<u32> = match self.entries.get(&cid) {
            Some(e) => e.shared.subs().keys().copied().collect(),
            None => return,
        };
        for subid in subids {
            self.start_subscription(cid, subid);
        }
    }

    fn publish(&self, cid: u32, info: ChannelInfo) {
        if let Some(entry) = self.entries.get(&cid) {
            entry
                .shared
                .state
                .send_replace(ConnState::Connected(Arc::new(Connection {
                    info,
                    circuit: self.self_tx.clone(),
                })));
        }
    }

    /// Forget a channel that left this circuit: back to searching, pending
    /// requests fail (their senders drop), subscribers hear of the disconnect.
    fn drop_entry(&mut self, entry: Entry) {
        let cid = entry.shared.cid;
        self.pending.retain(|_, p| p.cid() != cid);
        for subid in entry.active.keys() {
            self.sub_owner.remove(subid);
        }
        let was_connected = entry.sid.is_some();
        entry.shared.state.send_if_modified(|s| {
            if matches!(s, ConnState::Connected(_)) {
                *s = ConnState::Searching;
                true
            } else {
                false
            }
        });
        if was_connected {
            for spec in entry.shared.subs().values() {
                spec.queue.push(Err(ClientError::Disconnected {
                    pv: entry.shared.name.clone(),
                }));
            }
        }
    }

    fn teardown(mut self, end: End, late: Vec<Arc<ChannelShared>>) {
        let entries: Vec<Entry> = self.entries.drain().map(|(_, e)| e).collect();
        let mut cids: Vec<(u32, Option<Duration>)> = entries
            .iter()
            .map(|e| (e.shared.cid, e.connected_at.map(|t| t.elapsed())))
            .collect();
        cids.extend(late.iter().map(|s| (s.cid, None)));
        if let End::Lost(why) = &end {
            // Kept so a wait for the channel that then times out can say why.
            for shared in entries.iter().map(|e| &e.shared).chain(late.iter()) {
                shared.set_failure(self.key.addr, why);
            }
        }
        for entry in entries {
            self.drop_entry(entry);
        }
        self.pending.clear();
        match end {
            End::Closed => {
                tracing::debug!(target: "caproto::ctx", their_addr = %self.key.addr,
                    role = "client", "circuit closed");
            }
            End::Lost(why) => {
                tracing::info!(target: "caproto::ctx", their_addr = %self.key.addr,
                    role = "client", "circuit lost: {why}");
            }
        }
        let _ = self.ctx.tx.send(CtxMsg::CircuitDown {
            key: self.key,
            cids,
            lived: Some(self.opened_at.elapsed()),
        });
    }
}

fn entry_dropped(entry: Option<&Entry>) -> bool {
    entry.is_some_and(|e| e.shared.dropped.load(std::sync::atomic::Ordering::SeqCst))
}

impl Pending {
    fn cid(&self) -> u32 {
        match self {
            Pending::Get { cid, .. } | Pending::Put { cid, .. } => *cid,
        }
    }
}

/// Decode a reply's payload; a failure names the PV.
fn decode_reading(
    pv: String,
    data_type: DbrType,
    data_count: u32,
    data: &[u8],
) -> Result<Reading, ClientError> {
    dbr::decode(data_type, data_count, data)
        .map(|(value, meta)| Reading {
            dbr_type: data_type,
            value,
            meta,
        })
        .map_err(|error| ClientError::BadReply { pv, error })
}

fn server_error(pv: String, status: u32, message: Option<String>) -> ClientError {
    ClientError::Server {
        pv,
        status,
        message: message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| eca_description(status).to_string()),
    }
}
