//! The I/O shell of one TCP virtual circuit to one server (per priority),
//! shared by every channel found on that server.
//!
//! The task owns the socket: it connects, feeds what it reads to the
//! [`ClientCircuit`] (the circuit's logic, over the core's state machine),
//! hands what that encodes to a writer task once per wake-up (so a burst of
//! requests costs one `write` system call), watches the connection with
//! echoes, and on the way out tells the context which channels to search
//! for again. It keeps no protocol state of its own.

use crate::log::fields::ROLE_CLIENT;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backlog::Backlog;
use super::circuit::{ClientCircuit, End};
use super::shared::{CircuitDown, CircuitKey, CircuitMsg, ContextShared, CtxMsg};

/// The context's handle on a running circuit task.
#[derive(Debug)]
pub(crate) struct CircuitHandle {
    pub tx: mpsc::UnboundedSender<CircuitMsg>,
    pub task: JoinHandle<()>,
}

/// Start a circuit task connecting to `key.addr`.
pub(crate) fn spawn(key: CircuitKey, ctx: Arc<ContextShared>) -> CircuitHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(key, ctx, tx.clone(), rx));
    CircuitHandle { tx, task }
}

async fn run(
    key: CircuitKey,
    ctx: Arc<ContextShared>,
    self_tx: mpsc::UnboundedSender<CircuitMsg>,
    mut rx: mpsc::UnboundedReceiver<CircuitMsg>,
) {
    let connect = tokio::time::timeout(ctx.config.echo_timeout, TcpStream::connect(key.addr));
    let stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return give_up(key, &ctx, rx, e.to_string()),
        Err(_) => return give_up(key, &ctx, rx, "connect timed out".into()),
    };
    let _ = stream.set_nodelay(true);
    let our_addr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tracing::info!(target: "caproto::ctx", our_addr = %our_addr, their_addr = %key.addr,
        role = ROLE_CLIENT, "circuit connected");
    let (rd, wr) = stream.into_split();
    let (wtx, wrx) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog::default());
    let mut writer = tokio::spawn(write_loop(wr, wrx, Arc::clone(&backlog)));
    let mut c = ClientCircuit::new(
        key,
        ctx.clone(),
        self_tx,
        our_addr,
        std::time::Instant::now(),
    );
    let end = serve(&mut c, &ctx, rd, &mut rx, &wtx, &backlog, &mut writer).await;
    // Stop accepting requests, and collect the channels that were on their
    // way to us, so they can be searched for again.
    rx.close();
    let mut late = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        if let CircuitMsg::Attach(shared) = msg {
            late.push(shared);
        }
    }
    // Let the writer flush what is queued (bounded, in case the peer stalls).
    drop(wtx);
    let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
    writer.abort();
    c.teardown(end, late, std::time::Instant::now());
}

/// The TCP connection could not be made: hand every channel back for re-search.
fn give_up(
    key: CircuitKey,
    ctx: &ContextShared,
    mut rx: mpsc::UnboundedReceiver<CircuitMsg>,
    why: String,
) {
    tracing::warn!(target: "caproto::ctx", their_addr = %key.addr, role = ROLE_CLIENT,
        "cannot connect circuit: {why}");
    rx.close();
    let mut cids = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        if let CircuitMsg::Attach(shared) = msg {
            shared.set_failure(key.addr, &format!("cannot connect: {why}"));
            cids.push((shared.cid, None));
        }
    }
    let _ = ctx.tx.send(CtxMsg::CircuitDown(Box::new(CircuitDown {
        key,
        cids,
        lived: None,
    })));
}

/// Write everything the circuit hands over, coalescing queued buffers into
/// one `write` call, and tell `backlog` what the socket took.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    backlog: Arc<Backlog>,
) {
    while let Some(mut buf) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        if wr.write_all(&buf).await.is_err() {
            return;
        }
        backlog.written(buf.len());
    }
    let _ = wr.shutdown().await;
}

