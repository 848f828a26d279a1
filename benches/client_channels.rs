//! The client's cost per channel (issue 23), in process: for N channels on
//! our own server, how long `Context::get_many` and `Context::monitor_many`
//! take per channel, and how many heap bytes each channel holds while
//! connected and monitored. Run: `cargo bench --bench client_channels`.
//!
//! Heap bytes are counted by a global allocator that wraps the system one
//! and keeps the live total (client and server share the process, so the
//! server's own tables are measured before the client starts and taken
//! away). Each size runs `ROUNDS` times and the medians are printed.
//! Traffic stays on loopback (no repeater, search list 127.0.0.1:port).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) one small size
//! runs once, as a check that the benchmark still works.

#[path = "support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use caproto::client::{Context, MonitorEvent, MonitorSpec};
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType};
use caproto::server::{Pv, PvDatabase, PvGroup};
use support::{client_config, loopback_config, start_server};

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const ROUNDS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(60);

/// One measurement of N channels.
struct Sample {
    get_us_per_channel: f64,
    monitor_us_per_channel: f64,
    bytes_per_monitored_channel: f64,
}

fn measure(port: u16, n: usize) -> Sample {
    let names: Vec<String> = (0..n).map(|i| format!("bench:p{i}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ctx = Context::new(client_config(port)).expect("client");
        let t0 = Instant::now();
        let readings = ctx
            .get_many(
                &names,
                |info| (DbrType::plain(info.native_type), None),
                TIMEOUT,
            )
            .await;
        let get = t0.elapsed();
        assert!(readings.iter().all(|r| r.is_ok()), "every PV read");
        drop(readings);
        ctx.close().await;

        let ctx = Context::new(client_config(port)).expect("client");
        let before = live();
        let t0 = Instant::now();
        let mut set = ctx.monitor_many(&names, MonitorSpec::new(DbrClass::Time, mask::VALUE));
        let mut first = vec![false; n];
        let mut seen = 0;
        let mut batch = Vec::new();
        while seen < n {
            batch.clear();
            assert!(set.recv_many(&mut batch, 1024).await, "set open");
            for (i, event) in batch.drain(..) {
                if let MonitorEvent::Update(Ok(_)) = event {
                    if !std::mem::replace(&mut first[i as usize], true) {
                        seen += 1;
                    }
                }
            }
        }
        let monitor = t0.elapsed();
        let held = live() - before;
        drop(set);
        ctx.close().await;
        Sample {
            get_us_per_channel: get.as_secs_f64() * 1e6 / n as f64,
            monitor_us_per_channel: monitor.as_secs_f64() * 1e6 / n as f64,
            bytes_per_monitored_channel: held as f64 / n as f64,
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (sizes, rounds): (&[usize], usize) = if smoke {
        (&[200], 1)
    } else {
        (&[1_000, 10_000, 100_000], ROUNDS)
    };
    let largest = *sizes.last().expect("a size");
    let (server, ()) = start_server(loopback_config(), move || {
        let mut group = PvGroup::new("bench:");
        for i in 0..largest {
            group.add(Pv::new(format!("p{i}"), i as f64));
        }
        let mut db = PvDatabase::new();
        db.add_group(group).expect("unique names");
        (db, ())
    });
    println!(
        "{:>8} {:>14} {:>18} {:>22}",
        "channels", "get µs/channel", "monitor µs/channel", "heap bytes/monitored"
    );
    for &n in sizes {
        let samples: Vec<Sample> = (0..rounds).map(|_| measure(server.port, n)).collect();
        println!(
            "{:>8} {:>14.2} {:>18.2} {:>22.0}",
            n,
            median(samples.iter().map(|s| s.get_us_per_channel).collect()),
            median(samples.iter().map(|s| s.monitor_us_per_channel).collect()),
            median(
                samples
                    .iter()
                    .map(|s| s.bytes_per_monitored_channel)
                    .collect()
            ),
        );
    }
    server.stop();
}
