//! Fairness between circuits (issue 15): does one client flooding the
//! server slow down another one's round trips? Run:
//! `cargo bench --bench server_fairness`.
//!
//! Our server runs in-process on 127.0.0.1 (ephemeral port, no beacons),
//! on its own thread with a multi-thread runtime as `caproto-ioc` has.
//! Client B (this thread, its own current-thread runtime and context) does
//! synchronous gets of `fair:B`, one at a time; we report the median and p99
//! of their latency. Client A is a second context on its own OS thread and
//! current-thread runtime, so the clients share no runtime. B is measured
//! alone, then under each load in turn with another alone run after it;
//! loaded / alone (the target: at most 2x for the median) divides
//! by the better of the two alone runs around the loaded one. The loads:
//!
//! - A puts without callback to `fair:B` (the PV B reads), as fast as the
//!   client library lets it: `PUT_LOOPS` concurrent loops on one channel,
//!   each `put` returning once queued on the circuit;
//! - the same to `fair:A`, another PV;
//! - A keeps `PIPELINE` gets of `fair:A` in flight (one task per channel);
//! - control: two threads spin without any CA traffic (a flood keeps two
//!   busy: A's and a server worker). On a machine with few cores B's tail
//!   latency can grow from CPU contention alone; this row tells that apart
//!   from the server.
//!
//! For puts, A's rate is given twice: as queued by A's client, and as
//! applied by the server during B's window (A writes 1, 2, 3..., and the
//! server-side handle shows how far the server got: each loop takes its
//! number and queues its put in one poll, so the order holds). Before the next
//! variant the server catches up with whatever A still had queued. Counts
//! are fixed and every wait is bounded, so the whole bench stays well
//! under a minute. All traffic is on loopback: the clients search only
//! 127.0.0.1:port and do not register with a repeater.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use caproto::client::{Channel, Context};
use caproto::proto::dbr::{DbrType, Value};
use caproto::server::{Pv, PvDatabase, PvGroup, PvHandle};
use support::{client_config, loopback_config, start_server, RunningServer};

/// B's gets before each measurement (not counted).
const WARMUP_GETS: usize = 1000;
/// B's gets per measurement.
const GETS: usize = 20_000;
/// A measurement stops early after this long (B then reports fewer gets).
const MEASURE_CAP: Duration = Duration::from_secs(5);
/// How long A floods before B starts its warm-up.
const RAMP: Duration = Duration::from_millis(300);
/// How long the server may take to apply A's queued puts after A stops.
const DRAIN_CAP: Duration = Duration::from_secs(8);
/// Concurrent put loops in A (one channel). A put without callback returns
/// once the circuit task has queued it, a hop through a channel and back:
/// one loop awaiting each put tops out near 180 k puts/s here, well under
/// what the server applies (~1 M/s), so it would not flood. With 16 loops A
/// queues faster than the server applies: a real flood.
const PUT_LOOPS: usize = 16;
/// Gets A keeps in flight in the pipelined variant.
const PIPELINE: usize = 100;
/// Timeout for connecting a channel.
const CONNECT: Duration = Duration::from_secs(5);

