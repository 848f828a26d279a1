//! UDP datagrams: every CA message in each, the sender's role from what the datagram
//! says (or the server ports), and search names remembered to name their replies.

use std::net::SocketAddr;
use std::rc::Rc;

use super::{At, Network, MAX_SEARCHES};
use crate::capture::link::Packet;
use crate::capture::names::{payload_name, IdKind, PvRef};
use crate::capture::problem::Problem;
use crate::capture::{Event, Message, TransportKind};
use crate::proto::command::{id, split_frame, Frame, SEARCH_DO_REPLY, SEARCH_NO_REPLY};
use crate::proto::header::Header;
use crate::proto::Role;

impl Network {
    /// One UDP datagram: every CA message in it, in order, with the sender's role.
    pub(super) fn udp(
        &mut self,
        at: At,
        p: &Packet<'_>,
        payload: &[u8],
        missing: usize,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let ports = self.is_ca_port(p.src.port()) || self.is_ca_port(p.dst.port());
        if !ports && !whole_ca_datagram(payload) {
            return;
        }
        if missing > 0 {
            out(Event::Problem(Problem::Snapped {
                packet: at.packet,
                orig_len: (payload.len() + missing) as u32,
                captured: payload.len(),
            }));
        }
        let sender = match datagram_role(payload) {
            Some(r) => r,
            None if self.is_server_port(p.src.port()) && !self.is_server_port(p.dst.port()) => {
                Role::Server
            }
            None => Role::Client,
        };
        let (from_text, to_text): (Rc<str>, Rc<str>) =
            (Rc::from(p.src.to_string()), Rc::from(p.dst.to_string()));
        for step in walk(payload) {
            let (frame, bytes) = match step {
                Step::Whole(frame, bytes) => (frame, bytes),
                Step::Cut {
                    header,
                    header_len,
                    left,
                } => {
                    if missing == 0 {
                        let total = header_len as u64 + u64::from(header.payload_size);
                        out(Event::Problem(Problem::BadMessage {
                            packet: at.packet,
                            from: p.src,
                            to: p.dst,
                            reason: format!(
                                "CA header announces {total} bytes, datagram has {left}"
                            ),
                        }));
                    }
                    return;
                }
                Step::Junk { left } => {
                    out(Event::Problem(Problem::BadMessage {
                        packet: at.packet,
                        from: p.src,
                        to: p.dst,
                        reason: format!("{left} stray bytes after the last CA message"),
                    }));
                    return;
                }
            };
            let body = &bytes[frame.header_len..];
            let pv = self.search_name(&frame.header, body, sender, p);
            out(Event::Message(Message {
                packet: at.packet,
                time: at.time,
                transport: TransportKind::Udp,
                from: p.src,
                to: p.dst,
                from_text: Rc::clone(&from_text),
                to_text: Rc::clone(&to_text),
                sender,
                header: frame.header,
                header_len: frame.header_len,
                bytes,
                pv,
            }));
        }
    }

    pub(super) fn search_name(
        &mut self,
        h: &Header,
        body: &[u8],
        sender: Role,
        p: &Packet<'_>,
    ) -> PvRef {
        match (h.command, sender) {
            (id::SEARCH, Role::Client) => match payload_name(body) {
                Some(name) => {
                    let name: Rc<str> = Rc::from(name);
                    if self.searches.len() >= MAX_SEARCHES {
                        self.searches.clear();
                    }
                    self.searches
                        .insert((p.src, h.parameter1), Rc::clone(&name));
                    PvRef::Name(name)
                }
                None => PvRef::None,
            },
            (id::SEARCH, Role::Server) => self.searched(p.dst, h.parameter2),
            (id::NOT_FOUND, _) => self.searched(p.dst, h.parameter1),
            _ => PvRef::None,
        }
    }

    pub(super) fn searched(&self, client: SocketAddr, cid: u32) -> PvRef {
        match self.searches.get(&(client, cid)) {
            Some(n) => PvRef::Name(Rc::clone(n)),
            None => PvRef::Unknown(IdKind::Cid, cid),
        }
    }
}

/// One step of a walk over the CA messages packed one after another in a buffer.
#[derive(Debug)]
pub(super) enum Step<'a> {
    /// A whole message: where it sits, and its bytes (header included).
    Whole(Frame, &'a [u8]),
    /// A header whose payload runs past the end of the buffer; `left` bytes remained.
    Cut {
        header: Header,
        header_len: usize,
        left: usize,
    },
    /// `left` bytes that do not hold a whole header.
    Junk { left: usize },
}

/// The messages packed in `b`, in order, framed by [`split_frame`]; a cut or unreadable
/// message is the last step.
pub(super) fn walk(mut b: &[u8]) -> impl Iterator<Item = Step<'_>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done || b.is_empty() {
            return None;
        }
        if let Ok(Ok(frame)) = split_frame(b, usize::MAX) {
            let (bytes, rest) = b.split_at(frame.total_len);
            b = rest;
            return Some(Step::Whole(frame, bytes));
        }
        done = true;
        let left = b.len();
        Some(match Header::decode(b) {
            Ok((header, header_len)) => Step::Cut {
                header,
                header_len,
                left,
            },
            Err(_) => Step::Junk { left },
        })
    })
}

/// The role of a datagram's sender from its commands, if they tell.
fn datagram_role(b: &[u8]) -> Option<Role> {
    for step in walk(b) {
        let (h, body) = match step {
            Step::Whole(frame, bytes) => (frame.header, Some(&bytes[frame.header_len..])),
            Step::Cut { header, .. } => (header, None),
            Step::Junk { .. } => return None,
        };
        match h.command {
            id::NOT_FOUND | id::RSRV_IS_UP | id::REPEATER_CONFIRM => return Some(Role::Server),
            id::REPEATER_REGISTER => return Some(Role::Client),
            id::SEARCH => {
                let named = (h.data_type == SEARCH_DO_REPLY || h.data_type == SEARCH_NO_REPLY)
                    && h.payload_size > 0
                    && body.and_then(payload_name).is_some();
                return Some(if named { Role::Client } else { Role::Server });
            }
            _ => {}
        }
    }
    None
}

/// Whether a datagram on an unlisted port consists exactly of UDP CA messages.
fn whole_ca_datagram(b: &[u8]) -> bool {
    if b.is_empty() {
        return false;
    }
    walk(b).all(|step| match step {
        Step::Whole(frame, _) => matches!(
            frame.header.command,
            id::VERSION
                | id::SEARCH
                | id::NOT_FOUND
                | id::RSRV_IS_UP
                | id::REPEATER_REGISTER
                | id::REPEATER_CONFIRM
        ),
        Step::Cut { .. } | Step::Junk { .. } => false,
    })
}
