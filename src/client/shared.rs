//! The state and messages the client's tasks share: the context task, the
//! circuit tasks, the name-server tasks and the handles users hold
//! ([`crate::client::Channel`], [`crate::client::Subscription`],
//! [`crate::client::MonitorSet`]).
//!
//! Everything that crosses a task boundary is defined here, so the modules
//! that send and receive it import this one and not each other: imports run
//! one way (handles, context and circuits -> shared), as quinn-proto's
//! `shared.rs` does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::batch::BatchRead;
use super::config::Config;
use super::error::ClientError;
pub use super::queues::MonitorEvent;
pub(crate) use super::queues::{decode_update, RawUpdate, SetQueue, SubQueue};
use crate::proto::command::AccessRights;
use crate::proto::dbr::{DbrClass, DbrType, Metadata, NativeType, Value};

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

/// Connection state, shared through a [`StateCell`].
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

/// The answer to a read, boxed: a reply slot waits in every pending read
/// (all at once in a `get_many`), and a boxed one costs 8 bytes instead of
/// a whole [`Reading`].
pub(crate) type ReadReply = Box<Result<Reading, ClientError>>;

/// A channel's [`ConnState`] with a wake-up for whoever waits on a change.
///
/// What a `watch` channel gives, at a quarter of its size (a `watch` keeps
/// eight wake-up lists, ~360 bytes; with 100 000 channels that is 36 MB).
#[derive(Debug)]
pub(crate) struct StateCell {
    value: Mutex<ConnState>,
    changed: Notify,
}

impl StateCell {
    pub(crate) fn new(state: ConnState) -> StateCell {
        StateCell {
            value: Mutex::new(state),
            changed: Notify::new(),
        }
    }

    /// The current state (held locked: do not await while holding it).
    pub(crate) fn borrow(&self) -> std::sync::MutexGuard<'_, ConnState> {
        crate::sync::lock(&self.value)
    }

    /// Set the state, wake every waiter, and return the previous state.
    pub(crate) fn send_replace(&self, state: ConnState) -> ConnState {
        let old = std::mem::replace(&mut *self.borrow(), state);
        self.changed.notify_waiters();
        old
    }

    /// Change the state in place; waiters are woken when `change` says it
    /// changed something. Returns what `change` returned.
    pub(crate) fn send_if_modified(&self, change: impl FnOnce(&mut ConnState) -> bool) -> bool {
        let modified = change(&mut self.borrow());
        if modified {
            self.changed.notify_waiters();
        }
        modified
    }

    /// Wait until `pick` finds something in the state (checked at once,
    /// then after every change).
    pub(crate) async fn wait_for<T>(&self, pick: impl Fn(&ConnState) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the state is read, so no change is missed.
            notified.as_mut().enable();
            if let Some(found) = pick(&self.borrow()) {
                return found;
            }
            notified.await;
        }
    }
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
    pub request: SubType,
    /// 0 = the server's current element count.
    pub count: u32,
    pub mask: u16,
    pub sink: Sink,
}

/// A channel's subscriptions by id, and the batch read it owes
/// ([`BatchRead`]), if any: the requests a circuit sends for the channel
/// when it connects. Almost always zero or one subscription, so a short
/// list (an empty one allocates nothing) rather than a hash map, whose
/// smallest table costs a few hundred bytes per channel.
#[derive(Debug, Default)]
pub(crate) struct SubTable {
    subs: Vec<(u32, SubSpec)>,
    /// The read to send at the next connection (then taken).
    pub read_once: Option<BatchRead>,
}

impl SubTable {
    pub(crate) fn get(&self, subid: &u32) -> Option<&SubSpec> {
        self.subs.iter().find(|(id, _)| id == subid).map(|(_, s)| s)
    }

    /// Add or replace subscription `subid`.
    pub(crate) fn insert(&mut self, subid: u32, spec: SubSpec) {
        match self.subs.iter_mut().find(|(id, _)| *id == subid) {
            Some(slot) => slot.1 = spec,
            None => {
                // Most channels have one subscription: no room for four.
                self.subs.reserve_exact(1);
                self.subs.push((subid, spec));
            }
        }
    }

