//! The fuzz targets (the client circuit and the broadcaster are in
//! [`super::peer_targets`]). Each is a function of arbitrary bytes that panics
//! (with a message naming the broken property) when the code under test
//! misbehaves; returning normally means the input was handled correctly,
//! whether it was valid or refused with a typed error.

use std::net::SocketAddr;

use caproto::proto::circuit::{CircuitError, IoOp, IoReply, IoRequest, VirtualCircuit};
use caproto::proto::command::{AccessRights, Decoded};
use caproto::proto::dbr::{self, DbrType};
use caproto::proto::header::{Header, EXTENDED_HEADER_LEN};
use caproto::proto::{command::Command, Direction, Role, DEFAULT_MAX_ARRAY_BYTES};

/// A fuzz target: its name (also the corpus folder) and entry point.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Name used by cargo-fuzz, `scripts/fuzz` and `fuzz/corpus/<name>`.
    pub name: &'static str,
    /// Bytes at the front of an input that are control fields, not CA bytes
    /// (the structure-aware mutator leaves their layout alone).
    pub prefix_len: usize,
    /// Runs one input; panics on a property violation.
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "command_decode",
        prefix_len: 0,
        run: command_decode,
    },
    Target {
        name: "dbr_decode",
        prefix_len: DBR_PREFIX,
        run: dbr_decode,
    },
    Target {
        name: "circuit_server",
        prefix_len: 1,
        run: circuit_server,
    },
    Target {
        name: "circuit_client",
        prefix_len: 1,
        run: super::peer_targets::circuit_client,
    },
    Target {
        name: "broadcaster",
        prefix_len: 1,
        run: super::peer_targets::broadcaster,
    },
    Target {
        name: "capture_decode",
        prefix_len: 2,
        run: capture_decode,
    },
    Target {
        name: "calc",
        prefix_len: 0,
        run: calc,
    },
    Target {
        name: "db_parse",
        prefix_len: 0,
        run: db_parse,
    },
];

/// The `.db` file reader on arbitrary text, with macros defined and an
/// include callback that serves the input itself (so includes recurse).
///
/// Properties: no panic; a refusal names a line of the file it names (the
/// input, or the included copy) or line 0 never; every record found has the
/// name it is indexed by, and no two records share a name.
pub fn db_parse(data: &[u8]) {
    use caproto::server::db::{Database, DbErrorKind, Macros};
    let text = String::from_utf8_lossy(data);
    let macros = Macros::parse("P=p:,Q=$(P)q,R=$(S=1)").expect("fixed definitions");
    let mut db = Database::new();
    let mut include = |name: &str| match name {
        "self.db" => Ok(("self.db".to_string(), text.to_string())),
        other => Err(DbErrorKind::IncludeNotFound(other.to_string())),
    };
    match db.parse("input.db", &text, &macros, &mut include) {
        Ok(()) => {
            let mut names = std::collections::HashSet::new();
            for r in &db.records {
                assert!(names.insert(r.name.clone()), "record {:?} twice", r.name);
                assert_eq!(db.record(&r.name).map(|x| &x.name), Some(&r.name));
            }
            // The records are built and installed, or refused at a line of the text.
            match caproto::server::db::DbIoc::new(&db) {
                Ok(ioc) => {
                    let mut pvs = caproto::server::PvDatabase::new();
                    if ioc.install(&mut pvs).is_ok() {
                        for name in ioc.names() {
                            let pv = pvs.find(name).expect("a record is served");
                            let _ = pv.snapshot();
                            let _ = pvs.find(&format!("{name}.SEVR")).map(|f| f.snapshot());
                        }
                    }
                }
                Err(e) => {
                    let lines = text.matches('\n').count() as u32 + 1;
                    assert!((1..=lines).contains(&e.line), "record error line: {e}");
                }
            }
        }
        Err(e) => {
            let lines = text.matches('\n').count() as u32 + 1;
            assert!(
                (1..=lines).contains(&e.line),
                "error line {} outside 1..={lines}: {e}",
                e.line
            );
            let _ = e.to_string();
        }
    }
}

