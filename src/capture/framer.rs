//! CA messages out of one direction's reassembled byte stream, without ever inventing one.
//!
//! ```text
//!             header seen, bytes lost inside its message
//!   synced ───────────────────────────────────────────► skipping (to the message's end,
//!     ▲  │  bytes lost across a boundary, or a bad header      by its declared size;
//!     │  └──────────────────────────────► resyncing            the message is damaged)
//!     │          a run of believable headers │
//!     └──────────────────────────────────────┘
//! ```
//!
//! In sync, messages split across segments are collected in a buffer; several in one segment
//! are framed straight from the segment (the common case copies nothing). When bytes are lost
//! ([`Framer::handle_gap`]) inside a message whose header was seen, the framer knows where
//! that message ends: it reports the message damaged once ([`FrameNote::Damaged`]), skips to
//! its end and stays in sync. When the loss crosses a message boundary (or a header cannot be
//! right) nothing says where the next message starts, so the framer *resynchronises*: it holds
//! the bytes and believes a position only on strong evidence: a run of
//! [`CHAIN`] consecutive headers that each pass the per-command checks of
//! [`super::evidence`], or a shorter run reaching exactly the end of what was captured with at
//! least one header vouched for by an id bound on the circuit. Until then every byte is
//! skipped. The buffers hold at most one message of at most `max_message` bytes (plus a
//! 64 KiB margin while resynchronising).

use super::evidence::Verdict;
use crate::proto::command::id;
use crate::proto::header::{Header, EXTENDED_HEADER_LEN, EXTENDED_MARKER, HEADER_LEN};

/// One framed message, borrowed from the segment or the framer's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    /// Its header (real sizes).
    pub header: Header,
    /// Bytes of header (16 or 24).
    pub header_len: usize,
    /// The whole message.
    pub bytes: &'a [u8],
}

/// What the framer reports besides messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameNote {
    /// A header that cannot be right; resynchronising.
    Bad(String),
    /// Resynchronised after skipping this many bytes.
    Skipped(u64),
    /// Bytes were lost inside a message whose header was seen: it is not emitted.
    Damaged {
        /// Its header.
        header: Header,
        /// Its declared size (header and payload).
        size: u64,
        /// Bytes of it that were lost.
        lost: u64,
    },
}

