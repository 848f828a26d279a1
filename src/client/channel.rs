//! [`Channel`]: a handle on one PV, and the state it shares with the
//! context and circuit tasks.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::error::ClientError;
use super::shared::{
    ChannelInfo, ChannelShared, CircuitFailure, CircuitMsg, ConnState, Connection, ContextShared,
    CtxMsg, FailureKind, PutRequest, ReadReply, Reading, Sink, SubQueue, SubSpec, SubType,
};
use super::subscription::Subscription;
use crate::proto::command::AccessRights;
use crate::proto::dbr::{self, DbrClass, DbrType, Metadata, NativeType, Value};

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

    pub(crate) fn shared(&self) -> &ChannelShared {
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
        let settled = |state: &ConnState| match state {
            ConnState::Connected(c) => Some(Ok(c.info.clone())),
            ConnState::Failed => Some(Err(ClientError::CreateFailed {
                pv: self.name().to_string(),
            })),
            ConnState::Closed => Some(Err(ClientError::Closed)),
            ConnState::Searching => None,
        };
        if timeout.is_zero() {
            // No wait at all: a zero timer would still sleep until the
            // timer wheel's next tick (1 ms), per channel.
            let now = settled(&self.shared().state.borrow());
            return now.unwrap_or_else(|| Err(self.not_connected(timeout)));
        }
        match tokio::time::timeout(timeout, self.shared().state.wait_for(settled)).await {
            Ok(r) => r,
            Err(_) => Err(self.not_connected(timeout)),
        }
    }

    /// Why the channel is not connected after a wait of `timeout`:
    /// [`ClientError::Timeout`], unless its last failure says more.
    pub(crate) fn not_connected(&self, timeout: Duration) -> ClientError {
        self.failure_or(
            ClientError::Timeout {
                pv: self.name().to_string(),
                timeout,
            },
            Some(timeout),
        )
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
        let rx = self.start_get(dbr_type, count)?;
        *rx.await.map_err(|_| self.lost())?
    }

    /// Send a READ_NOTIFY now and return where its reply will arrive (see
    /// [`Channel::get`]); many can be in flight before any is awaited.
    pub(crate) fn start_get(
        &self,
        dbr_type: DbrType,
        count: Option<u32>,
    ) -> Result<oneshot::Receiver<ReadReply>, ClientError> {
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
        conn.circuit.send(msg).map_err(|_| self.lost())?;
        Ok(rx)
    }

    /// Why a request's circuit ended: what the circuit's failure says when
    /// it failed (protocol error, echo timeout...), else a disconnect.
    pub(crate) fn lost(&self) -> ClientError {
        self.failure_or(
            ClientError::Disconnected {
                pv: self.name().to_string(),
            },
            None,
        )
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
        let msg = CircuitMsg::Put(Box::new(PutRequest {
            cid: self.shared().cid,
            dbr_type,
            count: value.len() as u32,
            data,
            notify: wait_for_callback,
            reply,
        }));
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
        conn.circuit.send(msg).map_err(|_| self.lost())?;
        rx.await.map_err(|_| self.lost())?
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
            request: SubType::Fixed(dbr_type),
            count: count.unwrap_or(0),
            mask,
            sink: Sink::Queue(queue.clone()),
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
