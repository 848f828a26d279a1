//! The server's own threads (circuit threads, the search responder's
//! thread) log to the subscriber the server was started under, even when
//! that is only the starting thread's default (`set_default`), not a global
//! one: a program or test that scopes its logging still sees every record
//! of its server. (One test in this file: tracing's callsite interest cache
//! is process-wide.) Loopback only.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caproto::client::{Config, Context};
use caproto::proto::dbr::{DbrType, Value};
use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

const WAIT: Duration = Duration::from_secs(10);

/// One captured record: its target, the thread that wrote it and its fields.
#[derive(Debug, Clone)]
struct Record {
    target: String,
    thread: String,
    fields: BTreeMap<String, String>,
}

impl Record {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Record>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Record {
            target: event.metadata().target().into(),
            thread: std::thread::current().name().unwrap_or("").into(),
            fields,
        });
    }
}

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
            interfaces: vec![Ipv4Addr::LOCALHOST],
            port: 0,
            beacon_addrs: Vec::new(),
            circuit_threads: 1,
            circuit_rt_priority: Some(20),
            ..ServerConfig::default()
        };
        let server = Server::bind(db, config).await.unwrap();
        let port = server.tcp_port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        let ctx = Context::new(Config {
            search_addrs: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
            server_port: port,
            use_repeater: false,
            ..Config::default()
        })
        .unwrap();
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

    let records = capture.0.lock().unwrap().clone();
    let on = |thread: &str| -> Vec<&Record> {
        records
            .iter()
            .filter(|r| r.thread.starts_with(thread))
            .collect()
    };
    let circuit = on("caproto-circ-");
    assert!(
        circuit.iter().any(|r| r.target == "caproto::circ"
            && r.get("role") == Some("server")
            && r.get("direction") == Some("recv")),
        "no per-command record from the circuit thread: {circuit:?}"
    );
    assert!(
        circuit.iter().any(|r| r
            .get("message")
            .is_some_and(|m| m.starts_with("circuit thread 0 "))),
        "no priority record from the circuit thread: {circuit:?}"
    );
    let search = on("caproto-search");
    assert!(
        search.iter().any(|r| r.target == "caproto::bcast::search"
            && r.get("role") == Some("server")
            && r.get("direction") == Some("recv")),
        "no search record from the search responder's thread: {search:?}"
    );
    assert!(
        search.iter().any(|r| r
            .get("message")
            .is_some_and(|m| m.starts_with("search responder "))),
        "no priority record from the search responder's thread: {search:?}"
    );
}
