//! Searching over TCP (`EPICS_CA_NAME_SERVERS`): one task per name server
//! keeps a connection open, sends the same search batches as go out over
//! UDP, and reports the answers to the context.

use crate::log::fields::ROLE_CLIENT;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::shared::{ContextShared, CtxMsg};
use crate::proto::circuit::VirtualCircuit;
use crate::proto::command::Command;
use crate::proto::{Role, PROTOCOL_VERSION};

/// The context's handle on a name-server task.
#[derive(Debug)]
pub(crate) struct NameServerHandle {
    tx: mpsc::UnboundedSender<Vec<(u32, String)>>,
    pub task: JoinHandle<()>,
}

impl NameServerHandle {
    /// Queue a batch of searches. Dropped silently while disconnected: the
    /// search schedule retries anyway.
    pub(crate) fn search(&self, names: &[(u32, String)]) {
        let _ = self.tx.send(names.to_vec());
    }
}

/// Start the task for the name server at `addr`.
pub(crate) fn spawn(addr: SocketAddr, ctx: Arc<ContextShared>) -> NameServerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(addr, ctx, rx));
    NameServerHandle { tx, task }
}

async fn run(
    addr: SocketAddr,
    ctx: Arc<ContextShared>,
    mut rx: mpsc::UnboundedReceiver<Vec<(u32, String)>>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                backoff = Duration::from_millis(250);
                let _ = stream.set_nodelay(true);
                tracing::info!(target: "caproto::ctx", their_addr = %addr, role = ROLE_CLIENT,
                    "connected to name server");
                if serve(stream, addr, &ctx, &mut rx).await.is_none() {
                    return; // context gone
                }
                tracing::info!(target: "caproto::ctx", their_addr = %addr, role = ROLE_CLIENT,
                    "name server connection lost");
            }
            Err(e) => {
                tracing::debug!(target: "caproto::ctx", their_addr = %addr, role = ROLE_CLIENT,
                    "cannot connect to name server: {e}");
            }
        }
        // Searches queued while disconnected are stale; the schedule resends.
        while rx.try_recv().is_ok() {}
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Run one connection. `None` when the context has gone away.
async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    ctx: &ContextShared,
    rx: &mut mpsc::UnboundedReceiver<Vec<(u32, String)>>,
) -> Option<()> {
    let our = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let config = &ctx.config;
    // The state machine frames, checks and logs the search traffic.
    let mut vc = VirtualCircuit::new(
        Role::Client,
        our,
        addr,
        config.priority,
        config.max_array_bytes,
    );
    let mut inbuf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    let version = Command::VersionRequest {
        priority: config.priority,
        version: PROTOCOL_VERSION,
        sequence: 0,
    };
    vc.send(&version, &mut out).ok()?;
    loop {
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return Some(());
            }
            out.clear();
        }
        tokio::select! {
            batch = rx.recv() => {
                for (cid, name) in batch? {
                    let cmd = Command::SearchRequest {
                        name,
                        cid,
                        version: PROTOCOL_VERSION,
                        reply: false,
                    };
                    if let Err(e) = vc.send(&cmd, &mut out) {
                        tracing::warn!(target: "caproto::ctx", their_addr = %addr,
                            role = ROLE_CLIENT, "cannot send search: {e}");
                    }
                }
            }
            r = stream.read(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => return Some(()),
                    Ok(n) => vc.recv(&inbuf[..n]),
                }
                while let Some(next) = vc.next_command() {
                    match next {
                        Ok(Command::SearchResponse { port, ip, cid, .. }) => {
                            let ip = ip
                                .filter(|ip| !ip.is_unspecified())
                                .unwrap_or(match addr {
                                    SocketAddr::V4(a) => *a.ip(),
                                    SocketAddr::V6(_) => Ipv4Addr::LOCALHOST,
                                });
                            let server = SocketAddr::V4(SocketAddrV4::new(ip, port));
                            ctx.tx
                                .send(CtxMsg::Found {
                                    cid,
                                    server: Box::new(server),
                                })
                                .ok()?;
                        }
                        Ok(Command::EchoRequest) => {
                            let _ = vc.send(&Command::EchoResponse, &mut out);
                        }
                        Ok(_) => {}
                        Err(e) if e.is_fatal() => return Some(()),
                        Err(_) => {}
                    }
                }
            }
        }
    }
}
