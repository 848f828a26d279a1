//! Per-request cost of the server's request path, without sockets (run:
//! `cargo bench --bench server_requests`).
//!
//! One circuit with 10 000 channels on one double PV, as EPICS `catime`
//! makes; requests are fed in 16 KiB reads (the server's read size) and
//! answered into the output buffer. Prints the median ns per request of
//! several rounds (each PASSES times over the 10 000 channels) for
//! READ_NOTIFY, WRITE and WRITE_NOTIFY, in wall time: run it on a quiet
//! machine. (Thread CPU time from /proc/thread-self/schedstat was tried:
//! it advances in scheduler ticks, 4 ms here, so short rounds came out
//! quantised.) This isolates
//! what catime's async get/put rates measure on the server side from the
//! kernel, the runtime and the client.

use std::hint::black_box;
use std::time::Instant;

use caproto::proto::command::Command;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType};
use caproto::server::bench_hooks::CircuitBench;
use caproto::server::{Pv, PvDatabase, PvGroup};

const CHANNELS: u32 = 10_000;
const READ_SIZE: usize = 16 * 1024;
const ROUNDS: usize = 15;
/// Passes over all channels per round, so a round lasts tens of ms.
const PASSES: usize = 10;

fn encode_all(cmds: impl IntoIterator<Item = Command>) -> Vec<u8> {
    let mut out = Vec::new();
    for cmd in cmds {
        cmd.encode(&mut out).expect("bench commands encode");
    }
    out
}

/// Cut `bytes` into reads of at most READ_SIZE, on command boundaries.
fn reads(bytes: &[u8], command_size: usize) -> Vec<&[u8]> {
    let per_read = READ_SIZE / command_size * command_size;
    bytes.chunks(per_read).collect()
}

fn connected() -> (CircuitBench, Vec<u32>) {
    let mut group = PvGroup::new("bench:");
    group.add(Pv::new("B", 1.0));
    let mut db = PvDatabase::new();
    db.add_group(group).unwrap();
    let mut bench = CircuitBench::new(db);
    let mut hello = encode_all([
        Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        },
        Command::HostNameRequest {
            name: "bench".into(),
        },
        Command::ClientNameRequest {
            name: "bench".into(),
        },
    ]);
    hello.extend(encode_all((1..=CHANNELS).map(|cid| {
        Command::CreateChanRequest {
            name: "bench:B".into(),
            cid,
            version: 13,
        }
    })));
    bench.feed(&hello);
    // The server numbers sids from 1 in creation order.
    (bench, (1..=CHANNELS).collect())
}

fn measure(name: &str, bench: &mut CircuitBench, requests: &[u8], command_size: usize) {
    // `cargo bench --bench server_requests -- WRITE` runs only the matching rows (for perf).
    if let Some(only) = std::env::args().nth(1).filter(|a| !a.starts_with('-')) {
        if !name.contains(&only) {
            return;
        }
    }
    let chunks = reads(requests, command_size);
    let n = requests.len() / command_size;
    let mut per_request = Vec::with_capacity(ROUNDS);
    let mut answered = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..PASSES {
            for chunk in &chunks {
                answered = black_box(bench.feed(chunk));
            }
        }
        per_request.push(start.elapsed().as_nanos() as f64 / (n * PASSES) as f64);
    }
    per_request.sort_by(f64::total_cmp);
    println!(
        "{name:<14} {:>7.1} ns/request (median of {ROUNDS} rounds x {PASSES} x {n}; last read answered {answered} B)",
        per_request[ROUNDS / 2]
    );
}

fn main() {
    let (mut bench, sids) = connected();
    let read = encode_all(sids.iter().map(|&sid| Command::ReadNotifyRequest {
        data_type: DbrType::Value(DbrClass::Plain, NativeType::Double),
        data_count: 1,
        sid,
        ioid: sid,
    }));
    measure("READ_NOTIFY", &mut bench, &read, 16);
    let value = 2.5f64.to_be_bytes().to_vec();
    let write = encode_all(sids.iter().map(|&sid| Command::WriteRequest {
        data: value.clone(),
        data_type: DbrType::Value(DbrClass::Plain, NativeType::Double),
        data_count: 1,
        sid,
        ioid: sid,
    }));
    measure("WRITE", &mut bench, &write, 24);
    let write_notify = encode_all(sids.iter().map(|&sid| Command::WriteNotifyRequest {
        data: value.clone(),
        data_type: DbrType::Value(DbrClass::Plain, NativeType::Double),
        data_count: 1,
        sid,
        ioid: sid,
    }));
    measure("WRITE_NOTIFY", &mut bench, &write_notify, 24);
}
