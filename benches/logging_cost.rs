//! Cost of logging on the hot path (run: `cargo bench --bench logging_cost`).
//!
//! Measures one per-command DEBUG record (the contract fields, a command whose Display does
//! real formatting) when: no handler wants DEBUG; a handler wants DEBUG but a PV filter rejects
//! the record; the record is accepted and formatted (text and JSON) into a null writer; and
//! the global switch (`log::disable`, Python's `logging.disable`) turns off a handler that
//! wants DEBUG, which should cost what the first case costs.
//! Plain `std::time`, no harness: median of several rounds, in ns per record.

use std::fmt;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use caproto::log::{self, ColorMode, Format, LogConfig, PvFilter};
use tracing::level_filters::LevelFilter;

struct Cmd(u32);

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ReadNotifyRequest(data_type=<ChannelType.DOUBLE: 6>, data_count=0, sid={}, ioid={})",
            self.0,
            self.0 + 1
        )
    }
}

#[inline(never)]
fn emit(pv: &str, our: SocketAddr, their: SocketAddr, cmd: &Cmd) {
    tracing::debug!(target: "caproto::circ", pv, our_addr = %our, their_addr = %their,
        direction = "send", role = "client", bytes = 16u64, command = %cmd);
}

fn measure(name: &str, pv: &str) {
    // `cargo bench --bench logging_cost -- WORD` runs only the cases whose name contains WORD.
    if let Some(only) = std::env::args().nth(1).filter(|a| !a.starts_with('-')) {
        if !name.contains(&only) {
            return;
        }
    }
    let our: SocketAddr = "127.0.0.1:51782".parse().unwrap();
    let their: SocketAddr = "127.0.0.1:5064".parse().unwrap();
    let cmd = Cmd(7);
    let iters = 200_000u32;
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            emit(
                black_box(pv),
                black_box(our),
                black_box(their),
                black_box(&cmd),
            );
        }
        rounds.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    rounds.sort_by(f64::total_cmp);
    println!("{name:<48} {:>9.1} ns/record (median of 7)", rounds[3]);
}

fn null_writer() -> log::SharedWriter {
    Arc::new(Mutex::new(io::sink()))
}

fn main() {
    let base = || LogConfig::writer(null_writer()).color(ColorMode::Never);

    log::config_logging(base().level(LevelFilter::WARN)).unwrap();
    measure("disabled (handler at WARN)", "drop:x");

    log::config_logging(base().level(LevelFilter::DEBUG)).unwrap();
    log::disable(tracing::Level::DEBUG);
    measure("log::disable(DEBUG), handler at DEBUG", "any:x");
    log::enable_all();

    log::config_logging(
        base()
            .level(LevelFilter::DEBUG)
            .filter(PvFilter::new(["keep:*"]).unwrap()),
    )
    .unwrap();
    measure("DEBUG handler, rejected by PV filter", "drop:x");
    measure("DEBUG handler, accepted by PV filter, text", "keep:x");

    log::config_logging(base().level(LevelFilter::DEBUG)).unwrap();
    measure("DEBUG handler, no filter, text", "any:x");

    log::config_logging(base().level(LevelFilter::DEBUG).format(Format::Json)).unwrap();
    measure("DEBUG handler, no filter, JSON", "any:x");
}