/// The CALC expression engine (records and ACF rules) on arbitrary text.
///
/// Properties: no panic; a refusal points inside the text (or at its end);
/// an expression that compiles always evaluates, reads and writes only the
/// twelve arguments, and gives the same result twice from the same state.
pub fn calc(data: &[u8]) {
    use caproto::proto::calc::{CalcExpr, CalcRandom, ARGS};
    let text = String::from_utf8_lossy(data);
    let expr = match CalcExpr::compile(&text) {
        Ok(e) => e,
        Err(e) => {
            assert!(
                e.position <= text.len(),
                "error offset {} past the end ({})",
                e.position,
                text.len()
            );
            let _ = e.to_string();
            return;
        }
    };
    assert!(expr.inputs_used() < 1 << ARGS, "inputs beyond L");
    assert!(expr.stores() < 1 << ARGS, "stores beyond L");
    let run = || {
        let mut args = [0.0; ARGS];
        for (i, a) in args.iter_mut().enumerate() {
            *a = i as f64 - 3.5;
        }
        let r = expr.evaluate(&mut args, 1.25, &mut CalcRandom::default());
        (r, args)
    };
    let (first, args1) = run();
    let (second, args2) = run();
    let value = match first {
        Ok(v) => v,
        // A conditional that opens inside parentheses and closes outside
        // them compiles (as in softIoc) but its branches may leave different
        // numbers of values: softIoc's record fails at run time (CALC alarm),
        // and so do we. Without `?` every compiled expression evaluates.
        Err(e) if text.contains('?') => {
            assert_eq!(second.err(), Some(e), "{text:?}: two runs differ");
            return;
        }
        Err(e) => panic!("{text:?} compiled but does not evaluate: {e}"),
    };
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    assert!(
        second.is_ok_and(|v| same(v, value)),
        "{text:?}: two runs differ"
    );
    assert!(
        args1.iter().zip(&args2).all(|(a, b)| same(*a, *b)),
        "{text:?}: stores differ between runs"
    );
}

/// Link types the capture target wraps its input in, picked by the control byte.
const CAPTURE_LINKTYPES: [u32; 5] = [1, 113, 276, 0, 101];

/// The capture decoder (caproto-shark's sans-I/O core) on arbitrary packet records.
///
/// Control bytes: the first picks the chunk size the bytes are fed in (bits 0-3, 0: all at
/// once) and the link type (bits 4-7); the second the file format the rest is put in (see
/// [`capture_file`]): legacy pcap or pcapng, little- or big-endian, or the rest taken as a
/// whole capture file (the seeds made from real pcapng files). Properties: no panic, decoding
/// ends, every message handed out is exactly one framed CA message (header + announced
/// payload).
pub fn capture_decode(data: &[u8]) {
    use caproto::capture::{Config, Decoder, Event};
    let [ctl, format, records @ ..] = data else {
        return;
    };
    let linktype = CAPTURE_LINKTYPES[usize::from(ctl >> 4) % CAPTURE_LINKTYPES.len()];
    let file = capture_file(*format, linktype, records);
    let chunk = match ctl & 0x0F {
        0 => file.len().max(1),
        n => usize::from(n) * 7 - 6,
    };
    let config = Config {
        max_message: 1 << 20,
        max_flow_buffer: 1 << 16,
        max_flows: 64,
        ..Config::default()
    };
    let mut decoder = Decoder::new(config);
    let mut messages = 0u64;
    let mut check = |e: Event<'_>| {
        if let Event::Message(m) = e {
            messages += 1;
            assert!(
                m.header_len == 16 || m.header_len == EXTENDED_HEADER_LEN,
                "header length {}",
                m.header_len
            );
            assert_eq!(
                m.bytes.len() as u64,
                m.header_len as u64 + u64::from(m.header.payload_size),
                "message bytes differ from its header's size"
            );
            let _ = m.command();
            let _ = m.pv.to_string();
        }
    };
    for c in file.chunks(chunk) {
        decoder.handle_bytes(c, &mut check);
    }
    decoder.handle_eof(&mut check);
    assert_eq!(decoder.counters().messages, messages, "message counter");
}

