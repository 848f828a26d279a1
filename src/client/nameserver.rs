//! Searching over TCP (`EPICS_CA_NAME_SERVERS`): one task per name server
//! keeps a connection open, sends the same search batches as go out over
//! UDP, and reports the answers to the context.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::context::{ContextShared, CtxMsg};
use super::wire;
use crate::proto::command::{Command, Decoded};
use crate::proto::Direction;

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
                tracing::info!(target: "caproto::ctx", their_addr = %addr, role = "client",
                    "connected to name server");
                if serve(stream, addr, &ctx, &mut rx).await.is_none() {
                    return; // context gone
                }
                tracing::info!(target: "caproto::ctx", their_addr = %addr, role = "client",
                    "name server connection lost");
            }
            Err(e) => {
                tracing::debug!(target: "caproto::ctx", their_addr = %addr, role = "client",
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
    let max = ctx.config.max_payload();
    let mut inbuf = vec![0u8; 16 * 1024];
    let mut filled = 0usize;
    loop {
        tokio::select! {
            batch = rx.recv() => {
                let batch = batch?;
                let mut out = Vec::new();
                for d in wire::search_datagrams(&batch, ctx.config.priority, false) {
                    out.extend_from_slice(&d.bytes);
                    for (cmd, len) in &d.cmds {
                        let pv = match cmd {
                            Command::SearchRequest { name, .. } => Some(name.as_str()),
                            _ => None,
                        };
                        wire::log_circ(cmd, pv, our, addr, "send", *len as u64);
                    }
                }
                if stream.write_all(&out).await.is_err() {
                    return Some(());
                }
            }
            r = stream.read(&mut inbuf[filled..]) => {
                match r {
                    Ok(0) | Err(_) => return Some(()),
                    Ok(n) => filled += n,
                }
                let mut start = 0;
                loop {
                    match Command::decode_from(&inbuf[start..filled], Direction::Response, max) {
                        Ok(Decoded::Command(cmd, used)) if used > 0 => {
                            start += used;
                            wire::log_circ(&cmd, None, our, addr, "recv", used as u64);
                            if let Command::SearchResponse { port, ip, cid, .. } = cmd {
                                let ip = ip
                                    .filter(|ip| !ip.is_unspecified())
                                    .unwrap_or(match addr {
                                        SocketAddr::V4(a) => *a.ip(),
                                        SocketAddr::V6(_) => Ipv4Addr::LOCALHOST,
                                    });
                                let server = SocketAddr::V4(SocketAddrV4::new(ip, port));
                                ctx.tx.send(CtxMsg::Found { cid, server }).ok()?;
                            }
                        }
                        Ok(Decoded::Incomplete { needed }) => {
                            inbuf.copy_within(start..filled, 0);
                            filled -= start;
                            let want = needed.max(filled + 4096);
                            if inbuf.len() < want {
                                inbuf.resize(want, 0);
                            }
                            break;
                        }
                        Ok(Decoded::Command(..)) | Err(_) => return Some(()),
                    }
                }
            }
        }
    }
}
