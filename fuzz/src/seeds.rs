//! Seed inputs for every target: valid CA commands in both directions,
//! built by hand from the documented wire layouts with [`Header::encode`]
//! (not with the command codec, so the seeds are an independent check of it),
//! and DBR payloads for every type code. `gen-corpus` writes them to
//! `fuzz/corpus/<target>/`.

use caproto::proto::command::id;
use caproto::proto::dbr::{self, DbrType, Metadata, NativeType, Value};
use caproto::proto::header::Header;
use caproto::proto::padded_len;

/// One whole command: header + payload padded to 8 bytes. Uses the extended
/// header when the payload or count needs it.
pub fn cmd(
    command: u16,
    data_type: u16,
    data_count: u32,
    p1: u32,
    p2: u32,
    payload: &[u8],
) -> Vec<u8> {
    let padded = padded_len(payload.len());
    let header = Header {
        command,
        payload_size: padded as u32,
        data_type,
        data_count,
        parameter1: p1,
        parameter2: p2,
    };
    let mut out = Vec::with_capacity(header.encoded_len() + padded);
    header.encode(&mut out);
    out.extend_from_slice(payload);
    out.resize(out.len() + padded - payload.len(), 0);
    out
}

/// A NUL-terminated string payload.
fn name(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// Client-to-server commands, each a valid request.
pub fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let mut ev = Vec::new();
    for f in [0f32, 0.0, 0.0] {
        ev.extend_from_slice(&f.to_be_bytes());
    }
    ev.extend_from_slice(&5u16.to_be_bytes()); // DBE_VALUE | DBE_ALARM
    ev.extend_from_slice(&[0, 0]);
    vec![
        ("version", cmd(id::VERSION, 0, 13, 0, 0, &[])),
        ("host", cmd(id::HOST_NAME, 0, 0, 0, 0, &name("localhost"))),
        (
            "client",
            cmd(id::CLIENT_NAME, 0, 0, 0, 0, &name("operator")),
        ),
        (
            "create",
            cmd(id::CREATE_CHAN, 0, 0, 1, 13, &name("simple:A")),
        ),
        ("read_notify", cmd(id::READ_NOTIFY, 6, 1, 1, 7, &[])),
        ("read_notify_ctrl", cmd(id::READ_NOTIFY, 34, 0, 1, 8, &[])),
        (
            "write_notify",
            cmd(id::WRITE_NOTIFY, 6, 1, 1, 9, &f64s(&[1.5])),
        ),
        ("write", cmd(id::WRITE, 6, 2, 1, 10, &f64s(&[1.5, -2.0]))),
        (
            "write_string",
            cmd(id::WRITE_NOTIFY, 0, 1, 1, 11, &[b'x'; 40]),
        ),
        ("event_add", cmd(id::EVENT_ADD, 20, 1, 1, 3, &ev)),
        ("event_cancel", cmd(id::EVENT_CANCEL, 20, 0, 1, 3, &[])),
        ("clear", cmd(id::CLEAR_CHANNEL, 0, 0, 1, 1, &[])),
        ("echo", cmd(id::ECHO, 0, 0, 0, 0, &[])),
        ("events_off", cmd(id::EVENTS_OFF, 0, 0, 0, 0, &[])),
        ("events_on", cmd(id::EVENTS_ON, 0, 0, 0, 0, &[])),
        ("read_sync", cmd(id::READ_SYNC, 0, 0, 0, 0, &[])),
        ("search", cmd(id::SEARCH, 10, 13, 5, 5, &name("simple:B"))),
        ("search_noreply", cmd(id::SEARCH, 5, 13, 6, 6, &name("x"))),
        (
            "big_write",
            cmd(id::WRITE_NOTIFY, 6, 2_100, 1, 12, &f64s(&[0.25; 2_100])),
        ),
    ]
}