/// The capture file the decoder reads, from the target's second control byte (modulo 5):
///
/// - 0, 1: legacy pcap, little- / big-endian: a file header for `linktype`, then `records`
///   taken as legacy records written little-endian (their 16-byte headers are byte-swapped
///   for big-endian);
/// - 2, 3: pcapng, little- / big-endian: a section header and one interface of `linktype`,
///   then each of `records` as an enhanced packet block;
/// - 4: `records` as they are (a whole capture file: real captures seed this).
///
/// Records are split leniently (a length past the end takes what is left), and bytes after
/// the last whole record are appended as they are, so cut-off and corrupt files still reach
/// the decoder in every format.
pub fn capture_file(format: u8, linktype: u32, records: &[u8]) -> Vec<u8> {
    let format = format % 5;
    if format == 4 {
        return records.to_vec();
    }
    let big = format % 2 == 1;
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    // (timestamp seconds, fraction, captured length, original length, data) of each record.
    let mut split = Vec::new();
    let mut rest = records;
    while rest.len() >= 16 {
        let field = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap());
        let (secs, frac, caplen, orig) = (field(0), field(4), field(8), field(12));
        let end = (16 + caplen as usize).min(rest.len());
        split.push((secs, frac, caplen, orig, &rest[16..end]));
        rest = &rest[end..];
    }
    let mut file = Vec::with_capacity(64 + records.len() * 2);
    if format < 2 {
        file.extend_from_slice(&u32b(0xa1b2_c3d4));
        file.extend_from_slice(&u16b(2));
        file.extend_from_slice(&u16b(4));
        for v in [0, 0, 262_144, linktype] {
            file.extend_from_slice(&u32b(v));
        }
        for (secs, frac, caplen, orig, data) in split {
            for v in [secs, frac, caplen, orig] {
                file.extend_from_slice(&u32b(v));
            }
            file.extend_from_slice(data);
        }
    } else {
        // Section header block (no options), then the interface description block.
        file.extend_from_slice(&u32b(0x0A0D_0D0A));
        file.extend_from_slice(&u32b(28));
        file.extend_from_slice(&u32b(0x1A2B_3C4D));
        file.extend_from_slice(&u16b(1));
        file.extend_from_slice(&u16b(0));
        file.extend_from_slice(&[0xFF; 8]);
        file.extend_from_slice(&u32b(28));
        file.extend_from_slice(&u32b(1));
        file.extend_from_slice(&u32b(20));
        file.extend_from_slice(&u16b(linktype as u16));
        file.extend_from_slice(&u16b(0));
        file.extend_from_slice(&u32b(262_144));
        file.extend_from_slice(&u32b(20));
        for (secs, frac, caplen, orig, data) in split {
            // Enhanced packet block: the captured length as recorded (which may lie), the
            // data padded to 4 bytes.
            let padded = data.len().div_ceil(4) * 4;
            let total = (32 + padded) as u32;
            let micros = u64::from(secs) * 1_000_000 + u64::from(frac);
            file.extend_from_slice(&u32b(6));
            file.extend_from_slice(&u32b(total));
            file.extend_from_slice(&u32b(0));
            file.extend_from_slice(&u32b((micros >> 32) as u32));
            file.extend_from_slice(&u32b(micros as u32));
            file.extend_from_slice(&u32b(caplen));
            file.extend_from_slice(&u32b(orig));
            file.extend_from_slice(data);
            file.resize(file.len() + padded - data.len(), 0);
            file.extend_from_slice(&u32b(total));
        }
    }
    file.extend_from_slice(rest);
    file
}

/// The largest payload the command target allows: EPICS' default
/// EPICS_CA_MAX_ARRAY_BYTES plus room for DBR metadata.
const MAX_PAYLOAD: usize = DEFAULT_MAX_ARRAY_BYTES + 256;

