//! TCP flows: each connection's two halves reassembled, framed into CA messages and
//! given their roles (see the parent module for the order of trust).

use std::net::SocketAddr;
use std::rc::Rc;

use super::datagrams::{walk, Step};
use super::{At, Network};
use crate::capture::evidence::{Evidence, Verdict};
use crate::capture::framer::{looks_like_ca, FrameNote, FrameSink, Framed, Framer};
use crate::capture::link::Packet;
use crate::capture::names::{Names, PvRef};
use crate::capture::problem::Problem;
use crate::capture::tcp::{Delivery, Stream};
use crate::capture::{Event, Message, TransportKind};
use crate::proto::command::id;
use crate::proto::header::Header;
use crate::proto::Role;

/// How sure we are which side of a connection is the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RoleSource {
    Guess,
    Port,
    Content,
    Syn,
}

#[derive(Debug, Default)]
struct Half {
    stream: Stream,
    framer: Option<Framer>,
    closed: bool,
    /// Bytes of this direction were lost: ids bound in them were never seen.
    lost: bool,
}

#[derive(Debug)]
pub(super) struct Circuit {
    /// The two endpoints; half `i` carries bytes sent by `ends[i]`.
    ends: [SocketAddr; 2],
    /// The endpoints as text, for the records.
    texts: [Rc<str>; 2],
    client: usize,
    role_source: RoleSource,
    halves: [Half; 2],
    names: Names,
    /// Capture time (ns) of its last packet.
    pub(super) last_seen: u64,
}

