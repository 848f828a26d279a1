//! What the tools need from a Channel Access client, as a trait, so the
//! tools' logic (type choice, output, exit status) is independent of the
//! client's internals and can be tested with a scripted stand-in. The real
//! implementation wraps [`crate::client`].

use std::time::Duration;

use crate::cli::output::format::Response;
use crate::proto::dbr::{DbrClass, DbrType, NativeType, Value};
use crate::proto::text::escape_control;

/// Why a tool could not do what was asked for one PV. `Display` gives the
/// one-line message printed to standard error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToolError {
    /// No server answered the search in time.
    NotFound {
        /// The PV name.
        pv: String,
    },
    /// The server did not answer a read, write or subscription in time.
    Timeout {
        /// The PV name.
        pv: String,
        /// What we were waiting for ("reading", "write reply", ...).
        awaiting: &'static str,
    },
    /// The server does not grant read access.
    ReadRefused {
        /// The PV name.
        pv: String,
    },
    /// The server does not grant write access.
    WriteRefused {
        /// The PV name.
        pv: String,
    },
    /// The server answered with a failing status.
    Server {
        /// The PV name.
        pv: String,
        /// The server's or our description.
        message: String,
    },
    /// The channel went away.
    Disconnected {
        /// The PV name.
        pv: String,
    },
    /// The value given to caproto-put cannot be written to this channel.
    BadValue {
        /// The PV name.
        pv: String,
        /// Why.
        reason: String,
    },
    /// Anything else the client reported (configuration, sockets, ...).
    Client(String),
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::NotFound { pv } => write!(
                f,
                "Timed out while awaiting a response from the search for '{pv}'."
            ),
            ToolError::Timeout { pv, awaiting } => {
                write!(f, "{pv}: timeout while awaiting {awaiting}.")
            }
            ToolError::ReadRefused { pv } => write!(f, "{pv}: read access denied"),
            ToolError::WriteRefused { pv } => write!(f, "{pv}: write access denied"),
            // Server text is escaped: control characters never reach the terminal.
            ToolError::Server { pv, message } => write!(f, "{pv}: {}", escape_control(message)),
            ToolError::Disconnected { pv } => write!(f, "{pv}: channel disconnected"),
            ToolError::BadValue { pv, reason } => write!(f, "{pv}: cannot write value: {reason}"),
            ToolError::Client(message) => f.write_str(&escape_control(message)),
        }
    }
}

impl std::error::Error for ToolError {}

/// A connected channel as the tools see it.
pub trait ToolChannel: Clone + Send + Sync + 'static {
    /// The PV name.
    fn name(&self) -> &str;
    /// The field's native type.
    fn native_type(&self) -> NativeType;
}

/// A stream of subscription updates.
#[allow(async_fn_in_trait)]
pub trait ToolSubscription: Send + 'static {
    /// The next update; `None` when the subscription has ended for good.
    fn recv(
        &mut self,
    ) -> impl std::future::Future<Output = Option<Result<Response, ToolError>>> + Send;
}

