//! Binding sockets and running the server's tasks: one accept loop and one
//! UDP search responder per interface (two for a listed interface: its own
//! address and its broadcast address), one beacon sender for the whole beacon
//! list, one task per circuit, and the PV groups' startup tasks. With circuit
//! threads, circuits run on [`CircuitPool`]'s threads and the search
//! responders on [`search_thread`]'s; the rest stays on the caller's runtime.

use crate::log::fields::ROLE_SERVER;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::access::AccessControl;
use super::bind::{bind_all, bind_udp, Bound};
use super::circuit_threads::CircuitPool;
use super::config::ServerConfig;
use super::error::ServerError;
use super::pv::{BoxFuture, PvDatabase};
use super::udp::{self, SearchSocket};
use super::{beacon, circuit_task, realtime, search_thread};
use crate::metrics::ServerMetrics;

/// How long shutdown waits for circuits to send SERVER_DISCONN and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// State every task of one server shares (read-only after start).
pub(crate) struct Shared {
    pub db: PvDatabase,
    pub config: ServerConfig,
    /// The TCP port search replies advertise.
    pub tcp_port: u16,
    /// Access rules in force (replaceable while running).
    pub access: AccessControl,
    /// Counters and gauges every task adds to.
    pub metrics: Arc<ServerMetrics>,
}

/// A server with its sockets bound, ready to [`Server::run_until`].
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    /// Search sockets, with the socket replies leave from and the interface
    /// address the replies carry.
    udp: Vec<SearchSocket>,
    startup: Vec<BoxFuture<()>>,
}

impl Server {
    /// Bind TCP listeners and UDP search sockets on every configured interface.
    ///
    /// TCP tries `config.port` and falls back to an ephemeral port when it is
    /// taken (another server on this host), as EPICS does; UDP always uses the
    /// configured port (shared with other servers through SO_REUSEADDR). Port
    /// 0 binds an ephemeral TCP port and UDP on the same number, drawing
    /// again if that UDP port is taken; [`Server::tcp_port`] tells which.
    pub async fn bind(db: PvDatabase, config: ServerConfig) -> Result<Server, ServerError> {
        Self::bind_with_metrics(db, config, Arc::new(ServerMetrics::new())).await
    }

    /// [`Server::bind`], counting into `metrics`: made beforehand, they can
    /// feed PVs of the database itself ([`super::stats::stats_group`]).
    pub async fn bind_with_metrics(
        mut db: PvDatabase,
        config: ServerConfig,
        metrics: Arc<ServerMetrics>,
    ) -> Result<Server, ServerError> {
        let startup = db.take_startup();
        let interfaces = if config.interfaces.is_empty() {
            vec![Ipv4Addr::UNSPECIFIED]
        } else {
            config.interfaces.clone()
        };
        let Bound {
            listeners,
            udp,
            tcp_port,
        } = bind_all(&config, &interfaces)?;
        Ok(Server {
            shared: Arc::new(Shared {
                db,
                config,
                tcp_port,
                access: AccessControl::default(),
                metrics,
            }),
            listeners,
            udp,
            startup,
        })
    }

    /// The TCP port clients connect to.
    pub fn tcp_port(&self) -> u16 {
        self.shared.tcp_port
    }

