//! CA messages out of one direction's reassembled byte stream.
//!
//! Messages split across segments are collected in a buffer; several in one segment are
//! framed straight from the segment (the common case copies nothing). A header that cannot be
//! right, or a gap in the stream, switches the framer to *resynchronising*: it then skips
//! bytes until a plausible header starts (known command, sane sizes, 8-byte aligned payload,
//! and a plausible header right after it when those bytes are there). The buffer holds at
//! most one message of at most `max_message` bytes.

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
}

/// Framing state of one direction.
#[derive(Debug)]
pub struct Framer {
    partial: Vec<u8>,
    /// Total size of the message in `partial`, once its header is there.
    want: Option<usize>,
    synced: bool,
    /// Bytes skipped in the current resynchronisation.
    skipped: u64,
    max_message: usize,
}

impl Framer {
    /// A framer; `synced` says whether the next byte starts a message (stream seen from SYN).
    pub fn new(synced: bool, max_message: usize) -> Self {
        Framer {
            partial: Vec::new(),
            want: None,
            synced,
            skipped: 0,
            max_message: max_message.max(EXTENDED_HEADER_LEN),
        }
    }

    /// Bytes of a message held while waiting for the rest.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Whether the framer is looking for a header after a gap or bad bytes.
    pub fn is_resyncing(&self) -> bool {
        !self.synced
    }

    /// Bytes were lost: drop any partial message and look for the next header.
    pub fn handle_gap(&mut self) {
        self.partial.clear();
        self.want = None;
        self.synced = false;
    }

