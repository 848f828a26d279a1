//! The state and messages the client's tasks share: the context task, the
//! circuit tasks, the name-server tasks and the handles users hold
//! ([`crate::client::Channel`], [`crate::client::Subscription`],
//! [`crate::client::MonitorSet`]).
//!
//! Everything that crosses a task boundary is defined here, so the modules
//! that send and receive it import this one and not each other: imports run
//! one way (handles, context and circuits -> shared), as quinn-proto's
//! `shared.rs` does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::batch::BatchRead;
use super::config::Config;
use super::error::ClientError;
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
        self.value.lock().unwrap_or_else(|p| p.into_inner())
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
    pub name: String,
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
            state: StateCell::new(ConnState::Searching),
            subs: Mutex::new(SubTable::default()),
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
            Some(Box::new(CircuitFailure { server, kind }));
    }

    /// Note that `server` answered the search and the channel is being
    /// created there, unless a more telling failure is already recorded.
    pub(crate) fn note_found(&self, server: SocketAddr) {
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none() {
            *last = Some(Box::new(CircuitFailure {
                server,
                kind: FailureKind::AwaitingCreate,
            }));
        }
    }

    /// Forget the previous failure (the channel connected).
    pub(crate) fn clear_failure(&self) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub(crate) fn failure(&self) -> Option<CircuitFailure> {
        self.last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .cloned()
    }

    /// Lock the subscription table, tolerating a poisoned lock (the data is
    /// a plain map, still consistent after a panic elsewhere).
    pub(crate) fn subs(&self) -> std::sync::MutexGuard<'_, SubTable> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
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

/// A bounded queue of updates. When the consumer falls behind, the oldest
/// updates are dropped (and counted), so memory stays bounded and the newest
/// value is always delivered, as EPICS' event queue does.
#[derive(Debug)]
pub(crate) struct SubQueue {
    items: Mutex<VecDeque<Result<Reading, ClientError>>>,
    capacity: usize,
    notify: Notify,
    closed: AtomicBool,
    pub dropped: AtomicU64,
}

