//! Which PV each message of a circuit is about, learnt from the circuit itself.
//!
//! A client names a channel once, in CREATE_CHAN (with its cid); the server's reply binds the
//! sid to it; EVENT_ADD binds a subscription id and READ/WRITE(_NOTIFY) an ioid to the sid.
//! Every later message carries one of those ids. The tables are filled from headers alone
//! (only CREATE_CHAN's payload is read), so naming costs a hash lookup per message. An id
//! first seen without the message that binds it (the capture started late) stays unknown and
//! is shown as such ([`PvRef::Unknown`]), never guessed. Tables are capped: a circuit that
//! keeps more than [`MAX_IDS`] ids of one kind forgets the oldest table wholesale.

use std::fmt;
use std::rc::Rc;

use crate::proto::command::id;
use crate::proto::header::Header;
use crate::proto::ids::IdMap;

/// Most ids of one kind remembered per circuit.
pub const MAX_IDS: usize = 1 << 20;

/// Which id a message refers to its channel by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// Client channel id.
    Cid,
    /// Server channel id.
    Sid,
    /// Subscription id.
    Subscription,
    /// I/O (request) id.
    Ioid,
}

impl IdKind {
    /// Short name used in the unknown-PV text.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Cid => "cid",
            IdKind::Sid => "sid",
            IdKind::Subscription => "subscriptionid",
            IdKind::Ioid => "ioid",
        }
    }
}

/// The PV a message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvRef {
    /// The message concerns no channel (VERSION, ECHO, HOST_NAME, beacons, ...).
    None,
    /// The channel's name.
    Name(Rc<str>),
    /// A channel id whose binding was not in the capture.
    Unknown(IdKind, u32),
}

impl PvRef {
    /// The name, when known.
    pub fn name(&self) -> Option<&str> {
        match self {
            PvRef::Name(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for PvRef {
    /// The `pv` field text: the name, or `?sid=4` for an id bound before the capture began.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvRef::None => Ok(()),
            PvRef::Name(n) => f.write_str(n),
            PvRef::Unknown(kind, v) => write!(f, "?{}={v}", kind.as_str()),
        }
    }
}

/// An id table: the name, or `None` for an id seen in use whose name was not in the capture
/// (still evidence that the id is live on the circuit).
type Table = IdMap<Option<Rc<str>>>;

fn bounded_insert(map: &mut Table, k: u32, v: Option<Rc<str>>) {
    if map.len() >= MAX_IDS && !map.contains_key(&k) {
        map.clear();
    }
    map.insert(k, v);
}

/// The id tables of one circuit.
#[derive(Debug, Default)]
pub struct Names {
    cids: Table,
    sids: Table,
    subs: Table,
    ioids: Table,
    /// Channels created (CREATE_CHAN responses seen).
    pub channels_created: u64,
}

/// The name of a CREATE_CHAN / SEARCH request: its NUL-terminated payload.
pub fn payload_name(payload: &[u8]) -> Option<&str> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    std::str::from_utf8(&payload[..end])
        .ok()
        .filter(|s| !s.is_empty())
}

impl Names {
    fn get(map: &Table, kind: IdKind, key: u32) -> PvRef {
        match map.get(&key) {
            Some(Some(n)) => PvRef::Name(Rc::clone(n)),
            _ => PvRef::Unknown(kind, key),
        }
    }

    /// Binds `key` in `map` to the name of `pv`, or marks it in use when the name is unknown.
    fn bind(map: &mut Table, key: u32, pv: &PvRef) {
        let name = match pv {
            PvRef::Name(n) => Some(Rc::clone(n)),
            _ => None,
        };
        bounded_insert(map, key, name);
    }

    /// Whether `id` of `kind` is bound on this circuit (re-synchronisation evidence).
    pub fn knows(&self, kind: IdKind, id: u32) -> bool {
        match kind {
            IdKind::Cid => self.cids.contains_key(&id),
            IdKind::Sid => self.sids.contains_key(&id),
            IdKind::Subscription => self.subs.contains_key(&id),
            IdKind::Ioid => self.ioids.contains_key(&id),
        }
    }

    /// A sid a client uses: named if bound, and marked in use either way.
    fn used_sid(&mut self, sid: u32) -> PvRef {
        match self.sids.get(&sid) {
            Some(Some(n)) => PvRef::Name(Rc::clone(n)),
            Some(None) => PvRef::Unknown(IdKind::Sid, sid),
            None => {
                bounded_insert(&mut self.sids, sid, None);
                PvRef::Unknown(IdKind::Sid, sid)
            }
        }
    }

    fn by_sid(&self, sid: u32) -> PvRef {
        Self::get(&self.sids, IdKind::Sid, sid)
    }