/// Server-to-client commands, each a valid response.
pub fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let original = cmd(id::READ_NOTIFY, 6, 1, 1, 7, &[]);
    let mut err = original.clone();
    err.extend_from_slice(&name("no such channel"));
    vec![
        ("version", cmd(id::VERSION, 0, 13, 0, 0, &[])),
        ("access", cmd(id::ACCESS_RIGHTS, 0, 0, 1, 3, &[])),
        ("create", cmd(id::CREATE_CHAN, 6, 1, 1, 1, &[])),
        ("create_fail", cmd(id::CREATE_CH_FAIL, 0, 0, 1, 0, &[])),
        (
            "read_notify",
            cmd(id::READ_NOTIFY, 6, 1, 1, 7, &f64s(&[3.25])),
        ),
        (
            "event",
            cmd(id::EVENT_ADD, 6, 3, 1, 3, &f64s(&[1.0, 2.0, 3.0])),
        ),
        ("event_cancel", cmd(id::EVENT_ADD, 20, 0, 1, 3, &[])),
        ("write_notify", cmd(id::WRITE_NOTIFY, 6, 1, 1, 9, &[])),
        ("clear", cmd(id::CLEAR_CHANNEL, 0, 0, 1, 1, &[])),
        ("error", cmd(id::ERROR, 0, 0, 1, 1, &err)),
        ("echo", cmd(id::ECHO, 0, 0, 0, 0, &[])),
        ("search", cmd(id::SEARCH, 5064, 0, 0xFFFF_FFFF, 5, &[0, 13])),
        ("not_found", cmd(id::NOT_FOUND, 10, 13, 5, 5, &[])),
        ("disconn", cmd(id::SERVER_DISCONN, 0, 0, 1, 0, &[])),
        ("beacon", cmd(id::RSRV_IS_UP, 13, 5064, 1, 0x7F00_0001, &[])),
        (
            "repeater_confirm",
            cmd(id::REPEATER_CONFIRM, 0, 0, 0, 0x7F00_0001, &[]),
        ),
        (
            "big_event",
            cmd(id::EVENT_ADD, 6, 2_100, 1, 3, &f64s(&[0.5; 2_100])),
        ),
    ]
}

/// A client's whole session as one stream: handshake, channels, I/O,
/// subscriptions, cleanup.
pub fn session() -> Vec<u8> {
    let r = requests();
    let pick = |n: &str| {
        r.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut s = Vec::new();
    for n in [
        "version",
        "host",
        "client",
        "create",
        "read_notify",
        "write_notify",
        "event_add",
        "echo",
        "events_off",
        "events_on",
        "event_cancel",
        "read_notify_ctrl",
        "clear",
    ] {
        s.extend(pick(n));
    }
    s
}

fn sample(native: NativeType, n: usize) -> Value {
    match native {
        NativeType::String => Value::String((0..n).map(|i| format!("s{i}")).collect()),
        NativeType::Short => Value::Short((0..n).map(|i| i as i16 - 1).collect()),
        NativeType::Float => Value::Float((0..n).map(|i| i as f32 * 0.5).collect()),
        NativeType::Enum => Value::Enum((0..n).map(|i| i as u16).collect()),
        NativeType::Char => Value::Char((0..n).map(|i| b'a' + i as u8).collect()),
        NativeType::Long => Value::Long((0..n).map(|i| i as i32 * -7).collect()),
        NativeType::Double => Value::Double((0..n).map(|i| i as f64 * 1.25).collect()),
    }
}

/// DBR inputs: type code, count (u32 BE), payload, for every code 0..=38
/// with 1 and 3 elements. Payloads come from the DBR encoder when it can
/// produce them, else a patterned block large enough for any layout.
pub fn dbr_inputs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let meta = Metadata {
        enum_strings: vec!["Off".into(), "On".into()],
        ..Metadata::default()
    };
    for code in 0..=DbrType::MAX_CODE {
        let Some(t) = DbrType::from_code(code) else {
            continue;
        };
        for n in [1usize, 3] {
            let mut payload = Vec::new();
            if dbr::encode(t, &sample(t.native(), n), &meta, &mut payload).is_err()
                || payload.is_empty()
            {
                payload = (0..(400 + 40 * n)).map(|i| (i * 7) as u8).collect();
            }
            let mut input = vec![code as u8];
            input.extend_from_slice(&(n as u32).to_be_bytes());
            input.extend_from_slice(&payload);
            out.push((format!("{}_x{n}", t.caproto_name().to_lowercase()), input));
        }
    }
    out
}

