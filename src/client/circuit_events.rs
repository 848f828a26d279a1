//! What [`ClientCircuit`] does with the core's [`ClientEvent`]s: replies
//! reach their waiting callers, created channels are published (and their
//! batch reads and subscriptions sent), refusals and drops reach whoever
//! waits on them. The other half of the circuit's logic (requests in, the
//! end of the circuit) is in [`super::circuit`].

use crate::log::fields::ROLE_CLIENT;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::batch::BatchRead;
use super::circuit::{detach, ClientCircuit, Waiter};
use super::error::{eca_description, eca_is_success, ClientError};
use super::shared::{
    decode_update, ChannelInfo, ChannelShared, ConnState, Connection, CtxMsg, FailureKind,
};
use crate::proto::circuit::{ClientEvent, Oversized, RefusedRequest, ReplyTo};
use crate::proto::command::Command;
use crate::proto::dbr::DbrType;

impl ClientCircuit {
    pub(super) fn handle_event(&mut self, event: ClientEvent, now: Instant) {
        match event {
            ClientEvent::ChannelCreated {
                cid,
                native_type,
                count,
                ..
            } => self.channel_created(cid, native_type, count, now),
            ClientEvent::AccessChanged { cid, rights } => {
                if let Some(conn) = self.attached.get(&cid).and_then(|a| a.shared.connection()) {
                    let mut info = conn.info.clone();
                    info.access_rights = rights;
                    self.publish(cid, info);
                }
            }
            ClientEvent::CreateFailed { cid } => {
                if let Some(a) = self.attached.remove(&cid) {
                    tracing::warn!(target: "caproto::ch", pv = %a.shared.name,
                        their_addr = %self.key.addr, role = ROLE_CLIENT,
                        "server refused to create channel");
                    create_failed(&a.shared);
                }
            }
            ClientEvent::ChannelDropped { cid } => {
                if let Some(a) = self.attached.remove(&cid) {
                    tracing::info!(target: "caproto::ch", pv = %a.shared.name,
                        their_addr = %self.key.addr, role = ROLE_CLIENT,
                        "server disconnected channel");
                    let lived = a.connected_at.map(|t| now.saturating_duration_since(t));
                    a.shared
                        .set_failure_kind(self.key.addr, FailureKind::ServerDisconnected);
                    detach(&a, a.connected_at.is_some());
                    let _ = self.ctx.tx.send(CtxMsg::Research { cid, lived });
                }
            }
            ClientEvent::ReadReply {
                ioid,
                cid,
                status,
                data_type,
                count,
                data,
            } => {
                let waiter = match self.waiting.remove(&ioid) {
                    Some(w @ (Waiter::Get(_) | Waiter::Batch { .. })) => w,
                    _ => return,
                };
                let pv = self.pv_str(cid);
                let result = if eca_is_success(status) {
                    decode_update(pv, data_type, count, &data)
                } else {
                    Err(server_error(pv.to_string(), status, None))
                };
                match waiter {
                    Waiter::Get(reply) => drop(reply.send(Box::new(result))),
                    Waiter::Batch { read, .. } => read.deliver(result),
                    Waiter::Put(_) => {}
                }
            }
            ClientEvent::WriteReply { ioid, cid, status } => {
                let Some(Waiter::Put(reply)) = self.waiting.remove(&ioid) else {
                    return;
                };
                let result = if eca_is_success(status) {
                    Ok(())
                } else {
                    Err(server_error(self.pv_name(cid), status, None))
                };
                let _ = reply.send(result);
            }
            ClientEvent::Update {
                subscriptionid,
                cid,
                status,
                data_type,
                count,
                data,
            } => {
                let Some(a) = self.attached.get(&cid) else {
                    return;
                };
                let subs = a.shared.subs();
                let Some(spec) = subs.get(&subscriptionid) else {
                    return;
                };
                if eca_is_success(status) {
                    spec.sink
                        .push_update(&a.shared.name, data_type, count, data);
                } else {
                    spec.sink
                        .push(Err(server_error(a.shared.name.to_string(), status, None)));
                }
            }
            ClientEvent::Refused {
                request,
                status,
                message,
            } => self.refused(request, status, message),
            ClientEvent::EchoRequested => {
                let _ = self.send(Command::EchoResponse);
            }
            other => {
                if !matches!(
                    other,
                    ClientEvent::Other(
                        Command::VersionResponse { .. }
                            | Command::EchoResponse
                            | Command::EventCancelResponse { .. }
                            | Command::ClearChannelResponse { .. }
                    )
                ) {
                    tracing::debug!(target: "caproto::circ", their_addr = %self.key.addr,
                        role = ROLE_CLIENT, "ignoring unexpected {other:?}");
                }
            }
        }
    }

