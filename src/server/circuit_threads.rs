//! Where circuits run: a pool of threads, each with its own current-thread
//! runtime, or (with no pool) tasks on the runtime that runs the server.
//!
//! A single round trip (catime's synchronous get, an operator's caget) is
//! mostly wake-up latency. On tokio's multi-thread runtime the thread that
//! polls the socket readiness is often not the one that last ran the
//! circuit's task, so each request costs a cross-thread wake-up before it is
//! even read. A circuit pinned to a thread whose runtime both polls its
//! socket and runs it has no such hop, like one of EPICS rsrv's per-client
//! threads blocked in `recv`. With one thread per core, many clients still
//! spread over every core: each new circuit goes to the thread with the
//! fewest circuits.
//!
//! Priority: an EPICS IOC allowed to (root, `CAP_SYS_NICE`, `RLIMIT_RTPRIO`)
//! runs its CA server threads under `SCHED_FIFO` (rsrv's per-client
//! threads at 20), so a request preempts ordinary work the moment it
//! arrives; on a loaded or virtual machine that is most of a round trip.
//! With [`ServerConfig::circuit_rt_priority`](super::ServerConfig) the
//! circuit threads ask for the same (see [`realtime`]), and run at normal
//! priority when the process may not.

use crate::log::fields::ROLE_SERVER;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::circuit_task;
use super::realtime;
use super::server::Shared;

/// How long a thread waits, after the server stopped accepting, for its
/// circuits to send SERVER_DISCONN and close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A connection handed to a circuit thread, with the server's liveness token
/// (dropped when the circuit ends).
struct Accepted {
    stream: std::net::TcpStream,
    alive: mpsc::Sender<()>,
}

/// One circuit thread: where to send it connections and how many it runs.
struct Worker {
    tx: mpsc::UnboundedSender<Accepted>,
    circuits: Arc<AtomicUsize>,
}

/// The circuit threads of one server. Dropping the pool (every accept loop
/// has ended) lets each thread finish its circuits and exit.
pub(crate) struct CircuitPool {
    workers: Vec<Worker>,
}

impl CircuitPool {
    /// Start `threads` circuit threads (at least one) for the server `shared`;
    /// `stop` tells their circuits to say goodbye.
    pub(crate) fn start(
        threads: usize,
        rt_priority: Option<u8>,
        shared: &Arc<Shared>,
        stop: &watch::Receiver<bool>,
    ) -> io::Result<CircuitPool> {
        let mut workers = Vec::new();
        for n in 0..threads.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let circuits = Arc::new(AtomicUsize::new(0));
            let (shared, stop, count) = (Arc::clone(shared), stop.clone(), Arc::clone(&circuits));
            realtime::spawn_thread(
                format!("caproto-circ-{n}"),
                format!("circuit thread {n}"),
                rt_priority,
                serve(rx, shared, stop, count),
            )?;
            workers.push(Worker { tx, circuits });
        }
        Ok(CircuitPool { workers })
    }

    /// Hand an accepted connection to the thread with the fewest circuits.
    /// `alive` is dropped when its circuit ends.
    pub(crate) fn dispatch(&self, stream: TcpStream, alive: mpsc::Sender<()>) {
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.circuits.load(Ordering::Relaxed))
        else {
            return;
        };
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(target: "caproto::serv", role = ROLE_SERVER,
                    "cannot hand the connection to a circuit thread: {e}");
                return;
            }
        };
        worker.circuits.fetch_add(1, Ordering::Relaxed);
        if worker.tx.send(Accepted { stream, alive }).is_err() {
            // The thread is gone (it could not start its runtime): the
            // connection is closed when `Accepted` is dropped here.
            worker.circuits.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A circuit thread's life: run every connection it is handed until the
/// pool is dropped, then give its circuits a bounded time to close.
async fn serve(
    mut rx: mpsc::UnboundedReceiver<Accepted>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    count: Arc<AtomicUsize>,
) {
    let mut circuits = JoinSet::new();
    while let Some(Accepted { stream, alive }) = rx.recv().await {
        while circuits.try_join_next().is_some() {}
        let stream = match TcpStream::from_std(stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(target: "caproto::serv", role = ROLE_SERVER,
                    "cannot run the connection on a circuit thread: {e}");
                count.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
        };
        let (shared, stop, count) = (Arc::clone(&shared), stop.clone(), Arc::clone(&count));
        circuits.spawn(async move {
            circuit_task::run(stream, shared, stop).await;
            count.fetch_sub(1, Ordering::Relaxed);
            drop(alive);
        });
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while circuits.join_next().await.is_some() {}
    })
    .await;
}