impl SubQueue {
    pub(crate) fn new(capacity: usize) -> Arc<SubQueue> {
        Arc::new(SubQueue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Result<Reading, ClientError>>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue one update (or error), dropping the oldest when full.
    pub(crate) fn push(&self, item: Result<Reading, ClientError>) {
        {
            let mut q = self.lock();
            if q.len() >= self.capacity {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(item);
        }
        self.notify.notify_one();
    }

    /// No more updates will come (context closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) async fn pop(&self) -> Option<Result<Reading, ClientError>> {
        loop {
            if let Some(item) = self.lock().pop_front() {
                return Some(item);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.notify.notified().await;
        }
    }
}

/// Decode a reply's or an update's payload; a failure names the PV.
pub(crate) fn decode_update(
    pv: &str,
    dbr_type: DbrType,
    count: u32,
    data: &[u8],
) -> Result<Reading, ClientError> {
    decode_payload(dbr_type, count, data).map_err(|error| ClientError::BadReply {
        pv: pv.to_string(),
        error,
    })
}

fn decode_payload(
    dbr_type: DbrType,
    count: u32,
    data: &[u8],
) -> Result<Reading, crate::proto::dbr::DbrError> {
    crate::proto::dbr::decode(dbr_type, count, data).map(|(value, meta)| Reading {
        dbr_type,
        value,
        meta,
    })
}

/// An update as the server sent it, queued undecoded in a [`SetQueue`].
#[derive(Debug)]
pub(crate) struct RawUpdate {
    dbr_type: DbrType,
    count: u32,
    data: Box<[u8]>,
}

/// One entry of a [`SetQueue`]: most are updates, queued as they came.
#[derive(Debug)]
enum Queued {
    Raw(RawUpdate),
    /// A connection: every PV queues one at start, so its info is boxed
    /// on its own (a boxed [`MonitorEvent`] is four times its size).
    Connected(Box<ChannelInfo>),
    Disconnected,
    /// Errors (boxed: rare and large).
    Event(Box<MonitorEvent>),
}

/// What a [`crate::client::MonitorSet`] reports about one of its PVs.
#[derive(Debug)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// The channel connected (the first time or again); updates follow.
    Connected(ChannelInfo),
    /// An update, or an error the server or client reported for it.
    Update(Result<Reading, ClientError>),
    /// The channel's circuit was lost; it is searched for again and the
    /// subscription resumes when it reconnects.
    Disconnected,
}

/// The queue every subscription of a [`crate::client::MonitorSet`] feeds:
/// one lock and one wake-up for all PVs, with each PV's backlog bounded on
/// its own (its oldest events are dropped first, as [`SubQueue`] does).
///
/// All events wait in one deque in arrival order, so a PV with nothing
/// queued costs 8 bytes (two counters), not a queue of its own. Dropping a
/// PV's oldest event only counts it in `skip`: that PV's next entries met
/// in the deque are its oldest, and are passed over. The deque is compacted
/// once passed-over entries outnumber the live ones, so it never holds more
/// than twice what the per-PV bounds allow.
#[derive(Debug)]
pub(crate) struct SetQueue {
    inner: Mutex<SetInner>,
    per_pv: u32,
    notify: Notify,
    closed: AtomicBool,
    pub dropped: AtomicU64,
}

#[derive(Debug)]
struct SetInner {
    /// Updates are queued as the server sent them (a boxed payload) and
    /// other events boxed: a burst of 10 000 updates (every record of one
    /// scan) would otherwise grow the deque to 10 000 whole readings, kept
    /// as capacity, and each queued update would hold a decoded reading
    /// (about 200 bytes) instead of its payload (40 for a TIME_DOUBLE).
    events: VecDeque<(u32, Queued)>,
    /// Per PV: events queued and not dropped.
    live: Vec<u32>,
    /// Per PV: dropped events still in `events` (its oldest ones).
    skip: Vec<u32>,
    live_total: usize,
}

impl SetInner {
    /// Take the next live event, passing over dropped ones.
    fn pop(&mut self) -> Option<(u32, Queued)> {
        while let Some((index, event)) = self.events.pop_front() {
            let i = index as usize;
            if self.skip[i] > 0 {
                self.skip[i] -= 1;
                continue;
            }
            self.live[i] -= 1;
            self.live_total -= 1;
            return Some((index, event));
        }
        None
    }

    /// Remove the entries that were dropped (each PV's oldest ones).
    fn compact(&mut self) {
        let skip = &mut self.skip;
        self.events.retain(|(index, _)| {
            let s = &mut skip[*index as usize];
            if *s > 0 {
                *s -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl SetQueue {
    /// A queue for `n` PVs, each holding at most `per_pv` events.
    pub(crate) fn new(n: usize, per_pv: usize) -> Arc<SetQueue> {
        Arc::new(SetQueue {
            inner: Mutex::new(SetInner {
                events: VecDeque::new(),
                live: vec![0; n],
                skip: vec![0; n],
                live_total: 0,
            }),
            per_pv: per_pv.clamp(1, u32::MAX as usize) as u32,
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SetInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue `event` for PV `index`, dropping that PV's oldest when full.
    pub(crate) fn push(&self, index: u32, event: MonitorEvent) {
        let queued = match event {
            MonitorEvent::Connected(info) => Queued::Connected(Box::new(info)),
            MonitorEvent::Disconnected => Queued::Disconnected,
            other => Queued::Event(Box::new(other)),
        };
        self.push_queued(index, queued);
    }

    /// Queue an undecoded update for PV `index` (see [`Sink::push_update`]).
    pub(crate) fn push_raw(&self, index: u32, update: RawUpdate) {
        self.push_queued(index, Queued::Raw(update));
    }

    fn push_queued(&self, index: u32, event: Queued) {
        {
            let mut inner = self.lock();
            let i = index as usize;
            if i >= inner.live.len() {
                return;
            }
            if inner.live[i] >= self.per_pv {
                inner.live[i] -= 1;
                inner.skip[i] += 1;
                inner.live_total -= 1;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            inner.live[i] += 1;
            inner.live_total += 1;
            inner.events.push_back((index, event));
            if inner.events.len() > 2 * inner.live_total + 64 {
                inner.compact();
            }
        }
        self.notify.notify_one();
    }

    /// No more events will come (context closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Move up to `max` queued events into `out` (oldest first), decoding
    /// updates on the way (a payload that cannot be decoded becomes a
    /// [`ClientError::BadReply`] naming `pv_name(index)`); waits while none
    /// is queued. Returns false once the queue is closed and empty.
    pub(crate) async fn pop_into(
        &self,
        out: &mut Vec<(u32, MonitorEvent)>,
        max: usize,
        pv_name: impl Fn(u32) -> String,
    ) -> bool {
        let mut taken = Vec::new();
        loop {
            {
                let mut inner = self.lock();
                while out.len() + taken.len() < max {
                    let Some(next) = inner.pop() else { break };
                    taken.push(next);
                }
            }
            // Decoded without the lock held: the circuits keep queueing.
            for (index, queued) in taken.drain(..) {
                let event = match queued {
                    Queued::Event(event) => *event,
                    Queued::Connected(info) => MonitorEvent::Connected(*info),
                    Queued::Disconnected => MonitorEvent::Disconnected,
                    Queued::Raw(raw) => MonitorEvent::Update(
                        decode_payload(raw.dbr_type, raw.count, &raw.data).map_err(|error| {
                            ClientError::BadReply {
                                pv: pv_name(index),
                                error,
                            }
                        }),
                    ),
                };
                out.push((index, event));
            }
            if !out.is_empty() {
                return true;
            }
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            self.notify.notified().await;
        }
    }
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

    fn update(x: f64) -> MonitorEvent {
        MonitorEvent::Update(Ok(Reading {
            dbr_type: DbrType::plain(NativeType::Double),
            value: Value::Double(vec![x]),
            meta: Metadata::default(),
        }))
    }

    fn value(e: &MonitorEvent) -> f64 {
        match e {
            MonitorEvent::Update(Ok(r)) => match &r.value {
                Value::Double(v) => v[0],
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_set_keeps_arrival_order_and_bounds_each_pv_on_its_own() {
        let q = SetQueue::new(3, 2);
        q.push(0, update(1.0));
        q.push(1, update(10.0));
        q.push(0, update(2.0));
        q.push(0, update(3.0)); // PV 0 is full: its oldest (1.0) goes
        q.push(2, update(20.0));
        assert_eq!(q.dropped.load(Ordering::Relaxed), 1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        let got: Vec<(u32, f64)> = out.iter().map(|(i, e)| (*i, value(e))).collect();
        assert_eq!(got, vec![(1, 10.0), (0, 2.0), (0, 3.0), (2, 20.0)]);
        // A consumer that stalls: the deque stays within twice the bounds.
        for k in 0..10_000 {
            q.push(k % 3, update(f64::from(k)));
        }
        assert!(q.lock().events.len() <= 2 * 6 + 64);
        out.clear();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        let got: Vec<(u32, f64)> = out.iter().map(|(i, e)| (*i, value(e))).collect();
        assert_eq!(
            got,
            vec![
                (1, 9994.0),
                (2, 9995.0),
                (0, 9996.0),
                (1, 9997.0),
                (2, 9998.0),
                (0, 9999.0)
            ],
            "each PV keeps its two newest, in arrival order"
        );
        q.push(7, update(0.0)); // no such PV: ignored
        q.close();
        out.clear();
        assert!(
            !rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))),
            "closed and empty"
        );
    }

    #[test]
    fn raw_updates_are_decoded_when_taken_and_a_bad_one_names_its_pv() {
        let q = SetQueue::new(2, 4);
        let sink = Sink::Set {
            queue: q.clone(),
            index: 1,
        };
        sink.push_update("b", DbrType::DOUBLE, 1, 6.5f64.to_be_bytes().to_vec());
        // Three bytes cannot hold a double.
        sink.push_update("b", DbrType::DOUBLE, 1, vec![1, 2, 3]);
        q.push(0, update(1.0));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        assert!(rt.block_on(q.pop_into(&mut out, 100, |i| format!("pv{i}"))));
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].0, value(&out[0].1)), (1, 6.5));
        match &out[1] {
            (1, MonitorEvent::Update(Err(ClientError::BadReply { pv, .. }))) => {
                assert_eq!(pv, "pv1")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((out[2].0, value(&out[2].1)), (0, 1.0));
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