/// Every seed of `target` as (file name, bytes).
pub fn for_target(target: &str) -> Vec<(String, Vec<u8>)> {
    match target {
        "command_decode" => requests()
            .into_iter()
            .map(|(n, v)| (format!("req_{n}"), v))
            .chain(
                responses()
                    .into_iter()
                    .map(|(n, v)| (format!("resp_{n}"), v)),
            )
            .chain([("session".to_string(), session())])
            .collect(),
        "dbr_decode" => dbr_inputs(),
        "circuit_server" => {
            let mut seeds = vec![];
            // Control byte: 0 = one chunk; 7 = 7-byte chunks; 0x40 = refuse creates.
            for (tag, ctl) in [("whole", 0u8), ("chunks7", 7), ("refuse", 0x40)] {
                let mut v = vec![ctl];
                v.extend(session());
                seeds.push((format!("session_{tag}"), v));
            }
            for (n, body) in requests() {
                let mut v = vec![0u8];
                v.extend(cmd(id::VERSION, 0, 13, 0, 0, &[]));
                v.extend(cmd(id::CREATE_CHAN, 0, 0, 1, 13, &name("simple:A")));
                v.extend(body);
                seeds.push((format!("after_create_{n}"), v));
            }
            seeds
        }
        "capture_decode" => capture_seeds(),
        "db_parse" => [
            "record(ai, \"$(P)a\") { field(DESC, \"$(Q)\") alias(\"$(P)b\") }\ninclude \"self.db\"\n",
            "grecord(ao, x) { field(DRVH, \"${R}\") info(a, \"\\x41\\101\") }\nalias(x, y)\n",
            "# only a comment\nrecord(\"*\", x) { field(EGU, mm) }\n",
        ]
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("db_{i}"), e.as_bytes().to_vec()))
        .collect(),
        "calc" => [
            "A+B*C-D/E",
            "A:=B*2;A>1?ABS(C):MAX(D,E,F)",
            "(A&0xFF)<<2|B>>>1 XOR ~C",
            "FINITE(A,B)&&!ISNAN(C)||VAL#1",
            "NINT(SIN(PI*A)**2+ATAN2(B,C))%3",
        ]
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("expr_{i}"), e.as_bytes().to_vec()))
        .collect(),
        _ => Vec::new(),
    }
}

/// An Ethernet frame with IPv4 and a TCP segment (`flags`) or, when `flags` is `None`, a
/// UDP datagram, from 127.0.0.1:`src` to 127.0.0.1:`dst`.
fn frame(src: u16, dst: u16, seq: u32, flags: Option<u8>, payload: &[u8]) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&src.to_be_bytes());
    l4.extend_from_slice(&dst.to_be_bytes());
    match flags {
        Some(f) => {
            l4.extend_from_slice(&seq.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 0, 0x50, f, 0xFF, 0xFF, 0, 0, 0, 0]);
        }
        None => {
            l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        }
    }
    l4.extend_from_slice(payload);
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, if flags.is_some() { 6 } else { 17 }, 0, 0]);
    f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    f.extend_from_slice(&l4);
    f
}

/// pcap records (no file header) of the given frames.
fn records(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        for v in [1_700_000_000u32, i as u32, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// Seeds of the capture target: a circuit (SYN, the request session in 100-byte segments,
/// responses) and search datagrams, on Ethernet, whole and in 8-byte chunks, in each file
/// format the target writes.
fn capture_seeds() -> Vec<(String, Vec<u8>)> {
    let (c, s) = (40_000u16, 5064u16);
    let mut frames = vec![frame(c, s, 999, Some(0x02), &[])];
    let reqs = session();
    for (i, seg) in reqs.chunks(100).enumerate() {
        frames.push(frame(c, s, 1000 + 100 * i as u32, Some(0x18), seg));
    }
    let resp: Vec<u8> = responses().into_iter().flat_map(|(_, v)| v).collect();
    frames.push(frame(s, c, 5000, Some(0x18), &resp));
    frames.push(frame(
        c,
        s,
        0,
        None,
        &[
            cmd(id::VERSION, 1, 13, 1, 0, &[]),
            cmd(id::SEARCH, 5, 13, 1, 1, &name("simple:A")),
        ]
        .concat(),
    ));
    let body = records(&frames);
    let mut out = Vec::new();
    // Second byte: the file format the target writes (legacy pcap / pcapng, LE / BE).
    for (fmt, name) in [(0u8, ""), (1, "_pcap_be"), (2, "_pcapng"), (3, "_pcapng_be")] {
        for (tag, ctl) in [("whole", 0u8), ("chunks8", 2)] {
            let mut v = vec![ctl, fmt];
            v.extend_from_slice(&body);
            out.push((format!("session{name}_{tag}"), v));
        }
    }
    out
}