    /// Learns from a client-to-server message and names it.
    pub fn request(&mut self, h: &Header, payload: &[u8]) -> PvRef {
        let (p1, p2) = (h.parameter1, h.parameter2);
        match h.command {
            id::CREATE_CHAN => match payload_name(payload) {
                Some(name) => {
                    let name: Rc<str> = Rc::from(name);
                    bounded_insert(&mut self.cids, p1, Some(Rc::clone(&name)));
                    PvRef::Name(name)
                }
                None => PvRef::Unknown(IdKind::Cid, p1),
            },
            id::EVENT_ADD => {
                let pv = self.used_sid(p1);
                Self::bind(&mut self.subs, p2, &pv);
                pv
            }
            id::READ | id::READ_NOTIFY | id::WRITE | id::WRITE_NOTIFY => {
                let pv = self.used_sid(p1);
                Self::bind(&mut self.ioids, p2, &pv);
                pv
            }
            id::EVENT_CANCEL | id::CLEAR_CHANNEL => self.used_sid(p1),
            _ => PvRef::None,
        }
    }

    /// Learns from a server-to-client message and names it.
    pub fn response(&mut self, h: &Header, payload: &[u8]) -> PvRef {
        let (p1, p2) = (h.parameter1, h.parameter2);
        match h.command {
            id::CREATE_CHAN => {
                let pv = Self::get(&self.cids, IdKind::Cid, p1);
                Self::bind(&mut self.sids, p2, &pv);
                self.channels_created += 1;
                pv
            }
            id::ACCESS_RIGHTS | id::CREATE_CH_FAIL | id::SERVER_DISCONN => {
                Self::get(&self.cids, IdKind::Cid, p1)
            }
            id::EVENT_ADD => {
                let pv = Self::get(&self.subs, IdKind::Subscription, p2);
                if h.payload_size == 0 {
                    // Cancel confirmation: the subscription is gone.
                    self.subs.remove(&p2);
                }
                pv
            }
            id::READ | id::READ_NOTIFY | id::WRITE_NOTIFY => {
                let pv = Self::get(&self.ioids, IdKind::Ioid, p2);
                self.ioids.remove(&p2);
                pv
            }
            id::CLEAR_CHANNEL => {
                let pv = self.by_sid(p1);
                self.sids.remove(&p1);
                self.cids.remove(&p2);
                pv
            }
            id::ERROR => match Header::decode(payload) {
                // Named after the request that failed.
                Ok((orig, _)) => match orig.command {
                    id::CREATE_CHAN => Self::get(&self.cids, IdKind::Cid, p1),
                    id::EVENT_ADD | id::EVENT_CANCEL => {
                        Self::get(&self.subs, IdKind::Subscription, orig.parameter2)
                    }
                    id::READ | id::READ_NOTIFY | id::WRITE | id::WRITE_NOTIFY => {
                        let pv = Self::get(&self.ioids, IdKind::Ioid, orig.parameter2);
                        self.ioids.remove(&orig.parameter2);
                        pv
                    }
                    id::CLEAR_CHANNEL => self.by_sid(orig.parameter1),
                    _ => PvRef::None,
                },
                Err(_) => PvRef::None,
            },
            _ => PvRef::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(command: u16, payload_size: u32, p1: u32, p2: u32) -> Header {
        Header {
            command,
            payload_size,
            data_type: 6,
            data_count: 1,
            parameter1: p1,
            parameter2: p2,
        }
    }

    #[test]
    fn ids_bound_along_the_channel_life() {
        let mut n = Names::default();
        let name = b"motor:x\0";
        assert_eq!(n.request(&h(18, 8, 7, 13), name).to_string(), "motor:x");
        assert_eq!(n.response(&h(22, 0, 7, 3), &[]).to_string(), "motor:x");
        assert_eq!(n.response(&h(18, 0, 7, 40), &[]).to_string(), "motor:x");
        assert_eq!(n.request(&h(15, 0, 40, 100), &[]).to_string(), "motor:x");
        assert_eq!(n.response(&h(15, 8, 1, 100), &[]).to_string(), "motor:x");
        assert_eq!(n.request(&h(1, 16, 40, 5), &[]).to_string(), "motor:x");
        assert_eq!(n.response(&h(1, 8, 1, 5), &[]).to_string(), "motor:x");
        assert_eq!(n.response(&h(1, 0, 40, 5), &[]).to_string(), "motor:x");
        // The subscription is gone after its cancel confirmation.
        assert_eq!(
            n.response(&h(1, 8, 1, 5), &[]).to_string(),
            "?subscriptionid=5"
        );
        assert_eq!(n.request(&h(12, 0, 40, 7), &[]).to_string(), "motor:x");
        assert_eq!(n.response(&h(12, 0, 40, 7), &[]).to_string(), "motor:x");
        assert_eq!(n.request(&h(15, 0, 40, 101), &[]).to_string(), "?sid=40");
    }

    #[test]
    fn late_capture_is_unknown_not_guessed() {
        let mut n = Names::default();
        assert_eq!(
            n.request(&h(15, 0, 4, 1), &[]),
            PvRef::Unknown(IdKind::Sid, 4)
        );
        assert_eq!(
            n.response(&h(15, 8, 1, 1), &[]),
            PvRef::Unknown(IdKind::Ioid, 1)
        );
    }
}
