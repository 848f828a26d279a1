//! One direction of a TCP connection, put back in order.
//!
//! ```text
//!            SYN seen                      first segment without SYN
//!   (new) ────────────► in order ◄──────── (new): starts where that segment starts,
//!                          │  ▲            and the framer re-synchronises
//!     segment ahead of the │  │ the missing bytes arrive, or the out-of-order
//!     next expected byte   ▼  │ buffer hits its cap / the flow ends (a gap)
//!                       waiting
//! ```
//!
//! Sequence numbers are turned into 64-bit stream offsets relative to the first byte seen,
//! so wrap-around needs no special case. Retransmitted and overlapping bytes are delivered
//! once (the first copy wins); segments ahead of the next expected byte wait in a map whose
//! total size is capped. When the cap is reached, or the flow ends, the reader gives up on the
//! missing bytes and reports a gap, so the framer can re-synchronise after it.

use std::collections::BTreeMap;

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// `bytes` of the stream that will never be seen; `resumes` is the tag (packet number)
    /// of the segment the stream resumes with.
    Gap {
        /// Missing bytes.
        bytes: u64,
        /// Tag of the segment after the hole.
        resumes: u64,
    },
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Bytes after `data` that the segment carried but the capture cut.
    missing: u64,
    /// The caller's tag for the segment (its packet number).
    tag: u64,
}

/// Segments waiting behind a hole before the hole is given up on: a capture reorders
/// segments over a few packets at most, so many more behind a hole mean the bytes were lost
/// (the capture dropped them), and a live pipe should not wait for the buffer cap.
pub const MAX_REORDER: usize = 64;

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of stream offset `next`; `None` before the first segment.
    next_seq: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Whether the stream was seen from its start (SYN).
    from_start: bool,
    /// Capture time (ns) when bytes started waiting behind the current hole.
    waiting_since: u64,
}

/// Whether handing in a segment overflowed the out-of-order buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentOutcome {
    /// The cap was reached and waiting bytes were given up on.
    pub cap_hit: bool,
}

impl Stream {
    /// Whether the stream was seen from its SYN, so its first byte is the start of a message.
    pub fn from_start(&self) -> bool {
        self.from_start
    }

