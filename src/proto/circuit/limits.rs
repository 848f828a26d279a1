//! What a server may size: the element count (and so the payload) of a read
//! reply or a subscription update is bounded by what the client asked for,
//! or, for a request of 0 elements, by the count the channel declared in
//! CREATE_CHAN. The client circuit checks a reply's header against that bound
//! before it waits for the payload, so a server announcing millions of
//! elements for a scalar channel costs nothing but a closed circuit: memory
//! stays proportional to what the user asked for, and the outer bound
//! (`EPICS_CA_MAX_ARRAY_BYTES`) still applies to everything else.

use std::fmt;
use std::sync::Arc;

use super::tables::{IoKind, Tables};
use crate::proto::command::id;
use crate::proto::dbr::{self, DbrType};
use crate::proto::header::Header;

/// Which request an oversized reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyTo {
    /// A READ_NOTIFY (or obsolete READ) reply for this ioid.
    Read {
        /// The request's I/O id.
        ioid: u32,
    },
    /// An EVENT_ADD update for this subscription.
    Event {
        /// The subscription id.
        subscriptionid: u32,
    },
}

/// A reply whose header announces more than the request allows. Carried by
/// [`CircuitError::OversizedReply`](super::CircuitError::OversizedReply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversized {
    /// The channel's PV name.
    pub pv: Arc<str>,
    /// The channel's cid.
    pub cid: u32,
    /// The request it answered.
    pub reply_to: ReplyTo,
    /// Elements announced in the header.
    pub count: u32,
    /// Payload bytes announced in the header.
    pub size: u32,
    /// Elements the request asked for (0 = the server's current count).
    pub requested: u32,
    /// Elements allowed: `requested`, or the channel's declared count for 0.
    pub allowed: u32,
    /// Payload bytes allowed for `allowed` elements of the announced type
    /// (metadata and padding included).
    pub allowed_size: usize,
}

impl Oversized {
    /// The refusal without the PV name, e.g. `reply of 25000000 elements
    /// for a 1-element channel`.
    pub fn reason(&self) -> String {
        if self.count > self.allowed {
            if self.requested == 0 {
                format!(
                    "reply of {} elements for a {}-element channel",
                    self.count, self.allowed
                )
            } else {
                format!(
                    "reply of {} elements for a request of {}",
                    self.count, self.requested
                )
            }
        } else {
            format!(
                "reply of {} bytes for {} elements (at most {} bytes)",
                self.size, self.count, self.allowed_size
            )
        }
    }
}

impl fmt::Display for Oversized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pv, self.reason())
    }
}

/// Check a server's reply header (client role) against the request it
/// answers. `None` when it fits, or when it answers nothing we know of (the
/// state machine refuses that after decoding, within the outer bound).
pub(super) fn check_reply(tables: &Tables, header: &Header) -> Option<Oversized> {
    let (reply_to, cid, requested) = match header.command {
        id::READ_NOTIFY | id::READ => {
            let io = tables.ioids.get(&header.parameter2)?;
            if io.kind != IoKind::Read {
                return None;
            }
            let ioid = header.parameter2;
            (ReplyTo::Read { ioid }, io.cid, io.count)
        }
        id::EVENT_ADD => {
            let sub = tables.subs.get(&header.parameter2)?;
            let subscriptionid = header.parameter2;
            (ReplyTo::Event { subscriptionid }, sub.cid, sub.data_count)
        }
        _ => return None,
    };
    let chan = tables.channels.get(&cid)?;
    let allowed = if requested == 0 {
        chan.native_count.max(1)
    } else {
        requested
    };
    // An unknown type code is the decoder's to refuse; size it as the
    // largest element (a string) so that only the count check applies.
    let dbr_type = DbrType::from_code(header.data_type);
    let allowed_size = match dbr_type {
        Some(t) => padded(dbr::payload_size(t, allowed as usize)),
        None => usize::MAX,
    };
    if header.data_count <= allowed && header.payload_size as usize <= allowed_size {
        return None;
    }
    Some(Oversized {
        pv: Arc::clone(&chan.name),
        cid,
        reply_to,
        count: header.data_count,
        size: header.payload_size,
        requested,
        allowed,
        allowed_size,
    })
}

