//! What the tools need from a Channel Access client, as a trait, so the
//! tools' logic (type choice, output, exit status) is independent of the
//! client's internals and can be tested with a scripted stand-in. The real
//! implementation wraps [`crate::client`].

use std::time::Duration;

use crate::cli::output::format::Reading;
use crate::proto::dbr::{DbrType, NativeType, Value};

/// Why a tool could not do what was asked for one PV. `Display` gives the
/// one-line message printed to standard error.
#[derive(Debug, Clone, PartialEq)]
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
            ToolError::Server { pv, message } => write!(f, "{pv}: {message}"),
            ToolError::Disconnected { pv } => write!(f, "{pv}: channel disconnected"),
            ToolError::BadValue { pv, reason } => write!(f, "{pv}: cannot write value: {reason}"),
            ToolError::Client(message) => f.write_str(message),
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
    ) -> impl std::future::Future<Output = Option<Result<Reading, ToolError>>> + Send;
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
    ) -> impl std::future::Future<Output = Result<Reading, ToolError>> + Send;

    /// Write `value`; with `notify`, wait for the server's completion.
    fn put(
        &self,
        ch: &Self::Channel,
        value: &Value,
        notify: bool,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), ToolError>> + Send;

    /// Subscribe as `dbr_type` with a `DBE_*` mask.
    fn subscribe(
        &self,
        ch: &Self::Channel,
        dbr_type: DbrType,
        count: Option<u32>,
        mask: u16,
    ) -> Self::Subscription;
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