/// Header (standard or extended) + payload decoding of a byte stream, as a
/// request and as a response, each command re-encoded and decoded again.
pub fn command_decode(data: &[u8]) {
    let _ = Header::decode(data);
    for direction in [Direction::Request, Direction::Response] {
        decode_stream(data, direction, MAX_PAYLOAD);
        // A tiny limit exercises the refusal path on every data command.
        decode_stream(data, direction, 8);
    }
}

fn decode_stream(mut data: &[u8], direction: Direction, max: usize) {
    while !data.is_empty() {
        match Command::decode_from(data, direction, max) {
            Err(_) => return,
            Ok(Decoded::Incomplete { needed }) => {
                assert!(
                    needed > data.len(),
                    "Incomplete {{ needed: {needed} }} but {} bytes were given",
                    data.len()
                );
                assert!(
                    needed <= EXTENDED_HEADER_LEN + max + 8,
                    "Incomplete {{ needed: {needed} }} exceeds header + max_payload {max}: \
                     an oversized payload must be refused, not awaited"
                );
                return;
            }
            Ok(Decoded::Command(cmd, used)) => {
                assert!(
                    (16..=data.len()).contains(&used),
                    "decode_from used {used} bytes of {}",
                    data.len()
                );
                if let Ok((h, hlen)) = Header::decode(data) {
                    assert!(
                        h.payload_size as usize <= max,
                        "{direction:?} command with payload {} accepted above max {max}",
                        h.payload_size
                    );
                    assert!(used >= hlen, "used {used} < header length {hlen}");
                }
                let _ = format!("{cmd:?}");
                check_reencode(&cmd, direction);
                data = &data[used..];
            }
        }
    }
}

/// encode(cmd) must decode back to a command with the same encoding.
fn check_reencode(cmd: &Command, direction: Direction) {
    let mut first = Vec::new();
    let n = match cmd.encode(&mut first) {
        Ok(n) => n,
        Err(e) => panic!("decoded {direction:?} command cannot be re-encoded ({e}): {cmd:?}"),
    };
    assert_eq!(
        n,
        first.len(),
        "encode returned {n} but wrote {}",
        first.len()
    );
    assert_eq!(first.len() % 8, 0, "encoding not 8-aligned: {cmd:?}");
    let again = match Command::decode_from(&first, direction, usize::MAX / 2) {
        Ok(Decoded::Command(c, used)) => {
            assert_eq!(
                used,
                first.len(),
                "re-decode used {used} of {}",
                first.len()
            );
            c
        }
        other => panic!("own encoding of {cmd:?} does not decode: {other:?} from {first:02x?}"),
    };
    let mut second = Vec::new();
    let _ = again.encode(&mut second);
    assert_eq!(
        first, second,
        "encode(decode(encode(c))) != encode(c) for {cmd:?} / {again:?}"
    );
}

/// Input layout of the DBR target: type code, element count (u32 BE), payload.
pub const DBR_PREFIX: usize = 5;

/// DBR payload decoding for every type code (and invalid ones) with arbitrary
/// counts; successful decodes are re-encoded and must round-trip.
pub fn dbr_decode(data: &[u8]) {
    if data.len() < DBR_PREFIX {
        return;
    }
    let code = u16::from(data[0]) % 40;
    let count = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
    let payload = &data[DBR_PREFIX..];
    let Some(dbr_type) = DbrType::from_code(code) else {
        assert!(code > DbrType::MAX_CODE, "from_code({code}) = None");
        return;
    };
    // Must be cheap and not overflow for any count.
    let _ = dbr::payload_size(dbr_type, count as usize);
    let Ok((value, meta)) = dbr::decode(dbr_type, count, payload) else {
        return;
    };
    assert_eq!(
        value.native_type(),
        dbr_type.native(),
        "{dbr_type} decoded into {:?}",
        value.native_type()
    );
    assert!(
        value.len() <= payload.len(),
        "{dbr_type} count {count}: {} elements from {} bytes",
        value.len(),
        payload.len()
    );
    let mut first = Vec::new();
    if let Err(e) = dbr::encode(dbr_type, &value, &meta, &mut first) {
        panic!("decoded {dbr_type} x{count} cannot be re-encoded: {e}");
    }
    let n = value.len() as u32;
    let (v2, m2) = match dbr::decode(dbr_type, n, &first) {
        Ok(x) => x,
        Err(e) => panic!("own encoding of {dbr_type} x{n} does not decode ({e}): {first:02x?}"),
    };
    let mut second = Vec::new();
    if let Err(e) = dbr::encode(dbr_type, &v2, &m2, &mut second) {
        panic!("re-decoded {dbr_type} x{n} cannot be encoded: {e}");
    }
    assert_eq!(first, second, "{dbr_type} x{n}: encoding not stable");
}

