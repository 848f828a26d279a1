//! Where should circuits run (issue 15)? Synchronous gets from 1 and from
//! 100 clients against our server with its circuits as tasks on a
//! multi-thread runtime (`circuit_threads = 0`, as before), or on 2
//! circuit threads with a current-thread runtime each, at normal priority
//! or under `SCHED_FIFO` 20 (as `caproto-ioc` runs them when allowed, like
//! an EPICS IOC's CA server threads; without the permission that row
//! measures normal priority again). Run:
//! `cargo bench --bench server_clients`.
//!
//! The server runs in-process on 127.0.0.1 (ephemeral port, no beacons) on
//! its own thread with a multi-thread runtime, as in `caproto-ioc`. Each
//! client is its own `Context` (so its own circuit), all on one
//! multi-thread client runtime in this process; each does one get at a
//! time on `many:x` for `WINDOW` after `WARMUP`. Reported: gets per second
//! over all clients and the median round trip. Every variant runs `ROUNDS`
//! times, in a different order each round, and the medians of the rounds
//! are printed. Traffic stays on loopback (no repeater, search list
//! 127.0.0.1:port only).

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caproto::client::Context;
use caproto::proto::dbr::DbrType;
use caproto::server::{Pv, PvDatabase, PvGroup, ServerConfig};
use support::{client_config, loopback_config, start_server, RunningServer};

const WARMUP: Duration = Duration::from_millis(300);
const WINDOW: Duration = Duration::from_secs(2);
const ROUNDS: usize = 3;
/// Under `cargo test --all-targets` (no `--bench` argument) one short round
/// only checks that every variant runs.
const SMOKE_WINDOW: Duration = Duration::from_millis(200);
const CONNECT: Duration = Duration::from_secs(10);

/// Where the server runs its circuits.
#[derive(Clone, Copy, PartialEq)]
struct Placement {
    threads: usize,
    rt_priority: Option<u8>,
}

impl Placement {
    fn describe(self) -> String {
        match (self.threads, self.rt_priority) {
            (0, _) => "tasks, multi-thread runtime".into(),
            (n, None) => format!("{n} circuit threads"),
            (n, Some(p)) => format!("{n} circuit threads, FIFO {p}"),
        }
    }
}

/// Our server with `many:x`, its circuits placed as `place` says.
fn start_many_server(place: Placement) -> RunningServer {
    let config = ServerConfig {
        circuit_threads: place.threads,
        circuit_rt_priority: place.rt_priority,
        ..loopback_config()
    };
    let (server, ()) = start_server(config, || {
        let mut group = PvGroup::new("many:");
        group.add(Pv::new("x", 1.5f64));
        let mut db = PvDatabase::new();
        db.add_group(group).expect("one PV");
        (db, ())
    });
    server
}

/// Gets per second over all clients, and the median round trip.
type Measured = (f64, Duration);

/// One measurement: `clients` contexts each doing one get at a time.
fn measure(port: u16, clients: usize, window: Duration, rt: &tokio::runtime::Runtime) -> Measured {
    rt.block_on(async move {
        let mut channels = Vec::new();
        for _ in 0..clients {
            let ctx = Context::new(client_config(port)).expect("client context");
            let ch = ctx.connect_one("many:x", CONNECT).await.expect("connects");
            channels.push((ctx, ch));
        }
        let running = Arc::new(AtomicBool::new(true));
        let mut tasks = Vec::new();
        for (_, ch) in &channels {
            let ch = ch.clone();
            let running = Arc::clone(&running);
            tasks.push(tokio::spawn(async move {
                let start = Instant::now();
                while start.elapsed() < WARMUP {
                    ch.get(DbrType::DOUBLE, Some(1)).await.expect("get");
                }
                let mut times = Vec::new();
                while running.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    ch.get(DbrType::DOUBLE, Some(1)).await.expect("get");
                    times.push(t.elapsed());
                }
                times
            }));
        }
        tokio::time::sleep(WARMUP + window).await;
        running.store(false, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client task"));
        }
        for (ctx, _) in channels {
            ctx.close().await;
        }
        all.sort();
        let rate = all.len() as f64 / window.as_secs_f64();
        (rate, all[all.len() / 2])
    })
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (rounds, window) = if smoke {
        (1, SMOKE_WINDOW)
    } else {
        (ROUNDS, WINDOW)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let variants = [
        Placement {
            threads: 0,
            rt_priority: None,
        },
        Placement {
            threads: 2,
            rt_priority: None,
        },
        Placement {
            threads: 2,
            rt_priority: Some(20),
        },
    ];
    let client_counts = [1usize, 100];
    // Per (placement, clients): each round's (rate, median).
    let mut results: Vec<((Placement, usize), Vec<Measured>)> = Vec::new();
    for &t in &variants {
        for &c in &client_counts {
            results.push(((t, c), Vec::new()));
        }
    }
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for i in order {
            let place = variants[i];
            let server = start_many_server(place);
            for &clients in &client_counts {
                let r = measure(server.port, clients, window, &rt);
                if let Some((_, v)) = results.iter_mut().find(|(k, _)| *k == (place, clients)) {
                    v.push(r);
                }
            }
            server.stop();
        }
    }
    println!("circuits on                      clients   gets/s (median of {rounds})   median round trip");
    for ((place, clients), runs) in &results {
        let mut rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let mut lats: Vec<Duration> = runs.iter().map(|r| r.1).collect();
        rates.sort_by(f64::total_cmp);
        lats.sort();
        let place = place.describe();
        println!(
            "{place:<32} {clients:>7} {:>12.0} {:>22.1} µs",
            rates[rates.len() / 2],
            lats[lats.len() / 2].as_secs_f64() * 1e6
        );
    }
}