    pub(crate) fn remove(&mut self, subid: &u32) -> Option<SubSpec> {
        let pos = self.subs.iter().position(|(id, _)| id == subid)?;
        let (_, spec) = self.subs.swap_remove(pos);
        if self.subs.is_empty() {
            self.subs = Vec::new();
        }
        Some(spec)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &SubSpec> {
        self.subs.iter().map(|(_, s)| s)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &u32> {
        self.subs.iter().map(|(id, _)| id)
    }
}

/// The DBR type a subscription asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubType {
    /// Always this type.
    Fixed(DbrType),
    /// The channel's native type with the metadata of `class`, chosen anew
    /// at every connection (the server may have changed the field's type);
    /// enums as strings unless `enum_as_number`.
    Native {
        class: DbrClass,
        enum_as_number: bool,
    },
}

impl SubType {
    /// The type to ask for on a channel whose native type is `native`.
    pub(crate) fn resolve(self, native: NativeType) -> DbrType {
        match self {
            SubType::Fixed(t) => t,
            SubType::Native {
                class,
                enum_as_number,
            } => {
                let native = if native == NativeType::Enum && !enum_as_number {
                    NativeType::String
                } else {
                    native
                };
                DbrType::Value(class, native)
            }
        }
    }
}

/// Where a subscription's updates go.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// A [`crate::client::Subscription`]'s own queue.
    Queue(Arc<SubQueue>),
    /// Slot `index` of a [`crate::client::MonitorSet`]'s shared queue.
    Set { queue: Arc<SetQueue>, index: u32 },
}

impl Sink {
    /// Hand on one update (or error).
    pub(crate) fn push(&self, item: Result<Reading, ClientError>) {
        match self {
            Sink::Queue(q) => q.push(item),
            Sink::Set { queue, index } => queue.push(*index, MonitorEvent::Update(item)),
        }
    }

    /// Hand on one update of PV `pv` as it came from the server: a set
    /// queues the payload as it is and decodes it when it is taken (a
    /// queued payload is a fifth of a decoded [`Reading`]); a
    /// subscription's own queue gets it decoded.
    pub(crate) fn push_update(&self, pv: &str, dbr_type: DbrType, count: u32, data: Vec<u8>) {
        match self {
            Sink::Queue(q) => q.push(decode_update(pv, dbr_type, count, &data)),
            Sink::Set { queue, index } => queue.push_raw(
                *index,
                RawUpdate {
                    dbr_type,
                    count,
                    data: data.into_boxed_slice(),
                },
            ),
        }
    }

    /// The channel (re)connected: a set hears of it, with the channel's info.
    pub(crate) fn connected(&self, info: &ChannelInfo) {
        if let Sink::Set { queue, index } = self {
            queue.push(*index, MonitorEvent::Connected(info.clone()));
        }
    }

    /// The channel's connection was lost (the subscription resumes after
    /// the reconnect).
    pub(crate) fn disconnected(&self, pv: &str) {
        match self {
            Sink::Queue(q) => q.push(Err(ClientError::Disconnected { pv: pv.to_string() })),
            Sink::Set { queue, index } => queue.push(*index, MonitorEvent::Disconnected),
        }
    }

    /// No more updates will come (context closed).
    pub(crate) fn close(&self) {
        match self {
            Sink::Queue(q) => q.close(),
            Sink::Set { queue, .. } => queue.close(),
        }
    }
}

/// Channel state that the context and circuit tasks also hold.
#[derive(Debug)]
pub(crate) struct ChannelShared {
    /// The PV name, shared with the pending search and the circuit's table.
    pub name: Arc<str>,
    pub cid: u32,
    pub state: StateCell,
    pub subs: Mutex<SubTable>,
    /// Set when the last [`Channel`] handle is gone, so a circuit that
    /// finishes creating it afterwards clears it again.
    pub dropped: AtomicBool,
    /// Why the latest circuit this channel was on (or was about to be created
    /// on) ended, cleared when the channel connects: a wait that times out
    /// reports it instead of a bare timeout, so the user learns that the
    /// server was found but broke the circuit.
    pub last_failure: Mutex<Option<Box<CircuitFailure>>>,
    /// The IPv4 server a search answer handed the channel to, while no
    /// failure is recorded and the channel has not connected: the
    /// [`FailureKind::AwaitingCreate`] case, which every channel passes
    /// through, kept without an allocation ([`pack_v4`]; 0: none).
    awaiting_on: AtomicU64,
}

/// An IPv4 address and port in one word, with a presence bit so that no
/// address packs to 0. `None` for IPv6 (which Channel Access does not use).
fn pack_v4(addr: SocketAddr) -> Option<u64> {
    match addr {
        SocketAddr::V4(a) => {
            Some(1 << 48 | u64::from(u32::from(*a.ip())) << 16 | u64::from(a.port()))
        }
        SocketAddr::V6(_) => None,
    }
}