/// A server-role [`VirtualCircuit`] fed the input in chunks (first byte picks
/// the chunk size), answering what it decodes the way a server would, so the
/// channel/ioid/subscription tables are exercised too.
pub fn circuit_server(data: &[u8]) {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let ours: SocketAddr = ([127, 0, 0, 1], 5064).into();
    let theirs: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let mut circ = VirtualCircuit::new(Role::Server, ours, theirs, 0, DEFAULT_MAX_ARRAY_BYTES);
    let chunk = match ctl & 0x3F {
        0 => stream.len().max(1),
        n => usize::from(n),
    };
    let fail_creates = ctl & 0x40 != 0;
    // As our server does: reads and writes through the fast path first.
    let fast_path = ctl & 0x80 != 0;
    let mut out = Vec::new();
    let limit = EXTENDED_HEADER_LEN + circ.max_payload();
    for piece in stream.chunks(chunk) {
        circ.recv(piece);
        // Every call consumes at least one byte or returns None.
        let mut budget = circ.buffered() + 2;
        loop {
            if fast_path {
                let before = circ.buffered();
                if let Some(req) = circ.next_io_request() {
                    budget -= 1;
                    assert!(
                        budget > 0,
                        "next_io_request keeps returning without consuming"
                    );
                    answer_io(&mut circ, &req, before, &mut out);
                    out.clear();
                    continue;
                }
            }
            let Some(result) = circ.next_command() else {
                break;
            };
            budget -= 1;
            assert!(budget > 0, "next_command keeps returning without consuming");
            match result {
                Ok(cmd) => answer(&mut circ, &cmd, fail_creates, &mut out),
                Err(CircuitError::Remote(refused)) => {
                    let _ = circ.send(
                        &Command::ErrorResponse {
                            original_request: refused.header,
                            cid: 0,
                            status: 0,
                            error_message: refused.violation.to_string(),
                        },
                        &mut out,
                    );
                }
                Err(e) => {
                    assert!(e.is_fatal(), "non-fatal error from next_command: {e}");
                    assert!(circ.next_command().is_none(), "commands after fatal {e}");
                    return;
                }
            }
            out.clear();
        }
        assert!(
            circ.buffered() <= limit,
            "circuit buffers {} bytes, above one maximum command ({limit})",
            circ.buffered()
        );
    }
    circ.disconnect();
    assert!(circ.next_command().is_none());
}

