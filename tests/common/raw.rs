//! Hand-encoded CA bytes for tests that play a hostile or half-broken peer,
//! so they do not depend on the codec under test.

/// Big-endian CA header (standard 16-byte form).
pub fn header(cmd: u16, payload: u16, dtype: u16, count: u16, p1: u32, p2: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    for v in [cmd, payload, dtype, count] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h.extend_from_slice(&p1.to_be_bytes());
    h.extend_from_slice(&p2.to_be_bytes());
    h
}

/// A NUL-terminated name padded to a multiple of 8 bytes, as CA payloads are.
pub fn padded(name: &str) -> Vec<u8> {
    let mut b = name.as_bytes().to_vec();
    b.push(0);
    b.resize(b.len().div_ceil(8) * 8, 0);
    b
}

/// The fields of one CA message that tests look at.
#[derive(Debug, Clone)]
pub struct Message {
    pub cmd: u16,
    pub dtype: u16,
    pub count: u32,
    pub p1: u32,
    pub p2: u32,
    pub payload: Vec<u8>,
}

/// The whole messages at the front of `buf` and how many bytes they take; a
/// partial message at the end is left for the caller's next read. Extended
/// headers (payload size 0xFFFF, count 0: sizes in the next 8 bytes, as for
/// arrays of more than 65535 elements) are read as such.
pub fn messages(buf: &[u8]) -> (Vec<Message>, usize) {
    let u16at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
    let u32at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() >= at + 16 {
        let (mut size, mut count, mut header_len) =
            (usize::from(u16at(at + 2)), u32::from(u16at(at + 6)), 16);
        if size == 0xFFFF && count == 0 {
            if buf.len() < at + 24 {
                break;
            }
            (size, count, header_len) = (u32at(at + 16) as usize, u32at(at + 20), 24);
        }
        let end = at + header_len + size;
        if buf.len() < end {
            break;
        }
        out.push(Message {
            cmd: u16at(at),
            dtype: u16at(at + 4),
            count,
            p1: u32at(at + 8),
            p2: u32at(at + 12),
            payload: buf[at + header_len..end].to_vec(),
        });
        at = end;
    }
    (out, at)
}

/// Read `stream` until the server answers CREATE_CHAN (command 18): the sid
/// it gave. What came with or before that answer is dropped.
pub fn read_created_sid(stream: &mut impl std::io::Read) -> u32 {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed before CREATE_CHAN was answered");
        got.extend_from_slice(&buf[..n]);
        let (msgs, used) = messages(&got);
        if let Some(created) = msgs.iter().find(|m| m.cmd == 18) {
            return created.p2;
        }
        got.drain(..used);
    }
}