/// Where the framer's messages and notes go, and who judges headers while resynchronising.
pub trait FrameSink {
    /// How believable `header` is here; `payload` when whole at hand; `at_start` when it
    /// would be the first message of the half.
    fn judge(&self, header: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict;
    /// A whole message.
    fn message(&mut self, m: Framed<'_>);
    /// Trouble.
    fn note(&mut self, n: FrameNote);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The next byte starts a message (or continues the one in `partial`).
    Synced,
    /// This many bytes are the rest of a damaged message.
    Skipping(u64),
    /// Looking for strong evidence of a header in `held`.
    Resync,
}

/// Headers checked in a row before a resynchronisation point is believed.
pub const CHAIN: usize = 3;

/// How far past the held bytes a candidate message not vouched for may run while waiting.
const WAIT_MARGIN: usize = 64 * 1024;

/// Framing state of one direction.
#[derive(Debug)]
pub struct Framer {
    /// In sync: the bytes of the message being completed.
    partial: Vec<u8>,
    /// Total size of the message in `partial`, once its header is there.
    want: Option<usize>,
    state: State,
    /// Resynchronising: bytes not yet ruled out.
    held: Vec<u8>,
    /// Bytes skipped in the current resynchronisation.
    skipped: u64,
    /// Nothing was framed or lost yet: the first byte may start the half (a clean point).
    fresh: bool,
    max_message: usize,
}

impl Framer {
    /// A framer; `synced` says whether the next byte starts a message (stream seen from SYN).
    pub fn new(synced: bool, max_message: usize) -> Self {
        Framer {
            partial: Vec::new(),
            want: None,
            state: if synced { State::Synced } else { State::Resync },
            held: Vec::new(),
            skipped: 0,
            fresh: true,
            max_message: max_message.max(EXTENDED_HEADER_LEN),
        }
    }

    /// Bytes held while waiting for the rest of a message or for evidence.
    pub fn buffered(&self) -> usize {
        self.partial.len() + self.held.len()
    }

    /// Whether the framer is looking for a header after a gap or bad bytes.
    pub fn is_resyncing(&self) -> bool {
        self.state == State::Resync
    }

    /// `n` bytes of the stream were lost at this point.
    pub fn handle_gap(&mut self, n: u64, sink: &mut impl FrameSink) {
        if n == 0 {
            return;
        }
        self.fresh = false;
        if self.state == State::Resync && !self.held.is_empty() {
            // The bytes held end where the loss starts: a clean end for a run of headers
            // (what cannot be settled there is skipped).
            self.drain_held(sink, true);
        }
        match self.state {
            State::Synced => match self.want {
                Some(total) if !self.partial.is_empty() => {
                    let remaining = (total - self.partial.len()) as u64;
                    if let Ok((header, _)) = Header::decode(&self.partial) {
                        sink.note(FrameNote::Damaged {
                            header,
                            size: total as u64,
                            lost: n.min(remaining),
                        });
                    }
                    self.clear_partial();
                    if n < remaining {
                        self.state = State::Skipping(remaining - n);
                    } else if n > remaining {
                        self.state = State::Resync;
                    }
                }
                _ => {
                    // Lost from a boundary (or inside a header): where the next message
                    // starts is unknown.
                    self.skipped += self.partial.len() as u64;
                    self.clear_partial();
                    self.state = State::Resync;
                }
            },
            State::Skipping(k) if n < k => self.state = State::Skipping(k - n),
            State::Skipping(k) if n == k => self.state = State::Synced,
            State::Skipping(_) => self.state = State::Resync,
            State::Resync => {
                // Evidence cannot run across missing bytes.
                self.skipped += self.held.len() as u64;
                self.held.clear();
            }
        }
    }

    /// The stream ended: bytes held while resynchronising are searched once more, now
    /// knowing that nothing follows them, and the whole messages found are emitted.
    pub fn finish(&mut self, sink: &mut impl FrameSink) {
        if self.state == State::Resync && !self.held.is_empty() {
            self.drain_held(sink, true);
        }
        self.held.clear();
        self.clear_partial();
    }

    /// Frames `data`, giving `sink` each whole message and each note.
    pub fn handle_data(&mut self, data: &[u8], sink: &mut impl FrameSink) {
        let used = self.feed(data, sink);
        if used == data.len() {
            return;
        }
        self.held.extend_from_slice(&data[used..]);
        self.drain_held(sink, false);
    }

    fn clear_partial(&mut self) {
        self.partial.clear();
        self.want = None;
        if self.partial.capacity() > 1 << 20 {
            self.partial = Vec::new();
        }
    }

    /// Frames while in sync or skipping; returns the bytes used (all, unless the framer
    /// starts resynchronising: the rest is then for [`Self::drain_held`]).
    fn feed(&mut self, mut data: &[u8], sink: &mut impl FrameSink) -> usize {
        let len = data.len();
        while !data.is_empty() {
            match self.state {
                State::Resync => break,
                State::Skipping(k) => {
                    let n = (data.len() as u64).min(k);
                    data = &data[n as usize..];
                    self.state = if n == k {
                        State::Synced
                    } else {
                        State::Skipping(k - n)
                    };
                }
                State::Synced if !self.partial.is_empty() => data = self.fill(data, sink),
                State::Synced => match frame_at(data, self.max_message) {
                    Check::Whole(header, header_len, total) => {
                        self.fresh = false;
                        sink.message(Framed {
                            header,
                            header_len,
                            bytes: &data[..total],
                        });
                        data = &data[total..];
                    }
                    Check::Partial(total) => {
                        self.want = total;
                        self.partial.extend_from_slice(data);
                        data = &[];
                    }
                    Check::Bad(reason) => {
                        sink.note(FrameNote::Bad(reason));
                        self.state = State::Resync;
                        self.skipped += 1;
                        data = &data[1..];
                    }
                },
            }
        }
        len - data.len()
    }

    /// Adds bytes to the partial message; emits it once whole.
    fn fill<'d>(&mut self, data: &'d [u8], sink: &mut impl FrameSink) -> &'d [u8] {
        let len = self.partial.len();
        // Never take bytes past the current message: they may start the next one.
        let target = match self.want {
            Some(total) => total,
            // Header only: 16 bytes, or 24 once the extended marker shows.
            None if len >= 4 && self.partial[2..4] == [0xFF, 0xFF] => EXTENDED_HEADER_LEN,
            None => HEADER_LEN,
        };
        let take = target.saturating_sub(len).min(data.len());
        self.partial.extend_from_slice(&data[..take]);
        match frame_at(&self.partial, self.max_message) {
            Check::Whole(header, header_len, total) => {
                self.fresh = false;
                sink.message(Framed {
                    header,
                    header_len,
                    bytes: &self.partial[..total],
                });
                self.clear_partial();
            }
            Check::Partial(total) => self.want = total,
            Check::Bad(reason) => {
                sink.note(FrameNote::Bad(reason));
                // Resynchronise over what was held after its first byte.
                self.skipped += 1;
                self.held.extend_from_slice(&self.partial[1..]);
                self.clear_partial();
                self.state = State::Resync;
            }
        }
        &data[take..]
    }

    /// Resynchronising over `held`: finds the first believable position, frames from there,
    /// and repeats if framing loses sync again.
    fn drain_held(&mut self, sink: &mut impl FrameSink, last: bool) {
        while let Some(at) = self.scan(sink, last) {
            let buf = std::mem::take(&mut self.held);
            let used = at + self.feed(&buf[at..], sink);
            if used == buf.len() {
                self.held = buf;
                self.held.clear();
                return;
            }
            self.held.extend_from_slice(&buf[used..]);
        }
    }

