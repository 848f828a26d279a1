//! Whether bytes of a TCP stream can be the header of a real CA message, judged command by
//! command, so the framer re-synchronises after lost bytes only on strong evidence.
//!
//! A random 16-byte window passes a loose check (known command, 8-byte aligned size) far too
//! often: a zero-filled array is a stream of "VERSION" headers. So each header is held to what
//! its command allows from its sender:
//! - sizes against the command and the data type and count (a READ_NOTIFY reply of 1 DOUBLE
//!   carries 8 bytes, a READ_NOTIFY request none, an EVENT_ADD request 16);
//! - data types within the DBR range, names that are printable NUL-terminated text;
//! - the channel ids it names (sid, ioid, subscription id, cid) seen before on this circuit;
//! - VERSION only where a circuit starts.
//!
//! The verdict is [`Verdict::Known`] when an id the circuit bound (or a channel name) vouches
//! for the header, [`Verdict::Plausible`] when nothing contradicts it, and [`Verdict::Bad`]
//! otherwise. On a circuit seen from its SYN every id must have been bound in the capture, so
//! an unknown id is bad; on one seen from its middle it is merely not evidence.

use super::names::{IdKind, Names};
use crate::proto::command::id;
use crate::proto::dbr::NativeType;
use crate::proto::dbr::{header_size, payload_size, DbrType};
use crate::proto::header::Header;
use crate::proto::Role;

/// How much a header is to be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// It cannot be a real message here.
    Bad,
    /// Nothing contradicts it.
    Plausible,
    /// An id bound on this circuit, or a channel name, vouches for it.
    Known,
}

/// Longest name (CREATE_CHAN, HOST_NAME, CLIENT_NAME) believed, padding included.
const MAX_NAME_PAYLOAD: u32 = 1024;

/// What the judge knows about the half the bytes travel on.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The sender's role, when it is settled (by SYN, ports or content).
    pub sender: Option<Role>,
    /// The circuit's id tables.
    pub names: &'a Names,
    /// Whether the circuit was seen from its start, so every id it uses was bound in sight.
    pub strict: bool,
}

impl Evidence<'_> {
    /// Judges a header; `payload` is the whole payload when it is at hand; `at_start` says
    /// the header would be the half's first message (where VERSION belongs).
    pub fn judge(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        if !h.payload_size.is_multiple_of(8) {
            return Verdict::Bad;
        }
        match self.sender {
            Some(Role::Client) => self.request(h, payload, at_start),
            Some(Role::Server) => self.response(h, payload, at_start),
            None => self
                .request(h, payload, at_start)
                .max(self.response(h, payload, at_start)),
        }
    }

    fn id(&self, kind: IdKind, value: u32) -> Verdict {
        if self.names.knows(kind, value) {
            Verdict::Known
        } else if self.strict {
            Verdict::Bad
        } else {
            Verdict::Plausible
        }
    }

    fn request(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        let size = h.payload_size;
        let empty = size == 0;
        let typed = h.data_type <= DbrType::MAX_CODE;
        match h.command {
            id::VERSION => version(h, at_start),
            id::ECHO | id::EVENTS_OFF | id::EVENTS_ON | id::READ_SYNC => {
                when(empty && h.data_type == 0 && h.data_count == 0)
            }
            id::CREATE_CHAN => match payload {
                _ if empty || size > MAX_NAME_PAYLOAD => Verdict::Bad,
                Some(p) if name(p) => Verdict::Known,
                Some(_) => Verdict::Bad,
                None => Verdict::Plausible,
            },
            id::HOST_NAME | id::CLIENT_NAME => match payload {
                _ if empty || size > MAX_NAME_PAYLOAD => Verdict::Bad,
                Some(p) if name(p) => Verdict::Plausible,
                Some(_) => Verdict::Bad,
                None => Verdict::Plausible,
            },
            id::READ | id::READ_NOTIFY | id::EVENT_CANCEL if empty && typed => {
                self.id(IdKind::Sid, h.parameter1)
            }
            id::CLEAR_CHANNEL if empty => self.id(IdKind::Sid, h.parameter1),
            id::EVENT_ADD if size == 16 && typed => self.id(IdKind::Sid, h.parameter1),
            id::WRITE | id::WRITE_NOTIFY if h.data_count > 0 && data_sized(h) => {
                self.id(IdKind::Sid, h.parameter1)
            }
            _ => Verdict::Bad,
        }
    }

    fn response(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        let empty = h.payload_size == 0;
        match h.command {
            id::VERSION => version(h, at_start),
            id::ECHO => when(empty),
            id::READ_NOTIFY if data_sized(h) => self.id(IdKind::Ioid, h.parameter2),
            id::EVENT_ADD if empty || data_sized(h) => self.id(IdKind::Subscription, h.parameter2),
            id::WRITE_NOTIFY if empty => self.id(IdKind::Ioid, h.parameter2),
            id::CREATE_CHAN if empty && h.data_type <= 6 => self.id(IdKind::Cid, h.parameter1),
            id::ACCESS_RIGHTS if empty && h.parameter2 <= 3 => self.id(IdKind::Cid, h.parameter1),
            id::CREATE_CH_FAIL | id::SERVER_DISCONN if empty => self.id(IdKind::Cid, h.parameter1),
            id::CLEAR_CHANNEL if empty => self.id(IdKind::Sid, h.parameter1),
            id::ERROR if (16..=MAX_NAME_PAYLOAD + 24).contains(&h.payload_size) => match payload {
                // It quotes the header of the request that failed.
                Some(p) => match Header::decode(p) {
                    Ok((orig, _)) if id::name(orig.command).is_some() => Verdict::Plausible,
                    _ => Verdict::Bad,
                },
                None => Verdict::Plausible,
            },
            _ => Verdict::Bad,
        }
    }
}

