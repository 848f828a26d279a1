//! [`Channel`]: a handle on one PV, and the state it shares with the
//! context and circuit tasks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::circuit_task::CircuitMsg;
use super::context::{ContextShared, CtxMsg};
use super::error::ClientError;
use super::subscription::{SubQueue, Subscription};
use crate::proto::command::AccessRights;
use crate::proto::dbr::{self, DbrClass, DbrType, Metadata, NativeType, Value};

/// What the server told us about a connected channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    /// The field's native type (from CREATE_CHAN's reply).
    pub native_type: NativeType,
    /// The field's element count (1 for scalars).
    pub count: u32,
    /// The server's TCP address.
    pub server: SocketAddr,
    /// Read/write permission as last granted by the server.
    pub access_rights: AccessRights,
}

/// One value read from a channel: by `get` or as a subscription update.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The DBR type the value was sent as (what was requested).
    pub dbr_type: DbrType,
    /// The elements.
    pub value: Value,
    /// The metadata fields `dbr_type` carries; the others stay at their defaults.
    pub meta: Metadata,
}

/// Connection state shared through a `watch` channel.
#[derive(Debug, Clone)]
pub(crate) enum ConnState {
    /// Searching (first time, or again after a disconnect).
    Searching,
    /// Connected on a circuit.
    Connected(Arc<Connection>),
    /// The server refused to create the channel.
    Failed,
    /// The context was closed.
    Closed,
}

/// A live connection of a channel to a circuit.
#[derive(Debug)]
pub(crate) struct Connection {
    pub info: ChannelInfo,
    pub circuit: mpsc::UnboundedSender<CircuitMsg>,
}

/// What a subscription asked for; kept so it can be re-sent after a reconnect.
#[derive(Debug)]
pub(crate) struct SubSpec {
    pub dbr_type: DbrType,
    /// 0 = the server's current element count.
    pub count: u32,
    pub mask: u16,
    pub queue: Arc<SubQueue>,
}

/// Channel state that the context and circuit tasks also hold.
#[derive(Debug)]
pub(crate) struct ChannelShared {
    pub name: String,
    pub cid: u32,
    pub state: watch::Sender<ConnState>,
    pub subs: Mutex<HashMap<u32, SubSpec>>,
    /// Set when the last [`Channel`] handle is gone, so a circuit that
    /// finishes creating it afterwards clears it again.
    pub dropped: AtomicBool,
    /// Why the latest circuit this channel was on (or was about to be created
    /// on) ended, cleared when the channel connects: a wait that times out
    /// reports it instead of a bare timeout, so the user learns that the
    /// server was found but broke the circuit.
    pub last_failure: Mutex<Option<CircuitFailure>>,
}

/// What last kept a found channel from connecting, or ended its connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CircuitFailure {
    /// The server's TCP address.
    pub server: SocketAddr,
    /// What happened.
    pub kind: FailureKind,
}

/// The ways a channel that a server claimed can fail to be connected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FailureKind {
    /// The circuit ended (protocol error, reset, echo timeout, refused connect).
    Circuit(String),
    /// The server disconnected the channel (SERVER_DISCONN).
    ServerDisconnected,
    /// The search was answered and the channel handed to the circuit; no
    /// answer to its creation yet (a silent server, or one held off).
    AwaitingCreate,
}

impl ChannelShared {
    pub(crate) fn new(name: String, cid: u32) -> Arc<ChannelShared> {
        Arc::new(ChannelShared {
            name,
            cid,
            state: watch::Sender::new(ConnState::Searching),
            subs: Mutex::new(HashMap::new()),
            dropped: AtomicBool::new(false),
            last_failure: Mutex::new(None),
        })
    }

    /// Remember why the circuit carrying (or about to carry) this channel ended.
    pub(crate) fn set_failure(&self, server: SocketAddr, reason: &str) {
        self.set_failure_kind(server, FailureKind::Circuit(reason.to_string()));
    }

    /// Remember what kept the channel from connecting to `server`.
    pub(crate) fn set_failure_kind(&self, server: SocketAddr, kind: FailureKind) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(CircuitFailure { server, kind });
    }

    /// Note that `server` answered the search and the channel is being
    /// created there, unless a more telling failure is already recorded.
    pub(crate) fn note_found(&self, server: SocketAddr) {
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none() {
            *last = Some(CircuitFailure {
                server,
                kind: FailureKind::AwaitingCreate,
            });
        }
    }

    /// Forget the previous failure (the channel connected).
    pub(crate) fn clear_failure(&self) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn failure(&self) -> Option<CircuitFailure> {
        self.last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Lock the subscription table, tolerating a poisoned lock (the data is
    /// a plain map, still consistent after a panic elsewhere).
    pub(crate) fn subs(&self) -> std::sync::MutexGuard<'_, HashMap<u32, SubSpec>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn connection(&self) -> Option<Arc<Connection>> {
        match &*self.state.borrow() {
            ConnState::Connected(c) => Some(c.clone()),
            _ => None,
        }
    }
}

