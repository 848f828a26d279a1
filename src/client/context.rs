//! [`Context`]: the client's entry point. It binds the UDP search socket and
//! starts the context's task ([`super::context_task`]), which owns the
//! search schedule, beacon watching, repeater registration and one circuit
//! task per server; channels are created through it.

use crate::log::fields::ROLE_CLIENT;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::channel::Channel;
use super::config::Config;
use super::context_task::ContextTask;
use super::error::ClientError;
use super::shared::{ChannelInfo, ChannelShared, ContextShared, CtxMsg};
use crate::proto::MAX_PV_NAME_LEN;

/// Channels made between two turns of the runtime when many are made at
/// once ([`Context::make_channels`]).
const CREATE_CHUNK: usize = 2048;

/// Receive buffer asked for on the search socket.
const SEARCH_RECV_BUFFER: usize = 1 << 20;

/// Default capacity of a subscription's update queue before the oldest
/// updates are dropped.
pub const DEFAULT_SUB_QUEUE: usize = 10_000;

/// A Channel Access client context: searches, circuits and channels.
///
/// Create it inside a tokio runtime (either flavour). Dropping it (or
/// calling [`Context::close`]) disconnects every channel.
///
/// ```no_run
/// # async fn demo() -> Result<(), caproto::client::ClientError> {
/// use std::time::Duration;
/// use caproto::client::Context;
/// use caproto::proto::dbr::DbrClass;
/// let ctx = Context::from_env()?;
/// let chans = ctx.connect(&["test:ai"], Duration::from_secs(1)).await;
/// let ch = chans.into_iter().next().unwrap()?;
/// let reading = ch.get_class(DbrClass::Time, None).await?;
/// println!("{:?} at {:?}", reading.value, reading.meta.stamp);
/// ctx.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Context {
    pub(crate) shared: Arc<ContextShared>,
}

impl Context {
    /// A context configured from the `EPICS_CA_*` environment variables.
    /// Must be called from within a tokio runtime.
    pub fn from_env() -> Result<Context, ClientError> {
        Context::new(Config::from_env()?)
    }

    /// A context with an explicit configuration. Must be called from within
    /// a tokio runtime. Binds the UDP search socket and starts searching
    /// (and repeater registration, if enabled) right away.
    pub fn new(config: Config) -> Result<Context, ClientError> {
        Context::with_queue_capacity(config, DEFAULT_SUB_QUEUE)
    }