/// The client operations the tools use. Every call is bounded by `timeout`.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A connected channel.
    type Channel: ToolChannel;
    /// A live subscription.
    type Subscription: ToolSubscription;

    /// Search for and connect all `names` at once; results in `names` order.
    fn connect(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> impl std::future::Future<Output = Vec<Result<Self::Channel, ToolError>>> + Send;

    /// Read as `dbr_type`; `count` `None` means the server's current count.
    fn get(
        &self,
        ch: &Self::Channel,
        dbr_type: DbrType,
        count: Option<u32>,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Response, ToolError>> + Send;

    /// Write `value`; with `notify`, wait for the server's completion.
    fn put(
        &self,
        ch: &Self::Channel,
        value: &Value,
        notify: bool,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), ToolError>> + Send;

    /// Read every PV of `names`, in order: all are connected at once within
    /// `timeout`, each is read as `pick` chooses from its native type (with
    /// `count` elements, `None` for the server's), each read bounded by
    /// `timeout`. Each result goes to `each` (with the PV's index) as soon as
    /// it and those before it are in; `each` returns false to stop. It is
    /// the tool's last request: a backend may close itself when it is done.
    ///
    /// This default drives one task per PV; the real client overrides it
    /// with one batched call.
    fn get_each(
        &self,
        names: &[String],
        pick: impl Fn(NativeType) -> DbrType + Send + Sync + 'static,
        count: Option<u32>,
        timeout: Duration,
        mut each: impl FnMut(usize, Result<Response, ToolError>) -> bool,
    ) -> impl std::future::Future<Output = ()> {
        let backend = self.clone();
        let pick = std::sync::Arc::new(pick);
        async move {
            let channels = backend.connect(names, timeout).await;
            let mut tasks = Vec::with_capacity(channels.len());
            for ch in channels {
                let (backend, pick) = (backend.clone(), pick.clone());
                tasks.push(tokio::spawn(async move {
                    let ch = ch?;
                    let dbr_type = pick(ch.native_type());
                    backend.get(&ch, dbr_type, count, timeout).await
                }));
            }
            for (i, (pv, task)) in names.iter().zip(tasks).enumerate() {
                let result = task
                    .await
                    .unwrap_or_else(|e| Err(ToolError::Client(format!("{pv}: {e}"))));
                if !each(i, result) {
                    return;
                }
            }
        }
    }

    /// Subscribe as `dbr_type` with a `DBE_*` mask.
    fn subscribe(
        &self,
        ch: &Self::Channel,
        dbr_type: DbrType,
        count: Option<u32>,
        mask: u16,
    ) -> Self::Subscription;

    /// Follow one PV as camonitor does, sending what happens to `events`
    /// until it is closed: [`PvEvent::NotFound`] if the first search times
    /// out, then the updates of a `TIME_<native>` subscription once it
    /// connects, [`PvEvent::Disconnected`] when the circuit is lost, and a
    /// fresh subscription (with the native type and count of the new
    /// connection) when it comes back. The searching itself is the
    /// client's, at its own polite rate.
    ///
    /// This default connects once and ends after the first disconnect or
    /// failure (for stand-ins that cannot reconnect); the real client
    /// overrides it.
    fn follow(
        &self,
        name: String,
        spec: FollowSpec,
        events: tokio::sync::mpsc::Sender<PvEvent>,
    ) -> impl std::future::Future<Output = ()> + Send {
        let backend = self.clone();
        async move {
            let ch = match backend
                .connect(std::slice::from_ref(&name), spec.first_wait)
                .await
                .pop()
            {
                Some(Ok(ch)) => ch,
                Some(Err(ToolError::NotFound { .. })) => {
                    let _ = events.send(PvEvent::NotFound).await;
                    return;
                }
                Some(Err(e)) => {
                    let _ = events.send(PvEvent::Update(Err(e))).await;
                    return;
                }
                None => return,
            };
            if events.send(PvEvent::Connected).await.is_err() {
                return;
            }
            let native = default_read_type(ch.native_type(), spec.enum_as_number);
            let mut sub = backend.subscribe(
                &ch,
                DbrType::Value(DbrClass::Time, native),
                spec.count,
                spec.mask,
            );
            while let Some(update) = sub.recv().await {
                let event = match update {
                    Err(ToolError::Disconnected { .. }) => PvEvent::Disconnected { count: 1 },
                    other => PvEvent::Update(other),
                };
                let last = matches!(event, PvEvent::Disconnected { .. });
                if events.send(event).await.is_err() || last {
                    return;
                }
            }
        }
    }

    /// Follow every PV of `names` as [`Backend::follow`] does, sending
    /// `(index, event)` to `events` until it is closed.
    ///
    /// Returns when every PV's following has ended; dropping the future stops
    /// them all. This default runs one `follow` per PV (two tasks each); the
    /// real client overrides it with one subscription set and no task.
    fn follow_many(
        &self,
        names: Vec<String>,
        spec: FollowSpec,
        events: tokio::sync::mpsc::Sender<(usize, PvEvent)>,
    ) -> impl std::future::Future<Output = ()> + Send {
        let backend = self.clone();
        async move {
            // Held here, so that stopping this future stops every PV's tasks
            // (a JoinSet aborts its tasks when dropped).
            let mut tasks = tokio::task::JoinSet::new();
            for (i, name) in names.into_iter().enumerate() {
                let (tx, mut from_pv) = tokio::sync::mpsc::channel::<PvEvent>(FOLLOW_QUEUE);
                let b = backend.clone();
                tasks.spawn(async move { b.follow(name, spec, tx).await });
                let events = events.clone();
                tasks.spawn(async move {
                    while let Some(event) = from_pv.recv().await {
                        if events.send((i, event)).await.is_err() {
                            break;
                        }
                    }
                });
            }
            drop(events);
            while tasks.join_next().await.is_some() {}
        }
    }
}

/// Events one followed PV may have queued before its task waits (the
/// default [`Backend::follow_many`]).
const FOLLOW_QUEUE: usize = 16;

/// What happened to a PV that caproto-monitor follows (see [`Backend::follow`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PvEvent {
    /// The first search went unanswered within the timeout; searching goes on.
    NotFound,
    /// The channel connected (the first time or again); updates follow.
    Connected,
    /// An update (or an error the server or client reported for it).
    Update(Result<Response, ToolError>),
    /// The channel's circuit was lost; it is searched for again.
    Disconnected {
        /// The element count it had (for camonitor's name padding).
        count: u32,
    },
}

/// What [`Backend::follow`] subscribes to once a PV connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSpec {
    /// Read enums as numbers (`-n`) instead of strings.
    pub enum_as_number: bool,
    /// Elements per update (`-#`); `None` for the server's count.
    pub count: Option<u32>,
    /// `DBE_*` mask.
    pub mask: u16,
    /// How long the first search may take before [`PvEvent::NotFound`].
    pub first_wait: Duration,
}

/// The type caproto's tools read when the user names none: the native type,
/// except that enums are read as strings unless `-n` was given.
pub fn default_read_type(native: NativeType, enum_as_number: bool) -> NativeType {
    if native == NativeType::Enum && !enum_as_number {
        NativeType::String
    } else {
        native
    }
}