    /// Looks for strong evidence in `held`. Returns the offset where framing resumes (the
    /// bytes before it were skipped), or `None` with `held` trimmed to what is undecided.
    fn scan(&mut self, sink: &mut impl FrameSink, last: bool) -> Option<usize> {
        for i in 0..self.held.len() {
            let at_start = self.fresh && i == 0 && self.skipped == 0;
            match chain(&self.held[i..], sink, at_start, last, self.max_message) {
                Chain::Accept => {
                    self.skipped += i as u64;
                    if self.skipped > 0 {
                        sink.note(FrameNote::Skipped(self.skipped));
                    }
                    self.skipped = 0;
                    self.fresh = false;
                    self.state = State::Synced;
                    return Some(i);
                }
                Chain::Reject => self.fresh = false,
                Chain::Undecided => {
                    self.skipped += i as u64;
                    self.held.drain(..i);
                    return None;
                }
            }
        }
        self.skipped += self.held.len() as u64;
        self.held.clear();
        None
    }
}

/// Result of looking for a message at the front of a buffer.
enum Check {
    /// Header, header length, total length: all of it is there.
    Whole(Header, usize, usize),
    /// Not all there; the total length once the header is known.
    Partial(Option<usize>),
    /// Cannot be a CA header.
    Bad(String),
}

fn frame_at(b: &[u8], max_message: usize) -> Check {
    if b.len() < 2 {
        return Check::Partial(None);
    }
    let cmd = u16::from_be_bytes([b[0], b[1]]);
    if id::name(cmd).is_none() {
        return Check::Bad(format!("unknown command id {cmd}"));
    }
    let (header, header_len) = match Header::decode(b) {
        Ok(h) => h,
        Err(_) => return Check::Partial(None),
    };
    let total = header_len as u64 + u64::from(header.payload_size);
    if total > max_message as u64 {
        return Check::Bad(format!(
            "{} header announces a {}-byte payload (cap {} bytes)",
            id::name(cmd).unwrap_or("?"),
            header.payload_size,
            max_message
        ));
    }
    let total = total as usize;
    if b.len() < total {
        Check::Partial(Some(total))
    } else {
        Check::Whole(header, header_len, total)
    }
}

/// Whether a resynchronisation point is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    Accept,
    Reject,
    /// More bytes are needed to tell.
    Undecided,
}

/// Judges the run of headers starting `b`. Believed: [`CHAIN`] headers in a row that each
/// pass the judge, or a shorter run ending exactly at the end of `b` (the end of what was
/// captured so far) that an id bound on the circuit vouches for, that starts the half, or
/// that ends exactly where the stream ended (`last`).
/// A message running past the end leaves the question open unless the stream ended (`last`),
/// or it is too long to wait for without an id vouching for it.
fn chain(
    b: &[u8],
    judge: &impl FrameSink,
    at_start: bool,
    last: bool,
    max_message: usize,
) -> Chain {
    let open = if last {
        Chain::Reject
    } else {
        Chain::Undecided
    };
    let mut at = 0usize;
    let mut known = false;
    for n in 1..=CHAIN {
        let rest = &b[at..];
        if rest.len() < HEADER_LEN
            || (rest[2..4] == EXTENDED_MARKER.to_be_bytes() && rest.len() < EXTENDED_HEADER_LEN)
        {
            return open;
        }
        if id::name(u16::from_be_bytes([rest[0], rest[1]])).is_none() {
            return Chain::Reject;
        }
        let Ok((h, hl)) = Header::decode(rest) else {
            return open;
        };
        let total = hl as u64 + u64::from(h.payload_size);
        if total > max_message as u64 {
            return Chain::Reject;
        }
        let total = total as usize;
        let verdict = judge.judge(&h, rest.get(hl..total), at_start && at == 0);
        match verdict {
            Verdict::Bad => return Chain::Reject,
            Verdict::Known => known = true,
            Verdict::Plausible => {}
        }
        if total > rest.len() {
            let waiting = at + total;
            let vouched = verdict == Verdict::Known && waiting <= max_message + WAIT_MARGIN;
            return if last || !(vouched || waiting <= WAIT_MARGIN) {
                Chain::Reject
            } else {
                Chain::Undecided
            };
        }
        at += total;
        if n == CHAIN {
            break;
        }
        if at == b.len() {
            // The end of what was captured so far, or of the stream: a clean point.
            return if known || at_start || last {
                Chain::Accept
            } else {
                Chain::Undecided
            };
        }
    }
    Chain::Accept
}

/// A judge with no knowledge of any circuit: per-command size and type checks only, either
/// sender, no VERSION except at the start.
pub(crate) struct Loose;

impl FrameSink for Loose {
    fn judge(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        let names = super::names::Names::default();
        super::evidence::Evidence {
            sender: None,
            names: &names,
            strict: false,
        }
        .judge(h, payload, at_start)
    }
    fn message(&mut self, _: Framed<'_>) {}
    fn note(&mut self, _: FrameNote) {}
}

/// Whether `b` (a segment's payload) is whole CA messages from its first byte to its last,
/// by the loose judge: used to pick up connections on unlisted ports.
pub(crate) fn looks_like_ca(b: &[u8], max_message: usize) -> bool {
    chain(b, &Loose, true, true, max_message) == Chain::Accept
}

#[cfg(test)]
mod tests;
