//! The search responder's own thread.
//!
//! A client connecting many channels (an operator screen, catime's 10 000)
//! sends searches in passes and paces the next pass by how fast the last one
//! was answered, so connect time is search-reply latency. On the shared
//! runtime the responder waits its turn behind ordinary threads, a few
//! hundred µs per datagram on a busy host; rsrv's "CAS-UDP" thread instead
//! runs under `SCHED_FIFO` just below its circuits. With circuit threads,
//! the responders get a thread of their own, real-time at
//! [`realtime::search_priority`] when the circuits are.

use std::io;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::realtime;
use super::server::Shared;
use super::udp::{self, SearchSocket};

/// Start the thread that answers searches on every socket of `sockets`
/// until `stop` changes (or its sender is dropped), under `SCHED_FIFO` at
/// `rt_priority` when given and allowed.
pub(crate) fn start(
    sockets: Vec<SearchSocket>,
    shared: Arc<Shared>,
    rt_priority: Option<u8>,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    if sockets.is_empty() {
        return Ok(());
    }
    realtime::spawn_thread(
        "caproto-search".into(),
        "search responder".into(),
        rt_priority,
        async move {
            let mut responders = JoinSet::new();
            for socket in sockets {
                responders.spawn(udp::run(socket, Arc::clone(&shared), stop.clone()));
            }
            while responders.join_next().await.is_some() {}
        },
    )
}