/// What client A does while B measures.
#[derive(Clone, Copy)]
enum Load {
    /// Puts without callback to the named PV, from `PUT_LOOPS` loops.
    Puts(&'static str),
    /// `PIPELINE` concurrent get loops on the named PV.
    Gets(&'static str),
    /// No CA traffic: A's thread and one more only burn CPU, as much as a
    /// put flood keeps busy (A's thread and a server worker). The control:
    /// on a small machine, how much of B's slow-down is CPU contention alone.
    Spin,
}

impl Load {
    fn describe(self) -> String {
        match self {
            Load::Puts(pv) => format!("A floods puts to {pv}"),
            Load::Gets(pv) => format!("A {PIPELINE} gets in flight, {pv}"),
            Load::Spin => "control: 2 threads spin, no CA".into(),
        }
    }
}

/// B's latency figures for one measurement.
struct Latency {
    median: Duration,
    p99: Duration,
    n: usize,
}

impl Latency {
    /// The lower median and the lower p99 of two runs: the baseline a
    /// loaded run is compared with.
    fn best(&self, other: &Latency) -> Latency {
        Latency {
            median: self.median.min(other.median),
            p99: self.p99.min(other.p99),
            n: self.n.min(other.n),
        }
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Our server on its own thread with `fair:A` and `fair:B`: returns it and
/// the PVs' handles.
fn start_fair_server() -> (RunningServer, (PvHandle, PvHandle)) {
    start_server(loopback_config(), || {
        let mut group = PvGroup::new("fair:");
        let a = group.add(Pv::new("A", 0.0f64));
        let b = group.add(Pv::new("B", 0.0f64));
        let mut db = PvDatabase::new();
        db.add_group(group).expect("PV names are unique");
        (db, (a, b))
    })
}

fn first_double(v: &Value) -> f64 {
    match v {
        Value::Double(d) => d.first().copied().unwrap_or(f64::NAN),
        other => panic!("fair PVs are doubles, got {other:?}"),
    }
}

/// B: `GETS` synchronous gets after `WARMUP_GETS`, stopping at `MEASURE_CAP`.
async fn measure_b(ch: &Channel) -> Latency {
    for _ in 0..WARMUP_GETS {
        ch.get(DbrType::DOUBLE, Some(1)).await.expect("B's get");
    }
    let mut times = Vec::with_capacity(GETS);
    let start = Instant::now();
    for _ in 0..GETS {
        let t = Instant::now();
        ch.get(DbrType::DOUBLE, Some(1)).await.expect("B's get");
        times.push(t.elapsed());
        if start.elapsed() > MEASURE_CAP {
            break;
        }
    }
    times.sort();
    let n = times.len();
    Latency {
        median: times[n / 2],
        p99: times[(n * 99 / 100).min(n - 1)],
        n,
    }
}

/// Client A while it runs: its operation count, a stop flag, and the
/// signal that lets it close its context (after the server has caught up).
struct Flooder {
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    release: tokio::sync::oneshot::Sender<()>,
    thread: thread::JoinHandle<()>,
}

/// Start client A on its own thread and runtime; returns once its channels
/// are connected and it has started flooding.
fn start_flooder(port: u16, load: Load) -> Flooder {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = {
        let (done, stop) = (done.clone(), stop.clone());
        thread::spawn(move || {
            current_thread().block_on(async move {
                let ctx = Context::new(client_config(port)).expect("A's context");
                match load {
                    Load::Puts(pv) => {
                        let ch = ctx.connect_one(pv, CONNECT).await.expect("A connects");
                        let next = Arc::new(AtomicU64::new(1));
                        let mut set = tokio::task::JoinSet::new();
                        for _ in 0..PUT_LOOPS {
                            let (ch, next, done, stop) =
                                (ch.clone(), next.clone(), done.clone(), stop.clone());
                            set.spawn(async move {
                                while !stop.load(Ordering::Relaxed) {
                                    let i = next.fetch_add(1, Ordering::Relaxed);
                                    ch.put(&Value::Double(vec![i as f64]), false)
                                        .await
                                        .expect("A's put");
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                            });
                        }
                        ready_tx.send(()).expect("main waits");
                        while let Some(r) = set.join_next().await {
                            r.expect("A's put loop");
                        }
                    }
                    Load::Spin => {
                        let spin = |stop: &AtomicBool| {
                            while !stop.load(Ordering::Relaxed) {
                                std::hint::spin_loop();
                            }
                        };
                        let other = {
                            let stop = stop.clone();
                            thread::spawn(move || spin(&stop))
                        };
                        ready_tx.send(()).expect("main waits");
                        spin(&stop);
                        other.join().expect("spinning thread");
                    }
                    Load::Gets(pv) => {
                        let names = vec![pv; PIPELINE];
                        let mut tasks = tokio::task::JoinSet::new();
                        for ch in ctx.connect(&names, CONNECT).await {
                            let ch = ch.expect("A connects");
                            let (done, stop) = (done.clone(), stop.clone());
                            tasks.spawn(async move {
                                while !stop.load(Ordering::Relaxed) {
                                    ch.get(DbrType::DOUBLE, Some(1)).await.expect("A's get");
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                            });
                        }
                        ready_tx.send(()).expect("main waits");
                        while let Some(r) = tasks.join_next().await {
                            r.expect("A's get loop");
                        }
                    }
                }
                // Keep the circuit (and its queued writes) alive until told.
                let _ = release_rx.await;
                ctx.close().await;
            });
        })
    };
    ready_rx
        .recv_timeout(CONNECT * 2)
        .expect("client A connected");
    Flooder {
        done,
        stop,
        release,
        thread,
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn rate(n: f64, d: Duration) -> String {
    let r = n / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.1} k/s", r / 1e3)
    }
}

fn row(name: &str, lat: &Latency, alone: Option<&Latency>, extra: &str) {
    let ratio = alone
        .map(|a| {
            let m = lat.median.as_secs_f64() / a.median.as_secs_f64();
            let p = lat.p99.as_secs_f64() / a.p99.as_secs_f64();
            let verdict = if m <= 2.0 { "ok" } else { "OVER 2x" };
            format!("{m:>5.2}x / {p:>5.2}x  {verdict:<7}")
        })
        .unwrap_or_else(|| format!("{:>24}", ""));
    println!(
        "{name:<34} {:>9.1} {:>9.1} {:>5}  {ratio} {extra}",
        us(lat.median),
        us(lat.p99),
        lat.n
    );
}

fn main() {
    let started = Instant::now();
    let (server, (pv_a, pv_b)) = start_fair_server();
    let port = server.port;
    let handles = [("fair:A", &pv_a), ("fair:B", &pv_b)];
    let rt = current_thread();
    let ctx = rt.block_on(async { Context::new(client_config(port)).expect("B's context") });
    let b = rt
        .block_on(ctx.connect_one("fair:B", CONNECT))
        .expect("B connects");

    println!(
        "server_fairness: B = synchronous gets of fair:B ({GETS} after {WARMUP_GETS} warm-up); \
         A = a second client on its own thread and runtime"
    );
    println!(
        "{:<34} {:>9} {:>9} {:>5}  {:<24} A's rate",
        "variant", "median µs", "p99 µs", "n", "loaded/alone median/p99"
    );
    let variants = [
        Load::Puts("fair:B"),
        Load::Puts("fair:A"),
        Load::Gets("fair:A"),
        Load::Spin,
    ];
    let (mut worst, mut worst_p99): (f64, f64) = (0.0, 0.0);
    let mut before = rt.block_on(measure_b(&b));
    row("  B alone", &before, None, "");
    for load in variants {
        let flooder = start_flooder(port, load);
        thread::sleep(RAMP);
        let handle = match load {
            Load::Puts(pv) => handles.iter().find(|(n, _)| *n == pv).map(|(_, h)| *h),
            Load::Gets(_) | Load::Spin => None,
        };
        let done0 = flooder.done.load(Ordering::Relaxed);
        let applied0 = handle.map(|h| first_double(&h.value()));
        let t0 = Instant::now();
        let loaded = rt.block_on(measure_b(&b));
        let span = t0.elapsed();
        let done1 = flooder.done.load(Ordering::Relaxed);
        let applied1 = handle.map(|h| first_double(&h.value()));
        flooder.stop.store(true, Ordering::Relaxed);

        let sent = (done1 - done0) as f64;
        let extra = match (applied0, applied1) {
            (Some(a0), Some(a1)) => format!(
                "{} queued, {} applied by the server",
                rate(sent, span),
                rate(a1 - a0, span)
            ),
            _ if matches!(load, Load::Spin) => String::new(),
            _ => format!("{} gets", rate(sent, span)),
        };

        // Let the server apply what A still had queued, then let A go.
        let mut drained = None;
        if let Some(h) = handle {
            thread::sleep(Duration::from_millis(20)); // A's last put is queued
            let last = flooder.done.load(Ordering::Relaxed) as f64;
            let t = Instant::now();
            while first_double(&h.value()) < last && t.elapsed() < DRAIN_CAP {
                thread::sleep(Duration::from_millis(5));
            }
            let left = last - first_double(&h.value());
            let note = if left > 0.0 {
                format!("; {left} puts still queued after {DRAIN_CAP:?}")
            } else {
                String::new()
            };
            drained = Some(format!(
                "{:<34} server caught up with A's backlog in {:.0} ms{note}",
                "",
                t.elapsed().as_secs_f64() * 1e3
            ));
        }
        let _ = flooder.release.send(());
        flooder.thread.join().expect("client A's thread");

        // B alone again; the loaded figures are compared with the better of
        // the two alone runs around them, so a noisy alone run cannot make
        // the loaded one look good.
        let after = rt.block_on(measure_b(&b));
        let base = before.best(&after);
        row(
            &format!("  {}", load.describe()),
            &loaded,
            Some(&base),
            &extra,
        );
        if let Some(line) = drained {
            println!("{line}");
        }
        row("  B alone", &after, None, "");
        if !matches!(load, Load::Spin) {
            worst = worst.max(loaded.median.as_secs_f64() / base.median.as_secs_f64());
            worst_p99 = worst_p99.max(loaded.p99.as_secs_f64() / base.p99.as_secs_f64());
        }
        before = after;
    }
    let verdict = if worst <= 2.0 { "met" } else { "NOT met" };
    println!(
        "worst loaded/alone (control excluded): median {worst:.2}x (target <= 2x: {verdict}), p99 {worst_p99:.2}x; \
         total {:.1} s",
        started.elapsed().as_secs_f64()
    );

    rt.block_on(ctx.close());
    drop(rt);
    server.stop();
}
