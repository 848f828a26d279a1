//! Re-search on a beacon anomaly, end to end: our `caproto-ioc` (a child
//! process) is killed under a library `Context` and started again on the same
//! port. The client's search back-off is set so long (first retry after 60 s)
//! that only the restarted server's beacons, relayed by our
//! `caproto-repeater`, can explain a reconnection within the test's bound.

mod client_support;
mod common;

use std::time::{Duration, Instant};

use caproto::client::{ClientError, Context};
use caproto::proto::command::mask;
use caproto::proto::dbr::DbrType;
use common::{CaEnv, ChildGuard};

const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");
const REPEATER_EXE: &str = env!("CARGO_BIN_EXE_caproto-repeater");

/// First search retry after an unanswered search (the back-off then doubles).
const SEARCH_BACKOFF: Duration = Duration::from_secs(60);
/// The reconnection must come well before the back-off could explain it.
const RECONNECT_BOUND: Duration = Duration::from_secs(30);

fn start_ioc(env: &CaEnv) -> ChildGuard {
    let mut cmd = env.own(IOC_EXE);
    cmd.args(["simple", "--prefix", "ba:"]);
    let mut ioc = env.spawn("caproto-ioc", &mut cmd);
    ioc.wait_until("caproto-ioc listening", Duration::from_secs(60), |_| {
        std::net::TcpStream::connect(("127.0.0.1", env.server_port())).is_ok()
    });
    ioc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_server_is_found_through_its_beacons() {
    let env = CaEnv::new();
    let mut rep = env.own(REPEATER_EXE);
    let mut repeater = env.spawn("caproto-repeater", &mut rep);
    repeater.wait_until("repeater port bound", Duration::from_secs(30), |_| {
        common::ports::udp_port_in_use(env.repeater_port())
    });
    let mut ioc = start_ioc(&env);

    let mut cfg = client_support::config(&env, true);
    cfg.min_search_period = SEARCH_BACKOFF;
    cfg.max_search_period = SEARCH_BACKOFF * 4;
    let ctx = Context::new(cfg).expect("context");
    // The first search of a name is sent at once, so this is quick.
    let ch = ctx
        .connect_one("ba:A", client_support::WAIT)
        .await
        .expect("connects");
    let mut sub = ch.subscribe(DbrType::DOUBLE, None, mask::VALUE);
    client_support::next(&mut sub).await.expect("first update");

    ioc.kill();
    match client_support::next(&mut sub).await {
        Err(ClientError::Disconnected { pv }) => assert_eq!(pv, "ba:A"),
        other => panic!("expected a disconnect, got {other:?}"),
    }
    // The channel's immediate re-search goes unanswered while the server is
    // down; the next one is SEARCH_BACKOFF away. (This pause is the outage
    // being tested, not a synchronisation.)
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!ch.is_connected());

    let restarted = Instant::now();
    let _ioc2 = start_ioc(&env);
    let info = ch.wait_connected(RECONNECT_BOUND).await;
    let took = restarted.elapsed();
    assert!(
        info.is_ok(),
        "not reconnected within {RECONNECT_BOUND:?} of the restart ({info:?}): the beacon anomaly \
         did not trigger a new search"
    );
    eprintln!("reconnected {took:?} after the restart (search back-off {SEARCH_BACKOFF:?})");
    let (r, _) = client_support::next_ok(&mut sub).await;
    assert_eq!(client_support::scalar(&r), 1.0);
    ctx.close().await;
}
