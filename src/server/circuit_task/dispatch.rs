//! Requests other than reads and writes: version, names, channel creation
//! and clearing, subscriptions, echo, searches over TCP; refusals the protocol
//! core reports; ERROR replies.

use crate::log::fields::ROLE_SERVER;
use std::sync::Arc;

use super::{access, io, Channel, Circuit};
use crate::metrics::Denial;
use crate::proto::circuit::{IoRequest, Refused, Violation};
use crate::proto::command::Command;
use crate::proto::dbr::DbrType;
use crate::proto::header::Header;
use crate::proto::ids::IdSet;
use crate::proto::PROTOCOL_VERSION;
use crate::server::error::eca;
use crate::server::subscription::Subscription;

impl Circuit {
    /// Answer a request the protocol state does not allow with an ERROR.
    pub(super) fn refuse(&mut self, refused: Refused) {
        let Refused {
            violation,
            command,
            header,
        } = refused;
        let status = match violation {
            Violation::UnknownSid(_)
            | Violation::UnknownCid(_)
            | Violation::BadChannelState { .. } => eca::BADCHID,
            Violation::DuplicateSubscription(_) => eca::ADDFAIL,
            // EPICS servers ignore cancels of unknown subscriptions.
            Violation::UnknownSubscription(_) | Violation::SubscriptionMismatch(_)
                if matches!(command, Command::EventCancelRequest { .. }) =>
            {
                return
            }
            _ => eca::INTERNAL,
        };
        tracing::debug!(target: "caproto::serv", our_addr = %self.local, their_addr = %self.peer,
            role = ROLE_SERVER, "refusing {command:?}: {violation:?}");
        let cid = match command {
            Command::CreateChanRequest { cid, .. } | Command::ClearChannelRequest { cid, .. } => {
                cid
            }
            _ => header.parameter1,
        };
        self.send_error(header, cid, status, format!("{violation:?}"), None);
    }

    pub(super) fn pv_name_for_sid(&self, sid: u32) -> Option<Arc<str>> {
        self.channels.get(&sid).map(|c| c.pv.name_arc())
    }

    /// Queue a reply concerning `pv` (if any).
    pub(super) fn send(&mut self, cmd: Command, pv: Option<Arc<str>>) {
        self.outq.push((cmd, pv));
    }

    pub(super) fn send_error(
        &mut self,
        header: Header,
        cid: u32,
        status: u32,
        msg: String,
        pv: Option<Arc<str>>,
    ) {
        let cmd = Command::ErrorResponse {
            original_request: header,
            cid,
            status,
            error_message: msg,
        };
        self.send(cmd, pv);
    }

    /// Answer one request that came as a `Command`. Reads and writes
    /// normally arrive through `next_io_request` instead; as commands they
    /// take the same path (unit tests send them this way).
    pub(super) async fn handle(&mut self, cmd: Command) {
        match IoRequest::from_command(&cmd) {
            Some(req) if req.op.is_write() && self.write_waits(req.sid) => {
                self.write_waiting(&req, io::command_payload(&cmd)).await
            }
            Some(req) => self.io_now(&req, Some(io::command_payload(&cmd))),
            None => self.answer(request_header(&cmd), cmd),
        }
    }

    /// Answer a request other than a read or a write, without waiting.
    pub(super) fn answer(&mut self, header: Header, cmd: Command) {
        match cmd {
            Command::VersionRequest { version, .. } => {
                self.client_version = version;
                self.send(
                    // EPICS rsrv's TCP form: no sequence number.
                    Command::VersionResponse {
                        version: PROTOCOL_VERSION,
                        sequence: None,
                    },
                    None,
                );
            }
            Command::HostNameRequest { .. } | Command::ClientNameRequest { .. } => {
                self.client_renamed()
            }
            Command::EchoRequest => self.send(Command::EchoResponse, None),
            Command::CreateChanRequest { name, cid, .. } => self.create_channel(name, cid),
            Command::SearchRequest {
                name, cid, reply, ..
            } => {
                // Name-server search over TCP: answer, and say NOT_FOUND when asked to.
                let found = self.shared.db.serves(&name);
                self.shared.metrics.searched(1, u64::from(found));
                if found {
                    let port = self.shared.tcp_port;
                    let cmd = Command::SearchResponse {
                        port,
                        ip: None,
                        cid,
                        version: PROTOCOL_VERSION,
                    };
                    self.send(cmd, Some(name.as_str().into()));
                } else if reply {
                    let cmd = Command::NotFoundResponse {
                        version: PROTOCOL_VERSION,
                        cid,
                    };
                    self.send(cmd, Some(name.as_str().into()));
                }
            }
            Command::EventAddRequest {
                data_type,
                data_count,
                sid,
                subscriptionid,
                mask,
                ..
            } => {
                self.subscribe(header, data_type, data_count, sid, subscriptionid, mask);
            }
            Command::EventCancelRequest {
                data_type,
                data_count,
                sid,
                subscriptionid,
            } => {
                if let Some(sub) = self.remove_sub(subscriptionid) {
                    let pv = self.pv_name_for_sid(sub.sid);
                    // EPICS servers echo the cancel's count; libca does not care, but match it.
                    let cmd = Command::EventCancelResponse {
                        data_type,
                        data_count,
                        sid,
                        subscriptionid,
                    };
                    self.send(cmd, pv);
                }
            }
            Command::EventsOffRequest => self.events_on = false,
            Command::EventsOnRequest => {
                self.events_on = true;
                self.events.notify.notify_one();
            }
            Command::ClearChannelRequest { sid, cid } => {
                let pv = match self.channels.remove(&sid) {
                    Some(ch) => {
                        for subid in ch.subs {
                            if let Some(sub) = self.subs.remove(&subid) {
                                sub.cancel();
                                ch.pv.unsubscribe(&sub);
                            }
                        }
                        Some(ch.pv.name_arc())
                    }
                    None => None,
                };
                self.send(Command::ClearChannelResponse { sid, cid }, pv);
            }
            Command::ReadSyncRequest => {}
            other => {
                tracing::debug!(target: "caproto::serv", our_addr = %self.local,
                    their_addr = %self.peer, role = ROLE_SERVER, "ignoring {other:?}");
                self.send_error(
                    header,
                    0,
                    eca::NOSUPPORT,
                    "unsupported request".into(),
                    None,
                );
            }
        }
    }

