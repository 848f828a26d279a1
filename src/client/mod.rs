//! The async (tokio) Channel Access client: a thin shell over the sans-I/O
//! core in [`crate::proto`].
//!
//! A [`Context`] searches for PVs over UDP (and TCP name servers) with
//! EPICS-like back-off, opens one TCP circuit per server, and hands out
//! [`Channel`]s for get, put (with or without callback) and subscriptions.
//! Channels reconnect and resubscribe by themselves after a server restart.
//! Configuration comes from the usual `EPICS_CA_*` variables ([`Config`]).
//!
//! Requests queued in the same scheduler tick share one `write` call, and a
//! new name is searched for at once (no initial delay), so a one-shot get
//! costs one UDP round trip plus one TCP connect and round trip.

mod channel;
mod circuit_task;
mod config;
mod context;
mod error;
mod nameserver;
mod search;
mod subscription;

pub use crate::proto::command::{mask, AccessRights};
pub use channel::{Channel, ChannelInfo, Reading};
pub use config::Config;
pub use context::{Context, DEFAULT_SUB_QUEUE};
pub use error::{eca_description, eca_is_success, ClientError};
pub use search::SearchScheduler;
pub use subscription::Subscription;