    /// The stream ended: bytes held while resynchronising are searched once more, now
    /// knowing that nothing follows them, and the whole messages found are emitted.
    pub fn finish(&mut self, msg: &mut impl FnMut(Framed<'_>), note: &mut impl FnMut(FrameNote)) {
        if self.synced || self.partial.is_empty() {
            self.partial.clear();
            return;
        }
        let held = std::mem::take(&mut self.partial);
        if let Some(i) = (0..held.len()).find(|&i| plausible_final(&held[i..], self.max_message)) {
            self.skipped += i as u64;
            self.found(note);
            let mut rest = &held[i..];
            while let Check::Whole(header, header_len, total) = frame_at(rest, self.max_message) {
                msg(Framed {
                    header,
                    header_len,
                    bytes: &rest[..total],
                });
                rest = &rest[total..];
            }
        }
    }

    /// Frames `data`, calling `msg` for each whole message and `note` for trouble.
    pub fn handle_data(
        &mut self,
        mut data: &[u8],
        msg: &mut impl FnMut(Framed<'_>),
        note: &mut impl FnMut(FrameNote),
    ) {
        while !data.is_empty() {
            if !self.synced {
                data = self.resync(data, note);
                continue;
            }
            if !self.partial.is_empty() {
                data = self.fill(data, msg, note);
                continue;
            }
            // Fast path: frame straight from `data`.
            match frame_at(data, self.max_message) {
                Check::Whole(header, header_len, total) => {
                    msg(Framed {
                        header,
                        header_len,
                        bytes: &data[..total],
                    });
                    data = &data[total..];
                }
                Check::Partial(total) => {
                    self.want = total;
                    self.partial.extend_from_slice(data);
                    return;
                }
                Check::Bad(reason) => {
                    note(FrameNote::Bad(reason));
                    self.synced = false;
                    self.skipped = 0;
                }
            }
        }
    }

    /// Adds bytes to the partial message; emits every message that is whole.
    fn fill<'d>(
        &mut self,
        data: &'d [u8],
        msg: &mut impl FnMut(Framed<'_>),
        note: &mut impl FnMut(FrameNote),
    ) -> &'d [u8] {
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
        loop {
            match frame_at(&self.partial, self.max_message) {
                Check::Whole(header, header_len, total) => {
                    msg(Framed {
                        header,
                        header_len,
                        bytes: &self.partial[..total],
                    });
                    self.partial.drain(..total);
                    self.want = None;
                    if self.partial.is_empty() {
                        if self.partial.capacity() > 1 << 20 {
                            self.partial = Vec::new();
                        }
                        break;
                    }
                }
                Check::Partial(total) => {
                    self.want = total;
                    break;
                }
                Check::Bad(reason) => {
                    note(FrameNote::Bad(reason));
                    // Resynchronise over what was held after its first byte.
                    let held = std::mem::take(&mut self.partial);
                    self.want = None;
                    self.synced = false;
                    self.skipped = 0;
                    let left = self.resync(&held[1..], note);
                    if self.synced {
                        self.partial.extend_from_slice(left);
                    }
                    break;
                }
            }
        }
        &data[take..]
    }

    /// Skips to the first plausible header in `data`; returns the rest (from that header).
    /// Up to 23 trailing bytes that might start a header are kept for the next call.
    fn resync<'d>(&mut self, data: &'d [u8], note: &mut impl FnMut(FrameNote)) -> &'d [u8] {
        // Bytes held from the previous call are in `partial`; join only what is needed.
        if !self.partial.is_empty() {
            let mut joined = std::mem::take(&mut self.partial);
            let extra = data.len().min(4 * EXTENDED_HEADER_LEN);
            let held = joined.len();
            joined.extend_from_slice(&data[..extra]);
            for i in 0..held {
                match plausible(&joined[i..], self.max_message) {
                    Some(true) => {
                        self.skipped += i as u64;
                        self.found(note);
                        // Re-feed the header's first bytes through `partial`.
                        self.partial.extend_from_slice(&joined[i..held]);
                        self.want = None;
                        return data;
                    }
                    Some(false) => {}
                    None => {
                        // Undecided: keep from here and wait.
                        self.skipped += i as u64;
                        self.partial.extend_from_slice(&joined[i..held]);
                        self.partial.extend_from_slice(&data[..extra]);
                        return &data[extra..];
                    }
                }
            }
            self.skipped += held as u64;
        }
        for i in 0..data.len() {
            match plausible(&data[i..], self.max_message) {
                Some(true) => {
                    self.skipped += i as u64;
                    self.found(note);
                    return &data[i..];
                }
                Some(false) => {}
                None => {
                    self.skipped += i as u64;
                    self.partial.extend_from_slice(&data[i..]);
                    return &[];
                }
            }
        }
        self.skipped += data.len() as u64;
        &[]
    }

    fn found(&mut self, note: &mut impl FnMut(FrameNote)) {
        self.synced = true;
        if self.skipped > 0 {
            note(FrameNote::Skipped(self.skipped));
        }
        self.skipped = 0;
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

/// Headers checked in a row before a resynchronisation point is believed.
const CHAIN: usize = 4;

/// Whether a believable CA message starts `b`: `None` when more bytes are needed to tell.
///
/// Believable means: this header and those that follow it (up to [`CHAIN`] of them, or
/// to the exact end of `b`) all look right. A message that runs past the end of `b`, or a
/// following header cut off by it, leaves the question open, so the caller waits for more.
pub(crate) fn plausible(b: &[u8], max_message: usize) -> Option<bool> {
    chain(b, max_message, false)
}

/// [`plausible`] at the end of a stream, where nothing more will come: a message or header
/// running past the end is not believable.
fn plausible_final(b: &[u8], max_message: usize) -> bool {
    chain(b, max_message, true) == Some(true)
}

fn chain(b: &[u8], max_message: usize, last: bool) -> Option<bool> {
    let mut at = 0;
    for _ in 0..CHAIN {
        let rest = &b[at..];
        match plausible_header(rest, max_message) {
            None if last => return Some(false),
            None => return None,
            Some(false) => return Some(false),
            Some(true) => {}
        }
        let (h, hl) = Header::decode(rest).ok()?;
        let next = at as u64 + hl as u64 + u64::from(h.payload_size);
        if next == b.len() as u64 {
            return Some(true);
        }
        if next > b.len() as u64 {
            return if last { Some(false) } else { None };
        }
        at = next as usize;
    }
    Some(true)
}

/// Checks one header's fields; `None` if fewer than 16 (or 24) bytes.
fn plausible_header(b: &[u8], max_message: usize) -> Option<bool> {
    if b.len() < HEADER_LEN {
        return None;
    }
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let cmd = u16_at(0);
    let size16 = u16_at(2);
    if size16 == EXTENDED_MARKER && b.len() < EXTENDED_HEADER_LEN {
        return None;
    }
    let Ok((h, hl)) = Header::decode(b) else {
        return None;
    };
    let sane = match cmd {
        // The minor protocol version: 4.x with x up to 13 today.
        id::VERSION => h.payload_size == 0 && (1..=15).contains(&h.data_count),
        id::ECHO | id::EVENTS_OFF | id::EVENTS_ON | id::READ_SYNC => h.payload_size == 0,
        id::EVENT_ADD
        | id::READ
        | id::WRITE
        | id::READ_NOTIFY
        | id::WRITE_NOTIFY
        | id::EVENT_CANCEL => h.data_type <= 38,
        id::CREATE_CHAN
        | id::CLEAR_CHANNEL
        | id::ACCESS_RIGHTS
        | id::ERROR
        | id::CLIENT_NAME
        | id::HOST_NAME
        | id::CREATE_CH_FAIL
        | id::SERVER_DISCONN
        | id::SEARCH
        | id::NOT_FOUND => true,
        // Obsolete or UDP-only commands do not turn up on a circuit.
        _ => false,
    };
    Some(
        sane && h.payload_size % 8 == 0
            && (hl as u64 + u64::from(h.payload_size)) <= max_message as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(cmd: u16, payload: &[u8], p1: u32) -> Vec<u8> {
        let h = Header {
            command: cmd,
            payload_size: payload.len() as u32,
            data_type: 6,
            data_count: 1,
            parameter1: p1,
            parameter2: 2,
        };
        let mut v = Vec::new();
        h.encode(&mut v);
        v.extend_from_slice(payload);
        v
    }

    fn frame(f: &mut Framer, chunks: &[&[u8]]) -> (Vec<(u16, u32)>, Vec<FrameNote>) {
        let mut got = Vec::new();
        let mut notes = Vec::new();
        for c in chunks {
            f.handle_data(
                c,
                &mut |m| got.push((m.header.command, m.header.parameter1)),
                &mut |n| notes.push(n),
            );
        }
        f.finish(
            &mut |m| got.push((m.header.command, m.header.parameter1)),
            &mut |n| notes.push(n),
        );
        (got, notes)
    }

    #[test]
    fn several_in_one_and_split_across() {
        let mut stream = msg(15, &[0; 8], 1);
        stream.extend(msg(15, &[0; 16], 2));
        stream.extend(msg(1, &[0; 8], 3));
        for cut in [1, 5, 16, 17, 23, 24, 40, 55] {
            let mut f = Framer::new(true, 1 << 20);
            let (got, notes) = frame(&mut f, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(got, [(15, 1), (15, 2), (1, 3)], "cut at {cut}");
            assert!(notes.is_empty());
        }
        // One byte at a time.
        let mut f = Framer::new(true, 1 << 20);
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frame(&mut f, &chunks).0.len(), 3);
    }

    #[test]
    fn extended_header_split() {
        let big = vec![0u8; 0x1_0000];
        let h = Header {
            command: 15,
            payload_size: big.len() as u32,
            data_type: 6,
            data_count: 70_000,
            parameter1: 9,
            parameter2: 1,
        };
        let mut stream = Vec::new();
        h.encode(&mut stream);
        assert_eq!(stream.len(), 24);
        stream.extend_from_slice(&big);
        stream.extend(msg(15, &[0; 8], 10));
        for cut in [2, 16, 20, 24, 30] {
            let mut f = Framer::new(true, 1 << 20);
            let (got, _) = frame(&mut f, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(got, [(15, 9), (15, 10)], "cut at {cut}");
        }
    }

    #[test]
    fn resync_mid_message() {
        let mut stream = msg(15, &[7; 24], 1);
        stream.extend(msg(15, &[0; 8], 2));
        stream.extend(msg(1, &[0; 8], 3));
        // Start 5 bytes into the first message (capture began mid-connection).
        let mut f = Framer::new(false, 1 << 20);
        let (got, notes) = frame(&mut f, &[&stream[5..]]);
        assert_eq!(got, [(15, 2), (1, 3)]);
        assert_eq!(notes, [FrameNote::Skipped(35)]);
    }

    #[test]
    fn oversized_header_is_refused_and_skipped() {
        let mut stream = Vec::new();
        let h = Header {
            command: 15,
            payload_size: 0x8000_0000,
            data_type: 6,
            data_count: 1,
            parameter1: 0,
            parameter2: 0,
        };
        h.encode(&mut stream);
        stream.extend(msg(15, &[0; 8], 4));
        let mut f = Framer::new(true, 1 << 20);
        let (got, notes) = frame(&mut f, &[&stream]);
        assert_eq!(got, [(15, 4)]);
        assert!(matches!(&notes[0], FrameNote::Bad(r) if r.contains("2147483648")));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn gap_drops_partial() {
        let a = msg(15, &[0; 16], 1);
        let b = msg(15, &[0; 8], 2);
        let mut f = Framer::new(true, 1 << 20);
        frame(&mut f, &[&a[..10]]);
        f.handle_gap();
        let (got, _) = frame(&mut f, &[&a[20..], &b]);
        assert_eq!(got, [(15, 2)]);
    }
}
