//! Load: 100 client contexts (each with its own search socket and circuit, as
//! 100 separate programs would have) subscribe to one PV of `caproto-ioc
//! ticker` at 100 Hz. Every client must keep receiving increasing values and
//! the server must keep answering a `caproto-get` from another process.
//!
//! No timing assertions: update rates, the server's CPU use and resident
//! memory are printed (`cargo test --test server_load -- --nocapture`); one
//! run's figures are recorded in docs/hardening.md.

mod client_support;
mod common;
mod faults_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caproto::client::Context;
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};

use common::CaEnv;
use faults_support::{cpu_ticks, get, rss_kib, start_ioc, ticks_per_sec, PATIENCE};

const CLIENTS: usize = 100;
const RATE_HZ: &str = "100";
/// How long updates are counted (a measurement window, not an assertion).
const WINDOW: Duration = Duration::from_secs(3);

/// What one client saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    updates: u64,
    last: Option<i32>,
    /// Values that did not increase (must stay 0).
    out_of_order: u64,
    errors: Vec<String>,
}

#[test]
fn hundred_clients_monitor_one_ioc() {
    let env = CaEnv::new();
    let pv = "ld:count";
    let mut ioc = start_ioc(
        &env,
        &["ticker", "--prefix", "ld:", "--rate", RATE_HZ],
        pv,
        "ioc",
    );
    let pid = ioc.pid();
    let rss_idle = rss_kib(pid).expect("server RSS");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = client_support::config(&env, false);
    let seen: Vec<Arc<Mutex<Seen>>> = (0..CLIENTS)
        .map(|_| Arc::new(Mutex::new(Seen::default())))
        .collect();

    let connect_start = Instant::now();
    let contexts: Vec<Context> = rt.block_on(async {
        let mut contexts = Vec::with_capacity(CLIENTS);
        for slot in &seen {
            let ctx = Context::new(cfg.clone()).expect("context");
            let ch = ctx
                .connect_one(pv, Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("client {} cannot connect: {e}", contexts.len()));
            let mut sub = ch.subscribe(
                DbrType::Value(DbrClass::Time, NativeType::Long),
                None,
                mask::VALUE,
            );
            let slot = Arc::clone(slot);
            tokio::spawn(async move {
                while let Some(item) = sub.recv().await {
                    let mut s = slot.lock().unwrap();
                    match item {
                        Ok(r) => {
                            let Value::Long(v) = r.value else {
                                s.errors.push(format!("not a LONG: {:?}", r.value));
                                continue;
                            };
                            if s.last.is_some_and(|last| v[0] <= last) {
                                s.out_of_order += 1;
                            }
                            s.last = Some(v[0]);
                            s.updates += 1;
                        }
                        Err(e) => s.errors.push(e.to_string()),
                    }
                }
            });
            contexts.push(ctx);
        }
        contexts
    });
    let connect_time = connect_start.elapsed();

    // The measurement window, with a read from another process in the middle.
    let snapshot = || -> Vec<Seen> { seen.iter().map(|s| s.lock().unwrap().clone()).collect() };
    let before = snapshot();
    let cpu_before = cpu_ticks(pid).expect("server CPU");
    let t0 = Instant::now();
    let got = get(&env, pv);
    let remaining = WINDOW.saturating_sub(t0.elapsed());
    std::thread::sleep(remaining);
    let wall = t0.elapsed();
    let cpu_after = cpu_ticks(pid).expect("server CPU");
    let rss_loaded = rss_kib(pid).expect("server RSS");
    let after = snapshot();
    ioc.assert_running("caproto-ioc under load");
    assert!(
        got.is_some(),
        "the server did not answer a caproto-get under load"
    );

    let mut per_client: Vec<u64> = Vec::with_capacity(CLIENTS);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(a.errors.is_empty(), "client {i} errors: {:?}", a.errors);
        assert_eq!(a.out_of_order, 0, "client {i} saw values go backwards");
        assert!(
            a.updates > b.updates,
            "client {i} got no update in the window ({} in total)",
            a.updates
        );
        per_client.push(a.updates - b.updates);
    }
    per_client.sort_unstable();
    let secs = wall.as_secs_f64();
    let total: u64 = per_client.iter().sum();
    let cpu_pct = (cpu_after - cpu_before) as f64 / ticks_per_sec() as f64 / secs * 100.0;
    eprintln!(
        "{CLIENTS} contexts connected in {connect_time:.2?}; over {secs:.2} s: \
         {:.0} updates/s in total, per client min {:.1} / median {:.1} / max {:.1} updates/s \
         (PV at {RATE_HZ} Hz); server CPU {cpu_pct:.0}% of one core; \
         server RSS {rss_idle} KiB idle, {rss_loaded} KiB with {CLIENTS} clients",
        total as f64 / secs,
        per_client[0] as f64 / secs,
        per_client[CLIENTS / 2] as f64 / secs,
        per_client[CLIENTS - 1] as f64 / secs,
    );

    rt.block_on(async {
        for ctx in contexts {
            tokio::time::timeout(PATIENCE, ctx.close())
                .await
                .expect("context close hung");
        }
    });
}