impl Circuit {
    /// Runs `f` on half `i`'s stream with a delivery callback that frames what the stream
    /// delivers and reports the messages and problems to `out`.
    fn drive<F: FnMut(Event<'_>), R>(
        &mut self,
        i: usize,
        at: At,
        max_message: usize,
        out: &mut F,
        f: impl FnOnce(&mut Stream, &mut dyn FnMut(Delivery<'_>)) -> R,
    ) -> R {
        let Circuit {
            ends,
            texts,
            client,
            role_source,
            halves,
            names,
            ..
        } = self;
        let other_lost = halves[1 - i].lost;
        let half = &mut halves[i];
        // Every id the other side bound is in sight only if the circuit was seen from its
        // start and the other direction lost nothing.
        let strict = half.stream.from_start() && !other_lost;
        let framer = half
            .framer
            .get_or_insert_with(|| Framer::new(strict, max_message));
        let mut ctx = Ctx {
            at,
            from: i,
            ends,
            texts,
            client,
            role_source,
            names,
            strict,
            lost: false,
            out,
        };
        let r = f(&mut half.stream, &mut |d| ctx.deliver(framer, d));
        half.lost |= ctx.lost;
        r
    }
}

/// One TCP segment's flags and bytes, as the link layer decoded them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment<'a> {
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
    /// Payload bytes on the wire but not in the capture.
    pub missing: usize,
}

impl Network {
    /// Starts tracking the connection `key` if this segment belongs to CA and there is room;
    /// returns whether it is tracked now.
    fn open_circuit(
        &mut self,
        key: (SocketAddr, SocketAddr),
        from: usize,
        at: At,
        p: &Packet<'_>,
        seg: &Segment<'_>,
        out: &mut impl FnMut(Event<'_>),
    ) -> bool {
        let Segment {
            syn,
            ack,
            fin,
            rst,
            payload,
            ..
        } = *seg;
        let ca_port = self.is_server_port(p.src.port()) || self.is_server_port(p.dst.port());
        let looks_ca = !payload.is_empty() && looks_like_ca(payload, self.config.max_message);
        let opening = syn && !rst;
        if !opening && !ca_port && !looks_ca {
            return false;
        }
        if rst || (fin && payload.is_empty()) {
            return false; // the end of something we never saw
        }
        if self.circuits.len() >= self.config.max_flows {
            if !self.too_many_reported {
                self.too_many_reported = true;
                out(Event::Problem(Problem::TooManyFlows {
                    packet: at.packet,
                    cap: self.config.max_flows,
                }));
            }
            return false;
        }
        let (client, role_source) = if syn {
            (if ack { 1 - from } else { from }, RoleSource::Syn)
        } else if self.is_server_port(p.dst.port()) && !self.is_server_port(p.src.port()) {
            (from, RoleSource::Port)
        } else if self.is_server_port(p.src.port()) && !self.is_server_port(p.dst.port()) {
            (1 - from, RoleSource::Port)
        } else {
            let higher = usize::from(key.1.port() > key.0.port());
            (higher, RoleSource::Guess)
        };
        self.circuits.insert(
            key,
            Circuit {
                ends: [key.0, key.1],
                texts: [Rc::from(key.0.to_string()), Rc::from(key.1.to_string())],
                client,
                role_source,
                halves: Default::default(),
                names: Names::default(),
                last_seen: 0,
            },
        );
        true
    }

    /// One TCP segment: opens, feeds and closes the circuit it belongs to.
    pub(super) fn tcp(
        &mut self,
        at: At,
        p: &Packet<'_>,
        seg: Segment<'_>,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let key = if p.src <= p.dst {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let from = usize::from(p.src != key.0);
        if !self.circuits.contains_key(&key) && !self.open_circuit(key, from, at, p, &seg, out) {
            return;
        }
        let cfg = &self.config;
        let Some(c) = self.circuits.get_mut(&key) else {
            return;
        };
        if seg.syn {
            c.halves[from].stream.handle_syn(seg.seq);
            if c.role_source < RoleSource::Syn {
                c.client = if seg.ack { 1 - from } else { from };
                c.role_source = RoleSource::Syn;
            }
        }
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        c.last_seen = at.time.as_nanos();
        // Bytes that waited too long behind a hole (in either direction): the hole is lost.
        let wait = u64::try_from(cfg.reorder_wait.as_nanos()).unwrap_or(u64::MAX);
        for i in 0..2 {
            if c.halves[i].stream.has_pending() {
                let now = at.time.as_nanos();
                c.drive(i, at, cfg.max_message, out, |stream, deliver| {
                    stream.expire(now, wait, deliver)
                });
            }
        }
        if c.role_source < RoleSource::Content && looks_like_ca(seg.payload, cfg.max_message) {
            // Before the first message is attributed: a telling command anywhere in this
            // segment settles the roles.
            if let Some(sender) = first_hint(seg.payload) {
                c.client = match sender {
                    Role::Client => from,
                    Role::Server => 1 - from,
                };
                c.role_source = RoleSource::Content;
            }
        }
        if !seg.payload.is_empty() || seg.missing > 0 {
            if seg.missing > 0 {
                out(Event::Problem(Problem::Snapped {
                    packet: at.packet,
                    orig_len: (seg.payload.len() + seg.missing) as u32,
                    captured: seg.payload.len(),
                }));
            }
            let now = at.time.as_nanos();
            let outcome = c.drive(from, at, cfg.max_message, out, |stream, deliver| {
                stream.handle_segment(
                    data_seq,
                    seg.payload,
                    seg.missing,
                    cfg.max_flow_buffer,
                    at.packet,
                    now,
                    deliver,
                )
            });
            let ends = c.ends;
            if outcome.cap_hit {
                out(Event::Problem(Problem::BufferCap {
                    packet: at.packet,
                    from: ends[from],
                    to: ends[1 - from],
                    cap: cfg.max_flow_buffer,
                }));
            }
        }
        if seg.fin || seg.rst {
            let ends_now: Vec<usize> = if seg.rst { vec![0, 1] } else { vec![from] };
            for i in ends_now {
                self.close_half(key, i, at, out);
            }
            if self
                .circuits
                .get(&key)
                .is_some_and(|c| c.halves.iter().all(|h| h.closed))
            {
                self.circuits.remove(&key);
            }
        }
    }

    /// One direction ended: whatever waits is delivered with gaps.
    pub(super) fn close_half(
        &mut self,
        key: (SocketAddr, SocketAddr),
        i: usize,
        at: At,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let max_message = self.config.max_message;
        let Some(c) = self.circuits.get_mut(&key) else {
            return;
        };
        c.halves[i].closed = true;
        if c.halves[i].framer.is_none() {
            return; // no data ever came this way
        }
        c.drive(i, at, max_message, out, |stream, deliver| {
            if stream.has_pending() {
                stream.flush(deliver);
            }
        });
        let Circuit {
            ends,
            texts,
            client,
            role_source,
            halves,
            names,
            ..
        } = c;
        let strict = halves[i].stream.from_start() && !halves[1 - i].lost;
        if let Some(framer) = halves[i].framer.as_mut() {
            let mut ctx = Ctx {
                at,
                from: i,
                ends,
                texts,
                client,
                role_source,
                names,
                strict,
                lost: false,
                out,
            };
            framer.finish(&mut ctx);
        }
    }
}

/// The borrowed pieces of a circuit that framing one half needs, and where events go.
struct Ctx<'c, F> {
    at: At,
    from: usize,
    ends: &'c [SocketAddr; 2],
    texts: &'c [Rc<str>; 2],
    client: &'c mut usize,
    role_source: &'c mut RoleSource,
    names: &'c mut Names,
    /// The half was seen from its SYN and the other half lost nothing.
    strict: bool,
    /// Set when a gap was delivered.
    lost: bool,
    out: &'c mut F,
}

impl<F: FnMut(Event<'_>)> Ctx<'_, F> {
    fn deliver(&mut self, framer: &mut Framer, d: Delivery<'_>) {
        match d {
            Delivery::Gap { bytes, resumes } => {
                self.lost = true;
                (self.out)(Event::Problem(Problem::Gap {
                    packet: resumes,
                    from: self.ends[self.from],
                    to: self.ends[1 - self.from],
                    bytes,
                }));
                // What the loss damages is reported at the packet where the stream resumes.
                let now = self.at.packet;
                self.at.packet = resumes;
                framer.handle_gap(bytes, self);
                self.at.packet = now;
            }
            Delivery::Data(data) => framer.handle_data(data, self),
        }
    }

    fn sender(&self) -> Role {
        if *self.client == self.from {
            Role::Client
        } else {
            Role::Server
        }
    }

    fn learn_roles(&mut self, h: &Header) {
        if *self.role_source < RoleSource::Content {
            if let Some(sender) = sender_hint(h) {
                *self.client = match sender {
                    Role::Client => self.from,
                    Role::Server => 1 - self.from,
                };
                *self.role_source = RoleSource::Content;
            }
        }
    }

    /// The PV a header is about, learning the ids it binds or releases.
    fn name(&mut self, h: &Header, body: &[u8]) -> PvRef {
        match self.sender() {
            Role::Client => self.names.request(h, body),
            Role::Server => self.names.response(h, body),
        }
    }
}

impl<F: FnMut(Event<'_>)> FrameSink for Ctx<'_, F> {
    fn judge(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        let sender = (*self.role_source > RoleSource::Guess).then(|| self.sender());
        Evidence {
            sender,
            names: self.names,
            strict: self.strict,
        }
        .judge(h, payload, at_start)
    }

    fn message(&mut self, m: Framed<'_>) {
        let h = m.header;
        self.learn_roles(&h);
        let sender = self.sender();
        let pv = self.name(&h, &m.bytes[m.header_len..]);
        (self.out)(Event::Message(Message {
            packet: self.at.packet,
            time: self.at.time,
            transport: TransportKind::Tcp,
            from: self.ends[self.from],
            to: self.ends[1 - self.from],
            from_text: Rc::clone(&self.texts[self.from]),
            to_text: Rc::clone(&self.texts[1 - self.from]),
            sender,
            header: h,
            header_len: m.header_len,
            bytes: m.bytes,
            pv,
        }));
    }

    fn note(&mut self, n: FrameNote) {
        let (packet, from, to) = (
            self.at.packet,
            self.ends[self.from],
            self.ends[1 - self.from],
        );
        let problem = match n {
            FrameNote::Bad(reason) => Problem::BadMessage {
                packet,
                from,
                to,
                reason,
            },
            FrameNote::Skipped(skipped) => Problem::Resynchronised {
                packet,
                from,
                to,
                skipped,
            },
            FrameNote::Damaged { header, size, lost } => {
                // Its ids are bound or released as if it had come whole: it did arrive.
                let pv = self.name(&header, &[]);
                Problem::Damaged {
                    packet,
                    from,
                    to,
                    command: id::name(header.command).unwrap_or("?"),
                    pv: pv.to_string(),
                    size,
                    lost,
                }
            }
        };
        (self.out)(Event::Problem(problem));
    }
}

/// Which side sends a command, when the command alone says so.
fn sender_hint(h: &Header) -> Option<Role> {
    match h.command {
        id::HOST_NAME
        | id::CLIENT_NAME
        | id::EVENT_CANCEL
        | id::WRITE
        | id::EVENTS_OFF
        | id::EVENTS_ON
        | id::READ_SYNC => Some(Role::Client),
        id::CREATE_CHAN if h.payload_size > 0 => Some(Role::Client),
        id::CREATE_CHAN
        | id::ACCESS_RIGHTS
        | id::CREATE_CH_FAIL
        | id::SERVER_DISCONN
        | id::ERROR => Some(Role::Server),
        _ => None,
    }
}

/// The first sender hint among the messages at the start of a segment (a message cut
/// short at the end still counts).
fn first_hint(b: &[u8]) -> Option<Role> {
    for step in walk(b) {
        let h = match step {
            Step::Whole(frame, _) => frame.header,
            Step::Cut { header, .. } => header,
            Step::Junk { .. } => return None,
        };
        if let Some(r) = sender_hint(&h) {
            return Some(r);
        }
    }
    None
}
