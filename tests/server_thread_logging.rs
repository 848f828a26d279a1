//! The server's own threads (circuit threads, the search responder's
//! thread) log to the subscriber the server was started under, even when
//! that is only the starting thread's default (`set_default`), not a global
//! one: a program or test that scopes its logging still sees every record
//! of its server. (One test in this file: tracing's callsite interest cache
//! is process-wide.) Loopback only.

mod common;

use std::time::Duration;

use caproto::client::Context;
use caproto::proto::dbr::{DbrType, Value};
use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
use common::capture::{Capture, Record};
use common::inproc::{client_config, server_config};
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn circuit_and_search_threads_log_to_the_starting_threads_subscriber() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    // Only this thread's default: no global subscriber is ever set here.
    let _scope = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut group = PvGroup::new("tl:");
        group.add(Pv::new("x", 1.5f64));
        let mut db = PvDatabase::new();
        db.add_group(group).unwrap();
        let config = ServerConfig {
            circuit_threads: 1,
            circuit_rt_priority: Some(20),
            ..server_config()
        };
        let server = Server::bind(db, config).await.unwrap();
        let port = server.tcp_port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        let ctx = Context::new(client_config(port)).unwrap();
        let ch = ctx.connect_one("tl:x", WAIT).await.unwrap();
        let got = ch.get(DbrType::DOUBLE, None).await.unwrap();
        assert_eq!(got.value, Value::Double(vec![1.5]));
        ctx.close().await;
        let _ = stop.send(());
        tokio::time::timeout(WAIT, running)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    });

    let records = capture.take();
    // Each thread: a per-command record received from the network, and the
    // record saying which priority it runs at.
    for (thread, target, priority, who) in [
        (
            "caproto-circ-",
            "caproto::circ",
            "circuit thread 0 ",
            "the circuit thread",
        ),
        (
            "caproto-search",
            "caproto::bcast::search",
            "search responder ",
            "the search responder's thread",
        ),
    ] {
        let on: Vec<&Record> = records
            .iter()
            .filter(|r| r.thread.starts_with(thread))
            .collect();
        assert!(
            on.iter().any(|r| r.target == target
                && r.get("role") == Some("server")
                && r.get("direction") == Some("recv")),
            "no per-command record from {who}: {on:?}"
        );
        assert!(
            on.iter()
                .any(|r| r.get("message").is_some_and(|m| m.starts_with(priority))),
            "no priority record from {who}: {on:?}"
        );
    }
}
