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

mod backlog;
mod batch;
mod channel;
mod circuit;
mod circuit_events;
mod circuit_task;
mod config;
mod context;
mod context_task;
mod error;
mod governor;
mod many;
mod nameserver;
mod pacer;
mod queues;
mod search;
mod shared;
mod subscription;

pub use channel::Channel;
pub use config::Config;
pub use context::{Context, DEFAULT_SUB_QUEUE};
pub use error::ClientError;
pub use many::{MonitorSet, MonitorSpec, Readings};
pub use queues::MonitorEvent;
pub use shared::{ChannelInfo, Reading};
pub use subscription::Subscription;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::{DbrClass, DbrType, Value};
    use std::time::Duration;

    fn assert_send<T: Send>(_: &T) {}

    /// Callers (the tools) run these futures on multi-threaded runtimes and
    /// behind `impl Future + Send`; this fails to compile if one stops being Send.
    #[allow(dead_code)]
    fn futures_are_send(ctx: &Context, ch: &Channel, sub: &mut Subscription) {
        assert_send(&ctx.connect(&["a"], Duration::ZERO));
        assert_send(&ctx.connect_one("a", Duration::ZERO));
        assert_send(&ch.wait_connected(Duration::ZERO));
        assert_send(&ch.get(DbrType::DOUBLE, None));
        assert_send(&ch.get_class(DbrClass::Time, None));
        assert_send(&ch.put(&Value::Double(vec![1.0]), true));
        assert_send(&sub.recv());
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Context>();
        check::<Channel>();
        check::<Subscription>();
        check::<ClientError>();
    }
}