/// The part of a [`Channel`] whose drop clears the channel.
#[derive(Debug)]
struct ChannelOwner {
    shared: Arc<ChannelShared>,
    ctx: Arc<ContextShared>,
}

impl Drop for ChannelOwner {
    fn drop(&mut self) {
        // Flag first, then look at the state: a circuit publishes the
        // connection first, then checks the flag, so one side clears it.
        self.shared.dropped.store(true, Ordering::SeqCst);
        if let Some(conn) = self.shared.connection() {
            let _ = conn.circuit.send(CircuitMsg::Clear {
                cid: self.shared.cid,
            });
        }
        let _ = self.ctx.tx.send(CtxMsg::Drop {
            cid: self.shared.cid,
        });
    }
}

/// A handle on one PV. Cheap to clone; the channel is cleared on the server
/// when the last clone is dropped. While the context lives it reconnects by
/// itself after a server restart, and re-establishes its subscriptions.
#[derive(Debug, Clone)]
pub struct Channel {
    owner: Arc<ChannelOwner>,
}

impl Channel {
    pub(crate) fn new(shared: Arc<ChannelShared>, ctx: Arc<ContextShared>) -> Channel {
        Channel {
            owner: Arc::new(ChannelOwner { shared, ctx }),
        }
    }

    fn shared(&self) -> &ChannelShared {
        &self.owner.shared
    }

    /// The PV name.
    pub fn name(&self) -> &str {
        &self.shared().name
    }

    /// Whether the channel is connected right now.
    pub fn is_connected(&self) -> bool {
        self.shared().connection().is_some()
    }

    /// Native type, count, server and access rights, if connected.
    pub fn info(&self) -> Option<ChannelInfo> {
        self.shared().connection().map(|c| c.info.clone())
    }

    /// The field's native type, if connected.
    pub fn native_type(&self) -> Option<NativeType> {
        self.info().map(|i| i.native_type)
    }

    /// The field's element count, if connected.
    pub fn count(&self) -> Option<u32> {
        self.info().map(|i| i.count)
    }

    /// The server's address, if connected.
    pub fn host(&self) -> Option<SocketAddr> {
        self.info().map(|i| i.server)
    }

    /// The access rights the server grants, if connected.
    pub fn access_rights(&self) -> Option<AccessRights> {
        self.info().map(|i| i.access_rights)
    }