fn unpack_v4(word: u64) -> Option<SocketAddr> {
    (word != 0).then(|| {
        let ip = std::net::Ipv4Addr::from((word >> 16) as u32);
        SocketAddr::from((ip, word as u16))
    })
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
    pub(crate) fn new(name: Arc<str>, cid: u32) -> Arc<ChannelShared> {
        Arc::new(ChannelShared {
            name,
            cid,
            state: StateCell::new(ConnState::Searching),
            subs: Mutex::new(SubTable::default()),
            dropped: AtomicBool::new(false),
            last_failure: Mutex::new(None),
            awaiting_on: AtomicU64::new(0),
        })
    }

    /// Remember why the circuit carrying (or about to carry) this channel ended.
    pub(crate) fn set_failure(&self, server: SocketAddr, reason: &str) {
        self.set_failure_kind(server, FailureKind::Circuit(reason.to_string()));
    }

    /// Remember what kept the channel from connecting to `server`.
    pub(crate) fn set_failure_kind(&self, server: SocketAddr, kind: FailureKind) {
        *crate::sync::lock(&self.last_failure) = Some(Box::new(CircuitFailure { server, kind }));
    }

    /// Note that `server` answered the search and the channel is being
    /// created there, unless a more telling failure is already recorded.
    pub(crate) fn note_found(&self, server: SocketAddr) {
        let mut last = crate::sync::lock(&self.last_failure);
        if last.is_some() || self.awaiting_on.load(Ordering::Relaxed) != 0 {
            return;
        }
        match pack_v4(server) {
            Some(word) => self.awaiting_on.store(word, Ordering::Relaxed),
            None => {
                *last = Some(Box::new(CircuitFailure {
                    server,
                    kind: FailureKind::AwaitingCreate,
                }))
            }
        }
    }

    /// Forget the previous failure (the channel connected).
    pub(crate) fn clear_failure(&self) {
        let mut last = crate::sync::lock(&self.last_failure);
        *last = None;
        self.awaiting_on.store(0, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self) -> Option<CircuitFailure> {
        let last = crate::sync::lock(&self.last_failure);
        if let Some(failure) = last.as_deref() {
            return Some(failure.clone());
        }
        let server = unpack_v4(self.awaiting_on.load(Ordering::Relaxed))?;
        Some(CircuitFailure {
            server,
            kind: FailureKind::AwaitingCreate,
        })
    }

    /// Lock the subscription table, tolerating a poisoned lock (the data is
    /// a plain map, still consistent after a panic elsewhere).
    pub(crate) fn subs(&self) -> std::sync::MutexGuard<'_, SubTable> {
        crate::sync::lock(&self.subs)
    }

    pub(crate) fn connection(&self) -> Option<Arc<Connection>> {
        match &*self.state.borrow() {
            ConnState::Connected(c) => Some(c.clone()),
            _ => None,
        }
    }
}

/// State shared by the context task, circuits and channel handles.
#[derive(Debug)]
pub(crate) struct ContextShared {
    pub config: Config,
    pub tx: mpsc::UnboundedSender<CtxMsg>,
    pub sub_queue_capacity: usize,
    pub next_cid: AtomicU32,
    pub next_subid: AtomicU32,
}

impl ContextShared {
    pub(crate) fn next_subid(&self) -> u32 {
        self.next_subid.fetch_add(1, Ordering::Relaxed)
    }
}

/// Messages to the context task.
#[derive(Debug)]
pub(crate) enum CtxMsg {
    /// Search for this new channel.
    Add(Arc<ChannelShared>),
    /// This many `Add`s follow at once (a many-PV call): the tables that
    /// hold a channel make room for all of them now, instead of growing
    /// (and rehashing) a dozen times on the way.
    Reserve { additional: usize },
    /// The last handle on a channel was dropped.
    Drop { cid: u32 },
    /// A circuit ended: its channels must be searched for again.
    CircuitDown(Box<CircuitDown>),
    /// The server dropped one channel (SERVER_DISCONN) that had been
    /// connected for `lived`: search again, after the governor's hold.
    Research { cid: u32, lived: Option<Duration> },
    /// A name server (TCP search) found a channel at `server`.
    Found { cid: u32, server: Box<SocketAddr> },
    /// Close everything; answer when done.
    Close(Option<oneshot::Sender<()>>),
}