/// `n` rounded up to the CA payload alignment (8), saturating.
fn padded(n: usize) -> usize {
    n.saturating_add(7) / 8 * 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::circuit::{CircuitError, VirtualCircuit};
    use crate::proto::{command::Command, Role};

    /// A client circuit with `pv` connected as DBR_DOUBLE x `native` (sid 7).
    fn connected(native: u32) -> VirtualCircuit {
        let mut vc = VirtualCircuit::new(
            Role::Client,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:5064".parse().unwrap(),
            0,
            1 << 30,
        );
        let mut out = Vec::new();
        let send = |vc: &mut VirtualCircuit, out: &mut Vec<u8>, cmd: Command| {
            vc.send(&cmd, out).unwrap();
        };
        send(
            &mut vc,
            &mut out,
            Command::VersionRequest {
                priority: 0,
                version: 13,
                sequence: 0,
            },
        );
        send(
            &mut vc,
            &mut out,
            Command::CreateChanRequest {
                name: "hx:pv".into(),
                cid: 1,
                version: 13,
            },
        );
        // CREATE_CHAN reply: DBR_DOUBLE (6) x native, cid 1, sid 7.
        vc.recv(&hdr(18, 0, 6, native, 1, 7));
        assert!(matches!(
            vc.next_command(),
            Some(Ok(Command::CreateChanResponse { .. }))
        ));
        vc
    }

    /// A CA header in the extended form (so any count fits), literal bytes.
    fn hdr(cmd: u16, size: u32, dtype: u16, count: u32, p1: u32, p2: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(cmd.to_be_bytes());
        h.extend(0xFFFFu16.to_be_bytes());
        h.extend(dtype.to_be_bytes());
        h.extend(0u16.to_be_bytes());
        h.extend(p1.to_be_bytes());
        h.extend(p2.to_be_bytes());
        h.extend(size.to_be_bytes());
        h.extend(count.to_be_bytes());
        h
    }

    fn read(vc: &mut VirtualCircuit, count: u32) {
        let cmd = Command::ReadNotifyRequest {
            data_type: DbrType::from_code(6).unwrap(),
            data_count: count,
            sid: 7,
            ioid: 3,
        };
        vc.send(&cmd, &mut Vec::new()).unwrap();
    }

    #[test]
    fn a_reply_larger_than_the_declared_count_is_refused_from_its_header() {
        let mut vc = connected(1);
        read(&mut vc, 0);
        // 25 000 000 doubles announced; not one payload byte follows.
        vc.recv(&hdr(15, 200_000_000, 6, 25_000_000, 1, 3));
        let Some(Err(CircuitError::OversizedReply(o))) = vc.next_command() else {
            panic!("not refused");
        };
        assert_eq!(o.reply_to, ReplyTo::Read { ioid: 3 });
        assert_eq!(
            o.to_string(),
            "hx:pv: reply of 25000000 elements for a 1-element channel"
        );
        assert!(vc.next_command().is_none(), "the circuit is finished");
    }

    #[test]
    fn an_explicit_request_bounds_the_reply_and_smaller_replies_pass() {
        let mut vc = connected(100);
        read(&mut vc, 10);
        vc.recv(&hdr(15, 88, 6, 11, 1, 3));
        let Some(Err(CircuitError::OversizedReply(o))) = vc.next_command() else {
            panic!("not refused");
        };
        assert_eq!(o.reason(), "reply of 11 elements for a request of 10");

        let mut vc = connected(100);
        read(&mut vc, 0);
        let mut reply = hdr(15, 80, 6, 10, 1, 3);
        reply.extend([0u8; 80]);
        vc.recv(&reply);
        assert!(matches!(
            vc.next_command(),
            Some(Ok(Command::ReadNotifyResponse { data_count: 10, .. }))
        ));
    }

    #[test]
    fn a_payload_larger_than_its_count_needs_is_refused() {
        let mut vc = connected(1);
        read(&mut vc, 0);
        vc.recv(&hdr(15, 64 * 1024 * 1024, 6, 1, 1, 3));
        let Some(Err(CircuitError::OversizedReply(o))) = vc.next_command() else {
            panic!("not refused");
        };
        assert_eq!(
            o.reason(),
            "reply of 67108864 bytes for 1 elements (at most 8 bytes)"
        );
    }

    #[test]
    fn a_subscription_update_is_bounded_like_a_read() {
        let mut vc = connected(1);
        let cmd = Command::EventAddRequest {
            data_type: DbrType::from_code(6).unwrap(),
            data_count: 0,
            sid: 7,
            subscriptionid: 9,
            low: 0.0,
            high: 0.0,
            to: 0.0,
            mask: 1,
        };
        vc.send(&cmd, &mut Vec::new()).unwrap();
        vc.recv(&hdr(1, 16, 6, 2, 1, 9));
        let Some(Err(CircuitError::OversizedReply(o))) = vc.next_command() else {
            panic!("not refused");
        };
        assert_eq!(o.reply_to, ReplyTo::Event { subscriptionid: 9 });
        assert_eq!(o.reason(), "reply of 2 elements for a 1-element channel");
    }
}