    /// Wait until the channel is connected, for at most `timeout`.
    ///
    /// If the search was answered but the circuit to that server ended (a
    /// protocol error, a reset, a refused connection) and no connection was
    /// made by the deadline, the error is [`ClientError::CircuitFailed`],
    /// naming the server and the reason, rather than a plain timeout.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<ChannelInfo, ClientError> {
        let mut rx = self.shared().state.subscribe();
        let wait = async {
            loop {
                match &*rx.borrow_and_update() {
                    ConnState::Connected(c) => return Ok(c.info.clone()),
                    ConnState::Failed => {
                        return Err(ClientError::CreateFailed {
                            pv: self.name().to_string(),
                        })
                    }
                    ConnState::Closed => return Err(ClientError::Closed),
                    ConnState::Searching => {}
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(self.failure_or(
                ClientError::Timeout {
                    pv: self.name().to_string(),
                    timeout,
                },
                Some(timeout),
            )),
        }
    }

    /// What the channel's last failure says (the record is cleared on every
    /// connect): [`ClientError::CircuitFailed`],
    /// [`ClientError::ServerDisconnected`], or, when the wait of `timeout`
    /// ended while a found channel was still being created,
    /// [`ClientError::NoCreateReply`]. Else `otherwise`.
    fn failure_or(&self, otherwise: ClientError, timeout: Option<Duration>) -> ClientError {
        let pv = self.name().to_string();
        match self.shared().failure() {
            Some(CircuitFailure {
                server,
                kind: FailureKind::Circuit(reason),
            }) => ClientError::CircuitFailed { pv, server, reason },
            Some(CircuitFailure {
                server,
                kind: FailureKind::ServerDisconnected,
            }) => ClientError::ServerDisconnected { pv, server },
            Some(CircuitFailure {
                server,
                kind: FailureKind::AwaitingCreate,
            }) => match timeout {
                Some(timeout) => ClientError::NoCreateReply {
                    pv,
                    server,
                    timeout,
                },
                None => otherwise,
            },
            None => otherwise,
        }
    }

    fn connected(&self) -> Result<Arc<Connection>, ClientError> {
        self.shared()
            .connection()
            .ok_or_else(|| ClientError::Disconnected {
                pv: self.name().to_string(),
            })
    }

    /// Read the value as `dbr_type` (READ_NOTIFY). `count` = `None` asks for
    /// the server's current element count. Fails at once if the channel is
    /// not connected, or with [`ClientError::TooLarge`] if `count` elements
    /// would exceed `EPICS_CA_MAX_ARRAY_BYTES`; otherwise waits for the reply
    /// (wrap in `tokio::time::timeout` to bound it).
    pub async fn get(&self, dbr_type: DbrType, count: Option<u32>) -> Result<Reading, ClientError> {
        let conn = self.connected()?;
        if !conn.info.access_rights.read {
            return Err(ClientError::NoReadAccess {
                pv: self.name().to_string(),
            });
        }
        // An explicit count we cannot receive is refused here. With `None`
        // the server sends its current length, which is often far below the
        // field's capacity; if it exceeds our limit the circuit refuses it.
        if let Some(count) = count {
            let limit = self.owner.ctx.config.max_payload();
            let bytes = dbr::payload_size(dbr_type, count as usize);
            if bytes > limit {
                return Err(ClientError::TooLarge {
                    pv: self.name().to_string(),
                    bytes,
                    limit,
                });
            }
        }
        let (reply, rx) = oneshot::channel();
        let msg = CircuitMsg::Get {
            cid: self.shared().cid,
            dbr_type,
            count: count.unwrap_or(0),
            reply,
        };
        self.request(&conn, msg, rx).await
    }

    /// Read the value in its native type with the metadata of `class`
    /// (`DbrClass::Time` for a timestamp, `DbrClass::Ctrl` for limits and units).
    pub async fn get_class(
        &self,
        class: DbrClass,
        count: Option<u32>,
    ) -> Result<Reading, ClientError> {
        let native = self.connected()?.info.native_type;
        self.get(DbrType::Value(class, native), count).await
    }

    /// Write `value` (sent as the plain DBR type of its own native type; the
    /// server converts). With `wait_for_callback` the server's completion
    /// (WRITE_NOTIFY) is awaited and its status returned; without, the call
    /// returns once the write is queued on the circuit (it goes out with the
    /// next flush; [`crate::client::Context::close`] flushes before closing).
    /// Against a server that reads more slowly than we write, the circuit
    /// queues at most 256 KiB (libca's limit too): past that, the call waits
    /// for room, as `ca_put` blocks, instead of queueing without bound.
    pub async fn put(&self, value: &Value, wait_for_callback: bool) -> Result<(), ClientError> {
        let conn = self.connected()?;
        if !conn.info.access_rights.write {
            return Err(ClientError::NoWriteAccess {
                pv: self.name().to_string(),
            });
        }
        let dbr_type = DbrType::plain(value.native_type());
        let mut data = Vec::with_capacity(dbr::payload_size(dbr_type, value.len()));
        dbr::encode(dbr_type, value, &Metadata::default(), &mut data)?;
        let (reply, rx) = oneshot::channel();
        let msg = CircuitMsg::Put {
            cid: self.shared().cid,
            dbr_type,
            count: value.len() as u32,
            data,
            notify: wait_for_callback,
            reply,
        };
        self.request(&conn, msg, rx).await
    }

    async fn request<T>(
        &self,
        conn: &Connection,
        msg: CircuitMsg,
        rx: oneshot::Receiver<Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        // A request whose circuit ended says why, when the circuit failed
        // (protocol error, echo timeout...) rather than closed cleanly.
        let lost = || {
            self.failure_or(
                ClientError::Disconnected {
                    pv: self.name().to_string(),
                },
                None,
            )
        };
        conn.circuit.send(msg).map_err(|_| lost())?;
        rx.await.map_err(|_| lost())?
    }

    /// Subscribe to updates as `dbr_type` (EVENT_ADD) with a `DBE_*` `mask`
    /// (see [`crate::proto::command::mask`]); `count` = `None` asks for the
    /// server's current element count. Works while disconnected too: the
    /// subscription is sent when the channel (re)connects, and re-sent after
    /// every reconnect. Dropping the [`Subscription`] cancels it (EVENT_CANCEL).
    pub fn subscribe(&self, dbr_type: DbrType, count: Option<u32>, mask: u16) -> Subscription {
        let ctx = &self.owner.ctx;
        let subid = ctx.next_subid();
        let queue = SubQueue::new(ctx.sub_queue_capacity);
        let spec = SubSpec {
            dbr_type,
            count: count.unwrap_or(0),
            mask,
            queue: queue.clone(),
        };
        // Insert before looking at the state: the circuit marks a channel
        // connected before it reads this table, so one of the two sides
        // always sends the EVENT_ADD (the circuit ignores a duplicate).
        self.shared().subs().insert(subid, spec);
        if let Some(conn) = self.shared().connection() {
            let _ = conn.circuit.send(CircuitMsg::Subscribe {
                cid: self.shared().cid,
                subid,
            });
        }
        Subscription::new(self.owner.shared.clone(), subid, queue, self.clone())
    }
}