    pub(super) fn create_channel(&mut self, name: String, cid: u32) {
        let Some(pv) = self.shared.db.find(&name) else {
            self.send(
                Command::CreateChFailResponse { cid },
                Some(name.as_str().into()),
            );
            return;
        };
        let sid = self.next_sid;
        self.next_sid = self.next_sid.wrapping_add(1).max(1);
        let rights = self.rights_for(&pv);
        self.send(
            Command::AccessRightsResponse {
                cid,
                access_rights: access::wire(rights),
            },
            Some(name.as_str().into()),
        );
        let reply = Command::CreateChanResponse {
            data_type: DbrType::plain(pv.native_type()),
            data_count: pv.max_count() as u32,
            cid,
            sid,
        };
        self.send(reply, Some(name.as_str().into()));
        self.channels.insert(
            sid,
            Channel {
                cid,
                pv,
                subs: IdSet::default(),
                rights,
            },
        );
    }

    /// Answer a request naming a sid this circuit does not have.
    pub(super) fn unknown_sid(&mut self, header: Header, sid: u32) {
        self.send_error(
            header,
            sid,
            eca::BADCHID,
            format!("no channel with sid {sid}"),
            None,
        );
    }

    pub(super) fn subscribe(
        &mut self,
        header: Header,
        data_type: DbrType,
        count: u32,
        sid: u32,
        subid: u32,
        mask: u16,
    ) {
        let Some(ch) = self.channels.get(&sid) else {
            self.unknown_sid(header, sid);
            return;
        };
        let (pv, cid, readable) = (ch.pv.clone(), ch.cid, ch.rights.read);
        if mask == 0 {
            let msg = "empty event mask".to_string();
            self.send_error(header, cid, eca::BADMASK, msg, Some(pv.name_arc()));
            return;
        }
        if matches!(data_type, DbrType::PutAckt | DbrType::PutAcks) {
            let msg = format!("cannot subscribe with {data_type}");
            self.send_error(header, cid, eca::BADTYPE, msg, Some(pv.name_arc()));
            return;
        }
        if self.subs.contains_key(&subid) {
            self.remove_sub(subid);
        }
        let count = count.min(pv.max_count() as u32);
        let sub = Arc::new(Subscription::new(
            subid,
            sid,
            data_type,
            count,
            mask,
            Arc::clone(&self.events),
        ));
        if let Some(ch) = self.channels.get_mut(&sid) {
            ch.subs.insert(subid);
        }
        self.subs.insert(subid, Arc::clone(&sub));
        pv.subscribe(&sub);
        if !readable {
            self.shared.metrics.denied(Denial::Subscribe);
            self.send_event_denied(&sub, &pv);
        }
    }

    pub(super) fn remove_sub(&mut self, subid: u32) -> Option<Arc<Subscription>> {
        let sub = self.subs.remove(&subid)?;
        sub.cancel();
        if let Some(ch) = self.channels.get_mut(&sub.sid) {
            ch.subs.remove(&subid);
            ch.pv.unsubscribe(&sub);
        }
        Some(sub)
    }
}

/// The header a request had on the wire, as ERROR replies quote it so the
/// client can match the failed request: the encoder's ([`Command::header`])
/// with the payload size zeroed, or an obsolete command's own. Reads and
/// writes carry theirs in their [`IoRequest`].
fn request_header(cmd: &Command) -> Header {
    match cmd {
        Command::Obsolete { header, .. } => *header,
        _ => Header {
            payload_size: 0,
            ..cmd.header()
        },
    }
}