    /// Whether any bytes wait for missing ones.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A SYN with sequence number `seq`: data starts at `seq + 1`.
    pub fn handle_syn(&mut self, seq: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(seq.wrapping_add(1));
            self.from_start = true;
        }
    }

    /// Stream offset of sequence number `seq`, relative to the next expected byte.
    fn offset_of(&self, seq: u32) -> u64 {
        let base = self.next_seq.unwrap_or(seq);
        let delta = i64::from(seq.wrapping_sub(base) as i32);
        (self.next as i64).saturating_add(delta).max(0) as u64
    }

    /// One segment: `data` captured bytes at `seq`, followed by `missing` bytes not captured;
    /// `tag` (its packet number) names it in gaps. `cap` bounds the bytes waiting out of
    /// order; more than [`MAX_REORDER`] segments waiting also give the hole up.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_segment(
        &mut self,
        seq: u32,
        data: &[u8],
        missing: usize,
        cap: usize,
        tag: u64,
        now: u64,
        out: &mut (impl FnMut(Delivery<'_>) + ?Sized),
    ) -> SegmentOutcome {
        if data.is_empty() && missing == 0 {
            return SegmentOutcome::default();
        }
        if self.next_seq.is_none() {
            self.next_seq = Some(seq);
        }
        // Offsets are computed against the sequence number of `next`.
        let start = self.offset_of(seq);
        let end = start + data.len() as u64 + missing as u64;
        if end <= self.next {
            return SegmentOutcome::default(); // a retransmission
        }
        if start <= self.next {
            // In order (possibly overlapping what was delivered): the fast path.
            let skip = (self.next - start) as usize;
            if skip < data.len() {
                self.advance(&data[skip..], out);
                if missing > 0 {
                    self.skip_gap(missing as u64, tag, out);
                }
            } else {
                let gap = end - self.next;
                self.skip_gap(gap, tag, out);
            }
            self.drain(out);
            return SegmentOutcome::default();
        }
        // Ahead of what is expected: wait for the bytes in between.
        if self.pending.is_empty() {
            self.waiting_since = now;
        }
        let entry = self.pending.entry(start).or_insert(Pending {
            data: Vec::new(),
            missing: 0,
            tag,
        });
        if entry.data.len() + (entry.missing as usize) < data.len() + missing {
            self.pending_bytes = self.pending_bytes - entry.data.len() + data.len();
            entry.data = data.to_vec();
            entry.missing = missing as u64;
        }
        if self.pending_bytes > cap {
            self.give_up(out);
            return SegmentOutcome { cap_hit: true };
        }
        if self.pending.len() > MAX_REORDER {
            self.give_up(out);
        }
        SegmentOutcome::default()
    }

    /// Gives the current hole up if bytes have waited behind it since before `now - wait`
    /// (capture times in ns): captures reorder over microseconds, so missing bytes that
    /// have not come by then were lost. Returns whether it did.
    pub fn expire(
        &mut self,
        now: u64,
        wait: u64,
        out: &mut (impl FnMut(Delivery<'_>) + ?Sized),
    ) -> bool {
        if self.pending.is_empty() || now.saturating_sub(self.waiting_since) < wait {
            return false;
        }
        self.give_up(out);
        self.waiting_since = now;
        true
    }

    /// Delivers everything still waiting, with gaps for what never came (flow end).
    pub fn flush(&mut self, out: &mut (impl FnMut(Delivery<'_>) + ?Sized)) {
        while !self.pending.is_empty() {
            self.give_up(out);
        }
    }

    fn advance(&mut self, data: &[u8], out: &mut (impl FnMut(Delivery<'_>) + ?Sized)) {
        out(Delivery::Data(data));
        self.next += data.len() as u64;
        self.next_seq = Some(self.next_seq.unwrap_or(0).wrapping_add(data.len() as u32));
    }

    fn skip_gap(&mut self, n: u64, resumes: u64, out: &mut (impl FnMut(Delivery<'_>) + ?Sized)) {
        out(Delivery::Gap { bytes: n, resumes });
        self.next += n;
        self.next_seq = Some(self.next_seq.unwrap_or(0).wrapping_add(n as u32));
    }

    /// Skips to the first waiting segment and delivers what follows it in order.
    fn give_up(&mut self, out: &mut (impl FnMut(Delivery<'_>) + ?Sized)) {
        if let Some((&first, p)) = self.pending.iter().next() {
            if first > self.next {
                let n = first - self.next;
                let tag = p.tag;
                self.skip_gap(n, tag, out);
            }
            self.drain(out);
        }
    }

    /// Delivers waiting segments that are now in order.
    fn drain(&mut self, out: &mut (impl FnMut(Delivery<'_>) + ?Sized)) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                return;
            }
            let p = entry.remove();
            self.pending_bytes -= p.data.len();
            let end = start + p.data.len() as u64 + p.missing;
            if end <= self.next {
                continue;
            }
            let skip = (self.next - start) as usize;
            if skip < p.data.len() {
                self.advance(&p.data[skip..], out);
                if p.missing > 0 {
                    self.skip_gap(p.missing, p.tag, out);
                }
            } else {
                let gap = end - self.next;
                self.skip_gap(gap, p.tag, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs segments through a stream; returns the delivered bytes with `#` for gap bytes.
    fn run(syn: Option<u32>, segs: &[(u32, &[u8])], cap: usize, flush: bool) -> Vec<u8> {
        let mut s = Stream::default();
        if let Some(seq) = syn {
            s.handle_syn(seq);
        }
        let mut got = Vec::new();
        let mut out = |d: Delivery<'_>| match d {
            Delivery::Data(b) => got.extend_from_slice(b),
            Delivery::Gap { bytes, .. } => got.extend(std::iter::repeat_n(b'#', bytes as usize)),
        };
        for (seq, data) in segs {
            s.handle_segment(*seq, data, 0, cap, 0, 0, &mut out);
        }
        if flush {
            s.flush(&mut out);
        }
        got
    }

    #[test]
    fn in_order_and_out_of_order() {
        assert_eq!(
            run(Some(99), &[(100, b"abc"), (103, b"def")], 100, false),
            b"abcdef"
        );
        assert_eq!(
            run(Some(99), &[(103, b"def"), (100, b"abc")], 100, false),
            b"abcdef"
        );
        assert_eq!(
            run(
                Some(99),
                &[(106, b"ghi"), (103, b"def"), (100, b"abc")],
                100,
                false
            ),
            b"abcdefghi"
        );
    }

    #[test]
    fn retransmission_and_overlap_delivered_once() {
        assert_eq!(
            run(
                Some(99),
                &[(100, b"abc"), (100, b"abc"), (101, b"bcdef")],
                100,
                false
            ),
            b"abcdef"
        );
        // An out-of-order segment overlapping one that arrives later.
        assert_eq!(
            run(Some(99), &[(104, b"efg"), (100, b"abcdef")], 100, false),
            b"abcdefg"
        );
    }

    #[test]
    fn sequence_wraps() {
        let near = u32::MAX - 1;
        assert_eq!(
            run(Some(near - 1), &[(near, b"ab"), (0, b"cd")], 100, false),
            b"abcd"
        );
    }

    #[test]
    fn lost_segment_becomes_gap_at_cap_or_flush() {
        // Nothing after the hole is delivered while waiting...
        assert_eq!(
            run(Some(99), &[(100, b"ab"), (104, b"ef")], 100, false),
            b"ab"
        );
        // ... until the flow ends ...
        assert_eq!(
            run(Some(99), &[(100, b"ab"), (104, b"ef")], 100, true),
            b"ab##ef"
        );
        // ... or the waiting bytes exceed the cap.
        assert_eq!(
            run(Some(99), &[(100, b"ab"), (104, b"efgh")], 3, false),
            b"ab##efgh"
        );
    }

    #[test]
    fn starts_mid_stream_without_syn() {
        assert_eq!(
            run(None, &[(5000, b"xyz"), (5003, b"w")], 100, false),
            b"xyzw"
        );
    }
}