    /// Addresses of the TCP listeners.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Addresses of the UDP search sockets.
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.recv.local_addr().ok())
            .collect()
    }

    /// The access rules handle: load or replace an ACF file before or while
    /// the server runs (no rules: every client may write every writable PV).
    pub fn access(&self) -> AccessControl {
        self.shared.access.clone()
    }

    /// The server's counters and gauges: register them with a
    /// [`crate::metrics::MetricsRegistry`] to serve them over HTTP, or read
    /// them directly (the stats PVs do).
    pub fn metrics(&self) -> Arc<ServerMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// The hosted PVs.
    pub fn database(&self) -> &PvDatabase {
        &self.shared.db
    }

    /// Serve until `shutdown` completes, then send SERVER_DISCONN on every
    /// circuit, close them and return.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Each circuit holds a sender; when all are dropped, every circuit has ended.
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
        let mut tasks = Vec::new();
        for task in self.startup {
            tasks.push(tokio::spawn(task));
        }
        // The INP links of ACF CALC rules, read with a CA client (idle without any).
        tasks.push(tokio::spawn(super::access::follow_inputs(
            self.shared.access.clone(),
        )));
        let pool = match self.shared.config.circuit_threads {
            0 => None,
            n => {
                let priority = self.shared.config.circuit_rt_priority;
                Some(Arc::new(CircuitPool::start(
                    n,
                    priority,
                    &self.shared,
                    &stop_rx,
                )?))
            }
        };
        for listener in self.listeners {
            let addr = listener.local_addr()?;
            tracing::info!(target: "caproto::serv", our_addr = %addr, role = ROLE_SERVER,
                "listening on {addr} (TCP)");
            let shared = Arc::clone(&self.shared);
            let stop = stop_rx.clone();
            let alive = alive_tx.clone();
            let pool = pool.clone();
            tasks.push(tokio::spawn(accept_loop(
                listener, shared, stop, alive, pool,
            )));
        }
        for search in &self.udp {
            let addr = search.recv.local_addr()?;
            tracing::info!(target: "caproto::serv", our_addr = %addr, role = ROLE_SERVER,
                "answering searches on {addr} (UDP)");
        }
        if pool.is_some() {
            let priority = self
                .shared
                .config
                .circuit_rt_priority
                .map(realtime::search_priority);
            search_thread::start(
                self.udp,
                Arc::clone(&self.shared),
                priority,
                stop_rx.clone(),
            )?;
        } else {
            for search in self.udp {
                let shared = Arc::clone(&self.shared);
                tasks.push(tokio::spawn(udp::run(search, shared, stop_rx.clone())));
            }
        }
        let cfg = &self.shared.config;
        tracing::debug!(target: "caproto::serv", role = ROLE_SERVER, "serving on {}",
            describe_interfaces(&cfg.interfaces, &cfg.interface_broadcasts));
        match &cfg.beacon_report {
            // Like rsrv's start-up warning, but at INFO: a lone host still
            // works, clients only reconnect more slowly after a restart.
            Some(report) if report.entries.is_empty() => tracing::info!(
                target: "caproto::serv", role = ROLE_SERVER, "{report}: clients will not \
                 hear beacons (set EPICS_CAS_BEACON_ADDR_LIST to send some)"),
            Some(report) => {
                tracing::debug!(target: "caproto::serv", role = ROLE_SERVER, "{report}")
            }
            None => tracing::debug!(target: "caproto::serv", role = ROLE_SERVER,
                "beacon list (given by the program): {:?}", cfg.beacon_addrs),
        }
        if !cfg.ignore_addrs.is_empty() {
            tracing::debug!(target: "caproto::serv", role = ROLE_SERVER,
                "ignoring searches from {:?} (EPICS_CAS_IGNORE_ADDR_LIST)", cfg.ignore_addrs);
        }
        if !cfg.beacon_addrs.is_empty() {
            // One sender for every destination. Bound to the one listed
            // interface if there is exactly one, so the beacon names it;
            // otherwise the wildcard, and the beacon says "my source address".
            let source = match cfg.interfaces.as_slice() {
                [one] => *one,
                _ => Ipv4Addr::UNSPECIFIED,
            };
            let sock = bind_udp(SocketAddrV4::new(source, 0), false)?;
            sock.set_broadcast(true)?;
            let sock = UdpSocket::from_std(sock)?;
            tasks.push(tokio::spawn(beacon::run(
                sock,
                cfg.beacon_addrs.clone(),
                cfg.beacon_period,
                self.shared.tcp_port,
                source,
                Arc::clone(&self.shared.metrics),
                stop_rx.clone(),
            )));
        }
        drop(alive_tx);
        tracing::info!(target: "caproto::serv", role = ROLE_SERVER, "server ready: {} PVs",
            self.shared.db.len());

        shutdown.await;
        tracing::info!(target: "caproto::serv", role = ROLE_SERVER, "server shutting down");
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv()).await;
        for t in tasks {
            t.abort();
        }
        Ok(())
    }

    /// Serve until Ctrl-C / SIGTERM.
    pub async fn run(self) -> Result<(), ServerError> {
        self.run_until(termination()).await
    }
}

/// `10.0.0.2 (and its broadcast 10.0.0.255), 127.0.0.1` for the log.
fn describe_interfaces(ifaces: &[Ipv4Addr], bcasts: &[(Ipv4Addr, Ipv4Addr)]) -> String {
    let mut out = String::new();
    for (n, ip) in ifaces.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        if ip.is_unspecified() {
            out.push_str("all interfaces (0.0.0.0)");
        } else {
            out.push_str(&ip.to_string());
        }
        if let Some((_, b)) = bcasts.iter().find(|(i, _)| i == ip) {
            out.push_str(&format!(" (and its broadcast {b})"));
        }
    }
    out.push_str(if ifaces.iter().all(|ip| ip.is_unspecified()) {
        " (EPICS_CAS_INTF_ADDR_LIST unset)"
    } else {
        " (EPICS_CAS_INTF_ADDR_LIST or --interfaces)"
    });
    out
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Accept connections on `listener` until `stop`, running each circuit on
/// the `pool`'s threads, or as a task here when there is none.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
    pool: Option<Arc<CircuitPool>>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, _)) => match &pool {
                    Some(pool) => pool.dispatch(stream, alive.clone()),
                    None => {
                        let shared = Arc::clone(&shared);
                        let stop = stop.clone();
                        let alive = alive.clone();
                        tokio::spawn(async move {
                            circuit_task::run(stream, shared, stop).await;
                            drop(alive);
                        });
                    }
                },
                Err(e) => {
                    // Out of file descriptors and similar: back off briefly instead of spinning.
                    tracing::warn!(target: "caproto::serv", role = ROLE_SERVER, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