/// A circuit that ended after `lived` (`None`: it never connected), and
/// its channels, each with how long it had been connected (`None`: not
/// yet created). Boxed in [`CtxMsg`]: the rare, large messages are kept out
/// of line so a burst of 100 000 small ones stays small.
#[derive(Debug)]
pub(crate) struct CircuitDown {
    pub key: CircuitKey,
    pub cids: Vec<(u32, Option<Duration>)>,
    pub lived: Option<Duration>,
}

/// A circuit is identified by its server and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CircuitKey {
    pub addr: SocketAddr,
    pub priority: u16,
}

/// Requests from channel handles and the context to a circuit task.
#[derive(Debug)]
pub(crate) enum CircuitMsg {
    /// Create this (found) channel on the circuit.
    Attach(Arc<ChannelShared>),
    /// The channel was dropped: clear it on the server.
    Clear { cid: u32 },
    /// READ_NOTIFY.
    Get {
        cid: u32,
        dbr_type: DbrType,
        count: u32,
        reply: oneshot::Sender<ReadReply>,
    },
    /// WRITE or WRITE_NOTIFY (boxed: a write is large and rare beside
    /// the burst of small requests a thousand channels make).
    Put(Box<PutRequest>),
    /// Send the EVENT_ADD for a subscription in the channel's table (if not yet sent).
    Subscribe { cid: u32, subid: u32 },
    /// Send the EVENT_CANCEL for a subscription (if it was sent).
    Unsubscribe { subid: u32 },
    /// Flush what is queued, then close the circuit.
    Close,
}

/// One WRITE or WRITE_NOTIFY for a circuit ([`CircuitMsg::Put`]).
#[derive(Debug)]
pub(crate) struct PutRequest {
    pub cid: u32,
    pub dbr_type: DbrType,
    pub count: u32,
    pub data: Vec<u8>,
    pub notify: bool,
    pub reply: oneshot::Sender<Result<(), ClientError>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connecting 100 000 channels queues 100 000 `Add`s, then as many
    /// `Attach`es, at once: the queues' blocks are sized by the largest
    /// message, so the rare large ones are boxed.
    #[test]
    fn messages_of_a_burst_stay_small() {
        assert!(
            std::mem::size_of::<CtxMsg>() <= 24,
            "{}",
            std::mem::size_of::<CtxMsg>()
        );
        assert!(
            std::mem::size_of::<CircuitMsg>() <= 24,
            "{}",
            std::mem::size_of::<CircuitMsg>()
        );
    }

    /// What a timed-out wait reports: the first server a search handed the
    /// channel to, unless a circuit failure says more; nothing once connected.
    #[test]
    fn failure_reports_the_awaited_server_until_a_failure_or_a_connection() {
        let a: SocketAddr = "10.0.0.1:5064".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5065".parse().unwrap();
        let six: SocketAddr = "[::1]:5064".parse().unwrap();
        let awaiting = |server| CircuitFailure {
            server,
            kind: FailureKind::AwaitingCreate,
        };
        let ch = ChannelShared::new("pv".into(), 1);
        assert_eq!(ch.failure(), None);
        ch.note_found(a);
        ch.note_found(b);
        assert_eq!(ch.failure(), Some(awaiting(a)), "the first server is kept");
        ch.set_failure(b, "reset");
        assert_eq!(
            ch.failure(),
            Some(CircuitFailure {
                server: b,
                kind: FailureKind::Circuit("reset".into())
            })
        );
        ch.note_found(a);
        assert!(matches!(
            ch.failure(),
            Some(CircuitFailure {
                kind: FailureKind::Circuit(_),
                ..
            })
        ));
        ch.clear_failure();
        assert_eq!(ch.failure(), None);
        ch.note_found(six);
        assert_eq!(ch.failure(), Some(awaiting(six)), "IPv6 is kept too");
        ch.clear_failure();
        ch.note_found("0.0.0.0:0".parse().unwrap());
        assert_eq!(ch.failure(), Some(awaiting("0.0.0.0:0".parse().unwrap())));
    }

    #[test]
    fn native_subscriptions_follow_the_channels_type() {
        let t = SubType::Native {
            class: DbrClass::Time,
            enum_as_number: false,
        };
        assert_eq!(
            t.resolve(NativeType::Enum),
            DbrType::Value(DbrClass::Time, NativeType::String)
        );
        assert_eq!(
            t.resolve(NativeType::Long),
            DbrType::Value(DbrClass::Time, NativeType::Long)
        );
        let n = SubType::Native {
            class: DbrClass::Time,
            enum_as_number: true,
        };
        assert_eq!(
            n.resolve(NativeType::Enum),
            DbrType::Value(DbrClass::Time, NativeType::Enum)
        );
    }
}
