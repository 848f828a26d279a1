//! Shared by the in-process server benchmarks (included with `#[path]`): a
//! server on its own thread with a multi-thread runtime, as `caproto-ioc`
//! runs it, bound to 127.0.0.1 on an ephemeral port with no beacons, and a
//! client configuration that searches only that port (no repeater), so all
//! traffic stays on loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use caproto::client::Config;
use caproto::server::{PvDatabase, Server, ServerConfig};

/// A server started by [`start_server`].
pub struct RunningServer {
    /// Its TCP (and UDP) port.
    pub port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl RunningServer {
    /// Stop the server and wait for its thread.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("server thread");
    }
}

/// `ServerConfig::default()` on loopback, ephemeral port, no beacons.
pub fn loopback_config() -> ServerConfig {
    ServerConfig {
        interfaces: vec![Ipv4Addr::LOCALHOST],
        port: 0,
        beacon_addrs: Vec::new(),
        ..ServerConfig::default()
    }
}

/// Serve the database `build` makes (on the server's thread, inside its
/// runtime) with `config`; `build`'s second value (PV handles, say) is
/// handed back with the running server.
pub fn start_server<T: Send + 'static>(
    config: ServerConfig,
    build: impl FnOnce() -> (PvDatabase, T) + Send + 'static,
) -> (RunningServer, T) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let (db, extra) = build();
            let server = Server::bind(db, config).await.expect("server binds");
            ready_tx
                .send((server.tcp_port(), extra))
                .expect("the bench waits");
            server
                .run_until(async move {
                    let _ = stop_rx.await;
                })
                .await
                .expect("server runs");
        });
    });
    let (port, extra) = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server started");
    (RunningServer { port, stop, thread }, extra)
}

/// A client that searches only 127.0.0.1:`port` and uses no repeater.
pub fn client_config(port: u16) -> Config {
    Config {
        search_addrs: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
        server_port: port,
        use_repeater: false,
        ..Config::default()
    }
}
