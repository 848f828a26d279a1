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

/// Collects what the framer gives; judges loosely (no circuit knowledge).
#[derive(Default)]
struct Sink {
    got: Vec<(u16, u32)>,
    notes: Vec<FrameNote>,
}

impl FrameSink for Sink {
    fn judge(&self, h: &Header, payload: Option<&[u8]>, at_start: bool) -> Verdict {
        Loose.judge(h, payload, at_start)
    }
    fn message(&mut self, m: Framed<'_>) {
        self.got.push((m.header.command, m.header.parameter1));
    }
    fn note(&mut self, n: FrameNote) {
        self.notes.push(n);
    }
}

fn frame(f: &mut Framer, chunks: &[&[u8]]) -> (Vec<(u16, u32)>, Vec<FrameNote>) {
    let mut s = Sink::default();
    for c in chunks {
        f.handle_data(c, &mut s);
    }
    f.finish(&mut s);
    (s.got, s.notes)
}

/// A READ_NOTIFY reply of `n` DOUBLEs (ioid `p1` in parameter1 for the tests' bookkeeping).
fn doubles(n: usize, p1: u32) -> Vec<u8> {
    let h = Header {
        command: 15,
        payload_size: (8 * n) as u32,
        data_type: 6,
        data_count: n as u32,
        parameter1: p1,
        parameter2: 2,
    };
    let mut v = Vec::new();
    h.encode(&mut v);
    v.resize(v.len() + 8 * n, 0);
    v
}

#[test]
fn several_in_one_and_split_across() {
    let mut stream = msg(15, &[0; 8], 1);
    stream.extend(msg(15, &[0; 8], 2));
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
    stream.extend(msg(15, &[0; 8], 3));
    stream.extend(msg(15, &[0; 8], 4));
    // Start 5 bytes into the first message (capture began mid-connection).
    let mut f = Framer::new(false, 1 << 20);
    let (got, notes) = frame(&mut f, &[&stream[5..]]);
    assert_eq!(got, [(15, 2), (15, 3), (15, 4)]);
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
fn gap_inside_a_message_skips_it_by_its_size_and_stays_in_sync() {
    let a = doubles(1000, 1);
    let b = msg(15, &[0; 8], 2);
    let mut s = Sink::default();
    let mut f = Framer::new(true, 1 << 20);
    f.handle_data(&a[..100], &mut s);
    f.handle_gap(3000, &mut s);
    f.handle_data(&a[3100..], &mut s);
    assert!(!f.is_resyncing());
    f.handle_data(&b, &mut s);
    assert_eq!(s.got, [(15, 2)]);
    assert!(matches!(
        s.notes[..],
        [FrameNote::Damaged {
            size: 8016,
            lost: 3000,
            ..
        }]
    ));
}

#[test]
fn zeros_after_a_boundary_gap_are_never_messages() {
    // The gap swallows the header of an array reply; its zero payload follows. All-zero
    // headers are VERSION with minor 0, which no check believes, and nothing after the
    // array is lost.
    let mut f = Framer::new(true, 1 << 20);
    let mut s = Sink::default();
    f.handle_data(&msg(15, &[0; 8], 1), &mut s);
    f.handle_gap(40, &mut s);
    let tail = [vec![0u8; 4000], msg(15, &[0; 8], 2), msg(1, &[0; 8], 3)].concat();
    for c in tail.chunks(1448) {
        f.handle_data(c, &mut s);
    }
    f.finish(&mut s);
    assert_eq!(s.got, [(15, 1), (15, 2), (1, 3)]);
    assert_eq!(s.notes, [FrameNote::Skipped(4000)]);
}

#[test]
fn gap_at_the_flow_start_of_a_late_capture_drops_the_partial() {
    let a = msg(15, &[0; 16], 1);
    let b = msg(15, &[0; 8], 2);
    let mut f = Framer::new(true, 1 << 20);
    let mut s = Sink::default();
    f.handle_data(&a[..10], &mut s);
    f.handle_gap(5, &mut s);
    f.handle_data(&a[15..], &mut s);
    f.handle_data(&b, &mut s);
    f.finish(&mut s);
    assert_eq!(s.got, [(15, 2)]);
}