    /// The server refused a request with an ERROR: whoever waits on it hears why.
    fn refused(&mut self, request: RefusedRequest, status: u32, message: String) {
        match request {
            RefusedRequest::Io { ioid, cid } => {
                let Some(waiter) = self.waiting.remove(&ioid) else {
                    return;
                };
                let pv = cid.map(|c| self.pv_name(c)).unwrap_or_default();
                waiter.fail(server_error(pv, status, Some(message)));
            }
            RefusedRequest::Subscription {
                subscriptionid,
                cid: Some(cid),
            } => {
                if let Some(a) = self.attached.get(&cid) {
                    if let Some(spec) = a.shared.subs().get(&subscriptionid) {
                        spec.sink.push(Err(server_error(
                            a.shared.name.to_string(),
                            status,
                            Some(message),
                        )));
                    }
                }
            }
            RefusedRequest::Create { cid } => {
                if let Some(a) = self.attached.remove(&cid) {
                    create_failed(&a.shared);
                }
            }
            _ => {
                tracing::warn!(target: "caproto::circ", their_addr = %self.key.addr,
                    role = ROLE_CLIENT, "server error for {request:?}: {message}");
            }
        }
    }

    /// A reply larger than its request closes the circuit; the request it
    /// answered fails with the reason (the others hear of the circuit).
    pub(super) fn refuse_reply(&mut self, o: &Oversized) {
        tracing::info!(target: "caproto::circ", pv = %o.pv, their_addr = %self.key.addr,
            role = ROLE_CLIENT, "reply refused, closing the circuit: {}", o.reason());
        let err = || ClientError::OversizedReply {
            pv: o.pv.to_string(),
            reason: o.reason(),
        };
        match o.reply_to {
            ReplyTo::Read { ioid } => {
                if let Some(waiter) = self.waiting.remove(&ioid) {
                    waiter.fail(err());
                }
            }
            ReplyTo::Event { subscriptionid } => {
                let sink = self
                    .attached
                    .get(&o.cid)
                    .and_then(|a| a.shared.subs().get(&subscriptionid).map(|s| s.sink.clone()));
                if let Some(sink) = sink {
                    sink.push(Err(err()));
                }
            }
        }
    }

    /// CREATE_CHAN answered: the channel is connected. Publish it, then
    /// (re)send its subscriptions; a channel whose handles are all gone by
    /// now is cleared at once.
    fn channel_created(&mut self, cid: u32, data_type: DbrType, count: u32, now: Instant) {
        let Some(a) = self.attached.get_mut(&cid) else {
            // Cleared while being created: clear it on the server too.
            if let Some(sid) = self.sid_of(cid) {
                let _ = self.send(Command::ClearChannelRequest { sid, cid });
            }
            return;
        };
        a.connected_at = Some(now);
        a.shared.clear_failure();
        let info = ChannelInfo {
            native_type: data_type.native(),
            count,
            server: self.key.addr,
            access_rights: self
                .vc
                .channel(cid)
                .and_then(|c| c.access_rights)
                .unwrap_or_default(),
        };
        tracing::debug!(target: "caproto::ch", pv = %a.shared.name, their_addr = %self.key.addr,
            role = ROLE_CLIENT, "connected: {} x{count}", data_type.native().caproto_name());
        self.publish(cid, info.clone());
        let Some(a) = self.attached.get(&cid) else {
            return;
        };
        if a.shared.dropped.load(Ordering::SeqCst) {
            self.clear(cid);
            return;
        }
        let (subids, read): (Vec<u32>, _) = {
            let mut subs = a.shared.subs();
            for spec in subs.values() {
                spec.sink.connected(&info);
            }
            (subs.keys().copied().collect(), subs.read_once.take())
        };
        if let Some(read) = read {
            self.start_batch_read(cid, &info, read);
        }
        for subid in subids {
            self.start_subscription(cid, subid);
        }
    }

    /// Send the READ_NOTIFY a batch asked for when `cid` connected as `info`.
    fn start_batch_read(&mut self, cid: u32, info: &ChannelInfo, read: BatchRead) {
        let Some(sid) = self.sid_of(cid) else { return };
        let Some(a) = self.attached.get(&cid) else {
            return;
        };
        let Some((data_type, data_count)) = read.batch.start(read.index, info, &a.shared.name)
        else {
            return;
        };
        let ioid = self.vc.new_ioid();
        let cmd = Command::ReadNotifyRequest {
            data_type,
            data_count,
            sid,
            ioid,
        };
        match self.send(cmd) {
            Ok(()) => {
                self.waiting.insert(ioid, Waiter::Batch { read, cid });
            }
            Err(e) => read.deliver(Err(e)),
        }
    }

    fn publish(&self, cid: u32, info: ChannelInfo) {
        if let Some(a) = self.attached.get(&cid) {
            a.shared
                .state
                .send_replace(ConnState::Connected(Arc::new(Connection {
                    info,
                    circuit: self.self_tx.clone(),
                })));
        }
    }
}

/// The server refused to create the channel: so are its waiters told.
pub(super) fn create_failed(shared: &ChannelShared) {
    shared.state.send_replace(ConnState::Failed);
    if let Some(read) = shared.subs().read_once.take() {
        read.deliver(Err(ClientError::CreateFailed {
            pv: shared.name.to_string(),
        }));
    }
}

pub(super) fn server_error(pv: String, status: u32, message: Option<String>) -> ClientError {
    ClientError::Server {
        pv,
        status,
        message: message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| eca_description(status).to_string()),
    }
}