/// The server fast path's properties for one request it handed out: only
/// the four I/O commands, exactly one whole message consumed (`before` bytes
/// were buffered), a write's payload lent whole, and a reply that decodes
/// back into the reply `Command` the general path would send.
fn answer_io(circ: &mut VirtualCircuit, req: &IoRequest, before: usize, out: &mut Vec<u8>) {
    let used = before - circ.buffered();
    // A sender may use the extended header (24 bytes) even for sizes that
    // fit the standard one, so the wire, not the values, says which it was.
    let header_len = used.checked_sub(req.header.payload_size as usize);
    assert!(
        matches!(header_len, Some(16 | 24)),
        "{req:?} consumed {used} bytes"
    );
    let payload = circ.io_payload().len();
    assert_eq!(
        payload, req.header.payload_size as usize,
        "payload of {req:?}"
    );
    assert_eq!(
        req.op,
        IoOp::from_command_id(req.header.command).expect("an I/O command")
    );
    let written = circ.reply_io(req, out, |out| {
        out.extend_from_slice(&[0; 8]);
        IoReply {
            status: 1,
            data_count: 1,
        }
    });
    assert_eq!(written, out.len());
    if req.op == IoOp::Write {
        assert!(out.is_empty(), "a WRITE got a reply");
        return;
    }
    match Command::decode_from(out, Direction::Response, usize::MAX) {
        Ok(Decoded::Command(reply, n)) => {
            assert_eq!(n, written, "reply to {req:?} has trailing bytes");
            let ioid = match reply {
                Command::ReadNotifyResponse { ioid, .. }
                | Command::ReadResponse { ioid, .. }
                | Command::WriteNotifyResponse { ioid, .. } => ioid,
                other => panic!("{req:?} answered with {other:?}"),
            };
            assert_eq!(ioid, req.ioid);
        }
        other => panic!("reply to {req:?} does not decode: {other:?}"),
    }
}

/// What a well-behaved server sends back for `cmd` (errors from `send` are
/// the state machine refusing our reply, which is fine here).
fn answer(circ: &mut VirtualCircuit, cmd: &Command, fail_creates: bool, out: &mut Vec<u8>) {
    let mut send = |circ: &mut VirtualCircuit, reply: Command| {
        let before = out.len();
        match circ.send(&reply, out) {
            Ok(n) => assert_eq!(out.len() - before, n, "send wrote a different length"),
            Err(_) => assert_eq!(out.len(), before, "failed send left bytes behind"),
        }
    };
    match cmd {
        Command::VersionRequest { .. } => send(
            circ,
            Command::VersionResponse {
                version: 13,
                sequence: None,
            },
        ),
        Command::EchoRequest => send(circ, Command::EchoResponse),
        Command::CreateChanRequest { cid, .. } if fail_creates => {
            send(circ, Command::CreateChFailResponse { cid: *cid })
        }
        Command::CreateChanRequest { cid, .. } => {
            let sid = circ.new_channel_id();
            send(
                circ,
                Command::AccessRightsResponse {
                    cid: *cid,
                    access_rights: AccessRights::READ_WRITE,
                },
            );
            send(
                circ,
                Command::CreateChanResponse {
                    data_type: DbrType::DOUBLE,
                    data_count: 1,
                    cid: *cid,
                    sid,
                },
            );
        }
        Command::ReadNotifyRequest {
            data_type, ioid, ..
        } => send(
            circ,
            Command::ReadNotifyResponse {
                data: vec![0; 8],
                data_type: *data_type,
                data_count: 1,
                status: 1,
                ioid: *ioid,
            },
        ),
        Command::WriteNotifyRequest {
            data_type,
            data_count,
            ioid,
            ..
        } => send(
            circ,
            Command::WriteNotifyResponse {
                data_type: *data_type,
                data_count: *data_count,
                status: 1,
                ioid: *ioid,
            },
        ),
        Command::EventAddRequest {
            data_type,
            subscriptionid,
            ..
        } => send(
            circ,
            Command::EventAddResponse {
                data: vec![0; 8],
                data_type: *data_type,
                data_count: 1,
                status: 1,
                subscriptionid: *subscriptionid,
            },
        ),
        Command::EventCancelRequest {
            data_type,
            data_count,
            sid,
            subscriptionid,
        } => send(
            circ,
            Command::EventCancelResponse {
                data_type: *data_type,
                data_count: *data_count,
                sid: *sid,
                subscriptionid: *subscriptionid,
            },
        ),
        Command::ClearChannelRequest { sid, cid } => send(
            circ,
            Command::ClearChannelResponse {
                sid: *sid,
                cid: *cid,
            },
        ),
        _ => {}
    }
}