    /// Like [`Context::new`], with a given per-subscription queue capacity.
    pub fn with_queue_capacity(config: Config, capacity: usize) -> Result<Context, ClientError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| ClientError::Io {
            context: "client context needs a tokio runtime",
            kind: std::io::ErrorKind::Other,
            message: e.to_string(),
        })?;
        let std_sock = std::net::UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
            .map_err(|e| ClientError::io("binding the search socket", e))?;
        std_sock
            .set_nonblocking(true)
            .map_err(|e| ClientError::io("binding the search socket", e))?;
        // Replies to a window of searches for thousands of names arrive in
        // a burst: room for them (the kernel caps it at net.core.rmem_max).
        let _ = socket2::SockRef::from(&std_sock).set_recv_buffer_size(SEARCH_RECV_BUFFER);
        // Any destination may be a broadcast address (a /23's x.x.1.255 as
        // much as x.x.x.255), so broadcast is always allowed, as in libca.
        std_sock
            .set_broadcast(true)
            .map_err(|e| ClientError::io("enabling broadcast on the search socket", e))?;
        let _guard = handle.enter();
        let udp = UdpSocket::from_std(std_sock)
            .map_err(|e| ClientError::io("binding the search socket", e))?;
        match &config.search_report {
            Some(report) => tracing::debug!(target: "caproto::ctx", role = ROLE_CLIENT, "{report}"),
            None => tracing::debug!(target: "caproto::ctx", role = ROLE_CLIENT,
                "search list (given by the program): {:?}", config.search_addrs),
        }
        if config.search_addrs.is_empty() && config.name_servers.is_empty() {
            tracing::warn!(target: "caproto::ctx", role = ROLE_CLIENT,
                "empty search address list (EPICS_CA_ADDR_LIST / EPICS_CA_NAME_SERVERS): \
                 no PV can be found");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(ContextShared {
            config,
            tx,
            sub_queue_capacity: capacity,
            next_cid: AtomicU32::new(1),
            next_subid: AtomicU32::new(1),
        });
        let task = ContextTask::new(shared.clone(), udp);
        handle.spawn(task.run(rx));
        Ok(Context { shared })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Start searching for `name` and return its handle at once (not yet
    /// connected; see [`Channel::wait_connected`]).
    pub fn channel(&self, name: &str) -> Result<Channel, ClientError> {
        self.channel_with(name, |_| {})
    }

    /// [`Context::channel`], with `setup` run on the channel's shared state
    /// before the search starts (so no circuit can see the channel first).
    pub(crate) fn channel_with(
        &self,
        name: &str,
        setup: impl FnOnce(&ChannelShared),
    ) -> Result<Channel, ClientError> {
        if name.is_empty() || name.len() > MAX_PV_NAME_LEN || name.contains('\0') {
            return Err(ClientError::InvalidName(name.to_string()));
        }
        let cid = self.shared.next_cid.fetch_add(1, Ordering::Relaxed);
        let shared = ChannelShared::new(name.into(), cid);
        setup(&shared);
        self.shared
            .tx
            .send(CtxMsg::Add(shared.clone()))
            .map_err(|_| ClientError::Closed)?;
        Ok(Channel::new(shared, self.shared.clone()))
    }

    /// Tell the context task that `n` channels are about to be added at
    /// once, so its tables grow once (nothing for a handful).
    pub(crate) fn reserve_channels(&self, n: usize) {
        if n > 16 {
            let _ = self.shared.tx.send(CtxMsg::Reserve { additional: n });
        }
    }

    /// One channel per name, made by `make` (given the name's index and
    /// the name), for a many-PV call: the context task's tables are sized
    /// for all of them first, and the runtime gets a turn every
    /// [`CREATE_CHUNK`] channels, so the context task sends the first
    /// searches (and the server starts answering) while later channels
    /// are still being made.
    pub(crate) async fn make_channels<S: AsRef<str>, T>(
        &self,
        names: &[S],
        mut make: impl FnMut(usize, &str) -> T,
    ) -> Vec<T> {
        self.reserve_channels(names.len());
        let mut made = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if i % CREATE_CHUNK == CREATE_CHUNK - 1 {
                tokio::task::yield_now().await;
            }
            made.push(make(i, name.as_ref()));
        }
        made
    }

    /// Connect many channels concurrently: all names are searched for in
    /// one batch of datagrams, and the call returns when every one has
    /// connected or `timeout` has passed. Results are in `names` order;
    /// names that did not connect give [`ClientError::Timeout`] (and stop
    /// being searched for).
    pub async fn connect<S: AsRef<str>>(
        &self,
        names: &[S],
        timeout: Duration,
    ) -> Vec<Result<Channel, ClientError>> {
        let connected = self.connect_then(names, timeout, |ch, _| Ok(ch)).await;
        connected.into_iter().map(|r| r.map_err(|e| *e)).collect()
    }

    /// [`Context::connect`], handing each channel to `then` as soon as it
    /// and those before it are connected (so work on the first channels,
    /// such as sending their reads, overlaps the search for the later ones).
    /// Errors are boxed: a `ClientError` is ~90 bytes, 9 MB for 100 000
    /// results that are nearly all `Ok`.
    pub(crate) async fn connect_then<S: AsRef<str>, T>(
        &self,
        names: &[S],
        timeout: Duration,
        mut then: impl FnMut(Channel, ChannelInfo) -> Result<T, ClientError>,
    ) -> Vec<Result<T, Box<ClientError>>> {
        let deadline = Instant::now() + timeout;
        let pending = self
            .make_channels(names, |_, name| self.channel(name).map_err(Box::new))
            .await;
        let mut out = Vec::with_capacity(pending.len());
        for ch in pending {
            out.push(match ch {
                Ok(ch) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match ch.wait_connected(left).await {
                        Ok(info) => then(ch, info).map_err(Box::new),
                        Err(ClientError::Timeout { pv, .. }) => {
                            Err(Box::new(ClientError::Timeout { pv, timeout }))
                        }
                        Err(e) => Err(Box::new(e)),
                    }
                }
                Err(e) => Err(e),
            });
        }
        out
    }

    /// Connect one channel (see [`Context::connect`]).
    pub async fn connect_one(&self, name: &str, timeout: Duration) -> Result<Channel, ClientError> {
        let ch = self.channel(name)?;
        match ch.wait_connected(timeout).await {
            Ok(_) => Ok(ch),
            Err(e) => Err(e),
        }
    }

    /// Flush every circuit's queued requests, close the circuits, and mark
    /// all channels closed. Waits (briefly) for the circuits to finish.
    ///
    /// Channels still held afterwards are closed: dropping them sends
    /// nothing, so a program that closes its context before dropping its
    /// channels leaves their clearing to the server's end of the circuit
    /// (as `caget` does by exiting).
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.shared.tx.send(CtxMsg::Close(Some(tx))).is_ok() {
            let _ = rx.await;
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = self.shared.tx.send(CtxMsg::Close(None));
    }
}
