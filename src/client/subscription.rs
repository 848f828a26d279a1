//! [`Subscription`]: a receiver of monitor updates, and the bounded queue
//! the circuit task feeds it through.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::channel::Channel;
use super::error::ClientError;
use super::shared::{ChannelShared, CircuitMsg, Reading, SubQueue};

/// A live subscription. Receive updates with [`Subscription::recv`]; drop it
/// to cancel on the server.
///
/// Besides `Ok(update)`, it yields `Err(ClientError::Disconnected)` when the
/// channel's circuit is lost (updates resume after the automatic reconnect)
/// and `Err(ClientError::Server)` when the server refuses the subscription.
#[derive(Debug)]
pub struct Subscription {
    shared: Arc<ChannelShared>,
    subid: u32,
    queue: Arc<SubQueue>,
    channel: Channel,
}

impl Subscription {
    pub(crate) fn new(
        shared: Arc<ChannelShared>,
        subid: u32,
        queue: Arc<SubQueue>,
        channel: Channel,
    ) -> Subscription {
        Subscription {
            shared,
            subid,
            queue,
            channel,
        }
    }

    /// The next update; `None` once the context is closed.
    pub async fn recv(&mut self) -> Option<Result<Reading, ClientError>> {
        self.queue.pop().await
    }

    /// The channel this subscription is on.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// How many updates were discarded because the consumer fell behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Remove first, then look at the state (mirror of `Channel::subscribe`),
        // so a circuit that connects concurrently either never sends the
        // EVENT_ADD or receives this cancel.
        self.shared.subs().remove(&self.subid);
        if let Some(conn) = self.shared.connection() {
            let _ = conn
                .circuit
                .send(CircuitMsg::Unsubscribe { subid: self.subid });
        }
    }
}