/// What woke the circuit up.
enum Wake {
    Msg(Option<CircuitMsg>),
    /// The writer made room in a full backlog.
    Drained,
    Read(std::io::Result<usize>),
    Timer,
    WriterDone,
}

/// Move bytes until the circuit ends: requests in, commands out, replies in.
async fn serve(
    c: &mut ClientCircuit,
    ctx: &ContextShared,
    mut rd: OwnedReadHalf,
    rx: &mut mpsc::UnboundedReceiver<CircuitMsg>,
    wtx: &mpsc::UnboundedSender<Vec<u8>>,
    backlog: &Backlog,
    writer: &mut JoinHandle<()>,
) -> End {
    let conn_tmo = ctx.config.conn_timeout;
    let echo_tmo = ctx.config.echo_timeout;
    // One read takes at most this much: the consumers of what it delivered
    // run before the next (see below), so a burst of updates waits in the
    // socket, not decoded in our queues. 8 KiB is 150 time-stamped double
    // updates; with 64 KiB, 10 000 PVs' first values queued 1 MiB more.
    let mut inbuf = vec![0u8; 8 * 1024];
    let mut last_heard = Instant::now();
    let mut echo_sent: Option<Instant> = None;
    // Requests that queued up while we were connecting go out in the
    // same write as the handshake (as many as the backlog allows).
    if handle_queued(c, rx, backlog) {
        return End::Closed;
    }
    loop {
        if !c.out.is_empty() {
            let chunk = std::mem::replace(&mut c.out, Vec::with_capacity(4096));
            backlog.handed(chunk.len());
            if wtx.send(chunk).is_err() {
                return End::Lost("writer stopped".into());
            }
        }
        // A server that does not read must not make us queue without
        // limit: past the backlog, requests wait (and so do their callers).
        let full = backlog.full(0);
        let deadline = match echo_sent {
            Some(t) => t + echo_tmo,
            None => last_heard + conn_tmo,
        };
        let wake = tokio::select! {
            biased;
            m = rx.recv(), if !full => Wake::Msg(m),
            _ = backlog.drained(), if full => Wake::Drained,
            r = rd.read(&mut inbuf) => Wake::Read(r),
            _ = tokio::time::sleep_until(deadline) => Wake::Timer,
            _ = &mut *writer => Wake::WriterDone,
        };
        match wake {
            Wake::Msg(None) => return End::Closed,
            Wake::Msg(Some(m)) => {
                if c.handle_msg(m) || handle_queued(c, rx, backlog) {
                    return End::Closed;
                }
            }
            Wake::Drained => {}
            Wake::Read(Ok(0)) => return End::Lost("server closed the connection".into()),
            Wake::Read(Err(e)) => return End::Lost(e.to_string()),
            Wake::Read(Ok(n)) => {
                last_heard = Instant::now();
                echo_sent = None;
                if let Err(why) = c.recv(&inbuf[..n], last_heard.into_std()) {
                    return End::Lost(why);
                }
                // Let the consumers of what this read delivered run before
                // the next read: a burst (10 000 records of one scan) is then
                // held one read's worth at a time, not whole.
                tokio::task::yield_now().await;
            }
            Wake::Timer => {
                if echo_sent.is_some() {
                    return End::Lost("echo not answered (EPICS_CA_CONN_TMO)".into());
                }
                c.send_echo();
                echo_sent = Some(Instant::now());
            }
            Wake::WriterDone => return End::Lost("write failed".into()),
        }
    }
}

/// Handle the requests already queued, as many as `backlog` has room
/// for; returns true when one of them closes the circuit.
fn handle_queued(
    c: &mut ClientCircuit,
    rx: &mut mpsc::UnboundedReceiver<CircuitMsg>,
    backlog: &Backlog,
) -> bool {
    while !backlog.full(c.out.len()) {
        let Ok(m) = rx.try_recv() else { break };
        if c.handle_msg(m) {
            return true;
        }
    }
    false
}