fn when(ok: bool) -> Verdict {
    if ok {
        Verdict::Plausible
    } else {
        Verdict::Bad
    }
}

/// VERSION: header only, a minor version of 4.1 to 4.15, and only where a circuit starts.
fn version(h: &Header, at_start: bool) -> Verdict {
    when(at_start && h.payload_size == 0 && (1..=15).contains(&h.data_count))
}

/// Whether the payload size fits the data type and count (padded to 8; DBR_STRING values
/// may be sent shorter than 40 bytes each).
fn data_sized(h: &Header) -> bool {
    let Some(t) = DbrType::from_code(h.data_type) else {
        return false;
    };
    let size = h.payload_size as usize;
    let count = h.data_count as usize;
    let full = payload_size(t, count);
    if full == usize::MAX {
        return false;
    }
    let padded = full.div_ceil(8) * 8;
    if t.native() == NativeType::String {
        size >= header_size(t) && size <= padded.max(8)
    } else {
        size >= full && size <= padded
    }
}

/// A NUL-terminated printable name filling the payload (up to its padding).
fn name(p: &[u8]) -> bool {
    let Some(end) = p.iter().position(|&b| b == 0) else {
        return false;
    };
    end > 0
        && p.len() - end <= 8
        && p[..end].iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && p[end..].iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(command: u16, payload_size: u32, data_type: u16, count: u32, p1: u32, p2: u32) -> Header {
        Header {
            command,
            payload_size,
            data_type,
            data_count: count,
            parameter1: p1,
            parameter2: p2,
        }
    }

    #[test]
    fn sizes_types_and_ids_per_command() {
        let mut names = Names::default();
        names.request(&h(18, 8, 0, 0, 1, 13), b"pv:a\0\0\0\0");
        names.response(&h(18, 0, 6, 1, 1, 40), &[]);
        names.request(&h(15, 0, 6, 1, 40, 7), &[]);
        let client = Evidence {
            sender: Some(Role::Client),
            names: &names,
            strict: true,
        };
        let server = Evidence {
            sender: Some(Role::Server),
            ..client
        };
        // A request naming the bound sid, and one naming another.
        assert_eq!(
            client.judge(&h(15, 0, 6, 1, 40, 8), None, false),
            Verdict::Known
        );
        assert_eq!(
            client.judge(&h(15, 0, 6, 1, 41, 8), None, false),
            Verdict::Bad
        );
        // A READ_NOTIFY request carries nothing; a reply of one DOUBLE carries 8 bytes.
        assert_eq!(
            client.judge(&h(15, 8, 6, 1, 40, 8), None, false),
            Verdict::Bad
        );
        assert_eq!(
            server.judge(&h(15, 8, 6, 1, 1, 7), None, false),
            Verdict::Known
        );
        assert_eq!(
            server.judge(&h(15, 16, 6, 1, 1, 7), None, false),
            Verdict::Bad
        );
        assert_eq!(
            server.judge(&h(15, 8, 39, 1, 1, 7), None, false),
            Verdict::Bad
        );
        // DBR_STRING replies may be short.
        assert_eq!(
            server.judge(&h(15, 8, 0, 1, 1, 7), None, false),
            Verdict::Known
        );
        // VERSION only at the start; all-zero bytes are a VERSION with minor 0: never.
        assert_eq!(
            client.judge(&h(0, 0, 0, 13, 0, 0), None, true),
            Verdict::Plausible
        );
        assert_eq!(
            client.judge(&h(0, 0, 0, 13, 0, 0), None, false),
            Verdict::Bad
        );
        assert_eq!(server.judge(&h(0, 0, 0, 0, 0, 0), None, true), Verdict::Bad);
        // Names must be printable and fill the payload.
        assert_eq!(
            client.judge(&h(18, 8, 0, 0, 2, 13), Some(b"pv:b\0\0\0\0"), false),
            Verdict::Known
        );
        assert_eq!(
            client.judge(&h(18, 8, 0, 0, 2, 13), Some(b"p\x01\0\0\0\0\0\0"), false),
            Verdict::Bad
        );
        // Seen from the middle, an unknown id is no evidence but no contradiction either.
        let loose = Evidence {
            strict: false,
            ..client
        };
        assert_eq!(
            loose.judge(&h(15, 0, 6, 1, 41, 8), None, false),
            Verdict::Plausible
        );
    }
}
